"""The Frechet distance between two feature sets, modelled as Gaussians: the digits' FID-style
distance (classifier features) and the molecules' FCD (ChemNet activations) alike."""
from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of two feature sets [N, D]."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():  # dead ReLU units make the covariances singular; handled below
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm(s1 @ s2)
        if not np.isfinite(covmean).all():  # near-singular product: regularise, as in the TTUR code
            off = np.eye(len(s1)) * 1e-6
            covmean = linalg.sqrtm((s1 + off) @ (s2 + off))
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def size_matched(a_pool: np.ndarray, b: np.ndarray, n: int, draws: int, rng) -> float | None:
    """Mean Frechet distance of `draws` random n-row subsets of `a_pool` (without replacement)
    to `b`: the reference a sample of n rows must be judged against, since the distance of
    a sample grows as it shrinks. None when n < 2."""
    n = min(n, len(a_pool))
    if n < 2:
        return None
    return float(np.mean([frechet_distance(a_pool[rng.choice(len(a_pool), n, replace=False)], b)
                          for _ in range(draws)]))
