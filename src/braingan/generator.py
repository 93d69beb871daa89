"""A trained generator as one object: the network, its validated model config, the
vocabulary and canvas it writes on, and the tasks it learned.

    g = Generator.load("models/generator.pt")
    mols = g.sample("smiles", 1000, seed=0)       # .smiles(), .tokens, .canvas
    sevens = g.sample("mnist", 100, seed=0, class_=7)   # .images: [n, 28, 28] in [0, 1]

Evaluation, `braingan sample`, the MLflow pyfunc model and the pictures drawn while
training all sample through `Generator.sample`. The file holds everything needed without
the training data; `load` validates its stored model config the way params.yaml is
validated, so a file from other code fails with a clear error instead of sampling nonsense.
"""
from __future__ import annotations

import functools
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import models
from .config import ConfigError, Model, section
from .data import canvas as cv
from .data import encodings
from .data.smiles import Vocab
from .errors import DataError
from .fsutil import torch_bytes, write_bytes
from .models import MNIST, N_CLASSES, SMILES, task_id, task_name


@dataclass
class Samples:
    """n samples of one task: the activated canvases and what they read as."""

    task: int
    canvas: np.ndarray  # [n, L, V] after the output activation
    classes: np.ndarray  # [n] the asked digit class; -1 for molecules
    vocab: Vocab
    canvas_mode: str
    end_of_string: bool = False  # model.end_of_string: a read row ends at its first pad

    @property
    def images(self) -> np.ndarray:
        """Digits as the classifier sees them: [n, 28, 28] in [0, 1] (the canvas inverse)."""
        return cv.from_canvas(self.canvas, self.canvas_mode)

    @functools.cached_property
    def tokens(self) -> np.ndarray:
        """Molecule rows read by argmax: token indices [n, L]."""
        return self._read(self.canvas.argmax(-1))

    def sampled_tokens(self, rng) -> np.ndarray:
        """Molecule rows read by drawing each row's symbol from its distribution (as training
        fed the critic): token indices [n, L]."""
        return self._read(sample_rows(self.canvas, rng))

    def _read(self, idx: np.ndarray) -> np.ndarray:
        return models.end_of_string_tokens(idx, self.vocab.pad) if self.end_of_string else idx

    def smiles(self, tokens: np.ndarray | None = None) -> list[str | None]:
        """Decoded SMILES (None: not a string, or not decodable) of `tokens` (default: argmax)."""
        return self.vocab.decode(self.tokens if tokens is None else tokens)


