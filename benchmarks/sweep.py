"""Train and evaluate many configurations side by side (the search of issue 6).

    python benchmarks/sweep.py train  VARIANTS.yaml --out sweep --parallel 6   # e.g. on a GPU box
    python benchmarks/sweep.py evaluate VARIANTS.yaml --out sweep              # here, logs to MLflow
    python benchmarks/sweep.py train VARIANTS.yaml --parallel 1 --only a b     # just these, in order

VARIANTS.yaml maps a name to dotted overrides of params.yaml, e.g.
    per-task: {model.activation: per-task}
`train` needs only torch (+ RDKit for variants that change `preprocess`); MLflow
is off there, so `evaluate` imports each finished training into the MLflow store (params,
the loss history, the generator) and evaluates it as a child run, like the pipeline does.
A summary table is printed and written to <out>/summary.md.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from braingan.config import from_dict, load, override  # noqa: E402

HEADLINE = [("digits", "classifier_score"), ("digits", "frechet_over_floor"), ("digits", "classes_covered"),
            ("smiles", "validity"), ("smiles", "unique"), ("smiles", "novelty"), ("smiles", "fcd"),
            ("smiles", "collapsed")]


def variant_cfg(overrides: dict):
    return from_dict(override(load(ROOT / "params.yaml").to_dict(), overrides))


def train_one(name: str, overrides: dict, out: Path) -> None:
    from braingan import training
    from braingan.data.prepare import load_processed, preprocess
    from braingan.tracking import Run

    cfg = variant_cfg(overrides)
    vdir = out / name
    vdir.mkdir(parents=True, exist_ok=True)
    (vdir / "params.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    processed = ROOT / "data/processed"
    if any(k.startswith("preprocess.") or k == "seed" for k in overrides):
        processed = vdir / "processed"
        preprocess(cfg, ROOT / "data/raw", processed, vdir / "preprocess")
    t0 = time.time()
    training.run(cfg, load_processed(processed), Run(enabled=False), out=vdir / "train",
                 model_path=vdir / "generator.pt", ckpt_dir=vdir / "checkpoints")
    (vdir / "train_done.json").write_text(json.dumps({"wall_s": time.time() - t0, "processed": str(processed),
                                                      "device": training.pick_device(cfg.train.device).type}))


def selected(args) -> dict:
    """The variants named by --only (in that order), or all of them."""
    variants = yaml.safe_load(Path(args.variants).read_text())
    if not args.only:
        return variants
    unknown = [n for n in args.only if n not in variants]
    if unknown:
        sys.exit(f"sweep: unknown variant(s) {', '.join(unknown)}; {args.variants} has: {', '.join(variants)}")
    return {n: variants[n] for n in args.only}


def cmd_train(args) -> None:
    variants = selected(args)
    out = Path(args.out)
    procs, queue = {}, list(variants)
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BRAINGAN_TRACKING": "0", "OMP_NUM_THREADS": str(args.threads)}
    while queue or procs:
        while queue and len(procs) < args.parallel:
            name = queue.pop(0)
            log = open(out / f"{name}.log", "w")
            procs[name] = subprocess.Popen([sys.executable, __file__, "_one", args.variants, name, "--out", str(out)],
                                           stdout=log, stderr=subprocess.STDOUT, env=env)
        for name, p in list(procs.items()):
            if p.poll() is not None:
                print(f"{name}: exit {p.returncode}", flush=True)
                del procs[name]
        time.sleep(1)


def cmd_evaluate(args) -> None:
    from braingan import evaluation
    from braingan.data.prepare import load_processed
    from braingan.tracking import Run

    variants = selected(args)
    out = Path(args.out)
    rows = []
    for name in variants:
        vdir = out / name
        done = vdir / "train_done.json"
        if not done.exists():
            print(f"{name}: not trained, skipped", file=sys.stderr)
            continue
        info = json.loads(done.read_text())
        cfg = from_dict(yaml.safe_load((vdir / "params.yaml").read_text()))
        processed = Path(info["processed"])
        if not processed.exists():  # trained elsewhere: the same relative layout here
            processed = vdir / "processed" if (vdir / "processed").exists() else ROOT / "data/processed"
        data = load_processed(processed)
        run = Run()
        run.start(name=f"sweep:{name}", params=cfg.flat(),
                  tags={"braingan.sweep": name, "braingan.trained_on": info["device"],
                        **{f"data.sha256.{k}": v for k, v in data.meta["input_sha256"].items()}})
        with open(vdir / "train" / "history.csv") as f:
            for r in csv.DictReader(f):
                run.log_metrics({f"train.{k}": float(v) for k, v in r.items() if k != "step" and v != ""},
                                step=int(r["step"]))
        run.log_metrics({"train.wall_s": info["wall_s"]}, flush=True)
        run.log_artifact(vdir / "generator.pt", "train")
        run.end("FINISHED")
        (vdir / "train" / "mlflow.json").write_text(json.dumps({"run_id": run.run_id}))
        m = evaluation.run(cfg, data, Run(), out=vdir / "evaluate", gen_path=vdir / "generator.pt",
                           clf_path=ROOT / "models/classifier.pt", train_run=vdir / "train" / "mlflow.json")
        rows.append((name, variants[name], info, m))
    lines = ["| variant | overrides | train s | " + " | ".join(f"{a}.{b}" for a, b in HEADLINE) + " |",
             "|---|---|---|" + "---|" * len(HEADLINE)]
    for name, ov, info, m in rows:
        cells = []
        for a, b in HEADLINE:
            v = m.get(a, {}).get(b, "-")
            cells.append(f"{v:.3f}" if isinstance(v, float) else str(v))
        lines.append(f"| {name} | {', '.join(f'{k}={v}' for k, v in ov.items())} | {info['wall_s']:.0f} | "
                     + " | ".join(cells) + " |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["train", "evaluate", "_one"])
    ap.add_argument("variants")
    ap.add_argument("name", nargs="?")
    ap.add_argument("--out", default="sweep")
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", nargs="*", help="variant names to run, in this order (default: all)")
    a = ap.parse_args()
    if a.command == "_one":
        train_one(a.name, yaml.safe_load(Path(a.variants).read_text())[a.name], Path(a.out))
    elif a.command == "train":
        cmd_train(a)
    else:
        cmd_evaluate(a)
