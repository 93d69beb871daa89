"""The probe curves of one search's trials side by side, from the MLflow store. Made for searches
whose trials train the same generator and differ only in what is read from it (e.g.
benchmarks/search/ema_warmup.yaml: the same seed, two ways to average the weights), where the
difference between the curves is the lever's effect and not the seed's. Prints, for each trial,
its digit score ratio and KL score by step; for each two trials, their mean difference, how often
one reads higher, and their largest gap; and the first step at which the mean of SMOOTH consecutive
probes reaches today's quality (the thresholds of a time_to_quality.py run, read from its JSON).
Prints numbers; asserts nothing.

    python benchmarks/probe_curves.py ema_warmup --thresholds benchmarks/results/ttq_cosine_end.json \
        [--every 1000] [--doc docs/results.md --block ema-warmup]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from time_to_quality import SMOOTH, TARGETS, first_reaching  # noqa: E402
from tune_asha import trial_readings  # noqa: E402


def curves(name: str) -> dict[str, list[dict]]:
    """Each trial of search `name`, named by the overrides in which it differs from the others: its
    probe readings in step order."""
    out = {r.data.tags["braingan.overrides"]: [{"step": s, **v} for s, v in sorted(readings.items())]
           for r, readings in trial_readings(name, TARGETS)[1]}
    overrides = {k: json.loads(k) for k in out}
    differ = sorted({k for o in overrides.values() for k in o
                     if len({json.dumps(x.get(k)) for x in overrides.values()}) > 1})
    return {" ".join(f"{k}={overrides[o].get(k)}" for k in differ) or o: v for o, v in out.items()}


def table(curves: dict[str, list[dict]], thresholds: dict, every: int, k: int = SMOOTH) -> list[str]:
    names = sorted(curves)
    steps = sorted({x["step"] for v in curves.values() for x in v})
    at = {n: {x["step"]: x for x in v} for n, v in curves.items()}
    lines = ["| step | " + " | ".join(f"{t.removeprefix('probe_')}: `{n}`" for t in TARGETS for n in names) + " |",
             "|---|" + "---|" * (len(TARGETS) * len(names))]
    for s in steps:
        if s % every == 0 or s == steps[-1]:
            lines.append(f"| {s} | " + " | ".join(f"{at[n][s][t]:.3f}" if s in at[n] else "–"
                                                  for t in TARGETS for n in names) + " |")
    lines.append("")
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            for t in TARGETS:
                d = [(at[b][s][t] - at[a][s][t], s) for s in steps if s in at[a] and s in at[b]]
                if d:
                    gap, s = max((abs(x), s) for x, s in d)
                    mean = sum(x for x, _ in d) / len(d)
                    lines.append(f"- {t.removeprefix('probe_')}, `{b}` less `{a}`: {mean:+.3f} on average, higher "
                                 f"at {sum(x > 0 for x, _ in d)} of {len(d)} probes, the largest gap {gap:.3f} "
                                 f"(step {s}).")
    for n in names:
        hit = first_reaching(curves[n], thresholds, k)
        lines.append(f"- `{n}` reaches " + " and ".join(f"{t.removeprefix('probe_')} >= {v:.3f}"
                                                         for t, v in thresholds.items())
                     + (f" at step {hit['step']}" if hit else " at no step of its run")
                     + (f", by means of {k} consecutive probes." if k > 1 else "."))
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("search", help="the search's name (braingan tune --name; tags.braingan.search)")
    ap.add_argument("--thresholds", required=True, help="a time_to_quality.py JSON whose thresholds to use")
    ap.add_argument("--every", type=int, default=1000, help="table every this many steps (and the last)")
    ap.add_argument("--doc", help="also write the table into this Markdown file, between the block's markers")
    ap.add_argument("--block", default="probe-curves")
    a = ap.parse_args()
    ttq = json.loads(Path(a.thresholds).read_text())
    lines = [f"`python benchmarks/probe_curves.py {' '.join(sys.argv[1:])}`: search `{a.search}`; thresholds "
             f"from {Path(a.thresholds).name} ({ttq['threshold_source']}).", "",
             *table(curves(a.search), ttq["thresholds"], a.every)]
    print("\n".join(lines))
    if a.doc:
        from braingan.compare import replace_block

        Path(a.doc).write_text(replace_block(Path(a.doc).read_text(), "\n".join(lines) + "\n", a.block))


if __name__ == "__main__":
    main()
