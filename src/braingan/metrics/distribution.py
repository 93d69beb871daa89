"""Distribution-learning metrics: how well generated molecules match the training ones.

Validity can hold by construction (every SELFIES string decodes to a molecule), so the
quality of a generator is shown by these instead:
- KL score, GuacaMol's definition (Brown et al. 2019): for nine RDKit descriptors and the
  internal nearest-neighbour Tanimoto similarity, KL(training || generated), continuous
  ones through Gaussian KDEs on a 1,000-point grid, discrete ones through 10-bin
  histograms on the training values' range; score = mean of exp(-KL). Unlike GuacaMol,
  which samples unique molecules by design, the generated side keeps duplicates, so a
  collapsed generator scores low.
- FCD (Frechet ChemNet distance, weights shipped in the `fcd` package) and its score
  exp(-0.2 FCD).
- Heavy-atom counts: random SELFIES decode to tiny molecules, and these numbers show it.
"""
from __future__ import annotations

import numpy as np
from rdkit import Chem
from rdkit.Chem import Descriptors
from scipy.stats import entropy, gaussian_kde

from .frechet import frechet_distance
from .smiles import fingerprints, tanimoto

CONTINUOUS = ("BertzCT", "MolLogP", "MolWt", "TPSA")
DISCRETE = ("NumHAcceptors", "NumHDonors", "NumRotatableBonds", "NumAliphaticRings", "NumAromaticRings")
NN_SIMILARITY = "internal_similarity"
SMALL = 5  # heavy atoms: "a molecule this small is barely one"


def descriptors(smiles: list[str], nn_similarity: bool = True) -> dict[str, np.ndarray]:
    """The nine descriptors, heavy atoms, and the nearest-neighbour similarity within the set."""
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    out = {name: np.array([float(getattr(Descriptors, name)(m)) for m in mols]) for name in CONTINUOUS + DISCRETE}
    for v in out.values():
        v[~np.isfinite(v)] = 0.0  # as GuacaMol: a descriptor RDKit cannot compute counts as 0
    if nn_similarity:
        out[NN_SIMILARITY] = nearest_neighbour_similarity(smiles)
    out["heavy_atoms"] = np.array([m.GetNumHeavyAtoms() for m in mols], dtype=float)
    return out


def nearest_neighbour_similarity(smiles: list[str], chunk: int = 2048) -> np.ndarray:
    """Each molecule's highest Tanimoto similarity (ECFP4-like, 4096 bits) to another one of the set."""
    if len(smiles) < 2:
        return np.zeros(len(smiles))
    fps = fingerprints(smiles, bits=4096)
    best = np.zeros(len(fps))
    for i in range(0, len(fps), chunk):
        sim = tanimoto(fps[i : i + chunk], fps)
        sim[np.arange(len(sim)), np.arange(i, i + len(sim))] = -1.0  # not itself
        best[i : i + chunk] = sim.max(1)
    return best


def _density(x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    if np.ptp(x) == 0:  # one value only (a collapsed set): a narrow spike where KDE is undefined
        width = 1e-3 * max(1.0, abs(float(x[0])), float(np.ptp(grid)))
        return np.exp(-0.5 * ((grid - x[0]) / width) ** 2)
    return gaussian_kde(x)(grid)


def continuous_kl(p: np.ndarray, q: np.ndarray) -> float:
    both = np.concatenate([p, q])
    grid = np.linspace(both.min(), both.max(), 1000)
    return float(entropy(_density(p, grid) + 1e-10, _density(q, grid) + 1e-10))


def discrete_kl(p: np.ndarray, q: np.ndarray) -> float:
    counts_p, bins = np.histogram(p, bins=10)
    counts_q, _ = np.histogram(q, bins=bins)  # values outside the training range fall away, as in GuacaMol
    norm = lambda c: c / c.sum() if c.sum() else c.astype(float)  # noqa: E731
    return float(entropy(norm(counts_p) + 1e-10, norm(counts_q) + 1e-10))


def kl_score(ref: dict[str, np.ndarray], gen: dict[str, np.ndarray]) -> tuple[float | None, dict]:
    """(mean of exp(-KL) over the ten terms, KL per term); None when either side has < 2 molecules."""
    if len(gen["MolWt"]) < 2 or len(ref["MolWt"]) < 2:
        return None, {}
    kl = {n: continuous_kl(ref[n], gen[n]) for n in CONTINUOUS + (NN_SIMILARITY,)}
    kl.update({n: discrete_kl(ref[n], gen[n]) for n in DISCRETE})
    return float(np.mean([np.exp(-v) for v in kl.values()])), kl


def heavy_atoms(gen: dict[str, np.ndarray], ref: dict[str, np.ndarray]) -> dict:
    h = gen["heavy_atoms"]
    if not len(h):
        return {"heavy_atoms_mean": None, "heavy_atoms_ratio": None, "small_share": None}
    mean = float(h.mean())
    return {"heavy_atoms_mean": mean, "heavy_atoms_ratio": mean / float(ref["heavy_atoms"].mean()),
            "small_share": float((h <= SMALL).mean())}


class ChemNet:
    """The FCD's network (weights inside the `fcd` package), loaded once, on the CPU."""

    DIM = 512  # activations per molecule

    def __init__(self):
        self._model = None

    def activations(self, smiles: list[str]) -> np.ndarray:
        import torch
        from fcd import get_predictions, load_ref_model

        if not smiles:
            return np.zeros((0, self.DIM), dtype=np.float32)
        threads = torch.get_num_threads()
        try:
            if self._model is None:
                self._model = load_ref_model()
            return get_predictions(self._model, smiles, device="cpu")
        finally:
            torch.set_num_threads(threads)  # fcd's loader changes them


class ActivationPool:
    """ChemNet activations of a list of molecules, computed for the rows asked for and kept.
    A size-matched FCD reference (frechet.size_matched) reads only its random draws from the
    training set: at small sample sizes a few hundred of its thousands of molecules (each costs
    350 LSTM steps: fcd pads every molecule to 350 symbols, so its activations do not depend on
    the batch it is in, up to float32 round-off)."""

    def __init__(self, chemnet: ChemNet, smiles: list[str]):
        self.chemnet, self.smiles = chemnet, list(smiles)
        self.rows = np.zeros((len(self.smiles), ChemNet.DIM), dtype=np.float32)
        self.done = np.zeros(len(self.smiles), dtype=bool)

    def __len__(self) -> int:
        return len(self.smiles)

    def __getitem__(self, idx) -> np.ndarray:
        idx = np.asarray(idx)
        todo = np.unique(idx[~self.done[idx]])
        if len(todo):
            self.rows[todo] = self.chemnet.activations([self.smiles[i] for i in todo])
            self.done[todo] = True
        return self.rows[idx]


def fcd(act_gen: np.ndarray, act_ref: np.ndarray) -> float | None:
    """FCD of two activation sets; None when either has fewer than 2 molecules."""
    return frechet_distance(act_gen, act_ref) if len(act_gen) >= 2 and len(act_ref) >= 2 else None


def fcd_score(value: float | None) -> float | None:
    return None if value is None else float(np.exp(-0.2 * value))
