"""`braingan tune SPACE.yaml`: a search over params on Ray Tune, on this machine or on a Ray
cluster, that stops weak trials early (ASHA) on the quality probes.

    braingan tune benchmarks/search/phase_b.yaml --samples 8 --scheduler asha --budget-steps 6000
    braingan tune space.yaml --address 10.0.0.5:6379 --cpus-per-trial 2 --promote

SPACE.yaml maps the project's dotted param names to values or distributions:

    train.lr_g: {loguniform: [1e-4, 3e-3]}
    train.lr_d: {uniform: [5e-4, 5e-3]}
    preprocess.encoding: {choice: [selfies, deepsmiles]}
    model.dim: {grid: [32, 64]}        # every value, crossed with the samples of the rest
    train.n_critic: 1                  # fixed

Every value (each choice, each grid value, both ends of a range) is checked by the same
validation as params.yaml before anything starts; a bad space is one line and exit status 2.
Each trial is the project's own training (`training.run`) on params.yaml plus its overrides,
reading the workspace's classifier and preprocessed data (made once per node for each
preprocessing a trial asks for). It reports the probes to Tune at every probe step with a
checkpoint, so a preempted or failed trial resumes there, and is one MLflow run nested under
the search's run, tagged with the search name, its overrides and its Ray trial id. At the end
the best trial is printed as the `dvc exp run -S ...` that makes it a DVC experiment
(`--promote` runs it). The space, the trial and the cluster checks are kept in one file: each
is a few functions, and a reader follows a search from its command line to its trials here.
"""
from __future__ import annotations

import argparse
import collections
import fcntl
import itertools
import json
import os
import random
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from .config import ConfigError, from_dict, override, read_params, stable_hash
from .errors import BrainganError
from .fsutil import repo_root

DISTRIBUTIONS = ("choice", "grid", "uniform", "loguniform", "randint")
QUALITY = ("probe_digit_score_ratio", "probe_mol_kl_score")  # the default metric: their mean
GRID = "grid"  # the Tune config key of a trial's grid combination (no param is named so)


