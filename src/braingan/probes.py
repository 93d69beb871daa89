"""Cheap readings of a generator while it trains, every `train.sample_every` steps, on a few
hundred samples per task, each against real data measured the same way at the same size:

- quality probes, cheap versions of the headline metrics (see evaluation/): the digits'
  classifier score over that of real held-out digits (the same split size) and the share of
  digits of the asked class; the molecules' validity, KL score (GuacaMol's definition, against
  training molecules; the nearest-neighbour term against a training subset of the same size;
  0, its floor, where fewer than 2 molecules are valid) and heavy atoms over the training mean;
- collapse indicators (metrics/collapse.py): digit classes covered, feature diversity of the
  digits and Hamming diversity of the molecule strings over real data's, all-pad share,
  vocabulary share;
- `probe_s`: what the readings cost, to keep them a small share of training time.

Fewer samples make these noisier than `evaluate`'s numbers, and the KL score of a smaller
set is lower: compare a probe only with the same probe (benchmarks/time_to_quality.py does).
"""
from __future__ import annotations

import time

import numpy as np

from . import classifier as clf
from .data import canvas as cv
from .data.dataset import Processed
from .generator import Generator
from .metrics import collapse as col
from .metrics import digits as dm
from .metrics import distribution as dist
from .metrics import smiles as sm
from .models import MNIST, SMILES

# every name `Probes.measure` can return (history.csv columns; MLflow `monitor.<name>`)
KEYS = ("probe_digit_score_ratio", "probe_digit_class_acc", "digit_classes_covered", "digit_diversity_ratio",
        "probe_mol_valid", "probe_mol_kl_score", "probe_mol_heavy_ratio", "smiles_diversity_ratio",
        "smiles_all_pad_share", "smiles_vocab_share", "probe_s")
SPLIT = 50  # samples per split of the classifier score (evaluate.score_split's default)


class Probes:
    N = 400  # samples per task
    REFERENCE = 1000  # training molecules whose descriptors the KL score compares with

    def __init__(self, data: Processed, net, seed: int):
        self.data, self.net, self.seed = data, net, seed
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(data.heldout_images))[: self.N]  # random: the data are class-sorted
        real = cv.round_trip(data.heldout_images[order], data.shape, data.mode)
        probs, feats = clf.predict(net, real)
        self.digit_ceiling = dm.classifier_score(probs, min(SPLIT, len(probs)))[0]
        self.digit_ref = col.feature_diversity(feats, rng)
        rows = data.smiles_train_idx[rng.permutation(len(data.smiles_train_idx))[: self.N]]
        self.smiles_ref = col.hamming_diversity(rows, data.vocab.pad, rng)
        pick = rng.permutation(len(data.smiles_train))[: self.REFERENCE]  # a million molecules are not read
        train = [c for c in sm.canonical([data.smiles_train[i] for i in pick]) if c]
        self.train_desc = dist.descriptors(train, nn_similarity=False)
        self.train_nn = dist.nearest_neighbour_similarity(train[: self.N])

    def measure(self, g: Generator) -> dict[str, float]:
        t0 = time.perf_counter()
        rng, vocab, out = np.random.default_rng(self.seed), self.data.vocab, {}
        if MNIST in g.tasks:
            s = g.sample(MNIST, self.N, self.seed + 2)
            order = rng.permutation(self.N)  # the score's splits must not follow the class cycle
            probs, feats = clf.predict(self.net, s.images[order])
            out["probe_digit_score_ratio"] = dm.classifier_score(probs, min(SPLIT, self.N))[0] / self.digit_ceiling
            if g.model.conditioning == "task+class":
                out["probe_digit_class_acc"] = float((probs.argmax(1) == s.classes[order]).mean())
            out["digit_classes_covered"] = dm.class_coverage(probs)
            out["digit_diversity_ratio"] = col.feature_diversity(feats, rng) / max(self.digit_ref, 1e-12)
        if SMILES in g.tasks:
            s = g.sample(SMILES, self.N, self.seed + 3)
            idx = s.tokens
            valid = [c for c in sm.canonical(s.smiles()) if c]
            out["probe_mol_valid"] = len(valid) / self.N
            if len(valid) >= 2:
                desc = dist.descriptors(valid)
                ref = {**self.train_desc, dist.NN_SIMILARITY: self.train_nn}
                out["probe_mol_kl_score"] = dist.kl_score(ref, desc)[0]
                out["probe_mol_heavy_ratio"] = dist.heavy_atoms(desc, self.train_desc)["heavy_atoms_ratio"]
            else:  # no distribution to compare: the score's floor. Left out, a mean of the tasks' probes
                out["probe_mol_kl_score"] = 0.0  # (tune.quality) read the digits alone, above any model with molecules
            out["smiles_diversity_ratio"] = col.hamming_diversity(idx, vocab.pad, rng) / max(self.smiles_ref, 1e-12)
            out["smiles_all_pad_share"] = float((idx == vocab.pad).all(1).mean())
            out["smiles_vocab_share"] = col.vocab_share(idx, vocab.pad, len(vocab))
        out["probe_s"] = time.perf_counter() - t0
        return out
