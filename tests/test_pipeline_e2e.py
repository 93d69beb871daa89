"""End to end: the real pipeline with real DVC and a real MLflow SQLite store, in
throw-away git repositories that copy the project (the working tree is never touched)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from braingan.config import Config

from conftest import dvc, make_repo, run_env, tiny_params

pytestmark = pytest.mark.e2e

OUTPUTS = [
    "data/raw/mnist.npz", "data/raw/smiles.txt", "data/raw/sources.json", "results/fetch/metrics.json",
    "data/processed/mnist.npz", "data/processed/meta.json", "data/processed/smiles_train.txt",
    "data/processed/smiles_heldout.txt", "results/preprocess/metrics.json", "results/preprocess/examples.png",
    "models/classifier.pt", "results/classifier/metrics.json",
    "models/generator.pt", "results/train/metrics.json", "results/train/history.csv", "results/train/mlflow.json",
    "results/evaluate/metrics.json", "results/evaluate/digits.png", "results/evaluate/molecules.png",
    "results/evaluate/smiles.csv",
]


def _client(repo):
    from mlflow.tracking import MlflowClient

    return MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")


def _runs(repo):
    c = _client(repo)
    exp = c.get_experiment_by_name("braingan")
    return c, c.search_runs([exp.experiment_id], max_results=1000)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    r = make_repo(tmp_path_factory.mktemp("repo"), tiny_params())
    dvc(r, "repro")
    return r


def test_repro_writes_every_output_and_metric(repo):
    for f in OUTPUTS:
        assert (repo / f).exists(), f
    m = json.loads((repo / "results/evaluate/metrics.json").read_text())
    for key in ("validity", "unique", "unique_at_1000", "novelty", "int_div", "fcd", "fcd_n", "all_pad_share",
                "pad_inside_share", "longest_run_max", "top_output_share", "collapsed", "collapsed_rule"):
        assert key in m["smiles"], key
    for key in ("classifier_score", "frechet", "classes_covered", "mean_confidence", "frechet_over_floor"):
        assert key in m["digits"], key
    for key in ("digits_heldout_classifier_score", "digits_frechet_floor", "smiles_train_validity",
                "smiles_random_validity", "smiles_trainset_validity", "smiles_trainset_novelty"):
        assert key in m["reference"], key
    assert m["reference"]["smiles_train_validity"] == 1.0
    assert m["reference"]["smiles_trainset_novelty"] == 0.0
    assert json.loads((repo / "results/classifier/metrics.json").read_text())["heldout_accuracy"] > 0.3  # tiny: 540 digits, 2 epochs; chance is 0.1
    shown = dvc(repo, "metrics", "show", "--json").stdout
    assert "classifier_score" in shown and "validity" in shown


def test_second_repro_runs_nothing(repo):
    t = time.time()
    out = dvc(repo, "repro").stdout
    assert "Running stage" not in out and "up to date" in out
    print(f"no-op dvc repro: {time.time() - t:.2f} s")


def test_one_mlflow_run_with_params_curves_and_images(repo):
    c, runs = _runs(repo)
    train_runs = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    evals = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(train_runs) == 1 and len(evals) == 1
    run = train_runs[0]
    assert run.info.status == "FINISHED" and evals[0].info.status == "FINISHED"
    assert run.info.run_id == json.loads((repo / "results/train/mlflow.json").read_text())["run_id"]
    assert run.data.params["model.activation"] == "per-task" and run.data.params["train.steps"] == "6"
    assert run.data.tags["git.commit"] and "data.sha256.mnist.npz" in run.data.tags
    hist = c.get_metric_history(run.info.run_id, "train.wdist_mnist")
    assert [m.step for m in hist] == [2, 4, 6]
    assert "eval.smiles.validity" in run.data.metrics and "eval.digits.classifier_score" in run.data.metrics
    images = [a.path for a in c.list_artifacts(run.info.run_id, "images")]
    assert images, "no sample images logged"
    assert {a.path for a in c.list_artifacts(run.info.run_id, "train")} >= {"train/generator.pt", "train/history.csv"}
    assert evals[0].data.params["evaluate.n_samples"] == "40"


def test_plots_render(repo):
    out = dvc(repo, "plots", "show", "--json").stdout
    assert "wdist_mnist" in out


def test_evaluate_alone_with_new_params_adds_a_child_run(repo):
    p = yaml.safe_load((repo / "params.yaml").read_text())
    p["evaluate"]["n_samples"] = 30
    (repo / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    out = dvc(repo, "repro").stdout
    assert "Running stage 'evaluate'" in out and "Running stage 'train'" not in out
    c, runs = _runs(repo)
    evals = sorted((r for r in runs if "mlflow.parentRunId" in r.data.tags), key=lambda r: r.info.start_time)
    assert [r.data.params["evaluate.n_samples"] for r in evals] == ["40", "30"]
    parent = [r for r in runs if "mlflow.parentRunId" not in r.data.tags][0]
    assert parent.data.params["train.steps"] == "6" and parent.info.status == "FINISHED"


def test_exp_run_set_param(repo):
    dvc(repo, "exp", "run", "-n", "sig", "-S", "model.activation=sigmoid")
    shown = json.loads(dvc(repo, "exp", "show", "--json").stdout)
    assert "sig" in json.dumps(shown)
    _, runs = _runs(repo)
    sig = [r for r in runs if r.data.params.get("model.activation") == "sigmoid"]
    assert len(sig) == 1 and sig[0].data.tags.get("dvc.exp_name") == "sig" and sig[0].info.status == "FINISHED"


def test_exp_run_bad_value_fails_before_training_with_allowed_values(repo):
    p = dvc(repo, "exp", "run", "-S", "model.activation=foo", check=False)
    assert p.returncode != 0
    assert "model.activation: 'foo' is not allowed; allowed values: softmax, sigmoid, per-task" in p.stdout + p.stderr
    assert "generator" not in p.stdout + p.stderr  # rejected before the model was even built


def test_default_params_preprocess_offline(tmp_path):
    r = make_repo(tmp_path, Config().to_dict())
    dvc(r, "repro", "preprocess")
    meta = json.loads((r / "data/processed/meta.json").read_text())
    assert meta["canvas"]["L"] % 4 == 0 and meta["canvas"]["V"] == len(meta["vocab"])
    assert meta["counts"]["mnist_train"] + meta["counts"]["mnist_heldout"] == 5000
    assert "up to date" in dvc(r, "repro", "preprocess").stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_interrupted_training_resumes_from_its_checkpoint(tmp_path, sig):
    params = tiny_params(**{"train.steps": 200, "train.checkpoint_every": 10, "train.sample_every": 100})
    r = make_repo(tmp_path, params)
    dvc(r, "repro", "classifier")
    p = subprocess.Popen([sys.executable, "-m", "dvc", "repro", "train"], cwd=r, env=run_env(r),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 300
    while not list((r / "models/checkpoints").glob("ckpt-*.pt.sha256")) and time.time() < deadline:
        time.sleep(0.2)
    assert time.time() < deadline, "no checkpoint was written"
    os.killpg(p.pid, sig)
    p.communicate(timeout=120)
    assert not (r / "models/generator.pt").exists()
    out = dvc(r, "repro", "train")
    m = json.loads((r / "results/train/metrics.json").read_text())
    assert m["steps"] == 200 and m["resumed_from"] >= 10, out.stdout + out.stderr
    assert "resuming from checkpoint" in out.stderr + out.stdout
    _, runs = _runs(r)
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"  # the same run, resumed and finished
    steps = [h.step for h in _client(r).get_metric_history(runs[0].info.run_id, "train.g_adv_mnist")]
    assert max(steps) == 200


def test_markdown_comparison_of_runs(repo):
    p = subprocess.run([sys.executable, "-m", "braingan.compare", "--out", "cmp.md"], cwd=repo, env=run_env(repo),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    text = (repo / "cmp.md").read_text()
    assert "eval.smiles.validity" in text and "evaluate/digits.png" in text
