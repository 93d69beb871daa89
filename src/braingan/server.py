"""Team mode: an MLflow tracking server on PostgreSQL with a served artifact store.

    python -m braingan.server --data ~/braingan-team            # local PostgreSQL cluster + server
    python -m braingan.server --backend postgresql://u:pw@db/mlflow --artifacts /shared/mlartifacts

With `--data`, a PostgreSQL cluster (Debian's `postgresql` package) is created there on
first use and started on 127.0.0.1; the server's artifacts go to `<data>/artifacts`.
Both listen on 127.0.0.1 unless `--host` says otherwise. Every machine of the team then
sets `MLFLOW_TRACKING_URI=http://<server>:<port>` and runs the pipeline as usual; the
artifacts travel through the server (`--serve-artifacts`), so clients need no shared disk.
The tests use `postgres_cluster` and `mlflow_server` to run a throw-away copy of this.
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from .tracking import redact

DB_USER, DB_NAME = "braingan", "mlflow"


class ServerError(RuntimeError):
    pass


def pg_bin(name: str) -> str | None:
    """A PostgreSQL server program: on PATH, or where Debian puts it (not on PATH there)."""
    found = shutil.which(name)
    if found:
        return found
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return hits[-1] if hits else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_pg_owner(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: there, run its programs as the `postgres` user."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _owner_uid() -> int | None:
    return pwd.getpwnam("postgres").pw_uid if os.geteuid() == 0 else None


def _run(cmd: list[str], what: str) -> None:
    p = subprocess.run(_as_pg_owner(cmd), capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise ServerError(f"{what} failed ({p.returncode}): {(p.stderr or p.stdout).strip()[-1500:]}")


def _wait(check, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise ServerError(f"{what} did not come up within {timeout:.0f} s\n{tail}")


def _pg_ready(port: int) -> bool:
    return subprocess.run([pg_bin("pg_isready") or "pg_isready", "-h", "127.0.0.1", "-p", str(port)],
                          capture_output=True).returncode == 0


@contextlib.contextmanager
def postgres_cluster(data: Path | None = None, port: int | None = None):
    """A PostgreSQL cluster on 127.0.0.1 with a `braingan` role and an `mlflow` database;
    yields its SQLAlchemy URI. `data=None`: a throw-away cluster, removed afterwards.
    Local connections are trusted, so bind it to loopback only."""
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        raise ServerError("PostgreSQL server programs (initdb, pg_ctl) not found; "
                          "install Debian's `postgresql` package (apt-get install postgresql)")
    throwaway = data is None
    # Not under pytest's 0700 tmp dirs: the postgres user must be able to reach it.
    base = Path(tempfile.mkdtemp(prefix="braingan-pg-")) if throwaway else Path(data).expanduser().resolve()
    base.mkdir(parents=True, exist_ok=True)
    uid = _owner_uid()
    if uid is not None:
        os.chown(base, uid, -1)
    pgdata, port = base / "pgdata", port or free_port()
    log = base / "postgres.log"
    try:
        if not (pgdata / "PG_VERSION").exists():
            _run([initdb, "-D", str(pgdata), "-U", DB_USER, "--auth=trust", "-E", "UTF8", "--no-instructions"],
                 "initdb")
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {base}"
        _run([pg_ctl, "-D", str(pgdata), "-l", str(log), "-o", opts, "-w", "-t", "60", "start"], "pg_ctl start")
        try:
            _wait(lambda: _pg_ready(port), 30, "PostgreSQL", log=log)
            createdb = pg_bin("createdb")
            p = subprocess.run([createdb, "-h", "127.0.0.1", "-p", str(port), "-U", DB_USER, DB_NAME],
                               capture_output=True, text=True)
            if p.returncode != 0 and "already exists" not in p.stderr:
                raise ServerError(f"createdb failed: {p.stderr.strip()}")
            yield f"postgresql://{DB_USER}@127.0.0.1:{port}/{DB_NAME}"
        finally:
            subprocess.run(_as_pg_owner([pg_ctl, "-D", str(pgdata), "-m", "fast", "-w", "stop"]),
                           capture_output=True, timeout=120)
    finally:
        if throwaway:
            shutil.rmtree(base, ignore_errors=True)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2):
            return True
    except Exception:  # noqa: BLE001
        return False


@contextlib.contextmanager
def mlflow_server(backend: str, artifacts: Path, host: str = "127.0.0.1", port: int | None = None,
                  log: Path | None = None):
    """`mlflow server` on `backend` with artifacts served from `artifacts`; yields its URL."""
    port = port or free_port()
    if "://" not in str(artifacts):  # a folder; object stores (s3://...) are passed through
        artifacts = Path(artifacts).expanduser().resolve()
        artifacts.mkdir(parents=True, exist_ok=True)
    log = log or Path(tempfile.mkdtemp(prefix="braingan-mlflow-")) / "server.log"
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend,
           "--artifacts-destination", str(artifacts), "--serve-artifacts",
           "--host", host, "--port", str(port), "--workers", "2"]
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}" if host in ("127.0.0.1", "0.0.0.0") else f"http://{host}:{port}"
    try:
        _wait(lambda: _healthy(url), 120, f"mlflow server ({redact(backend)})", proc=proc, log=log)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, help="folder for a local PostgreSQL cluster and the artifacts")
    src.add_argument("--backend", help="an existing database, e.g. postgresql://user:pw@host:5432/mlflow")
    ap.add_argument("--artifacts", help="artifact store folder (default <data>/artifacts)")
    ap.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1 only)")
    ap.add_argument("--port", type=int, default=5000)
    ap.add_argument("--pg-port", type=int, default=5433, help="port of the local cluster (with --data)")
    a = ap.parse_args(argv)
    if a.backend and not a.artifacts:
        ap.error("--backend needs --artifacts (a folder, or an s3://... URI the server can write)")
    try:
        with contextlib.ExitStack() as stack:
            backend = a.backend or stack.enter_context(postgres_cluster(a.data, a.pg_port))
            arts = a.artifacts or a.data / "artifacts"
            log = (a.data or Path(".")) / "mlflow-server.log"
            url = stack.enter_context(mlflow_server(backend, arts, a.host, a.port, log=log))
            print(f"MLflow tracking server on {url} (backend {redact(backend)}, artifacts {arts}, log {log}).\n"
                  f"On each machine: export MLFLOW_TRACKING_URI=http://<this host>:{a.port}   (Ctrl-C stops)",
                  flush=True)
            while True:
                time.sleep(3600)
    except ServerError as e:
        sys.exit(f"braingan server: error: {e}")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