@dataclass
class Generator:
    net: nn.Module
    model: Model
    vocab: Vocab
    shape: tuple[int, int]
    canvas_mode: str
    tasks: tuple[int, ...]
    step: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    # z is drawn in whole batches of this size, so the first n samples of a seed are the
    # same for every n (a larger draw extends a smaller one).
    BATCH = 500

    @torch.no_grad()
    def sample(self, task: str | int, n: int, seed: int, class_: int | None = None, progress: bool = False) -> Samples:
        """n seeded samples of one task, in eval mode. Digit classes cycle 0..9 unless
        `class_` fixes one (a generator trained with task+class conditioning). `progress`: a
        progress bar on stderr."""
        from tqdm import tqdm

        t = task_id(task) if isinstance(task, str) else task
        if t not in self.tasks:
            raise DataError(f"this generator was trained on {', '.join(task_name(k) for k in self.tasks)} only; "
                            f"it has no {task_name(t)} samples to give")
        if class_ is not None and (t != MNIST or self.model.conditioning != "task+class"):
            raise DataError("a digit class needs task mnist and a generator trained with model.conditioning task+class")
        was_training = self.net.training
        self.net.eval()
        rng = torch.Generator().manual_seed(seed)
        canvases, classes = [], []
        bar = tqdm(total=n, desc=f"sample {task_name(t)}", unit="sample", disable=not progress, file=sys.stderr)
        try:
            for i in range(0, n, self.BATCH):
                k = min(self.BATCH, n - i)
                z = torch.randn(self.BATCH, self.model.z_dim, generator=rng)[:k].to(self.device)
                if t != MNIST:
                    cls = torch.full((k,), -1)
                else:
                    cls = torch.full((k,), class_) if class_ is not None else torch.arange(i, i + k) % N_CLASSES
                cls = cls.long().to(self.device)
                tt = torch.full((k,), t, dtype=torch.long, device=self.device)
                logits = self.net(z, models.condition(tt, cls, self.model.conditioning))
                canvases.append(models.activate(logits, t, self.model, pad=self.vocab.pad).float().cpu().numpy())
                classes.append(cls.cpu().numpy())
                bar.update(k)
        finally:
            bar.close()
            self.net.train(was_training)
        empty = np.zeros((0, *self.shape), dtype=np.float32)
        return Samples(t, np.concatenate(canvases) if canvases else empty,
                       np.concatenate(classes) if classes else np.zeros(0, dtype=np.int64), self.vocab, self.canvas_mode,
                       self.model.end_of_string)

    # ------------------------------------------------------------ the file
    def to_dict(self) -> dict:
        return {"state_dict": self.net.state_dict(), "model": asdict(self.model), "shape": list(self.shape),
                "canvas_mode": self.canvas_mode, "vocab": list(self.vocab.symbols),
                "encoding": self.vocab.encoding.describe(), "tasks": list(self.tasks), "step": self.step}

    def save(self, path) -> None:
        """Atomically; the same weights give the same bytes (DVC sees an unchanged output)."""
        write_bytes(path, torch_bytes(self.to_dict()))

    @classmethod
    def load(cls, path, device="cpu") -> "Generator":
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path} is missing: run the stage that makes it first (dvc repro)")
        try:
            blob = torch.load(path, map_location=device, weights_only=True)
        except Exception as e:  # noqa: BLE001 - a truncated or foreign file: say which and what to do
            raise DataError(f"{path} cannot be read as a BrainGAN generator ({type(e).__name__}: {str(e)[:200]}); "
                            "re-create it with `dvc repro -f train`") from None
        try:
            return cls.from_dict(blob, device)
        except (ConfigError, DataError) as e:
            raise DataError(f"{path}: {e}; re-create it with `dvc repro -f train`") from None
        except Exception as e:  # noqa: BLE001 - weights that do not fit the stored config
            raise DataError(f"{path} cannot be read as a BrainGAN generator ({type(e).__name__}: {str(e)[:200]}); "
                            "re-create it with `dvc repro -f train`") from None

    @classmethod
    def from_dict(cls, blob: dict, device="cpu") -> "Generator":
        if not isinstance(blob, dict) or "state_dict" not in blob or "model" not in blob:
            raise DataError("not a generator file (no weights or no model config in it)")
        model = section("model", blob.get("model"))  # the stored config, validated like params.yaml
        mode = blob.get("canvas_mode")
        if mode not in cv.MODES:
            raise DataError(f"its canvas mode {mode!r} is not one of {', '.join(cv.MODES)}")
        tasks = tuple(blob.get("tasks") or ())
        if not tasks or not set(tasks) <= {MNIST, SMILES}:
            raise DataError(f"its tasks {list(tasks)} are not a non-empty subset of [{MNIST}, {SMILES}]")
        enc = blob.get("encoding") or {}
        vocab = Vocab(blob["vocab"], encodings.get(enc.get("encoding"), enc.get("tokens")))
        shape = tuple(int(s) for s in blob["shape"])
        net, _ = models.build(model, shape)
        net.load_state_dict(blob["state_dict"])
        device = torch.device(device)
        return cls(net.to(device).eval(), model, vocab, shape, mode, tasks, int(blob.get("step", 0)), device)


def sample_rows(canvas: np.ndarray, rng) -> np.ndarray:
    """One symbol per row drawn from the row's distribution (rows normalised to sum 1)."""
    p = np.clip(canvas, 0, None)
    cdf = np.cumsum(p, -1)
    u = rng.random(p.shape[:-1])[..., None] * cdf[..., -1:]
    return np.minimum((cdf <= u).sum(-1), p.shape[-1] - 1)