# ---------------------------------------------------------------- the space
def read_space(path: Path, params: dict) -> dict:
    """SPACE.yaml as {dotted name: value or {distribution: args}}, every value validated."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot be read as a search space ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{path}: expected a mapping of dotted param names to values or distributions")
    for name, spec in raw.items():
        where = f"{path}: {name}"
        if isinstance(spec, dict):
            if len(spec) != 1 or next(iter(spec)) not in DISTRIBUTIONS:
                raise ConfigError(f"{where}: {spec!r} is not a distribution; allowed: a value, or one of "
                                  + ", ".join(f"{{{d}: [...]}}" for d in DISTRIBUTIONS))
            kind, args = next(iter(spec.items()))
            if not isinstance(args, list) or not args:
                raise ConfigError(f"{where}: {kind} takes a non-empty list, got {args!r}")
            if kind in ("uniform", "loguniform", "randint"):
                if len(args) != 2 or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
                    raise ConfigError(f"{where}: {kind} takes [low, high], got {args!r}")
                if args[0] > args[1]:
                    raise ConfigError(f"{where}: {kind} low {args[0]} is above high {args[1]}")
                if kind == "loguniform" and args[0] <= 0:
                    raise ConfigError(f"{where}: loguniform needs low > 0, got {args[0]}")
            values = args
        else:
            values = [spec]
        for v in values:
            _check(params, name, v, where)
    return raw


def _check(params: dict, name: str, value, where: str) -> None:
    try:
        from_dict(override(json.loads(json.dumps(params)), {name: value}))
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def first_rung(steps: int) -> int:
    """ASHA's default first rung (grace period): a quarter of the budget."""
    return max(1, steps // 4)


def grid_order(space: dict, seed: int) -> list[dict]:
    """Every combination of the space's grid axes, once each, in the order trials start in: each
    next one the combination whose values have started least so far (summed over the axes), ties
    drawn from `seed`. Asynchronous ASHA compares a trial only with those that reached a rung
    before it, so the first arrivals go on whatever they score: in the file's order (or a plain
    shuffle's, by chance) they can all share one weak value, each of them then trained far."""
    axes = {name: s["grid"] for name, s in space.items() if isinstance(s, dict) and "grid" in s}
    left = [dict(zip(axes, values)) for values in itertools.product(*axes.values())] if axes else []
    random.Random(seed).shuffle(left)
    order, started = [], collections.Counter()
    while left:
        nxt = min(left, key=lambda c: sum(started[k, json.dumps(v)] for k, v in c.items()))  # first of the ties
        left.remove(nxt)
        order.append(nxt)
        started.update((k, json.dumps(v)) for k, v in nxt.items())
    return order


def to_ray(space: dict, seed: int = 0) -> dict:
    """The space as Ray Tune's param space: the grid axes as one grid of their combinations
    (`grid_order`) under GRID, the distributions as Tune's, fixed values as they are."""
    from ray import tune

    make = {"choice": tune.choice, "uniform": lambda a: tune.uniform(*a),
            "loguniform": lambda a: tune.loguniform(*a), "randint": lambda a: tune.randint(a[0], a[1] + 1)}
    out = {name: make[next(iter(s))](next(iter(s.values()))) if isinstance(s, dict) else s
           for name, s in space.items() if not (isinstance(s, dict) and "grid" in s)}
    combos = grid_order(space, seed)
    return {**out, GRID: tune.grid_search(combos)} if combos else out


def overrides_of(config: dict) -> dict:
    """A trial's param overrides: its Tune config, its grid combination spread out."""
    return {**{k: v for k, v in config.items() if k != GRID}, **config.get(GRID, {})}


def quality(values: dict, metric: str) -> float | None:
    """The number Tune ranks trials by: one probe, or (`quality`) the mean of the tasks' headline probes."""
    if metric != "quality":
        return values.get(metric)
    got = [values[k] for k in QUALITY if values.get(k) is not None]
    return sum(got) / len(got) if got else None


# ---------------------------------------------------------------- a trial, in a Ray worker
def processed_for(root: Path, cfg) -> Path:
    """The preprocessed data a trial's params need: the workspace's own, or (other `preprocess`
    or `seed` values) a copy made once per node from the workspace's data/raw, under a lock."""
    from . import paths
    from .data import dataset, preprocess

    meta = dataset.load(root / paths.PROCESSED).meta
    want = {**meta["params"], "preprocess": cfg.to_dict()["preprocess"]}
    if want == meta["params"] and cfg.seed == meta.get("seed"):
        return root / paths.PROCESSED
    out = root / "data" / "tune" / f"processed-{stable_hash({'p': want['preprocess'], 'seed': cfg.seed})}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "meta.json").exists():
            preprocess.run(cfg, root / paths.RAW, out, out / "results")
    return out


def trial(config: dict, ctx: dict) -> None:
    """One Tune trial: the project's training on `ctx`'s params + the trial's overrides (`config`)."""
    from ray import tune

    from . import classifier, paths, training
    from .data import dataset
    from .recorder.training import TrainingRecorder
    from .tracking import Run

    overrides = overrides_of(config)
    root = Path(ctx["root"])
    params = override(json.loads(json.dumps(ctx["params"])), {**overrides, **ctx["fixed"]})
    cfg = from_dict(params)
    data = dataset.load(processed_for(root, cfg))
    here = Path(tune.get_context().get_trial_dir())
    ckpt_dir = here / "checkpoints"
    restored = tune.get_checkpoint()
    if restored is not None:  # a retried or resumed trial: go on from what it last reported
        with restored.as_directory() as d:
            for f in Path(d).iterdir():
                (ckpt_dir / f.name).parent.mkdir(parents=True, exist_ok=True)
                (ckpt_dir / f.name).write_bytes(f.read_bytes())
    import ray

    tags = {"braingan.search": ctx["search"], "braingan.overrides": json.dumps(overrides, sort_keys=True),
            "mlflow.source.name": "braingan tune",
            "ray.trial_id": tune.get_context().get_trial_id(), "ray.node_id": ray.get_runtime_context().get_node_id(),
            "mlflow.parentRunId": ctx["parent"]}

    final = []

    class Reporter(TrainingRecorder):
        """The training recorder (files and MLflow) that also reports each probe step to Tune."""

        def checkpointed(self, step: int, history: list[dict]) -> None:
            super().checkpointed(step, history)
            row = next((r for r in reversed(history) if r["step"] == step), {"step": step})
            q = quality(row, ctx["metric"])
            metrics = {"step": step, **{k: v for k, v in row.items() if k != "step"}}
            if q is not None:
                metrics["quality"] = q
            if step == cfg.train.steps:  # reported once the run is closed: ASHA stops a trial at its last step
                final.append(metrics)
            else:
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(ckpt_dir)))

    with Reporter(out=here / "out", model_path=here / "generator.pt", run=Run(tags=tags), log_model=False) as rec:
        rec.finish(training.run(cfg, data, classifier.load(root / paths.CLASSIFIER), observer=rec, ckpt_dir=ckpt_dir))
    for metrics in final:
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(ckpt_dir)))


