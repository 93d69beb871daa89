"""Stage `train`: the task-conditioned GAN.

One step = n_critic critic updates and one generator update, on one task; with
`train.tasks: both` the tasks take turns (the seed's alternating schedule), so a
single-task run with the same `train.steps` gets the same number of updates.

A run resumes from its newest checkpoint made with the same computation (`digest`: the
params and data that change it, and the code of a step; a checkpoint from other code is
not resumed, training starts over):
- the same params (an interrupted run): the same MLflow run goes on;
- other params that do not change the computation (more `train.steps`): a new MLflow run
  tagged `braingan.continued_from`, since MLflow params are immutable and must stay true;
- a checkpoint at or past the final step is not resumed: a forced re-run trains again.
"""
from __future__ import annotations

import csv
import hashlib
import io
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.profiler import record_function

from . import checkpoint, losses, models, paths, plots, pyfunc, sampling
from . import classifier as clf
from .config import Config, dump, flatten, stable_hash
from .data import canvas as cv
from .data.dataset import Processed
from .device import cpu_threads, memory_bytes, pick_device
from .fsutil import save_figure, write_bytes, write_json, write_text
from .metrics import collapse as col
from .metrics import digits as dm
from .models import MNIST, SMILES
from .sampling import fake_batch, generate
from .tracking import context_tags, describe, run_name

TASK_NAMES = {MNIST: "mnist", SMILES: "smiles"}
TASKS = {"both": [MNIST, SMILES], "mnist": [MNIST], "smiles": [SMILES]}
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

    def state_dict(self) -> dict:
        return {"G": self.G.state_dict(), "D": self.D.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "rng": {"torch": torch.get_rng_state(), "sampler": self.rng.get_state()}}

    def load_state_dict(self, s: dict) -> None:
        self.G.load_state_dict(s["G"]), self.D.load_state_dict(s["D"])
        self.opt_g.load_state_dict(s["opt_g"]), self.opt_d.load_state_dict(s["opt_d"])
        torch.set_rng_state(s["rng"]["torch"]), self.rng.set_state(s["rng"]["sampler"])


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


def run_params(cfg: Config, data: Processed) -> dict:
    """The training run's MLflow params: its own sections plus the params that made its data."""
    return flatten({**data.meta["params"], **cfg.to_dict()})


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
    history: list | None = None  # one row of floats per log_every steps
    samples: dict | None = None  # file name -> bytes of the sample files written so far
    run_id: str = ""  # the MLflow run these steps were logged to
    params: str = ""  # hash of that run's params
    elapsed: float = 0.0


def run(cfg: Config, data: Processed, tracker, out: Path = paths.results("train"),
        model_path: Path = paths.GENERATOR, ckpt_dir: Path = paths.CHECKPOINTS, clf_path: Path = paths.CLASSIFIER) -> dict:
    from tqdm import tqdm

    # ---- set up
    tc, tasks = cfg.train, TASKS[cfg.train.tasks]
    torch.set_num_threads(cpu_threads(tc.threads))
    device = pick_device(tc.device, "train.device")
    models.check_fits(cfg.model, data.shape, memory_bytes())
    torch.use_deterministic_algorithms(device.type == "cpu", warn_only=True)
    monitor = Monitor(data, clf.load(clf_path), cfg.seed)  # before GAN.create seeds torch's generator
    gan = GAN.create(cfg, RealData.from_processed(data, device), data.shape, device)
    key, params = digest(cfg, data), run_params(cfg, data)
    # ---- resume
    prog = _resume(gan, checkpoint.load_latest(ckpt_dir, key), tc.steps)
    _restore_samples(out / "samples", prog.samples)
    _open_run(tracker, cfg, data, gan, prog, params)
    # ---- loop
    latest: dict[str, torch.Tensor] = {}  # per-task latest losses, read (host sync) every log_every steps
    start, t_start = prog.step, time.time()
    t0, status = t_start, "FAILED"
    try:
        with _StopFlag() as stop:
            bar = tqdm(range(prog.step, tc.steps), initial=prog.step, total=tc.steps, desc="train", unit="step",
                       dynamic_ncols=True, file=sys.stderr, mininterval=1.0)
            for step in bar:
                task = tasks[step % len(tasks)]
                gan.anneal(step)
                for _ in range(tc.n_critic):
                    d_logs = train_critic(gan, task)
                g_logs = train_generator(gan, task)
                done = step + 1
                latest.update({f"{k}_{TASK_NAMES[task]}": v for k, v in {**d_logs, **g_logs}.items()})
                last = done == tc.steps
                if done % tc.log_every == 0 or last:
                    _log(tracker, bar, prog, done, latest)
                if done % tc.sample_every == 0 or last:
                    prog.samples.update(_samples(gan, data, tasks, done, out / "samples", tracker))
                    _log_monitor(tracker, prog, done, monitor.indicators(gan, tasks))
                if done % tc.checkpoint_every == 0 or last or stop.set:
                    prog.step, prog.elapsed = done, prog.elapsed + time.time() - t0
                    t0 = time.time()
                    checkpoint.save(ckpt_dir, done, {**gan.state_dict(), **prog.__dict__, "digest": key})
                    _write_history(out / "history.csv", prog.history)
                    tracker.flush()
                if stop.set:
                    bar.close()
                    print(f"braingan train: stopped at step {done}; checkpoint saved; `dvc repro` resumes", file=sys.stderr)
                    raise KeyboardInterrupt
            bar.close()
        # ---- finish
        rate = (tc.steps - start) / max(time.time() - t_start, 1e-9)
        metrics = _finish(gan, data, tracker, prog, latest, out, model_path, tasks, start, rate)
        status = "FINISHED"
        return metrics
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        tracker.end(status)


