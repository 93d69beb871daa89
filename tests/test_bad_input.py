"""Malformed input, table-driven, through the real stage entry points (`pipeline/*.py`,
run in-process): each case must end with exit status 2, one specific message on stderr,
no traceback, and not one file of the workspace or the MLflow store written or changed.
(The same params cases through `dvc exp run -S` and `dvc repro`: test_pipeline_e2e.py.)"""
import gzip
import os
import runpy
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

from braingan.data.encodings import ENCODINGS
from braingan.models import FAMILIES
from helpers import ROOT, run_env, tiny_params, tree, write_params


def _params(**over):
    return lambda d: write_params(d, tiny_params(**over))


def _raw(text):
    return lambda d: (d / "params.yaml").write_text(text)


def _file(name, content, **over):
    def setup(d):
        _params(**over)(d)
        (d / name).write_bytes(content)
    return setup


def _smiles_file(name, content):
    return _file(name, content, **{"fetch.smiles.source": "path", "fetch.smiles.path": name})


def _npz(name="d.npz", writer=None, **arrays):
    def setup(d):
        _params(**{"fetch.mnist.source": "path", "fetch.mnist.path": name})(d)
        if writer:
            writer(d / name)
        else:
            np.savez(d / name, **arrays)
    return setup


def _idx_folder(images: bytes, gz=False, labels=2):
    def setup(d):
        _params(**{"fetch.mnist.source": "path", "fetch.mnist.path": "idx"})(d)
        (d / "idx").mkdir()
        (d / "idx" / ("train-images-idx3-ubyte" + (".gz" if gz else ""))).write_bytes(images)
        (d / "idx" / "train-labels-idx1-ubyte").write_bytes(struct.pack(">HBBI", 0, 8, 1, labels)
                                                            + bytes(i % 10 for i in range(1, labels + 1)))
    return setup


def _fifo(name, **over):
    def setup(d):
        _params(**over)(d)
        os.mkfifo(d / name)
    return setup


def _fake_index(with_wheel: bool):
    """A package index (a find-links folder) holding a wheel named like molsets 0.3.1 with other
    bytes, or holding nothing: what a mirror that serves the wrong file, or no index, looks like."""
    def setup(d):
        _params(**{"fetch.smiles.source": "moses"})(d)
        (d / "index").mkdir()
        if with_wheel:
            import zipfile

            with zipfile.ZipFile(d / "index" / "molsets-0.3.1-py3-none-any.whl", "w") as z:
                z.writestr("molsets-0.3.1.dist-info/METADATA", "Metadata-Version: 2.1\nName: molsets\nVersion: 0.3.1\n")
                z.writestr("molsets-0.3.1.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
                z.writestr("molsets-0.3.1.dist-info/RECORD", "")
    return setup


PIP_OFFLINE = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "{d}/index", "PIP_NO_CACHE_DIR": "1"}


def _with_state(damage=None, **over):
    """Params plus the outputs of a finished tiny run (data, models, MLflow store), then `damage`."""
    def setup(d, state):
        for item in state.iterdir():
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, d / item.name)
        _params(**over)(d)
        if damage:
            damage(d)
    setup.needs_state = True
    return setup


def _truncate(rel, keep=100):
    return lambda d: (d / rel).write_bytes((d / rel).read_bytes()[:keep])


SMI = {"fetch.smiles.source": "path"}


def case(name, stage, setup, env, message):
    """One row: the id says what the input is; the run must stop in `stage` saying `message`."""
    return pytest.param(stage, setup, env, message, id=name)


