"""Generators and critics, registered by name (`model.family` in params.yaml).

Both tasks share one canvas of shape [L, V]: L rows (SMILES positions / image rows),
V columns (vocabulary symbols / image columns). Conv1D layers run along L with V as the
input channels, as in the 2018 Keras code. Generators return *logits* [N, L, V];
`activate` applies the output activation. Critics return named outputs:
{"score": [N], "task": [N, 2], "class": [N, 10] (only with task+class conditioning)}.
Both families and their shared layers live together so that a registry name maps to code
a reader can compare side by side.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ACTIVATIONS
from .errors import ConfigError
from .registry import Registry

N_TASKS, N_CLASSES = 2, 10
MNIST, SMILES = 0, 1  # task ids: the one-hot `t` of the generator's input
TASKS = {"mnist": MNIST, "smiles": SMILES}  # the tasks by name (params, the command line, MLflow keys)

# `model.family`: name -> function(model config, canvas shape) -> (generator, critic)
FAMILIES = Registry("model.family")


def build(model_cfg, shape: tuple[int, int]) -> tuple[nn.Module, nn.Module]:
    """(generator, critic) for `model_cfg.family` at canvas `shape`."""
    return FAMILIES.get(model_cfg.family)(model_cfg, shape)


def check_fits(model_cfg, shape: tuple[int, int], memory_bytes: int) -> None:
    """Refuse a model whose weights and Adam state cannot fit in memory, before allocating it.

    Counted on PyTorch's meta device (no memory used): 16 bytes per parameter of
    generator and critic (fp32 weight, gradient, two Adam moments)."""
    with torch.device("meta"):
        G, D = build(model_cfg, shape)
    need = 16 * (n_params(G) + n_params(D))
    if need > memory_bytes:
        raise ConfigError(
            f"model.dim / model.blocks / model.z_dim (family {model_cfg.family}, dim {model_cfg.dim}, blocks "
            f"{model_cfg.blocks}, z_dim {model_cfg.z_dim}): generator and critic need about {need / 2**30:,.1f} GiB "
            f"for weights and optimiser state on a {shape[0]}x{shape[1]} canvas; this machine has "
            f"{memory_bytes / 2**30:,.1f} GiB. Choose smaller sizes.")


def task_id(name: str) -> int:
    if name not in TASKS:
        raise ConfigError(f"task {name!r} is not allowed; allowed values: {', '.join(TASKS)}")
    return TASKS[name]


def task_name(task: int) -> str:
    return {v: k for k, v in TASKS.items()}[task]


def cond_dim(conditioning: str) -> int:
    return N_TASKS + (N_CLASSES if conditioning == "task+class" else 0)


def condition(task: torch.Tensor, cls: torch.Tensor | None, conditioning: str) -> torch.Tensor:
    """The generator's conditioning input: one-hot task, plus one-hot class (zeros for SMILES)."""
    c = [F.one_hot(task, N_TASKS).float()]
    if conditioning == "task+class":
        onehot = F.one_hot(cls.clamp(min=0), N_CLASSES).float()
        c.append(onehot * (task == MNIST).float()[:, None])
    return torch.cat(c, 1)


def activate(logits: torch.Tensor, task: int, model_cfg, gumbel_tau: float = 0.0, pad: int | None = None) -> torch.Tensor:
    """The output activation (`model.activation`) for a batch of one task (batches never mix tasks).

    softmax: each row a distribution over V; sigmoid: independent values in (0, 1);
    per-task: softmax rows for SMILES and sigmoid pixels for digits, from the same logits.
    gumbel_tau > 0 (training only): SMILES rows become straight-through Gumbel-softmax
    one-hots, so the critic cannot tell fakes by their softness (without the noise, with
    `model.gumbel_noise` false: the argmax one-hots that evaluation reads). `model.end_of_string`:
    molecule rows then end at their first pad (`end_of_string`; `pad` is its column)."""
    activation = model_cfg.activation
    if activation not in ACTIVATIONS:
        raise ConfigError(f"model.activation: {activation!r} is not allowed; allowed values: {', '.join(ACTIVATIONS)}")
    if activation == "sigmoid" or (activation == "per-task" and task == MNIST):
        x = logits.sigmoid()
    elif task == SMILES and gumbel_tau > 0:
        x = gumbel_straight_through(logits, gumbel_tau, noise=getattr(model_cfg, "gumbel_noise", True))
    else:
        x = logits.softmax(-1)
    if task == SMILES and getattr(model_cfg, "end_of_string", False):
        if pad is None:
            raise ValueError("model.end_of_string needs the pad symbol's column")
        x = end_of_string(x, pad)
    return x


