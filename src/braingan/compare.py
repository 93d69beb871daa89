"""A Markdown comparison of trained runs in the MLflow store.

    python -m braingan.compare                 # the 10 newest training runs
    python -m braingan.compare --last 20 --out comparison.md
    python -m braingan.compare --filter "tags.\`dvc.exp_name\` LIKE 'q-%'"

Prints the params that differ between the runs, the headline metrics, and where each
run's pictures are.
"""
from __future__ import annotations

import argparse
import sys

from .evaluation import HEADLINE
from .tracking import EXPERIMENT, tracking_uri

COLUMNS = [f"Headline/{name}" for name in HEADLINE] + ["train.wall_s"]
PICTURES = ["evaluate/digits.png", "evaluate/molecules.png", "evaluate/descriptors.png"]


def markdown(runs) -> str:
    if not runs:
        return "No training runs found.\n"
    keys = sorted({k for r in runs for k in r.data.params})
    differ = [k for k in keys if len({r.data.params.get(k) for r in runs}) > 1]
    names = [r.data.tags.get("dvc.exp_name") or r.info.run_name for r in runs]
    out = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(runs)]
    out.append("| run id | " + " | ".join(r.info.run_id[:8] for r in runs) + " |")
    out.append("| status | " + " | ".join(r.info.status for r in runs) + " |")
    for k in differ:
        out.append(f"| `{k}` | " + " | ".join(str(r.data.params.get(k, "")) for r in runs) + " |")
    for k in COLUMNS:
        vals = [r.data.metrics.get(k) for r in runs]
        if any(v is not None for v in vals):
            out.append(f"| **{k}** | " + " | ".join("" if v is None else f"{v:.4g}" for v in vals) + " |")
    out.append("")
    out.append("Pictures:")
    for name, r in zip(names, runs):
        out.append(f"- {name}: " + ", ".join(f"{r.info.artifact_uri}/{p}" for p in PICTURES))
    return "\n".join(out) + "\n"


def main(argv=None) -> None:
    from mlflow.tracking import MlflowClient

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--last", type=int, default=10, help="newest N training runs")
    ap.add_argument("--filter", default="", help="an MLflow search filter, ANDed with 'not a child run'")
    ap.add_argument("--out", default="", help="write here instead of stdout")
    a = ap.parse_args(argv)
    client = MlflowClient(tracking_uri())
    exp = client.get_experiment_by_name(EXPERIMENT)
    if exp is None:
        sys.exit(f"no MLflow experiment '{EXPERIMENT}' at {tracking_uri()}: run the pipeline first")
    runs = client.search_runs([exp.experiment_id], filter_string=a.filter, order_by=["attributes.start_time DESC"],
                              max_results=1000)
    runs = [r for r in runs if "mlflow.parentRunId" not in r.data.tags][: a.last]
    text = markdown(runs)
    if a.out:
        from .fsutil import write_text

        write_text(a.out, text)
    else:
        print(text)


if __name__ == "__main__":
    main()
