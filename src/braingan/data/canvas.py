"""The shared L x V canvas: digits placed on it, and the way back to 28x28 used at evaluation.

`pad`: the 28x28 digit is zero-padded into the top-left corner (as in 2018); the inverse
crops it back out, bit-exact. `resize`: the digit is resized (anti-aliased bilinear) to
fill L x V; the way back resizes to 28x28 with the same filter. That is *not* an exact
inverse (real digits lose detail on the round trip), so every real digit set a generated
one is compared with takes the same round trip first (`round_trip`).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..config import CANVAS_MODES as MODES

DIGIT = 28


def canvas_shape(longest_smiles: int, extra_pad: int, vocab_size: int) -> tuple[int, int]:
    """L = longest + extra_pad (the seed's rule), rounded up to a multiple of 4.

    Why the rounding: the seed generator upsamples twice by 2 from L/4 rows, so L must
    divide by 4 for its output to have exactly L rows.
    """
    L = longest_smiles + extra_pad
    return int(-(-L // 4) * 4), int(vocab_size)


def check_mode(mode: str, shape: tuple[int, int]) -> None:
    if mode not in MODES:
        raise ValueError(f"preprocess.canvas: {mode!r} is not allowed; allowed values: {', '.join(MODES)}")
    L, V = shape
    if mode == "pad" and (L < DIGIT or V < DIGIT):
        raise ValueError(
            f"preprocess.canvas 'pad' needs a canvas of at least 28x28, but it is {L}x{V} "
            f"(L = longest SMILES + extra_pad, V = vocabulary size); use canvas 'resize' or a larger extra_pad"
        )


def to_canvas(images: np.ndarray, shape: tuple[int, int], mode: str) -> np.ndarray:
    """uint8 or float [N,28,28] (0..255) -> float32 [N,L,V] in [0,1]."""
    check_mode(mode, shape)
    x = np.asarray(images, dtype=np.float32) / 255.0
    L, V = shape
    if mode == "pad":
        out = np.zeros((len(x), L, V), dtype=np.float32)
        out[:, :DIGIT, :DIGIT] = x
        return out
    return _resize(x, (L, V))


def from_canvas(canvas, mode: str) -> np.ndarray:
    """float [N,L,V] -> float32 [N,28,28] in [0,1]: crop (`pad`, exact) or resize back (`resize`)."""
    c = np.asarray(canvas, dtype=np.float32)
    if mode == "pad":
        return c[:, :DIGIT, :DIGIT].copy()
    return np.clip(_resize(c, (DIGIT, DIGIT)), 0.0, 1.0)


def round_trip(images: np.ndarray, shape: tuple[int, int], mode: str) -> np.ndarray:
    """Real digits (0..255) onto the canvas and back: what a perfect generator's digits look like."""
    return from_canvas(to_canvas(images, shape, mode), mode)


def _resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if x.shape[1:] == size:
        return x.astype(np.float32, copy=True)
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[:, None]
    return F.interpolate(t, size=size, mode="bilinear", antialias=True, align_corners=False)[:, 0].numpy()
