"""Where the networks run: the device (`device: auto | cpu | cuda`) and CPU threads."""
from __future__ import annotations

import os

import torch

from .errors import ConfigError


def pick_device(name: str, key: str) -> torch.device:
    """`auto` takes CUDA when present; `cuda` without a CUDA device is an error naming `key`."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{key}: 'cuda' but no CUDA device is available; allowed here: auto, cpu")
    return torch.device(name)


def in_dvc_queue() -> bool:
    return f"{os.sep}.dvc{os.sep}tmp{os.sep}exps{os.sep}" in os.getcwd() + os.sep


def cpu_threads(requested: int) -> int:
    """`train.threads`, or by default all cores -- except in a `dvc queue` workspace, where
    parallel experiments (`dvc queue start -j 2`) would oversubscribe the cores (OpenMP threads
    spinning against each other run many times slower than one run alone). There each run
    takes cores // 2 (set train.threads to override)."""
    if requested:
        return requested
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // 2) if in_dvc_queue() else cores


def memory_bytes() -> int:
    """Physical memory of this machine (what a model's weights and optimiser state must fit in)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
