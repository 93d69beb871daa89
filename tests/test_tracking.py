"""Tracking: store location, tracking URIs refused or accepted before any work, credentials
never shown and sent as basic auth, unreachable servers fail fast."""
import base64
import http.server
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from braingan import tracking
from braingan.errors import TrackingError
from braingan.fsutil import repo_root
from helpers import ROOT, run_env


def test_an_unreachable_server_is_one_clear_error_without_the_password(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://user:secret@127.0.0.1:9")
    with pytest.raises(TrackingError) as e:
        tracking.Run(enabled=True)
    assert "http://127.0.0.1:9 is not reachable" in str(e.value) and "secret" not in str(e.value)


class _BasicAuth(http.server.BaseHTTPRequestHandler):
    """A server whose /health answers only with the right basic-auth credentials."""

    def do_GET(self):  # noqa: N802
        ok = self.headers.get("Authorization") == "Basic " + base64.b64encode(b"alice:s3cr%t").decode()
        self.send_response(200 if ok else 401)
        self.end_headers()
        self.wfile.write(b"OK" if ok else b"")

    def log_message(self, *a):
        pass


@pytest.fixture
def auth_server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BasicAuth)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()


def test_credentials_in_the_uri_are_sent_as_basic_auth(auth_server):
    tracking.check_uri(f"http://alice:s3cr%25t@127.0.0.1:{auth_server}")  # %25 is "%", URL-quoted
    with pytest.raises(TrackingError, match=r"http://\*\*\*@127.0.0.1:\d+ refused the credentials") as e:
        tracking.check_uri(f"http://alice:wrong@127.0.0.1:{auth_server}")
    assert "wrong" not in str(e.value)
    with pytest.raises(TrackingError, match="refused the credentials"):
        tracking.check_uri(f"http://127.0.0.1:{auth_server}")


