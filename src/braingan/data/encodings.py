"""How a molecule is written on the canvas: an encoding (`preprocess.encoding`) turns a
SMILES string into a list of tokens and back; a tokenizer (`preprocess.tokens`) says what
one token of a SMILES or DeepSMILES string is. Both are registries.

- `smiles`: the string itself (the 2018 representation: one unmatched bracket or ring
  digit spoils it).
- `deepsmiles` (O'Boyle and Dalke 2018): rings as one digit giving the ring size, branches
  closed by `)` only, so ring digits and parentheses never need a partner.
- `selfies` (Krenn et al. 2020): tokens are SELFIES symbols; *every* symbol string decodes
  to a valid molecule, so validity holds by construction and says nothing about learning.

Every generated sample is decoded through its encoding to a SMILES string before any
metric sees it.
"""
from __future__ import annotations

import re

import deepsmiles
import selfies

from ..registry import Registry

PAD = "|"  # fills every row after the string's end; never part of the data

# `preprocess.tokens`: name -> function(string) -> tokens
TOKENIZERS = Registry("preprocess.tokens")
# `preprocess.encoding`: name -> class(tokenizer name)
ENCODINGS = Registry("preprocess.encoding")


class EncodingError(ValueError):
    """A molecule the encoding cannot write (the message is the reason)."""


@TOKENIZERS.register("chars")
def chars(s: str) -> list[str]:
    return list(s)


# The atom-level tokenizer of chemistry language models (Schwaller et al. 2019, Molecular
# Transformer): bracket atoms ([nH], [N+], [C@@H]), two-letter elements (Cl, Br) and
# two-digit ring bonds (%10) are single tokens.
_ATOMS = re.compile(r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|\/|:|~|@|\?|>|\*|\$|%[0-9]{2}|[0-9])")


@TOKENIZERS.register("atoms")
def atoms(s: str) -> list[str]:
    toks = _ATOMS.findall(s)
    if "".join(toks) != s:
        raise EncodingError(f"characters outside the atom-level SMILES alphabet in {s[:60]!r}")
    return toks


class Encoding:
    """encode: SMILES -> tokens (EncodingError if it cannot); decode: tokens -> SMILES or None."""

    name = ""

    def __init__(self, tokens: str):
        self.tokens = tokens
        self.split = TOKENIZERS.get(tokens)

    def encode(self, smiles: str) -> list[str]:
        raise NotImplementedError

    def decode(self, tokens: list[str]) -> str | None:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"encoding": self.name, "tokens": self.tokens}


@ENCODINGS.register("smiles")
class Smiles(Encoding):
    name = "smiles"

    def encode(self, smiles):
        return self.split(smiles)

    def decode(self, tokens):
        return "".join(tokens)


@ENCODINGS.register("deepsmiles")
class DeepSmiles(Encoding):
    name = "deepsmiles"
    _conv = deepsmiles.Converter(rings=True, branches=True)

    def encode(self, smiles):
        try:
            return self.split(self._conv.encode(smiles))
        except EncodingError:
            raise
        except Exception as e:  # noqa: BLE001 - the package raises several kinds
            raise EncodingError(f"deepsmiles cannot encode it ({type(e).__name__})") from None

    def decode(self, tokens):
        try:
            return self._conv.decode("".join(tokens))
        except Exception:  # noqa: BLE001 - DecodeError and friends: not a molecule
            return None


@ENCODINGS.register("selfies")
class Selfies(Encoding):
    """Tokens are SELFIES symbols; `preprocess.tokens` does not apply."""

    name = "selfies"

    def encode(self, smiles):
        try:
            return list(selfies.split_selfies(selfies.encoder(smiles)))
        except selfies.EncoderError as e:
            raise EncodingError(f"selfies cannot encode it ({str(e).splitlines()[0][:80]})") from None

    def decode(self, tokens):
        try:
            return selfies.decoder("".join(tokens))
        except Exception:  # noqa: BLE001 - DecoderError: a symbol outside SELFIES
            return None


def get(encoding: str, tokens: str) -> Encoding:
    return ENCODINGS.get(encoding)(tokens)
