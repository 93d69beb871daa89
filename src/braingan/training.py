"""Stage `train`: the run of the task-conditioned GAN's steps (gan.py). This module computes;
`recorder/training.py` writes what it computes (files and MLflow) as an `Observer` of the run.

One step = n_critic critic updates and one generator update, on one task; with
`train.tasks: both` the tasks take turns (the seed's alternating schedule), so a
single-task run with the same `train.steps` gets the same number of updates.

A run resumes from its newest checkpoint made with the same computation (`digest`: the
params and data that change it, and the code of a step; a checkpoint from other code is
not resumed, training starts over). A checkpoint at or past the final step is not resumed:
a forced re-run trains again. The observer's own state (e.g. its MLflow run) travels in the
checkpoint, so that a resumed run can go on where its record stopped.
"""
from __future__ import annotations

import hashlib
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import checkpoint, gan, levers, losses, models, paths, plots, sampling
from . import classifier as clf
from .config import Config, stable_hash
from .data.dataset import Processed
from .device import cpu_threads, memory_bytes, pick_device
from .fsutil import figure_png
from .gan import GAN, TRAINED_TASKS, RealData
from .generator import Generator
from .models import MNIST, SMILES, task_name
from .probes import Probes

# Keys that change how long or how visibly a run goes, not what it computes: a checkpoint
# made under other values of these can be resumed (e.g. raise train.steps to train on).
NON_SEMANTIC = ("steps", "log_every", "sample_every", "checkpoint_every", "device", "threads", "compile")


def digest(cfg: Config, data: Processed) -> str:
    """What a checkpoint must match to be resumed: everything that changes the computation."""
    d = cfg.to_dict()
    # a schedule over train.steps makes the step count part of the computation
    train = {k: v for k, v in d["train"].items() if k not in NON_SEMANTIC or (k == "steps" and d["train"]["lr_schedule"]
                                                                              != "constant")}
    return stable_hash({"seed": d["seed"], "model": d["model"], "train": train, "data": data.meta["input_sha256"],
                        "processed": data.meta["params"], "canvas": data.meta["canvas"], "code": code_hash()})


def code_hash(files=None) -> str:
    """sha256 of the modules whose code defines a training step and run (models, losses,
    sampling, gan, levers, this one). DVC re-runs `train` after any edit to its code; resuming a
    checkpoint made by the old code would give a model that half came from code the result no
    longer says it came from."""
    h = hashlib.sha256()
    for f in files or [models.__file__, losses.__file__, sampling.__file__, gan.__file__, levers.__file__, __file__]:
        h.update(Path(f).read_bytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- what a run reports
@dataclass
class Start:
    """What an observer learns when a run starts (or resumes)."""

    cfg: Config
    data: Processed
    generator_params: int
    critic_params: int
    device: torch.device
    step: int  # 0, or the checkpoint's step on a resume
    history: list[dict]  # the rows logged before `step`
    samples: dict[str, bytes]  # the sample files written before `step`
    observer_state: dict  # what the observer kept in the checkpoint (its MLflow run, ...)


@dataclass
class TrainResult:
    """A finished training run: the trained generator and everything measured on the way."""

    cfg: Config
    generator: Generator
    metrics: dict  # metrics.json: steps, wall time, final losses, sizes
    history: list[dict]  # one row per log_every steps (losses) and per sample_every steps (probes)
    samples: dict[str, bytes] = field(default_factory=dict)  # file name -> bytes, every sample_every steps


class Observer:
    """Receives a run's events as they happen. This one ignores them; `recorder.TrainingRecorder`
    writes them to files and MLflow, a Ray Tune trial reports them to Tune."""

    def begin(self, start: Start) -> None: ...

    def log(self, step: int, group: str, values: dict[str, float]) -> None:
        """`group`: "train" (losses, every log_every steps) or "monitor" (probes, every sample_every steps)."""

    def sampled(self, step: int, files: dict[str, bytes]) -> None: ...

    def checkpointed(self, step: int, history: list[dict]) -> None: ...

    def state(self) -> dict:
        """Kept in every checkpoint and handed back in `Start.observer_state` on a resume."""
        return {}


class Stopped(KeyboardInterrupt):
    """Training stopped on SIGINT/SIGTERM at `step`, after a checkpoint."""

    def __init__(self, step: int):
        super().__init__(f"stopped at step {step}")
        self.step = step


class _StopFlag:
    """SIGINT/SIGTERM stop training at the next step boundary, after a checkpoint;
    a second signal stops at once."""

    def __init__(self):
        self.set = False
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # a Ray Tune trial trains in a thread
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.set:
            raise KeyboardInterrupt
        self.set = True
        print(f"\nbraingan train: got signal {signum}; stopping after this step (again to stop now)", file=sys.stderr)

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)


