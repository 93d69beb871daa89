"""The MOSES metrics (Polykovskiy et al. 2020, "Molecular Sets (MOSES): a benchmarking platform
for molecular generation models"), by the definitions of its reference code (molsets 0.3.1,
`moses/metrics/metrics.py` and `utils.py`):

- valid: share of the generated strings that RDKit parses and sanitises (an empty string is
  invalid); every other metric is over the valid ones, canonical, duplicates kept;
- unique@k: distinct share among the first k valid molecules (all of them, with a warning,
  when there are fewer than k);
- FCD: Frechet ChemNet distance to the reference set's activations (the `fcd` package's ChemNet);
- SNN: mean over generated molecules of the highest Tanimoto similarity to a reference molecule
  (Morgan radius 2, 1,024 bits);
- Frag / Scaf: cosine similarity of the counts of BRICS fragments / of Bemis-Murcko scaffolds
  with at least two rings, generated against reference;
- IntDiv_p: 1 - mean over molecules of (mean Tanimoto similarity^p to every molecule of the
  set, itself included)^(1/p); IntDiv is p = 1, IntDiv2 p = 2;
- Filters: share that passes MOSES's filters: no ring of 8 or more atoms, no charged atom, only
  C N S O F Cl Br H, no match of its MCF and PAINS SMARTS (files of the molsets wheel);
- Novelty: share of the distinct valid molecules not in the training set.

Reference sides (a test set's fingerprints, fragment and scaffold counts, ChemNet statistics)
are computed once per reference set and cached under a key of what they depend on: the
sha256 of the reference strings and the definition's version (`reference_stats`).
"""
from __future__ import annotations

import hashlib
import io
import json
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from rdkit import Chem
from rdkit.Chem import AllChem, rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold

from .smiles import tanimoto

VERSION = 1  # of the reference statistics below: bump when a definition changes, so caches are not reused
ALLOWED_ATOMS = {"C", "N", "S", "O", "F", "Cl", "Br", "H"}
N_BITS = 1024


def get_mol(smiles: str | None):
    """MOSES's get_mol: RDKit parse and sanitise; None for anything else, the empty string included."""
    if not smiles:
        return None
    return Chem.MolFromSmiles(smiles)


def valid_canonical(gen: list[str | None]) -> tuple[float, list[str]]:
    """(valid, the valid molecules as canonical SMILES in their order, duplicates kept)."""
    can = [Chem.MolToSmiles(m) for m in map(get_mol, gen) if m is not None]
    return (len(can) / len(gen) if gen else 0.0), can


def unique_at(can: list[str], k: int) -> float | None:
    if not can:
        return None
    if len(can) < k:
        warnings.warn(f"unique@{k}: only {len(can)} valid molecules; computed on those (as MOSES does)")
    sub = can[:k]
    return len(set(sub)) / len(sub)


def novelty(can: list[str], train: set[str]) -> float | None:
    uniq = set(can)
    return len(uniq - train) / len(uniq) if uniq else None


def fingerprints(mols: list) -> np.ndarray:
    """Morgan radius-2, 1,024-bit vectors [N, 1024] (uint8)."""
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=N_BITS)
    return np.stack([gen.GetFingerprintAsNumPy(m) for m in mols]).astype(np.uint8) if mols else \
        np.zeros((0, N_BITS), np.uint8)


def snn(gen_fps: np.ndarray, ref_fps: np.ndarray, chunk: int = 4096) -> float | None:
    """Mean over generated molecules of their highest Tanimoto similarity to a reference one."""
    if not len(gen_fps) or not len(ref_fps):
        return None
    best = np.zeros(len(gen_fps))
    g = gen_fps.astype(np.float32)
    for j in range(0, len(ref_fps), chunk):
        r = ref_fps[j: j + chunk].astype(np.float32)
        for i in range(0, len(g), chunk):
            best[i: i + chunk] = np.maximum(best[i: i + chunk], tanimoto(g[i: i + chunk], r).max(1))
    return float(best.mean())


