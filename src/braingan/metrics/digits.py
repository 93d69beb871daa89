"""Digit metrics on the MNIST classifier: Inception-style score, Frechet distance in its
penultimate features, class coverage, confidence, per-class accuracy."""
from __future__ import annotations

import numpy as np

from .frechet import frechet_distance


def classifier_score(probs: np.ndarray, split_size: int) -> tuple[float, float]:
    """exp(E_x[KL(p(y|x) || p(y))]) over consecutive splits of `split_size` samples, p(y)
    taken within each split (mean, std over splits). At most 10.

    The score grows with the split size, so every set compared is scored with the same
    split size; a trailing partial split is dropped. Callers pass samples in random order
    (class-sorted input would put one class in each split).
    """
    k = len(probs) // split_size
    if k < 1:
        raise ValueError(f"{len(probs)} samples cannot fill one split of {split_size}")
    eps = 1e-12
    scores = []
    for part in np.split(probs[: k * split_size], k):
        py = part.mean(0, keepdims=True)
        kl = (part * (np.log(part + eps) - np.log(py + eps))).sum(1)
        scores.append(float(np.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


def class_coverage(probs: np.ndarray, min_share: float = 0.01) -> int:
    """How many classes receive at least `min_share` of the argmax predictions."""
    counts = np.bincount(probs.argmax(1), minlength=10)
    return int((counts >= max(1, min_share * len(probs))).sum())


def digit_metrics(probs: np.ndarray, feats: np.ndarray, ref_feats: np.ndarray, split_size: int, classes=None) -> dict:
    mean, std = classifier_score(probs, split_size)
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
