"""Faults and fuzz: nothing half-written, nothing lost, no crash outside documented errors."""
import errno
import hashlib
import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from braingan import checkpoint, models
from braingan.data import encodings
from braingan.data.smiles import Vocab, clean
from braingan.data.sources import read_smiles_file
from braingan.errors import ConfigError, DataError
from braingan.generator import Generator
from braingan.fsutil import write_json


def _disk_full_after(n_bytes: int):
    """A Path.write_bytes that writes the first n bytes, then fails like a full disk."""
    def write(self, data):
        with open(self, "wb") as f:
            f.write(data[:n_bytes])
        raise OSError(errno.ENOSPC, "No space left on device")
    return write


def test_disk_full_while_checkpointing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    checkpoint.save(tmp_path, 10, {"step": 10, "digest": "d", "w": torch.ones(3)})
    monkeypatch.setattr(Path, "write_bytes", _disk_full_after(100))
    with pytest.raises(OSError, match="No space left"):
        checkpoint.save(tmp_path, 20, {"step": 20, "digest": "d"})
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-00000010.pt", "ckpt-00000010.pt.sha256"]
    assert checkpoint.load_latest(tmp_path, "d")["step"] == 10


def test_crash_in_the_middle_of_an_output_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    out = tmp_path / "metrics.json"
    write_json(out, {"a": 1})
    monkeypatch.setattr(Path, "write_bytes", _disk_full_after(5))  # half of the new bytes reach the disk
    with pytest.raises(OSError):
        write_json(out, {"a": 2, "b": [1, 2, 3]})
    monkeypatch.undo()
    assert out.read_text() == '{\n  "a": 1\n}\n' and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_json_outputs_take_numpy_values_and_paths_and_refuse_anything_else(tmp_path):
    import numpy as np

    write_json(tmp_path / "m.json", {"n": np.int64(3), "x": np.float32(0.5), "a": np.array([[1, 2]]), "p": Path("a/b")})
    assert (tmp_path / "m.json").read_text() == '{\n  "a": [\n    [\n      1,\n      2\n    ]\n  ],\n  "n": 3,\n  "p": "a/b",\n  "x": 0.5\n}\n'
    with pytest.raises(TypeError, match="not JSON serialisable: set"):
        write_json(tmp_path / "s.json", {"s": {1}})
    assert not (tmp_path / "s.json").exists()


def test_outputs_get_the_usual_permissions(tmp_path):
    old = os.umask(0o027)
    try:
        write_json(tmp_path / "m.json", {})
    finally:
        os.umask(old)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o640


def test_an_unwritable_place_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="cannot write .*file/m.json"):
        write_json(tmp_path / "file" / "m.json", {})


def test_checkpoints_keep_the_last_two_and_fall_back_past_damaged_ones_saying_why(tmp_path, capsys):
    assert checkpoint.load_latest(tmp_path / "none", "d") is None  # no directory yet: a fresh start
    (tmp_path / "ckpt-notes.pt").write_text("not a checkpoint")  # not ckpt-<8 digits>.pt: left alone
    for step in (1, 2, 3):
        assert checkpoint.save(tmp_path, step, {"step": step, "digest": "d"}) == tmp_path / f"ckpt-{step:08d}.pt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-00000002.pt", "ckpt-00000002.pt.sha256",
                                                           "ckpt-00000003.pt", "ckpt-00000003.pt.sha256", "ckpt-notes.pt"]
    assert checkpoint.load_latest(tmp_path, "d")["step"] == 3
    newest = tmp_path / "ckpt-00000003.pt"
    newest.write_bytes(newest.read_bytes()[:-1] + b"x")  # one byte damaged
    capsys.readouterr()
    assert checkpoint.load_latest(tmp_path, "d")["step"] == 2
    assert capsys.readouterr().err == f"warning: checkpoint {newest} is damaged (checksum mismatch); trying an older one\n"
    # intact bytes that are not a weights-only checkpoint (e.g. from another version): the same fallback
    newest.write_bytes(b"not a torch file")
    (tmp_path / "ckpt-00000003.pt.sha256").write_text(hashlib.sha256(b"not a torch file").hexdigest() + "\n")
    assert checkpoint.load_latest(tmp_path, "d")["step"] == 2
    assert capsys.readouterr().err.startswith(f"warning: checkpoint {newest} cannot be loaded safely (")
    assert checkpoint.load_latest(tmp_path, "other params") is None
    assert "was made with other params or code; starting over" in capsys.readouterr().err


