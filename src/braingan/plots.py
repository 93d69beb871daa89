"""Pictures: the canvas examples, digit grids, molecule grids."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def digit_grid(images: np.ndarray, title: str = "", labels=None, ncol: int = 10):
    """[N,H,W] in [0,1] -> a figure of an ncol-wide grid, drawn as one tiled image: 100 labelled
    digits drawn and saved in 0.25-0.33 s, against 1.9-2.1 s with one matplotlib axes per digit."""
    n, (h, w) = len(images), (images.shape[1:] if len(images) else (28, 28))
    nrow = max(1, -(-n // ncol))
    top = 8 if labels is not None else 0  # room for a label above each digit, in pixels
    cell_h, cell_w = h + top + 2, w + 2
    mosaic = np.full((nrow * cell_h, ncol * cell_w), np.nan)  # NaN: the white space between digits
    for i in range(n):
        r, c = divmod(i, ncol)
        mosaic[r * cell_h + top + 1: r * cell_h + top + 1 + h, c * cell_w + 1: c * cell_w + 1 + w] = images[i]
    fig, ax = plt.subplots(figsize=(ncol * 0.9, nrow * 0.9 + 0.4))
    ax.imshow(mosaic, cmap=plt.get_cmap("gray").with_extremes(bad="white"), vmin=0, vmax=1, aspect="auto",
              interpolation="nearest")
    ax.axis("off")
    for i in range(n if labels is not None else 0):
        r, c = divmod(i, ncol)
        ax.text(c * cell_w + cell_w / 2, r * cell_h + top - 1, str(labels[i]), ha="center", va="bottom", fontsize=6)
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.4 / (nrow * 0.9 + 0.4))
    return fig


def message(text: str):
    """A picture that says why there is no picture (DVC expects every declared output)."""
    fig, ax = plt.subplots(figsize=(6, 1))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=10)
    return fig


def molecule_grid(smiles: list[str], path, legends: list[str] | None = None, n: int = 24, title: str = "") -> int:
    """Draw up to n valid molecules with RDKit into a PNG (legend: raw string -> SMILES);
    returns how many were drawn."""
    from rdkit import Chem
    from rdkit.Chem import Draw

    from .fsutil import atomic_path

    drawn = [(m, legends[i] if legends else Chem.MolToSmiles(m)[:30])
             for i, m in enumerate(Chem.MolFromSmiles(s) if s else None for s in smiles) if m is not None][:n]
    if drawn:
        img = Draw.MolsToGridImage([m for m, _ in drawn], molsPerRow=6, subImgSize=(220, 220),
                                   legends=[legend for _, legend in drawn])
    else:  # an honest empty picture: nothing valid to draw
        from PIL import Image, ImageDraw

        img = Image.new("RGB", (600, 120), "white")
        ImageDraw.Draw(img).text((10, 50), f"no valid molecule among the samples {title}", fill="black")
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")
    return len(drawn)


def descriptor_histograms(gen: dict, train: dict):
    """Each descriptor of the KL score (and heavy atoms): generated over training, as densities."""
    names = [k for k in gen if k in train]
    ncol = 4
    nrow = -(-len(names) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.4 * nrow), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, name in zip(axes.ravel(), names):
        ax.axis("on")
        both = np.concatenate([gen[name], train[name]])
        bins = np.linspace(both.min(), both.max() + 1e-9, 30) if len(both) else 10
        ax.hist(train[name], bins=bins, density=True, alpha=0.5, label="training", color="tab:blue")
        if len(gen[name]):
            ax.hist(gen[name], bins=bins, density=True, alpha=0.5, label="generated", color="tab:orange")
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"Descriptors of {len(gen.get('MolWt', []))} generated (valid) vs {len(train.get('MolWt', []))} "
                 "training molecules", fontsize=9)
    fig.tight_layout()
    return fig


def position_frequencies(gen_idx: np.ndarray, train_idx: np.ndarray, symbols: list[str]):
    """Heat maps of how often each symbol occurs at each position: generated next to training.
    A collapsed generator shows a few bright columns (symbols) instead of the data's spread."""
    V = len(symbols)
    fig, axes = plt.subplots(1, 2, figsize=(12, max(3.0, 0.16 * V + 1)), sharey=True)
    for ax, idx, name in ((axes[0], gen_idx, "generated (argmax)"), (axes[1], train_idx, "training")):
        freq = np.stack([np.bincount(col, minlength=V) for col in idx.T]).T / len(idx)  # [V, L]
        im = ax.imshow(freq, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"{name}: symbol frequency per position", fontsize=9)
        ax.set_xlabel("position (canvas row)", fontsize=8)
    axes[0].set_yticks(range(V), [s if len(s) < 12 else s[:11] + "~" for s in symbols], fontsize=5)
    fig.colorbar(im, ax=axes, shrink=0.8)
    return fig
def canvas_examples(digits, labels, smiles_onehots, smiles: list[str], shape):
    """Digits on the canvas (top) and SMILES as one-hot rows (bottom), for preprocess."""
    n = max(len(digits), len(smiles_onehots))
    fig, axes = plt.subplots(2, n, figsize=(2 * n, 5.5), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, (c, label) in enumerate(zip(digits, labels)):
        axes[0, i].imshow(c, cmap="gray", vmin=0, vmax=1, aspect="auto")
        axes[0, i].set_title(f"digit {label}", fontsize=8)
    for i, (o, s) in enumerate(zip(smiles_onehots, smiles)):
        axes[1, i].imshow(o, cmap="Blues", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        axes[1, i].set_title(s[:28] + ("..." if len(s) > 28 else ""), fontsize=6)
    fig.suptitle(f"The shared {shape[0]}x{shape[1]} canvas: digits (top), molecules as one-hot rows (bottom)", fontsize=9)
    return fig