def _resume(gan: GAN, state: dict | None, steps: int) -> _Progress:
    if state is not None and int(state["step"]) >= steps:
        print(f"braingan train: the newest checkpoint is at step {state['step']} of train.steps={steps}; "
              "training again from step 0 (a forced re-run)", file=sys.stderr)
        state = None
    if state is None:
        return _Progress(history=[], samples={})
    gan.load_state_dict(state)
    prog = _Progress(**{k: state[k] for k in _Progress.__dataclass_fields__})
    prog.history, prog.samples = list(prog.history), dict(prog.samples)
    print(f"braingan train: resuming from the checkpoint at step {prog.step} of {steps}", file=sys.stderr)
    return prog


def _restore_samples(sample_dir: Path, samples: dict) -> None:
    """The sample files of the steps already taken (DVC deleted the folder before this run)."""
    for name, blob in samples.items():
        write_bytes(sample_dir / name, blob)


def _open_run(tracker, cfg: Config, data: Processed, gan: GAN, prog: _Progress, params: dict) -> None:
    """Go on with the checkpoint's MLflow run if its params are ours; else start a new run."""
    params_hash = stable_hash(params)
    n_g, n_d = models.n_params(gan.G), models.n_params(gan.D)
    print(f"braingan train: {cfg.model.family} generator {n_g:,} params, critic {n_d:,} params, canvas "
          f"{data.shape[0]}x{data.shape[1]}, device {gan.device}", file=sys.stderr)
    same = bool(prog.run_id) and prog.params == params_hash
    model = describe(cfg)
    tags = {**context_tags(), **{f"data.sha256.{k}": v for k, v in data.meta["input_sha256"].items()},
            "braingan.generator_params": n_g, "braingan.critic_params": n_d, "braingan.model": model,
            "mlflow.note.content": f"{model}: {cfg.train.steps} steps, {data.meta['encoding']['encoding']} "
                                   f"({data.meta['encoding']['tokens']}) on a {data.shape[0]}x{data.shape[1]} canvas"}
    if prog.step and not same:
        tags.update({"braingan.continued_from": prog.run_id, "braingan.continued_at_step": prog.step})
    tracker.run_id = prog.run_id if same else None
    tracker.start(name=run_name(cfg), params=params, tags=tags)
    if prog.step and not same:  # a new run: give it the curve of the steps it continues
        for row in prog.history:
            tracker.log_metrics({f"train.{k}": v for k, v in row.items() if k != "step"}, step=row["step"])
    prog.run_id, prog.params = tracker.run_id or "", params_hash


def _log(tracker, bar, prog: _Progress, done: int, latest: dict) -> None:
    values = {k: float(v) for k, v in latest.items()}
    prog.history.append({"step": done, **values})
    tracker.log_metrics({f"train.{k}": v for k, v in values.items()}, step=done)
    bar.set_postfix({k.replace("_mnist", "/m").replace("_smiles", "/s"): f"{v:.3g}"
                     for k, v in values.items() if k.startswith(("wdist", "g_adv"))})


def _log_monitor(tracker, prog: _Progress, done: int, values: dict) -> None:
    """Collapse indicators as curves: in MLflow and in the history row of this step."""
    tracker.log_metrics({f"monitor.{k}": v for k, v in values.items()}, step=done)
    if prog.history and prog.history[-1]["step"] == done:
        prog.history[-1].update(values)
    else:
        prog.history.append({"step": done, **values})


