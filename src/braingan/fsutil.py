"""Files: atomic writes, checksums, verified downloads, the repository root.

Every output of the pipeline goes through `atomic_path` so that a crash never leaves a
half-written file behind for DVC to cache.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np


_UMASK = os.umask(0)
os.umask(_UMASK)


class DataError(RuntimeError):
    """Bad input data or a failed download; the message says what, where and what to do."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to `path`; rename it onto `path` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs should look like any file
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


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


def save_figure(fig, path) -> None:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def sha256_file(path, algo: str = "sha256") -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def clean_dir(path) -> Path:
    """Empty (or create) an output folder so no stale file from an earlier run survives."""
    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def download(url: str, dest, checksum: str, algo: str = "sha256", timeout: float = 30.0) -> Path:
    """Download `url` to `dest` once: HTTPS only, checksum-verified, atomic, cached.

    A cached file with the right checksum is reused without touching the network.
    A mismatch is an error and leaves nothing behind.
    """
    dest = Path(dest)
    if not checksum:
        raise DataError(f"refusing to download {url} without a checksum to verify it against")
    if dest.exists() and sha256_file(dest, algo) == checksum:
        return dest
    if not url.startswith("https://") and not url.startswith("file://"):
        raise DataError(f"refusing to download {url!r}: only https:// URLs are allowed")
    try:
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
    except DataError:
        raise
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
