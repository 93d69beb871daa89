"""Named presets as `dvc exp run -S` arguments, so a preset is an ordinary DVC experiment.

    dvc exp run -n seed $(braingan preset seed)

prints `-S key=value` for every param whose preset value differs from params.yaml.
"""
from __future__ import annotations

import argparse
import shlex

from .config import from_dict, load, override

# The 2018 experiment (the BrainGAN write-up, github.com/Gananath/Multi_Task). Choices where the write-up is silent or does
# not fit: the 35 Stahl SMILES modern RDKit rejects are repaired and kept *as written*
# (canonical: false), so all 335 strings train as in 2018; the Stahl vocabulary has
# V=25 < 28 columns, so the 28x28 digit cannot be zero-padded in: digits are resized;
# 556 digits are kept so that exactly 500 train after the 10 % held-out split.
PRESETS = {
    "seed": {
        "fetch.smiles.source": "stahl",
        "preprocess.invalid": "repair", "preprocess.canonical": False, "preprocess.max_len": 0,
        "preprocess.dedupe": False, "preprocess.encoding": "smiles", "preprocess.tokens": "chars",
        "preprocess.extra_pad": 11,
        "preprocess.canvas": "resize", "preprocess.max_digits": 556,
        "model.family": "seed", "model.activation": "softmax", "model.conditioning": "task",
        "model.z_dim": 2, "model.dropout": 0.4, "model.gumbel_tau": 0.0,
        "train.loss": "wgan-clip", "train.clip": 0.01, "train.n_critic": 5, "train.batch_size": 32,
        "train.lr_g": 1e-5, "train.lr_d": 1e-5, "train.beta1": 0.5, "train.beta2": 0.9, "train.tasks": "both",
        "train.critic_task_on": "real+fake", "train.gen_task_weight": 1.0, "train.steps": 3000,
        "train.sample_every": 250,  # not in 2018: the collapse curves need points to show when it happens
    },
    # The default before the quality-per-minute work (2026-12-01): SELFIES, resnet 32 x 2 blocks,
    # n_critic 1, TTUR 8e-4 / 2.4e-3, Gumbel rows at tau 1, 20,000 steps, none of the levers.
    "today": {
        "preprocess.encoding": "selfies", "preprocess.tokens": "atoms",
        "model.family": "resnet", "model.dim": 32, "model.blocks": 2, "model.z_dim": 64, "model.gumbel_tau": 1.0,
        "model.gumbel_tau_end": 0.0, "model.gumbel_noise": True, "model.end_of_string": False, "model.critic_2d": False,
        "train.loss": "wgan-gp", "train.tasks": "both", "train.steps": 20000, "train.batch_size": 32,
        "train.n_critic": 1, "train.lr_g": 0.0008, "train.lr_d": 0.0024, "train.gen_task_weight": 0.5,
        "train.ema": 0.0, "train.gp_every": 1, "train.precision": "fp32", "train.lr_schedule": "constant",
        "train.warmup": 0, "train.sample_every": 2000,
    },
    # The default configuration trained about an hour on 2 cores: the hour goes to steps of the
    # same model because the default's quality curves still rise at its end (docs/results.md).
    "long": {"train.steps": 40000},
}


def set_args(name: str, params: str = "params.yaml", extra: dict | None = None) -> list[str]:
    base = load(params)
    current = base.flat()
    wanted = {**PRESETS[name], **(extra or {})}
    from_dict(override(base.to_dict(), wanted))  # the preset itself must validate
    args = []
    for k, v in wanted.items():
        if current.get(k) != v:
            args += ["-S", f"{k}={_yaml(v)}"]
    return args


def _yaml(v) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="braingan preset", description="print `dvc exp run -S` arguments for a preset")
    ap.add_argument("name", choices=sorted(PRESETS))
    ap.add_argument("--stahl", default="", help="a local mirror of the Stahl CSV (no download then)")
    a = ap.parse_args(argv)
    extra = {"fetch.smiles.path": a.stahl} if a.stahl else None
    print(" ".join(shlex.quote(x) for x in set_args(a.name, extra=extra)))


if __name__ == "__main__":
    main()
