"""Digit metrics on the MNIST classifier: Inception-style score, Frechet distance in its
penultimate features, class coverage, confidence."""
from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg


def classifier_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """exp(E_x[KL(p(y|x) || p(y))]) averaged over `splits` consecutive splits (mean, std). Max 10.

    The splits are taken in the given order, as in the original Inception Score code, so
    callers pass samples in random order (`evaluation` shuffles them with a fixed seed).
    """
    eps = 1e-12
    scores = []
    for part in np.array_split(probs, splits):
        if len(part) == 0:
            continue
        py = part.mean(0, keepdims=True)
        kl = (part * (np.log(part + eps) - np.log(py + eps))).sum(1)
        scores.append(float(np.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of two feature sets [N, D]."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # dead ReLU units make the covariances singular; handled below
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():  # near-singular product: regularise, as in the TTUR code
        off = np.eye(len(s1)) * 1e-6
        covmean = linalg.sqrtm((s1 + off) @ (s2 + off))
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def class_coverage(probs: np.ndarray, min_share: float = 0.01) -> int:
    """How many classes receive at least `min_share` of the argmax predictions."""
    counts = np.bincount(probs.argmax(1), minlength=10)
    return int((counts >= max(1, min_share * len(probs))).sum())


def digit_metrics(probs: np.ndarray, feats: np.ndarray, ref_feats: np.ndarray, classes=None) -> dict:
    mean, std = classifier_score(probs)
    m = {
        "classifier_score": mean,
        "classifier_score_std": std,
        "frechet": frechet_distance(feats, ref_feats),
        "classes_covered": class_coverage(probs),
        "mean_confidence": float(probs.max(1).mean()),
    }
    if classes is not None:
        pred = probs.argmax(1)
        m["class_accuracy"] = float((pred == classes).mean())
        for k in range(10):
            if (classes == k).any():
                m[f"class_accuracy_{k}"] = float((pred[classes == k] == k).mean())
    return m
