"""ASHA against the full grid on the same space: does early stopping find a configuration as
good as the best full-length trial, for a fraction of the CPU time? Prints numbers; asserts
nothing. Runs `braingan tune` in this workspace (after `dvc repro classifier`): the full grid,
then one ASHA search per --grace-steps value; --grid / --asha table earlier searches instead:

    python benchmarks/tune_asha.py benchmarks/search/phase_b.yaml --budget-steps 2400 [--grace-steps 240 600] \
        [--doc docs/results.md]
    python benchmarks/tune_asha.py benchmarks/search/phase_b.yaml --budget-steps 6000 --probe-every 240 \
        --grid grid-20261207-1110 --grace-steps 240 --replay-grace 240 480 720 960 1500  # docs/results.md's search,
    python benchmarks/tune_asha.py benchmarks/search/phase_b.yaml --budget-steps 6000 --probe-every 240 \
        --grid grid-20261207-1110 --asha asha-20261207-1434-g240 --replay-grace 240 480 720 960 1500 \
        --doc docs/results.md  # then its table
    python benchmarks/tune_asha.py ... --seeds seeds-20261207-1750  # and judge "within the noise" by seed

CPU time of a search = the sum over its trials of (last probe's time - start) x CPUs per
trial, from the trials' MLflow runs; "at its step times", the steps each trial trained priced at
its configuration's time per step in the grid (this machine's speed varies by about 20 % from run
to run, and the grid and a search are two runs).

"Within the noise": the ASHA winner's full-length quality (read from the grid's run of the same
configuration) is at most the noise below the best. The noise is the best trial's spread over its
last three probes; with --seeds (searches of the best configurations on more seeds, e.g.
benchmarks/search/phase_b_seeds.yaml) it is the best configuration's standard deviation from
seed to seed, the honest one: a user who reruns the best configuration on another seed lands
about that far off. Beside the searches run, ASHA is replayed on the grid's curves (`replay`) at
several first rungs and start orders: what a search would have cost, without running it.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def search(space: str, name: str, scheduler: str, a, grace: int | None = None) -> None:
    subprocess.run([sys.executable, "-m", "braingan.cli", "tune", space, "--samples", "1", "--scheduler", scheduler,
                    "--budget-steps", str(a.budget_steps), "--probe-every", str(a.probe_every),
                    "--cpus-per-trial", str(a.cpus_per_trial), "--reduction-factor", str(a.reduction_factor),
                    "--order-seed", str(a.order_seed),
                    *(["--grace-steps", str(grace)] if grace else []), "--name", name], cwd=ROOT, check=True)


def search_runs(name: str):
    """The store's client and the runs of search `name`: its parent run and its trials."""
    from mlflow.tracking import MlflowClient

    from braingan.tracking import EXPERIMENT, tracking_uri

    c = MlflowClient(tracking_uri())
    exp = c.get_experiment_by_name(EXPERIMENT)
    return c, c.search_runs([exp.experiment_id], f"tags.`braingan.search` = '{name}'", max_results=1000)


def trial_readings(name: str, keys) -> tuple:
    """The store's client and each trial run of search `name` with its readings of `keys` (logged
    as `monitor.<key>`) by step."""
    c, runs = search_runs(name)
    out = []
    for r in runs:
        if "ray.trial_id" not in r.data.tags:
            continue
        readings: dict[int, dict] = {}
        for key in keys:
            for m in c.get_metric_history(r.info.run_id, f"monitor.{key}"):
                readings.setdefault(m.step, {})[key] = m.value
        out.append((r, readings))
    return c, out


