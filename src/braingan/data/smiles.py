"""SMILES: cleaning with RDKit, the vocabulary of an encoding's tokens, one-hot canvas rows.

The pad symbol `|` fills every row after the string's end (the 2018 encoding); it is part
of the vocabulary and must never occur in the data itself. A row whose pad comes before
its last symbol (an inner pad) is not a string at all and decodes to None.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import sys
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from rdkit import Chem, RDLogger
from tqdm import tqdm

from .encodings import PAD, Encoding, EncodingError

RDLogger.DisableLog("rdApp.*")  # RDKit otherwise prints one line per bad SMILES

# No token of any encoding is longer than this many SMILES characters ("[C@@H+]" is 7), so a
# string longer than max_len * MAX_CHARS_PER_TOKEN is too long whatever the encoding: it is
# dropped before RDKit spends time parsing it.
MAX_CHARS_PER_TOKEN = 8


class Vocab:
    """The canvas alphabet: an encoding's sorted symbols plus PAD, index = column."""

    def __init__(self, symbols: list[str], encoding: Encoding):
        self.symbols = list(symbols)
        self.encoding = encoding
        self.index = {s: i for i, s in enumerate(self.symbols)}
        self.pad = self.index[PAD]

    @classmethod
    def build(cls, token_lists: list[list[str]], encoding: Encoding) -> "Vocab":
        return cls(sorted({t for toks in token_lists for t in toks} | {PAD}), encoding)

    def __len__(self):
        return len(self.symbols)

    def encode(self, token_lists: list[list[str]], length: int) -> np.ndarray:
        """Token indices [N, length], padded with PAD. Unknown symbols raise KeyError."""
        out = np.full((len(token_lists), length), self.pad, dtype=np.int64)
        for i, toks in enumerate(token_lists):
            if len(toks) > length:
                raise ValueError(f"{''.join(toks)!r} has {len(toks)} symbols; the canvas holds {length}")
            for j, t in enumerate(toks):
                if t not in self.index:
                    raise KeyError(f"symbol {t!r} of {''.join(toks)!r} is not in the vocabulary")
                out[i, j] = self.index[t]
        return out

    def one_hot(self, idx: np.ndarray) -> np.ndarray:
        return np.eye(len(self), dtype=np.float32)[idx]

    def raw(self, idx: np.ndarray) -> list[str]:
        """Each row's symbols joined, pads included (what the generator wrote)."""
        syms = np.array(self.symbols, dtype=object)[idx]
        return ["".join(r) for r in syms]

    def tokens(self, idx: np.ndarray) -> list[list[str] | None]:
        """Each row's tokens up to its first pad; None for a row with a symbol after a pad."""
        out = []
        for row in idx:
            pads = np.flatnonzero(row == self.pad)
            end = int(pads[0]) if len(pads) else len(row)
            out.append([self.symbols[i] for i in row[:end]] if (row[end:] == self.pad).all() else None)
        return out

    def decode(self, idx: np.ndarray) -> list[str | None]:
        """Token indices [N, L] -> SMILES through the encoding (None: inner pad or not decodable)."""
        return [None if t is None else self.encoding.decode(t) for t in self.tokens(idx)]


def mol_from(smiles: str | None):
    """RDKit parse AND sanitise; None for anything RDKit rejects, None, or the empty string."""
    if not smiles:
        return None
    return Chem.MolFromSmiles(smiles)


def repair(smiles: str):
    """Fix the hypervalent neutral nitrogens old SMILES files contain.

    The Stahl set writes charged nitrogens without their charge (`[NH]` with four bonds,
    `=[NH2]`); modern RDKit rejects these. We put the charge back: a 4-valent neutral N
    becomes N+. (Its neutral nitro groups, `[N](=O)=O`, need nothing: RDKit's sanitisation
    rewrites them as [N+](=O)[O-] itself.) Returns a sanitised Mol or None.
    """
    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        return None
    mol.UpdatePropertyCache(strict=False)
    for atom in mol.GetAtoms():
        if atom.GetSymbol() != "N" or atom.GetFormalCharge() != 0:
            continue
        if sum(b.GetBondTypeAsDouble() for b in atom.GetBonds()) + atom.GetTotalNumHs() == 4:
            atom.SetFormalCharge(1)
    try:
        Chem.SanitizeMol(mol)
    except Exception:  # noqa: BLE001 - RDKit raises several kinds
        return None
    return mol


