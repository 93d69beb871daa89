"""How much of a probe reading is the instrument's own noise: one saved generator read by the
quality probes (probes.py) under N probe seeds. Each seed draws other samples and another
reference subset; the generator stays the same, so the spread is the instrument's alone. Within
a training run the probes keep one seed, so this noise does not average out over consecutive
probes: a threshold margin below it (benchmarks/time_to_quality.py) could fall the other way
under another probe seed. Prints numbers; asserts nothing.

    python benchmarks/probe_noise.py [--model models/generator.pt] [--seeds 20] [--samples 400] [--doc docs/results.md --block B]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from braingan import classifier  # noqa: E402
from braingan.data import dataset  # noqa: E402
from braingan.device import cpu_threads  # noqa: E402
from braingan.generator import Generator  # noqa: E402
from braingan.probes import Probes  # noqa: E402

READINGS = ("probe_digit_score_ratio", "probe_digit_class_acc", "probe_mol_valid", "probe_mol_kl_score",
            "probe_mol_heavy_ratio")


def spread(readings: list[dict], keys=READINGS) -> dict[str, dict]:
    """Per key present in every reading: mean, sample standard deviation, min and max."""
    out = {}
    for k in keys:
        v = [r[k] for r in readings if r.get(k) is not None]
        if len(v) == len(readings) and len(v) > 1:
            out[k] = {"mean": statistics.fmean(v), "sd": statistics.stdev(v), "min": min(v), "max": max(v)}
    return out


def table(stats: dict[str, dict]) -> list[str]:
    return ["| reading | mean | standard deviation | min | max |", "|---|---|---|---|---|",
            *(f"| {k.removeprefix('probe_')} | {s['mean']:.3f} | {s['sd']:.3f} | {s['min']:.3f} | {s['max']:.3f} |"
              for k, s in stats.items())]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/generator.pt")
    ap.add_argument("--seeds", type=int, default=20, help="probe seeds 0 .. N-1")
    ap.add_argument("--samples", type=int, default=Probes.N, help="samples per task (the probes' own: %(default)s)")
    ap.add_argument("--doc", help="also write the table into this Markdown file, between the block's markers")
    ap.add_argument("--block", default="probe-noise")
    a = ap.parse_args()
    model = Path(a.model).resolve()
    os.chdir(ROOT)  # the workspace's processed data and classifier: what the probes of a run read
    torch.set_num_threads(cpu_threads(0))
    data, net, g = dataset.load(), classifier.load(), Generator.load(model)
    Probes.N = a.samples  # the probes read this many samples per task in this process
    readings = [Probes(data, net, seed).measure(g) for seed in range(a.seeds)]
    lines = [f"`python benchmarks/probe_noise.py {' '.join(sys.argv[1:])}`: {a.model} read by the probes "
             f"({a.samples} samples per task) under probe seeds 0-{a.seeds - 1}.", "", *table(spread(readings))]
    print("\n".join(lines))
    if a.doc:
        from braingan.compare import replace_block

        Path(a.doc).write_text(replace_block(Path(a.doc).read_text(), "\n".join(lines) + "\n", a.block))


if __name__ == "__main__":
    main()