def trials(name: str) -> list[dict]:
    """Each trial of search `name`: its overrides, CPU seconds, steps, status, seed and quality by
    step (what `braingan tune` ranks by: `tune.quality`)."""
    from braingan.tune import QUALITY, quality

    c, runs = trial_readings(name, (*QUALITY, "probe_mol_valid"))
    out = []
    for r, readings in runs:
        probes = c.get_metric_history(r.info.run_id, "monitor.probe_s")
        last = max((m.timestamp for m in probes), default=r.info.start_time)
        for v in readings.values():  # runs logged before probes.py read the KL score's floor where no molecule was
            if "probe_mol_valid" in v:  # valid: their mean was the digits' alone (docs/results.md)
                v.setdefault("probe_mol_kl_score", 0.0)
        q = {s: quality(v, "quality") for s, v in sorted(readings.items())}
        out.append({"overrides": r.data.tags["braingan.overrides"], "cpu_s": (last - r.info.start_time) / 1000,
                    "steps": max(q, default=0), "quality": q, "status": r.info.status,
                    "seed": int(r.data.params["seed"])})
    return out


def replay(grid: dict[str, dict], order: list[str], budget: int, every: int, grace: int, rf: int,
           slots: int) -> dict:
    """Asynchronous ASHA replayed on the full grid's curves, by Ray's rules (`_Bracket.on_result`:
    rungs at grace * rf^k below the budget; a trial's first report at or past a rung goes on
    unless its quality is below the (1 - 1/rf) quantile of those recorded at that rung before it).
    A configuration's training is deterministic, so its quality at each probe is the grid's, and
    its time per step its grid trial's. `slots` trials run at once, started in `order` (keys of
    `grid`). Returns the steps each trial trained, the CPU time as a fraction of the grid's, and
    the winner: the best at the budget among those that trained it."""
    import heapq

    import numpy as np

    rungs = [grace * rf ** k for k in range(int(np.log(budget / grace) / np.log(rf)) + 1)]
    recorded = {m: {} for m in rungs}
    tau = step_times(grid)
    pending, events, reached = list(order), [], {}

    def start(t: float) -> None:
        key = pending.pop(0)
        heapq.heappush(events, (t + every * tau[key], key, every))

    for _ in range(min(slots, len(pending))):
        start(0.0)
    while events:
        t, key, step = heapq.heappop(events)
        q, stop = grid[key]["quality"].get(step), False
        if q is None:  # the trial failed here in the grid: it fails here again
            reached[key] = step - every
            if pending:
                start(t)
            continue
        for m in reversed(rungs):
            if step < m or key in recorded[m]:
                continue
            if recorded[m] and q < np.nanpercentile(list(recorded[m].values()), (1 - 1 / rf) * 100):
                stop = True
            recorded[m][key] = q
            break
        if stop or step >= budget:
            reached[key] = step
            if pending:
                start(t)
        else:
            heapq.heappush(events, (t + every * tau[key], key, step + every))
    full = [k for k in reached if reached[k] >= budget]
    return {"reached": reached, "cpu": cpu_share(reached, tau, budget),
            "winner": max(full, key=lambda k: grid[k]["quality"][budget], default=None)}  # None: all stopped


def step_times(grid: dict[str, dict]) -> dict[str, float]:
    """Each configuration's CPU seconds per step in the grid."""
    return {k: t["cpu_s"] / t["steps"] for k, t in grid.items()}


def cpu_share(reached: dict[str, int], tau: dict[str, float], budget: int) -> float:
    """The CPU time of trials that trained `reached` steps each, at step times `tau`, as a share of
    the whole grid trained to the budget at the same step times."""
    return sum(reached[k] * tau[k] for k in reached) / sum(budget * x for x in tau.values())


def graces(a) -> list[int]:
    from braingan.tune import first_rung

    return a.grace_steps or [first_rung(a.budget_steps)]


def rungs_of(a) -> list[int]:
    return [g * a.reduction_factor ** k for g in graces(a) for k in range(8)
            if g * a.reduction_factor ** k < a.budget_steps]


