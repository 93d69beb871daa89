"""`braingan tune` on a real Ray: a bad space stops before anything starts; a local ASHA search
stops weak trials early and leaves every trial's MLflow run closed under the search's run; a
trial whose worker is killed resumes from its checkpoint; a two-node cluster under token
authentication runs trials on both nodes into one team store, and a node without the token
cannot join."""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from braingan.config import ConfigError
from braingan.tune import grid_order, overrides_of, quality, read_space
from conftest import unavailable
from helpers import dvc, make_repo, mlflow_runs, run_env, tiny_params

try:
    import ray  # noqa: F401
except ImportError:  # the core install stays lean: ray[tune] comes with the test (and tune) extras
    unavailable("ray[tune] is installed by `scripts/setup.sh --test`")


# ---------------------------------------------------------------- the space, before anything starts
def test_the_grid_starts_each_next_trial_on_the_values_started_least_ties_drawn_from_the_seed():
    space = {"train.lr_g": {"grid": [0.0004, 0.0008]}, "train.n_critic": 1,
             "preprocess.encoding": {"grid": ["selfies", "smiles", "deepsmiles"]}}
    orders = {seed: grid_order(space, seed) for seed in range(12)}
    for order in orders.values():
        assert sorted(map(str, order)) == sorted(str({"train.lr_g": g, "preprocess.encoding": e})
                                                 for g in (0.0004, 0.0008) for e in ("selfies", "smiles", "deepsmiles"))
        # the second shares no value with the first (0 started values against 1 for every other)
        assert all(order[1][k] != order[0][k] for k in order[0])
        # the third: an unstarted encoding (counts 0 + 1 = 1) before a started one (1 + 1 = 2)
        assert order[2]["preprocess.encoding"] not in {order[0]["preprocess.encoding"], order[1]["preprocess.encoding"]}
        # both learning rates among the first two, three of each in all: never a block of one first
        assert [o["train.lr_g"] for o in order[:4]].count(0.0004) == 2
    assert grid_order(space, 3) == orders[3] and len({str(o) for o in orders.values()}) > 1
    assert grid_order({"train.n_critic": 1, "train.lr_g": {"loguniform": [1e-4, 1e-3]}}, 0) == []


def test_a_trials_overrides_spread_its_grid_combination_beside_its_other_values():
    config = {"grid": {"preprocess.encoding": "smiles", "train.lr_d": 0.0024}, "train.lr_g": 0.0003,
              "train.n_critic": 1}
    assert overrides_of(config) == {"train.lr_g": 0.0003, "train.n_critic": 1, "preprocess.encoding": "smiles",
                                    "train.lr_d": 0.0024}
    assert overrides_of({"train.lr_g": 0.0003}) == {"train.lr_g": 0.0003}


@pytest.mark.parametrize("space, message", [
    ({"train.lr_gg": {"loguniform": [1e-4, 1e-3]}}, "unknown key train.lr_gg; allowed keys here:"),
    ({"preprocess.encoding": {"choice": ["selfies", "inchi"]}}, "preprocess.encoding: 'inchi' is not allowed"),
    ({"train.lr_g": {"uniform": [3e-3, 1e-4]}}, "train.lr_g: uniform low 0.003 is above high 0.0001"),
    ({"train.lr_g": {"loguniform": [0, 1e-3]}}, "loguniform needs low > 0"),
    ({"train.n_critic": {"normal": [1, 2]}}, "is not a distribution; allowed: a value, or one of {choice"),
    ({"train.batch_size": {"grid": [32, 1]}}, "train.batch_size: 1 is too small"),
])
def test_a_bad_space_is_one_clear_error(tmp_path, space, message):
    f = tmp_path / "space.yaml"
    f.write_text(yaml.safe_dump(space))
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("(", r"\(")):
        read_space(f, yaml.safe_load((Path(__file__).parents[1] / "params.yaml").read_text()))


