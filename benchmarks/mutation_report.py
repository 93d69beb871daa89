"""The per-module table of a mutmut run (read from mutants/**/*.meta) and the survivors.

    python benchmarks/mutation_report.py [--survivors]
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATUS = {1: "killed", 3: "killed", 0: "survived", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout",
          255: "timeout", 5: "no tests", 33: "no tests", 34: "skipped", None: "not checked"}


def equivalent() -> dict[str, str]:
    """mutant name -> why no behaviour can differ (one per line: `name  # reason`)."""
    out = {}
    path = ROOT / "benchmarks" / "mutation_equivalent.txt"
    for line in path.read_text().splitlines() if path.exists() else []:
        name, _, why = line.partition("#")
        if name.strip():
            out[name.strip()] = why.strip()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    a = ap.parse_args()
    eq = equivalent()
    rows, survivors = [], []
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        module = str(meta.relative_to(ROOT / "mutants")).removesuffix(".meta")
        c = Counter("equivalent" if k in eq and STATUS.get(v, "suspicious") == "survived" else STATUS.get(v, "suspicious")
                    for k, v in codes.items())
        survivors += [k for k, v in codes.items() if STATUS.get(v) == "survived" and k not in eq]
        rows.append((module, c))
    total = Counter()
    print("| module | mutants | killed | survived | timeout | equivalent | no tests | score |")
    print("|---|---|---|---|---|---|---|---|")
    for module, c in rows + [("**all**", None)]:
        if c is None:
            c = total
        else:
            total.update(c)
        judged = c["killed"] + c["survived"] + c["timeout"] + c["no tests"]
        score = (c["killed"] + c["timeout"]) / judged if judged else float("nan")
        print(f"| {module} | {sum(c.values())} | {c['killed']} | {c['survived']} | {c['timeout']} | {c['equivalent']} | "
              f"{c['no tests']} | {score:.1%} |")
    print("\nscore = (killed + timeout) / (killed + timeout + survived + no tests); equivalent mutants left out")
    if a.survivors:
        print("\nsurvivors:\n" + "\n".join(survivors))


if __name__ == "__main__":
    main()
