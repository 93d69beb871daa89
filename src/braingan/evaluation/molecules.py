"""The molecule half of `evaluate`: generated token rows decoded through their encoding and
measured, beside a training-set sampler and a random-symbol sampler measured the same way."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import Config
from ..data.dataset import Processed
from ..generator import Generator
from ..metrics import collapse as col
from ..metrics import distribution as dist
from ..metrics import smiles as sm
from ..metrics import timed
from ..metrics.frechet import size_matched
from ..models import SMILES

CSV_HEADER = ["reading", "raw", "smiles", "canonical", "valid", "novel"]
VALIDITY_NOTE = {
    "selfies": "holds by construction: every SELFIES symbol string decodes to a molecule, so validity is no "
               "evidence of learning here; judge by kl_score, fcd_ratio and heavy_atoms_ratio",
    "deepsmiles": "DeepSMILES needs no matching ring digits or parentheses, so more random strings decode "
                  "than in SMILES; judge quality by kl_score and fcd_ratio",
    "smiles": "a sample is valid when it has no pad inside, is non-empty, and RDKit parses and sanitises it",
}


@dataclass
class Measured:
    """One set of token rows through the instruments."""

    metrics: dict
    decoded: list[str | None]  # SMILES per row (None: not a molecule)
    descriptors: dict | None  # of the valid molecules measured (full measurements only)


@dataclass
class MoleculeEvaluation:
    metrics: dict
    references: dict
    rows: list[tuple]  # smiles.csv
    descriptors: dict[str, dict]  # label -> descriptors: what descriptors.png draws
    tokens: np.ndarray  # the generated rows read by argmax


class Instruments:
    """The molecule metrics, with what every set is measured against computed once."""

    def __init__(self, data: Processed, cfg: Config, rng, timings):
        self.data, self.e, self.rng, self.timings = data, cfg.evaluate, rng, timings
        with timed(timings, "smiles_setup"):
            # the whole training set for novelty (preprocess wrote it canonical unless asked not to) ...
            canonical = data.meta["params"]["preprocess"]["canonical"]
            train_all = data.smiles_train if canonical else [c for c in sm.canonical(data.smiles_train) if c]
            self.train_can = set(train_all)
            # ... and a seeded subset of at most reference_max for the distribution references (all of a small set)
            self.train_valid = subset(train_all, self.e.reference_max, cfg.seed)
            self.heldout_valid = [c for c in sm.canonical(subset(data.smiles_heldout, self.e.reference_max, cfg.seed))
                                  if c]
            self.collapse_ref = col.smiles_diversity(data.smiles_train_idx, data.vocab.pad, len(data.vocab), rng)
            self.chemnet = dist.ChemNet() if self.e.fcd else None
        with timed(timings, "descriptors"):
            self.train_desc = dist.descriptors(self.train_valid, nn_similarity=False)
        if self.chemnet:
            with timed(timings, "fcd"):
                self.act_ho = self.chemnet.activations(self.heldout_valid)
                self.act_train = dist.ActivationPool(self.chemnet, self.train_valid)  # the rows drawn

    def measure(self, idx: np.ndarray, full: bool) -> Measured:
        """Validity, uniqueness, novelty and collapse of token rows [N, L]; with `full`, also
        diversity and the distribution metrics (KL score, heavy atoms, FCD)."""
        e, vocab = self.e, self.data.vocab
        with timed(self.timings, "decode_validity"):
            decoded = vocab.decode(idx)
            can = sm.canonical(decoded)
            valid = [c for c in can if c is not None]
        m = {"n": len(idx), "n_valid": len(valid), "validity": len(valid) / len(idx),
             "unique_at_1000": sm.fraction_unique(valid, 1000), "unique": sm.fraction_unique(valid),
             "novelty": sm.novelty(valid, self.train_can)}
        with timed(self.timings, "collapse"):
            m.update(col.smiles_collapse(idx, vocab.pad, len(vocab), self.collapse_ref, self.rng,
                                         top_share=e.collapse_top_share, pad_share=e.collapse_pad_share,
                                         symbol_share=e.collapse_symbol_share, diversity=e.collapse_diversity))
        if not full:
            return Measured(m, decoded, None)
        with timed(self.timings, "internal_diversity"):
            m["int_div"] = sm.internal_diversity(valid[: e.distribution_max])
        sub = [valid[i] for i in self.rng.permutation(len(valid))[: e.distribution_max]]
        with timed(self.timings, "descriptors"):
            desc = dist.descriptors(sub)
        with timed(self.timings, "kl_score"):
            # the nearest-neighbour similarity grows with the set's size: the training side is a set of the same size
            same_size = [self.train_valid[i] for i in self.rng.permutation(len(self.train_valid))[: len(sub)]]
            ref_desc = {**self.train_desc, dist.NN_SIMILARITY: dist.nearest_neighbour_similarity(same_size)}
            m["kl_score"], m["kl"] = dist.kl_score(ref_desc, desc)
        m.update(dist.heavy_atoms(desc, self.train_desc))
        if self.chemnet:
            with timed(self.timings, "fcd"):
                act = self.chemnet.activations(sub)
                m["fcd"] = dist.fcd(act, self.act_ho)
                m["fcd_n"] = len(sub)
                m["fcd_reference"] = size_matched(self.act_train, self.act_ho, len(sub), e.ref_draws, self.rng)
                m["fcd_ratio"] = m["fcd"] / m["fcd_reference"] if m["fcd"] is not None and m["fcd_reference"] else None
                m["fcd_score"] = dist.fcd_score(m["fcd"])
        return Measured(m, decoded, desc)


def evaluate(g: Generator, data: Processed, cfg: Config, rng, timings: dict) -> MoleculeEvaluation:
    e, vocab = cfg.evaluate, data.vocab
    inst = Instruments(data, cfg, rng, timings)
    with timed(timings, "generate_smiles"):
        s = g.sample(SMILES, e.n_samples, cfg.seed + 1)
        readings = {"argmax": s.tokens, "sampled": s.sampled_tokens(rng)}
    argmax = inst.measure(readings["argmax"], full=True)
    sampled = inst.measure(readings["sampled"], full=False)
    m = {**argmax.metrics, "sampled": sampled.metrics, "validity_note": VALIDITY_NOTE[vocab.encoding.name]}
    if g.model.end_of_string:  # a number that holds by construction is said to
        m["pad_inside_note"] = "0 by construction: model.end_of_string ends every read row at its first pad"
    with timed(timings, "smiles_references"):
        n = min(e.n_samples, len(data.smiles_train_idx))
        trainset = data.smiles_train_idx[rng.choice(len(data.smiles_train_idx), n, replace=False)]
        train_round_trip = sm.validity(vocab.decode(subset(data.smiles_train_idx, e.reference_max, cfg.seed)))
        trainset_m = inst.measure(trainset, full=True)
        random_m = inst.measure(random_rows(data, e.n_samples, rng), full=True)
        ref = {"train_round_trip_validity": train_round_trip, "trainset": trainset_m.metrics,
               "random": random_m.metrics}
    rows = [(name, raw, smi or "", c or "", c is not None, bool(c and c not in inst.train_can))
            for name, idx, dec in (("argmax", readings["argmax"], argmax.decoded),
                                   ("sampled", readings["sampled"], sampled.decoded))
            for raw, smi, c in zip(vocab.raw(idx), dec, sm.canonical(dec))]
    sets = {_label("generated (valid, argmax)", argmax): argmax.descriptors, "training molecules": inst.train_desc,
            _label("random-symbol sampler (valid)", random_m): random_m.descriptors}
    return MoleculeEvaluation(m, ref, rows, sets, readings["argmax"])


def subset(items, n: int, seed: int):
    """At most n of `items` (a list or array), drawn by a generator of their own, in their order;
    all of them, untouched, when there are no more than n."""
    if len(items) <= n:
        return items
    keep = np.sort(np.random.default_rng([seed, 2]).permutation(len(items))[:n])
    return items[keep] if isinstance(items, np.ndarray) else [items[i] for i in keep]


def _label(name: str, measured: Measured) -> str:
    """What a descriptor set is: all valid molecules of the set, or a random subset of them."""
    k, n = len(measured.descriptors["MolWt"]), measured.metrics["n_valid"]
    return name if k == n else f"{name[:-1]}, {k} of {n} drawn)"


def random_rows(data: Processed, n: int, rng) -> np.ndarray:
    """The random-symbol sampler: training string lengths, symbols uniform over the vocabulary (no pad)."""
    L, pad = data.shape[0], data.vocab.pad
    lengths = (data.smiles_train_idx != pad).sum(1)
    symbols = np.array([i for i in range(len(data.vocab)) if i != pad])
    idx = np.full((n, L), pad, dtype=np.int64)
    for i, k in enumerate(rng.choice(lengths, n)):
        idx[i, :k] = rng.choice(symbols, k)
    return idx
