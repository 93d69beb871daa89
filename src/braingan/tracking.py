"""MLflow tracking: one run per trained model, in the store at the workspace root.

- The default store is `sqlite:///<root>/mlflow.db`, where <root> is the user's workspace
  even inside a `dvc queue` temporary workspace; `MLFLOW_TRACKING_URI` overrides it.
- Everything goes through MlflowClient with explicit run ids (no global active run), so
  the training run can be resumed after an interruption and `evaluate` can add to it.
- SQLite writes retry on "database is locked" so concurrent queued runs lose nothing.
- Credentials in a tracking URI are never printed or logged: they travel as MLflow's
  MLFLOW_TRACKING_USERNAME / _PASSWORD (see `tracking_uri`).
One module because these rules hold for every writer (training, evaluation, search): split,
each writer would need to repeat them.
"""
from __future__ import annotations

import base64
import io
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from .errors import DataError, TrackingError
from .fsutil import repo_root

EXPERIMENT = os.environ.get("BRAINGAN_EXPERIMENT", "braingan")
# MLflow 3 reads this experiment tag to show the classic runs table (not the GenAI views)
EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development",
                   "mlflow.note.content": "BrainGAN: one generator for MNIST digits and SMILES molecules. "
                                          "Training runs are named after their DVC experiment; each has "
                                          "its evaluations as child runs."}


