"""Training benchmarks (issue 3). Prints numbers; asserts nothing.

    python benchmarks/train_speed.py [--steps 200]

1. Modern family (params.yaml's model) throughput: FLOPs of one training step counted with
   torch.utils.flop_counter.FlopCounterMode, times steps/s, divided by the FLOP/s of a large
   fp32 matmul measured in the same process.
2. Tracking overhead: the same training with MLflow on (a throw-away SQLite store) and off.
3. The seed model's steps per second (the 2018 shapes: Stahl canvas 116 x 25).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from braingan import losses, models, training  # noqa: E402
from braingan.config import Model, Train, load  # noqa: E402
from braingan.data.prepare import load_processed  # noqa: E402


def matmul_flops(n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t)


def step_fn(mcfg: Model, tcfg: Train, real: training.RealData, shape):
    G, D = models.build(mcfg, shape)
    og = torch.optim.Adam(G.parameters(), tcfg.lr, betas=(tcfg.beta1, tcfg.beta2))
    od = torch.optim.Adam(D.parameters(), tcfg.lr, betas=(tcfg.beta1, tcfg.beta2))
    loss, gen = losses.build(tcfg), torch.Generator().manual_seed(0)
    cfg = type("C", (), {"model": mcfg, "train": tcfg})()

    def step(i: int):
        task = i % 2
        for _ in range(tcfg.n_critic):
            x, c = real.sample(task, tcfg.batch_size, gen)
            training.train_critic(G, D, od, loss, x, c, task, cfg, gen)
        training.train_generator(G, D, og, loss, task, cfg, gen, torch.device("cpu"))

    return step


def steps_per_s(step, n: int) -> float:
    for i in range(3):
        step(i)
    t = time.perf_counter()
    for i in range(n):
        step(i)
    return n / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--overhead-steps", type=int, default=300)
    args = ap.parse_args()
    os.chdir(ROOT)
    cfg = load("params.yaml")
    data = load_processed()
    real = training.RealData(data, torch.device("cpu"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, canvas {data.shape}")

    peak = matmul_flops()
    step = step_fn(cfg.model, cfg.train, real, data.shape)
    step(0)
    with FlopCounterMode(display=False) as fc:
        step(1)
    flops = fc.get_total_flops()
    sps = steps_per_s(step, args.steps)
    print(f"[1] {cfg.model.family} dim={cfg.model.dim} blocks={cfg.model.blocks} batch={cfg.train.batch_size} "
          f"n_critic={cfg.train.n_critic}: {flops / 1e9:.2f} GFLOP/step, {sps:.2f} steps/s, "
          f"achieved {flops * sps / 1e9:.1f} GFLOP/s; fp32 2048^3 matmul {peak / 1e9:.1f} GFLOP/s; "
          f"ratio {flops * sps / peak:.2f} (target >= 0.5)")

    times = {}
    for on in (False, True, False, True):  # alternate so drift hits both equally
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
            c = load("params.yaml")
            c.train.steps, c.train.sample_every, c.train.checkpoint_every = args.overhead_steps, 10**9, 10**9
            from braingan.tracking import Run

            t = time.perf_counter()
            training.run(c, data, Run(enabled=on), out=Path(tmp) / "out", model_path=Path(tmp) / "g.pt",
                         ckpt_dir=Path(tmp) / "ck")
            times.setdefault(on, []).append(time.perf_counter() - t)
    off, on = min(times[False]), min(times[True])
    print(f"[2] {args.overhead_steps} steps: tracking off {off:.1f} s, on {on:.1f} s: "
          f"overhead {100 * (on - off) / off:+.1f} % (target <= 2 %)")

    seed_m = Model(family="seed", activation="softmax", z_dim=2, dropout=0.4)
    seed_t = Train(loss="wgan-clip", lr=1e-5, critic_task_on="real+fake", gen_task_weight=1.0)
    fake_real = training.RealData.__new__(training.RealData)
    fake_real.x = {k: torch.rand(500, 116, 25) for k in (0, 1)}
    fake_real.cls = {0: torch.randint(10, (500,)), 1: torch.full((500,), -1)}
    G, _ = models.build(seed_m, (116, 25))
    sps = steps_per_s(step_fn(seed_m, seed_t, fake_real, (116, 25)), args.steps * 3)
    print(f"[3] seed model (116x25, {models.n_params(G)} generator params, wgan-clip, n_critic 5): {sps:.1f} steps/s")


if __name__ == "__main__":
    main()