@pytest.mark.parametrize("space", sorted((Path(__file__).parents[1] / "benchmarks" / "search").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_every_shipped_search_space_is_valid_against_the_params(space):
    params = yaml.safe_load((Path(__file__).parents[1] / "params.yaml").read_text())
    assert read_space(space, params)


def test_the_default_metric_is_the_mean_of_the_trained_tasks_headline_probes():
    assert quality({"probe_digit_score_ratio": 0.8, "probe_mol_kl_score": 0.6}, "quality") == pytest.approx(0.7)
    assert quality({"probe_mol_kl_score": 0.6}, "quality") == 0.6  # one task trained
    assert quality({"probe_mol_valid": 0.9}, "probe_mol_valid") == 0.9 and quality({}, "quality") is None


def _tune(repo, *args, env=None, timeout=900, check=True):
    p = subprocess.run([sys.executable, "-m", "braingan.cli", "tune", *args], cwd=repo,
                       env={**run_env(repo), **(env or {})}, capture_output=True, text=True, timeout=timeout)
    if check:
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-5000:]
    return p


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, made):
    """A project copy whose classifier and preprocessed data the trials read."""
    return make_repo(tmp_path_factory.mktemp("tune"), tiny_params(), made)


@pytest.mark.e2e
@pytest.mark.parametrize("space, options, message", [
    ("train.lr_g: {uniform: [0.003, 0.0001]}", [], "bad.yaml: train.lr_g: uniform low 0.003 is above high 0.0001"),
    ("train.lr_g: 0.001", ["--reduction-factor", "1"], "--reduction-factor must be at least 2 (1 in N trials goes on), got 1"),
    ("train.lr_g: 0.001", ["--grace-steps", "0"],
     "--samples, --cpus-per-trial, --budget-steps and --grace-steps must be at least 1"),
], ids=["space", "reduction-factor", "grace-steps"])
def test_a_bad_space_or_option_through_the_command_exits_2_and_starts_nothing(workspace, space, options, message):
    (workspace / "bad.yaml").write_text(space + "\n")
    before = sorted(p.name for p in workspace.iterdir())
    p = _tune(workspace, "bad.yaml", *options, check=False)
    assert p.returncode == 2 and p.stderr.strip().splitlines() == [f"braingan tune: error: {message}"], p.stderr
    assert sorted(p.name for p in workspace.iterdir()) == before  # no store, no Ray session, no data/tune
    assert not (workspace / "data" / "tune").exists()


SPACE = {"train.lr_g": {"grid": [0.0001, 0.0004, 0.0016, 0.0064]}, "train.n_critic": 1}


