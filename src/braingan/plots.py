"""Pictures: digit grids, molecule grids, SMILES as text, training curves."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def digit_grid(images: np.ndarray, title: str = "", labels=None, ncol: int = 10):
    """[N,H,W] in [0,1] -> a figure of an ncol-wide grid."""
    n = len(images)
    nrow = max(1, -(-n // ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(ncol * 0.9, nrow * 0.9 + 0.4), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=1, aspect="auto")
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=6, pad=1)
    fig.suptitle(title, fontsize=9)
    return fig


def smiles_text(smiles: list[str], title: str = "", valid=None):
    fig, ax = plt.subplots(figsize=(8, 0.22 * len(smiles) + 0.6))
    ax.axis("off")
    for i, s in enumerate(smiles):
        ok = valid is None or valid[i]
        ax.text(0, 1 - (i + 0.5) / max(1, len(smiles)), (s or "(empty)")[:110], fontsize=7,
                family="monospace", color="black" if ok else "firebrick", transform=ax.transAxes, va="center")
    ax.set_title(title, fontsize=9)
    return fig


def molecule_grid(smiles: list[str], path, n: int = 24, title: str = "") -> int:
    """Draw up to n valid molecules with RDKit into a PNG; returns how many were drawn."""
    from rdkit import Chem
    from rdkit.Chem import Draw

    from .fsutil import atomic_path

    mols = [m for m in (Chem.MolFromSmiles(s) for s in smiles if s) if m is not None][:n]
    if mols:
        img = Draw.MolsToGridImage(mols, molsPerRow=6, subImgSize=(200, 200), legends=[Chem.MolToSmiles(m)[:30] for m in mols])
    else:  # an honest empty picture: nothing valid to draw
        from PIL import Image, ImageDraw

        img = Image.new("RGB", (600, 120), "white")
        ImageDraw.Draw(img).text((10, 50), f"no valid molecule among the samples {title}", fill="black")
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return len(mols)
