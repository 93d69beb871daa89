"""Stage `train`: the task-conditioned GAN. This module computes; `recorder.py` writes
what it computes (files and MLflow) as an `Observer` of the run.

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
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.profiler import record_function

from . import checkpoint, losses, models, paths, plots, sampling
from . import classifier as clf
from .config import Config, stable_hash
from .data.dataset import Processed
from .device import cpu_threads, memory_bytes, pick_device
from .fsutil import figure_png
from .generator import Generator
from .models import MNIST, SMILES, task_name
from .probes import Probes
from .sampling import fake_batch

TASKS = {"both": (MNIST, SMILES), "mnist": (MNIST,), "smiles": (SMILES,)}
# Keys that change how long or how visibly a run goes, not what it computes: a checkpoint
# made under other values of these can be resumed (e.g. raise train.steps to train on).
NON_SEMANTIC = ("steps", "log_every", "sample_every", "checkpoint_every", "device", "threads", "compile")


class RealData:
    """The real canvases of each task on the device, sampled with a seeded generator."""

    def __init__(self, canvases: dict[int, torch.Tensor], classes: dict[int, torch.Tensor]):
        self.x, self.cls = canvases, classes

    @classmethod
    def from_processed(cls, data: Processed, device) -> "RealData":
        return cls({MNIST: torch.from_numpy(data.train_canvas).to(device),
                    SMILES: torch.from_numpy(data.smiles_canvas()).to(device)},
                   {MNIST: torch.from_numpy(data.train_labels).long().to(device),
                    SMILES: torch.full((len(data.smiles_train_idx),), -1, dtype=torch.long, device=device)})

    def sample(self, task: int, n: int, rng: torch.Generator):
        idx = torch.randint(len(self.x[task]), (n,), generator=rng).to(self.x[task].device)
        return self.x[task][idx], self.cls[task][idx]


@dataclass
class GAN:
    """Everything a training step touches."""

    cfg: Config
    G: nn.Module
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    loss: losses.WGANGP
    real: RealData
    rng: torch.Generator  # draws z, classes and real batches; noise for GP/Gumbel comes from torch's own
    device: torch.device
    G_step: nn.Module | None = None  # G and D as the steps call them: compiled with train.compile
    D_step: nn.Module | None = None
    tau: float = 0.0  # the Gumbel temperature of this step (model.gumbel_tau, annealed if asked)

    def __post_init__(self):
        self.G_step = self.G_step or self.G
        self.D_step = self.D_step or self.D
        self.tau = self.cfg.model.gumbel_tau

    def anneal(self, step: int) -> None:
        """Exponential decay of the Gumbel temperature from gumbel_tau to gumbel_tau_end."""
        m = self.cfg.model
        if m.gumbel_tau > 0 and m.gumbel_tau_end > 0:
            self.tau = m.gumbel_tau * (m.gumbel_tau_end / m.gumbel_tau) ** (step / max(1, self.cfg.train.steps - 1))

    @property
    def compiled(self) -> bool:
        return self.G_step is not self.G

    @classmethod
    def create(cls, cfg: Config, real: RealData, shape: tuple[int, int], device: torch.device) -> "GAN":
        torch.manual_seed(cfg.seed)
        G, D = models.build(cfg.model, shape)
        G, D = G.to(device), D.to(device)
        tc = cfg.train
        gan = cls(cfg, G, D, torch.optim.Adam(G.parameters(), lr=tc.lr_g, betas=(tc.beta1, tc.beta2)),
                  torch.optim.Adam(D.parameters(), lr=tc.lr_d, betas=(tc.beta1, tc.beta2)),
                  losses.build(tc), real, torch.Generator().manual_seed(cfg.seed + 1), device)
        if tc.compile:
            gan.G_step, gan.D_step = _compiled(G, D, cfg, shape, device)
        return gan

    def step(self, step: int, task: int) -> dict[str, torch.Tensor]:
        """One training step (n_critic critic updates, one generator update) on one task;
        the logged values stay tensors (no host sync)."""
        self.anneal(step)
        for _ in range(self.cfg.train.n_critic):
            logs = train_critic(self, task)
        return {**logs, **train_generator(self, task)}

    def state_dict(self) -> dict:
        return {"G": self.G.state_dict(), "D": self.D.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "rng": {"torch": torch.get_rng_state(), "sampler": self.rng.get_state()}}

    def load_state_dict(self, s: dict) -> None:
        self.G.load_state_dict(s["G"]), self.D.load_state_dict(s["D"])
        self.opt_g.load_state_dict(s["opt_g"]), self.opt_d.load_state_dict(s["opt_d"])
        torch.set_rng_state(s["rng"]["torch"]), self.rng.set_state(s["rng"]["sampler"])

    def generator(self, data: Processed, step: int) -> Generator:
        """The generator being trained, as a `Generator` (shares its weights)."""
        return Generator(self.G, self.cfg.model, data.vocab, data.shape, data.mode, TASKS[self.cfg.train.tasks],
                         step, self.device)


def _compiled(G, D, cfg: Config, shape, device):
    """torch.compile'd G and D, tried once on a small batch; where compiling is impossible
    (no C compiler, an unsupported op) training goes on eagerly and says so."""
    try:
        G_c, D_c = torch.compile(G), torch.compile(D)
        z = torch.zeros(2, cfg.model.z_dim, device=device)
        c = models.condition(torch.zeros(2, dtype=torch.long, device=device), torch.zeros(2, dtype=torch.long,
                                                                                        device=device),
                             cfg.model.conditioning)
        D_c(G_c(z, c).sigmoid())["score"].sum().backward()
        G.zero_grad(set_to_none=True), D.zero_grad(set_to_none=True)
        return G_c, D_c
    except Exception as e:  # noqa: BLE001 - any compiler failure: fall back, say why
        print(f"braingan train: train.compile: torch.compile is not possible here ({type(e).__name__}: "
              f"{str(e).splitlines()[0][:160]}); training eagerly", file=sys.stderr)
        return G, D


def train_critic(gan: GAN, task: int) -> dict:
    c = gan.cfg
    with record_function("critic.real_batch"):
        real, real_cls = gan.real.sample(task, c.train.batch_size, gan.rng)
    with torch.no_grad(), record_function("critic.fake_batch"):
        fake, t, _ = fake_batch(gan.G_step, c.model, task, len(real), gan.rng, gan.device, tau=gan.tau)
    # The class head learns from real digits only (their labels are known).
    d_loss, logs = gan.loss.critic_loss(gan.D_step, real, fake, t, real_cls, penalty_critic=gan.D)
    with record_function("critic.backward"):
        gan.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
    with record_function("critic.optimizer"):
        gan.opt_d.step()
        gan.loss.after_critic_step(gan.D)
    logs["d_loss"] = d_loss.detach()
    return logs


def train_generator(gan: GAN, task: int) -> dict:
    c = gan.cfg
    gan.D.requires_grad_(False)  # no critic gradients needed for the generator's update
    with record_function("generator.forward"):
        fake, t, cls = fake_batch(gan.G_step, c.model, task, c.train.batch_size, gan.rng, gan.device, tau=gan.tau)
        g_loss, logs = gan.loss.generator_loss(gan.D_step, fake, t, cls)
    with record_function("generator.backward"):
        gan.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
    with record_function("generator.optimizer"):
        gan.opt_g.step()
    gan.D.requires_grad_(True)
    logs["g_loss"] = g_loss.detach()
    return logs


def digest(cfg: Config, data: Processed) -> str:
    """What a checkpoint must match to be resumed: everything that changes the computation."""
    d = cfg.to_dict()
    train = {k: v for k, v in d["train"].items() if k not in NON_SEMANTIC}
    return stable_hash({"seed": d["seed"], "model": d["model"], "train": train, "data": data.meta["input_sha256"],
                        "processed": data.meta["params"], "canvas": data.meta["canvas"], "code": code_hash()})


def code_hash(files=None) -> str:
    """sha256 of the modules whose code defines a training step (models, losses, sampling, this
    one). DVC re-runs `train` after any edit to its code; resuming a checkpoint made by the old
    code would give a model that half came from code the result no longer says it came from."""
    h = hashlib.sha256()
    for f in files or [models.__file__, losses.__file__, sampling.__file__, __file__]:
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
    observer: dict = field(default_factory=dict)  # the observer's state (its MLflow run, ...)
    elapsed: float = 0.0


# ---------------------------------------------------------------- the run
def run(cfg: Config, data: Processed, classifier_net, observer: Observer | None = None,
        ckpt_dir: Path = paths.CHECKPOINTS) -> TrainResult:
    """Train (or resume) and return the result; `observer` sees every event on the way."""
    from tqdm import tqdm

    observer = observer or Observer()
    # ---- set up
    tc, tasks = cfg.train, TASKS[cfg.train.tasks]
    torch.set_num_threads(cpu_threads(tc.threads))
    device = pick_device(tc.device, "train.device")
    models.check_fits(cfg.model, data.shape, memory_bytes())
    torch.use_deterministic_algorithms(device.type == "cpu", warn_only=True)
    probes = Probes(data, classifier_net, cfg.seed)  # before GAN.create seeds torch's generator
    gan = GAN.create(cfg, RealData.from_processed(data, device), data.shape, device)
    key = digest(cfg, data)
    # ---- resume
    prog = _resume(gan, checkpoint.load_latest(ckpt_dir, key), tc.steps)
    n_g, n_d = models.n_params(gan.G), models.n_params(gan.D)
    print(f"braingan train: {cfg.model.family} generator {n_g:,} params, critic {n_d:,} params, canvas "
          f"{data.shape[0]}x{data.shape[1]}, device {device}", file=sys.stderr)
    observer.begin(Start(cfg, data, n_g, n_d, device, prog.step, list(prog.history), dict(prog.samples),
                         dict(prog.observer)))
    # ---- loop
    latest: dict[str, torch.Tensor] = {}  # per-task latest losses, read (host sync) every log_every steps
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
    prog = _Progress(**{k: state[k] for k in _Progress.__dataclass_fields__})
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
