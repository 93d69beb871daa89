"""Training checkpoints and the trained generator file.

A checkpoint is `ckpt-<step>.pt` plus `ckpt-<step>.pt.sha256`: written atomically, loaded
with weights_only=True, the last two kept. Checkpoints at later steps than the one just
written belong to a run this one replaces (a forced re-run, other params) and are removed:
kept, they would push out this run's own checkpoints and hide them from a resume. A file
whose bytes do not match its checksum (a damaged disk, a copy cut short) is skipped with a
warning and the previous good one is used; a failed write (disk full) leaves the earlier
ones intact. (The trained generator's own file: `generator.Generator.save`.)
"""
from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import torch

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