# ---------------------------------------------------------------- the driver
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="braingan tune", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("space", type=Path)
    ap.add_argument("--address", help="a Ray cluster's address (default: a Ray on this machine)")
    ap.add_argument("--samples", type=int, default=4, help="trials drawn from the space (grids multiply them)")
    ap.add_argument("--scheduler", choices=["asha", "fifo"], default="asha")
    ap.add_argument("--budget-steps", type=int, help="train.steps of every trial (default: params.yaml's)")
    ap.add_argument("--probe-every", type=int, help="steps between probes / reports (default: budget / 10)")
    ap.add_argument("--cpus-per-trial", type=int, default=1)
    ap.add_argument("--grace-steps", type=int, help="ASHA: steps every trial trains before it can be stopped "
                                                    "(default: a quarter of the budget; the probes of short runs "
                                                    "rank configurations by noise before their curves part)")
    ap.add_argument("--reduction-factor", type=int, default=4,
                    help="ASHA: 1 in this many trials goes on at each rung (default 4, as Ray's)")
    ap.add_argument("--metric", default="quality", help="what ranks trials: quality (the mean of the digit score "
                                                       "ratio and KL score probes) or a probe name")
    ap.add_argument("--order-seed", type=int, default=0,
                    help="breaks the ties of the order the grid's configurations start in (each next one the least "
                         "started values; asynchronous ASHA favours the first); the params' own seed is `seed`")
    ap.add_argument("--name", help="the search's name (default: the space file's name)")
    ap.add_argument("--max-failures", type=int, default=2, help="retries of a trial whose worker dies")
    ap.add_argument("--promote", action="store_true", help="run the best trial as a DVC experiment")
    a = ap.parse_args(argv)
    try:
        run_search(a)
    except BrainganError as e:
        print(f"braingan tune: error: {e}", file=sys.stderr)
        sys.exit(2)