def int_div(fps: np.ndarray, p: int = 1, chunk: int = 4096) -> float | None:
    """1 - mean_i (mean_j T_ij^p)^(1/p) over the set, self-pairs included (MOSES IntDiv / IntDiv2)."""
    if not len(fps):
        return None
    f = fps.astype(np.float32)
    per = np.zeros(len(f))
    for i in range(0, len(f), chunk):
        per[i: i + chunk] = (tanimoto(f[i: i + chunk], f) ** p).mean(1) ** (1 / p)
    return float(1 - per.mean())


def fragments(mols: list) -> Counter:
    """BRICS fragments (with their dummy-atom attachment points) of every molecule, counted."""
    out = Counter()
    for m in mols:
        out.update(Chem.MolToSmiles(AllChem.FragmentOnBRICSBonds(m)).split("."))
    return out


def scaffold(mol, min_rings: int = 2) -> str | None:
    """The Bemis-Murcko scaffold's canonical SMILES, None below `min_rings` rings (MOSES's rule)."""
    try:
        sc = MurckoScaffold.GetScaffoldForMol(mol)
    except (ValueError, RuntimeError):
        return None
    smi = Chem.MolToSmiles(sc)
    return smi if smi and sc.GetRingInfo().NumRings() >= min_rings else None


def scaffolds(mols: list) -> Counter:
    return Counter(s for s in map(scaffold, mols) if s is not None)


def cos_similarity(ref: Counter, gen: Counter) -> float | None:
    """<r, g> / (|r| |g|) of two count vectors over the union of their keys (absent = 0)."""
    if not ref or not gen:
        return None
    keys = sorted(set(ref) | set(gen))
    r = np.array([ref.get(k, 0) for k in keys], dtype=float)
    g = np.array([gen.get(k, 0) for k in keys], dtype=float)
    return float(r @ g / (np.linalg.norm(r) * np.linalg.norm(g)))


class Filters:
    """MOSES's filters: its MCF and PAINS SMARTS (read from the molsets wheel's
    `moses/metrics/mcf.csv` and `wehi_pains.csv`) and its atom, charge and ring rules."""

    def __init__(self, mcf_csv: str, pains_csv: str):
        import csv

        smarts = [row["smarts"] for row in csv.DictReader(io.StringIO(mcf_csv))]
        smarts += [row[0] for row in csv.reader(io.StringIO(pains_csv)) if row]  # no header: smarts, name
        self.patterns = [p for p in (Chem.MolFromSmarts(s.strip()) for s in smarts) if p is not None]
        if len(self.patterns) != len(smarts):
            raise ValueError(f"{len(smarts) - len(self.patterns)} filter SMARTS do not parse")

    def passes(self, mol) -> bool:
        rings = mol.GetRingInfo()
        if any(len(r) >= 8 for r in rings.AtomRings()):
            return False
        if any(a.GetFormalCharge() != 0 for a in mol.GetAtoms()):
            return False
        if any(a.GetSymbol() not in ALLOWED_ATOMS for a in mol.GetAtoms()):
            return False
        h = Chem.AddHs(mol)
        if any(h.HasSubstructMatch(p) for p in self.patterns):
            return False
        smi = Chem.MolToSmiles(mol, isomericSmiles=False)
        return bool(smi) and Chem.MolFromSmiles(smi) is not None

    def share(self, mols: list) -> float | None:
        return float(np.mean([self.passes(m) for m in mols])) if mols else None


# ---------------------------------------------------------------- reference sides, cached
def strings_key(smiles: list[str]) -> str:
    """What a reference statistic depends on: its strings (in order) and the definitions' version."""
    h = hashlib.sha256(f"moses-stats-v{VERSION}\n".encode())
    for s in smiles:
        h.update(s.encode() + b"\n")
    return h.hexdigest()[:24]