@pytest.mark.e2e
def test_a_local_asha_search_stops_weak_trials_and_closes_every_run(workspace):
    (workspace / "space.yaml").write_text(yaml.safe_dump(SPACE))
    p = _tune(workspace, "space.yaml", "--samples", "1", "--scheduler", "asha", "--budget-steps", "40",
              "--probe-every", "5", "--name", "local")
    (cmd,) = [line for line in p.stdout.splitlines() if line.startswith("as a DVC experiment:  ")]
    assert cmd.startswith("as a DVC experiment:  dvc exp run -n tune-local -S ") and " -S train.lr_g=" in cmd
    assert " -S train.n_critic=1" in cmd
    assert "'fetch': {" not in p.stdout + p.stderr  # Tune prints each config: params.yaml is not in one
    c, runs = mlflow_runs(workspace)
    mine = [r for r in runs if r.data.tags.get("braingan.search") == "local"]
    (parent,) = [r for r in mine if r.data.tags.get("braingan.stage") == "search"]
    trials = [r for r in mine if r is not parent]
    assert len(trials) == 4 and parent.info.status == "FINISHED"
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in trials)
    steps = {r.info.run_id: [m.step for m in c.get_metric_history(r.info.run_id, "monitor.probe_s")] for r in trials}
    assert all(s and s[0] == 5 for s in steps.values())  # every trial's probe curve from its first probe
    stopped = [r for r in trials if max(steps[r.info.run_id]) < 40]
    assert stopped and all(r.data.tags.get("braingan.stopped_early") == "true" for r in stopped), steps
    assert all(max(steps[r.info.run_id]) == 10 for r in stopped)  # at the first rung: a quarter of the budget
    # stopped trials are KILLED; those that trained the budget FINISHED (ASHA's stop at max_t comes after the run ends)
    assert {r.info.run_id: r.info.status for r in trials} == {
        r.info.run_id: "KILLED" if r in stopped else "FINISHED" for r in trials}
    assert (parent.data.params["grace_steps"], parent.data.params["reduction_factor"]) == ("10", "4")
    assert {r.data.params["train.lr_g"] for r in trials} == {"0.0001", "0.0004", "0.0016", "0.0064"}
    # Tune numbers the trials in the order it creates them: grid_order's, not the file's
    started = sorted(trials, key=lambda r: r.data.tags["ray.trial_id"])
    assert [float(r.data.params["train.lr_g"]) for r in started] == [c["train.lr_g"] for c in grid_order(SPACE, 0)]
    best = parent.data.tags["braingan.best_trial"]
    assert best in {r.data.tags["ray.trial_id"] for r in trials}
    assert all(json.loads(r.data.tags["braingan.overrides"])["train.lr_g"] == float(r.data.params["train.lr_g"])
               for r in trials)
    p = subprocess.run([sys.executable, "-m", "braingan.cli", "compare", "--filter",
                        "tags.braingan.search = 'local'"], cwd=workspace, env=run_env(workspace),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.count("| ") > 4 and "search-local" not in p.stdout, p.stdout + p.stderr
    # the benchmarks that read a search back from the store: each trial's curve, named by its lr_g
    (workspace / "ttq.json").write_text(json.dumps({"threshold_source": "made up", "thresholds": {
        "probe_digit_score_ratio": 2.0, "probe_mol_kl_score": 2.0}}))
    p = subprocess.run([sys.executable, "benchmarks/probe_curves.py", "local", "--thresholds", "ttq.json",
                        "--every", "5"], cwd=workspace, env=run_env(workspace), capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = p.stdout.splitlines()
    assert lines[2].count("`train.lr_g=") == 8  # two probes of each of the four trials
    assert [line.split(" |")[0] for line in lines if line.startswith("| ") and line[2].isdigit()] == [
        "| 5", "| 10", "| 15", "| 20", "| 25", "| 30", "| 35", "| 40"]
    assert sum("at no step of its run" in line for line in lines) == 4
    p = subprocess.run([sys.executable, "-c", "import json, sys; sys.path.insert(0, 'benchmarks'); "
                        "from tune_asha import trials; print(json.dumps(trials('local')))"], cwd=workspace,
                       env=run_env(workspace), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    assert sorted((json.loads(t["overrides"])["train.lr_g"], t["steps"], t["status"]) for t in json.loads(p.stdout)) \
        == sorted((float(r.data.params["train.lr_g"]), max(steps[r.info.run_id]), r.info.status) for r in trials)


@pytest.mark.e2e
def test_a_trial_whose_worker_is_killed_resumes_from_its_checkpoint(workspace):
    (workspace / "one.yaml").write_text(yaml.safe_dump({"train.lr_g": 0.0004}))
    p = subprocess.Popen([sys.executable, "-m", "braingan.cli", "tune", "one.yaml", "--samples", "1",
                          "--scheduler", "fifo", "--budget-steps", "1500", "--probe-every", "50", "--name", "killed"],
                         cwd=workspace, env=run_env(workspace), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    pid, deadline = None, time.time() + 600
    while pid is None and time.time() < deadline and p.poll() is None:
        time.sleep(1)
        try:
            _, runs = mlflow_runs(workspace)
        except Exception:  # noqa: BLE001 - the store is being created
            continue
        trial = [r for r in runs if r.data.tags.get("braingan.search") == "killed" and "ray.trial_id" in r.data.tags]
        if trial and list((workspace / "data/tune/ray/killed").rglob("checkpoint_*/ckpt-*.pt")):
            pid = int(trial[0].data.tags["braingan.pid"])
    assert pid, "no trial reported a checkpoint"
    os.kill(pid, signal.SIGKILL)  # the trial's worker process dies mid-run
    out, _ = p.communicate(timeout=900)
    assert p.returncode == 0, out[-5000:]
    c, runs = mlflow_runs(workspace)
    mine = [r for r in runs if r.data.tags.get("braingan.search") == "killed"]
    assert not [r for r in mine if r.info.status == "RUNNING"]
    (trial,) = [r for r in mine if "ray.trial_id" in r.data.tags]
    assert trial.info.status == "FINISHED" and trial.data.tags.get("braingan.resumed") == "true"
    assert trial.data.metrics["train.resumed_from"] >= 50 and trial.data.metrics["train.steps"] == 1500
    probe_steps = [m.step for m in c.get_metric_history(trial.info.run_id, "monitor.probe_s")]
    assert max(probe_steps) == 1500 and len(probe_steps) == len(set(probe_steps))  # each probe step once


# ---------------------------------------------------------------- a two-node cluster
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray(*args, env, check=True):
    exe = shutil.which("ray", path=os.path.dirname(sys.executable)) or "ray"
    p = subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


@pytest.fixture
def cluster():
    """A head node and a worker node on this machine, one CPU each, under token authentication."""
    import tempfile

    token = secrets.token_hex(16)
    port = _free_port()
    env = {**run_env(), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0"}
    temp = tempfile.mkdtemp(prefix="rt-", dir="/tmp")  # short: Ray's sockets live there (107 bytes at most)
    head = ["start", "--head", "--num-cpus", "1", "--port", str(port), "--node-ip-address", "127.0.0.1",
            "--include-dashboard", "false", "--temp-dir", temp]
    try:
        _ray(*head, env=env)
        _ray("start", "--address", f"127.0.0.1:{port}", "--num-cpus", "1", "--node-ip-address", "127.0.0.1", env=env)
        yield {"address": f"127.0.0.1:{port}", "token": token, "env": env}
    finally:
        _ray("stop", "--force", env=env, check=False)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.e2e
def test_a_two_node_cluster_runs_trials_on_both_nodes_into_one_team_store(workspace, cluster, team_server):
    from mlflow.tracking import MlflowClient

    (workspace / "two.yaml").write_text(yaml.safe_dump({"train.lr_g": {"grid": [0.0002, 0.0004, 0.0008, 0.0016]}}))
    env = {"MLFLOW_TRACKING_URI": team_server["url"], **{k: cluster["env"][k] for k in ("RAY_AUTH_MODE",
                                                                                      "RAY_AUTH_TOKEN")}}
    p = _tune(workspace, "two.yaml", "--address", cluster["address"], "--samples", "1", "--scheduler", "fifo",
              "--budget-steps", "10",
              "--probe-every", "5", "--name", "two-nodes", env=env)
    c = MlflowClient(team_server["url"])
    exp = c.get_experiment_by_name("braingan")
    runs = c.search_runs([exp.experiment_id], "tags.`braingan.search` = 'two-nodes'", max_results=100)
    trials = [r for r in runs if "ray.trial_id" in r.data.tags]
    assert len(trials) == 4 and {r.info.status for r in trials} == {"FINISHED"}
    assert len({r.data.tags["ray.node_id"] for r in trials}) == 2  # trials landed on both nodes
    token = cluster["token"]
    assert token not in p.stdout + p.stderr
    for r in runs:  # the token is in no param, tag or metric name
        assert token not in json.dumps({**r.data.params, **r.data.tags, **r.data.metrics})
    for f in (workspace / "data" / "tune").rglob("*"):
        if f.is_file() and f.stat().st_size < 5_000_000:
            assert token.encode() not in f.read_bytes(), f
    # a node without the token is refused
    stranger = {k: v for k, v in cluster["env"].items() if k != "RAY_AUTH_TOKEN"}
    p = _ray("start", "--address", cluster["address"], "--num-cpus", "1", "--node-ip-address", "127.0.0.1",
             env={**stranger, "RAY_AUTH_TOKEN": "not-the-token"}, check=False)
    assert p.returncode != 0 and ("InvalidAuthToken" in p.stdout + p.stderr or
                                  "authentication" in (p.stdout + p.stderr).lower()), p.stdout + p.stderr
    nodes = json.loads(subprocess.run(
        [sys.executable, "-c", "import ray, json; ray.init(address='%s', logging_level='ERROR'); "
                               "print(json.dumps([n['Alive'] for n in ray.nodes()]))" % cluster["address"]],
        env=cluster["env"], capture_output=True, text=True, timeout=300).stdout.strip().splitlines()[-1])
    assert nodes.count(True) == 2  # still only the two nodes that hold the token
