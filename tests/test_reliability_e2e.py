"""The guarantees of docs/reliability.md through the user's entry points: Ctrl-C and SIGTERM
landing between two checkpoints of `dvc repro` / `dvc exp run`, a `dvc queue` worker killed
with SIGKILL, credentials against a real MLflow server that requires them, and outputs that do
not depend on where the checkout lives."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import yaml

from helpers import dvc, make_repo, mlflow_runs, queue_start, run_env, tiny_params, tree, until_queue_empty

pytestmark = pytest.mark.e2e

# long enough that a signal lands between two checkpoints; log_every 5 makes every step visible
STOPPABLE = {"train.steps": 300, "train.checkpoint_every": 100, "train.sample_every": 50, "train.log_every": 5,
             "evaluate.fcd": False}


def _start(r, *args):
    return subprocess.Popen([sys.executable, "-m", "dvc", *args], cwd=r, env=run_env(r), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _wait_for(path_glob, r, proc, timeout=600):
    deadline = time.time() + timeout
    while not list(r.glob(path_glob)) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert list(r.glob(path_glob)), f"{path_glob} never appeared"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, made):
    """The same training, never stopped: what a resumed run must end with."""
    r = make_repo(tmp_path_factory.mktemp("whole"), tiny_params(**STOPPABLE), made)
    dvc(r, "repro", "train")
    return json.loads((r / "results/train/metrics.json").read_text())


@pytest.mark.parametrize("sig, command", [(signal.SIGINT, ["repro"]),
                                          (signal.SIGTERM, ["exp", "run", "-n", "stopped"])],
                         ids=["ctrl-c-dvc-repro", "sigterm-dvc-exp-run"])
def test_a_stop_between_checkpoints_resumes_at_the_step_it_printed_with_every_step_logged_once(
        tmp_path, uninterrupted, sig, command, made):
    r = make_repo(tmp_path, tiny_params(**STOPPABLE), made)
    p = _start(r, *command)
    _wait_for("models/checkpoints/ckpt-00000100.pt.sha256", r, p)
    time.sleep(1.0)  # into the next hundred steps: between two checkpoints
    os.killpg(p.pid, sig)  # as a terminal's Ctrl-C (SIGINT) or a scheduler's SIGTERM reaches the process group
    out, _ = p.communicate(timeout=300)
    stopped = re.search(r"stopped at step (\d+); checkpoint saved", out)
    assert stopped, out[-3000:]
    step = int(stopped.group(1))
    assert 100 < step < 300 and step % 100, step  # between two checkpoints, not at one
    c, (run,) = mlflow_runs(r)
    assert run.info.status == "KILLED"  # before the resume
    p = dvc(r, *command)
    out = p.stdout + p.stderr
    m = json.loads((r / "results/train/metrics.json").read_text())
    assert f"resuming from the checkpoint at step {step} of 300" in out and m["resumed_from"] == step
    c, runs = mlflow_runs(r)
    (train,) = [x for x in runs if "mlflow.parentRunId" not in x.data.tags]
    assert train.info.run_id == run.info.run_id and train.info.status == "FINISHED"
    for key, every in (("train.wdist_mnist", 5), ("train.g_loss_smiles", 5), ("monitor.probe_s", 50)):
        steps = [x.step for x in c.get_metric_history(train.info.run_id, key)]
        assert sorted(steps) == list(range(every, 301, every)), (key, steps)  # each step once: no gap, no repeat
    finals = {k: v for k, v in m.items() if k.startswith("final_")}
    assert finals == {k: v for k, v in uninterrupted.items() if k.startswith("final_")}  # as if never stopped


def test_a_killed_queue_worker_leaves_nothing_running_and_the_experiment_runs_again(tmp_path, made):
    r = make_repo(tmp_path, tiny_params(**{**STOPPABLE, "train.steps": 1500, "train.sample_every": 500,
                                           "train.checkpoint_every": 500}), made)
    dvc(r, "exp", "run", "--queue", "-n", "done-first", "-S", "train.steps=20")
    queue_start(r, 1)
    until_queue_empty(r)
    finished = json.loads(dvc(r, "exp", "show", "--json").stdout)
    dvc(r, "exp", "run", "--queue", "-n", "killed", "-S", "model.activation=sigmoid")
    queue_start(r, 1)
    deadline = time.time() + 600
    pid = None
    while pid is None and time.time() < deadline:
        time.sleep(1)
        try:
            _, runs = mlflow_runs(r)
        except Exception:  # noqa: BLE001 - the store is not there yet
            continue
        pid = next((int(x.data.tags["braingan.pid"]) for x in runs if x.data.tags.get("dvc.exp_name") == "killed"
                    and x.info.status == "RUNNING"), None)
    assert pid, "the queued experiment never started training"
    worker = _queue_worker_of(pid)
    os.killpg(os.getpgid(worker), signal.SIGKILL)  # the worker and what it started, without warning
    time.sleep(2)
    dvc(r, "exp", "run", "--queue", "-n", "killed-again", "-S", "model.activation=sigmoid")
    queue_start(r, 1)
    # DVC itself keeps listing the killed task as Running (its worker never reported back)
    until_queue_empty(r, only="killed-again")
    _, runs = mlflow_runs(r)
    assert not [x for x in runs if x.info.status == "RUNNING"]
    again = [x for x in runs if x.data.tags.get("dvc.exp_name") == "killed-again" and "mlflow.parentRunId" not in
             x.data.tags]
    assert len(again) == 1 and again[0].info.status == "FINISHED"
    killed = [x for x in runs if x.data.tags.get("dvc.exp_name") == "killed"]
    assert killed and all(x.info.status == "KILLED" for x in killed)
    shown = json.loads(dvc(r, "exp", "show", "--json").stdout)
    assert _exp(shown, "done-first") == _exp(finished, "done-first")  # the other experiment's results unchanged


def _exp(shown, name):
    for rev in shown:
        for e in rev.get("experiments") or []:
            for x in e.get("revs", []):
                if x.get("name") == name:
                    return x["data"]["metrics"]
    return None


def _queue_worker_of(pid: int) -> int:
    """The process of DVC's queue worker above a stage's process."""
    while pid > 1:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        if "queue-worker" in cmd or "celery" in cmd:
            return pid
        pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    raise AssertionError("no dvc queue worker above the training process")


# ---------------------------------------------------------------- credentials, end to end
@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    """MLflow's own basic-auth server (`mlflow server --app-name basic-auth`) with a user of ours."""
    d = tmp_path_factory.mktemp("auth")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ini = d / "auth.ini"
    ini.write_text(f"[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///{d / 'auth.db'}\n"
                   "admin_username = admin\nadmin_password = admin-Pa55word-1\nauthorization_function = "
                   "mlflow.server.auth:authenticate_request_basic_auth\n")
    # MLflow's auth app signs its CSRF tokens with this key and refuses to start without one
    env = {**run_env(), "MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_FLASK_SERVER_SECRET_KEY": os.urandom(16).hex()}
    log = open(d / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth",
                             "--backend-store-uri", f"sqlite:///{d / 'mlflow.db'}", "--artifacts-destination",
                             str(d / "artifacts"), "--serve-artifacts", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    import urllib.request

    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(url + "/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    assert proc.poll() is None, "the basic-auth server did not start:\n" + (d / "server.log").read_text()[-3000:]
    password = "Pw-" + os.urandom(8).hex()  # made here: a literal would be found in the repo's copy of this file
    from mlflow.server.auth.client import AuthServiceClient

    os.environ.update(MLFLOW_TRACKING_USERNAME="admin", MLFLOW_TRACKING_PASSWORD="admin-Pa55word-1")
    try:
        AuthServiceClient(url).create_user("alice", password)
    finally:
        del os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]
    yield {"port": port, "user": "alice", "password": password}
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(30)


def test_a_pipeline_logs_to_a_server_that_requires_credentials_and_never_shows_the_password(tmp_path, auth_server,
                                                                                            made):
    port, user, password = auth_server["port"], auth_server["user"], auth_server["password"]
    r = make_repo(tmp_path / "repo", tiny_params(**{"evaluate.fcd": False}), made)
    good = {"MLFLOW_TRACKING_URI": f"http://{user}:{password}@127.0.0.1:{port}"}
    p = dvc(r, "repro", env=good)
    from mlflow.tracking import MlflowClient

    os.environ.update(MLFLOW_TRACKING_USERNAME=user, MLFLOW_TRACKING_PASSWORD=password)
    try:
        c = MlflowClient(f"http://127.0.0.1:{port}")
        runs = c.search_runs([c.get_experiment_by_name("braingan").experiment_id])
    finally:
        del os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]
    assert len(runs) == 2 and {x.info.status for x in runs} == {"FINISHED"}  # training and its evaluation
    for x in runs:
        assert password not in json.dumps({**x.data.params, **x.data.tags})
    assert password not in p.stdout + p.stderr
    assert not [f for f, _ in tree(r, skip=(".git/",)).items() if password.encode() in (r / f).read_bytes()]
    # a wrong password stops `dvc repro` in stage validate: no output deleted or changed
    params = yaml.safe_load((r / "params.yaml").read_text())
    params["evaluate"]["n_samples"] = 30
    (r / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    before = tree(r, skip=(".git/", ".dvc/tmp/", "params.yaml"))
    p = dvc(r, "repro", check=False, env={"MLFLOW_TRACKING_URI": f"http://{user}:wrong-one@127.0.0.1:{port}"})
    # the URI is shown without its credentials (they travel as MLflow's username / password variables)
    assert p.returncode != 0 and f"MLflow tracking server http://127.0.0.1:{port} refused the credentials" in \
        p.stdout + p.stderr, p.stdout + p.stderr
    assert "wrong-one" not in p.stdout + p.stderr
    assert tree(r, skip=(".git/", ".dvc/tmp/", "params.yaml")) == before


# ---------------------------------------------------------------- where the checkout lives
TIMED = {"results/train/metrics.json": ("wall_s", "steps_per_s"), "results/train/history.csv": ("probe_s",),
         "results/classifier/metrics.json": ("wall_s",),
         "results/evaluate/timings.json": None, "results/train/mlflow.json": None}  # None: names a run or a time


def test_two_clones_at_different_paths_produce_the_same_data_and_results(tmp_path, made):
    # a's data and classifier were made at `made`'s path, its training and evaluation at its own;
    # b makes all of them at a third path
    a = make_repo(tmp_path / "a", tiny_params(**{"evaluate.fcd": False}), made)
    b = make_repo(tmp_path / "elsewhere" / "deeper" / "b", tiny_params(**{"evaluate.fcd": False}))
    for r in (a, b):
        dvc(r, "repro")
    got = {r: {**{f"data/{k}": v for k, v in tree(r / "data").items()},
               **{f"results/{k}": v for k, v in tree(r / "results").items()}} for r in (a, b)}
    assert got[a].keys() == got[b].keys()
    differ = sorted(k for k in got[a] if got[a][k] != got[b][k])
    assert set(differ) <= set(TIMED), differ  # every other file byte-identical
    for f, fields in TIMED.items():
        if fields:
            assert _without(a / f, fields) == _without(b / f, fields), f


def _without(path, fields):
    text = path.read_text()
    if path.suffix == ".json":
        return {k: v for k, v in json.loads(text).items() if k not in fields}
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(text)))
    return [{k: v for k, v in row.items() if k not in fields} for row in rows]