def reference_stats(smiles: list[str], cache: Path | None, chemnet=None, chunk: int = 5_000) -> dict:
    """The reference side of FCD, SNN, Frag and Scaf for a set of (valid) SMILES: ChemNet mean and
    covariance, fingerprints, fragment and scaffold counts. Cached in `cache` under
    `strings_key`, so a 176,000-molecule test set is read once per machine."""
    key = strings_key(smiles)
    path = cache / f"moses-{key}.npz" if cache else None
    if path is not None and path.exists():
        with np.load(path, allow_pickle=False) as z:
            counts = json.loads(str(z["counts"]))
            return {"fps": z["fps"], "mu": z["mu"], "sigma": z["sigma"], "n": int(z["n"]),
                    "frag": Counter(counts["frag"]), "scaf": Counter(counts["scaf"])}
    from tqdm import tqdm

    # in parts, so a test set's half hour shows its progress and ETA; ChemNet pads every molecule to
    # the same length, so its activations do not depend on the part a molecule is in
    acts, fps, frag, scaf, n = [], [fingerprints([])], Counter(), Counter(), 0
    with tqdm(total=len(smiles), desc="MOSES reference statistics (once per machine)", unit="mol", file=sys.stderr,
              disable=len(smiles) <= chunk, mininterval=1.0, dynamic_ncols=True) as bar:
        for i in range(0, len(smiles), chunk):
            mols = [m for m in map(get_mol, smiles[i: i + chunk]) if m is not None]
            acts.append(chemnet.activations([Chem.MolToSmiles(m) for m in mols]))
            fps.append(fingerprints(mols))
            frag.update(fragments(mols))
            scaf.update(scaffolds(mols))
            n += len(mols)
            bar.update(len(smiles[i: i + chunk]))
    act = np.concatenate(acts) if acts else chemnet.activations([])
    stats = {"fps": np.concatenate(fps), "mu": act.mean(0), "sigma": np.cov(act, rowvar=False), "n": n,
             "frag": frag, "scaf": scaf}
    if path is not None:
        from ..fsutil import atomic_path

        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, fps=stats["fps"], mu=stats["mu"], sigma=stats["sigma"], n=stats["n"],
                     counts=json.dumps({"frag": stats["frag"], "scaf": stats["scaf"]}))
    return stats


def frechet_to_stats(act: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> float | None:
    """The Frechet distance of activations to a reference given by its mean and covariance."""
    from .frechet import frechet_gaussians

    if len(act) < 2:
        return None
    return frechet_gaussians(act.mean(0), np.cov(act, rowvar=False), mu, sigma)


def metrics(gen: list[str | None], refs: dict[str, dict], train: set[str], filters: Filters, chemnet,
            ks=(1000, 10000)) -> dict:
    """Every MOSES metric of the generated strings `gen`, against each reference (`refs`: name ->
    `reference_stats`, e.g. {"Test": ..., "TestSF": ...}), under MOSES's names."""
    out: dict = {}
    out["valid"], can = valid_canonical(gen)
    for k in ks:
        out[f"unique@{k // 1000}k" if k % 1000 == 0 else f"unique@{k}"] = unique_at(can, k)
    mols = [Chem.MolFromSmiles(s) for s in can]
    fps = fingerprints(mols)
    act = chemnet.activations(can) if can else np.zeros((0, 1))
    frag, scaf = fragments(mols), scaffolds(mols)
    for name, ref in refs.items():
        out[f"FCD/{name}"] = frechet_to_stats(act, ref["mu"], ref["sigma"])
        out[f"SNN/{name}"] = snn(fps, ref["fps"])
        out[f"Frag/{name}"] = cos_similarity(ref["frag"], frag)
        out[f"Scaf/{name}"] = cos_similarity(ref["scaf"], scaf)
    out["IntDiv"], out["IntDiv2"] = int_div(fps, 1), int_div(fps, 2)
    out["Filters"] = filters.share(mols)
    out["Novelty"] = novelty(can, train)
    out["n"], out["n_valid"] = len(gen), len(can)
    return out
