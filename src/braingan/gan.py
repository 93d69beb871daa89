"""The GAN a training step touches, and the step: n_critic critic updates and one generator
update on one task's batch. (The run around the steps -- resume, probes, checkpoints, the
observer -- is training.py; the levers a step can use, levers.py.)"""
from __future__ import annotations

import copy
import sys
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import record_function

from . import losses, models
from .config import Config
from .data.dataset import Processed
from .generator import Generator
from .levers import InBF16, bf16_supported, ema_decay, ema_update, lr_factor
from .models import MNIST, SMILES
from .sampling import fake_batch

# train.tasks -> the task ids it trains, in the order the loop alternates them
TRAINED_TASKS = {"both": (MNIST, SMILES), "mnist": (MNIST,), "smiles": (SMILES,)}


class RealData:
    """The real samples of each task on the device, drawn with a seeded generator: digit
    canvases as they are, molecules as token rows made one-hot per batch (a benchmark's million
    molecules would not fit in memory as canvases)."""

    def __init__(self, canvases: dict[int, torch.Tensor], classes: dict[int, torch.Tensor],
                 tokens: dict[int, int] | None = None):
        self.x, self.cls = canvases, classes
        self.width = tokens or {}  # task -> vocabulary size, for the tasks stored as token rows

    @classmethod
    def from_processed(cls, data: Processed, device) -> "RealData":
        return cls({MNIST: torch.from_numpy(data.train_canvas).to(device),
                    SMILES: torch.from_numpy(data.smiles_train_idx.astype(np.int64)).to(device)},
                   {MNIST: torch.from_numpy(data.train_labels).long().to(device),
                    SMILES: torch.full((len(data.smiles_train_idx),), -1, dtype=torch.long, device=device)},
                   {SMILES: len(data.vocab)})

    def sample(self, task: int, n: int, rng: torch.Generator):
        idx = torch.randint(len(self.x[task]), (n,), generator=rng).to(self.x[task].device)
        x = self.x[task][idx]
        if task in self.width:
            x = F.one_hot(x, self.width[task]).float()
        return x, self.cls[task][idx]


