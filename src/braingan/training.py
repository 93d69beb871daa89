"""Stage `train`: the task-conditioned GAN.

One step = n_critic critic updates and one generator update, on one task; with
`train.tasks: both` the tasks take turns (the seed's alternating schedule), so a
single-task run with the same `train.steps` gets the same number of updates.
"""
from __future__ import annotations

import csv
import io
import os
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from . import checkpoint, losses, models, plots
from .config import Config, ConfigError, dump, stable_hash
from .data import canvas as cv
from .data.prepare import Processed
from .fsutil import atomic_path, save_figure, write_json, write_text
from .models import MNIST, SMILES
from .tracking import EXPERIMENT, context_tags, redact

TASK_NAMES = {MNIST: "mnist", SMILES: "smiles"}
TASKS = {"both": [MNIST, SMILES], "mnist": [MNIST], "smiles": [SMILES]}
# Keys that change how long or how visibly a run goes, not what it computes: a checkpoint
# made under other values of these can be resumed (e.g. raise train.steps to train on).
NON_SEMANTIC = ("steps", "log_every", "sample_every", "checkpoint_every", "device", "threads")


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device: 'cuda' but no CUDA device is available; allowed here: auto, cpu")
    return torch.device(name)


def cpu_threads(requested: int) -> int:
    """`train.threads`, or by default all cores -- except in a `dvc queue` workspace, where
    parallel experiments (`dvc queue start -j 2`) would oversubscribe the cores: OpenMP
    threads spinning against each other made two 2-thread runs on 2 cores 13x slower
    than one. There each run takes cores // 2 (set train.threads to override)."""
    if requested:
        return requested
    cores = os.cpu_count() or 1
    if f"{os.sep}.dvc{os.sep}tmp{os.sep}exps{os.sep}" in os.getcwd() + os.sep:
        return max(1, cores // 2)
    return torch.get_num_threads()


def digest(cfg: Config, data: Processed) -> str:
    d = cfg.to_dict()
    train = {k: v for k, v in d["train"].items() if k not in NON_SEMANTIC}
    key = {"seed": d["seed"], "model": d["model"], "train": train, "preprocess": d["preprocess"],
           "data": data.meta["input_sha256"], "canvas": data.meta["canvas"]}
    return stable_hash(key)


class RealData:
    """The real canvases of both tasks on the device, sampled with a seeded generator."""

    def __init__(self, data: Processed, device):
        self.x = {MNIST: torch.from_numpy(data.train_canvas).to(device),
                  SMILES: torch.from_numpy(data.smiles_canvas()).to(device)}
        self.cls = {MNIST: torch.from_numpy(data.train_labels).long().to(device),
                    SMILES: torch.full((len(data.smiles_train),), -1, dtype=torch.long, device=device)}

    def sample(self, task: int, n: int, gen: torch.Generator):
        idx = torch.randint(len(self.x[task]), (n,), generator=gen).to(self.x[task].device)
        return self.x[task][idx], self.cls[task][idx]


def fake_batch(G, mcfg, task: int, n: int, gen: torch.Generator, device, cls=None):
    """(activated canvases, task ids, class ids) for n samples of one task."""
    t = torch.full((n,), task, dtype=torch.long, device=device)
    if cls is None:
        cls = (torch.randint(models.N_CLASSES, (n,), generator=gen) if task == MNIST
               else torch.full((n,), -1, dtype=torch.long)).to(device)
    z = torch.randn(n, mcfg.z_dim, generator=gen).to(device)
    logits = G(z, models.condition(t, cls, mcfg.conditioning))
    tau = mcfg.gumbel_tau if G.training else 0.0  # samples for evaluation stay argmax-decoded rows
    return models.activate(logits, t, mcfg.activation, tau), t, cls


def train_critic(G, D, opt_d, loss, real, real_cls, task, cfg: Config, gen) -> dict:
    with torch.no_grad():
        fake, t, fake_cls = fake_batch(G, cfg.model, task, len(real), gen, real.device)
    # The class head learns from real digits only (their labels are known).
    d_loss, logs = loss.critic_loss(D, real, fake, t, real_cls)
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    loss.after_critic_step(D)
    logs["d_loss"] = d_loss.item()
    return logs


def train_generator(G, D, opt_g, loss, task, cfg: Config, gen, device) -> dict:
    for p in D.parameters():
        p.requires_grad_(False)
    fake, t, cls = fake_batch(G, cfg.model, task, cfg.train.batch_size, gen, device)
    g_loss, logs = loss.generator_loss(D, fake, t, cls)
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    for p in D.parameters():
        p.requires_grad_(True)
    logs["g_loss"] = g_loss.item()
    return logs


@torch.no_grad()
def generate(G, mcfg, task: int, n: int, seed: int, device, batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """n activated canvases [n, L, V] of one task (eval mode, seeded); digit classes cycle 0..9."""
    G.eval()
    gen = torch.Generator().manual_seed(seed)
    out, classes = [], []
    for i in range(0, n, batch):
        k = min(batch, n - i)
        cls = (torch.arange(i, i + k) % models.N_CLASSES) if task == MNIST else torch.full((k,), -1)
        x, _, c = fake_batch(G, mcfg, task, k, gen, device, cls.long().to(device))
        out.append(x.float().cpu().numpy())
        classes.append(c.cpu().numpy())
    G.train()
    return np.concatenate(out), np.concatenate(classes)


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


def save_generator(path, G, cfg: Config, shape, vocab, step: int) -> None:
    with atomic_path(path) as tmp:
        torch.save({"state_dict": G.state_dict(), "model": asdict(cfg.model), "shape": list(shape),
                    "vocab": list(vocab.symbols), "step": step}, tmp)


def load_generator(path, device="cpu"):
    """(generator, model config) from a file written by save_generator (weights only)."""
    from .config import Model

    blob = torch.load(path, map_location=device, weights_only=True)
    mcfg = Model(**blob["model"])
    G, _ = models.build(mcfg, tuple(blob["shape"]))
    G.load_state_dict(blob["state_dict"])
    return G.to(device).eval(), mcfg, blob


def _rng_state(gen):
    return {"torch": torch.get_rng_state(), "sampler": gen.get_state()}


def run(cfg: Config, data: Processed, tracker, out: Path = Path("results/train"),
        model_path: Path = Path("models/generator.pt"), ckpt_dir: Path = Path("models/checkpoints")) -> dict:
    from tqdm import tqdm

    tc = cfg.train
    torch.set_num_threads(cpu_threads(tc.threads))
    device = pick_device(tc.device)
    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(device.type == "cpu", warn_only=True)
    shape = data.shape
    G, D = models.build(cfg.model, shape)
    G, D = G.to(device), D.to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=tc.lr, betas=(tc.beta1, tc.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=tc.lr, betas=(tc.beta1, tc.beta2))
    loss = losses.build(tc)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    real = RealData(data, device)
    tasks = TASKS[tc.tasks]
    key = digest(cfg, data)

    start, history, run_id, elapsed0 = 0, [], None, 0.0
    state = checkpoint.load_latest(ckpt_dir, key)
    if state is not None and int(state["step"]) > tc.steps:
        print(f"braingan train: checkpoint is at step {state['step']}, past train.steps={tc.steps}; starting over",
              file=sys.stderr)
        state = None
    if state is not None:
        G.load_state_dict(state["G"]), D.load_state_dict(state["D"])
        opt_g.load_state_dict(state["opt_g"]), opt_d.load_state_dict(state["opt_d"])
        torch.set_rng_state(state["rng"]["torch"]), gen.set_state(state["rng"]["sampler"])
        start, history, run_id = int(state["step"]), list(state["history"]), state.get("run_id") or None
        elapsed0 = float(state.get("elapsed", 0.0))
        print(f"braingan train: resuming from checkpoint at step {start} of {tc.steps}", file=sys.stderr)
    n_g, n_d = models.n_params(G), models.n_params(D)
    print(f"braingan train: {cfg.model.family} generator {n_g:,} params, critic {n_d:,} params, "
          f"canvas {shape[0]}x{shape[1]}, device {device}", file=sys.stderr)
    tracker.run_id = run_id
    tracker.start(
        name=f"{cfg.model.family}-{cfg.model.activation}-{tc.loss}-{tc.tasks}",
        params=cfg.flat(),
        tags=_tags(data),
    )
    tracker.set_tags({"braingan.generator_params": n_g, "braingan.critic_params": n_d})

    latest = {}  # per-task latest losses, for wide history rows
    t0 = time.time()
    status = "FAILED"
    try:
        with _StopFlag() as stop:
            bar = tqdm(range(start, tc.steps), initial=start, total=tc.steps, desc="train", unit="step",
                       dynamic_ncols=True, file=sys.stderr, mininterval=1.0)
            for step in bar:
                task = tasks[step % len(tasks)]
                for _ in range(tc.n_critic):
                    x, c = real.sample(task, tc.batch_size, gen)
                    d_logs = train_critic(G, D, opt_d, loss, x, c, task, cfg, gen)
                g_logs = train_generator(G, D, opt_g, loss, task, cfg, gen, device)
                done = step + 1
                latest.update({f"{k}_{TASK_NAMES[task]}": v for k, v in {**d_logs, **g_logs}.items()})
                if done % tc.log_every == 0 or done == tc.steps:
                    row = {"step": done, **latest}
                    history.append(row)
                    tracker.log_metrics({f"train.{k}": v for k, v in latest.items()}, step=done)
                    bar.set_postfix({k.replace("_mnist", "/m").replace("_smiles", "/s"): f"{v:.3g}"
                                     for k, v in latest.items() if k.startswith(("wdist", "g_adv"))})
                if done % tc.sample_every == 0 or done == tc.steps:
                    _samples(G, cfg, data, tasks, done, out, tracker, device)
                if done % tc.checkpoint_every == 0 or done == tc.steps or stop.set:
                    checkpoint.save(ckpt_dir, done, {
                        "G": G.state_dict(), "D": D.state_dict(), "opt_g": opt_g.state_dict(),
                        "opt_d": opt_d.state_dict(), "rng": _rng_state(gen), "step": done, "history": history,
                        "run_id": tracker.run_id or "", "digest": key, "elapsed": elapsed0 + time.time() - t0})
                    _write_history(out / "history.csv", history)
                    tracker.flush()
                if stop.set:
                    bar.close()
                    print(f"braingan train: stopped at step {done}; checkpoint saved; `dvc repro` resumes", file=sys.stderr)
                    status = "KILLED"
                    raise KeyboardInterrupt
            bar.close()
        elapsed = elapsed0 + time.time() - t0
        save_generator(model_path, G, cfg, shape, data.vocab, tc.steps)
        _write_history(out / "history.csv", history)
        metrics = {
            "steps": tc.steps, "resumed_from": start, "wall_s": round(elapsed, 2),
            "steps_per_s": round((tc.steps - start) / max(time.time() - t0, 1e-9), 3),
            "generator_params": n_g, "critic_params": n_d,
            **{f"final_{k}": round(v, 5) for k, v in latest.items()},
        }
        write_json(out / "metrics.json", metrics)
        write_json(out / "mlflow.json", {"run_id": tracker.run_id, "experiment": EXPERIMENT,
                                         "tracking_uri": redact(tracker.uri)})
        write_text(out / "params.yaml", dump(cfg))
        tracker.log_metrics({f"train.{k}": v for k, v in metrics.items() if isinstance(v, (int, float))},
                            step=tc.steps, flush=True)
        for f in (model_path, out / "history.csv", out / "params.yaml"):
            tracker.log_artifact(f, "train")
        status = "FINISHED"
        return metrics
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        tracker.end(status)


def _tags(data: Processed) -> dict:
    return {**context_tags(), **{f"data.sha256.{k}": v for k, v in data.meta["input_sha256"].items()}}


def _write_history(path: Path, history: list[dict]) -> None:
    if not history:
        return
    cols = ["step"] + sorted({k for r in history for k in r} - {"step"})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, restval="")
    w.writeheader()
    w.writerows(history)
    write_text(path, buf.getvalue())


def _samples(G, cfg: Config, data: Processed, tasks, step: int, out: Path, tracker, device) -> None:
    sample_dir = out / "samples"
    if MNIST in tasks:
        x, cls = generate(G, cfg.model, MNIST, 40, cfg.seed, device)
        digits = cv.from_canvas(x, data.mode)
        fig = plots.digit_grid(digits, f"step {step}: generated digits (28x28 after the canvas inverse)",
                               labels=cls if cfg.model.conditioning == "task+class" else None)
        tracker.log_figure_image(fig, "samples/digits", step)
        save_figure(fig, sample_dir / f"digits_step{step:07d}.png")
    if SMILES in tasks:
        x, _ = generate(G, cfg.model, SMILES, 20, cfg.seed, device)
        smiles = data.vocab.decode(x)
        write_text(sample_dir / f"smiles_step{step:07d}.txt", "\n".join(smiles) + "\n")
        if tracker.enabled:
            tracker.client.log_text(tracker.run_id, "\n".join(smiles) + "\n", f"samples/smiles_step{step:07d}.txt")
