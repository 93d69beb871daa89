"""Draw a seeded random sample of the mutants a mutmut run has not checked yet, for when a
full run does not fit (each of the costliest mutants runs up to 80 s of unit tests).

    python benchmarks/mutation_sample.py 0.3 [--seed 0]   # prints the names for `mutmut run`
    python benchmarks/mutation_sample.py --shrink 24      # when the sample does not fit the time:
                                                          # split the frame by test cost, keep 24

Writes mutants/sample.json (the frame: every unchecked mutant; the sample; the fraction);
benchmarks/mutation_report.py then reports the mutants checked exactly and, for the frame,
an estimate from the sample with a 95 % interval. The survivors and no-test
mutants of earlier runs are printed too, so that new tests get their chance at them.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("fraction", type=float, nargs="?")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shrink", type=int, help="sample mutants to keep of the costly stratum")
    a = ap.parse_args()
    codes = {name: code for meta in sorted((ROOT / "mutants").rglob("*.py.meta"))
             for name, code in json.loads(meta.read_text())["exit_code_by_key"].items()}
    rerun = [name for name, code in codes.items() if code in (0, 5, 33)]  # survived, or no test reached it
    if a.shrink is not None:
        print("\n".join(rerun + shrink(codes, a.shrink, a.seed)))
        return
    if a.fraction is None or not 0 < a.fraction <= 1:
        raise SystemExit(f"fraction must be in (0, 1], got {a.fraction}")
    frame = [name for name, code in codes.items() if code is None]
    sample = sorted(random.Random(a.seed).sample(frame, round(a.fraction * len(frame))))
    (ROOT / "mutants" / "sample.json").write_text(json.dumps(
        {"fraction": a.fraction, "seed": a.seed, "frame": frame, "sample": sample}, indent=1))
    print("\n".join(rerun + sample))


def shrink(codes: dict, keep: int, seed: int) -> list[str]:
    """Split the frame into two strata by mutmut's own cost of a mutant (the summed durations
    of the tests that reach its function; mutmut runs the cheapest first): `cheap`, below the
    cheapest sampled mutant not run yet, where the whole sample has run, and `costly`, where a
    random `keep` of the stratum's sampled mutants stay in the sample (a random part of a
    random sample is one too). The report weighs each stratum by its size. Returns the kept
    mutants not run yet."""
    stats = json.loads((ROOT / "mutants" / "mutmut-stats.json").read_text())
    tests, durations = stats["tests_by_mangled_function_name"], stats["duration_by_test"]
    cost = lambda name: sum(durations.get(t, 0.0) for t in tests.get(name.rsplit("__mutmut_", 1)[0], []))  # noqa: E731
    path = ROOT / "mutants" / "sample.json"
    drawn = json.loads(path.read_text())
    cut = min(cost(n) for n in drawn["sample"] if codes.get(n) is None)
    costly = [n for n in drawn["sample"] if cost(n) >= cut]
    kept = set(random.Random(seed).sample(costly, min(keep, len(costly))))
    drawn.update(cost_cut=cut, costly=[n for n in drawn["frame"] if cost(n) >= cut],
                 sample=sorted({n for n in drawn["sample"] if cost(n) < cut} | kept))
    path.write_text(json.dumps(drawn, indent=1))
    return sorted(n for n in kept if codes.get(n) is None)


if __name__ == "__main__":
    main()
