"""Samples from a trained generator, outside the pipeline: `braingan sample` and the
generator's MLflow pyfunc model.

    braingan sample --exp potty-jean --task smiles -n 10000 --out mols.csv
    braingan sample --run 3f2c... --task mnist --class 7 -n 100 --out sevens.png
    braingan sample --model models/generator.pt --task smiles -n 500 --out mols.csv

The generator file carries its vocabulary and encoding, so no training data are needed.
SMILES go to a CSV (raw token string, decoded SMILES, canonical SMILES, valid flag) and a
summary line gives the validity; digits go to a PNG grid and a .npy array [n, 28, 28].
The same seed gives the same samples.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from .errors import BrainganError, DataError

TASKS = {"mnist": 0, "smiles": 1}
BATCH = 1000


def draw(G, mcfg, blob: dict, task: str, n: int, seed: int, digit_class: int | None = None,
         device="cpu", progress: bool = False) -> dict:
    """n samples of one task: {"raw", "smiles", "canonical", "valid"} lists for SMILES,
    {"images": [n, 28, 28] float32 in [0, 1]} for digits."""
    from tqdm import tqdm

    from .data import canvas as cv
    from .data import encodings
    from .data.smiles import Vocab
    from .metrics.smiles import canonical
    from .sampling import generate

    task_id = TASKS[task]
    if task_id not in blob["tasks"]:
        raise DataError(f"this generator was trained on {', '.join(k for k, v in TASKS.items() if v in blob['tasks'])} "
                        f"only; it has no {task} samples to give")
    if digit_class is not None and (task != "mnist" or mcfg.conditioning != "task+class"):
        raise DataError("--class needs --task mnist and a generator trained with model.conditioning task+class")
    parts = []
    bar = tqdm(total=n, desc=f"sample {task}", unit="sample", file=sys.stderr, disable=not progress)
    for i in range(0, n, BATCH):  # seeded per batch, so n samples are the first n of any larger draw
        k = min(BATCH, n - i)
        x, _ = generate(G, mcfg, task_id, k, seed * 1_000_003 + i, device, digit_class=digit_class)
        parts.append(x)
        bar.update(k)
    bar.close()
    x = np.concatenate(parts)
    if task == "mnist":
        return {"images": cv.from_canvas(x, blob["canvas_mode"])}
    vocab = Vocab(blob["vocab"], encodings.get(blob["encoding"]["encoding"], blob["encoding"]["tokens"]))
    idx = x.argmax(-1)
    smiles = vocab.decode(idx)
    can = canonical(smiles)
    return {"raw": vocab.raw(idx), "smiles": [s or "" for s in smiles], "canonical": [c or "" for c in can],
            "valid": [c is not None for c in can]}


def generator_from(run: str | None = None, exp: str | None = None, model: str | None = None):
    """(G, model config, file contents) from an MLflow run, a DVC experiment's run, or a file."""
    from .checkpoint import load_generator

    if model:
        return load_generator(model)
    from mlflow.tracking import MlflowClient

    from .tracking import EXPERIMENT, tracking_uri

    client = MlflowClient(tracking_uri())
    if exp:
        e = client.get_experiment_by_name(EXPERIMENT)
        runs = [] if e is None else client.search_runs(
            [e.experiment_id], filter_string=f"tags.`dvc.exp_name` = '{exp}'", order_by=["attributes.start_time DESC"])
        runs = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
        if not runs:
            raise DataError(f"no training run of the DVC experiment {exp!r} in the MLflow store {tracking_uri()}")
        run = runs[0].info.run_id
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = client.download_artifacts(run, "train/generator.pt", tmp)
            return load_generator(path)
    except BrainganError:
        raise
    except Exception as e:  # noqa: BLE001 - no such run, no such artifact
        raise DataError(f"cannot get the generator of MLflow run {run!r} ({str(e).splitlines()[0][:160]})") from None


def write(samples: dict, task: str, out: Path) -> str:
    """Write samples where `out` says; returns the summary line."""
    from . import plots
    from .fsutil import save_figure, write_bytes, write_text

    if task == "smiles":
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["raw", "smiles", "canonical", "valid"])
        w.writerows(zip(samples["raw"], samples["smiles"], samples["canonical"], samples["valid"]))
        write_text(out, buf.getvalue())
        n, valid = len(samples["valid"]), sum(samples["valid"])
        distinct = len({c for c, v in zip(samples["canonical"], samples["valid"]) if v})
        return f"{n} samples, {valid} valid ({valid / n:.1%}), {distinct} distinct valid molecules -> {out}"
    images = samples["images"]
    npy = out.with_suffix(".npy")
    buf = __import__("io").BytesIO()
    np.save(buf, images)
    write_bytes(npy, buf.getvalue())
    save_figure(plots.digit_grid(images[:100], f"{len(images)} generated digits (first 100)"), out.with_suffix(".png"))
    return f"{len(images)} digits -> {out.with_suffix('.png')} (grid of the first 100), {npy} (array [n, 28, 28])"
