"""Train and evaluate many configurations side by side, each logged to the MLflow store
like a pipeline run (training run + evaluation child run), tagged with the search's name.

    python benchmarks/sweep.py VARIANTS.yaml --search lr --parallel 2      # all rows, two at a time
    python benchmarks/sweep.py VARIANTS.yaml --search lr --only a b        # just these, in order

VARIANTS.yaml maps a name to dotted overrides of params.yaml, e.g.
    selfies: {preprocess.encoding: selfies, train.steps: 6000}
Each row runs in its own process with cores // parallel threads, in sweep/<name>/ (its own
preprocessed data when it overrides `preprocess.*` or `seed`). The workspace's
`models/classifier.pt` is the instrument. A summary of the headline metrics is printed
and written to sweep/summary.md; `python -m braingan.compare --filter
"tags.braingan.search = 'lr'"` compares the runs afterwards.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from braingan.config import flatten, from_dict, override, read_params  # noqa: E402


def variant_cfg(overrides: dict):
    return from_dict(override(read_params(ROOT / "params.yaml"), overrides))


def run_one(name: str, overrides: dict, out: Path, search: str) -> None:
    from braingan import evaluation, paths, training
    from braingan.data import dataset, preprocess
    from braingan.tracking import Run

    cfg = variant_cfg(overrides)
    vdir = out / name
    processed = ROOT / paths.PROCESSED
    if any(k.startswith("preprocess.") or k == "seed" for k in overrides):
        processed = vdir / "processed"
        preprocess.run(cfg, ROOT / paths.RAW, processed, vdir / "preprocess")
    data = dataset.load(processed)
    tags = {"braingan.search": search, "braingan.sweep": name}
    t0 = time.time()
    training.run(cfg, data, Run(tags=tags), out=vdir / "train", model_path=vdir / "generator.pt",
                 ckpt_dir=vdir / "checkpoints", clf_path=ROOT / paths.CLASSIFIER)
    wall = time.time() - t0
    m = evaluation.run(cfg, data, Run(tags=tags), out=vdir / "evaluate", gen_path=vdir / "generator.pt",
                       clf_path=ROOT / paths.CLASSIFIER, train_run=vdir / "train" / "mlflow.json")
    (vdir / "done.json").write_text(json.dumps({"train_wall_s": wall, "headline": evaluation.headline(m)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants")
    ap.add_argument("--search", required=True, help="tag braingan.search of every run of this sweep")
    ap.add_argument("--out", default="sweep")
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--only", nargs="*", help="variant names to run, in this order (default: all)")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run this variant in this process
    a = ap.parse_args()
    variants = yaml.safe_load(Path(a.variants).read_text())
    out = Path(a.out)
    if a.one:  # threads: as many as the parent gave each row, unless the row sets them
        run_one(a.one, {"train.threads": int(os.environ.get("OMP_NUM_THREADS", "0")), **variants[a.one]}, out, a.search)
        return
    names = a.only or list(variants)
    unknown = [n for n in names if n not in variants]
    if unknown:
        sys.exit(f"sweep: unknown variant(s) {', '.join(unknown)}; {a.variants} has: {', '.join(variants)}")
    for n in names:
        variant_cfg(variants[n])  # every row must validate before anything runs
    from braingan.tracking import Run

    Run().experiment_id()  # the store and its experiment, before parallel rows race to create them
    threads = max(1, (os.cpu_count() or 1) // a.parallel)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    queue, procs = list(names), {}
    while queue or procs:
        while queue and len(procs) < a.parallel:
            n = queue.pop(0)
            (out / n).mkdir(parents=True, exist_ok=True)
            log = open(out / n / "log.txt", "w")
            procs[n] = subprocess.Popen([sys.executable, __file__, a.variants, "--search", a.search, "--out", str(out),
                                         "--one", n], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        for n, p in list(procs.items()):
            if p.poll() is not None:
                print(f"{n}: exit {p.returncode}", flush=True)
                del procs[n]
        time.sleep(2)
    summary(names, variants, out)


def summary(names, variants, out: Path) -> None:
    from braingan.evaluation import HEADLINE

    cols = [f"Headline/{h}" for h in HEADLINE]
    lines = ["| variant | overrides | train s | " + " | ".join(h for h in HEADLINE) + " |",
             "|---|---|---|" + "---|" * len(cols)]
    for n in names:
        done = out / n / "done.json"
        if not done.exists():
            lines.append(f"| {n} | (failed: see {out / n / 'log.txt'}) |")
            continue
        d = json.loads(done.read_text())
        cells = [f"{d['headline'][c]:.3g}" if c in d["headline"] else "-" for c in cols]
        over = ", ".join(f"{k}={v}" for k, v in flatten(variants[n]).items())
        lines.append(f"| {n} | {over} | {d['train_wall_s']:.0f} | " + " | ".join(cells) + " |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
