"""Checkpoints: atomic, checksummed, loaded with weights_only=True, the last two kept.

A checkpoint is `ckpt-<step>.pt` plus `ckpt-<step>.pt.sha256`. A file whose bytes do not
match its checksum (a damaged disk, a copy cut short) is skipped with a warning and the
previous good one is used. A failed write (disk full) leaves the earlier ones intact,
because nothing is renamed into place until it is complete.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import torch

from .fsutil import atomic_path, sha256_file, write_text

KEEP = 2


def save(directory, step: int, state: dict) -> Path:
    directory = Path(directory)
    path = directory / f"ckpt-{step:08d}.pt"
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
        digest = sha256_file(tmp)
    write_text(str(path) + ".sha256", digest + "\n")
    for old in sorted(_all(directory))[:-KEEP]:
        old.unlink(missing_ok=True)
        Path(str(old) + ".sha256").unlink(missing_ok=True)
    return path


def _all(directory: Path) -> list[Path]:
    return [p for p in directory.glob("ckpt-*.pt") if re.fullmatch(r"ckpt-\d{8}\.pt", p.name)]


def load_latest(directory, digest: str) -> dict | None:
    """The newest intact checkpoint made with the same config digest, or None."""
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
            print(f"note: checkpoint {path} was made with other params; starting over", file=sys.stderr)
            return None
        return state
    return None
