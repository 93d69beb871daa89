"""Collapse and diversity of generated samples, each against the same measure of real data.

A collapsed generator writes (near-)copies: all-pad strings, one string, one symbol, or
strings that differ only here and there (the 2018 seed's `PPP2P2...` pattern), and digits
of one or two classes. Counting exact duplicates misses near-copies, so diversity is
measured, and compared with the same instrument applied to the training data.
"""
from __future__ import annotations

from collections import Counter

import numpy as np


def _runs(row: np.ndarray) -> list[tuple[int, int]]:
    """(symbol, run length) of each maximal run in a row."""
    if len(row) == 0:
        return []
    change = np.flatnonzero(np.diff(row) != 0)
    ends = np.concatenate([change, [len(row) - 1]])
    starts = np.concatenate([[0], change + 1])
    return [(int(row[s]), int(e - s + 1)) for s, e in zip(starts, ends)]


def hamming_diversity(idx: np.ndarray, pad: int, rng, pairs: int = 2000) -> float | None:
    """Mean normalised Hamming distance between random pairs of distinct padded rows: the
    positions that differ over the positions where either row has a symbol. Dividing by the
    pair's extent rather than the canvas length keeps pad-heavy training strings (a 40-symbol
    molecule on a 116-row canvas) comparable with samples that fill the canvas."""
    n = len(idx)
    if n < 2:
        return None
    a = rng.integers(n, size=pairs)
    b = (a + rng.integers(1, n, size=pairs)) % n  # never the same row
    differ = (idx[a] != idx[b]).sum(1)
    extent = ((idx[a] != pad) | (idx[b] != pad)).sum(1)
    return float(np.where(extent > 0, differ / np.maximum(extent, 1), 0.0).mean())


def position_entropy(idx: np.ndarray, vocab_size: int) -> float:
    """Entropy (bits) of the symbol at each position, averaged over positions."""
    counts = np.stack([np.bincount(col, minlength=vocab_size) for col in idx.T]).astype(float)
    p = counts / counts.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log2(p), 0.0).sum(1)
    return float(h.mean())


def vocab_share(idx: np.ndarray, pad: int, vocab_size: int) -> float:
    """Share of the non-pad symbols that occur anywhere in the samples."""
    used = set(np.unique(idx).tolist()) - {pad}
    return len(used) / max(1, vocab_size - 1)


def smiles_diversity(idx: np.ndarray, pad: int, vocab_size: int, rng) -> dict:
    return {"hamming_diversity": hamming_diversity(idx, pad, rng), "position_entropy": position_entropy(idx, vocab_size),
            "vocab_share": vocab_share(idx, pad, vocab_size)}


def smiles_collapse(idx: np.ndarray, pad: int, vocab_size: int, reference: dict, rng, *, top_share: float,
                    pad_share: float, symbol_share: float, diversity: float) -> dict:
    """Collapse indicators of token rows [N, L] (argmax or sampled reading), with `reference`
    = `smiles_diversity` of the training rows. The rule is written next to the flag."""
    is_pad = idx == pad
    all_pad = is_pad.all(1)
    sym_runs, pad_runs, inside, top_sym = [], [], [], []
    for row, empty in zip(idx, all_pad):
        last = len(row) - 1 - int(np.argmax(~(row == pad)[::-1])) if not empty else -1
        runs = _runs(row[: last + 1])
        sym_runs.append(max((k for s, k in runs if s != pad), default=0))
        pad_runs.append(max((k for s, k in runs if s == pad), default=0))  # pads before the last symbol
        inside.append(pad_runs[-1] > 0)
        if not empty:
            symbols = row[row != pad]
            top_sym.append(Counter(symbols.tolist()).most_common(1)[0][1] / len(symbols))
    outputs = Counter(map(bytes, idx.astype(np.int16)))
    res = {
        "all_pad_share": float(all_pad.mean()),
        "pad_inside_share": float(np.mean(inside)),
        "pad_run_max": int(max(pad_runs)),
        "symbol_run_max": int(max(sym_runs)),
        "symbol_run_mean": float(np.mean(sym_runs)),
        "top_output_share": outputs.most_common(1)[0][1] / len(idx),
        "distinct_outputs": len(outputs),
        "top_symbol_share_median": float(np.median(top_sym)) if top_sym else None,
        **smiles_diversity(idx, pad, vocab_size, rng),
    }
    for k, ratio in (("hamming_diversity", "hamming_ratio"), ("position_entropy", "entropy_ratio"),
                     ("vocab_share", "vocab_ratio")):
        ref = reference.get(k)
        res[ratio] = None if res[k] is None or not ref else res[k] / ref
    rules = {
        f"all_pad_share >= {pad_share}": res["all_pad_share"] >= pad_share,
        f"top_output_share >= {top_share}": res["top_output_share"] >= top_share,
        f"top_symbol_share_median >= {symbol_share}": (res["top_symbol_share_median"] or 0.0) >= symbol_share,
        f"hamming_ratio < {diversity}": res["hamming_ratio"] is not None and res["hamming_ratio"] < diversity,
    }
    return {**res, **_flag(rules)}


def feature_diversity(feats: np.ndarray, rng, pairs: int = 2000) -> float | None:
    """Mean Euclidean distance between random pairs of distinct samples in a feature space."""
    n = len(feats)
    if n < 2:
        return None
    a = rng.integers(n, size=pairs)
    b = (a + rng.integers(1, n, size=pairs)) % n
    return float(np.linalg.norm(feats[a] - feats[b], axis=1).mean())


def digit_collapse(classes_covered: int, diversity_value: float | None, reference: float | None, *,
                   min_classes: int, diversity: float) -> dict:
    """Digits collapse when few classes come out or they are near-copies in the classifier's
    feature space (diversity against real held-out digits through the same canvas path)."""
    ratio = None if diversity_value is None or not reference else diversity_value / reference
    rules = {f"classes_covered < {min_classes}": classes_covered < min_classes,
             f"diversity_ratio < {diversity}": ratio is not None and ratio < diversity}
    return {"diversity": diversity_value, "diversity_ratio": ratio, **_flag(rules)}


def _flag(rules: dict[str, bool]) -> dict:
    return {"collapsed": any(rules.values()), "collapsed_rule": " or ".join(rules),
            "collapsed_because": " and ".join(r for r, hit in rules.items() if hit) or None}