def test_a_new_run_s_checkpoints_replace_a_finished_run_s_later_ones(tmp_path):
    """A forced re-run or a run with other params starts at step 0 beside the last run's
    checkpoints at later steps; its own first checkpoint must survive and be the one resumed."""
    for step in (19, 20):
        checkpoint.save(tmp_path, step, {"step": step, "digest": "old"})
    checkpoint.save(tmp_path, 5, {"step": 5, "digest": "new"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-00000005.pt", "ckpt-00000005.pt.sha256"]
    assert checkpoint.load_latest(tmp_path, "new")["step"] == 5
    checkpoint.save(tmp_path, 10, {"step": 10, "digest": "new"})
    checkpoint.save(tmp_path, 15, {"step": 15, "digest": "new"})
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["ckpt-00000010.pt", "ckpt-00000015.pt"]


def _tiny_generator(**model):
    from braingan.config import Model
    from braingan.data.smiles import Vocab

    m = Model(dim=8, blocks=1, z_dim=4, **model)
    G, _ = models.build(m, (8, 5))
    return Generator(G, m, Vocab(list("CNO(|"), encodings.get("smiles", "chars")), (8, 5), "resize",
                     (0, 1), 3)


def test_a_missing_or_foreign_generator_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match=r"g.pt is missing: run the stage that makes it first \(dvc repro\)$"):
        Generator.load(tmp_path / "g.pt")
    torch.save({"state_dict": {}}, tmp_path / "g.pt")
    with pytest.raises(DataError, match=r"g.pt: not a generator file \(no weights or no model config in it\); "
                                        r"re-create it with `dvc repro -f train`$"):
        Generator.load(tmp_path / "g.pt")
    # a whole generator file with one pickled object beside the weights: weights_only refuses to run pickle code
    from fractions import Fraction

    _tiny_generator().save(tmp_path / "ok.pt")
    assert Generator.load(tmp_path / "ok.pt").step == 3
    blob = torch.load(tmp_path / "ok.pt", weights_only=True)
    torch.save({**blob, "note": Fraction(1, 3)}, tmp_path / "pickled.pt")
    with pytest.raises(DataError, match="pickled.pt cannot be read as a BrainGAN generator"):
        Generator.load(tmp_path / "pickled.pt")


@pytest.mark.parametrize("change, message", [
    ({"model": {"activation": "tanh"}}, r"model.activation: 'tanh' is not allowed; allowed values: softmax, sigmoid, "
                                        r"per-task"),
    ({"model": {"widht": 8}}, r"unknown key model.widht; allowed keys here: "),
    ({"canvas_mode": "crop"}, r"its canvas mode 'crop' is not one of resize, pad"),
    ({"tasks": [0, 7]}, r"its tasks \[0, 7\] are not a non-empty subset of \[0, 1\]"),
    ({"encoding": {"encoding": "inchi", "tokens": "chars"}}, r"preprocess.encoding: 'inchi' is not allowed"),
])
def test_a_generator_file_s_stored_config_is_validated_like_params(tmp_path, change, message):
    """A file from other code (or edited) stops with the key, the value and what is allowed,
    instead of sampling with an unknown activation read as softmax."""
    blob = _tiny_generator().to_dict()
    for key, value in change.items():
        blob[key] = {**blob[key], **value} if isinstance(value, dict) and key != "encoding" else value
    torch.save(blob, tmp_path / "g.pt")
    with pytest.raises(DataError, match=r"g.pt: " + message):
        Generator.load(tmp_path / "g.pt")


def test_an_unknown_activation_is_an_error_not_softmax():
    from braingan.config import Model

    m = Model(activation="tanh")  # not through validation: as a config built in code
    with pytest.raises(ConfigError, match="model.activation: 'tanh' is not allowed"):
        models.activate(torch.zeros(1, 2, 3), models.SMILES, m)


def test_saving_outlives_an_old_checkpoint_gone_before_its_removal_and_one_without_its_checksum(tmp_path, monkeypatch):
    """A crash between a checkpoint's two writes leaves it without its .sha256, and a user
    clearing the folder may remove an old checkpoint between this save's listing and its
    removal: neither may fail the save that comes after."""
    for step in (1, 2):
        checkpoint.save(tmp_path, step, {"step": step, "digest": "d"})
    (tmp_path / "ckpt-00000001.pt.sha256").unlink()  # the crash between the two writes
    listed = checkpoint._all

    def listing_then_gone(directory):  # step 1 is removed just after the listing
        found = listed(directory)
        (directory / "ckpt-00000001.pt").unlink()
        return found
    monkeypatch.setattr(checkpoint, "_all", listing_then_gone)
    assert checkpoint.save(tmp_path, 3, {"step": 3, "digest": "d"}) == tmp_path / "ckpt-00000003.pt"
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-00000002.pt", "ckpt-00000002.pt.sha256",
                                                           "ckpt-00000003.pt", "ckpt-00000003.pt.sha256"]
    assert checkpoint.load_latest(tmp_path, "d")["step"] == 3


def test_checkpoint_without_its_checksum_is_not_trusted(tmp_path):
    checkpoint.save(tmp_path, 5, {"step": 5, "digest": "d"})
    (tmp_path / "ckpt-00000005.pt.sha256").unlink()
    assert checkpoint.load_latest(tmp_path, "d") is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400), st.sampled_from([".smi", ".csv", ".txt"]),
       st.sampled_from([("smiles", "atoms"), ("selfies", "atoms"), ("deepsmiles", "chars")]))
def test_smiles_reader_fuzz_raises_only_documented_errors(tmp_path, raw, suffix, encoding):
    path = tmp_path / f"x{suffix}"
    path.write_bytes(raw)
    try:
        read = read_smiles_file(path, "SMILES")
    except DataError:
        return
    assert read.smiles and all(s.strip() == s and s for s in read.smiles)
    enc = encodings.get(*encoding)
    try:
        kept, toks, rep = clean(read.smiles, enc, "repair", True, 40, True)
    except ValueError as e:  # the documented error: the pad symbol in the data
        assert "pad symbol" in str(e)
        return
    assert rep.kept == len(kept) <= rep.read
    if kept:
        vocab = Vocab.build(toks, enc)
        from rdkit import Chem

        decoded = vocab.decode(vocab.encode(toks, 40 * 8))
        assert [Chem.CanonSmiles(d) for d in decoded] == [Chem.CanonSmiles(s) for s in kept]
