"""Records a training run: results/train/ and the training run in MLflow (see recorder/__init__.py)."""
from __future__ import annotations

import warnings
from pathlib import Path

from .. import paths, pyfunc, training
from ..config import Config, dump, flatten, stable_hash
from ..data.dataset import Processed
from ..fsutil import write_bytes, write_csv, write_json, write_text
from ..probes import KEYS as PROBE_KEYS
from ..tracking import Run, _retry, context_tags, describe, run_name

TRAIN_SAMPLES = "samples"  # results/train/samples/: pictures by step (a `dvc plots` folder: pictures only)
TRAIN_STRINGS = "sample_smiles"  # results/train/sample_smiles/: the sampled strings by step


def run_params(cfg: Config, data: Processed) -> dict:
    """The training run's MLflow params: its own sections plus the params that made its data."""
    return flatten({**data.meta["params"], **cfg.to_dict()})


def metric_group(key: str) -> str:
    """The MLflow prefix of a history column: a probe reading or a training loss."""
    return "monitor" if key in PROBE_KEYS else "train"


class TrainingRecorder(training.Observer):
    """Files and MLflow of one training run. A context manager: the MLflow run ends FINISHED
    when the block ends normally, KILLED on an interrupt (or an exit asked from outside, as Ray
    Tune asks of a trial it stops), FAILED on any error."""

    def __init__(self, out: Path = paths.results("train"), model_path: Path = paths.GENERATOR,
                 run: Run | None = None, log_model: bool = True):
        self.out, self.model_path = Path(out), Path(model_path)
        self.run = run or Run()
        self.log_model = log_model  # the generator as an MLflow model (a search's trials skip it)
        self.params_hash = ""
        self.monitor = None  # MLflow's system metrics thread

    def __enter__(self) -> "TrainingRecorder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        stopped = exc_type is not None and issubclass(exc_type, (KeyboardInterrupt, SystemExit))
        status = "FINISHED" if exc_type is None else "KILLED" if stopped else "FAILED"
        if self.monitor is not None:
            self.monitor.finish()
        self.run.end(status)

    # ------------------------------------------------------------ events
    def begin(self, start: training.Start) -> None:
        cfg, data = start.cfg, start.data
        for name, blob in start.samples.items():  # the sample files of the steps already taken (DVC deleted them)
            self._write_sample(name, blob)
        params = run_params(cfg, data)
        self.params_hash = stable_hash(params)
        st = start.observer_state
        same = bool(st.get("run_id")) and st.get("params") == self.params_hash
        model = describe(cfg)
        enc = data.meta["encoding"]
        tags = {**context_tags(), **{f"data.sha256.{k}": v for k, v in data.meta["input_sha256"].items()},
                "braingan.generator_params": start.generator_params, "braingan.critic_params": start.critic_params,
                "braingan.model": model,
                "mlflow.note.content": f"{model}: {cfg.train.steps} steps, {enc['encoding']} ({enc['tokens']}) on a "
                                       f"{data.shape[0]}x{data.shape[1]} canvas"}
        if start.step and not same:
            tags.update({"braingan.continued_from": st.get("run_id", ""), "braingan.continued_at_step": start.step})
        self.run.run_id = st.get("run_id") if same else None
        self.run.start(name=run_name(cfg), params=params, tags=tags)
        if not self.run.enabled:
            return
        if start.step and not same:  # a new run: give it the curve of the steps it continues
            for row in start.history:
                values = {f"{metric_group(k)}.{k}": v for k, v in row.items() if k != "step"}
                self.run.log_metrics(values, step=row["step"])
        if not start.step or not same:
            self.run.log_with(log_datasets, data)
        self.monitor = self.run.system_metrics(resume=bool(start.step and same))

    def log(self, step: int, group: str, values: dict[str, float]) -> None:
        self.run.log_metrics({f"{group}.{k}": v for k, v in values.items()}, step=step)

    def sampled(self, step: int, files: dict[str, bytes]) -> None:
        for name, blob in files.items():
            self._write_sample(name, blob)
            if name.endswith(".png"):
                self.run.log_image(blob, f"samples/{name.split('_step')[0]}", step)
            else:
                self.run.log_text(blob.decode(), f"samples/{name}")

    def checkpointed(self, step: int, history: list[dict]) -> None:
        write_history(self.out / "history.csv", history)
        self.run.flush()

    def state(self) -> dict:
        return {"run_id": self.run.run_id or "", "params": self.params_hash}

    def _write_sample(self, name: str, blob: bytes) -> None:
        folder = TRAIN_SAMPLES if name.endswith(".png") else TRAIN_STRINGS
        write_bytes(self.out / folder / name, blob)

    # ------------------------------------------------------------ the result
    def finish(self, result: training.TrainResult) -> None:
        result.generator.save(self.model_path)
        for folder in (TRAIN_SAMPLES, TRAIN_STRINGS):  # DVC outputs even where a task is not trained
            (self.out / folder).mkdir(parents=True, exist_ok=True)
        write_history(self.out / "history.csv", result.history)
        write_json(self.out / "metrics.json", result.metrics)
        write_text(self.out / "params.yaml", dump(result.cfg))
        self.run.log_metrics({f"train.{k}": v for k, v in result.metrics.items()}, step=result.cfg.train.steps,
                             flush=True)
        for f in (self.model_path, self.out / "history.csv", self.out / "params.yaml"):
            self.run.log_artifact(f, Path(paths.GENERATOR_ARTIFACT).parent.as_posix())
        model_id = self.run.log_with(pyfunc.log, self.model_path, result.cfg.train.tasks) if self.log_model else None
        write_json(self.out / "mlflow.json", {**self.run.describe(), "model_id": model_id or ""})


def write_history(path: Path, history: list[dict]) -> None:
    if not history:
        return
    cols = ["step"] + sorted({k for r in history for k in r} - {"step"})
    write_csv(path, cols, ([r.get(c, "") for c in cols] for r in history))


def log_datasets(uri: str, run_id: str, data: Processed) -> None:
    """The training data as MLflow datasets (source, digest, schema, row count): the runs table's
    Datasets column shows what each run trained on."""
    import mlflow
    import pandas as pd
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.tracking import MlflowClient
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    src = data.meta["params"].get("fetch", {})
    enc = data.meta["encoding"]
    folder = Path(paths.PROCESSED).resolve()
    with warnings.catch_warnings():  # MLflow registers its local file source twice and warns that a path matches both
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple ways")
        sets = [
            mlflow.data.from_numpy(data.train_images, targets=data.train_labels, source=str(folder / "mnist.npz"),
                                   name=f"mnist-train ({src.get('mnist', {}).get('source', '?')})"),
            mlflow.data.from_pandas(pd.DataFrame({"smiles": data.smiles_train}), source=str(folder / "smiles_train.txt"),
                                    name=f"smiles-train ({src.get('smiles', {}).get('source', '?')}, {enc['encoding']})"),
        ]
    _retry(MlflowClient(uri).log_inputs, run_id, datasets=[
        DatasetInput(ds._to_mlflow_entity(), tags=[InputTag(MLFLOW_DATASET_CONTEXT, "training")]) for ds in sets])
