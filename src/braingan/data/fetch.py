"""Stage `fetch`: raw MNIST digits and SMILES strings into data/raw/, from the sources
the params name. Everything is read and checked in memory first, then each file is
written atomically, so an error leaves no half-written output behind."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import paths
from ..config import Config
from ..errors import DataError
from ..fsutil import save_npz, sha256_file, write_json, write_text
from .sources import load_mnist, load_smiles


def run(cfg: Config, raw_dir: Path = paths.RAW, results: Path = paths.results("fetch")) -> dict:
    sm = load_smiles(cfg.fetch.smiles)  # first: it takes milliseconds, the default MNIST about a second
    x, y, mnist_desc = load_mnist(cfg.fetch.mnist)
    if len(x) == 0:
        raise DataError(f"MNIST source {mnist_desc} holds no images")
    if y.min() < 0 or y.max() > 9:
        raise DataError(f"MNIST source {mnist_desc}: labels must be 0..9, found {y.min()}..{y.max()}")
    save_npz(raw_dir / "mnist.npz", images=x, labels=y)
    write_text(raw_dir / "smiles.txt", "\n".join(sm.smiles) + "\n")
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
                   "sha256": sha256_file(raw_dir / "smiles.txt"), "skipped": sm.skipped_examples},
    }
    write_json(raw_dir / "sources.json", sources)
    write_json(results / "metrics.json", metrics)
    return metrics
