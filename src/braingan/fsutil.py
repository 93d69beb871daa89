"""Files: atomic writes, checksums, verified downloads, the repository root.

Every output of the pipeline goes through `atomic_path` so that a crash never leaves a
half-written file behind for DVC to cache.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from .errors import DataError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to `path`; rename it onto `path` only on success.

    An unwritable place (a read-only checkout, no permission) is a DataError naming it."""
    path = Path(path)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # 0666 & umask, like any new file
    except OSError as e:
        raise DataError(f"cannot write {path}: {e.strerror} (is the checkout read-only?)") from None
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def torch_bytes(obj) -> bytes:
    """torch.save into memory: the archive's inner folder is then always named `archive`
    (saved to a file it takes the file's name, and ours are random temp names), so the
    same weights always give the same bytes and DVC sees an unchanged output."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def write_json(path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def save_npz(path, **arrays) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object stops numpy from appending ".npz"
            np.savez_compressed(f, **arrays)


def figure_png(fig, dpi: int = 100) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def save_figure(fig, path) -> None:
    write_bytes(path, figure_png(fig))


def write_csv(path, header: list[str], rows) -> None:
    import csv

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    write_text(path, buf.getvalue())


def sha256_file(path, algo: str = "sha256") -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(url: str, dest, checksum: str, algo: str = "sha256", timeout: float = 30.0) -> Path:
    """Download `url` to `dest` once: https:// (or file:// for a local mirror) only,
    checksum-verified, atomic, cached.

    A cached file with the right checksum is reused without touching the network.
    A mismatch is an error and leaves nothing behind.
    """
    dest = Path(dest)
    if not checksum:
        raise DataError(f"refusing to download {url} without a checksum to verify it against")
    if dest.exists() and sha256_file(dest, algo) == checksum:
        return dest
    if not url.startswith("https://") and not url.startswith("file://"):
        raise DataError(f"refusing to download {url!r}: only https:// (or file://) URLs are allowed")
    with atomic_path(dest) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
                shutil.copyfileobj(r, f)
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise DataError(
                f"could not download {url}: {getattr(e, 'reason', e)}. "
                "No network? Point the source at a local copy instead (source: path, or a mirror path)."
            ) from None
        got = sha256_file(tmp, algo)
        if got != checksum:
            raise DataError(f"{algo} mismatch for {url}: expected {checksum}, got {got}; nothing was kept")
    return dest


def repo_root(start: str | os.PathLike | None = None) -> Path:
    """The main workspace's root, also from inside a DVC queue's temporary workspace.

    `dvc queue` runs experiments in `<root>/.dvc/tmp/exps/<tmpdir>`; results such as the
    MLflow store must land in `<root>`, the user's workspace, not in the throw-away copy.
    """
    p = Path(start or os.getcwd()).resolve()
    parts = p.parts
    for i in range(len(parts) - 3):
        if parts[i : i + 3] == (".dvc", "tmp", "exps"):
            return Path(*parts[:i])
    for q in (p, *p.parents):
        if (q / ".dvc").is_dir() or (q / ".git").exists():
            return q
    return p
