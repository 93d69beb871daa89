"""Stage `validate`: the whole params file, checked before any stage with outputs runs.

DVC deletes a stage's outputs before running its command, so a stage cannot protect its
own outputs from a bad param. This stage runs first (every other stage depends on its
output) and stops `dvc repro` / `dvc exp run` before anything is deleted.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from . import paths
from .config import Config
from .data.canvas import canvas_shape
from .device import memory_bytes
from .fsutil import write_json
from .models import check_fits
from .tracking import Run


def run(cfg: Config) -> None:
    # Sizes that cannot fit are refused here on a canvas smaller than these params can give (two
    # symbols; at least 16 rows, which every critic takes); train checks again on the real one.
    rows = max(16, canvas_shape(1, cfg.preprocess.extra_pad, 2)[0])
    check_fits(cfg.model, (rows, 2), memory_bytes())
    open_store()
    write_json(paths.results("validate") / "params.json", {"params.yaml": "valid"})  # the same bytes every time


def open_store() -> None:
    """Check the tracking URI and create the store and its experiment here, once, under a lock
    on the store's folder: two queued experiments starting together on a new SQLite file would
    both create its tables, and one would fail. A bad URI then also stops the run before any
    stage deletes its outputs."""
    run = Run()
    if not run.enabled:
        return
    if not run.uri.startswith("sqlite:///"):
        run.experiment_id()
        return
    fd = os.open(Path(run.uri.removeprefix("sqlite:///")).parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        run.experiment_id()
    finally:
        os.close(fd)  # releases the lock