LONG_LINE = b"C" * 10_000_000
CASES = [
    # --- params: values, types, keys, the file itself (stage `validate` checks them all first)
    case("unknown-activation", "validate", _params(**{"model.activation": "foo"}), {}, "model.activation: 'foo' is not allowed; allowed values: softmax, sigmoid, per-task"),
    case("unknown-model-family", "validate", _params(**{"model.family": "gpt"}), {}, f"model.family: 'gpt' is not allowed; allowed values: {', '.join(FAMILIES.names())}"),
    case("unknown-encoding", "validate", _params(**{"preprocess.encoding": "inchi"}), {}, f"preprocess.encoding: 'inchi' is not allowed; allowed values: {', '.join(ENCODINGS.names())}"),
    case("steps-given-as-a-string", "validate", _params(**{"train.steps": "100"}), {}, "train.steps: expected an integer, got '100'"),
    case("batch-size-below-two", "validate", _params(**{"train.batch_size": 1}), {}, "train.batch_size: 1 is too small; allowed: >= 2"),
    case("negative-seed", "validate", _params(**{"seed": -1}), {}, "seed: -1 is too small; allowed: >= 0"),
    case("zero-learning-rate", "validate", _params(**{"train.lr_g": 0}), {}, "train.lr_g: 0.0 is too small; allowed: > 0.0"),
    case("nan-learning-rate", "validate", _raw("train:\n  lr_g: .nan\n"), {}, "train.lr_g: nan is not a finite number"),
    case("infinite-learning-rate", "validate", _raw("train:\n  lr_d: .inf\n"), {}, "train.lr_d: inf is not a finite number"),
    case("zero-classifier-learning-rate", "validate", _params(**{"classifier.lr": 0.0}), {}, "classifier.lr: 0.0 is too small; allowed: > 0.0"),
    case("model-too-large-for-memory", "validate", _params(**{"model.dim": 4096, "model.blocks": 64}), {}, "model.dim / model.blocks / model.z_dim"),
    case("score-split-above-sample-count", "validate", _params(**{"evaluate.score_split": 41}), {}, "evaluate.score_split: 41 is larger than evaluate.n_samples (40)"),
    case("misspelt-section", "validate", _raw("seed: 0\ntrian: {}\n"), {}, "unknown key trian; allowed keys here:"),
    case("broken-yaml", "validate", _raw("model: [resnet\n"), {}, "params.yaml: not valid YAML: expected ',' or ']', but got '<stream end>' (line 2"),
    case("empty-params-file", "validate", _raw(""), {}, "params.yaml: the file is empty"),
    case("duplicate-key", "validate", _raw("train:\n  steps: 5\n  steps: 6\n"), {}, "duplicate key 'steps' on line 3 (first on line 2)"),
    case("missing-params-file", "validate", lambda d: None, {}, "params.yaml: no such params file"),
    case("url-source-without-checksum", "validate", _params(**{"fetch.smiles.source": "url", "fetch.smiles.url": "https://x/y.csv"}), {},
     "both required when fetch.smiles.source is 'url'"),
    case("checksum-not-hex", "validate", _params(**{"fetch.smiles.sha256": "/tmp/abs"}), {}, "fetch.smiles.sha256: '/tmp/abs' is not allowed; expected 64 lower-case hex digits"),
    case("plain-http-url", "validate", _params(**{"fetch.smiles.url": "http://example.org/a.csv"}), {}, "fetch.smiles.url: 'http://example.org/a.csv' is not allowed"),
    case("path-source-without-path", "validate", _params(**{"fetch.smiles.source": "path"}), {}, "fetch.smiles.path: required when fetch.smiles.source is 'path'"),
    # --- every count and size bounded; what params alone can refuse, refused in validate (before DVC deletes)
    case("max-len-below-any-molecule", "validate", _params(**{"preprocess.max_len": 3}), {}, "preprocess.max_len: 3 is too small; allowed: 0 (no limit) or >= 10"),
    case("max-digits-below-the-minimum", "validate", _params(**{"preprocess.max_digits": 50}), {}, "preprocess.max_digits: 50 is too small; allowed: 0 (no limit) or >= 100"),
    case("max-smiles-below-the-minimum", "validate", _params(**{"preprocess.max_smiles": 10}), {}, "preprocess.max_smiles: 10 is too small; allowed: 0 (no limit) or >= 50"),
    case("sample-count-beyond-memory", "validate", _params(**{"evaluate.n_samples": 10**9}), {}, "evaluate.n_samples: 1000000000 is too large; allowed: <= 1000000"),
    case("moses-sample-count-beyond-memory", "validate", _params(**{"evaluate.moses_samples": 10**8}), {}, "evaluate.moses_samples: 100000000 is too large"),
    case("distribution-set-beyond-memory", "validate", _params(**{"evaluate.distribution_max": 10**8}), {}, "evaluate.distribution_max: 100000000 is too large"),
    case("steps-without-end", "validate", _params(**{"train.steps": 10**12}), {}, "train.steps: 1000000000000 is too large; allowed: <= 10000000"),
    case("batch-beyond-memory", "validate", _params(**{"train.batch_size": 10**6}), {}, "train.batch_size: 1000000 is too large; allowed: <= 4096"),
    case("critic-updates-without-end", "validate", _params(**{"train.n_critic": 10**6}), {}, "train.n_critic: 1000000 is too large; allowed: <= 100"),
    case("canvas-pad-beyond-memory", "validate", _params(**{"preprocess.extra_pad": 10**6}), {}, "preprocess.extra_pad: 1000000 is too large; allowed: <= 1000"),
    case("model-width-beyond-reason", "validate", _params(**{"model.dim": 10**6}), {}, "model.dim: 1000000 is too large; allowed: <= 4096"),
    case("ema-that-never-moves", "validate", _params(**{"train.ema": 1.0}), {}, "train.ema: 1.0 is too large; allowed: <= 0.99999"),
    case("ema-warm-up-that-never-moves", "validate", _params(**{"train.ema_warmup": 1}), {},
         "train.ema_warmup: 1 is too small; allowed: >= 2"),
    case("lazy-penalty-interval-absurd", "validate", _params(**{"train.gp_every": 10**6}), {}, "train.gp_every: 1000000 is too large"),
    case("classifier-epochs-without-end", "validate", _params(**{"classifier.epochs": 10**6}), {}, "classifier.epochs: 1000000 is too large; allowed: <= 1000"),
    case("reference-draws-absurd", "validate", _params(**{"evaluate.ref_draws": 10**5}), {}, "evaluate.ref_draws: 100000 is too large; allowed: <= 100"),
    case("gumbel-temperature-absurd", "validate", _params(**{"model.gumbel_tau": 1e9}), {}, "model.gumbel_tau: 1000000000.0 is too large"),
    case("empty-smiles-column", "validate", _params(**{"fetch.smiles.column": ""}), {}, "fetch.smiles.column: '' is not allowed; expected a column name (not empty)"),
    case("moses-split-of-another-source", "validate", _params(**{"fetch.smiles.split": "test"}), {}, "fetch.smiles.split: 'test' is a split of the MOSES benchmark; it needs fetch.smiles.source 'moses'"),
    case("moses-protocol-without-moses-data", "validate", _params(**{"evaluate.protocol": "moses"}), {}, "evaluate.protocol: 'moses' measures against the MOSES test sets; it needs fetch.smiles.source 'moses'"),
    case("unknown-precision", "validate", _params(**{"train.precision": "fp8"}), {}, "train.precision: 'fp8' is not allowed; allowed values: fp32, bf16"),
    case("unknown-lr-schedule", "validate", _params(**{"train.lr_schedule": "step"}), {}, "train.lr_schedule: 'step' is not allowed; allowed values: constant, cosine"),
    case("train-checks-its-own-section", "train", _params(**{"train.batch_size": 1}), {}, "train.batch_size: 1 is too small; allowed: >= 2"),  # each stage checks its own sections too
    # --- data files
    case("smiles-file-missing", "fetch", _params(**SMI, **{"fetch.smiles.path": "nope.csv"}), {}, "fetch.smiles.path: nope.csv does not exist"),
    case("smiles-file-empty", "fetch", _smiles_file("e.smi", b""), {}, "e.smi: holds no SMILES (empty file)"),
    case("csv-without-smiles-column", "fetch", _smiles_file("c.csv", b"name,smi\nx,CCO\n"), {}, "no column 'SMILES' (fetch.smiles.column); columns are: name, smi"),
    case("unknown-smiles-file-type", "fetch", _smiles_file("m.xlsx", b"CCO\n"), {}, "unknown file type '.xlsx'"),
    case("smiles-file-not-utf8", "fetch", _smiles_file("b.smi", b"\xff\xfe\n\xfe\n"), {}, "b.smi: holds no SMILES (2 lines, none valid UTF-8)"),
    case("smi-line-of-ten-megabytes", "fetch", _smiles_file("long.smi", LONG_LINE + b"\n"), {}, "long.smi: holds no SMILES (1 lines, all longer than 10,000 characters)"),
    case("csv-line-of-ten-megabytes", "fetch", _smiles_file("long.csv", b"SMILES\n" + LONG_LINE + b"\n"), {}, "long.csv: holds no SMILES (1 lines, 0 blank, 0 undecodable, 1 overlong)"),
    case("smiles-file-is-a-fifo", "fetch", _fifo("pipe.smi", **SMI, **{"fetch.smiles.path": "pipe.smi"}), {}, "fetch.smiles.path: pipe.smi is not a regular file"),
    case("smiles-file-is-dev-zero", "fetch", _params(**SMI, **{"fetch.smiles.path": "/dev/zero"}), {}, "unknown file type '(none)'"),
    case("smiles-file-is-a-folder", "fetch", _params(**SMI, **{"fetch.smiles.path": "."}), {}, ".: is a folder; expected a .csv or .smi file"),
    case("stahl-mirror-with-wrong-checksum", "fetch", _file("s.csv", b"SMILES\nCCO\n", **{"fetch.smiles.source": "stahl", "fetch.smiles.path": "s.csv"}), {},
     "expected the Stahl set's"),
    case("unreachable-url", "fetch", _file("src.csv", b"SMILES\nCCO\n", **{"fetch.smiles.source": "url", "fetch.smiles.url": "file:///nonexistent/a.csv",
                                                     "fetch.smiles.sha256": "0" * 64}), {}, "could not download file:///nonexistent/a.csv"),
    case("mnist-file-missing", "fetch", _params(**{"fetch.mnist.source": "path", "fetch.mnist.path": "none.npz"}), {}, "fetch.mnist.path: none.npz does not exist"),
    case("npz-without-image-arrays", "fetch", _npz(a=np.zeros((2, 28, 28)), b=np.zeros(2)), {}, "has arrays ['a', 'b']; expected x/y"),
    case("npz-more-images-than-labels", "fetch", _npz(x=np.zeros((3, 28, 28)), y=np.zeros(2)), {}, "has 3 images but labels of shape (2,)"),
    case("npz-images-not-28x28", "fetch", _npz(x=np.zeros((2, 20, 20)), y=np.zeros(2)), {}, "images have shape (2, 20, 20); expected [N, 28, 28]"),
    case("npz-of-random-bytes", "fetch", _npz(writer=lambda p: p.write_bytes(os.urandom(2000))), {}, "d.npz is not a readable numeric .npz file"),
    case("npz-of-text", "fetch", _npz(writer=lambda p: p.write_text("x,y\n1,2\n")), {}, "d.npz is not a readable numeric .npz file"),
    case("npz-of-python-objects", "fetch", _npz(x=np.array([{"a": 1}, None], dtype=object), y=np.zeros(2)), {}, "is not a readable numeric .npz file"),
    case("npz-with-no-images", "fetch", _npz(x=np.zeros((0, 28, 28)), y=np.zeros(0)), {}, "images are float64 of shape (0, 28, 28)"),
    case("npz-with-string-labels", "fetch", _npz(x=np.zeros((2, 28, 28)), y=np.array(["one", "two"])), {}, "expected one integer label per image"),
    case("npz-gzip-of-zeros", "fetch", _npz(writer=lambda p: gzip.open(p, "wb").write(b"\x00" * 1000)), {}, "is not a readable numeric .npz file"),
    case("idx-truncated", "fetch", _idx_folder(struct.pack(">HBBIII", 0, 8, 3, 2, 28, 28) + bytes(100)), {}, "(truncated?)"),
    case("idx-bad-magic-number", "fetch", _idx_folder(b"\x00\x00\x07\x03" + bytes(20)), {}, "not an unsigned-byte IDX file (bad magic number)"),
    case("idx-zero-dimensions", "fetch", _idx_folder(b"\x00\x00\x08\x00" + bytes(20)), {}, "IDX header gives 0 dimensions; expected 1 (labels) or 3"),
    case("idx-truncated-gzip", "fetch", _idx_folder(gzip.compress(bytes(range(256)) * 40)[:60], gz=True), {}, "starts like a gzip file but cannot be decompressed"),
    case("moses-wheel-with-the-wrong-checksum", "fetch", _fake_index(True), PIP_OFFLINE, "molsets-0.3.1-py3-none-any.whl from the package index has sha256"),
    case("moses-with-no-index-reachable", "fetch", _fake_index(False), PIP_OFFLINE, "could not fetch molsets-0.3.1-py3-none-any.whl from the package index"),
    # --- data that leaves too little to train and evaluate on
    case("smiles-csv-of-three-rows", "fetch", _smiles_file("three.csv", b"SMILES\nCCO\nCCN\nc1ccccc1\n"), {}, "three.csv holds 3 SMILES; at least 50 are needed"),
    case("smiles-file-of-a-few-salts", "fetch", _smiles_file("salts.smi", b"[Na+].[Cl-]\n[K+].[Br-]\nCC(=O)[O-].[Na+]\n"), {}, "salts.smi holds 3 SMILES; at least 50 are needed"),
    case("mnist-npz-of-one-image", "fetch", _npz(x=np.zeros((1, 28, 28)), y=np.zeros(1)), {}, "d.npz holds 1 images; at least 100 are needed"),
    case("mnist-npz-of-one-class", "fetch", _npz(x=np.zeros((200, 28, 28)), y=np.full(200, 3)), {}, "d.npz holds digits of 1 classes (3); all ten are needed"),
    case("mnist-idx-of-five-images", "fetch", _idx_folder(struct.pack(">HBBIII", 0, 8, 3, 5, 28, 28) + bytes(5 * 784), labels=5), {}, "holds 5 images; at least 100 are needed"),
    case("smiles-that-leave-a-handful-after-cleaning", "preprocess", _with_state(lambda d: (d / "data/raw/smiles.txt").write_text("CCO\nCCN\nCCC\n" + "not-a-molecule\n" * 60)), {}, "only 3 SMILES survive cleaning"),
    case("score-split-above-the-held-out-digits", "evaluate", _with_state(**{"evaluate.n_samples": 200, "evaluate.score_split": 100}), {}, "evaluate.score_split: 100 is more than the 60 held-out digits"),
    # --- stage order, damaged outputs of earlier stages, environment
    case("preprocess-before-fetch", "preprocess", _params(), {}, "data/raw/mnist.npz is missing: run stage fetch first"),
    case("train-before-preprocess", "train", _params(), {}, "data/processed/meta.json is missing: run stage preprocess first"),
    case("processed-meta-json-damaged", "train", _with_state(lambda d: (d / "data/processed/meta.json").write_text("{not json")), {},
     "data/processed is damaged or from another version (JSONDecodeError"),
    case("processed-npz-truncated", "classifier", _with_state(_truncate("data/processed/mnist.npz")), {}, "data/processed is damaged or from another version"),
    case("tracking-server-not-answering", "train", _with_state(), {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}, "MLflow tracking server http://127.0.0.1:9 is not reachable"),
    case("tracking-uri-a-folder", "train", _with_state(), {"MLFLOW_TRACKING_URI": "{d}"}, "is a plain path: MLflow 3's file store no longer takes new runs"),
    case("tracking-uri-a-relative-path", "train", _with_state(), {"MLFLOW_TRACKING_URI": "mlruns"}, "'mlruns' is a plain path"),
    case("tracking-sqlite-file-is-a-folder", "train", _with_state(), {"MLFLOW_TRACKING_URI": "sqlite:///{d}/data"}, "not an SQLite file in an existing folder"),
    case("tracking-sqlite-folder-missing", "evaluate", _with_state(), {"MLFLOW_TRACKING_URI": "sqlite:///{d}/nope/mlflow.db"}, "not an SQLite file in an existing folder"),
    case("train-on-cuda-without-cuda", "train", _with_state(**{"train.device": "cuda"}), {"CUDA_VISIBLE_DEVICES": ""}, "train.device: 'cuda' but no CUDA device is available"),
    case("evaluate-on-cuda-without-cuda", "evaluate", _with_state(**{"evaluate.device": "cuda"}), {"CUDA_VISIBLE_DEVICES": ""}, "evaluate.device: 'cuda' but no CUDA device"),
    case("generator-file-missing", "evaluate", _with_state(lambda d: (d / "models/generator.pt").unlink()), {}, "models/generator.pt is missing: run the stage"),
    case("generator-file-truncated", "evaluate", _with_state(_truncate("models/generator.pt", 5000)), {}, "models/generator.pt cannot be read as a BrainGAN generator"),
    case("classifier-file-truncated", "evaluate", _with_state(_truncate("models/classifier.pt", 5000)), {}, "models/classifier.pt cannot be read as the MNIST classifier"),
    case("classifier-file-missing", "train", _with_state(lambda d: (d / "models/classifier.pt").unlink()), {}, "models/classifier.pt is missing"),
]


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    """A finished tiny run: data/, models/, results/, and its MLflow store (one run)."""
    from braingan import classifier, paths, training
    from braingan.config import from_dict
    from braingan.data import dataset, fetch, preprocess
    from braingan.recorder.training import TrainingRecorder
    from braingan.stage import STAGES

    d = tmp_path_factory.mktemp("state")
    params = tiny_params(**{"train.steps": 2, "train.sample_every": 2, "train.checkpoint_every": 2})
    cfg = from_dict(params)
    mp = pytest.MonkeyPatch()
    try:
        mp.chdir(d)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{d / 'mlflow.db'}")
        fetch.run(cfg)
        preprocess.run(cfg)
        data = dataset.load()
        classifier.run(cfg, data)
        with TrainingRecorder() as rec:  # the train stage's body
            rec.finish(training.run(from_dict(params, STAGES["train"], "train"), data, classifier.load(), observer=rec))
    finally:
        mp.undo()
    assert (d / paths.GENERATOR).exists()
    return d


