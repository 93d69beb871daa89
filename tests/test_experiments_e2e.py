"""End to end: queued experiments in DVC's temporary workspaces land in the MLflow store
(the main workspace's SQLite file, or a team tracking server on PostgreSQL) with nothing
lost; a DVC remote restores a fresh clone so nothing re-runs."""
import json
import os
import subprocess
import sys
import time

import pytest

from helpers import dvc, make_repo, queue_start, run_env, tiny_params, until_queue_empty

pytestmark = pytest.mark.e2e

# Distinct variants queued and run two at a time: every one must land complete. `-j 2` caps the
# concurrency at two writers. On SQLite four queued runs meet the store in pairs as often as it
# matters (the race at its creation, then concurrent logging, then a run starting beside one
# ending); the server already exists and serialises its writes, so one pair shows it.
VARIANTS = {
    "sqlite": {"q-sigmoid": "model.activation=sigmoid", "q-mnist": "train.tasks=mnist",
               "q-task": "model.conditioning=task", "q-clip": "train.loss=wgan-clip"},
    "server": {"q-softmax": "model.activation=softmax", "q-smiles": "train.tasks=smiles"},
}


def _store(kind, repo, team_server_factory):
    if kind == "sqlite":
        return f"sqlite:///{repo / 'mlflow.db'}", {}
    url = team_server_factory()["url"]
    return url, {"MLFLOW_TRACKING_URI": url}


def _runs(uri, names):
    from mlflow.tracking import MlflowClient

    c = MlflowClient(uri)
    exp = c.get_experiment_by_name("braingan")
    runs = c.search_runs([exp.experiment_id], max_results=1000)
    mine = [r for r in runs if r.data.tags.get("dvc.exp_name") in names]
    return c, mine, runs


def test_pipeline_logs_to_the_team_server(tmp_path, team_server, made):
    """`dvc repro` with MLFLOW_TRACKING_URI set: params, curves, pictures and models go to
    the server; the runs are rows in PostgreSQL and the files lie in the served root."""
    import psycopg

    r = make_repo(tmp_path / "repo", tiny_params(), made)
    dvc(r, "repro", env={"MLFLOW_TRACKING_URI": team_server["url"]})
    assert not (r / "mlflow.db").exists() and not (r / "mlartifacts").exists()
    from mlflow.tracking import MlflowClient

    c = MlflowClient(team_server["url"])
    run_id = json.loads((r / "results/train/mlflow.json").read_text())["run_id"]
    run = c.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.params["model.family"] == "resnet"
    assert [m.step for m in c.get_metric_history(run_id, "train.g_loss_mnist")] == [2, 4, 6]
    assert {f.path for f in c.list_artifacts(run_id, "train")} >= {"train/generator.pt"}
    assert c.list_artifacts(run_id, "evaluate")
    assert list(team_server["artifacts"].rglob("generator.pt")), "artifacts not in the served root"
    children = c.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'")
    assert len(children) == 1 and children[0].info.status == "FINISHED"
    with psycopg.connect(team_server["backend"]) as db:
        assert db.execute("select status from runs where run_uuid = %s", (run_id,)).fetchone() == ("FINISHED",)
    code = f"""
import mlflow, pandas as pd
mlflow.set_tracking_uri("{team_server['url']}")
out = mlflow.pyfunc.load_model("runs:/{run_id}/generator").predict(pd.DataFrame({{"task": ["smiles"], "n": [4], "seed": [0]}}))
print(len(out), list(out.columns))
"""
    p = subprocess.run([sys.executable, "-c", code], cwd=r, env=run_env(r), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and p.stdout.startswith("4 ['task', 'i', 'raw', 'smiles'"), p.stderr[-3000:]


@pytest.mark.parametrize("store", ["sqlite", "server"])
def test_queued_experiments_land_complete(tmp_path, store, request, made):
    """`dvc exp run --queue` x 4, `dvc queue start -j 2`: all land FINISHED in the store,
    tagged with their experiment names, with every logged metric point and their pictures.
    On SQLite the store does not exist yet when the queue starts: the first two experiments
    race to create it (stage validate creates it once, under a lock). Each queued run takes
    half the cores (train.threads 0) and records how many it took."""
    variants = VARIANTS[store]
    r = make_repo(tmp_path / "repo", tiny_params(**{"train.threads": 0, "evaluate.fcd": False}), made)
    uri, env = _store(store, r, lambda: request.getfixturevalue("team_server"))
    assert store != "sqlite" or not (r / "mlflow.db").exists()
    for name, setting in variants.items():
        dvc(r, "exp", "run", "--queue", "-n", name, "-S", setting, env=env)
    t0 = time.time()
    queue_start(r, 2, env)
    status = until_queue_empty(r, timeout=1800, env=env)
    print(f"{len(variants)} queued experiments with -j 2 ({store}): {time.time() - t0:.0f} s")
    assert "Failed" not in status, status + "\n" + "\n".join(
        dvc(r, "queue", "logs", n, check=False).stdout[-3000:] for n in variants)

    c, mine, runs = _runs(uri, set(variants))
    assert not [x for x in runs if x.info.status == "RUNNING"]
    train = {x.data.tags["dvc.exp_name"]: x for x in mine if "mlflow.parentRunId" not in x.data.tags}
    assert set(train) == set(variants)
    for name, run in train.items():
        assert run.info.status == "FINISHED" and run.info.run_name == name, name
        tasks = {"q-mnist": ["mnist"], "q-smiles": ["smiles"]}.get(name, ["mnist", "smiles"])
        for t in tasks:  # every logged point: steps 2, 4, 6 of 6 (log_every 2)
            assert [m.step for m in c.get_metric_history(run.info.run_id, f"train.g_loss_{t}")] == [2, 4, 6], name
        assert "eval.n_samples" in run.data.metrics  # the evaluation landed on it too
        assert c.list_artifacts(run.info.run_id, "evaluate"), name
        kids = [x for x in mine if x.data.tags.get("mlflow.parentRunId") == run.info.run_id]
        assert len(kids) == 1 and kids[0].info.status == "FINISHED", name
    for name, setting in variants.items():
        key, value = setting.split("=")
        assert train[name].data.params[key] == value, name
    cores = len(os.sched_getaffinity(0))
    assert {run.data.metrics["train.threads"] for run in train.values()} == {max(1, cores // 2)}
    assert not list((r / ".dvc/tmp/exps").glob("**/mlflow.db")), "a run logged into a temporary workspace"


def test_push_then_fresh_clone_pull_runs_nothing(tmp_path, made):
    r = make_repo(tmp_path / "a", tiny_params(), made)
    dvc(r, "repro")
    env = run_env(r)
    subprocess.run(["git", "add", "-A"], cwd=r, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "results"], cwd=r, check=True, env=env)
    dvc(r, "push")
    assert (tmp_path / "braingan-dvc-remote").is_dir()  # the default remote: a sibling folder
    b = tmp_path / "b"
    subprocess.run(["git", "clone", "-q", str(r), str(b)], check=True, env=env)
    dvc(b, "pull")
    assert (b / "models/generator.pt").exists() and (b / "data/processed/meta.json").exists()
    out = dvc(b, "repro").stdout  # `inputs` always runs: it fingerprints the source files, in well under a second
    assert [line for line in out.splitlines() if line.startswith("Running stage")] == ["Running stage 'inputs':"], out