def tracking_uri() -> str:
    """The store's URI without credentials: `http://user:pass@host` becomes `http://host` with
    the user and password in MLFLOW_TRACKING_USERNAME / _PASSWORD, which MLflow sends as basic
    auth, so no URI that MLflow prints or records carries a password."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{repo_root() / 'mlflow.db'}"
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme in ("http", "https") and "@" in parts.netloc:
        os.environ["MLFLOW_TRACKING_USERNAME"] = urllib.parse.unquote(parts.username or "")
        os.environ["MLFLOW_TRACKING_PASSWORD"] = urllib.parse.unquote(parts.password or "")
        uri = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return uri


def describe(cfg) -> str:
    """What was trained, in a few words (the run's name outside `dvc exp run`)."""
    return f"{cfg.model.family}-{cfg.model.activation}-{cfg.train.loss}-{cfg.train.tasks}"


def run_name(cfg) -> str:
    """Inside `dvc exp run`: the DVC experiment's name, so `dvc exp show` and MLflow agree."""
    return os.environ.get("DVC_EXP_NAME") or describe(cfg)


def redact(uri: str) -> str:
    """`scheme://user:pass@host` -> `scheme://***@host`."""
    parts = urllib.parse.urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urllib.parse.urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def check_uri(uri: str) -> None:
    """Fail early, with a clear message, on a tracking URI that cannot work: a server that
    does not answer (or refuses the credentials), a plain path (MLflow 3's file store takes
    no new runs), an SQLite file whose folder is missing or is a folder. A server is given
    as long as MLflow gives its own requests (`MLFLOW_HTTP_REQUEST_TIMEOUT`, default 30 s):
    a basic-auth server hashes the password on every request, and on a busy machine that
    outlasts a few seconds; a refused connection fails at once whatever the timeout."""
    parts = urllib.parse.urlsplit(uri)
    fix = "Fix MLFLOW_TRACKING_URI, or unset it to use the local SQLite store."
    if parts.scheme in ("http", "https"):
        _check_server(uri, parts, fix)
    elif parts.scheme == "sqlite":
        db = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
        if db is None or not str(db) or db.is_dir() or not db.parent.is_dir():
            raise TrackingError(f"MLFLOW_TRACKING_URI {uri!r}: not an SQLite file in an existing folder "
                                f"(expected sqlite:///<folder>/mlflow.db). {fix}")
    elif parts.scheme in ("", "file") or len(parts.scheme) == 1:  # a plain path (or a drive letter)
        raise TrackingError(f"MLFLOW_TRACKING_URI {redact(uri)!r} is a plain path: MLflow 3's file store no longer "
                            f"takes new runs; use sqlite:///<folder>/mlflow.db or a server URL. {fix}")


def _check_server(uri: str, parts, fix: str) -> None:
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    try:
        timeout = float(os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"])
    except ValueError:
        raise TrackingError(f"MLFLOW_HTTP_REQUEST_TIMEOUT={os.environ['MLFLOW_HTTP_REQUEST_TIMEOUT']!r} "
                            "is not a number of seconds (e.g. 30).") from None
    # urllib does not send the user:password of a URL; MLflow does (as basic auth), so must we
    user = urllib.parse.unquote(parts.username or os.environ.get("MLFLOW_TRACKING_USERNAME", ""))
    password = urllib.parse.unquote(parts.password or os.environ.get("MLFLOW_TRACKING_PASSWORD", ""))
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    # an endpoint that needs the credentials where the server asks for them (`/health` never does);
    # an experiment that does not exist yet answers 404 to an authorised client
    query = urllib.parse.urlencode({"experiment_name": EXPERIMENT})
    base = urllib.parse.urlunsplit(parts._replace(netloc=netloc, query="", fragment="")).rstrip("/")
    req = urllib.request.Request(f"{base}/api/2.0/mlflow/experiments/get-by-name?{query}")
    if user:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=timeout):
            pass
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return
        what = "refused the credentials" if e.code in (401, 403) else f"answered HTTP {e.code}"
        raise TrackingError(f"MLflow tracking server {redact(uri)} {what}. {fix}") from None
    except Exception as e:  # noqa: BLE001 - any failure means the same to the user
        raise TrackingError(f"MLflow tracking server {redact(uri)} is not reachable ({getattr(e, 'reason', e)}). "
                            f"Start it, or {fix[0].lower()}{fix[1:]}") from None


def _retry(fn, *args, tries: int = 30, **kwargs):
    """Retry SQLite "database is locked" (another queued run is writing) with backoff,
    "table ... already exists" (two runs creating a new store's tables at once) and a dataset
    another run inserted at the same moment (two trials logging the same data: the retry links it)."""
    for i in range(tries):
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001
            text = str(e).lower()
            again = "locked" in text or ("table" in text and "already exists" in text) or (
                "unique constraint failed: datasets." in text)
            if not again or i == tries - 1:
                raise
            time.sleep(min(2.0, 0.05 * 2**i))


def git_commit(cwd=None) -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except Exception:  # noqa: BLE001
        return ""


def context_tags() -> dict:
    """Where a run comes from: MLflow's source tags (the runs table's Source column: the entry
    point and the git commit), and inside `dvc exp run` the experiment name."""
    commit = git_commit()
    entry = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    try:
        source = entry.relative_to(repo_root()).as_posix() if entry else "python"
    except ValueError:
        source = entry.name
    tags = {"mlflow.source.name": source, "mlflow.source.type": "LOCAL", "mlflow.source.git.commit": commit,
            "git.commit": commit}
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc.exp_name"] = os.environ["DVC_EXP_NAME"]
    return tags


class Run:
    """A handle on one MLflow run; all writes batched and retried."""

    def __init__(self, run_id: str | None = None, *, enabled: bool | None = None, tags: dict | None = None):
        # BRAINGAN_TRACKING=0 turns tracking off (used to measure its overhead)
        self.enabled = os.environ.get("BRAINGAN_TRACKING", "1") != "0" if enabled is None else enabled
        self.run_id = run_id
        self.extra_tags = dict(tags or {})  # added to every run this handle starts (e.g. a search's name)
        self.uri = tracking_uri()
        self._pending: list = []
        self._client = None
        if self.enabled:
            check_uri(self.uri)

    @property
    def client(self):
        """Made on first use: opening a SQLite store creates the file, and a stage that stops
        on bad input before logging anything must leave nothing behind."""
        if self._client is None:
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(self.uri)
        return self._client

    # ------------------------------------------------------------ lifecycle
    def experiment_id(self) -> str:
        exp = _retry(self.client.get_experiment_by_name, EXPERIMENT)
        if exp is not None:
            return exp.experiment_id
        loc = None
        if self.uri.startswith("sqlite:"):
            loc = (Path(self.uri.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri()
        try:
            return _retry(self.client.create_experiment, EXPERIMENT, artifact_location=loc, tags=EXPERIMENT_TAGS)
        except Exception:  # noqa: BLE001 - another queued run created it first
            return _retry(self.client.get_experiment_by_name, EXPERIMENT).experiment_id

    def start(self, name: str, params: dict, tags: dict, parent: str | None = None) -> "Run":
        """Resume `self.run_id` if it exists in the store, else create a new run."""
        if not self.enabled:
            return self
        exp = self.experiment_id()
        self._close_stale(exp)
        tags = {**tags, **self.extra_tags, "braingan.host": socket.gethostname(), "braingan.pid": str(os.getpid())}
        if parent:
            tags["mlflow.parentRunId"] = parent
        if self.run_id and self._exists(self.run_id):
            _retry(self.client.update_run, self.run_id, status="RUNNING")
            self.set_tags({**tags, "braingan.resumed": "true"})
            return self
        run = _retry(self.client.create_run, exp, run_name=name, tags={k: str(v) for k, v in tags.items()})
        self.run_id = run.info.run_id
        self.log_params(params)
        return self

    def _exists(self, run_id: str) -> bool:
        try:
            _retry(self.client.get_run, run_id)
            return True
        except Exception:  # noqa: BLE001
            return False

    def _close_stale(self, exp: str) -> None:
        """Runs of this host left RUNNING by a SIGKILLed process are marked KILLED."""
        host = socket.gethostname()
        runs = _retry(self.client.search_runs, [exp], filter_string=f"attributes.status = 'RUNNING' and tags.`braingan.host` = '{host}'", max_results=200)
        for r in runs:
            pid = int(r.data.tags.get("braingan.pid", "0") or 0)
            if pid and not _alive(pid):
                _retry(self.client.set_terminated, r.info.run_id, status="KILLED")

    def describe(self) -> dict:
        """Where this run lives (results/train/mlflow.json); credentials redacted."""
        return {"run_id": self.run_id, "experiment": EXPERIMENT, "tracking_uri": redact(self.uri)}

    def end(self, status: str = "FINISHED") -> None:
        if self.enabled and self.run_id:
            self.flush()
            _retry(self.client.set_terminated, self.run_id, status=status)

    # ------------------------------------------------------------ writes
    def log_params(self, params: dict) -> None:
        if not self.enabled:
            return
        from mlflow.entities import Param

        items = [Param(k, _param_str(v)) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow's batch limit for params
            _retry(self.client.log_batch, self.run_id, params=items[i : i + 100])

    def set_tags(self, tags: dict) -> None:
        if self.enabled:
            from mlflow.entities import RunTag

            _retry(self.client.log_batch, self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_metrics(self, metrics: dict, step: int = 0, flush: bool = False, model_id: str | None = None) -> None:
        """Buffered: one request per ~500 values, not one per value. With `model_id`, the values
        are also the metrics of that LoggedModel (the UI's models view)."""
        if not self.enabled:
            return
        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        self._pending += [Metric(k, float(v), ts, step, model_id=model_id) for k, v in metrics.items()]
        if flush or len(self._pending) >= 500:
            self.flush()

    def flush(self) -> None:
        while self.enabled and self._pending:
            chunk, self._pending = self._pending[:1000], self._pending[1000:]
            _retry(self.client.log_batch, self.run_id, metrics=chunk)

    def log_image(self, png: bytes, key: str, step: int) -> None:
        """A PNG as an MLflow image with a step (the UI shows it over time)."""
        if not self.enabled:
            return
        from PIL import Image

        _retry(self.client.log_image, self.run_id, Image.open(io.BytesIO(png)).convert("RGB"), key=key, step=step)

    def log_text(self, text: str, artifact_file: str) -> None:
        if self.enabled:
            _retry(self.client.log_text, self.run_id, text, artifact_file)

    def log_with(self, fn, *args):
        """fn(tracking URI, run id, *args) for this run, with the store's retries; its result."""
        if self.enabled:
            self.flush()
            return _retry(fn, self.uri, self.run_id, *args)
        return None

    def log_artifact(self, path, artifact_path: str | None = None) -> None:
        if self.enabled and Path(path).exists():
            _retry(self.client.log_artifact, self.run_id, str(path), artifact_path)

    def system_metrics(self, resume: bool = False, interval: float = 10.0):
        """MLflow's CPU, memory, disk and network readings of this run (`system/...`), every
        `interval` seconds, from a background thread; returns it (call .finish())."""
        if not self.enabled:
            return None
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        monitor = SystemMetricsMonitor(self.run_id, sampling_interval=interval, resume_logging=resume,
                                       tracking_uri=self.uri)
        monitor.start()
        return monitor


def training_run_of(exp: str, uri: str | None = None) -> str:
    """The newest training run (not an evaluation) of a DVC experiment."""
    from mlflow.tracking import MlflowClient

    uri = uri or tracking_uri()
    client = MlflowClient(uri)
    e = client.get_experiment_by_name(EXPERIMENT)
    runs = [] if e is None else client.search_runs(
        [e.experiment_id], filter_string=f"tags.`dvc.exp_name` = '{exp}'", order_by=["attributes.start_time DESC"])
    runs = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    if not runs:
        raise DataError(f"no training run of the DVC experiment {exp!r} in the MLflow store {redact(uri)}")
    return runs[0].info.run_id


def download_artifact(run_id: str, artifact: str, dest: str) -> str:
    """A run's artifact, downloaded into `dest`; a clear error if there is no such run or file."""
    from mlflow.tracking import MlflowClient

    try:
        return MlflowClient(tracking_uri()).download_artifacts(run_id, artifact, dest)
    except Exception as e:  # noqa: BLE001 - no such run, no such artifact
        raise DataError(f"cannot get {artifact} of MLflow run {run_id!r} ({str(e).splitlines()[0][:160]})") from None


def _param_str(v) -> str:
    s = str(v)
    return redact(s) if "://" in s else s


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