def run_search(a) -> None:
    root = repo_root()
    params = read_params(root / "params.yaml")
    space = read_space(a.space, params)
    if a.samples < 1 or a.cpus_per_trial < 1 or any(x is not None and x < 1 for x in (a.budget_steps, a.grace_steps)):
        raise ConfigError("--samples, --cpus-per-trial, --budget-steps and --grace-steps must be at least 1")
    if a.reduction_factor < 2:
        raise ConfigError(f"--reduction-factor must be at least 2 (1 in N trials goes on), got {a.reduction_factor}")
    steps = a.budget_steps or from_dict(params).train.steps
    every = a.probe_every or max(1, steps // 10)
    a.grace_steps = a.grace_steps or first_rung(steps)
    fixed = {"train.steps": steps, "train.sample_every": every, "train.checkpoint_every": every,
             "train.threads": a.cpus_per_trial}
    for k, v in fixed.items():
        _check(params, k, v, f"--budget-steps / --probe-every / --cpus-per-trial ({k})")
    name = a.name or a.space.stem
    from . import paths

    if not (root / paths.CLASSIFIER).is_file() or not (root / paths.PROCESSED / "meta.json").is_file():
        raise ConfigError(f"{paths.CLASSIFIER} and {paths.PROCESSED} are needed (the trials' instrument and data): "
                          "run `dvc repro classifier` first")
    import ray

    from .tracking import Run, context_tags, redact, tracking_uri

    uri = tracking_uri()  # credentials, if any, now in MLFLOW_TRACKING_USERNAME / _PASSWORD
    store = {k: os.environ[k] for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD") if k in os.environ}
    ray.init(address=a.address, logging_level="ERROR", log_to_driver=False,
             runtime_env={"env_vars": {"MLFLOW_TRACKING_URI": uri, **store}})  # the trials log where this search does
    nodes = [n for n in ray.nodes() if n["Alive"]]
    if len(nodes) > 1 and uri.startswith("sqlite:"):
        raise ConfigError(f"the Ray cluster has {len(nodes)} nodes but the tracking store is a local SQLite file "
                          f"({redact(uri)}): trials on other machines cannot reach it. Start the team server "
                          "(braingan server) and set MLFLOW_TRACKING_URI=http://<server>:<port>")
    parent = Run(tags={"braingan.search": name})
    asha = {"grace_steps": a.grace_steps, "reduction_factor": a.reduction_factor} if a.scheduler == "asha" else {}
    parent.start(name=f"search-{name}", params={"space": json.dumps(space, sort_keys=True), "samples": a.samples,
                                                 "scheduler": a.scheduler, "order_seed": a.order_seed, **asha, **fixed},
                 tags={**context_tags(), "braingan.stage": "search", "mlflow.source.name": "braingan tune"})
    status = "FAILED"
    try:
        best = _fit(a, root, params, space, fixed, name, parent.run_id, steps)
        overrides = best["overrides"]
        parent.set_tags({"braingan.best_trial": best["trial_id"],
                         "braingan.best_overrides": json.dumps(overrides, sort_keys=True)})
        parent.log_metrics({f"best.{k}": v for k, v in best["metrics"].items()
                            if isinstance(v, (int, float)) and not isinstance(v, bool)}, flush=True)
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        _close_trials(name, steps)
        parent.end(status)
    cmd = ["dvc", "exp", "run", "-n", f"tune-{name}"] + [x for k, v in overrides.items() for x in ("-S", f"{k}={v}")]
    print(f"best trial {best['trial_id']} ({a.metric} {best['metrics'].get('quality', float('nan')):.3f} at step "
          f"{best['metrics'].get('step')}): {json.dumps(overrides, sort_keys=True)}")
    print("as a DVC experiment:  " + " ".join(shlex.quote(x) for x in cmd))
    print(f"the search's runs:    braingan compare --filter \"tags.braingan.search = '{name}'\"")
    if a.promote:
        subprocess.run(cmd, cwd=root, check=True)


def _fit(a, root: Path, params: dict, space: dict, fixed: dict, name: str, parent: str, steps: int) -> dict:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    ctx = {"root": str(root), "params": params, "fixed": fixed, "search": name, "parent": parent,
           "metric": a.metric}
    scheduler = (ASHAScheduler(time_attr="step", max_t=steps, grace_period=a.grace_steps,
                               reduction_factor=a.reduction_factor)
                 if a.scheduler == "asha" else FIFOScheduler())
    tuner = tune.Tuner(  # ctx through the object store, not the config: Tune prints and stores every config
        tune.with_resources(tune.with_parameters(trial, ctx=ctx), {"cpu": a.cpus_per_trial}),
        param_space=to_ray(space, a.order_seed),
        tune_config=tune.TuneConfig(metric="quality", mode="max", scheduler=scheduler, num_samples=a.samples,
                                    trial_dirname_creator=lambda t: f"trial_{t.trial_id}"),
        run_config=tune.RunConfig(name=name, storage_path=str(root / "data" / "tune" / "ray"),
                                  failure_config=tune.FailureConfig(max_failures=a.max_failures),
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=2), verbose=1),
    )
    grid = tuner.fit()
    done = [r for r in grid if r.metrics and r.metrics.get("step") == steps and r.metrics.get("quality") is not None]
    # the winner among the trials that trained the whole budget (ASHA's rungs stop the others early)
    best = max(done, key=lambda r: r.metrics["quality"]) if done else None
    if best is None:
        raise BrainganError(f"search {name}: no trial reported a quality at step {steps} (every trial failed or was "
                            f"stopped?); see data/tune/ray/{name}")
    overrides = overrides_of(best.config)
    return {"trial_id": best.metrics.get("trial_id", ""), "overrides": overrides, "metrics": best.metrics}


def _close_trials(name: str, steps: int) -> None:
    """Trials that Tune stopped early (ASHA) end as their worker is told to: KILLED, or still
    RUNNING where the worker went first. Tag every trial run of this search that did not reach
    the budget as stopped early, and close any still RUNNING as KILLED."""
    from mlflow.tracking import MlflowClient

    from .tracking import EXPERIMENT, tracking_uri

    client = MlflowClient(tracking_uri())
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is None:
        return
    for r in client.search_runs([exp.experiment_id], f"tags.`braingan.search` = '{name}'", max_results=1000):
        if "ray.trial_id" not in r.data.tags or r.info.status not in ("KILLED", "RUNNING"):
            continue
        reached = max((m.step for m in client.get_metric_history(r.info.run_id, "monitor.probe_s")), default=0)
        if reached < steps:
            client.set_tag(r.info.run_id, "braingan.stopped_early", "true")
        if r.info.status == "RUNNING":
            client.set_terminated(r.info.run_id, status="KILLED")


if __name__ == "__main__":
    main()
