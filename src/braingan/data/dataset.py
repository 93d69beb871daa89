"""The processed data as the later stages see them (written by stage `preprocess`)."""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import paths
from ..errors import DataError
from . import encodings
from .smiles import Vocab


@dataclass
class Processed:
    meta: dict
    vocab: Vocab
    train_canvas: np.ndarray  # [N, L, V] digits on the canvas
    train_images: np.ndarray  # [N, 28, 28] uint8
    train_labels: np.ndarray
    heldout_images: np.ndarray
    heldout_labels: np.ndarray
    smiles_train: list[str]  # (canonical) SMILES as cleaned
    smiles_heldout: list[str]
    smiles_train_idx: np.ndarray  # [N, L] token indices in the encoding, pad-filled
    smiles_heldout_idx: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.meta["canvas"]["L"], self.meta["canvas"]["V"]

    @property
    def mode(self) -> str:
        return self.meta["canvas"]["mode"]


def load(out_dir: Path = paths.PROCESSED) -> Processed:
    out_dir = Path(out_dir)
    meta_path = out_dir / "meta.json"
    if not meta_path.exists():
        raise DataError(f"{meta_path} is missing: run stage preprocess first (dvc repro preprocess)")
    try:
        meta = json.loads(meta_path.read_text())
        vocab = Vocab(meta["vocab"], encodings.get(meta["encoding"]["encoding"], meta["encoding"]["tokens"]))
        with np.load(out_dir / "mnist.npz") as z:
            arrays = {k: z[k] for k in z.files}
        smiles = {s: (out_dir / f"smiles_{s}.txt").read_text().split() for s in ("train", "heldout")}
        return Processed(meta=meta, vocab=vocab, smiles_train=smiles["train"], smiles_heldout=smiles["heldout"],
                         **arrays)
    except (ValueError, KeyError, TypeError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{out_dir} is damaged or from another version ({type(e).__name__}: {str(e)[:120]}); "
                        "re-create it with `dvc repro -f preprocess`") from None
