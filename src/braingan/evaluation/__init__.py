"""Stage `evaluate`: N samples per trained task, each metric beside a reference measured
with the same instrument, on the same terms (the same path, the same sample size, drawn
at random, since the data files are sorted by class). This package computes and returns
an `Evaluation`; `recorder.py` writes it (files and MLflow).

- digits (`digits.py`): generated canvases and real digits both go through the canvas
  round trip; the classifier score of both uses the same split size; the Frechet floor
  compares random training digits with held-out ones at the generated sample's size;
- molecules (`molecules.py`): every sample is decoded through its encoding; read two ways,
  by argmax per row and by sampling each row (as training fed the critic); the references
  (training-set sampler without replacement, random-symbol sampler of the same encoding)
  take the same decoding and metrics; FCD is judged against training subsets of the same size.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import paths, plots
from ..config import Config, flatten
from ..data.dataset import Processed
from ..errors import DataError
from ..fsutil import figure_png
from ..generator import Generator
from ..models import MNIST, SMILES
from . import digits, molecules, moses

# The numbers a person compares runs by: short name -> key in metrics.json. The recorder logs
# them as `Headline/<name>` (they sort together in the MLflow UI) and writes headline.json.
HEADLINE = {
    "digit_score_ratio": "digits.score_ratio", "digit_fd_ratio": "digits.frechet_over_floor",
    "digit_class_acc": "digits.class_accuracy", "digit_collapsed": "digits.collapsed",
    "mol_valid": "smiles.validity", "mol_valid_sampled": "smiles.sampled.validity", "mol_unique": "smiles.unique",
    "mol_novel": "smiles.novelty", "mol_kl_score": "smiles.kl_score", "mol_fcd_score": "smiles.fcd_score",
    "mol_fcd_ratio": "smiles.fcd_ratio", "mol_heavy_atoms": "smiles.heavy_atoms_mean",
    "mol_heavy_ratio": "smiles.heavy_atoms_ratio", "mol_collapsed": "smiles.collapsed",
}
PICTURES = ("digits.png", "molecules.png", "descriptors.png", "positions.png")


@dataclass
class Evaluation:
    """What `evaluate` measured: metrics.json, the pictures, the samples table, timings."""

    metrics: dict
    figures: dict[str, bytes]  # file name -> PNG bytes, PICTURES in that order
    smiles_rows: list[tuple]  # smiles.csv, header molecules.CSV_HEADER
    timings: dict[str, float]
    descriptors: dict[str, dict] = field(default_factory=dict)  # what descriptors.png draws: label -> descriptors

    @property
    def headline(self) -> dict[str, float]:
        return headline(self.metrics)


def run(cfg: Config, data: Processed, generator: Generator, classifier_net,
        references: Path = paths.PROCESSED / "references") -> Evaluation:
    """Every metric of the project's protocol; with `evaluate.protocol: moses`, the MOSES metrics
    too, under `moses` (against the benchmark's `references`)."""
    e = cfg.evaluate
    if generator.shape != data.shape or generator.vocab.symbols != data.vocab.symbols:
        raise DataError(f"the generator was trained on a {list(generator.shape)} canvas / other vocabulary than the "
                        "processed data; re-run train")
    timings: dict[str, float] = {}
    rng = np.random.default_rng(cfg.seed)
    metrics: dict = {"n_samples": e.n_samples}
    refs: dict = {}
    figures: dict[str, bytes] = {}
    if MNIST in generator.tasks:
        metrics["digits"], refs["digits"], figures["digits.png"] = digits.evaluate(generator, data, classifier_net, cfg,
                                                                                  rng, timings)
    else:
        figures["digits.png"] = figure_png(plots.digit_grid(data.heldout_images[:20] / 255.0,
                                                            "no digits: this model was not trained on MNIST"))
    rows, sets = [], {}
    if SMILES in generator.tasks:
        mol = molecules.evaluate(generator, data, cfg, rng, timings)
        metrics["smiles"], refs["smiles"], rows, sets = mol.metrics, mol.references, mol.rows, mol.descriptors
        valid = [r for r in rows if r[0] == "argmax" and r[4]]
        figures["molecules.png"] = plots.molecule_grid_png([r[3] for r in valid],
                                                           legends=[f"{r[1][:24]}\n-> {r[3][:24]}" for r in valid])
        figures["descriptors.png"] = figure_png(plots.descriptor_histograms(sets))
        figures["positions.png"] = figure_png(plots.position_frequencies(mol.tokens, data.smiles_train_idx,
                                                                         data.vocab.symbols))
    else:
        figures["molecules.png"] = plots.molecule_grid_png([], title="(model not trained on SMILES)")
        for name in ("descriptors.png", "positions.png"):
            figures[name] = figure_png(plots.message("no molecules: this model was not trained on SMILES"))
    metrics["reference"] = refs
    if e.protocol == "moses" and SMILES in generator.tasks:
        metrics["moses"] = moses.evaluate(generator, cfg, references, timings)
    for k, v in sorted(timings.items()):
        print(f"  {k:28s} {v:8.2f} s", file=sys.stderr)
    return Evaluation(json_safe(metrics), {k: figures[k] for k in PICTURES}, rows,
                      {k: round(v, 3) for k, v in timings.items()}, sets)


def json_safe(obj):
    """Plain JSON values: numpy scalars as Python ones, non-finite floats as None."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return json_safe(obj.item())
    return obj


def headline(metrics: dict) -> dict[str, float]:
    """The headline numbers of metrics.json by their short names (booleans as 0/1, undefined left out)."""
    flat = flatten(metrics)
    return {name: float(flat[key]) for name, key in HEADLINE.items() if isinstance(flat.get(key), (int, float))}
