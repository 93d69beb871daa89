"""SMILES metrics with the MOSES definitions, on SMILES already decoded through their
encoding (None for a sample that is no string: an inner pad, an undecodable token list).

Validity counts every sample: valid when the decoded string is non-empty AND RDKit parses
and sanitises it (RDKit accepts "", so an all-pad output must be excluded explicitly).
Uniqueness, novelty and internal diversity are over the valid ones, canonical, and are
None when there are too few valid molecules to define them.
"""
from __future__ import annotations

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from ..data.smiles import mol_from


def canonical(smiles: list[str | None]) -> list[str | None]:
    """Canonical SMILES for each valid input, None for each invalid one. Every metric reads the
    canonical form, so one that RDKit writes but cannot read back (its round trip fails on a few
    odd aromatic rings) counts as invalid, not as a molecule no descriptor can be computed on."""
    out = []
    for s in smiles:
        m = mol_from(s)
        c = Chem.MolToSmiles(m) if m is not None else None
        out.append(c if c is not None and Chem.MolFromSmiles(c) is not None else None)
    return out


def validity(smiles: list[str | None]) -> float:
    return sum(c is not None for c in canonical(smiles)) / max(1, len(smiles))


def fraction_unique(valid_canonical: list[str], k: int | None = None) -> float | None:
    """MOSES unique@k: distinct share among the first k valid canonical SMILES; None when
    there are fewer than k (MOSES refuses then) or none at all."""
    if not valid_canonical or (k is not None and len(valid_canonical) < k):
        return None
    sub = valid_canonical[:k] if k else valid_canonical
    return len(set(sub)) / len(sub)


def novelty(valid_canonical: list[str], train_canonical: set[str]) -> float | None:
    """MOSES novelty: share of the distinct valid samples not in the training set."""
    uniq = set(valid_canonical)
    return len(uniq - train_canonical) / len(uniq) if uniq else None


def fingerprints(smiles: list[str], bits: int = 1024) -> np.ndarray:
    """Morgan radius-2 bit vectors as a float32 matrix [N, bits]."""
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=bits)
    fps = np.zeros((len(smiles), bits), dtype=np.float32)
    for i, s in enumerate(smiles):
        DataStructs.ConvertToNumpyArray(gen.GetFingerprint(Chem.MolFromSmiles(s)), fps[i])
    return fps


def tanimoto(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise Tanimoto similarity of two bit matrices (1 for two empty fingerprints)."""
    inter = a @ b.T
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def internal_diversity(valid_canonical: list[str], chunk: int = 2048) -> float | None:
    """MOSES IntDiv1: 1 - mean pairwise Tanimoto (Morgan r=2, 1024 bits), self-pairs included."""
    if not valid_canonical:
        return None
    fps = fingerprints(valid_canonical)
    total = sum(float(tanimoto(fps[i : i + chunk], fps).sum()) for i in range(0, len(fps), chunk))
    return 1.0 - total / len(fps) ** 2
