"""Pictures: the canvas examples, digit grids, molecule grids, descriptor and position plots."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def digit_grid(images: np.ndarray, title: str = "", read=None, asked=None, ncol: int = 10):
    """[N, 28, 28] in [0, 1] -> a figure of an ncol-wide grid of square digits, drawn as one
    tiled image (one matplotlib axes per digit is several times slower). Above each digit:
    the classifier's label (`read`), after the asked class (`asked`) where there is one:
    "7>7" in green, "7>1" in red."""
    n, (h, w) = len(images), (images.shape[1:] if len(images) else (28, 28))
    nrow = max(1, -(-n // ncol))
    labelled = read is not None or asked is not None
    top = 9 if labelled else 0  # room for a label above each digit, in pixels
    cell_h, cell_w = h + top + 2, w + 2
    mosaic = np.full((nrow * cell_h, ncol * cell_w), np.nan)  # NaN: the white space between digits
    for i in range(n):
        r, c = divmod(i, ncol)
        mosaic[r * cell_h + top + 1: r * cell_h + top + 1 + h, c * cell_w + 1: c * cell_w + 1 + w] = images[i]
    scale = 0.032  # inches per pixel: square pixels, so a digit looks as the classifier reads it
    fig, ax = plt.subplots(figsize=(ncol * cell_w * scale, nrow * cell_h * scale + 0.4))
    ax.imshow(mosaic, cmap=plt.get_cmap("gray").with_extremes(bad="white"), vmin=0, vmax=1, aspect="equal",
              interpolation="nearest")
    ax.axis("off")
    for i in range(n if labelled else 0):
        r, c = divmod(i, ncol)
        if asked is None:
            text, color = str(read[i]), "black"
        elif read is None:
            text, color = f"{asked[i]}>?", "black"
        else:
            text, color = f"{asked[i]}>{read[i]}", "tab:green" if asked[i] == read[i] else "tab:red"
        ax.text(c * cell_w + cell_w / 2, r * cell_h + top - 0.5, text, ha="center", va="bottom", fontsize=6,
                color=color)
    fig.suptitle(title, fontsize=8)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.4 / (nrow * cell_h * scale + 0.4))
    return fig


def message(text: str):
    """A picture that says why there is no picture (DVC expects every declared output)."""
    fig, ax = plt.subplots(figsize=(6, 1))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=10)
    return fig


def molecule_grid_png(smiles: list[str | None], legends: list[str] | None = None, n: int = 24,
                      title: str = "") -> bytes:
    """Up to n of the molecules that RDKit reads, drawn in a grid (legend: raw string -> SMILES),
    as PNG bytes; a picture that says so where none is valid."""
    from rdkit import Chem
    from rdkit.Chem import Draw

    drawn = [(m, legends[i] if legends else Chem.MolToSmiles(m)[:30])
             for i, m in enumerate(Chem.MolFromSmiles(s) if s else None for s in smiles) if m is not None][:n]
    if drawn:
        img = Draw.MolsToGridImage([m for m, _ in drawn], molsPerRow=6, subImgSize=(220, 220),
                                   legends=[legend for _, legend in drawn])
    else:  # an honest empty picture: nothing valid to draw
        from PIL import Image, ImageDraw

        img = Image.new("RGB", (600, 120), "white")
        ImageDraw.Draw(img).text((10, 50), f"no valid molecule among the samples {title}", fill="black")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def descriptor_histograms(sets: dict[str, dict]):
    """Each descriptor of the KL score (and heavy atoms) as densities, one colour per set of
    molecules; `sets` maps a label (what the set is) to its descriptors. The legend and the
    title give each set's size."""
    names = [k for k in next(iter(sets.values())) if all(k in d for d in sets.values())]
    ncol = 4
    nrow = -(-len(names) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.4 * nrow), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    colors = ["tab:blue", "tab:orange", "tab:grey", "tab:green"]
    for ax, name in zip(axes.ravel(), names):
        ax.axis("on")
        both = np.concatenate([d[name] for d in sets.values()])
        bins = np.linspace(both.min(), both.max() + 1e-9, 30) if len(both) else 10
        for (label, d), color in zip(sets.items(), colors):
            if len(d[name]):
                ax.hist(d[name], bins=bins, density=True, alpha=0.45, label=f"{label} ({len(d[name])})", color=color)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
    axes[0, 0].legend(fontsize=6)
    fig.suptitle("Descriptors of " + " vs ".join(f"{len(d.get('MolWt', []))} {label}" for label, d in sets.items()),
                 fontsize=9)
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
