"""The per-module table of a mutmut run (mutants/**/*.meta): killed / timeout / survived / no
tests / equivalent among the mutants run, the score, and an exact binomial (Clopper-Pearson)
95 % interval for the score of all of the module's mutants, the run being a random sample of
them (benchmarks/mutation_sample.py; a module run whole has its exact score).

    python benchmarks/mutation_report.py [--survivors]

benchmarks/mutation_equivalent.txt sets apart the survivors where no behaviour can differ,
each line `pattern  # reason` (fnmatch patterns over mutant names); they are left out of the
score. score = (killed + timeout) / (killed + timeout + survived + no tests).
"""
from __future__ import annotations

import argparse
import fnmatch
import json
from collections import Counter
from pathlib import Path

from scipy.stats import beta

ROOT = Path(__file__).resolve().parents[1]
STATUS = {1: "killed", 3: "killed", 0: "survived", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout",
          255: "timeout", 5: "no tests", 33: "no tests", 34: "skipped", None: "not run"}


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact binomial interval for k successes in n trials."""
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def equivalent() -> dict[str, str]:
    path = ROOT / "benchmarks" / "mutation_equivalent.txt"
    out = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        pattern, _, why = line.partition("#")
        if pattern.strip():
            out[pattern.strip()] = why.strip()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    a = ap.parse_args()
    eq = equivalent()
    sample_file = ROOT / "mutants" / "sample.json"
    sample = json.loads(sample_file.read_text()) if sample_file.exists() else None
    print("| module | mutants | run | killed | timeout | survived | no tests | equivalent | score | 95 % interval, "
          "all mutants |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    survivors, total = [], Counter()
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        module = str(meta.relative_to(ROOT / "mutants")).removesuffix(".meta")
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        c = Counter()
        for name, code in codes.items():
            status = STATUS.get(code, "suspicious")
            if status == "survived" and any(fnmatch.fnmatchcase(name, p) for p in eq):
                status = "equivalent"
            elif status == "survived":
                survivors.append(name)
            c[status] += 1
        run = sum(v for k, v in c.items() if k != "not run")
        caught, judged = c["killed"] + c["timeout"], c["killed"] + c["timeout"] + c["survived"] + c["no tests"]
        total.update(c)
        total["mutants"] += len(codes)
        if judged == 0:
            score = interval = "–"
        elif run == len(codes):
            score, interval = f"{caught / judged:.1%}", "exact (all run)"
        else:
            lo, hi = clopper_pearson(caught, judged)
            score, interval = f"{caught / judged:.1%}", f"{lo:.0%} to {hi:.0%}"
        print(f"| {module} | {len(codes)} | {run} | {c['killed']} | {c['timeout']} | {c['survived']} | "
              f"{c['no tests']} | {c['equivalent']} | {score} | {interval} |")
    caught = total["killed"] + total["timeout"]
    judged = caught + total["survived"] + total["no tests"]
    if judged:
        lo, hi = clopper_pearson(caught, judged)
        print(f"| **all** | {total['mutants']} | {total['mutants'] - total['not run']} | {total['killed']} | "
              f"{total['timeout']} | {total['survived']} | {total['no tests']} | {total['equivalent']} | "
              f"{caught / judged:.1%} | {lo:.0%} to {hi:.0%} (pooled) |")
    if sample:
        print(f"\nsample: {sample['per_module']} random mutants per module (seed {sample['seed']}), drawn "
              f"{sample['date']}; the interval is Clopper-Pearson's for the module's score given its sample")
    if a.survivors:
        print("\nsurvivors:\n" + "\n".join(survivors))


if __name__ == "__main__":
    main()
