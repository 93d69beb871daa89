"""Malformed input, table-driven, through the real stage entry points (`pipeline/*.py`,
run in-process): each case must end with exit status 2, one specific message on stderr,
no traceback, and not one file written or changed."""
import gzip
import hashlib
import os
import runpy
import shutil
import struct

import numpy as np
import pytest
import yaml

from conftest import ROOT, tiny_params


def _params(**over):
    return lambda d: (d / "params.yaml").write_text(yaml.safe_dump(tiny_params(**over), sort_keys=False))


def _file(name, content, **over):
    def setup(d):
        _params(**over)(d)
        (d / name).write_bytes(content)
    return setup


def _npz(**arrays):
    def setup(d):
        _params(**{"fetch.mnist.source": "path", "fetch.mnist.path": "d.npz"})(d)
        np.savez(d / "d.npz", **arrays)
    return setup


def _idx_folder(images: bytes, gz=False):
    def setup(d):
        _params(**{"fetch.mnist.source": "path", "fetch.mnist.path": "idx"})(d)
        (d / "idx").mkdir()
        name = "train-images-idx3-ubyte" + (".gz" if gz else "")
        (d / "idx" / name).write_bytes(images)
        (d / "idx" / "train-labels-idx1-ubyte").write_bytes(struct.pack(">HBBI", 0, 8, 1, 2) + bytes([1, 2]))
    return setup


def _with_processed(**over):
    """Params plus the data of a finished `fetch` + `preprocess` (made once, copied)."""
    def setup(d, processed):
        _params(**over)(d)
        shutil.copytree(processed, d / "data")
    setup.needs_data = True
    return setup


SMI = {"fetch.smiles.source": "path"}
CASES = [
    # --- params: values, types, keys, the file itself
    ("fetch", _params(**{"model.activation": "foo"}), {}, "model.activation: 'foo' is not allowed; allowed values: softmax, sigmoid, per-task"),
    ("fetch", _params(**{"train.steps": "100"}), {}, "train.steps: expected an integer, got '100'"),
    ("train", _params(**{"train.batch_size": 1}), {}, "train.batch_size: 1 is too small; allowed: >= 2"),
    ("fetch", lambda d: (d / "params.yaml").write_text("seed: 0\ntrian: {}\n"), {}, "unknown key trian; allowed keys here:"),
    ("fetch", lambda d: (d / "params.yaml").write_text("model: [resnet\n"), {}, "params.yaml: not valid YAML"),
    ("fetch", lambda d: None, {}, "params.yaml: no such params file"),
    ("fetch", _params(**{"fetch.smiles.source": "url", "fetch.smiles.url": "https://x/y.csv"}), {},
     "both required when fetch.smiles.source is 'url'"),
    # --- data files
    ("fetch", _params(**SMI, **{"fetch.smiles.path": "nope.csv"}), {}, "fetch.smiles.path: nope.csv does not exist"),
    ("fetch", _file("e.smi", b"", **SMI, **{"fetch.smiles.path": "e.smi"}), {}, "e.smi: holds no SMILES (empty file)"),
    ("fetch", _file("c.csv", b"name,smi\nx,CCO\n", **SMI, **{"fetch.smiles.path": "c.csv"}), {},
     "no column 'SMILES' (fetch.smiles.column); columns are: name, smi"),
    ("fetch", _file("m.xlsx", b"CCO\n", **SMI, **{"fetch.smiles.path": "m.xlsx"}), {}, "unknown file type '.xlsx'"),
    ("fetch", _file("b.smi", b"\xff\xfe\n\xfe\n", **SMI, **{"fetch.smiles.path": "b.smi"}), {},
     "b.smi: holds no SMILES (2 lines, none valid UTF-8)"),
    ("fetch", _file("s.csv", b"SMILES\nCCO\n", **{"fetch.smiles.source": "stahl", "fetch.smiles.path": "s.csv"}), {},
     "expected the Stahl set's"),
    ("fetch", _params(**{"fetch.smiles.source": "url", "fetch.smiles.url": "http://example.org/a.csv",
                         "fetch.smiles.sha256": "0" * 64}), {}, "only https:// URLs are allowed"),
    ("fetch", _params(**{"fetch.mnist.source": "path", "fetch.mnist.path": "none.npz"}), {},
     "fetch.mnist.path: none.npz does not exist"),
    ("fetch", _npz(a=np.zeros((2, 28, 28)), b=np.zeros(2)), {}, "has arrays ['a', 'b']; expected x/y"),
    ("fetch", _npz(x=np.zeros((3, 28, 28)), y=np.zeros(2)), {}, "has 3 images but 2 labels"),
    ("fetch", _npz(x=np.zeros((2, 20, 20)), y=np.zeros(2)), {}, "images have shape (2, 20, 20); expected [N, 28, 28]"),
    ("fetch", _idx_folder(struct.pack(">HBBIII", 0, 8, 3, 2, 28, 28) + bytes(100)), {}, "(truncated?)"),
    ("fetch", _idx_folder(b"\x00\x00\x07\x03" + bytes(20)), {}, "not an unsigned-byte IDX file (bad magic number)"),
    ("fetch", _idx_folder(gzip.compress(bytes(range(256)) * 40)[:60], gz=True), {}, "starts like a gzip file but cannot be decompressed"),
    # --- stage order and environment
    ("preprocess", _params(), {}, "data/raw/mnist.npz is missing: run stage fetch first"),
    ("train", _params(), {}, "data/processed/meta.json is missing: run stage preprocess first"),
    ("train", _with_processed(), {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}, "MLflow tracking server http://127.0.0.1:9 is not reachable"),
    ("train", _with_processed(**{"train.device": "cuda"}), {"CUDA_VISIBLE_DEVICES": ""},
     "train.device: 'cuda' but no CUDA device is available"),
    ("evaluate", _with_processed(), {}, "is missing: run the stage that makes it first"),
]


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    d = tmp_path_factory.mktemp("processed")
    cwd = os.getcwd()
    os.chdir(d)
    try:
        from braingan.config import from_dict
        from braingan.data.prepare import fetch, preprocess

        cfg = from_dict(tiny_params())
        fetch(cfg)
        preprocess(cfg)
    finally:
        os.chdir(cwd)
    return d / "data"


def _tree(d):
    return {p.relative_to(d): hashlib.sha256(p.read_bytes()).hexdigest() for p in d.rglob("*") if p.is_file()}


def test_there_are_at_least_twenty_cases():
    assert len(CASES) >= 20


@pytest.mark.parametrize("stage, setup, env, message", CASES, ids=[f"{i:02d}-{c[0]}" for i, c in enumerate(CASES)])
def test_bad_input_is_rejected_clearly_and_nothing_is_written(tmp_path, monkeypatch, capsys, request,
                                                              stage, setup, env, message):
    if getattr(setup, "needs_data", False):
        setup(tmp_path, request.getfixturevalue("processed"))
    else:
        setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("BRAINGAN_CACHE", str(tmp_path / "cache"))  # a download cache here would count as a write
    before = _tree(tmp_path)
    with pytest.raises(SystemExit) as e:
        runpy.run_path(str(ROOT / "pipeline" / f"{stage}.py"), run_name="__main__")
    err = capsys.readouterr().err
    assert e.value.code == 2, err
    assert message in err and f"braingan {stage}: error:" in err and "Traceback" not in err
    assert _tree(tmp_path) == before
