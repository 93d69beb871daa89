"""The per-module table of a mutmut run (read from mutants/**/*.meta) and the survivors.

    python benchmarks/mutation_report.py [--survivors]

Where only a random sample of the remaining mutants was run (mutants/sample.json, written by
benchmarks/mutation_sample.py), the last column estimates the score over every mutant: exact
over the mutants checked outside the sample's frame, and the frame's share from its sample
(a stratified ratio estimate per module, with a 95 % interval over all modules).

benchmarks/mutation_equivalent.txt sets apart the survivors where no behaviour can differ,
each line `pattern  # reason` (fnmatch patterns over mutant names); they are left out of the
score.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import math
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
    eq = patterns("mutation_equivalent.txt")
    sample_file = ROOT / "mutants" / "sample.json"
    sample = json.loads(sample_file.read_text()) if sample_file.exists() else None
    frame = set(sample["frame"]) if sample else set()
    drawn_set, pending = set(sample["sample"]) if sample else set(), 0
    costly = set(sample.get("costly", [])) if sample else set()
    rows, survivors, strata = [], [], []
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        module = str(meta.relative_to(ROOT / "mutants")).removesuffix(".meta")
        c, exact, drawn = Counter(), Counter(), {False: [], True: []}
        for k, v in codes.items():
            status = STATUS.get(v, "suspicious")
            if status == "survived" and _match(k, eq):
                status = "equivalent"
            elif status == "survived":
                survivors.append(k)
            c[status] += 1
            if k not in frame:
                exact[status] += 1
            elif k in drawn_set:  # a sampled mutant: (caught, judged); one not run yet counts as a survivor
                pending += status == "not checked"
                drawn[k in costly].append((status in ("killed", "timeout"), status != "equivalent"))
        rows.append((module, c))
        # strata: this module's frame below and above the cost cut (mutation_sample.py --shrink)
        strata.append([(_caught_judged(exact), sum(k in frame and k not in costly for k in codes), drawn[False]),
                       ((0, 0), sum(k in costly for k in codes), drawn[True])])
    total = Counter()
    print("| module | mutants | killed | timeout | survived | no tests | equivalent | not checked | score |"
          + (" estimated score, all |" if sample else ""))
    print("|---|---|---|---|---|---|---|---|---|" + ("---|" if sample else ""))
    for (module, c), stratum in zip(rows + [("**all**", None)], strata + [None]):
        if c is None:
            c = total
        else:
            total.update(c)
        caught, judged = _caught_judged(c)
        score = f"{caught / judged:.1%}" if judged else "–"
        line = (f"| {module} | {sum(c.values())} | {c['killed']} | {c['timeout']} | {c['survived']} | "
                f"{c['no tests']} | {c['equivalent']} | {c['not checked']} | {score} |")
        if sample:
            est, half = _estimate([st for m in strata for st in m] if stratum is None else stratum)
            line += f" {est:.1%} ± {half:.1%} |" if est is not None else " – |"
        print(line)
    print("\nscore = (killed + timeout) / (killed + timeout + survived + no tests), over the mutants "
          "checked; equivalent mutants left out")
    if sample:
        n_costly = sum(k in costly for k in drawn_set)
        split = (f"{len(drawn_set) - n_costly} of the {len(frame) - len(costly)} whose tests take under "
                 f"{sample['cost_cut']:.0f} s and {n_costly} of the {len(costly)} above" if costly else
                 f"{len(drawn_set)} (seed {sample['seed']})")
        print(f"estimated score, all: exact over the mutants checked outside the frame, plus the frame's "
              f"{len(frame)} mutants estimated from a random sample of them: {split}; ± is a 95 % interval"
              + (f"; {pending} sampled mutants had not run, counted as survivors (a lower bound)" if pending else ""))
    if a.survivors:
        print("\nsurvivors:\n" + "\n".join(survivors))


def _caught_judged(c: Counter) -> tuple[int, int]:
    caught = c["killed"] + c["timeout"]
    return caught, caught + c["survived"] + c["no tests"]


def _estimate(strata) -> tuple[float | None, float]:
    """Stratified ratio estimate of caught / judged: each module's exact counts plus its frame
    scaled up from its sample of (caught, judged) pairs, and the half-width of a 95 % interval
    (linearised variance of the ratio, with the finite-population correction)."""
    caught = judged = 0.0
    for (c_exact, j_exact), n_frame, drawn in strata:
        n = len(drawn)
        caught += c_exact + (n_frame * sum(y for y, _ in drawn) / n if n else 0)
        judged += j_exact + (n_frame * sum(x for _, x in drawn) / n if n else 0)
    if not judged:
        return None, 0.0
    r = caught / judged
    var = 0.0
    for _, n_frame, drawn in strata:
        n = len(drawn)
        if n > 1:
            d = [y - r * x for y, x in drawn]
            s2 = sum((v - sum(d) / n) ** 2 for v in d) / (n - 1)
            var += n_frame**2 * (1 - n / n_frame) * s2 / n
    return r, 1.96 * math.sqrt(var) / judged


if __name__ == "__main__":
    main()
