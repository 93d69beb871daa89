"""Stage `validate`: the whole params file, checked before any stage with outputs runs.

DVC deletes a stage's outputs before running its command, so a stage cannot protect its
own outputs from a bad param. This stage runs first (every other stage depends on its
output) and stops `dvc repro` / `dvc exp run` before anything is deleted.
"""
from __future__ import annotations

from . import paths
from .config import Config
from .device import memory_bytes
from .fsutil import write_json
from .models import check_fits


def run(cfg: Config) -> None:
    # Sizes that cannot fit are refused here on the smallest canvas these params allow;
    # train checks again on the real one before allocating.
    rows = max(16, -(-(1 + cfg.preprocess.extra_pad) // 4) * 4)
    check_fits(cfg.model, (rows, 2), memory_bytes())
    write_json(paths.results("validate") / "params.json", {"params.yaml": "valid"})  # the same bytes every time