def test_there_are_at_least_eighty_cases():
    assert len(CASES) >= 80


def _run_stage(stage, tmp_path, env, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v.replace("{d}", str(tmp_path)))
    monkeypatch.setenv("BRAINGAN_CACHE", str(tmp_path / "cache"))  # a download cache here would count as a write
    with pytest.raises(SystemExit) as e:
        runpy.run_path(str(ROOT / "pipeline" / f"{stage}.py"), run_name="__main__")
    return e.value.code, capsys.readouterr().err


@pytest.mark.parametrize("stage, setup, env, message", CASES)
def test_bad_input_is_rejected_clearly_and_nothing_is_written(tmp_path, monkeypatch, capsys, request,
                                                              stage, setup, env, message):
    if getattr(setup, "needs_state", False):
        setup(tmp_path, request.getfixturevalue("state"))
    else:
        setup(tmp_path)
    capsys.readouterr()  # the first case that needs the shared state also sees its training output
    before = tree(tmp_path)
    code, err = _run_stage(stage, tmp_path, env, monkeypatch, capsys)
    assert code == 2, err
    assert message in err and f"braingan {stage}: error:" in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert tree(tmp_path) == before  # the workspace and the MLflow store (mlflow.db, mlartifacts/) alike


def _without_root_override(cmd):
    """Run as root without the capabilities that let root ignore file permissions."""
    if os.geteuid() != 0:
        return cmd
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is needed to drop root's permission override")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", "--bounding-set", caps, "--inh-caps", caps, *cmd]