@dataclass
class GAN:
    """Everything a training step touches."""

    cfg: Config
    G: nn.Module
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    loss: losses.WGANGP
    real: RealData
    rng: torch.Generator  # draws z, classes and real batches; noise for GP/Gumbel comes from torch's own
    device: torch.device
    pad: int | None = None  # the pad symbol's column (model.end_of_string)
    G_step: nn.Module | None = None  # G and D as the steps call them: compiled, or in bfloat16, if asked
    D_step: nn.Module | None = None
    G_ema: nn.Module | None = None  # the moving average of G's weights (train.ema > 0)
    compiled: bool = False  # G_step and D_step are torch.compile'd (train.compile, where it works)
    tau: float = 0.0  # the Gumbel temperature of this step (model.gumbel_tau, annealed if asked)

    def __post_init__(self):
        self.G_step = self.G_step or self.G
        self.D_step = self.D_step or self.D
        self.tau = self.cfg.model.gumbel_tau

    def anneal(self, step: int) -> None:
        """Exponential decay of the Gumbel temperature from gumbel_tau to gumbel_tau_end."""
        m = self.cfg.model
        if m.gumbel_tau > 0 and m.gumbel_tau_end > 0:
            self.tau = m.gumbel_tau * (m.gumbel_tau_end / m.gumbel_tau) ** (step / max(1, self.cfg.train.steps - 1))

    @classmethod
    def create(cls, cfg: Config, real: RealData, shape: tuple[int, int], device: torch.device,
               pad: int | None = None) -> "GAN":
        torch.manual_seed(cfg.seed)
        G, D = models.build(cfg.model, shape)
        G, D = G.to(device), D.to(device)
        tc = cfg.train
        gan = cls(cfg, G, D, torch.optim.Adam(G.parameters(), lr=tc.lr_g, betas=(tc.beta1, tc.beta2)),
                  torch.optim.Adam(D.parameters(), lr=tc.lr_d, betas=(tc.beta1, tc.beta2)),
                  losses.build(tc), real, torch.Generator().manual_seed(cfg.seed + 1), device, pad)
        if tc.compile:
            gan.G_step, gan.D_step = _compiled(G, D, cfg, shape, device)
            gan.compiled = gan.G_step is not G
        if tc.precision == "bf16" and bf16_supported(device):
            gan.G_step, gan.D_step = InBF16(gan.G_step, device), InBF16(gan.D_step, device)
        if tc.ema > 0:
            gan.G_ema = copy.deepcopy(G).requires_grad_(False)
        return gan

    def step(self, step: int, task: int) -> dict[str, torch.Tensor]:
        """One training step (n_critic critic updates, one generator update) on one task;
        the logged values stay tensors (no host sync)."""
        tc = self.cfg.train
        self.anneal(step)
        factor = lr_factor(step, tc.steps, tc.lr_schedule, tc.warmup, tc.lr_end_ratio)
        for opt, lr in ((self.opt_g, tc.lr_g), (self.opt_d, tc.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * factor
        n_tasks = len(TRAINED_TASKS[tc.tasks])
        for i in range(tc.n_critic):
            logs = train_critic(self, task, update=(step // n_tasks) * tc.n_critic + i)
        logs = {**logs, **train_generator(self, task)}
        if self.G_ema is not None:
            ema_update(self.G_ema, self.G, ema_decay(tc.ema, step, tc.ema_warmup))
        return logs

    def state_dict(self) -> dict:
        s = {"G": self.G.state_dict(), "D": self.D.state_dict(), "opt_g": self.opt_g.state_dict(),
             "opt_d": self.opt_d.state_dict(), "rng": {"torch": torch.get_rng_state(), "sampler": self.rng.get_state()}}
        if self.G_ema is not None:
            s["G_ema"] = self.G_ema.state_dict()
        return s

    def load_state_dict(self, s: dict) -> None:
        self.G.load_state_dict(s["G"]), self.D.load_state_dict(s["D"])
        self.opt_g.load_state_dict(s["opt_g"]), self.opt_d.load_state_dict(s["opt_d"])
        torch.set_rng_state(s["rng"]["torch"]), self.rng.set_state(s["rng"]["sampler"])
        if self.G_ema is not None:
            self.G_ema.load_state_dict(s["G_ema"])

    def generator(self, data: Processed, step: int) -> Generator:
        """The generator being trained (its moving average, with train.ema), as a `Generator`
        that shares its weights."""
        return Generator(self.G_ema if self.G_ema is not None else self.G, self.cfg.model, data.vocab, data.shape,
                         data.mode, TRAINED_TASKS[self.cfg.train.tasks], step, self.device)


def _compiled(G, D, cfg: Config, shape, device):
    """torch.compile'd G and D, tried once on a small batch; where compiling is impossible
    (no C compiler, an unsupported op) training goes on eagerly and says so."""
    try:
        G_c, D_c = torch.compile(G), torch.compile(D)
        z = torch.zeros(2, cfg.model.z_dim, device=device)
        c = models.condition(torch.zeros(2, dtype=torch.long, device=device), torch.zeros(2, dtype=torch.long,
                                                                                        device=device),
                             cfg.model.conditioning)
        D_c(G_c(z, c).sigmoid())["score"].sum().backward()
        G.zero_grad(set_to_none=True), D.zero_grad(set_to_none=True)
        return G_c, D_c
    except Exception as e:  # noqa: BLE001 - any compiler failure: fall back, say why
        print(f"braingan train: train.compile: torch.compile is not possible here ({type(e).__name__}: "
              f"{str(e).splitlines()[0][:160]}); training eagerly", file=sys.stderr)
        return G, D


def train_critic(gan: GAN, task: int, update: int = 0) -> dict:
    """One critic update; `update` counts this task's critic updates (for lazy regularisation:
    the penalty on every gp_every-th one, its weight times gp_every)."""
    c = gan.cfg
    k = c.train.gp_every
    with record_function("critic.real_batch"):
        real, real_cls = gan.real.sample(task, c.train.batch_size, gan.rng)
    with torch.no_grad(), record_function("critic.fake_batch"):
        fake, t, _ = fake_batch(gan.G_step, c.model, task, len(real), gan.rng, gan.device, tau=gan.tau, pad=gan.pad)
    # The class head learns from real digits only (their labels are known).
    d_loss, logs = gan.loss.critic_loss(gan.D_step, real, fake, t, real_cls, penalty_critic=gan.D,
                                        penalty_weight=float(k) if update % k == 0 else 0.0)
    with record_function("critic.backward"):
        gan.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
    with record_function("critic.optimizer"):
        gan.opt_d.step()
        gan.loss.after_critic_step(gan.D)
    logs["d_loss"] = d_loss.detach()
    return logs


def train_generator(gan: GAN, task: int) -> dict:
    c = gan.cfg
    gan.D.requires_grad_(False)  # no critic gradients needed for the generator's update
    with record_function("generator.forward"):
        fake, t, cls = fake_batch(gan.G_step, c.model, task, c.train.batch_size, gan.rng, gan.device, tau=gan.tau,
                                  pad=gan.pad)
        g_loss, logs = gan.loss.generator_loss(gan.D_step, fake, t, cls)
    with record_function("generator.backward"):
        gan.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
    with record_function("generator.optimizer"):
        gan.opt_g.step()
    gan.D.requires_grad_(True)
    logs["g_loss"] = g_loss.detach()
    return logs
