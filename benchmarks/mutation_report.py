"""The per-module table of a mutmut run (mutants/**/*.meta): killed / timeout / survived / no
tests / equivalent among the mutants run, the score, and an exact binomial (Clopper-Pearson)
95 % interval for the score of all of the module's mutants, the run being a random sample of
them (benchmarks/mutation_sample.py; a module run whole has its exact score).

    python benchmarks/mutation_report.py [--survivors] [--doc docs/mutation-testing.md]

benchmarks/mutation_equivalent.txt sets apart the survivors where no behaviour can differ,
each line `pattern  # reason` (fnmatch patterns over mutant names); they are left out of the
score. score = (killed + timeout) / (killed + timeout + survived + no tests).

benchmarks/mutation_killed_since.txt names, for survivors of the run, a test written after it
(`mutant  tests/file.py::test`). With --survivors each is run again here under its mutant
(mutmut's own switch, MUTANT_UNDER_TEST, over the mutated copy in mutants/src) and the list
says whether that test now kills it; the table stays the run's.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import subprocess
import sys
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


def weighted_score(scores: list[tuple[int, float]]) -> float:
    """The score of all mutants from per-module (mutants, score) pairs: modules are sampled at the
    same size whatever their size, so the pooled share of a run would over-weight the small ones."""
    return sum(n * s for n, s in scores) / sum(n for n, _ in scores)


def killed_since(mutant: str, test: str) -> bool:
    """Whether `test` fails with `mutant` switched on (the mutated sources of mutants/src)."""
    env = {**os.environ, "MUTANT_UNDER_TEST": mutant, "PYTHONPATH": str(ROOT / "mutants" / "src"),
           "OMP_NUM_THREADS": "1", "BRAINGAN_TEST_THREADS": "1"}
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                        "-o", "addopts=", test], cwd=ROOT, env=env, capture_output=True, text=True)
    return p.returncode == 1  # 1: a test failed; anything else (no test collected, an error) is not a kill


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
    ap.add_argument("--doc", help="also write the table into this Markdown file, between <!-- mutation:start/end -->")
    a = ap.parse_args()
    out: list[str] = []  # the table's lines: printed, and with --doc written into the document
    eq = equivalent()
    sample_file = ROOT / "mutants" / "sample.json"
    sample = json.loads(sample_file.read_text()) if sample_file.exists() else None
    out.append("| module | mutants | run of drawn | killed | timeout | survived | no tests | equivalent | score | "
               "95 % interval, all mutants |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    survivors, total, weighted = [], Counter(), []  # weighted: (module's mutants, its score)
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
        if judged:
            weighted.append((len(codes), caught / judged))
        drawn = sample["sizes"].get(module, [len(codes)])[0] if sample else len(codes)
        out.append(f"| {module} | {len(codes)} | {run} of {drawn} | {c['killed']} | {c['timeout']} | {c['survived']} | "
                   f"{c['no tests']} | {c['equivalent']} | {score} | {interval} |")
    if weighted:
        estimate = weighted_score(weighted)
        drawn = len(sample["sample"]) if sample else total["mutants"]
        out.append(f"| **all** | {total['mutants']} | {total['mutants'] - total['not run']} of {drawn} | "
                   f"{total['killed']} | {total['timeout']} | {total['survived']} | {total['no tests']} | {total['equivalent']} | "
                   f"{estimate:.1%} (modules weighted by their mutants) | – |")
    if sample:
        out.append(f"\nsample: {sample['per_module']} random mutants per module (seed {sample['seed']}), drawn "
                   f"{sample['date']}; the interval is Clopper-Pearson's for the module's score given its sample. "
                   "Where fewer were run than drawn, the run stopped early: mutmut runs the mutants with the "
                   "cheapest tests first, so the rest are those with the costliest tests")
    print("\n".join(out))
    if a.doc:
        from braingan.compare import replace_block

        doc = Path(a.doc)
        doc.write_text(replace_block(doc.read_text(), "\n".join(out) + "\n", "mutation"))
    if a.survivors:
        since = dict(line.split()[:2] for line in (ROOT / "benchmarks" / "mutation_killed_since.txt").read_text()
                     .splitlines() if line.strip() and not line.startswith("#"))
        print("\nsurvivors:")
        for name in survivors:
            test = since.get(name)
            verdict = "" if test is None else f"  killed since by {test}" if killed_since(name, test) else \
                f"  NOT killed by {test}"
            print(name + verdict)


if __name__ == "__main__":
    main()
