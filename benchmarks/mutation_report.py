"""The per-module table of a mutmut run (read from mutants/**/*.meta) and the survivors.

    python benchmarks/mutation_report.py [--survivors]

Two lists in benchmarks/ set survivors apart, each line `pattern  # reason` (fnmatch patterns
over mutant names):
- mutation_equivalent.txt: no behaviour can differ; left out of the score;
- mutation_import_time.txt: code that runs while a module is imported (dataclass field
  builders, registry decorators), before mutmut switches a mutant on, so no test can see the
  mutant; reported, and counted as survivors in the score.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATUS = {1: "killed", 3: "killed", 0: "survived", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout",
          255: "timeout", 5: "no tests", 33: "no tests", 34: "skipped", None: "not checked"}


def patterns(name: str) -> dict[str, str]:
    """pattern -> reason, from benchmarks/<name>."""
    out = {}
    path = ROOT / "benchmarks" / name
    for line in path.read_text().splitlines() if path.exists() else []:
        pattern, _, why = line.partition("#")
        if pattern.strip():
            out[pattern.strip()] = why.strip()
    return out


def _match(name: str, pats: dict[str, str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in pats)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    a = ap.parse_args()
    eq, imp = patterns("mutation_equivalent.txt"), patterns("mutation_import_time.txt")
    rows, survivors = [], []
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        module = str(meta.relative_to(ROOT / "mutants")).removesuffix(".meta")
        c = Counter()
        for k, v in codes.items():
            status = STATUS.get(v, "suspicious")
            if status == "survived" and _match(k, eq):
                status = "equivalent"
            elif status == "survived" and _match(k, imp):
                status = "import-time"
            elif status == "survived":
                survivors.append(k)
            c[status] += 1
        rows.append((module, c))
    total = Counter()
    print("| module | mutants | killed | timeout | survived | import-time | no tests | equivalent | not checked | score |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for module, c in rows + [("**all**", None)]:
        if c is None:
            c = total
        else:
            total.update(c)
        caught = c["killed"] + c["timeout"]
        judged = caught + c["survived"] + c["import-time"] + c["no tests"]
        score = f"{caught / judged:.1%}" if judged else "–"
        print(f"| {module} | {sum(c.values())} | {c['killed']} | {c['timeout']} | {c['survived']} | {c['import-time']} | "
              f"{c['no tests']} | {c['equivalent']} | {c['not checked']} | {score} |")
    print("\nscore = (killed + timeout) / (killed + timeout + survived + import-time + no tests), over the mutants "
          "checked; equivalent mutants left out")
    if a.survivors:
        print("\nsurvivors:\n" + "\n".join(survivors))


if __name__ == "__main__":
    main()
