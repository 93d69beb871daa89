"""Stage `fetch`: raw MNIST digits and SMILES strings into data/raw/, from the sources
the params name. Everything is read and checked in memory first, then each file is
written atomically, so an error leaves no half-written output behind."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from .. import paths
from ..config import MIN_DIGITS, MIN_SMILES, Config
from ..errors import DataError
from ..fsutil import save_npz, sha256_file, write_bytes, write_json, write_text
from .sources import load_mnist, load_smiles


def run(cfg: Config, raw_dir: Path = paths.RAW, results: Path = paths.results("fetch")) -> dict:
    sm = load_smiles(cfg.fetch.smiles)  # first: it takes milliseconds, the default MNIST about a second
    x, y, mnist_desc = load_mnist(cfg.fetch.mnist)
    if len(x) < MIN_DIGITS:
        raise DataError(f"MNIST source {mnist_desc} holds {len(x)} images; at least {MIN_DIGITS} are needed to train "
                        "and evaluate on")
    if y.min() < 0 or y.max() > 9:
        raise DataError(f"MNIST source {mnist_desc}: labels must be 0..9, found {y.min()}..{y.max()}")
    if len(np.unique(y)) < 10:
        raise DataError(f"MNIST source {mnist_desc} holds digits of {len(np.unique(y))} classes "
                        f"({', '.join(map(str, np.unique(y)))}); all ten are needed: the generator learns each")
    if len(sm.smiles) < MIN_SMILES:
        raise DataError(f"SMILES source {sm.source} holds {len(sm.smiles)} SMILES; at least {MIN_SMILES} are needed to "
                        "train and evaluate on")
    save_npz(raw_dir / "mnist.npz", images=x, labels=y)
    write_text(raw_dir / "smiles.txt", "\n".join(sm.smiles) + "\n")
    for name, blob in sm.references.items():  # a benchmark's reference sets (source moses)
        write_bytes(raw_dir / "references" / name, blob)
    metrics = {
        "mnist_images": int(len(x)),
        "mnist_classes": int(len(np.unique(y))),
        "smiles_lines": sm.lines,
        "smiles_read": len(sm.smiles),
        "smiles_blank_lines": sm.blank,
        "smiles_undecodable_lines": sm.undecodable,
        "smiles_overlong_lines": sm.overlong,
    }
    sources = {
        "params": {"fetch": cfg.to_dict()["fetch"]},  # carried on to the training run's MLflow params
        "mnist": {"source": cfg.fetch.mnist.source, "from": mnist_desc, "sha256": sha256_file(raw_dir / "mnist.npz")},
        "smiles": {"source": cfg.fetch.smiles.source, "from": sm.source, "input_sha256": sm.sha256,
                   "sha256": sha256_file(raw_dir / "smiles.txt"), "skipped": sm.skipped_examples,
                   "references": {name: hashlib.sha256(blob).hexdigest() for name, blob in sm.references.items()}},
    }
    write_json(raw_dir / "sources.json", sources)
    write_json(results / "metrics.json", metrics)
    return metrics