@dataclass
class CleanReport:
    read: int = 0
    sanitised_as_written: int = 0
    repaired: int = 0
    dropped_invalid: int = 0
    dropped_unrepresentable: int = 0  # the encoding cannot write them
    dropped_too_long: int = 0
    dropped_duplicate: int = 0
    kept: int = 0
    examples_dropped: list[str] = field(default_factory=list)  # "reason: SMILES", three per reason at most
    reasons: list[tuple[str, str]] = field(default_factory=list, repr=False)  # the same as (reason, SMILES)

    def counts(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("examples_dropped", "reasons")}

    def drop(self, reason: str, smiles: str) -> None:
        if sum(r == reason for r, _ in self.reasons) < 3:
            self.reasons.append((reason, smiles))
            self.examples_dropped.append(f"{reason}: {smiles[:100]}")


def clean(smiles: list[str], encoding: Encoding, invalid: str, canonical: bool, max_len: int,
          dedupe: bool, workers: int = 1) -> tuple[list[str], list[list[str]], CleanReport]:
    """Apply the cleaning steps in order, counting what each removes; returns the kept
    SMILES, their tokens in the encoding, and the report. `workers` > 1 parses and encodes in
    that many processes (a benchmark's million molecules); the result is the same.

    Raises ValueError if the pad symbol occurs in the data (it would be unrecoverable).
    """
    with_pad = [i for i, s in enumerate(smiles) if PAD in s]
    if with_pad:
        raise ValueError(
            f"the pad symbol '{PAD}' occurs in {len(with_pad)} SMILES (first: entry {with_pad[0] + 1}, "
            f"{smiles[with_pad[0]][:100]!r}); it is reserved for padding"
        )
    job = (encoding, invalid, canonical, max_len)
    big = len(smiles) > PARALLEL_FROM
    # a big input in parts, so a million molecules show their progress (and an ETA) as parts finish
    size = -(-len(smiles) // (max(workers, 1) * 32)) if big else max(len(smiles), 1)
    chunks = [(smiles[i: i + size], *job) for i in range(0, len(smiles), size)]
    with contextlib.ExitStack() as stack:
        if workers > 1 and big:
            # RDKit and encoders only: no threads to fork
            pool = stack.enter_context(multiprocessing.get_context("fork").Pool(workers))
            done = pool.imap(_clean_chunk, chunks)
        else:
            done = map(_clean_chunk, chunks)
        bar = stack.enter_context(tqdm(total=len(smiles), desc="preprocess: clean", unit="mol", file=sys.stderr,
                                       disable=not big, mininterval=1.0, dynamic_ncols=True))
        parts = []
        for chunk, part in zip(chunks, done):
            parts.append(part)
            bar.update(len(chunk[0]))
    rep = CleanReport(read=len(smiles))
    kept, tokens, seen, symbols = [], [], set(), {}
    for part_kept, part_tokens, part_rep in parts:
        for k, v in part_rep.counts().items():
            setattr(rep, k, getattr(rep, k) + v)
        for reason, example in part_rep.reasons:
            rep.drop(reason, example)
        for s, toks in zip(part_kept, part_tokens):
            if dedupe:
                if s in seen:
                    rep.dropped_duplicate += 1
                    continue
                seen.add(s)
            kept.append(s)
            tokens.append([symbols.setdefault(t, t) for t in toks])  # one string object per symbol
    rep.kept = len(kept)
    return kept, tokens, rep


PARALLEL_FROM = 20_000  # molecules: below this, starting processes costs more than it saves (and no bar is shown)


def _clean_chunk(args: tuple):
    return _clean_part(*args)


def _clean_part(smiles: list[str], encoding: Encoding, invalid: str, canonical: bool, max_len: int):
    """The per-molecule steps (all but de-duplication) over a part of the input, in order."""
    rep = CleanReport()
    kept, tokens = [], []
    for s in smiles:
        if max_len and len(s) > max_len * MAX_CHARS_PER_TOKEN:  # before RDKit: a 10 MB line is not parsed
            rep.dropped_too_long += 1
            rep.drop("too long", s)
            continue
        mol = Chem.MolFromSmiles(s)
        if mol is not None:
            rep.sanitised_as_written += 1
        elif invalid == "repair" and (mol := repair(s)) is not None:
            rep.repaired += 1
        else:
            rep.dropped_invalid += 1
            rep.drop("invalid", s)
            continue
        s = Chem.MolToSmiles(mol) if canonical else s
        try:
            toks = encoding.encode(s)
        except EncodingError as e:
            rep.dropped_unrepresentable += 1
            rep.drop(f"unrepresentable in {encoding.name} ({e})", s)
            continue
        if max_len and len(toks) > max_len:
            rep.dropped_too_long += 1
            rep.drop("too long", s)
            continue
        kept.append(s)
        tokens.append(toks)
    return kept, tokens, rep


def symbol_counts(token_lists: list[list[str]]) -> Counter:
    return Counter(t for toks in token_lists for t in toks)
