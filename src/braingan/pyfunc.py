"""The trained generator as an MLflow model (pyfunc), logged from code: MLflow keeps this
file with the model and runs it to load the model (no pickled Python object), so every
training run's

    mlflow.pyfunc.load_model(f"runs:/{run_id}/generator").predict(
        pd.DataFrame({"task": ["smiles"], "n": [5], "seed": [0]}))

returns SMILES (and, for "mnist", digits as 28x28 arrays) in any process with braingan
installed. Each input row asks for `n` samples of `task` with `seed` (optional `class`
for digits); the output has one row per sample. Imports are absolute: MLflow runs this
file as a script.
"""
from __future__ import annotations

import mlflow.pyfunc
import pandas as pd
from mlflow.models import ModelSignature, set_model
from mlflow.types.schema import ColSpec, Schema

SIGNATURE = ModelSignature(inputs=Schema([
    ColSpec("string", "task"), ColSpec("long", "n"), ColSpec("long", "seed", required=False),
    ColSpec("long", "class", required=False)]))


def input_example(task: str) -> pd.DataFrame:
    """A request the generator can answer: three samples of a task it was trained on."""
    return pd.DataFrame({"task": [task], "n": [3], "seed": [0]})


class GeneratorModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from braingan.generator import Generator

        self.g = Generator.load(context.artifacts["generator"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        rows = []
        for _, req in model_input.iterrows():
            task, n = str(req["task"]), int(req["n"])
            seed = int(req["seed"]) if "seed" in req and pd.notna(req["seed"]) else 0
            cls = int(req["class"]) if "class" in req and pd.notna(req["class"]) else None
            s = self.g.sample(task, n, seed, cls)
            if task == "smiles":
                rows += [{"task": task, "i": i, **r} for i, r in enumerate(molecule_rows(s))]
            else:
                rows += [{"task": task, "i": i, "image": img.tolist()} for i, img in enumerate(s.images)]
        return pd.DataFrame(rows)


def molecule_rows(samples) -> list[dict]:
    """raw token string, decoded SMILES, canonical SMILES and validity of each molecule sample."""
    from braingan.metrics.smiles import canonical

    smiles = samples.smiles()
    return [{"raw": r, "smiles": s or "", "canonical": c or "", "valid": c is not None}
            for r, s, c in zip(samples.vocab.raw(samples.tokens), smiles, canonical(smiles))]


set_model(GeneratorModel())


def log(tracking_uri: str, run_id: str, generator_path, tasks: str) -> str:
    """Log the generator file as the run's pyfunc model `generator` (a LoggedModel of the run);
    returns the model's id. `tasks`: train.tasks (its input example asks for a task it
    was trained on). The run keeps its status (the caller ends it)."""
    import mlflow
    from mlflow.entities import LoggedModelOutput

    from braingan import __version__

    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    # The model is made first and logged outside the run, then named as the run's output: inside
    # a run, log_model reads back the whole history of every metric of the run, one request per
    # metric, to copy their step-0 values onto the model (here only the first system readings;
    # the evaluation links the headline numbers itself). Against a server behind basic auth,
    # which hashes the password on each request, that was most of a minute per run.
    model = mlflow.initialize_logged_model("generator", source_run_id=run_id, params=run.data.params,
                                           experiment_id=run.info.experiment_id)
    info = mlflow.pyfunc.log_model(
        name="generator", model_id=model.model_id, python_model=__file__, artifacts={"generator": str(generator_path)},
        signature=SIGNATURE, input_example=input_example("mnist" if tasks == "mnist" else "smiles"),
        # the environment a loader needs: this project (its pins come with it)
        pip_requirements=[f"braingan=={__version__}"])
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
    return info.model_id


def register(tracking_uri: str, run_id: str, name: str, alias: str = "champion") -> int:
    """Register the run's generator in the Model Registry under `name` and point `alias` at it."""
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    version = mlflow.register_model(f"runs:/{run_id}/generator", name)
    MlflowClient(tracking_uri).set_registered_model_alias(name, alias, version.version)
    return int(version.version)