def end_of_string(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Rows [N, L, V] that end at their first pad: row i keeps the weight prod_{j<i} (1 - x_j[pad])
    of itself and gives the rest to the pad symbol. On one-hot rows (a hard read) every row after
    the first pad becomes pad exactly; on soft rows it is the same rule in expectation, and
    differentiable."""
    still = torch.cumprod(1 - x[..., pad], dim=1)  # [N, L]: no pad up to and including row i
    keep = torch.cat([torch.ones_like(still[:, :1]), still[:, :-1]], dim=1)[..., None]  # ... before row i
    onehot = torch.zeros_like(x[:1, :1])
    onehot[..., pad] = 1
    return keep * x + (1 - keep) * onehot


def end_of_string_tokens(idx, pad: int):
    """The same rule on token rows [N, L] (numpy): every position after the first pad is pad."""
    import numpy as np

    out = np.array(idx, copy=True)
    out[np.cumsum(out == pad, axis=1) > 0] = pad
    return out


def gumbel_straight_through(logits: torch.Tensor, tau: float, u: torch.Tensor | None = None,
                            noise: bool = True) -> torch.Tensor:
    """One-hot rows of argmax(logits + g) forward, the gradient of softmax((logits + g) / tau)
    backward, with g = -log(-log(u)) Gumbel noise from uniform u. (The same distribution as
    torch's gumbel_softmax, whose exponential_() draw costs 6x more on the CPU.) `noise=False`:
    g = 0, so the forward rows are the argmax of the logits (`model.gumbel_noise`)."""
    if noise:
        if u is None:
            u = torch.rand_like(logits)
        logits = logits - torch.log(-torch.log(u.clamp_min(torch.finfo(u.dtype).tiny)))
    soft = (logits / tau).softmax(-1)
    hard = F.one_hot(soft.argmax(-1), soft.shape[-1]).to(soft.dtype)
    return hard - soft.detach() + soft


class Critic(nn.Module):
    """A body mapping [N, L, V] to features, with the three named heads on top. With
    `model.critic_2d`, a second path reads the canvas as a one-channel image (`ImageView`) and
    its features join the body's before the heads: a digit's strokes are 2-D, which the 1-D
    body sees only as rows of a sequence."""

    def __init__(self, body: nn.Module, feat: int, conditioning: str, image: nn.Module | None = None):
        super().__init__()
        self.body = body
        self.image = image
        feat += image.features if image is not None else 0
        self.score = nn.Linear(feat, 1)
        self.task = nn.Linear(feat, N_TASKS)
        self.cls = nn.Linear(feat, N_CLASSES) if conditioning == "task+class" else None

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.body(x.transpose(1, 2))  # Conv1d wants [N, channels=V, length=L]
        if self.image is not None:
            h = torch.cat([h, self.image(x)], 1)
        out = {"score": self.score(h)[:, 0], "task": self.task(h)}
        if self.cls is not None:
            out["class"] = self.cls(h)
        return out


class ImageView(nn.Module):
    """The canvas [N, L, V] as an image [N, 1, L, V]: two stride-2 4x4 convolutions with leaky
    ReLUs (no normalisation: it would break the per-sample gradient penalty), flattened."""

    def __init__(self, shape: tuple[int, int], channels: int = 8):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, channels, 4, 2, 1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(channels, 2 * channels, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten())
        L, V = shape
        self.features = 2 * channels * (L // 4) * (V // 4)

    def forward(self, x):
        return self.net(x[:, None])


def _image(m, shape) -> ImageView | None:
    return ImageView(shape) if getattr(m, "critic_2d", False) else None


# ---------------------------------------------------------------- seed (2018, faithful)
class SeedGenerator(nn.Module):
    """concat(z, t) -> Dense((L/4)*(V/4), relu) -> reshape (L/4, V/4) -> dropout
    -> up x2 -> Conv1D(V/3, k2, same) relu -> dropout -> up x2 -> Conv1D(V/2, k2) relu
    -> dropout -> Conv1D(V, k4) -> activation.

    Choices where the 2018 shapes do not fit: L is rounded up to a multiple of 4 at
    preprocessing so two x2 upsamplings give exactly L rows; channel counts are floor
    divisions (V//4, V//3, V//2); every Conv1D uses 'same' padding (the write-up gives
    it only for the first, but 'valid' would shorten the output below L).
    """

    def __init__(self, z_dim: int, cdim: int, shape, dropout: float):
        super().__init__()
        L, V = shape
        self.L4, self.V4 = L // 4, max(1, V // 4)
        self.dense = nn.Linear(z_dim + cdim, self.L4 * self.V4)
        self.net = nn.Sequential(
            nn.Dropout(dropout), nn.Upsample(scale_factor=2),
            nn.Conv1d(self.V4, max(1, V // 3), 2, padding="same"), nn.ReLU(), nn.Dropout(dropout),
            nn.Upsample(scale_factor=2),
            nn.Conv1d(max(1, V // 3), max(1, V // 2), 2, padding="same"), nn.ReLU(), nn.Dropout(dropout),
            nn.Conv1d(max(1, V // 2), V, 4, padding="same"),
        )

    def forward(self, z, c):
        h = F.relu(self.dense(torch.cat([z, c], 1))).view(-1, self.L4, self.V4)
        return self.net(h.transpose(1, 2)).transpose(1, 2)  # [N, L, V] logits


def _seed_critic(shape, conditioning: str, dropout: float) -> nn.Module:
    """The 2018 critic's body (its heads: `Critic`)."""
    L, V = shape
    t = ((L - 3) // 2 - 3) // 2  # two valid k4 convs, each followed by maxpool 2
    if t < 1:
        raise ConfigError(f"model.family seed: its critic needs a canvas of at least 13 rows, but it has {L}; "
                          "raise preprocess.extra_pad")
    body = nn.Sequential(
        nn.Conv1d(V, 25, 4), nn.LeakyReLU(0.2), nn.Dropout(dropout), nn.MaxPool1d(2),
        nn.Conv1d(25, 10, 4), nn.LeakyReLU(0.2), nn.Dropout(dropout), nn.MaxPool1d(2),
        nn.Flatten(), nn.Linear(10 * t, 64), nn.LeakyReLU(0.2), nn.Dropout(dropout),
    )
    return body


@FAMILIES.register("seed")
def _seed(m, shape):
    # The 2018 values (z of 2 numbers, dropout 0.4) are set by the seed preset's params.
    G = SeedGenerator(m.z_dim, cond_dim(m.conditioning), shape, m.dropout)  # first: the order of the seeded inits
    return G, Critic(_seed_critic(shape, m.conditioning, m.dropout), 64, m.conditioning, _image(m, shape))


# ---------------------------------------------------------------- resnet (WGAN-GP language model)
class Pointwise(nn.Conv1d):
    """Conv1d with kernel 1, [N, C_in, L] -> [N, C_out, L], computed as one matmul over the
    transposed view. The canvas arrives as [N, L, V] and leaves that way, so the critic's
    input and the generator's output layers need no transposing copy of the wide canvas
    rows, which oneDNN's convolution would make on every call. Same parameters, init and
    state_dict keys as Conv1d (benchmarks/train_speed.py compares the two)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(c_in, c_out, 1)

    def forward(self, x):
        return F.linear(x.transpose(1, 2), self.weight[:, :, 0], self.bias).transpose(1, 2)


class ResBlock(nn.Module):
    """relu -> conv k5 -> relu -> conv k5, added back scaled by 0.3 (Gulrajani et al. 2017).
    No normalisation: batch norm would break the per-sample gradient penalty."""

    def __init__(self, dim: int):
        super().__init__()
        self.c1, self.c2 = nn.Conv1d(dim, dim, 5, padding=2), nn.Conv1d(dim, dim, 5, padding=2)

    def forward(self, x):
        return x + 0.3 * self.c2(F.relu(self.c1(F.relu(x))))


class ResGenerator(nn.Module):
    def __init__(self, z_dim, cdim, shape, dim, blocks):
        super().__init__()
        self.L, self.dim = shape[0], dim
        self.fc = nn.Linear(z_dim + cdim, dim * self.L)
        self.blocks = nn.Sequential(*[ResBlock(dim) for _ in range(blocks)])
        self.out = Pointwise(dim, shape[1])

    def forward(self, z, c):
        h = self.fc(torch.cat([z, c], 1)).view(-1, self.dim, self.L)
        return self.out(self.blocks(h)).transpose(1, 2)


@FAMILIES.register("resnet")
def _resnet(m, shape):
    L, V = shape
    body = nn.Sequential(Pointwise(V, m.dim), *[ResBlock(m.dim) for _ in range(m.blocks)], nn.Flatten())
    G = ResGenerator(m.z_dim, cond_dim(m.conditioning), shape, m.dim, m.blocks)  # the order of the seeded inits
    return G, Critic(body, m.dim * L, m.conditioning, _image(m, shape))


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
