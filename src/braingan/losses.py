"""Adversarial losses by name (`train.loss`): Wasserstein with weight clipping (the seed's),
Wasserstein with a gradient penalty, and the non-saturating logistic loss with the R1
penalty. All add the auxiliary task (and class) cross-entropies.

The critic sees real and fake samples in one concatenated forward pass: the critics have
no batch statistics, so every sample's score depends on that sample alone and one pass
computes what two would, with half the per-call overhead. The penalties take their own
pass: differentiating the scores of a concatenated batch would run the double backward
over every row, not just the penalised ones, which costs more than the pass it saves.
Logged values stay tensors (no host sync per step).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.profiler import record_function

from .registry import Registry

# `train.loss`: name -> class(train config)
LOSSES = Registry("train.loss")


def build(train_cfg) -> "WGANGP":
    return LOSSES.get(train_cfg.loss)(train_cfg)


def input_gradient(scores: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """d sum(scores) / d x, kept in the graph so that a penalty on it can be trained."""
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return grad.flatten(1)


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
    """E[(||grad_x score(x)||_2 - 1)^2] on random interpolates x = eps real + (1 - eps) fake.

    Only the real/fake head enters the penalty: the task and class heads are ordinary
    classifiers, and constraining their gradients would fight the Lipschitz constraint.
    """
    x = interpolate(real, fake, eps)
    return ((input_gradient(critic(x)["score"], x).norm(2, dim=1) - 1) ** 2).mean()


def interpolate(real, fake, eps=None) -> torch.Tensor:
    if eps is None:
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    # through a clone: a non-leaf input lets FlopCounterMode (benchmarks) see the double backward
    return (eps * real + (1 - eps) * fake).requires_grad_(True).clone()


def r1_penalty(critic, real: torch.Tensor) -> torch.Tensor:
    """E[||grad_x score(x)||_2^2] on real samples (Mescheder et al. 2018), score head only."""
    x = real.detach().clone().requires_grad_(True)
    return input_gradient(critic(x)["score"], x).pow(2).sum(1).mean()


def aux_loss(out: dict, task: torch.Tensor, cls: torch.Tensor | None) -> torch.Tensor:
    """Task cross-entropy, plus class cross-entropy on digit samples when the critic has a class head."""
    loss = F.cross_entropy(out["task"], task)
    if "class" in out and cls is not None:
        digit = cls >= 0
        if digit.any():
            loss = loss + F.cross_entropy(out["class"][digit], cls[digit])
    return loss


def _rows(out: dict, sl: slice) -> dict:
    return {k: v[sl] for k, v in out.items()}


@LOSSES.register("wgan-gp")
class WGANGP:
    """Critic: E[D(fake)] - E[D(real)] + lambda * GP + aux; generator: -E[D(fake)] + w * aux(fake).
    The other losses change the adversarial terms or the penalty."""

    def __init__(self, train_cfg):
        self.cfg = train_cfg

    def critic_adv(self, s_real, s_fake):
        return s_fake.mean() - s_real.mean()

    def generator_adv(self, s_fake):
        return -s_fake.mean()

    def penalty(self, critic, real, fake) -> tuple[torch.Tensor, dict]:
        gp = gradient_penalty(critic, real, fake)
        return self.cfg.gp_lambda * gp, {"gp": gp.detach()}

    def critic_loss(self, critic, real, fake, task, cls, penalty_critic=None,
                    penalty_weight: float = 1.0) -> tuple[torch.Tensor, dict]:
        """`penalty_critic`: the same critic, uncompiled and in fp32 (a penalty needs a double
        backward). `penalty_weight` multiplies the penalty; 0 skips computing it (lazy
        regularisation computes it on every k-th update with weight k)."""
        n = len(real)
        with record_function("critic.forward"):
            out = critic(torch.cat([real, fake]))
            out_r, out_f = _rows(out, slice(0, n)), _rows(out, slice(n, 2 * n))
            aux = aux_loss(out_r, task, cls)
            if self.cfg.critic_task_on == "real+fake":
                aux = aux + aux_loss(out_f, task, cls)
        pen, logs = torch.zeros((), device=real.device), {}
        if penalty_weight:
            with record_function("critic.penalty"):
                pen, logs = self.penalty(penalty_critic or critic, real, fake)
                pen = penalty_weight * pen
        # `wdist` (mean real score - mean fake score) is logged for every loss: the curve to watch
        logs.update(wdist=(out_r["score"].mean() - out_f["score"].mean()).detach(), critic_aux=aux.detach())
        return self.critic_adv(out_r["score"], out_f["score"]) + aux + pen, logs

    def after_critic_step(self, critic) -> None:
        pass

    def generator_loss(self, critic, fake, task, cls) -> tuple[torch.Tensor, dict]:
        out = critic(fake)
        adv = self.generator_adv(out["score"])
        aux = aux_loss(out, task, cls)
        return adv + self.cfg.gen_task_weight * aux, {"g_adv": adv.detach(), "g_aux": aux.detach()}


@LOSSES.register("wgan-clip")
class WGANClip(WGANGP):
    def penalty(self, critic, real, fake):
        return torch.zeros((), device=real.device), {}

    @torch.no_grad()
    def after_critic_step(self, critic) -> None:
        # Clip every critic weight, heads included, as the Keras original clipped all layers.
        for p in critic.parameters():
            p.clamp_(-self.cfg.clip, self.cfg.clip)


@LOSSES.register("ns-r1")
class NSR1(WGANGP):
    """Non-saturating logistic loss (critic: softplus(-D(real)) + softplus(D(fake));
    generator: softplus(-D(fake))) with gp_lambda/2 * R1 on real samples; meant for n_critic 1."""

    def critic_adv(self, s_real, s_fake):
        return F.softplus(-s_real).mean() + F.softplus(s_fake).mean()

    def generator_adv(self, s_fake):
        return F.softplus(-s_fake).mean()

    def penalty(self, critic, real, fake):
        r1 = r1_penalty(critic, real)
        return 0.5 * self.cfg.gp_lambda * r1, {"r1": r1.detach()}
