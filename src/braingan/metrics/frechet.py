"""The Frechet distance between two feature sets, modelled as Gaussians: the digits' FID-style
distance (classifier features) and the molecules' FCD (ChemNet activations) alike."""
from __future__ import annotations

import numpy as np


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The Frechet distance of two feature sets [N, D], each modelled as a Gaussian."""
    return frechet_gaussians(a.mean(0), np.atleast_2d(np.cov(a, rowvar=False)),
                             b.mean(0), np.atleast_2d(np.cov(b, rowvar=False)))


def frechet_gaussians(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2)).

    Tr((S_1 S_2)^(1/2)) is the sum of the square roots of the eigenvalues of S_1^(1/2) S_2 S_1^(1/2),
    a matrix similar to S_1 S_2 but symmetric and positive semi-definite. Two symmetric eigen-
    decompositions give it faster than scipy's sqrtm of the unsymmetric product, with no complex
    round-off, and singular covariances (dead ReLU units, constant features) need no
    regularising: their zero eigenvalues add nothing."""
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(w.clip(min=0))) @ v.T  # round-off can make a zero eigenvalue slightly negative
    tr_covmean = np.sqrt(np.linalg.eigvalsh(root1 @ s2 @ root1).clip(min=0)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def size_matched(a_pool: np.ndarray, b: np.ndarray, n: int, draws: int, rng) -> float | None:
    """Mean Frechet distance of `draws` random n-row subsets of `a_pool` (without replacement)
    to `b`: the reference a sample of n rows must be judged against, since the distance of
    a sample grows as it shrinks. None when n < 2."""
    n = min(n, len(a_pool))
    if n < 2:
        return None
    return float(np.mean([frechet_distance(a_pool[rng.choice(len(a_pool), n, replace=False)], b)
                          for _ in range(draws)]))