@dataclass
class _Progress:
    """What a checkpoint carries besides the networks."""

    step: int = 0
    history: list = field(default_factory=list)  # one row of floats per log_every steps
    samples: dict = field(default_factory=dict)  # file name -> bytes of the sample files written so far
    latest: dict = field(default_factory=dict)  # per-task latest losses: a resumed run's first log row needs every task
    observer: dict = field(default_factory=dict)  # the observer's state (its MLflow run, ...)
    elapsed: float = 0.0


# ---------------------------------------------------------------- the run
def run(cfg: Config, data: Processed, classifier_net, observer: Observer | None = None,
        ckpt_dir: Path = paths.CHECKPOINTS) -> TrainResult:
    """Train (or resume) and return the result; `observer` sees every event on the way."""
    from tqdm import tqdm

    observer = observer or Observer()
    # ---- set up
    tc, tasks = cfg.train, TRAINED_TASKS[cfg.train.tasks]
    torch.set_num_threads(cpu_threads(tc.threads))
    device = pick_device(tc.device, "train.device")
    models.check_fits(cfg.model, data.shape, memory_bytes())
    torch.use_deterministic_algorithms(device.type == "cpu", warn_only=True)
    probes = Probes(data, classifier_net, cfg.seed)  # before GAN.create seeds torch's generator
    gan = GAN.create(cfg, RealData.from_processed(data, device), data.shape, device, data.vocab.pad)
    key = digest(cfg, data)
    # ---- resume
    prog = _resume(gan, checkpoint.load_latest(ckpt_dir, key), tc.steps)
    n_g, n_d = models.n_params(gan.G), models.n_params(gan.D)
    print(f"braingan train: {cfg.model.family} generator {n_g:,} params, critic {n_d:,} params, canvas "
          f"{data.shape[0]}x{data.shape[1]}, device {device}", file=sys.stderr)
    observer.begin(Start(cfg, data, n_g, n_d, device, prog.step, list(prog.history), dict(prog.samples),
                         dict(prog.observer)))
    # ---- loop
    latest: dict = dict(prog.latest)  # per-task latest losses (tensors: read, a host sync, every log_every steps)
    start, t_start = prog.step, time.time()
    t0 = t_start
    with _StopFlag() as stop:
        bar = tqdm(range(prog.step, tc.steps), initial=prog.step, total=tc.steps, desc="train", unit="step",
                   dynamic_ncols=True, file=sys.stderr, mininterval=1.0)
        for step in bar:
            task = tasks[step % len(tasks)]
            logs = gan.step(step, task)
            done = step + 1
            latest.update({f"{k}_{task_name(task)}": v for k, v in logs.items()})
            last = done == tc.steps
            if done % tc.log_every == 0 or last:
                values = {k: float(v) for k, v in latest.items()}
                _add_row(prog.history, done, values)
                observer.log(done, "train", values)
                bar.set_postfix({k.replace("_mnist", "/m").replace("_smiles", "/s"): f"{v:.3g}"
                                 for k, v in values.items() if k.startswith(("wdist", "g_adv"))})
            if done % tc.sample_every == 0 or last:
                g = gan.generator(data, done)
                files = sample_files(g, cfg, done, classifier_net)
                prog.samples.update(files)
                observer.sampled(done, files)
                values = probes.measure(g)
                _add_row(prog.history, done, values)
                observer.log(done, "monitor", values)
            if done % tc.checkpoint_every == 0 or last or stop.set:
                prog.step, prog.elapsed = done, prog.elapsed + time.time() - t0
                t0 = time.time()
                prog.observer = observer.state()
                prog.latest = {k: float(v) for k, v in latest.items()}
                checkpoint.save(ckpt_dir, done, {**gan.state_dict(), **prog.__dict__, "digest": key})
                observer.checkpointed(done, prog.history)
            if stop.set:
                bar.close()
                print(f"braingan train: stopped at step {done}; checkpoint saved; `dvc repro` resumes", file=sys.stderr)
                raise Stopped(done)
        bar.close()
    rate = (tc.steps - start) / max(time.time() - t_start, 1e-9)
    metrics = {
        "steps": tc.steps, "resumed_from": start, "wall_s": round(prog.elapsed, 2), "steps_per_s": round(rate, 3),
        "threads": torch.get_num_threads(),  # cores // 2 in a `dvc queue` workspace, unless train.threads says
        "generator_params": n_g, "critic_params": n_d,
        **{f"final_{k}": round(float(v), 5) for k, v in latest.items()},
    }
    return TrainResult(cfg, gan.generator(data, tc.steps), metrics, prog.history, prog.samples)


