"""Training: seeded determinism, checkpoints, resume after an interruption."""
import csv
from pathlib import Path

import pytest
import torch

from braingan import checkpoint, training
from braingan.config import from_dict
from braingan.data.prepare import fetch, load_processed, preprocess
from braingan.tracking import Run

from conftest import tiny_params


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    cfg = from_dict(tiny_params())
    fetch(cfg, d / "raw", d / "r_fetch")
    preprocess(cfg, d / "raw", d / "processed", d / "r_pre")
    return load_processed(d / "processed")


def _train(tmp: Path, data, **over):
    cfg = from_dict(tiny_params(**over))
    m = training.run(cfg, data, Run(enabled=False), out=tmp / "out", model_path=tmp / "g.pt", ckpt_dir=tmp / "ckpt")
    with open(tmp / "out" / "history.csv") as f:
        return m, list(csv.DictReader(f))


@pytest.mark.parametrize("family, loss", [("resnet", "wgan-gp"), ("seed", "wgan-clip"), ("resnet", "ns-r1")])
def test_same_params_give_the_same_losses(tmp_path, data, family, loss):
    _, h1 = _train(tmp_path / "a", data, **{"model.family": family, "train.loss": loss})
    _, h2 = _train(tmp_path / "b", data, **{"model.family": family, "train.loss": loss})
    assert h1 == h2 and len(h1) == 3
    _, h3 = _train(tmp_path / "c", data, **{"model.family": family, "train.loss": loss, "seed": 1})
    assert h3 != h1


def test_resume_continues_exactly_where_it_stopped(tmp_path, data):
    _, full = _train(tmp_path / "full", data, **{"train.steps": 8, "train.checkpoint_every": 4})
    # first half, as if killed after the checkpoint at step 4: same dirs, then train to 8
    _train(tmp_path / "part", data, **{"train.steps": 4, "train.checkpoint_every": 4})
    m, resumed = _train(tmp_path / "part", data, **{"train.steps": 8, "train.checkpoint_every": 4})
    assert m["resumed_from"] == 4 and m["steps"] == 8
    assert resumed == full


def test_damaged_checkpoint_falls_back_to_the_previous_one(tmp_path, data):
    _train(tmp_path, data, **{"train.steps": 6, "train.checkpoint_every": 3})
    ckpts = sorted((tmp_path / "ckpt").glob("ckpt-*.pt"))
    assert [c.name for c in ckpts] == ["ckpt-00000003.pt", "ckpt-00000006.pt"]
    raw = bytearray(ckpts[-1].read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    ckpts[-1].write_bytes(bytes(raw))
    key = training.digest(from_dict(tiny_params(**{"train.steps": 6, "train.checkpoint_every": 3})), data)
    assert checkpoint.load_latest(tmp_path / "ckpt", key)["step"] == 3


def test_checkpoints_load_with_weights_only(tmp_path, data):
    _train(tmp_path, data)
    state = torch.load(sorted((tmp_path / "ckpt").glob("*.pt"))[-1], weights_only=True)
    assert state["step"] == 6
    G, mcfg, _ = training.load_generator(tmp_path / "g.pt")
    assert mcfg.family == "resnet"