def replayed(a, full: dict, top: float, noises: dict[str, float]) -> list[str]:
    """How the result depends on the start order and the first rung: ASHA replayed on the grid's
    curves (`replay`) in `braingan tune`'s order, Ray's, and --replay-orders random ones; the
    share of random orders meeting the target under each of `noises` ({what it is: value})."""
    from braingan.tune import grid_order

    space = yaml.safe_load(Path(a.space).read_text())
    if any(isinstance(v, dict) and "grid" not in v for v in space.values()):
        return []  # a space with distributions: its trials differ run to run, nothing to replay
    fixed = {k: v for k, v in space.items() if not isinstance(v, dict)}
    ours, by_ray = ([json.dumps({**fixed, **c}, sort_keys=True) for c in order]  # `trials`'s keys
                    for order in (grid_order(space, a.order_seed), _ray_order(space)))
    shuffles = [random.Random(i).sample(ours, len(ours)) for i in range(a.replay_orders)]

    def run(order, grace):
        """CPU share and the winner's distance below the best (inf where every trial was stopped)."""
        r = replay(full, order, a.budget_steps, a.probe_every, grace, a.reduction_factor, a.slots)
        return r["cpu"], top - full[r["winner"]]["quality"][a.budget_steps] if r["winner"] else float("inf")

    lines = ["", f"Replayed on the grid's curves: Ray's ASHA rules, 1 in {a.reduction_factor} on at each rung, "
             f"{a.slots} trials at once, each configuration's time per step its grid trial's; a search meets the "
             "target when it uses at most 1/3 of the grid's CPU time and its winner is within the noise of the best. "
             f"Random orders: {a.replay_orders}, seeded 0 to {a.replay_orders - 1}.", "",
             "| first rung (grace) | `braingan tune`'s order: CPU, winner below the best by | Ray's grid order: CPU, "
             "winner below the best by | " + " | ".join(f"random orders meeting the target, noise = {k} ({v:.3f})"
                                                        for k, v in noises.items())
             + " | their median CPU |", "|---|---|---|" + "---|" * len(noises) + "---|"]
    for grace in sorted(g for g in {*graces(a), *a.replay_grace} if g < a.budget_steps):
        (c1, w1), (c2, w2) = run(ours, grace), run(by_ray, grace)
        rs = [run(o, grace) for o in shuffles]
        met = [sum(c <= 1 / 3 and w <= noise for c, w in rs) / len(rs) for noise in noises.values()]
        lines.append(f"| {grace} | {c1:.2f}, {w1:.3f} | {c2:.2f}, {w2:.3f} | " + " | ".join(f"{m:.0%}" for m in met)
                     + f" | {statistics.median(c for c, _ in rs):.2f} |")
    return lines


def _ray_order(space: dict) -> list[dict]:
    """The grid's combinations in Ray's own order (what `braingan tune` used before `grid_order`):
    the axes sorted by name, the first varying fastest."""
    names = sorted(k for k, v in space.items() if isinstance(v, dict))
    return [dict(zip(reversed(names), c)) for c in itertools.product(*(space[n]["grid"] for n in reversed(names)))]


def by_seed(runs: list[dict], budget: int) -> dict[str, dict[int, float]]:
    """Each configuration's quality at the budget, by the seed its run logged: {overrides less
    `seed`: {seed: quality}}. A failed trial is left out."""
    out: dict[str, dict[int, float]] = {}
    for t in runs:
        o = json.loads(t["overrides"])
        o.pop("seed", None)
        if budget in t["quality"]:
            out.setdefault(json.dumps(o, sort_keys=True), {})[t["seed"]] = t["quality"][budget]
    return out


