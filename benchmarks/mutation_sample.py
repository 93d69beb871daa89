"""Draw a seeded random sample of every module's mutants, for a mutation run that does not fit
the time a full one takes (each mutant runs the unit tests that cover it).

    python benchmarks/mutation_sample.py 20 [--seed 0]     # 20 per module (all of a smaller module)

Reads the mutants mutmut generated (mutants/**/*.py.meta), writes mutants/sample.json (the
sample, its size per module, the seed, the date) and prints the names for `mutmut run`. A
random sample, not the cheapest mutants first: the report's interval is then an honest
statement about all of a module's mutants (benchmarks/mutation_report.py).
"""
from __future__ import annotations

import argparse
import datetime
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("per_module", type=int)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    sample, sizes = [], {}
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        module = str(meta.relative_to(ROOT / "mutants")).removesuffix(".meta")
        names = sorted(json.loads(meta.read_text())["exit_code_by_key"])
        drawn = random.Random(f"{a.seed}:{module}").sample(names, min(a.per_module, len(names)))
        sample += drawn
        sizes[module] = (len(drawn), len(names))
    (ROOT / "mutants" / "sample.json").write_text(json.dumps(
        {"per_module": a.per_module, "seed": a.seed, "date": datetime.date.today().isoformat(), "sizes": sizes,
         "sample": sorted(sample)}, indent=1))
    print(" ".join(sorted(sample)))


if __name__ == "__main__":
    main()
