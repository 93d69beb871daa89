"""Evaluation benchmark (issue 4): the `evaluate` stage on N samples per task with every
metric, FCD included, on the workspace's trained models; prints the time of each metric.

    python benchmarks/evaluate_speed.py [--n 10000]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from braingan import evaluation  # noqa: E402
from braingan.config import load  # noqa: E402
from braingan.data.prepare import load_processed  # noqa: E402
from braingan.tracking import Run  # noqa: E402

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    args = ap.parse_args()
    os.chdir(ROOT)
    cfg = load("params.yaml")
    cfg.evaluate.n_samples = args.n
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        m = evaluation.run(cfg, load_processed(), Run(enabled=False), out=Path(tmp))
        total = time.perf_counter() - t
        timings = (Path(tmp) / "timings.json").read_text()
    print(timings)
    print(f"evaluate on {args.n} samples per task, every metric incl. FCD (n={m.get('smiles', {}).get('fcd_n')}): "
          f"{total:.1f} s (target <= 60 s)")
