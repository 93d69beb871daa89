"""Drawing samples from a generator: the batches training feeds the critic, and seeded
samples for evaluation, the training-time sample pictures and `braingan sample`."""
from __future__ import annotations

import numpy as np
import torch

from . import models
from .models import MNIST


def fake_batch(G, mcfg, task: int, n: int, rng: torch.Generator, device, cls=None, tau: float = 0.0):
    """(activated canvases, task ids, class ids) for n samples of one task."""
    t = torch.full((n,), task, dtype=torch.long, device=device)
    if cls is None:
        cls = (torch.randint(models.N_CLASSES, (n,), generator=rng) if task == MNIST
               else torch.full((n,), -1, dtype=torch.long)).to(device)
    z = torch.randn(n, mcfg.z_dim, generator=rng).to(device)
    logits = G(z, models.condition(t, cls, mcfg.conditioning))
    return models.activate(logits, task, mcfg.activation, tau), t, cls


@torch.no_grad()
def generate(G, mcfg, task: int, n: int, seed: int, device, batch: int = 500,
             digit_class: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(activated canvases [n, L, V], class ids [n]) of one task, in eval mode and seeded.
    Digit classes cycle 0..9 unless `digit_class` fixes one (with task+class conditioning)."""
    was_training = G.training
    G.eval()
    rng = torch.Generator().manual_seed(seed)
    out, classes = [], []
    for i in range(0, n, batch):
        k = min(batch, n - i)
        if task != MNIST:
            cls = torch.full((k,), -1)
        else:
            cls = torch.full((k,), digit_class) if digit_class is not None else torch.arange(i, i + k) % models.N_CLASSES
        x, _, c = fake_batch(G, mcfg, task, k, rng, device, cls.long().to(device))
        out.append(x.float().cpu().numpy())
        classes.append(c.cpu().numpy())
    G.train(was_training)
    return np.concatenate(out), np.concatenate(classes)
