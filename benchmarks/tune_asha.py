"""ASHA against the full grid on the same space: does early stopping find a configuration as
good as the best full-length trial, for a fraction of the CPU time? Prints numbers; asserts
nothing. Runs `braingan tune` in this workspace (after `dvc repro classifier`): the full grid,
then one ASHA search per --grace-steps value; --grid / --asha table earlier searches instead:

    python benchmarks/tune_asha.py benchmarks/search/phase_b.yaml --budget-steps 2400 [--grace-steps 240 600] \
        [--doc docs/results.md]
    python benchmarks/tune_asha.py benchmarks/search/phase_b.yaml --budget-steps 1200 --grid grid-20261202-1554 \
        --asha asha-20261202-1554 asha-20261202-1646-g300 --doc docs/results.md     # docs/results.md's table

CPU time of a search = the sum over its trials of (last probe's time - start) x CPUs per
trial, from the trials' MLflow runs. "Within the noise": the ASHA winner's full-length quality
(read from the grid's run of the same configuration) is at most the best trial's spread over
its last three probes below the best.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def search(space: str, name: str, scheduler: str, a, grace: int | None = None) -> None:
    subprocess.run([sys.executable, "-m", "braingan.cli", "tune", space, "--samples", "1", "--scheduler", scheduler,
                    "--budget-steps", str(a.budget_steps), "--probe-every", str(a.probe_every),
                    "--cpus-per-trial", str(a.cpus_per_trial), "--reduction-factor", str(a.reduction_factor),
                    *(["--grace-steps", str(grace)] if grace else []), "--name", name], cwd=ROOT, check=True)


def search_runs(name: str):
    """The store's client and the runs of search `name`: its parent run and its trials."""
    from mlflow.tracking import MlflowClient

    from braingan.tracking import EXPERIMENT, tracking_uri

    c = MlflowClient(tracking_uri())
    exp = c.get_experiment_by_name(EXPERIMENT)
    return c, c.search_runs([exp.experiment_id], f"tags.`braingan.search` = '{name}'", max_results=1000)


def trials(name: str) -> list[dict]:
    c, runs = search_runs(name)
    out = []
    for r in runs:
        if "ray.trial_id" not in r.data.tags:
            continue
        quality = c.get_metric_history(r.info.run_id, "monitor.probe_s")
        last = max((m.timestamp for m in quality), default=r.info.start_time)
        curve = {}
        for key in ("monitor.probe_digit_score_ratio", "monitor.probe_mol_kl_score"):
            for m in c.get_metric_history(r.info.run_id, key):
                curve.setdefault(m.step, []).append(m.value)
        q = {s: sum(v) / len(v) for s, v in sorted(curve.items())}
        out.append({"overrides": r.data.tags["braingan.overrides"], "cpu_s": (last - r.info.start_time) / 1000,
                    "steps": max(q, default=0), "quality": q, "status": r.info.status})
    return out


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
                    help="one ASHA search per value (none given, and no --asha: one at braingan tune's default)")
    ap.add_argument("--cpus-per-trial", type=int, default=1)
    ap.add_argument("--grid", help="an earlier full-grid search of this space and budget, instead of a new one "
                                   "(a configuration's training is deterministic: its curve is the same run to run)")
    ap.add_argument("--asha", nargs="*", default=[], help="earlier ASHA searches to table beside the new ones")
    ap.add_argument("--doc", help="write the table into this Markdown file, between <!-- asha:start/end -->")
    a = ap.parse_args()
    a.probe_every = a.probe_every or max(1, a.budget_steps // 10)
    stamp = time.strftime("%Y%m%d-%H%M")
    grid = a.grid or f"grid-{stamp}"
    if not a.grid:
        search(a.space, grid, "fifo", a)
    ashas = list(a.asha)
    for grace in a.grace_steps or ([] if a.asha else [None]):
        ashas.append(f"asha-{stamp}" + (f"-g{grace}" if grace else ""))
        search(a.space, ashas[-1], "asha", a, grace)
    g = trials(grid)
    full = {t["overrides"]: t for t in g}
    best = max(g, key=lambda t: t["quality"][t["steps"]])
    last3 = list(best["quality"].values())[-3:]
    noise = statistics.pstdev(last3) if len(last3) > 1 else 0.0
    top = best["quality"][best["steps"]]
    cpu_g = sum(t["cpu_s"] * a.cpus_per_trial for t in g)
    lines = [
        f"`python benchmarks/tune_asha.py {a.space} --budget-steps {a.budget_steps} --probe-every {a.probe_every}` "
        f"(grid `{grid}`; {time.strftime('%Y-%m-%d')}; {len(g)} configurations, {a.cpus_per_trial} CPU per trial; "
        "quality = mean of the digit score ratio and KL score probes; noise = the best trial's spread over its last "
        "three probes)", "",
        "| search | trials | stopped early | CPU time | best configuration | its full-length quality |",
        "|---|---|---|---|---|---|",
        f"| full grid (FIFO) | {len(g)} | 0 | {cpu_g / 60:.1f} min | `{best['overrides']}` | {top:.3f} |",
    ]
    out = {"grid": g}
    for name in ashas:
        s = trials(name)
        out[name] = s
        pp = parent_params(name)
        winner = max((t for t in s if t["steps"] == a.budget_steps), key=lambda t: t["quality"][t["steps"]])
        won = full[winner["overrides"]]["quality"][a.budget_steps]
        cpu_s = sum(t["cpu_s"] * a.cpus_per_trial for t in s)
        stopped = sum(t["steps"] < a.budget_steps for t in s)
        lines.append(
            f"| ASHA `{name}`: grace {pp.get('grace_steps', '?')} steps, 1 in {pp.get('reduction_factor', '?')} on | "
            f"{len(s)} | {stopped} | {cpu_s / 60:.1f} min ({cpu_s / cpu_g:.2f} of the grid's) | "
            f"`{winner['overrides']}` | {won:.3f} ({won - top:+.3f} from the best; "
            f"{'within' if top - won <= noise else 'outside'} the noise {noise:.3f}) |")
    # why a rung decides what it does: every configuration's full-length curve, best last
    configs = [json.loads(t["overrides"]) for t in g]
    varied = [k for k in configs[0] if len({json.dumps(c[k]) for c in configs}) > 1]
    steps = sorted(best["quality"])
    lines += ["", "Quality by step of every configuration in the full grid:", "",
              "| " + " | ".join(varied) + " | " + " | ".join(str(x) for x in steps) + " |",
              "|" + "---|" * (len(varied) + len(steps))]
    for t, c in sorted(zip(g, configs), key=lambda x: x[0]["quality"][a.budget_steps], reverse=True):
        lines.append("| " + " | ".join(str(c[k]) for k in varied) + " | "
                     + " | ".join(f"{t['quality'][x]:.3f}" for x in steps) + " |")
    print("\n".join(lines))
    (ROOT / "benchmarks" / "results" / "tune_asha.json").write_text(json.dumps(out, indent=1) + "\n")
    if a.doc:
        from braingan.compare import replace_block

        Path(a.doc).write_text(replace_block(Path(a.doc).read_text(), "\n".join(lines) + "\n", "asha"))


if __name__ == "__main__":
    main()
