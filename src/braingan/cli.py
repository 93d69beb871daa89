"""`braingan`: the project's command line.

    braingan sample  --exp NAME | --run ID | --model PATH  --task smiles|mnist -n N --out FILE
    braingan register --run ID --name NAME      # the run's generator into the Model Registry, alias champion
    braingan compare [--last N] [--filter F] [--results-table]
    braingan preset seed [--stahl CSV]          # `dvc exp run -S` arguments of a preset
    braingan ui [--port 5000]                   # the MLflow UI on this project's store, on 127.0.0.1
    braingan server --data DIR                  # the team tracking server (PostgreSQL + artifacts)
    braingan tune SPACE.yaml [--address ADDR]   # a search on Ray Tune; the winner as a `dvc exp run -S ...`

The pipeline itself runs through DVC (`dvc repro`, `dvc exp run`); these are the tools
around it.
"""
from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

from .errors import BrainganError

PASSED_ON = {"compare": "braingan.compare", "preset": "braingan.presets", "server": "braingan.server",
             "tune": "braingan.tune"}


def _sample(a) -> None:
    import tempfile

    from .generator import Generator

    if a.model:
        g = Generator.load(a.model)
    else:
        from . import paths
        from .tracking import download_artifact, training_run_of

        with tempfile.TemporaryDirectory() as tmp:
            g = Generator.load(download_artifact(a.run or training_run_of(a.exp), paths.GENERATOR_ARTIFACT, tmp))
    print(write_samples(g, a.task, a.n, a.seed, a.cls, Path(a.out)))


def write_samples(g, task: str, n: int, seed: int, cls: int | None, out: Path) -> str:
    """n samples of `task` written where `out` says -- SMILES: a CSV (raw, smiles, canonical,
    valid); digits: a PNG grid of the first 100 and an .npy array [n, 28, 28] -- and a summary line."""
    import io

    import numpy as np
    from . import plots
    from .fsutil import figure_png, write_bytes, write_csv
    from .pyfunc import molecule_rows

    s = g.sample(task, n, seed, cls, progress=True)
    if task == "smiles":
        rows = molecule_rows(s)
        write_csv(out, ["raw", "smiles", "canonical", "valid"], ([r["raw"], r["smiles"], r["canonical"], r["valid"]]
                                                                  for r in rows))
        valid = sum(r["valid"] for r in rows)
        distinct = len({r["canonical"] for r in rows if r["valid"]})
        return f"{n} samples, {valid} valid ({valid / max(n, 1):.1%}), {distinct} distinct valid molecules -> {out}"
    images = s.images
    buf = io.BytesIO()
    np.save(buf, images)
    write_bytes(out.with_suffix(".npy"), buf.getvalue())
    title = f"{len(images)} generated digits (first 100)" + (f", class {cls} asked" if cls is not None else "")
    write_bytes(out.with_suffix(".png"), figure_png(plots.digit_grid(images[:100], title)))
    return (f"{len(images)} digits -> {out.with_suffix('.png')} (grid of the first 100), {out.with_suffix('.npy')} "
            "(array [n, 28, 28])")


def _register(a) -> None:
    from .pyfunc import register
    from .tracking import redact, tracking_uri

    version = register(tracking_uri(), a.run, a.name, a.alias)
    print(f"registered the generator of run {a.run} as {a.name} version {version} (alias {a.alias}) in "
          f"{redact(tracking_uri())}; load it with mlflow.pyfunc.load_model('models:/{a.name}@{a.alias}')")


def _ui(a) -> None:
    from mlflow.tracking import MlflowClient

    from .tracking import EXPERIMENT, Run, tracking_uri

    uri = tracking_uri()
    if uri.startswith(("http://", "https://")):
        sys.exit(f"braingan ui: MLFLOW_TRACKING_URI is a server ({uri}); open its UI instead")
    exp = MlflowClient(uri).get_experiment_by_name(EXPERIMENT)
    exp_id = exp.experiment_id if exp else Run().experiment_id()
    # MLflow 3 opens experiments on its GenAI views unless told the workflow is machine learning
    print(f"BrainGAN runs: http://127.0.0.1:{a.port}/#/experiments/{exp_id}/runs?workflowType=machine_learning",
          flush=True)
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", "127.0.0.1",
           "--port", str(a.port)]
    if uri.startswith("sqlite:///"):
        cmd += ["--default-artifact-root", str(Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts")]
    try:
        subprocess.run(cmd, check=False)
    except KeyboardInterrupt:
        pass


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="braingan", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("sample", help="samples from a trained generator (a run, a DVC experiment or a file)")
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="MLflow run id of a training run")
    src.add_argument("--exp", help="DVC experiment name (its MLflow training run)")
    src.add_argument("--model", help="a generator file, e.g. models/generator.pt")
    s.add_argument("--task", choices=["smiles", "mnist"], required=True)
    s.add_argument("--class", dest="cls", type=int, choices=range(10), metavar="0-9", help="digit class (task+class models)")
    s.add_argument("-n", type=int, default=1000, help="how many samples (default 1000)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True, help="CSV for SMILES; PNG (+ .npy beside it) for digits")
    s.set_defaults(func=_sample)

    r = sub.add_parser("register", help="register a run's generator in the MLflow Model Registry")
    r.add_argument("--run", required=True)
    r.add_argument("--name", required=True)
    r.add_argument("--alias", default="champion")
    r.set_defaults(func=_register)

    # these keep their own argument parsers (their modules also run with python -m)
    sub.add_parser("compare", help="a Markdown comparison of training runs; the README's results table")
    sub.add_parser("preset", help="print the `dvc exp run -S` arguments of a preset")

    u = sub.add_parser("ui", help="the MLflow UI on this project's store, bound to 127.0.0.1")
    u.add_argument("--port", type=int, default=5000)
    u.set_defaults(func=_ui)

    sub.add_parser("server", help="the team tracking server: PostgreSQL backend, served artifacts")
    sub.add_parser("tune", help="a search over params on Ray Tune (this machine or a Ray cluster), ASHA early stops")

    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in PASSED_ON:
        importlib.import_module(PASSED_ON[argv[0]]).main(argv[1:])
        return
    a = ap.parse_args(argv)
    try:
        a.func(a)
    except BrainganError as e:
        sys.exit(f"braingan {a.command}: error: {e}")


if __name__ == "__main__":
    main()
