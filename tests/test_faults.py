"""Faults and fuzz: nothing half-written, nothing lost, no crash outside documented errors."""
import errno
import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from braingan import checkpoint
from braingan.data import encodings
from braingan.data.smiles import Vocab, clean
from braingan.data.sources import read_smiles_file
from braingan.errors import DataError
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
