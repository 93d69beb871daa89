"""Stages `fetch` and `preprocess`: everything is computed in memory first and written
at the end (each file atomically), so an error leaves no half-written output behind.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Config
from ..fsutil import DataError, save_npz, sha256_file, write_json, write_text
from . import canvas as cv
from .smiles import PAD, Vocab, clean, symbol_counts, tokenize
from .sources import load_mnist, load_smiles

RAW, PROCESSED = Path("data/raw"), Path("data/processed")


# ------------------------------------------------------------------ fetch
def fetch(cfg: Config, raw_dir: Path = RAW, results: Path = Path("results/fetch")) -> dict:
    x, y, mnist_desc = load_mnist(cfg.fetch.mnist)
    if len(x) == 0:
        raise DataError(f"MNIST source {mnist_desc} holds no images")
    if y.min() < 0 or y.max() > 9:
        raise DataError(f"MNIST source {mnist_desc}: labels must be 0..9, found {y.min()}..{y.max()}")
    sm = load_smiles(cfg.fetch.smiles)
    save_npz(raw_dir / "mnist.npz", images=x, labels=y)
    write_text(raw_dir / "smiles.txt", "\n".join(sm.smiles) + "\n")
    metrics = {
        "mnist_images": int(len(x)),
        "mnist_classes": int(len(np.unique(y))),
        "smiles_lines": sm.lines,
        "smiles_read": len(sm.smiles),
        "smiles_blank_lines": sm.blank,
        "smiles_undecodable_lines": sm.undecodable,
    }
    sources = {
        "mnist": {"source": cfg.fetch.mnist.source, "from": mnist_desc, "sha256": sha256_file(raw_dir / "mnist.npz")},
        "smiles": {"source": cfg.fetch.smiles.source, "from": sm.source, "input_sha256": sm.sha256,
                   "sha256": sha256_file(raw_dir / "smiles.txt"), "skipped": sm.skipped_examples},
    }
    write_json(raw_dir / "sources.json", sources)
    write_json(results / "metrics.json", metrics)
    return metrics


# ------------------------------------------------------------------ preprocess
def preprocess(cfg: Config, raw_dir: Path = RAW, out_dir: Path = PROCESSED, results: Path = Path("results/preprocess")) -> dict:
    p = cfg.preprocess
    for f in ("mnist.npz", "smiles.txt"):
        if not (raw_dir / f).exists():
            raise DataError(f"{raw_dir / f} is missing: run stage fetch first (dvc repro fetch)")
    smiles_raw = (raw_dir / "smiles.txt").read_text(encoding="utf-8").split()
    try:
        smiles, rep = clean(smiles_raw, p.invalid, p.canonical, p.max_len, p.dedupe, p.halogen_tokens)
    except ValueError as e:
        raise DataError(f"{raw_dir / 'smiles.txt'}: {e}") from None
    if len(smiles) < 2:
        raise DataError(f"only {len(smiles)} SMILES survive cleaning ({rep.counts()}); need at least 2 for a split")
    vocab = Vocab.build(smiles, p.halogen_tokens)
    longest = max(len(tokenize(s, p.halogen_tokens)) for s in smiles)
    shape = cv.canvas_shape(longest, p.extra_pad, len(vocab))
    try:
        cv.check_mode(p.canvas, shape)
    except ValueError as e:
        raise DataError(str(e)) from None

    rng = np.random.default_rng(cfg.seed)
    with np.load(raw_dir / "mnist.npz") as z:
        images, labels = z["images"], z["labels"]
    if p.max_digits:
        keep = np.sort(rng.permutation(len(images))[: p.max_digits])
        images, labels = images[keep], labels[keep]
    d_tr, d_ho = _split(len(images), p.heldout, rng)
    s_tr, s_ho = _split(len(smiles), p.heldout, rng)
    smiles_tr, smiles_ho = [smiles[i] for i in s_tr], [smiles[i] for i in s_ho]

    train_canvas = cv.to_canvas(images[d_tr], shape, p.canvas)
    meta = {
        "canvas": {"L": shape[0], "V": shape[1], "mode": p.canvas, "longest_smiles": longest},
        "vocab": vocab.symbols,
        "pad_symbol": PAD,
        "halogen_tokens": p.halogen_tokens,
        "counts": {"mnist_train": len(d_tr), "mnist_heldout": len(d_ho),
                   "smiles_train": len(smiles_tr), "smiles_heldout": len(smiles_ho)},
        "cleaning": rep.counts(),
        "cleaning_dropped_examples": rep.examples_dropped,
        "input_sha256": {f: sha256_file(raw_dir / f) for f in ("mnist.npz", "smiles.txt")},
    }
    save_npz(out_dir / "mnist.npz", train_images=images[d_tr], train_labels=labels[d_tr],
             heldout_images=images[d_ho], heldout_labels=labels[d_ho], train_canvas=train_canvas)
    write_text(out_dir / "smiles_train.txt", "\n".join(smiles_tr) + "\n")
    write_text(out_dir / "smiles_heldout.txt", "\n".join(smiles_ho) + "\n")
    write_json(out_dir / "meta.json", meta)

    sym = symbol_counts(smiles_tr, p.halogen_tokens)
    metrics = {
        **{f"smiles_{k}": v for k, v in rep.counts().items()},
        **{k: v for k, v in meta["counts"].items()},
        "canvas_L": shape[0], "canvas_V": shape[1], "vocab_size": len(vocab),
        "smiles_mean_len": float(np.mean([len(tokenize(s, p.halogen_tokens)) for s in smiles])),
        "smiles_pad_share": float(1 - sum(sym.values()) / (len(smiles_tr) * shape[0])),
    }
    write_json(results / "metrics.json", metrics)
    first = [int(np.flatnonzero(labels[d_tr] == c)[0]) for c in np.unique(labels[d_tr])[:8]]  # one per class
    _example_picture(train_canvas[first], labels[d_tr][first], smiles_tr[:4], vocab, shape, results / "examples.png")
    return metrics


def _split(n: int, heldout: float, rng) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(n)
    k = max(1, int(round(n * heldout)))
    return np.sort(perm[k:]), np.sort(perm[:k])


def _example_picture(canvases, labels, smiles, vocab, shape, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..fsutil import save_figure

    onehots = vocab.one_hot(vocab.encode(smiles, shape[0]))
    fig, axes = plt.subplots(2, max(len(canvases), len(onehots)), figsize=(2 * len(canvases), 5.5))
    for ax in axes.ravel():
        ax.axis("off")
    for i, (c, l) in enumerate(zip(canvases, labels)):
        axes[0, i].imshow(c, cmap="gray", vmin=0, vmax=1, aspect="auto")
        axes[0, i].set_title(f"digit {l}", fontsize=8)
    for i, (o, s) in enumerate(zip(onehots, smiles)):
        axes[1, i].imshow(o, cmap="Blues", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
        axes[1, i].set_title(s[:28] + ("..." if len(s) > 28 else ""), fontsize=6)
    fig.suptitle(f"The shared {shape[0]}x{shape[1]} canvas: digits (top), SMILES as one-hot rows (bottom)", fontsize=9)
    save_figure(fig, path)


# ------------------------------------------------------------------ for later stages
@dataclass
class Processed:
    meta: dict
    vocab: Vocab
    train_canvas: np.ndarray
    train_images: np.ndarray
    train_labels: np.ndarray
    heldout_images: np.ndarray
    heldout_labels: np.ndarray
    smiles_train: list[str]
    smiles_heldout: list[str]

    @property
    def shape(self) -> tuple[int, int]:
        return self.meta["canvas"]["L"], self.meta["canvas"]["V"]

    @property
    def mode(self) -> str:
        return self.meta["canvas"]["mode"]

    def smiles_canvas(self) -> np.ndarray:
        return self.vocab.one_hot(self.vocab.encode(self.smiles_train, self.shape[0]))


def load_processed(out_dir: Path = PROCESSED) -> Processed:
    out_dir = Path(out_dir)
    if not (out_dir / "meta.json").exists():
        raise DataError(f"{out_dir / 'meta.json'} is missing: run stage preprocess first (dvc repro preprocess)")
    meta = json.loads((out_dir / "meta.json").read_text())
    with np.load(out_dir / "mnist.npz") as z:
        arrays = {k: z[k] for k in z.files}
    return Processed(
        meta=meta, vocab=Vocab(meta["vocab"]),
        smiles_train=(out_dir / "smiles_train.txt").read_text().split(),
        smiles_heldout=(out_dir / "smiles_heldout.txt").read_text().split(),
        **arrays,
    )