def seed_lines(seeds: dict[str, dict[int, float]], names: list[str]) -> list[str]:
    """The table of the configurations run on more than one seed, best mean first."""
    many = {k: v for k, v in seeds.items() if len(v) > 1}
    cols = sorted({s for v in many.values() for s in v})
    lines = ["", f"Seed to seed (searches {', '.join(f'`{n}`' for n in names)}; the grid's run is the params' own "
             "seed): quality at the budget", "",
             "| configuration | " + " | ".join(f"seed {s}" for s in cols) + " | mean | standard deviation |",
             "|---|" + "---|" * (len(cols) + 2)]
    for k, v in sorted(many.items(), key=lambda kv: -statistics.mean(kv[1].values())):
        lines.append(f"| `{k}` | " + " | ".join(f"{v[s]:.3f}" if s in v else "–" for s in cols)
                     + f" | {statistics.mean(v.values()):.3f} | {statistics.stdev(v.values()):.3f} |")
    return lines


def parent_params(name: str) -> dict:
    (r,) = [r for r in search_runs(name)[1] if r.data.tags.get("braingan.stage") == "search"]
    return r.data.params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("space")
    ap.add_argument("--budget-steps", type=int, default=2400)
    ap.add_argument("--probe-every", type=int, help="default: budget / 10")
    ap.add_argument("--reduction-factor", type=int, default=4)
    ap.add_argument("--grace-steps", type=int, nargs="*", default=[],
                    help="one ASHA search per value (none given, and neither --asha nor --grid: one at "
                         "braingan tune's default)")
    ap.add_argument("--cpus-per-trial", type=int, default=1)
    ap.add_argument("--order-seed", type=int, default=0, help="braingan tune's --order-seed for the ASHA searches")
    ap.add_argument("--replay-grace", type=int, nargs="*", default=[240, 480, 720, 960, 1440],
                    help="first rungs to replay on the grid's curves, beside the --grace-steps searched")
    ap.add_argument("--replay-orders", type=int, default=1000, help="random start orders replayed per first rung")
    ap.add_argument("--slots", type=int, help="trials at once in the replay (default: this machine's CPUs "
                                               "over --cpus-per-trial, as Ray schedules them)")
    ap.add_argument("--grid", help="an earlier full-grid search of this space and budget, instead of a new one "
                                   "(a configuration's training is deterministic: its curve is the same run to run); "
                                   "then ASHA searches run only for the --grace-steps given")
    ap.add_argument("--asha", nargs="*", default=[], help="earlier ASHA searches to table beside the new ones")
    ap.add_argument("--seeds", nargs="*", default=[],
                    help="earlier searches of configurations of the grid on more seeds (benchmarks/search/"
                         "phase_b_seeds.yaml): the seed-to-seed noise, beside the last three probes' spread")
    ap.add_argument("--doc", help="write the table into this Markdown file, between <!-- asha:start/end -->")
    a = ap.parse_args()
    a.probe_every = a.probe_every or max(1, a.budget_steps // 10)
    a.slots = a.slots or max(1, (os.cpu_count() or 1) // a.cpus_per_trial)
    stamp = time.strftime("%Y%m%d-%H%M")
    grid = a.grid or f"grid-{stamp}"
    if not a.grid:
        search(a.space, grid, "fifo", a)
    ashas = list(a.asha)
    for grace in a.grace_steps or ([] if a.asha or a.grid else [None]):
        ashas.append(f"asha-{stamp}" + (f"-g{grace}" if grace else ""))
        search(a.space, ashas[-1], "asha", a, grace)
    g = trials(grid)
    full = {t["overrides"]: t for t in g}
    best = max((t for t in g if a.budget_steps in t["quality"]), key=lambda t: t["quality"][a.budget_steps])
    last3 = list(best["quality"].values())[-3:]
    noises = {"the best trial's spread over its last three probes": statistics.pstdev(last3) if len(last3) > 1 else 0.0}
    replicates = {n: trials(n) for n in a.seeds}
    seeds = by_seed([*g, *(t for s in replicates.values() for t in s)], a.budget_steps)
    key = json.dumps(json.loads(best["overrides"]), sort_keys=True)
    if len(seeds.get(key, {})) > 1:
        noises["the best configuration's standard deviation from seed to seed"] = statistics.stdev(seeds[key].values())
    noise_is, noise = list(noises.items())[-1]  # the seed-to-seed one where measured
    top = best["quality"][best["steps"]]
    cpu_g = sum(t["cpu_s"] * a.cpus_per_trial for t in g)
    n_failed = sum(t["steps"] < a.budget_steps for t in g)
    failed = f" ({n_failed} failed)" if n_failed else ""
    lines = [
        f"`python benchmarks/tune_asha.py {a.space} --budget-steps {a.budget_steps} --probe-every {a.probe_every}` "
        f"(grid `{grid}`; {time.strftime('%Y-%m-%d')}; {len(g)} configurations, {a.cpus_per_trial} CPU per trial; "
        f"quality = mean of the digit score ratio and KL score probes; noise = {noise_is})", "",
        "| search | trials | stopped early | CPU time | best configuration | its full-length quality |",
        "|---|---|---|---|---|---|",
        f"| full grid (FIFO) | {len(g)}{failed} | 0 | {cpu_g / 60:.1f} min | `{best['overrides']}` | {top:.3f} |",
    ]
    out = {"grid": g, **replicates}
    tau = step_times(full)
    for name in ashas:
        s = trials(name)
        out[name] = s
        pp = parent_params(name)
        winner = max((t for t in s if t["steps"] == a.budget_steps), key=lambda t: t["quality"][t["steps"]])
        won = full[winner["overrides"]]["quality"][a.budget_steps]
        cpu_s = sum(t["cpu_s"] * a.cpus_per_trial for t in s)
        stopped = sum(t["steps"] < a.budget_steps for t in s)
        # the machine's speed varies from run to run: the same fates priced at the grid's own step times
        priced = cpu_share({t["overrides"]: t["steps"] for t in s}, tau, a.budget_steps)
        lines.append(
            f"| ASHA `{name}`: grace {pp.get('grace_steps', '?')} steps, 1 in {pp.get('reduction_factor', '?')} on | "
            f"{len(s)} | {stopped} | {cpu_s / 60:.1f} min ({cpu_s / cpu_g:.2f} of the grid's; {priced:.2f} at its step times) | "
            f"`{winner['overrides']}` | {won:.3f} ({won - top:+.3f} from the best; "
            f"{'within' if top - won <= noise else 'outside'} the noise {noise:.3f}) |")
    lines += replayed(a, full, top, noises)
    if a.seeds:
        lines += seed_lines(seeds, a.seeds)
    # why a rung decides what it does: every configuration's full-length curve, best last
    configs = [json.loads(t["overrides"]) for t in g]
    varied = [k for k in configs[0] if len({json.dumps(c[k]) for c in configs}) > 1]
    every = -(-len(best["quality"]) // 12)  # at most about a dozen columns, the budget's step last
    steps = sorted(set(sorted(best["quality"])[::-1][::every]) | {x for x in best["quality"] if x in rungs_of(a)})
    lines += ["", "Quality by step of every configuration in the full grid:", "",
              "| " + " | ".join(varied) + " | " + " | ".join(str(x) for x in steps) + " |",
              "|" + "---|" * (len(varied) + len(steps))]
    for t, c in sorted(zip(g, configs), key=lambda x: x[0]["quality"].get(a.budget_steps, -1), reverse=True):
        lines.append("| " + " | ".join(str(c[k]) for k in varied) + " | " + " | ".join(
            f"{t['quality'][x]:.3f}" if x in t["quality"] else f"failed at {t['steps']}" for x in steps) + " |")
    print("\n".join(lines))
    (ROOT / "benchmarks" / "results" / "tune_asha.json").write_text(json.dumps(out, indent=1) + "\n")
    if a.doc:
        from braingan.compare import replace_block

        Path(a.doc).write_text(replace_block(Path(a.doc).read_text(), "\n".join(lines) + "\n", "asha"))


if __name__ == "__main__":
    main()
