"""Evaluation benchmark: the `evaluate` stage on N samples per task with every metric
(FCD, KL score, collapse, both readings, all references), on the workspace's trained
models; prints the time of each metric. Prints numbers; asserts nothing.

    python benchmarks/evaluate_speed.py [--n 10000]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from braingan import classifier, evaluation, paths  # noqa: E402
from braingan.config import from_dict, override, read_params  # noqa: E402
from braingan.data import dataset  # noqa: E402
from braingan.generator import Generator  # noqa: E402

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    args = ap.parse_args()
    os.chdir(ROOT)
    cfg = from_dict(override(read_params(), {"evaluate.n_samples": args.n}))
    t = time.perf_counter()
    ev = evaluation.run(cfg, dataset.load(), Generator.load(paths.GENERATOR), classifier.load())
    total = time.perf_counter() - t
    print(ev.timings)
    s = ev.metrics.get("smiles", {})
    print(f"evaluate on {args.n} samples per task ("
          f"valid argmax {s.get('validity')}, FCD/KL on {s.get('fcd_n')} molecules): {total:.1f} s (target <= 60 s)")
