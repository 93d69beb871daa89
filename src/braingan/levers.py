"""The levers of quality per CPU minute that change how a training step computes, each behind
a param and off by default where it did not win (benchmarks/time_to_quality.py measures them):
a moving average of the generator's weights (`train.ema`), a learning-rate schedule
(`train.lr_schedule`, `warmup`), forward passes in bfloat16 (`train.precision`). Lazy
regularisation (`train.gp_every`) is in gan.train_critic and losses.py; the end-of-string rule
(`model.end_of_string`) and the critic's image view (`model.critic_2d`) in models.py."""
from __future__ import annotations

import math
import sys

import torch
from torch import nn


def lr_factor(step: int, steps: int, schedule: str, warmup: int, end_ratio: float) -> float:
    """The learning rates' multiplier at `step` (0-based): linear warm-up from 1/warmup to 1 over
    the first `warmup` steps, then constant, or a cosine from 1 down to `end_ratio` at the last step."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    t = (step - warmup) / max(1, steps - 1 - warmup)
    return end_ratio + (1 - end_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def ema_decay(decay: float, step: int, warmup: int) -> float:
    """The moving average's decay at update `step`: `train.ema`, but never more than (1 + step) /
    (warmup + step), so that the average follows the generator early on instead of keeping its
    random initial weights for thousands of updates."""
    return min(decay, (1 + step) / (warmup + step))


@torch.no_grad()
def ema_update(avg: nn.Module, model: nn.Module, decay: float) -> None:
    """avg <- decay * avg + (1 - decay) * model, parameter by parameter; buffers copied."""
    torch._foreach_lerp_(list(avg.parameters()), list(model.parameters()), 1 - decay)
    for a, b in zip(avg.buffers(), model.buffers()):
        a.copy_(b)


def bf16_supported(device: torch.device) -> bool:
    """Whether this device computes in bfloat16 natively; if not, say so (training goes on in fp32)."""
    ok = torch.cuda.is_bf16_supported() if device.type == "cuda" else torch.backends.mkldnn.is_available() and \
        torch.cpu._is_avx512_bf16_supported()
    if not ok:
        print(f"braingan train: train.precision: bf16 is not supported natively on this {device.type} "
              "(no AVX512-BF16); training in fp32", file=sys.stderr)
    return ok


class InBF16(nn.Module):
    """A network's forward pass under bfloat16 autocast, its outputs back in float32: the losses,
    the gradient penalty (which takes the fp32 network) and the optimiser state stay in fp32."""

    def __init__(self, net: nn.Module, device: torch.device):
        super().__init__()
        self.net, self.device_type = net, device.type

    def forward(self, *args):
        with torch.autocast(self.device_type, dtype=torch.bfloat16):
            out = self.net(*args)
        return {k: v.float() for k, v in out.items()} if isinstance(out, dict) else out.float()
