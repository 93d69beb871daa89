"""The batches of generated samples that training feeds the critic. (Seeded samples of a
trained generator for evaluation and users: `generator.Generator.sample`.)"""
from __future__ import annotations

import torch

from . import models
from .models import MNIST


def fake_batch(G, mcfg, task: int, n: int, rng: torch.Generator, device, cls=None, tau: float = 0.0,
               pad: int | None = None):
    """(activated canvases, task ids, class ids) for n samples of one task (`pad`: the pad
    symbol's column, for `model.end_of_string`)."""
    t = torch.full((n,), task, dtype=torch.long, device=device)
    if cls is None:
        cls = (torch.randint(models.N_CLASSES, (n,), generator=rng) if task == MNIST
               else torch.full((n,), -1, dtype=torch.long)).to(device)
    z = torch.randn(n, mcfg.z_dim, generator=rng).to(device)
    logits = G(z, models.condition(t, cls, mcfg.conditioning))
    return models.activate(logits, task, mcfg, tau, pad), t, cls
