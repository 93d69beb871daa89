"""Stage `preprocess`: clean the SMILES, write them in the chosen encoding, build the
vocabulary and the shared L x V canvas, split both tasks into train and held-out.
Everything is computed in memory first and written at the end (each file atomically)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import paths, plots
from ..config import MIN_SMILES, Config
from ..device import cpu_threads
from ..errors import DataError
from ..fsutil import save_figure, save_npz, sha256_file, write_bytes, write_json, write_text
from . import canvas as cv
from . import encodings
from .smiles import PAD, Vocab, clean, symbol_counts


def run(cfg: Config, raw_dir: Path = paths.RAW, out_dir: Path = paths.PROCESSED,
        results: Path = paths.results("preprocess")) -> dict:
    p = cfg.preprocess
    for f in ("mnist.npz", "smiles.txt", "sources.json"):
        if not (raw_dir / f).exists():
            raise DataError(f"{raw_dir / f} is missing: run stage fetch first (dvc repro fetch)")
    encoding = encodings.get(p.encoding, p.tokens)
    smiles_raw = (raw_dir / "smiles.txt").read_text(encoding="utf-8").split()
    if p.max_smiles and len(smiles_raw) > p.max_smiles:  # a seeded subset, in the file's order
        keep = np.sort(np.random.default_rng([cfg.seed, 1]).permutation(len(smiles_raw))[: p.max_smiles])
        smiles_raw = [smiles_raw[i] for i in keep]
    try:
        smiles, tokens, rep = clean(smiles_raw, encoding, p.invalid, p.canonical, p.max_len, p.dedupe,
                                    workers=cpu_threads(0))
    except ValueError as e:
        raise DataError(f"{raw_dir / 'smiles.txt'}: {e}") from None
    if len(smiles) < MIN_SMILES:
        raise DataError(f"only {len(smiles)} SMILES survive cleaning ({rep.counts()}); at least {MIN_SMILES} are "
                        "needed to train and evaluate on (see preprocess.max_len, invalid, dedupe)")
    vocab = Vocab.build(tokens, encoding)
    longest = max(len(t) for t in tokens)
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
        if len(np.unique(labels)) < 10:
            raise DataError(f"preprocess.max_digits: {p.max_digits} random digits hold only {len(np.unique(labels))} "
                            "of the ten classes; raise it")
    d_tr, d_ho = _split(len(images), p.heldout, rng)
    s_tr, s_ho = _split(len(smiles), p.heldout, rng)
    idx = vocab.encode(tokens, shape[0]).astype(np.int16)

    train_canvas = cv.to_canvas(images[d_tr], shape, p.canvas)
    fetched = json.loads((raw_dir / "sources.json").read_text())
    meta = {
        "seed": cfg.seed,
        "canvas": {"L": shape[0], "V": shape[1], "mode": p.canvas, "longest_string": longest},
        "vocab": vocab.symbols,
        "pad_symbol": PAD,
        "encoding": encoding.describe(),
        "counts": {"mnist_train": len(d_tr), "mnist_heldout": len(d_ho),
                   "smiles_train": len(s_tr), "smiles_heldout": len(s_ho)},
        "cleaning": rep.counts(),
        "cleaning_dropped_examples": rep.examples_dropped,
        "input_sha256": {f: sha256_file(raw_dir / f) for f in ("mnist.npz", "smiles.txt")},
        # the params that made these data, carried on to the training run's MLflow params
        "params": {**fetched.get("params", {}), "preprocess": cfg.to_dict()["preprocess"]},
    }
    save_npz(out_dir / "mnist.npz", train_images=images[d_tr], train_labels=labels[d_tr],
             heldout_images=images[d_ho], heldout_labels=labels[d_ho], train_canvas=train_canvas,
             smiles_train_idx=idx[s_tr], smiles_heldout_idx=idx[s_ho])
    write_text(out_dir / "smiles_train.txt", "\n".join(smiles[i] for i in s_tr) + "\n")
    write_text(out_dir / "smiles_heldout.txt", "\n".join(smiles[i] for i in s_ho) + "\n")
    write_json(out_dir / "meta.json", meta)
    _references(raw_dir, out_dir / "references")

    sym = symbol_counts([tokens[i] for i in s_tr])
    lengths = [len(t) for t in tokens]
    metrics = {
        **{f"smiles_{k}": v for k, v in rep.counts().items()},
        **meta["counts"],
        "canvas_L": shape[0], "canvas_V": shape[1], "vocab_size": len(vocab),
        "smiles_mean_len": float(np.mean(lengths)),
        "smiles_pad_share": float(1 - sum(sym.values()) / (len(s_tr) * shape[0])),
    }
    write_json(results / "metrics.json", metrics)
    first = first_of_each_class(labels[d_tr], 8)
    save_figure(plots.canvas_examples(train_canvas[first], labels[d_tr][first], vocab.one_hot(idx[s_tr[:4]]),
                                      [smiles[i] for i in s_tr[:4]], shape), results / "examples.png")
    return metrics


def first_of_each_class(labels: np.ndarray, n: int) -> list[int]:
    """The index of the first example of each of the n smallest classes, in class order: the
    examples picture shows one digit per class, the same ones for the same data."""
    return [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)[:n]]


def _references(raw_dir: Path, out: Path) -> None:
    """A benchmark's reference sets (source moses) passed on for `evaluate`: its test sets and
    filters as fetched, and its whole training set (novelty is against all of it, whatever
    subset `preprocess.max_smiles` trains on)."""
    refs = raw_dir / "references"
    if not refs.is_dir():
        return
    for f in sorted(refs.iterdir()):
        write_bytes(out / f.name, f.read_bytes())
    if not (refs / "train.txt").exists():
        write_bytes(out / "train.txt", (raw_dir / "smiles.txt").read_bytes())


def _split(n: int, heldout: float, rng) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(n)
    k = max(1, int(round(n * heldout)))
    return np.sort(perm[k:]), np.sort(perm[:k])