def test_a_user_without_a_password_is_refused_by_the_server_not_a_traceback(auth_server, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    with pytest.raises(TrackingError, match="refused the credentials"):
        tracking.check_uri(f"http://alice@127.0.0.1:{auth_server}")


def test_credentials_from_mlflow_environment_variables(auth_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cr%t")
    tracking.check_uri(f"http://127.0.0.1:{auth_server}")


class _Slow(http.server.BaseHTTPRequestHandler):
    """A server that takes 6 s to answer, as a basic-auth server on a busy machine does."""

    def do_GET(self):  # noqa: N802
        time.sleep(6)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *a):
        pass


def test_a_slow_server_is_waited_for_as_long_as_mlflow_waits(monkeypatch):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
        tracking.check_uri(f"http://127.0.0.1:{srv.server_address[1]}")  # within MLflow's default 30 s
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
        with pytest.raises(TrackingError, match=r"is not reachable \(timed out\)"):
            tracking.check_uri(f"http://127.0.0.1:{srv.server_address[1]}")
    finally:
        srv.shutdown()
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30s")
    with pytest.raises(TrackingError, match="MLFLOW_HTTP_REQUEST_TIMEOUT='30s' is not a number of seconds"):
        tracking.check_uri("http://127.0.0.1:9")


@pytest.mark.parametrize("make_uri, message", [
    (lambda d: str(d), "is a plain path: MLflow 3's file store no longer takes new runs"),
    (lambda d: "mlruns", "is a plain path"),
    (lambda d: d.as_uri(), "is a plain path"),
    (lambda d: f"sqlite:///{d}", "not an SQLite file in an existing folder"),
    (lambda d: f"sqlite:///{d}/missing/mlflow.db", "not an SQLite file in an existing folder"),
    (lambda d: "sqlite://", "not an SQLite file in an existing folder"),
])
def test_tracking_uris_that_cannot_work_are_refused(tmp_path, make_uri, message):
    with pytest.raises(TrackingError, match=message):
        tracking.check_uri(make_uri(tmp_path))
    assert not list(tmp_path.iterdir())  # nothing created on the way


def test_good_local_uris_pass(tmp_path):
    tracking.check_uri(f"sqlite:///{tmp_path}/mlflow.db")
    tracking.check_uri("postgresql://u:p@db:5432/mlflow")  # checked by the driver when used


def test_credentials_in_the_uri_move_to_mlflow_s_variables_and_out_of_the_uri(monkeypatch):
    """So that no URI MLflow prints ("View run at ...") or records carries the password."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://alice:s3cr%25t@127.0.0.1:5000")
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    assert tracking.tracking_uri() == "http://127.0.0.1:5000"
    import os

    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "alice" and os.environ["MLFLOW_TRACKING_PASSWORD"] == "s3cr%t"


def test_retry_waits_out_a_locked_store_and_tables_or_datasets_another_run_creates_and_nothing_else(monkeypatch):
    monkeypatch.setattr(tracking.time, "sleep", lambda s: None)
    errors = [RuntimeError("(sqlite3.OperationalError) database is locked"),
              RuntimeError("(sqlite3.OperationalError) table experiments already exists"),
              RuntimeError("(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, datasets.name")]
    calls = []

    def fn(x):
        calls.append(x)
        if errors:
            raise errors.pop(0)
        return 2 * x

    assert tracking._retry(fn, 21) == 42 and calls == [21, 21, 21, 21]
    errors.append(RuntimeError("experiment 'braingan' already exists"))  # not a table: a real error, raised at once
    with pytest.raises(RuntimeError, match="experiment 'braingan' already exists"):
        tracking._retry(fn, 1)


def test_a_run_a_dead_process_of_this_host_left_running_is_closed_killed_when_the_next_starts(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store = tracking.Run(enabled=True)
    exp, host = store.experiment_id(), socket.gethostname()
    stale = store.client.create_run(exp, tags={"braingan.host": host, "braingan.pid": str(dead.pid)})
    alive = store.client.create_run(exp, tags={"braingan.host": host, "braingan.pid": str(os.getpid())})
    tracking.Run(enabled=True).start("next", {}, {})
    assert store.client.get_run(stale.info.run_id).info.status == "KILLED"
    assert store.client.get_run(alive.info.run_id).info.status == "RUNNING"


def test_redact():
    assert tracking.redact("postgresql://u:p@db:5432/x") == "postgresql://***@db:5432/x"
    assert tracking.redact("sqlite:///a/b.db") == "sqlite:///a/b.db"
    assert tracking._param_str("https://u:p@h/x") == "https://***@h/x"


def test_queue_workspace_resolves_to_the_main_workspace(tmp_path, monkeypatch):
    (tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc" / ".dvc").mkdir(parents=True)
    assert repo_root(tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc") == tmp_path
    monkeypatch.chdir(tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_runs_are_named_after_their_dvc_experiment(monkeypatch):
    from braingan.config import Config

    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    assert tracking.run_name(Config()) == "resnet-per-task-wgan-gp-both"
    monkeypatch.setenv("DVC_EXP_NAME", "potty-jean")
    assert tracking.run_name(Config()) == "potty-jean"


def test_experiments_starting_together_on_a_new_sqlite_store_all_open_it(tmp_path):
    """`dvc queue start -j 2` on a fresh workspace: both `validate` stages create the store at
    once; without the lock one of them fails with "table ... already exists"."""
    go = tmp_path / "go"
    code = ("import os, sys, time\n"
            "from braingan import validation\n"
            "import mlflow.store.tracking.sqlalchemy_store\n"
            f"open({str(tmp_path)!r} + '/ready' + sys.argv[1], 'w').close()\n"
            f"while not os.path.exists({str(go)!r}): time.sleep(0.005)\n"
            "validation.open_store()\n")
    env = {**run_env(ROOT), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(i)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for i in range(4)]
    deadline = time.time() + 120
    while len(list(tmp_path.glob("ready*"))) < 4 and time.time() < deadline:  # all have imported mlflow
        time.sleep(0.05)
    go.touch()
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, "\n".join(o[-1500:] for o in outs)
    from mlflow.tracking import MlflowClient

    assert [e.name for e in MlflowClient(env["MLFLOW_TRACKING_URI"]).search_experiments()].count("braingan") == 1
