"""SMILES metrics with the MOSES definitions, and collapse detection.

Validity counts every sample: a string is valid when it is non-empty after stripping the
pad symbol AND RDKit parses and sanitises it (RDKit accepts "", so an all-pad output
must be excluded explicitly). Uniqueness and novelty are over the valid ones, canonical.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from ..data.smiles import PAD, mol_from
from . import timed


def canonical(smiles: list[str]) -> list[str | None]:
    """Canonical SMILES for each valid input, None for each invalid one."""
    out = []
    for s in smiles:
        m = mol_from(s.replace(PAD, ""))
        out.append(Chem.MolToSmiles(m) if m is not None else None)
    return out


def validity(smiles: list[str]) -> float:
    return sum(c is not None for c in canonical(smiles)) / max(1, len(smiles))


def fraction_unique(valid_canonical: list[str], k: int | None = None) -> float:
    """MOSES unique@k: distinct share among the first k valid canonical SMILES."""
    sub = valid_canonical[:k] if k else valid_canonical
    return len(set(sub)) / len(sub) if sub else 0.0


def novelty(valid_canonical: list[str], train_canonical: set[str]) -> float:
    """MOSES novelty: share of the distinct valid samples not in the training set."""
    uniq = set(valid_canonical)
    return len(uniq - train_canonical) / len(uniq) if uniq else 0.0


def internal_diversity(valid_canonical: list[str], chunk: int = 2048) -> float:
    """MOSES IntDiv1: 1 - mean pairwise Tanimoto (Morgan r=2, 1024 bits), self-pairs included."""
    if not valid_canonical:
        return 0.0
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    fps = np.zeros((len(valid_canonical), 1024), dtype=np.float32)
    for i, s in enumerate(valid_canonical):
        DataStructs.ConvertToNumpyArray(gen.GetFingerprint(Chem.MolFromSmiles(s)), fps[i])
    counts = fps.sum(1)
    total = 0.0
    for i in range(0, len(fps), chunk):  # chunks keep the N x N matrix out of memory
        inter = fps[i : i + chunk] @ fps.T
        union = counts[i : i + chunk, None] + counts[None, :] - inter
        total += float(np.where(union > 0, inter / np.maximum(union, 1), 1.0).sum())
    return 1.0 - total / len(fps) ** 2


def fcd_score(gen_valid: list[str], ref_valid: list[str], max_n: int) -> float | None:
    """FCD (ChemNet weights shipped inside the `fcd` package) on canonical valid SMILES.

    None when either side has fewer than 2 molecules (no covariance to compare)."""
    gen_valid, ref_valid = gen_valid[:max_n], ref_valid[:max_n]
    if len(gen_valid) < 2 or len(ref_valid) < 2:
        return None
    import torch
    from fcd import get_fcd, load_ref_model

    threads = torch.get_num_threads()
    try:
        return float(get_fcd(gen_valid, ref_valid, load_ref_model(), device="cpu"))
    finally:
        torch.set_num_threads(threads)


def collapse(idx: np.ndarray, pad: int, top_share_max: float, pad_share_max: float) -> dict:
    """Collapse indicators from token indices [N, L] (argmax of each canvas row).

    collapsed := all_pad_share >= pad_share_max  OR  top_share >= top_share_max
    """
    n, L = idx.shape
    is_pad = idx == pad
    all_pad = is_pad.all(1)
    # last non-pad position per row; a pad before it is a pad *inside* the string
    last = np.where(all_pad, -1, L - 1 - np.argmax(~is_pad[:, ::-1], axis=1))
    inside = np.array([is_pad[i, : last[i]].any() if last[i] > 0 else False for i in range(n)])
    runs = np.array([_longest_run(idx[i, : last[i] + 1]) for i in range(n)])
    outputs = Counter(map(bytes, idx.astype(np.int16)))
    top = outputs.most_common(1)[0][1] / n
    res = {
        "all_pad_share": float(all_pad.mean()),
        "pad_inside_share": float(inside.mean()),
        "longest_run_max": int(runs.max()),
        "longest_run_mean": float(runs.mean()),
        "top_output_share": float(top),
        "distinct_outputs": len(outputs),
    }
    res["collapsed"] = bool(res["all_pad_share"] >= pad_share_max or top >= top_share_max)
    res["collapsed_rule"] = f"all_pad_share >= {pad_share_max} or top_output_share >= {top_share_max}"
    return res


def _longest_run(row: np.ndarray) -> int:
    if len(row) == 0:
        return 0
    change = np.flatnonzero(np.diff(row) != 0)
    bounds = np.concatenate([[-1], change, [len(row) - 1]])
    return int(np.diff(bounds).max())


def smiles_metrics(smiles: list[str], train_canonical: set[str], ref_valid: list[str] | None,
                   fcd: bool, fcd_max: int, timings: dict | None = None) -> tuple[dict, list[str | None]]:
    """All MOSES-style metrics of one sample list; returns (metrics, canonical-or-None per sample)."""
    with timed(timings, "validity"):
        can = canonical(smiles)
        valid = [c for c in can if c is not None]
    with timed(timings, "uniqueness_novelty"):
        m = {
            "n": len(smiles),
            "validity": len(valid) / max(1, len(smiles)),
            "unique_at_1000": fraction_unique(valid, 1000),
            "unique": fraction_unique(valid),
            "novelty": novelty(valid, train_canonical),
        }
    with timed(timings, "internal_diversity"):
        m["int_div"] = internal_diversity(valid)
    if fcd and ref_valid is not None:
        with timed(timings, "fcd"):
            m["fcd"] = fcd_score(valid, ref_valid, fcd_max)
            m["fcd_n"] = min(len(valid), fcd_max)
    return m, can
