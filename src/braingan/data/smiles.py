"""SMILES: cleaning with RDKit, tokenisation, vocabulary, one-hot encode / decode.

The pad symbol `|` fills every row after the string's end (the 2018 encoding); it is
part of the vocabulary and must never occur in the data itself.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from rdkit import Chem, RDLogger

RDLogger.DisableLog("rdApp.*")  # RDKit otherwise prints one line per bad SMILES

PAD = "|"
_HALOGEN_RE = re.compile(r"Cl|Br|.", re.S)


def tokenize(smiles: str, halogen_tokens: bool) -> list[str]:
    return _HALOGEN_RE.findall(smiles) if halogen_tokens else list(smiles)


@dataclass
class Vocab:
    symbols: list[str]  # index -> symbol; sorted, includes PAD

    def __post_init__(self):
        self.index = {s: i for i, s in enumerate(self.symbols)}
        self.pad = self.index[PAD]
        self.halogen_tokens = any(len(s) > 1 for s in self.symbols)

    @classmethod
    def build(cls, smiles: list[str], halogen_tokens: bool) -> "Vocab":
        syms = {t for s in smiles for t in tokenize(s, halogen_tokens)}
        return cls(sorted(syms | {PAD}))

    def __len__(self):
        return len(self.symbols)

    def encode(self, smiles: list[str], length: int) -> np.ndarray:
        """Token indices [N, length], padded with PAD. Unknown symbols raise KeyError."""
        out = np.full((len(smiles), length), self.pad, dtype=np.int64)
        for i, s in enumerate(smiles):
            toks = tokenize(s, self.halogen_tokens)
            if len(toks) > length:
                raise ValueError(f"SMILES {s!r} has {len(toks)} symbols; the canvas holds {length}")
            for j, t in enumerate(toks):
                if t not in self.index:
                    raise KeyError(f"symbol {t!r} of {s!r} is not in the vocabulary")
                out[i, j] = self.index[t]
        return out

    def one_hot(self, idx: np.ndarray) -> np.ndarray:
        return np.eye(len(self), dtype=np.float32)[idx]

    def decode(self, rows: np.ndarray, strip: bool = True) -> list[str]:
        """Canvas [N, L, V] (argmax per row) or indices [N, L] -> strings; `|` stripped.

        Stripping removes every pad symbol, as the 2018 code did; a pad *inside* a string
        is therefore invisible here, and is counted separately by the collapse metrics.
        """
        idx = rows.argmax(-1) if rows.ndim == 3 else rows
        syms = np.array(self.symbols, dtype=object)[idx]
        out = ["".join(r) for r in syms]
        return [s.replace(PAD, "") for s in out] if strip else out


def mol_from(smiles: str):
    """RDKit parse AND sanitise; None for anything RDKit rejects or the empty string."""
    if not smiles or not smiles.replace(PAD, ""):
        return None
    return Chem.MolFromSmiles(smiles)


def repair(smiles: str):
    """Fix the hypervalent neutral nitrogens old SMILES files contain.

    The Stahl set writes charged nitrogens without their charge (`[NH]` with four bonds,
    `=[NH2]`, nitro as `[N](=O)=O`); modern RDKit rejects these. We put the charge
    back: a 4-valent neutral N becomes N+, and a nitro's N(=O)=O becomes [N+](=O)[O-].
    Returns a sanitised Mol or None.
    """
    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        return None
    mol.UpdatePropertyCache(strict=False)
    for atom in mol.GetAtoms():
        if atom.GetSymbol() != "N" or atom.GetFormalCharge() != 0:
            continue
        valence = sum(b.GetBondTypeAsDouble() for b in atom.GetBonds()) + atom.GetTotalNumHs()
        if valence == 4:
            atom.SetFormalCharge(1)
        elif valence == 5:
            dbl_o = [b for b in atom.GetBonds() if b.GetBondTypeAsDouble() == 2 and b.GetOtherAtom(atom).GetSymbol() == "O"]
            if dbl_o:
                dbl_o[0].SetBondType(Chem.BondType.SINGLE)
                dbl_o[0].GetOtherAtom(atom).SetFormalCharge(-1)
                atom.SetFormalCharge(1)
    try:
        Chem.SanitizeMol(mol)
    except Exception:
        return None
    return mol


@dataclass
class CleanReport:
    read: int = 0
    sanitised_as_written: int = 0
    repaired: int = 0
    dropped_invalid: int = 0
    dropped_too_long: int = 0
    dropped_duplicate: int = 0
    kept: int = 0
    examples_dropped: list[str] = field(default_factory=list)

    def counts(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "examples_dropped"}


def clean(smiles: list[str], invalid: str, canonical: bool, max_len: int, dedupe: bool, halogen_tokens: bool):
    """Apply the cleaning steps in order, counting what each removes.

    Raises ValueError if the pad symbol occurs in the data (it would be unrecoverable).
    """
    rep = CleanReport(read=len(smiles))
    with_pad = [i for i, s in enumerate(smiles) if PAD in s]
    if with_pad:
        raise ValueError(
            f"the pad symbol '{PAD}' occurs in {len(with_pad)} SMILES (first: entry {with_pad[0] + 1}, "
            f"{smiles[with_pad[0]]!r}); it is reserved for padding"
        )
    out = []
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        if mol is not None:
            rep.sanitised_as_written += 1
        elif invalid == "repair" and (mol := repair(s)) is not None:
            rep.repaired += 1
        else:
            rep.dropped_invalid += 1
            if len(rep.examples_dropped) < 5:
                rep.examples_dropped.append(s)
            continue
        out.append(Chem.MolToSmiles(mol) if canonical else s)
    if max_len:
        n = len(out)
        out = [s for s in out if len(tokenize(s, halogen_tokens)) <= max_len]
        rep.dropped_too_long = n - len(out)
    if dedupe:
        n = len(out)
        out = list(dict.fromkeys(out))
        rep.dropped_duplicate = n - len(out)
    rep.kept = len(out)
    return out, rep


def symbol_counts(smiles: list[str], halogen_tokens: bool) -> Counter:
    return Counter(t for s in smiles for t in tokenize(s, halogen_tokens))
