"""Cheap readings of a generator while it trains, every `train.sample_every` steps: the
collapse indicators of both tasks, each against real data measured the same way (see
metrics/collapse.py), on a few hundred samples per task."""
from __future__ import annotations

import numpy as np

from . import classifier as clf
from .data import canvas as cv
from .data.dataset import Processed
from .generator import Generator
from .metrics import collapse as col
from .metrics import digits as dm
from .models import MNIST, SMILES


# every name `Probes.measure` can return (history.csv columns; MLflow `monitor.<name>`)
KEYS = ("digit_classes_covered", "digit_diversity_ratio", "smiles_diversity_ratio", "smiles_all_pad_share",
        "smiles_vocab_share")


class Probes:
    N = 200  # samples per task

    def __init__(self, data: Processed, net, seed: int):
        self.data, self.net, self.seed = data, net, seed
        rng = np.random.default_rng(seed)
        real = cv.round_trip(data.heldout_images[: self.N], data.shape, data.mode)
        self.digit_ref = col.feature_diversity(clf.predict(net, real)[1], rng)
        rows = data.smiles_train_idx[rng.permutation(len(data.smiles_train_idx))[: self.N]]
        self.smiles_ref = col.hamming_diversity(rows, data.vocab.pad, rng)

    def measure(self, g: Generator) -> dict[str, float]:
        rng, vocab, out = np.random.default_rng(self.seed), self.data.vocab, {}
        if MNIST in g.tasks:
            s = g.sample(MNIST, self.N, self.seed + 2)
            probs, feats = clf.predict(self.net, s.images)
            out["digit_classes_covered"] = dm.class_coverage(probs)
            out["digit_diversity_ratio"] = col.feature_diversity(feats, rng) / max(self.digit_ref, 1e-12)
        if SMILES in g.tasks:
            idx = g.sample(SMILES, self.N, self.seed + 3).tokens
            out["smiles_diversity_ratio"] = col.hamming_diversity(idx, vocab.pad, rng) / max(self.smiles_ref, 1e-12)
            out["smiles_all_pad_share"] = float((idx == vocab.pad).all(1).mean())
            out["smiles_vocab_share"] = col.vocab_share(idx, vocab.pad, len(vocab))
        return out