def _add_row(history: list[dict], step: int, values: dict) -> None:
    """One history row per step: values logged at the same step share it."""
    if history and history[-1]["step"] == step:
        history[-1].update(values)
    else:
        history.append({"step": step, **values})


def _resume(gan: GAN, state: dict | None, steps: int) -> _Progress:
    if state is not None and int(state["step"]) >= steps:
        print(f"braingan train: the newest checkpoint is at step {state['step']} of train.steps={steps}; "
              "training again from step 0 (a forced re-run)", file=sys.stderr)
        state = None
    if state is None:
        return _Progress()
    gan.load_state_dict(state)
    prog = _Progress(**{k: state[k] for k in _Progress.__dataclass_fields__ if k in state})
    prog.history, prog.samples, prog.observer = list(prog.history), dict(prog.samples), dict(prog.observer)
    print(f"braingan train: resuming from the checkpoint at step {prog.step} of {steps}", file=sys.stderr)
    return prog


def sample_files(g: Generator, cfg: Config, step: int, classifier_net) -> dict[str, bytes]:
    """This step's samples as file name -> bytes: digits as the classifier reads them (28x28,
    the asked class beside the classifier's label), molecules drawn and as strings."""
    files = {}
    if MNIST in g.tasks:
        s = g.sample(MNIST, 40, cfg.seed)
        read = clf.predict(classifier_net, s.images)[0].argmax(1)
        asked = s.classes if g.model.conditioning == "task+class" else None
        fig = plots.digit_grid(s.images, f"step {step}: generated digits, 28x28 as the classifier reads them",
                               read=read, asked=asked)
        files[f"digits_step{step:07d}.png"] = figure_png(fig)
    if SMILES in g.tasks:
        s = g.sample(SMILES, 20, cfg.seed)
        raw, smiles = g.vocab.raw(s.tokens), s.smiles()
        lines = [f"{r}\t{smi if smi is not None else '(no molecule)'}" for r, smi in zip(raw, smiles)]
        files[f"smiles_step{step:07d}.txt"] = ("raw (argmax per row)\tdecoded SMILES\n" + "\n".join(lines) + "\n").encode()
        files[f"molecules_step{step:07d}.png"] = plots.molecule_grid_png(
            smiles, legends=[f"{r.rstrip('|')[:24]}" for r in raw], title=f"step {step}: generated molecules")
    return files