def _stage_subprocess(stage, d):
    return subprocess.run(_without_root_override([sys.executable, str(ROOT / "pipeline" / f"{stage}.py")]), cwd=d,
                          env=run_env(ROOT), capture_output=True, text=True, timeout=300)


def test_an_unreadable_input_file_is_a_clear_error(tmp_path):
    _smiles_file("locked.smi", b"CCO\n")(tmp_path)
    (tmp_path / "locked.smi").chmod(0)
    before = tree(tmp_path, skip=("locked.smi",))
    p = _stage_subprocess("fetch", tmp_path)
    assert p.returncode == 2, p.stderr
    assert "braingan fetch: error: fetch.smiles.path: cannot read locked.smi: Permission denied" in p.stderr
    assert "Traceback" not in p.stderr and tree(tmp_path, skip=("locked.smi",)) == before


def test_a_read_only_checkout_is_a_clear_error(tmp_path):
    _params()(tmp_path)
    for p in [tmp_path, *tmp_path.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        p = _stage_subprocess("fetch", tmp_path)
    finally:
        tmp_path.chmod(0o755)
    assert p.returncode == 2, p.stderr
    assert "braingan fetch: error: cannot write data/raw/mnist.npz: Permission denied (is the checkout read-only?)" in p.stderr
    assert "Traceback" not in p.stderr and sorted(x.name for x in tmp_path.iterdir()) == ["params.yaml"]