class Monitor:
    """Cheap collapse indicators of both tasks during training, each against real data
    measured the same way (see metrics/collapse.py): a few hundred samples per task."""

    N = 200

    def __init__(self, data: Processed, net, seed: int):
        self.data, self.net, self.seed = data, net, seed
        rng = np.random.default_rng(seed)
        real = cv.round_trip(data.heldout_images[: self.N], data.shape, data.mode)
        self.digit_ref = col.feature_diversity(clf.predict(net, real)[1], rng)
        rows = data.smiles_train_idx[rng.permutation(len(data.smiles_train_idx))[: self.N]]
        self.smiles_ref = col.hamming_diversity(rows, data.vocab.pad, rng)

    def indicators(self, gan: GAN, tasks) -> dict[str, float]:
        rng, vocab, out = np.random.default_rng(self.seed), self.data.vocab, {}
        if MNIST in tasks:
            x, _ = generate(gan.G, gan.cfg.model, MNIST, self.N, self.seed + 2, gan.device)
            probs, feats = clf.predict(self.net, cv.from_canvas(x, self.data.mode))
            out["digit_classes_covered"] = dm.class_coverage(probs)
            out["digit_diversity_ratio"] = col.feature_diversity(feats, rng) / max(self.digit_ref, 1e-12)
        if SMILES in tasks:
            x, _ = generate(gan.G, gan.cfg.model, SMILES, self.N, self.seed + 3, gan.device)
            idx = x.argmax(-1)
            out["smiles_diversity_ratio"] = col.hamming_diversity(idx, vocab.pad, rng) / max(self.smiles_ref, 1e-12)
            out["smiles_all_pad_share"] = float((idx == vocab.pad).all(1).mean())
            out["smiles_vocab_share"] = col.vocab_share(idx, vocab.pad, len(vocab))
        return out


def _finish(gan: GAN, data: Processed, tracker, prog: _Progress, latest: dict, out: Path, model_path: Path,
            tasks: list[int], start: int, rate: float) -> dict:
    cfg, steps = gan.cfg, gan.cfg.train.steps
    checkpoint.save_generator(model_path, gan.G, cfg.model, data.shape, data.mode, data.vocab.symbols,
                              data.vocab.encoding.describe(), tasks, steps)
    _write_history(out / "history.csv", prog.history)
    metrics = {
        "steps": steps, "resumed_from": start, "wall_s": round(prog.elapsed, 2), "steps_per_s": round(rate, 3),
        "generator_params": models.n_params(gan.G), "critic_params": models.n_params(gan.D),
        **{f"final_{k}": round(float(v), 5) for k, v in latest.items()},
    }
    write_json(out / "metrics.json", metrics)
    write_json(out / "mlflow.json", tracker.describe())
    write_text(out / "params.yaml", dump(cfg))
    tracker.log_metrics({f"train.{k}": v for k, v in metrics.items()}, step=steps, flush=True)
    for f in (model_path, out / "history.csv", out / "params.yaml"):
        tracker.log_artifact(f, "train")
    tracker.log_with(pyfunc.log, model_path)  # the generator as an MLflow model: mlflow.pyfunc.load_model(...)
    return metrics


def _write_history(path: Path, history: list[dict]) -> None:
    if not history:
        return
    cols = ["step"] + sorted({k for r in history for k in r} - {"step"})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, restval="")
    w.writeheader()
    w.writerows(history)
    write_text(path, buf.getvalue())


def _samples(gan: GAN, data: Processed, tasks, step: int, sample_dir: Path, tracker) -> dict[str, bytes]:
    """Sample pictures/strings of this step: written, logged, and returned for the checkpoint."""
    cfg, files = gan.cfg, {}
    if MNIST in tasks:
        x, cls = generate(gan.G, cfg.model, MNIST, 40, cfg.seed, gan.device)
        fig = plots.digit_grid(cv.from_canvas(x, data.mode), f"step {step}: generated digits (28x28 after the canvas inverse)",
                               labels=cls if cfg.model.conditioning == "task+class" else None)
        tracker.log_figure_image(fig, "samples/digits", step)
        name = f"digits_step{step:07d}.png"
        save_figure(fig, sample_dir / name)
        files[name] = (sample_dir / name).read_bytes()
    if SMILES in tasks:
        x, _ = generate(gan.G, cfg.model, SMILES, 20, cfg.seed, gan.device)
        idx = x.argmax(-1)
        lines = [f"{raw}\t{smi if smi is not None else '(no molecule)'}"
                 for raw, smi in zip(data.vocab.raw(idx), data.vocab.decode(idx))]
        name = f"smiles_step{step:07d}.txt"
        files[name] = ("raw (argmax per row)\tdecoded SMILES\n" + "\n".join(lines) + "\n").encode()
        write_bytes(sample_dir / name, files[name])
        tracker.log_text(files[name].decode(), f"samples/{name}")
    return files
