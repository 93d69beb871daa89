"""The trained generator as an MLflow model (pyfunc): every training run logs it as
`generator`, so that

    mlflow.pyfunc.load_model(f"runs:/{run_id}/generator").predict(
        pd.DataFrame({"task": ["smiles"], "n": [5], "seed": [0]}))

returns SMILES (and, for "mnist", digits as 28x28 arrays) in any process with braingan
installed. Each input row asks for `n` samples of `task` with `seed` (optional `class`
for digits); the output has one row per sample.
"""
from __future__ import annotations

import mlflow.pyfunc
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, Schema

SIGNATURE = ModelSignature(inputs=Schema([
    ColSpec("string", "task"), ColSpec("long", "n"), ColSpec("long", "seed", required=False),
    ColSpec("long", "class", required=False)]))
INPUT_EXAMPLE = pd.DataFrame({"task": ["smiles"], "n": [3], "seed": [0]})


class GeneratorModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from .checkpoint import load_generator

        self.G, self.mcfg, self.blob = load_generator(context.artifacts["generator"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from .sample import draw

        rows = []
        for _, req in model_input.iterrows():
            task, n = str(req["task"]), int(req["n"])
            seed = int(req["seed"]) if "seed" in req and pd.notna(req["seed"]) else 0
            cls = int(req["class"]) if "class" in req and pd.notna(req["class"]) else None
            s = draw(self.G, self.mcfg, self.blob, task, n, seed, cls)
            if task == "smiles":
                rows += [{"task": task, "i": i, "raw": r, "smiles": m, "canonical": c, "valid": v}
                         for i, (r, m, c, v) in enumerate(zip(s["raw"], s["smiles"], s["canonical"], s["valid"]))]
            else:
                rows += [{"task": task, "i": i, "image": img.tolist()} for i, img in enumerate(s["images"])]
        return pd.DataFrame(rows)


def log(tracking_uri: str, run_id: str, generator_path) -> None:
    """Log the generator file as the run's pyfunc model `generator` (the run stays as it is)."""
    import mlflow

    from . import __version__

    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(run_id=run_id, log_system_metrics=False):
        mlflow.pyfunc.log_model(
            name="generator", python_model=GeneratorModel(), artifacts={"generator": str(generator_path)},
            signature=SIGNATURE, input_example=INPUT_EXAMPLE,
            # the environment a loader needs: this project (its pins come with it)
            pip_requirements=[f"braingan=={__version__}"])


def register(tracking_uri: str, run_id: str, name: str, alias: str = "champion") -> int:
    """Register the run's generator in the Model Registry under `name` and point `alias` at it."""
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    version = mlflow.register_model(f"runs:/{run_id}/generator", name)
    MlflowClient(tracking_uri).set_registered_model_alias(name, alias, version.version)
    return int(version.version)
