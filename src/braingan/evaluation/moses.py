"""`evaluate.protocol: moses`: the MOSES benchmark's own terms, beside (not instead of) the
project's metrics. `evaluate.moses_samples` molecules (MOSES: 30,000) are drawn from the
generator, decoded through their encoding, and scored with metrics/moses.py against the
benchmark's test and scaffold-test sets and its whole training set, which stages fetch and
preprocess pass on in data/processed/references/ (source `moses`). Reference statistics are cached per machine."""
from __future__ import annotations

from pathlib import Path

from ..config import Config
from ..data import sources
from ..errors import DataError
from ..generator import Generator
from ..metrics import distribution as dist
from ..metrics import moses
from ..metrics import timed
from ..models import SMILES
from .molecules import subset

REFERENCES = {"Test": "test.txt", "TestSF": "test_scaffolds.txt"}  # MOSES's names -> files of stage fetch


def evaluate(g: Generator, cfg: Config, references: Path, timings: dict) -> dict:
    """The MOSES metrics of `evaluate.moses_samples` generated molecules, under MOSES's names."""
    need = [references / f for f in (*REFERENCES.values(), "train.txt", "mcf.csv", "wehi_pains.csv")]
    missing = [str(p) for p in need if not p.is_file()]
    if missing:
        raise DataError(f"evaluate.protocol moses: {missing[0]} is missing; it needs the MOSES references that "
                        "stage fetch writes with fetch.smiles.source moses")
    chemnet = dist.ChemNet()
    cap = cfg.evaluate.moses_reference_max
    with timed(timings, "moses_references"):
        refs = {name: moses.reference_stats(subset(read_lines(references / f), cap or 10**9, cfg.seed),
                                            sources.cache_dir() / "moses-stats", chemnet)
                for name, f in REFERENCES.items()}
        train = set(read_lines(references / "train.txt"))
        filters = moses.Filters((references / "mcf.csv").read_text(), (references / "wehi_pains.csv").read_text())
    with timed(timings, "moses_generate"):
        gen = g.sample(SMILES, cfg.evaluate.moses_samples, cfg.seed + 4).smiles()
    with timed(timings, "moses_metrics"):
        out = moses.metrics(gen, refs, train, filters, chemnet)
    out["protocol"] = "MOSES" if not cap else f"not MOSES's: reference sets cut to {cap} molecules each"
    return out


def read_lines(path: Path) -> list[str]:
    return [s for s in path.read_text(encoding="utf-8").split("\n") if s]
