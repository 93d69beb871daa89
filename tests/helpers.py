"""Shared test helpers: tiny params, throw-away git + DVC repositories, running DVC."""
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
STAHL = Path(os.environ.get("BRAINGAN_STAHL", SHARED / "stahl-dataset.csv"))


def tiny_params(**overrides) -> dict:
    """Default params shrunk so the whole pipeline runs in about a minute on 2 cores."""
    from braingan.config import Config, override

    d = Config().to_dict()
    d["preprocess"].update(max_digits=600, max_len=40)
    d["model"].update(dim=8, blocks=1, z_dim=8)
    d["train"].update(steps=6, batch_size=8, n_critic=2, log_every=2, sample_every=3, checkpoint_every=3,
                      threads=int(os.environ.get("BRAINGAN_TEST_THREADS", 0)))  # 1 where tests run side by side
    d["classifier"].update(epochs=2)
    # reference_max at its floor: descriptors and ChemNet activations scale with the references,
    # and a tiny run checks that the metrics exist, not their precision
    d["evaluate"].update(n_samples=40, distribution_max=40, score_split=10, ref_draws=2, reference_max=100)
    return override(d, overrides)


def write_params(dest: Path, params: dict) -> None:
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def run_env(repo: Path | None = None) -> dict:
    """The environment of a pipeline run in a test: this interpreter's venv first on PATH,
    the copy's own sources importable, no tracking URI from outside, and a dead proxy so
    any network access fails loudly."""
    env = dict(os.environ)
    if repo is not None:
        env["PYTHONPATH"] = str(repo / "src")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.pop("MLFLOW_TRACKING_URI", None)
    env.update(HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
               http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9",
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost",
               PYTHONUNBUFFERED="1", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
               MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL="1",  # tiny runs last seconds: read the system every second
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    return env


def make_repo(dest: Path, params: dict, made: Path | None = None) -> Path:
    """A throw-away git + DVC repository holding a copy of the project's tracked files, and with
    `made` (see `made_data`) its data, classifier, cache and dvc.lock, all in the first commit."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout
    for rel in filter(None, files.split("\0")):
        src = ROOT / rel
        if src.is_file() and not rel.startswith(("results/", "dvc.lock")):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    if made is not None:
        for rel in ("dvc.lock", "data", "models", "results", ".dvc/cache"):
            (shutil.copytree if (made / rel).is_dir() else shutil.copy2)(made / rel, dest / rel)
    write_params(dest, params)
    env = run_env()
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "init"]):
        subprocess.run(cmd, cwd=dest, check=True, env=env)
    return dest


def made_data(dest: Path) -> Path:
    """A workspace after `dvc repro classifier` on tiny_params(), tracking off (no store): the
    fetched and preprocessed data and the classifier that most end-to-end tests only stand on.
    `make_repo(..., made=)` starts from it, and DVC skips those stages where the params of their
    sections are tiny_params()'s (other values re-run them, as for a user). Tests of the data
    stages themselves make their own."""
    r = make_repo(dest, tiny_params())
    dvc(r, "repro", "classifier", env={"BRAINGAN_TRACKING": "0"})
    assert not (r / "mlflow.db").exists() and (r / "models/classifier.pt").exists()
    return r


def dvc(repo: Path, *args, check=True, timeout=900, env: dict | None = None) -> subprocess.CompletedProcess:
    """`dvc ARGS` in `repo` (run_env, plus `env` on top, e.g. a tracking server's URI)."""
    p = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, env={**run_env(repo), **(env or {})},
                       capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed ({p.returncode}):\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
    return p


def queue_start(repo: Path, jobs: int, env: dict | None = None) -> None:
    """`dvc queue start -j JOBS`, returning once the workers are started. Not through dvc():
    the workers inherit the command's pipes, and reading captured pipes waits for the queue
    to empty."""
    subprocess.run([sys.executable, "-m", "dvc", "queue", "start", "-j", str(jobs)], cwd=repo,
                   env={**run_env(repo), **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, timeout=120)


def until_queue_empty(repo: Path, timeout: float = 900, only: str | None = None, env: dict | None = None) -> str:
    """Wait until no task (or the task named `only`) is queued or running; `dvc queue status`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = dvc(repo, "queue", "status", env=env).stdout
        lines = [x for x in status.splitlines() if only is None or f" {only} " in x]
        if not any(w in x for x in lines for w in ("Queued", "Running")):
            return status
        time.sleep(5)  # each `dvc queue status` costs most of a second of CPU that the queued runs need
    raise AssertionError(f"the queue did not empty in {timeout:.0f} s:\n{status}")


def tree(d: Path, skip: tuple[str, ...] = ()) -> dict:
    """sha256 of every file under d (paths starting with one of `skip` left out)."""
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*"))
            if p.is_file() and not str(p.relative_to(d)).startswith(skip)}


def mlflow_client(repo: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")


def mlflow_runs(repo: Path):
    c = mlflow_client(repo)
    exp = c.get_experiment_by_name("braingan")
    return c, c.search_runs([exp.experiment_id], max_results=1000)


def tiny_data(d: Path):
    """Fetched and preprocessed tiny data (tiny_params) under `d`, loaded: what the stages after
    preprocess read."""
    from braingan.config import from_dict
    from braingan.data import dataset, fetch, preprocess

    cfg = from_dict(tiny_params())
    fetch.run(cfg, d / "raw", d / "r_fetch")
    preprocess.run(cfg, d / "raw", d / "processed", d / "r_pre")
    return dataset.load(d / "processed")
