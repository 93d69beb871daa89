"""Training speed, in one process, as ratios. Prints numbers; asserts nothing.

    python benchmarks/train_speed.py [--steps 60] [--profile] [--no-compile] [--set train.n_critic=5 ...]

1. The default model (params.yaml), same data, same process:
   - plain: the step as first written -- real, fake and interpolates through the critic in
     three passes, a host sync (.item()) per logged value, torch's gumbel_softmax, and the
     1x1 layers as nn.Conv1d on the transposed canvas;
   - optimised: the step of training.py -- one concatenated critic pass, logged values kept
     on the device, uniform-noise Gumbel, models.Pointwise, the thread setting of training.run;
   - optimised + `train.compile: true`, where torch.compile works on this machine;
   - optimised + `train.precision: bf16`, where the CPU computes bfloat16 natively (AVX512-BF16).
   For each: steps/s, FLOP/s (FLOPs of one step counted by FlopCounterMode), their ratio to
   the plain path and to the fp32 matmul rate measured here.
2. --profile: where the time of an optimised step goes (torch.profiler table).
3. The seed model's steps/s (the 2018 shapes: Stahl canvas 116 x 25, random canvases).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from braingan import classifier, losses, models, training  # noqa: E402
from braingan.config import from_dict, override, read_params  # noqa: E402
from braingan.data import dataset  # noqa: E402
from braingan.device import cpu_threads  # noqa: E402
from braingan.gan import train_critic, train_generator  # noqa: E402
from braingan.levers import bf16_supported  # noqa: E402
from braingan.probes import Probes  # noqa: E402
from braingan.sampling import fake_batch  # noqa: E402


def matmul_flops(n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t)


def plain_layers(module: torch.nn.Module) -> torch.nn.Module:
    """The 1x1 layers as first written: nn.Conv1d holding the same Parameter objects (the
    optimisers keep training them)."""
    for name, child in module.named_children():
        if isinstance(child, models.Pointwise):
            conv = torch.nn.Conv1d(child.in_channels, child.out_channels, 1)
            conv.weight, conv.bias = child.weight, child.bias
            setattr(module, name, conv)
        else:
            plain_layers(child)
    return module


def plain_step(gan: training.GAN, task: int) -> dict:
    """The training step before the speed work, kept here as the baseline it is measured against."""
    c, G, D, loss = gan.cfg, gan.G, gan.D, gan.loss
    for _ in range(c.train.n_critic):
        real, real_cls = gan.real.sample(task, c.train.batch_size, gan.rng)
        with torch.no_grad():
            t = torch.full((len(real),), task, dtype=torch.long)
            cls = torch.randint(10, (len(real),), generator=gan.rng) if task == models.MNIST else torch.full((len(real),), -1)
            z = torch.randn(len(real), c.model.z_dim, generator=gan.rng)
            logits = G(z, models.condition(t, cls, c.model.conditioning))
            fake = (F.gumbel_softmax(logits, tau=c.model.gumbel_tau, hard=True) if task == models.SMILES
                    else logits.sigmoid())
        out_r, out_f = D(real), D(fake)
        aux = losses.aux_loss(out_r, t, real_cls)
        gp = losses.gradient_penalty(D, real, fake)
        d_loss = out_f["score"].mean() - out_r["score"].mean() + c.train.gp_lambda * gp + aux
        logs = {"wdist": (out_r["score"].mean() - out_f["score"].mean()).item(), "critic_aux": aux.item(),
                "gp": gp.item()}
        gan.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        gan.opt_d.step()
        logs["d_loss"] = d_loss.item()
    for p in D.parameters():
        p.requires_grad_(False)
    fake, t, cls = fake_batch(G, c.model, task, c.train.batch_size, gan.rng, gan.device, tau=c.model.gumbel_tau,
                                 pad=gan.pad)
    g_loss, g_logs = loss.generator_loss(D, fake, t, cls)
    gan.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    gan.opt_g.step()
    for p in D.parameters():
        p.requires_grad_(True)
    logs.update({k: v.item() for k, v in g_logs.items()}, g_loss=g_loss.item())
    return logs


def optimised_step(gan: training.GAN, task: int) -> dict:
    for _ in range(gan.cfg.train.n_critic):
        logs = train_critic(gan, task)
    logs.update(train_generator(gan, task))
    return logs


# aten ops that run the convolutions and matmuls (profiler self time: the kernel, not the dispatch above it)
KERNELS = {"aten::mkldnn_convolution", "aten::convolution_backward", "aten::addmm", "aten::mm", "aten::bmm"}


def count_flops(gan, step) -> float:
    """FLOPs of one step (the mean of one step per task), counted by FlopCounterMode."""
    with FlopCounterMode(display=False) as fc:
        step(gan, 0)
        step(gan, 1)
    return fc.get_total_flops() / 2


def measure(name, gan, step, n, peak, plain_sps=None):
    for i in range(3):  # warm-up (and compilation)
        step(gan, i % 2)
    flops = count_flops(gan, step)
    t = time.perf_counter()
    for i in range(n):
        logs = step(gan, i % 2)
        if i % 10 == 9:
            {k: float(v) for k, v in logs.items()}  # what training reads every log_every steps
    sps = n / (time.perf_counter() - t)
    vs = f", {sps / plain_sps:.2f}x the plain path" if plain_sps else ""
    print(f"  {name:24s} {sps:6.2f} steps/s  {flops * sps / 1e9:6.1f} GFLOP/s  = {flops * sps / peak:.2f} of the "
          f"matmul rate{vs}", flush=True)
    return sps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--no-compile", action="store_true",
                    help="leave out the torch.compile row (compiling takes minutes)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a params.yaml override")
    args = ap.parse_args()
    os.chdir(ROOT)
    sets = {k: yaml.safe_load(v) for k, v in (a.split("=", 1) for a in args.set)}
    params = override(read_params(), sets)
    cfg = from_dict(params)
    data = dataset.load()
    torch.set_num_threads(cpu_threads(cfg.train.threads))
    device = torch.device("cpu")
    real = training.RealData.from_processed(data, device)
    peak = matmul_flops()
    gan = training.GAN.create(cfg, real, data.shape, device, data.vocab.pad)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, canvas {data.shape}, {cfg.model.family} "
          f"dim {cfg.model.dim} blocks {cfg.model.blocks} batch {cfg.train.batch_size} n_critic {cfg.train.n_critic}; "
          f"fp32 2048^3 matmul {peak / 1e9:.1f} GFLOP/s")
    plain_layers(gan.G), plain_layers(gan.D)
    plain = measure("plain eager", gan, plain_step, args.steps, peak)
    optimised = measure("optimised", training.GAN.create(cfg, real, data.shape, device, data.vocab.pad),
                        optimised_step, args.steps, peak, plain)
    probes = Probes(data, classifier.load(), cfg.seed)  # what training measures every sample_every steps
    t = time.perf_counter()
    for _ in range(3):
        probes.measure(gan.generator(data, 0))
    per_call = (time.perf_counter() - t) / 3
    print(f"  probes (both tasks, {probes.N} samples each): {per_call:.2f} s per call, every {cfg.train.sample_every} "
          f"steps = {per_call / (cfg.train.sample_every / optimised):.2%} of training time")
    if not args.no_compile:
        compiled = from_dict(override(params, {"train.compile": True}))
        gan_c = training.GAN.create(compiled, real, data.shape, device, data.vocab.pad)
        if gan_c.compiled:
            measure("optimised + compile", gan_c, optimised_step, args.steps, peak, plain)
    if bf16_supported(device):  # train.precision: bf16 (the forward passes under bfloat16 autocast)
        bf16 = from_dict(override(params, {"train.precision": "bf16"}))
        measure("optimised + bf16", training.GAN.create(bf16, real, data.shape, device, data.vocab.pad),
                optimised_step, args.steps, peak, plain)
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        gan = training.GAN.create(cfg, real, data.shape, device, data.vocab.pad)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for i in range(20):
                optimised_step(gan, i % 2)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
        regions = [e for e in prof.key_averages() if e.key.startswith(("critic.", "generator."))]
        print("| region | ms per step |\n|---|---|")
        for e in sorted(regions, key=lambda e: -e.cpu_time_total):
            print(f"| {e.key} | {e.cpu_time_total / 1e3 / 20:.1f} |")
        # The floor: the time inside the kernels that do the FLOPs. Were everything else free, a
        # step could not be faster than this, which bounds what removing overheads can gain.
        kernel_ms = sum(e.self_cpu_time_total for e in prof.key_averages() if e.key in KERNELS) / 1e3 / 20
        flops_step = count_flops(gan, optimised_step)
        print(f"FLOP-carrying kernels ({', '.join(sorted(KERNELS))}): {kernel_ms:.1f} ms per step, "
              f"{flops_step / kernel_ms / 1e6:.1f} GFLOP/s = {flops_step / kernel_ms / 1e-3 / peak:.2f} of the matmul "
              f"rate; a step of nothing but them: {1e3 / kernel_ms:.1f} steps/s = {1e3 / kernel_ms / plain:.2f}x the "
              "plain path (the most that removing overheads could give)")

    seed = from_dict(override(read_params(), {
        "model.family": "seed", "model.activation": "softmax", "model.z_dim": 2, "model.dropout": 0.4,
        "model.conditioning": "task", "model.gumbel_tau": 0.0, "train.loss": "wgan-clip", "train.lr_g": 1e-5,
        "train.lr_d": 1e-5, "train.critic_task_on": "real+fake", "train.gen_task_weight": 1.0,
        "model.end_of_string": False}))
    shape = (116, 25)
    stahl_like = training.RealData({k: torch.rand(500, *shape) for k in (0, 1)},
                                   {0: torch.randint(10, (500,)), 1: torch.full((500,), -1)})
    gan = training.GAN.create(seed, stahl_like, shape, device)
    t = time.perf_counter()
    for i in range(args.steps * 3):
        optimised_step(gan, i % 2)
    print(f"seed model (116 x 25, {models.n_params(gan.G)} generator params, wgan-clip, n_critic 5): "
          f"{args.steps * 3 / (time.perf_counter() - t):.1f} steps/s")


if __name__ == "__main__":
    main()
