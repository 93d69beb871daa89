"""A known answer from the MOSES paper: the "Train" row, recomputed by this project's MOSES
metrics (metrics/moses.py) on a random sample of the MOSES training set against its test and
scaffold-test sets, beside the published values. Prints numbers; asserts nothing.

    python benchmarks/moses_train_row.py [--n 30000] [--seed 0] [--log]
    python benchmarks/moses_train_row.py --doc docs/results.md   # the logged row, tabled

FCD falls as the sample grows, so a sample's FCD to the test set is printed beside the
size-matched reference: the FCD of an equally large random sample of the test set itself to
the whole test set (what a perfect model scores at this sample size). With --log the row is an
MLflow run (tag braingan.moses_row = train) that the README's MOSES table reads; --doc writes
the newest such run's table between FILE's `<!-- moses-train:start/end -->` markers.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from braingan.data import moses as data  # noqa: E402
from braingan.data import sources  # noqa: E402
from braingan.metrics import moses  # noqa: E402
from braingan.metrics.distribution import ChemNet  # noqa: E402

# The published "Train" row (README of molecularsets/moses; Novelty 1.0 there was typed in by
# hand, commit 252353c: by its definition the training set's novelty is 0) and the tolerance
# each reproduction is held to, with why.
PUBLISHED = {
    "valid": (1.0, 0.0, "every MOSES molecule parses"),
    "unique@10k": (1.0, 0.0, "the training set holds no duplicate"),
    "FCD/Test": (0.008, None, "depends on the sample size (not stated in MOSES): judged against the size-matched "
                              "reference below"),
    "FCD/TestSF": (0.4755, 0.05, "the scaffold-test set differs from training by construction; sample-size bias "
                                 "as above, small beside 0.48"),
    "SNN/Test": (0.6419, 0.005, "a mean over 30,000 molecules of a bounded similarity: sampling error ~0.001"),
    "SNN/TestSF": (0.5859, 0.005, "as SNN/Test"),
    "Frag/Test": (1.0, 0.001, "cosine of fragment counts of two large samples of one distribution"),
    "Frag/TestSF": (0.9986, 0.002, "as Frag/Test"),
    "Scaf/Test": (0.9907, 0.01, "scaffold counts are sparser than fragment counts: larger sampling error"),
    "Scaf/TestSF": (0.0, 0.0, "no scaffold of the scaffold-test set is in the training set, by construction"),
    "IntDiv": (0.8567, 0.002, "a mean over all pairs of 30,000 molecules"),
    "IntDiv2": (0.8508, 0.002, "as IntDiv"),
    "Filters": (1.0, 0.0, "the MOSES set was built with these filters"),
    "Novelty": (1.0, None, "0 by definition for training molecules (the published 1.0 was typed in by hand); "
                           "today's RDKit writes a few training molecules in another canonical form than the "
                           "set's (4 of the 30,000 of seed 0), which then count as new"),
}
NOVELTY_DRIFT = 0.001  # the share of training molecules whose canonical form may have drifted


def table(m: dict, floor: float, n: int) -> list[str]:
    """The published Train row beside `m` (MOSES names), each within its tolerance or not."""
    lines = [f"| metric | published Train | this code, n = {n:,} | tolerance | within | why this tolerance |",
             "|---|---|---|---|---|---|"]
    for name, (want, tol, why) in PUBLISHED.items():
        got = m.get(name)
        if name == "FCD/Test":
            ok = got is not None and got <= 2 * floor
            tol_txt = f"<= 2 x the size-matched reference {floor:.4f}"
        elif tol is None:
            ok, tol_txt = got is not None and got <= NOVELTY_DRIFT, f"0 by definition; <= {NOVELTY_DRIFT}"
        else:
            ok, tol_txt = got is not None and abs(got - want) <= tol, f"± {tol}"
        lines.append(f"| {name} | {want} | {got:.4f} | {tol_txt} | {'yes' if ok else 'NO'} | {why} |")
    lines += ["", f"Size-matched FCD reference: {n:,} random test molecules against the whole test set: {floor:.4f}."]
    return lines


def logged_row() -> tuple[dict, float, int, str]:
    """The newest finished Train row in the store: its MOSES metrics, FCD reference, n and run id."""
    from mlflow.tracking import MlflowClient

    from braingan.tracking import EXPERIMENT, tracking_uri

    c = MlflowClient(tracking_uri())
    exp = c.get_experiment_by_name(EXPERIMENT)
    runs = c.search_runs([exp.experiment_id] if exp else [], "tags.`braingan.moses_row` = 'train' and "
                         "attributes.status = 'FINISHED'", order_by=["attributes.start_time DESC"], max_results=1)
    if not runs:
        sys.exit("moses_train_row.py: no Train row in the store; run it with --log first")
    r = runs[0]
    m = {k.removeprefix("eval.moses.").replace("_at_", "@"): v for k, v in r.data.metrics.items()}
    return m, m.pop("fcd_size_matched_reference"), int(r.data.params["n"]), r.info.run_id


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=30000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log", action="store_true", help="log the row to the MLflow store")
    ap.add_argument("--doc", metavar="FILE", help="compute nothing: table the store's newest row into FILE")
    a = ap.parse_args()
    if a.doc:
        from braingan.compare import replace_block

        m, floor, n, run_id = logged_row()
        lines = table(m, floor, n) + ["", f"MLflow run `{run_id}`; `python benchmarks/moses_train_row.py --log`."]
        Path(a.doc).write_text(replace_block(Path(a.doc).read_text(), "\n".join(lines) + "\n", "moses-train"))
        print("\n".join(lines))
        return
    t0 = time.time()
    split = {s: data.split_smiles(data.read_member(data.MEMBERS[s])) for s in data.SPLITS}
    filters = moses.Filters(*(data.read_member(m).decode() for m in data.FILTERS.values()))
    net = ChemNet()
    cache = sources.cache_dir() / "moses-stats"
    refs = {"Test": moses.reference_stats(split["test"], cache, net),
            "TestSF": moses.reference_stats(split["test_scaffolds"], cache, net)}
    print(f"reference statistics: {time.time() - t0:.0f} s (cached in {cache})", flush=True)
    rng = random.Random(a.seed)
    sample = rng.sample(split["train"], a.n)
    t1 = time.time()
    m = moses.metrics(sample, refs, set(split["train"]), filters, net)
    print(f"metrics of {a.n} training molecules: {time.time() - t1:.0f} s", flush=True)
    floor_sample = rng.sample(split["test"], a.n)
    floor = moses.frechet_to_stats(net.activations(floor_sample), refs["Test"]["mu"], refs["Test"]["sigma"])
    print("\n" + "\n".join(table(m, floor, a.n)))
    if a.log:
        from braingan.tracking import Run, context_tags

        run = Run(tags={"braingan.moses_row": "train"})
        run.start(name="moses-train-row", params={"n": a.n, "seed": a.seed}, tags=context_tags())
        run.log_metrics({f"eval.moses.{k}".replace("@", "_at_"): v for k, v in m.items() if v is not None}, flush=True)
        run.log_metrics({"eval.moses.fcd_size_matched_reference": floor}, flush=True)
        run.end("FINISHED")
        print(f"logged as MLflow run {run.run_id}")


if __name__ == "__main__":
    main()
