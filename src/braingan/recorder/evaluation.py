"""Records an evaluation: results/evaluate/, its MLflow child run, and the headline on the
training run and its LoggedModel (see recorder/__init__.py)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import paths
from ..config import Config, flatten
from ..evaluation import PICTURES, Evaluation
from ..evaluation.molecules import CSV_HEADER
from ..fsutil import write_bytes, write_csv, write_json
from ..tracking import Run, context_tags


def record_evaluation(cfg: Config, ev: Evaluation, out: Path = paths.results("evaluate"),
                      train_run: Path = paths.results("train") / "mlflow.json", run: Run | None = None) -> None:
    """Write the evaluation's files, then its MLflow child run and the training run's copies."""
    out = Path(out)
    for name in PICTURES:
        write_bytes(out / name, ev.figures[name])
    write_csv(out / "smiles.csv", CSV_HEADER, ev.smiles_rows)
    write_json(out / "metrics.json", ev.metrics)
    write_json(out / "headline.json", ev.headline)
    write_json(out / "timings.json", ev.timings)
    run = run or Run()
    if not run.enabled:
        return
    parent = json.loads(Path(train_run).read_text()) if Path(train_run).exists() else {}
    numeric = mlflow_metrics(ev.metrics)
    head = {f"Headline/{k}": v for k, v in ev.headline.items()}
    run.start(name=f"evaluate-{cfg.digest('evaluate')[:8]}",
              params={f"evaluate.{k}": v for k, v in flatten(cfg.to_dict()["evaluate"]).items()},
              tags={"braingan.stage": "evaluate", **context_tags()}, parent=parent.get("run_id"))
    try:
        run.log_metrics({**numeric, **head}, flush=True)
        for f in ("metrics.json", "headline.json", "smiles.csv", "timings.json", *PICTURES):
            run.log_artifact(out / f, "evaluate")
    finally:
        run.end("FINISHED")
    if parent.get("run_id"):  # headline numbers and pictures on the training run too, for side-by-side views
        p = Run(parent["run_id"])
        p.log_metrics(numeric, flush=True)
        p.log_metrics(head, flush=True, model_id=parent.get("model_id") or None)  # the models view compares these
        for f in ("metrics.json", "headline.json", "smiles.csv", *PICTURES):
            p.log_artifact(out / f, "evaluate")
        p.set_tags({"braingan.last_evaluation": run.run_id})
    print(f"braingan evaluate: logged to MLflow run {run.run_id} (child of {parent.get('run_id')})", file=sys.stderr)


def mlflow_metrics(metrics: dict) -> dict[str, float]:
    """The numbers of metrics.json as MLflow metrics: flattened, booleans as 0/1, None left out;
    MOSES's `unique@10k` as `unique_at_10k` (MLflow refuses '@' in a name)."""
    return {f"eval.{k}".replace("@", "_at_"): float(v) for k, v in flatten(metrics).items()
            if isinstance(v, (int, float)) and v is not None}
