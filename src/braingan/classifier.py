"""Stage `classifier`: the MNIST CNN that is the instrument of the digit metrics.

Trained on the real train split only; its held-out accuracy is reported because a
weak instrument would make every generated-digit score meaningless.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import paths
from .config import Config
from .data.dataset import Processed
from .errors import DataError
from .fsutil import torch_bytes, write_bytes, write_json


class MnistCNN(nn.Module):
    FEATURES = 128  # penultimate width: the space of the Frechet distance

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 7 * 7, self.FEATURES), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.25), nn.Linear(self.FEATURES, 10))

    def forward(self, x):  # x: [N, 28, 28] in [0, 1]
        return self.head(self.conv(x[:, None]))

    def features(self, x):
        return self.conv(x[:, None])


def _shift(x: torch.Tensor, gen: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random translation by up to 2 pixels: cheap augmentation against over-fitting a few
    thousand training digits."""
    pad = F.pad(x, (max_shift,) * 4)
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2,), generator=gen).tolist()
    return pad[:, dy : dy + 28, dx : dx + 28]


@torch.no_grad()
def predict(model: MnistCNN, images: np.ndarray, batch: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """(softmax probabilities [N,10], penultimate features [N,128]) for images in [0,1]."""
    model.eval()
    probs, feats = [], []
    for i in range(0, len(images), batch):
        x = torch.as_tensor(np.asarray(images[i : i + batch], dtype=np.float32))
        f = model.features(x)
        probs.append(model.head(f).softmax(-1).numpy())
        feats.append(f.numpy())
    return np.concatenate(probs), np.concatenate(feats)


def run(cfg: Config, data: Processed, out: Path = paths.results("classifier"),
        model_path: Path = paths.CLASSIFIER) -> dict:
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    x = torch.from_numpy(data.train_images.astype(np.float32) / 255.0)
    y = torch.from_numpy(data.train_labels).long()
    xh = data.heldout_images.astype(np.float32) / 255.0
    model = MnistCNN()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.classifier.lr)
    c = cfg.classifier
    n_batches = -(-len(x) // c.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=c.lr * 3, total_steps=c.epochs * n_batches)
    t0 = time.time()
    bar = tqdm(total=c.epochs * n_batches, desc="classifier", unit="batch", file=sys.stderr, mininterval=1.0)
    for epoch in range(c.epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), c.batch_size):
            idx = perm[i : i + c.batch_size]
            loss = F.cross_entropy(model(_shift(x[idx], gen)), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update()
        acc = float((predict(model, xh)[0].argmax(1) == data.heldout_labels).mean())
        bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}", heldout_acc=f"{acc:.4f}")
    bar.close()
    probs, _ = predict(model, xh)
    pred = probs.argmax(1)
    metrics = {
        "heldout_accuracy": round(float((pred == data.heldout_labels).mean()), 5),
        "heldout_n": int(len(xh)),
        "train_n": int(len(x)),
        "wall_s": round(time.time() - t0, 2),
        **{f"heldout_accuracy_class{k}": round(float((pred[data.heldout_labels == k] == k).mean()), 4)
           for k in range(10) if (data.heldout_labels == k).any()},
    }
    write_bytes(model_path, torch_bytes(model.state_dict()))
    write_json(out / "metrics.json", metrics)
    print(f"braingan classifier: held-out accuracy {metrics['heldout_accuracy']:.4f} on {len(xh)} digits", file=sys.stderr)
    return metrics


def load(path: Path = paths.CLASSIFIER) -> MnistCNN:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} is missing: run the stage that makes it first (dvc repro classifier)")
    model = MnistCNN()
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as e:  # noqa: BLE001 - a truncated or foreign file
        raise DataError(f"{path} cannot be read as the MNIST classifier ({type(e).__name__}); "
                        "re-create it with `dvc repro -f classifier`") from None
    return model.eval()
