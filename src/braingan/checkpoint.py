"""Training checkpoints and the trained generator file.

A checkpoint is `ckpt-<step>.pt` plus `ckpt-<step>.pt.sha256`: written atomically, loaded
with weights_only=True, the last two kept. Checkpoints at later steps than the one just
written belong to a run this one replaces (a forced re-run, other params) and are removed:
kept, they would push out this run's own checkpoints and hide them from a resume. A file
whose bytes do not match its checksum (a damaged disk, a copy cut short) is skipped with a
warning and the previous good one is used; a failed write (disk full) leaves the earlier
ones intact.

The generator file (`models/generator.pt`) holds the weights and everything needed to
use them without the training data: the model params, the canvas shape, the vocabulary
and encoding, and the tasks it was trained on. The same weights give the same bytes.
"""
from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from . import models
from .errors import DataError
from .fsutil import sha256_file, torch_bytes, write_bytes, write_text

KEEP = 2


def save(directory, step: int, state: dict) -> Path:
    directory = Path(directory)
    path = directory / f"ckpt-{step:08d}.pt"
    blob = torch_bytes(state)
    write_bytes(path, blob)
    write_text(str(path) + ".sha256", hashlib.sha256(blob).hexdigest() + "\n")
    found = sorted(_all(directory))  # zero-padded: name order is step order
    mine = [p for p in found if p.name <= path.name]
    for old in [p for p in found if p.name > path.name] + mine[:-KEEP]:
        old.unlink(missing_ok=True)
        Path(str(old) + ".sha256").unlink(missing_ok=True)
    return path


def _all(directory: Path) -> list[Path]:
    return [p for p in directory.glob("ckpt-*.pt") if re.fullmatch(r"ckpt-\d{8}\.pt", p.name)]


def load_latest(directory, digest: str) -> dict | None:
    """The newest intact checkpoint made with the same digest (params, data, code), or None."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    for path in sorted(_all(directory), reverse=True):
        sums = Path(str(path) + ".sha256")
        if not sums.exists() or sums.read_text().strip() != sha256_file(path):
            print(f"warning: checkpoint {path} is damaged (checksum mismatch); trying an older one", file=sys.stderr)
            continue
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - e.g. written by an older version with other contents
            print(f"warning: checkpoint {path} cannot be loaded safely ({type(e).__name__}); trying an older one",
                  file=sys.stderr)
            continue
        if state.get("digest") != digest:
            print(f"note: checkpoint {path} was made with other params or code; starting over", file=sys.stderr)
            return None
        return state
    return None


def save_generator(path, G, model_cfg, shape, canvas_mode: str, vocab: list[str], encoding: dict, tasks: list[int],
                   step: int) -> None:
    write_bytes(path, torch_bytes({
        "state_dict": G.state_dict(), "model": asdict(model_cfg), "shape": list(shape), "canvas_mode": canvas_mode,
        "vocab": list(vocab), "encoding": dict(encoding), "tasks": list(tasks), "step": step}))


def load_generator(path, device="cpu"):
    """(generator in eval mode, model config, the file's other contents)."""
    from .config import Model

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} is missing: run the stage that makes it first (dvc repro)")
    try:
        blob = torch.load(path, map_location=device, weights_only=True)
        mcfg = Model(**blob["model"])
        G, _ = models.build(mcfg, tuple(blob["shape"]))
        G.load_state_dict(blob["state_dict"])
    except Exception as e:  # noqa: BLE001 - a truncated or foreign file: say which and what to do
        raise DataError(f"{path} cannot be read as a BrainGAN generator ({type(e).__name__}: {str(e)[:200]}); "
                        "re-create it with `dvc repro -f train`") from None
    return G.to(device).eval(), mcfg, blob
