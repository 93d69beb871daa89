"""End to end: queued experiments in DVC's temporary workspaces land in the main
workspace's MLflow store; a DVC remote restores a fresh clone so nothing re-runs."""
import subprocess
import time

import pytest

from conftest import dvc, make_repo, run_env, tiny_params

pytestmark = pytest.mark.e2e


def test_queued_experiments_land_in_the_main_store(tmp_path):
    r = make_repo(tmp_path / "repo", tiny_params())
    dvc(r, "repro")
    variants = {"q-sigmoid": "model.activation=sigmoid", "q-mnist": "train.tasks=mnist",
                "q-smiles": "train.tasks=smiles"}
    for name, setting in variants.items():
        dvc(r, "exp", "run", "--queue", "-n", name, "-S", setting)
    t0 = time.time()
    dvc(r, "queue", "start", "-j", "2")
    while time.time() - t0 < 900:
        status = dvc(r, "queue", "status").stdout
        if not any(w in status for w in ("Queued", "Running")):
            break
        time.sleep(3)
    print(f"3 queued experiments with -j 2: {time.time() - t0:.0f} s")
    assert "Failed" not in status, status + "\n" + "\n".join(
        dvc(r, "queue", "logs", n, check=False).stdout[-3000:] for n in variants)

    from mlflow.tracking import MlflowClient

    c = MlflowClient(f"sqlite:///{r / 'mlflow.db'}")
    exp = c.get_experiment_by_name("braingan")
    runs = c.search_runs([exp.experiment_id], max_results=1000)
    assert not [x for x in runs if x.info.status == "RUNNING"]
    train_runs = {x.data.tags.get("dvc.exp_name"): x for x in runs if "mlflow.parentRunId" not in x.data.tags}
    for name in variants:
        run = train_runs[name]
        assert run.info.status == "FINISHED"
        assert "eval.n_samples" in run.data.metrics  # evaluation landed on it too
        assert c.get_metric_history(run.info.run_id, "train.g_loss_" + ("smiles" if "smiles" in name else "mnist"))
        assert c.list_artifacts(run.info.run_id, "evaluate")
    assert train_runs["q-sigmoid"].data.params["model.activation"] == "sigmoid"
    assert not list((r / ".dvc/tmp/exps").glob("**/mlflow.db")), "a run logged into a temporary workspace"


def test_push_then_fresh_clone_pull_runs_nothing(tmp_path):
    r = make_repo(tmp_path / "a", tiny_params())
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
    out = dvc(b, "repro").stdout
    assert "Running stage" not in out, out
