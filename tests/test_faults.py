"""Faults and fuzz: nothing half-written, nothing lost, no crash outside documented errors."""
import errno

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from braingan import checkpoint
from braingan.data.smiles import Vocab, clean
from braingan.data.sources import read_smiles_file
from braingan.fsutil import DataError, write_json


def test_disk_full_while_checkpointing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    checkpoint.save(tmp_path, 10, {"step": 10, "digest": "d", "w": torch.ones(3)})
    real_save = torch.save

    def full_disk(obj, f, *a, **k):
        with open(f, "wb") as fh:
            fh.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        checkpoint.save(tmp_path, 20, {"step": 20, "digest": "d"})
    monkeypatch.setattr(torch, "save", real_save)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-00000010.pt", "ckpt-00000010.pt.sha256"]
    assert checkpoint.load_latest(tmp_path, "d")["step"] == 10


def test_crash_during_an_output_write_leaves_the_old_file(tmp_path):
    out = tmp_path / "metrics.json"
    write_json(out, {"a": 1})
    with pytest.raises(TypeError):
        write_json(out, {"a": object()})
    assert out.read_text().strip() == '{\n  "a": 1\n}' and len(list(tmp_path.iterdir())) == 1


def test_checkpoint_without_its_checksum_is_not_trusted(tmp_path):
    checkpoint.save(tmp_path, 5, {"step": 5, "digest": "d"})
    (tmp_path / "ckpt-00000005.pt.sha256").unlink()
    assert checkpoint.load_latest(tmp_path, "d") is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400), st.sampled_from([".smi", ".csv", ".txt"]))
def test_smiles_reader_fuzz_raises_only_documented_errors(tmp_path, raw, suffix):
    path = tmp_path / f"x{suffix}"
    path.write_bytes(raw)
    try:
        read = read_smiles_file(path, "SMILES")
    except DataError:
        return
    assert read.smiles and all(s.strip() == s and s for s in read.smiles)
    try:
        kept, rep = clean(read.smiles, "repair", True, 40, True, True)
    except ValueError as e:  # the documented error: the pad symbol in the data
        assert "pad symbol" in str(e)
        return
    assert rep.kept == len(kept) <= rep.read
    if kept:
        vocab = Vocab.build(kept, True)
        assert vocab.decode(vocab.encode(kept, 40)) == kept
