"""The MOSES benchmark's data (Polykovskiy et al. 2020): its fixed train / test / test_scaffolds
split (1.58 M / 176 k / 176 k molecules) and its filter SMARTS, read from the molsets 0.3.1
wheel on the package index.

The molsets package itself does not import on Python 3.11 (its dependencies are long gone), and
need not: the wheel is fetched the way pip fetches packages (`pip download`, so a configured
index or mirror, and pip's own offline cache, work), pinned by its sha256, kept in the
braingan cache, and only its data files are read. Source `moses` (`fetch.smiles.split` picks
the split to train on) also hands stage fetch the reference files that `evaluate.protocol:
moses` measures against: the test sets, the training set and the filters.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ..errors import DataError
from ..fsutil import sha256_file
from .sources import SMILES_SOURCES, SmilesRead, cache_dir

WHEEL = "molsets-0.3.1-py3-none-any.whl"
WHEEL_SHA256 = "7f4450e3ebecebe79c3a2a55950c93daddee071120daf64a163d03481e811d34"
SPLITS = ("train", "test", "test_scaffolds")
MEMBERS = {s: f"moses/dataset/data/{s}.csv.gz" for s in SPLITS}
FILTERS = {"mcf.csv": "moses/metrics/mcf.csv", "wehi_pains.csv": "moses/metrics/wehi_pains.csv"}
REFERENCES = ("test", "test_scaffolds")  # what `evaluate.protocol: moses` compares with, besides the training set


def wheel(timeout: float = 900) -> Path:
    """The verified wheel: from the cache, else `pip download`ed into it (nothing kept on a mismatch)."""
    dest = cache_dir() / "moses" / WHEEL
    if dest.is_file() and sha256_file(dest) == WHEEL_SHA256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".download-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "molsets==0.3.1", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--quiet", "--dest", tmp]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DataError(f"fetch.smiles.source moses: pip download of molsets 0.3.1 took over {timeout:.0f} s; "
                            f"no package index reachable? Put {WHEEL} in {dest.parent}") from None
        got = Path(tmp) / WHEEL
        if p.returncode != 0 or not got.is_file():
            last = (p.stderr or p.stdout).strip().splitlines()[-1:] or ["no wheel"]
            raise DataError(f"fetch.smiles.source moses: could not fetch {WHEEL} from the package index "
                            f"({last[0][:200]}); without network, put the wheel in {dest.parent}")
        digest = sha256_file(got)
        if digest != WHEEL_SHA256:
            raise DataError(f"fetch.smiles.source moses: {WHEEL} from the package index has sha256 {digest}, "
                            f"expected {WHEEL_SHA256}; nothing was kept")
        os.replace(got, dest)
    return dest


def read_member(name: str) -> bytes:
    path = wheel()
    try:
        with zipfile.ZipFile(path) as z:
            return z.read(name)
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        raise DataError(f"{path}: cannot read {name} ({e}); delete the file to fetch it again") from None


def split_smiles(raw_gz: bytes) -> list[str]:
    """The SMILES of one split file (gzip CSV with a SMILES header)."""
    lines = gzip.decompress(raw_gz).decode("utf-8").splitlines()
    if not lines or lines[0].strip() != "SMILES":
        raise DataError(f"{WHEEL}: a MOSES split that is not a SMILES column (header {lines[:1]})")
    return [s.strip() for s in lines[1:] if s.strip()]


@SMILES_SOURCES.register("moses")
def _moses(src) -> SmilesRead:
    raw = read_member(MEMBERS[src.split])
    smiles = split_smiles(raw)
    refs = {f"{s}.txt": ("\n".join(split_smiles(read_member(MEMBERS[s]))) + "\n").encode() for s in REFERENCES}
    if src.split != "train":  # novelty is against the benchmark's training set whatever a run trains on
        refs["train.txt"] = ("\n".join(split_smiles(read_member(MEMBERS["train"]))) + "\n").encode()
    refs.update({name: read_member(member) for name, member in FILTERS.items()})
    return SmilesRead(smiles, f"MOSES {src.split} split ({WHEEL})", hashlib.sha256(raw).hexdigest(),
                      lines=len(smiles), references=refs)
