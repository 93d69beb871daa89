"""ASHA against the full grid on the same space: does early stopping find a configuration as
good as the best full-length trial, for a fraction of the CPU time? Prints numbers; asserts
nothing. Runs `braingan tune` twice in this workspace (after `dvc repro classifier`):

    python benchmarks/tune_asha.py benchmarks/search/phase_b.yaml --budget-steps 2400 [--doc docs/results.md]

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


def search(space: str, name: str, scheduler: str, budget: int, every: int, cpus: int) -> None:
    subprocess.run([sys.executable, "-m", "braingan.cli", "tune", space, "--samples", "1", "--scheduler", scheduler,
                    "--budget-steps", str(budget), "--probe-every", str(every), "--cpus-per-trial", str(cpus),
                    "--name", name], cwd=ROOT, check=True)


def trials(name: str) -> list[dict]:
    from mlflow.tracking import MlflowClient

    from braingan.tracking import EXPERIMENT, tracking_uri

    c = MlflowClient(tracking_uri())
    exp = c.get_experiment_by_name(EXPERIMENT)
    out = []
    for r in c.search_runs([exp.experiment_id], f"tags.`braingan.search` = '{name}'", max_results=1000):
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("space")
    ap.add_argument("--budget-steps", type=int, default=2400)
    ap.add_argument("--probe-every", type=int, default=300)
    ap.add_argument("--cpus-per-trial", type=int, default=1)
    ap.add_argument("--doc", help="write the table into this Markdown file, between <!-- asha:start/end -->")
    a = ap.parse_args()
    stamp = time.strftime("%Y%m%d-%H%M")
    grid, asha = f"grid-{stamp}", f"asha-{stamp}"
    search(a.space, grid, "fifo", a.budget_steps, a.probe_every, a.cpus_per_trial)
    search(a.space, asha, "asha", a.budget_steps, a.probe_every, a.cpus_per_trial)
    g, s = trials(grid), trials(asha)
    full = {t["overrides"]: t for t in g}
    best = max(g, key=lambda t: t["quality"][t["steps"]])
    last3 = list(best["quality"].values())[-3:]
    noise = statistics.pstdev(last3) if len(last3) > 1 else 0.0
    winner = max((t for t in s if t["steps"] == a.budget_steps), key=lambda t: t["quality"][t["steps"]])
    won = full[winner["overrides"]]["quality"][a.budget_steps]
    top = best["quality"][best["steps"]]
    cpu_g, cpu_s = (sum(t["cpu_s"] * a.cpus_per_trial for t in x) for x in (g, s))
    stopped = sum(t["steps"] < a.budget_steps for t in s)
    lines = [
        f"`python benchmarks/tune_asha.py {a.space} --budget-steps {a.budget_steps}` ({time.strftime('%Y-%m-%d')}; "
        f"{len(g)} configurations, {a.cpus_per_trial} CPU per trial, quality = mean of the digit score ratio and "
        "KL score probes)", "",
        "| search | trials | stopped early | CPU time | best configuration | its full-length quality |",
        "|---|---|---|---|---|---|",
        f"| full grid (FIFO) | {len(g)} | 0 | {cpu_g / 60:.1f} min | `{best['overrides']}` | {top:.3f} |",
        f"| ASHA | {len(s)} | {stopped} | {cpu_s / 60:.1f} min ({cpu_s / cpu_g:.2f} of the grid's) | "
        f"`{winner['overrides']}` | {won:.3f} ({top - won:+.3f} from the best; noise {noise:.3f}: "
        f"{'within' if top - won <= noise else 'outside'}) |",
    ]
    print("\n".join(lines))
    (ROOT / "benchmarks" / "tune_asha.json").write_text(json.dumps({"grid": g, "asha": s}, indent=1) + "\n")
    if a.doc:
        from braingan.compare import replace_block

        Path(a.doc).write_text(replace_block(Path(a.doc).read_text(), "\n".join(lines) + "\n", "asha"))


if __name__ == "__main__":
    main()
