"""Time to quality: named configurations trained side by side for a fixed wall-clock budget
each, interleaved in one process (slices of a few seconds in turn, so that the machine's
speed changes hit every configuration alike), with the quality probes (probes.py) read every
`--probe-every` steps. Prints numbers; asserts nothing.

    python benchmarks/time_to_quality.py --budget 1800 today default [ema lazy-gp ...]

Configurations: `today` (the default before the quality-per-minute work, `braingan preset
today`), always run; `default` (params.yaml as it is); and the levers of benchmarks/levers.yaml,
each on top of `today`. Its final probe
readings (after its full `train.steps`) are the thresholds: for every configuration the
benchmark prints the training time at which its probes first reach them all (digit score
ratio, KL score), and what it reached within the budget. `--reference FILE`: thresholds from
a saved generator instead (read by the same probes), so that `today` need not run to its end.
`--seed N`: every configuration at seed N, so a lever is judged against the old default trained
from the same start. `--probe-seeds N`: each probe reading the mean over N probe seeds, to cut the
instrument's own error (benchmarks/probe_noise.py), at N times the probes' cost.
Each configuration computes what `dvc repro` would compute with its params: its own seeded
streams (torch's global generator is saved and restored around each slice), the workspace's
processed data and classifier. Writes a JSON of every reading to --out.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from braingan import classifier, training  # noqa: E402
from braingan.config import from_dict, override, read_params  # noqa: E402
from braingan.data import dataset  # noqa: E402
from braingan.device import cpu_threads  # noqa: E402
from braingan.generator import Generator  # noqa: E402
from braingan.presets import PRESETS  # noqa: E402
from braingan.probes import Probes  # noqa: E402

TARGETS = ("probe_digit_score_ratio", "probe_mol_kl_score")  # what "today's quality" means here
# A probe reads a few hundred samples of a GAN that oscillates, so a single reading can cross a
# threshold by luck (docs/results.md shows how far today's KL score swings between probes).
# Thresholds and crossings are therefore means of SMOOTH consecutive probes.
SMOOTH = 3
# A run keeps its probe seed, so that instrument error does not average out over its probes
# (benchmarks/probe_noise.py measures it); --probe-seeds N reads each probe under N seeds instead.
PROBE_SEED_STRIDE = 1000


class Row:
    """One configuration in training: its GAN, its own torch RNG state, its clock and readings."""

    def __init__(self, name: str, overrides: dict, data, net, probe_every: int, probe_seeds: int = 1):
        self.name, self.overrides = name, overrides
        self.cfg = from_dict(override(read_params(ROOT / "params.yaml"), overrides))
        self.data, self.probe_every = data, probe_every
        self.gan = training.GAN.create(self.cfg, training.RealData.from_processed(data, torch.device("cpu")),
                                       data.shape, torch.device("cpu"), data.vocab.pad)
        self.rng_state = torch.get_rng_state()  # right after GAN.create's manual_seed, as in training.run
        # the run's own probe seed first, then others far enough apart that no sample stream repeats
        self.probes = [Probes(data, net, self.cfg.seed + PROBE_SEED_STRIDE * i) for i in range(probe_seeds)]
        self.step, self.clock, self.readings = 0, 0.0, []

    @property
    def done(self) -> bool:
        return self.step >= self.cfg.train.steps

    def train_for(self, seconds: float) -> None:
        torch.set_rng_state(self.rng_state)
        tasks = training.TRAINED_TASKS[self.cfg.train.tasks]
        t0 = time.perf_counter()
        while not self.done and time.perf_counter() - t0 < seconds:
            self.gan.step(self.step, tasks[self.step % len(tasks)])
            self.step += 1
            if self.step % self.probe_every == 0 or self.done:
                g = self.gan.generator(self.data, self.step)
                values = averaged([p.measure(g) for p in self.probes])
                self.readings.append({"step": self.step, "train_s": self.clock + time.perf_counter() - t0, **values})
        self.clock += time.perf_counter() - t0
        self.rng_state = torch.get_rng_state()


def averaged(readings: list[dict]) -> dict:
    """One reading of a generator from its readings under several probe seeds: each value's mean,
    `probe_s` their sum (what the reading cost); a value missing under any seed is left out."""
    keys = [k for k in readings[0] if all(r.get(k) is not None for r in readings)]
    return {k: sum(r[k] for r in readings) / (1 if k == "probe_s" else len(readings)) for k in keys}


def smoothed(readings: list[dict], k: int) -> list[dict]:
    """The readings from the k-th on, each with its TARGETS replaced by the mean over it and the
    k - 1 readings before it (k = 1: the readings as they are)."""
    out = []
    for i in range(k - 1, len(readings)):
        window = readings[i - k + 1:i + 1]
        out.append({**readings[i], **{t: sum(x[t] for x in window) / k for t in TARGETS
                                      if all(x.get(t) is not None for x in window)}})
    return out


def today_final(readings: list[dict], k: int) -> tuple[dict, str]:
    """Today's final quality (the mean of its last k probes) and how to say where it comes from."""
    ref = smoothed(readings, k)[-1]
    return ref, f"today's final readings, the mean of its last {k} probes (to step {ref['step']}, {ref['train_s']:.0f} s)"


def first_reaching(readings: list[dict], thresholds: dict, k: int = 1) -> dict | None:
    """The first reading whose mean over k consecutive probes reaches every threshold."""
    for r in smoothed(readings, k):
        if all(r.get(t) is not None and r[t] >= v for t, v in thresholds.items()):
            return r
    return None


def configurations(names: list[str], levers: Path, seed: int | None) -> dict[str, dict]:
    """`today` and the named configurations, each as its overrides of params.yaml (a lever on top of
    today; `default`: none), all at `seed` where one is given."""
    today = PRESETS["today"]
    named = {"today": today, "default": {},
             **{k: {**today, **v} for k, v in yaml.safe_load(levers.read_text()).items()}}
    names = ["today"] + [n for n in names if n != "today"]
    unknown = [n for n in names if n not in named]
    if unknown:
        sys.exit(f"unknown configuration {unknown[0]!r}; known: {', '.join(named)}")
    return {n: {**named[n], **({} if seed is None else {"seed": seed})} for n in names}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("configs", nargs="*", help="names in benchmarks/levers.yaml (today is always run)")
    ap.add_argument("--budget", type=float, default=1800, help="training seconds per configuration")
    ap.add_argument("--slice", type=float, default=20, help="seconds each configuration trains in its turn")
    ap.add_argument("--probe-every", type=int, default=500, help="steps between probe readings")
    ap.add_argument("--reference", help="a generator file whose probe readings are the thresholds")
    ap.add_argument("--reference-is-today", action="store_true",
                    help="--reference is today's final generator (from `braingan preset today` + dvc repro): "
                         "today's time to quality is then its full training at its measured rate")
    ap.add_argument("--probe-seeds", type=int, default=1,
                    help="read each probe under this many probe seeds and take the mean (cost: as many probes)")
    ap.add_argument("--seed", type=int, help="every configuration's seed, today's included (default: params.yaml's); "
                                             "the thresholds are then today's final readings at that seed")
    ap.add_argument("--levers", default=str(ROOT / "benchmarks" / "levers.yaml"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "time_to_quality.json"))
    ap.add_argument("--doc", help="also write the table into this Markdown file, between <!-- ttq:start/end -->")
    ap.add_argument("--report", help="no training: the table of an earlier run's JSON (with --doc: into --block)")
    ap.add_argument("--block", default="ttq")
    ap.add_argument("--smooth", type=int, help=f"with --report: judge a run made before smoothing (whose thresholds "
                                               f"are today's final readings) by means of this many probes ({SMOOTH})")
    a = ap.parse_args()
    if a.probe_seeds < 1:
        ap.error(f"--probe-seeds must be at least 1, got {a.probe_seeds}")
    os.chdir(ROOT)
    if a.report:
        result = json.loads(Path(a.report).read_text())
        report(resmooth(result, a.smooth) if a.smooth else result, a.doc, a.block)
        return
    configs = configurations(a.configs, Path(a.levers), a.seed)
    torch.set_num_threads(cpu_threads(0))
    torch.use_deterministic_algorithms(True, warn_only=True)  # as training.run on the CPU
    data, net = dataset.load(), classifier.load()
    rows = [Row(n, overrides, data, net, a.probe_every, a.probe_seeds) for n, overrides in configs.items()]
    print(f"{len(rows)} configurations, {a.budget:.0f} s of training each in slices of {a.slice:.0f} s, "
          f"{torch.get_num_threads()} threads; probes every {a.probe_every} steps", flush=True)
    today = rows[0]
    t_start = time.time()
    while True:
        active = [r for r in rows if not r.done and (r.clock < a.budget or (r is today and not a.reference))]
        if not active:
            break
        for r in active:
            r.train_for(a.slice)
        last = {r.name: (r.step, round(r.clock)) for r in rows}
        print(f"[{time.time() - t_start:6.0f} s] steps, seconds: {last}", flush=True)
    if a.reference:
        ref_g = Generator.load(a.reference)
        ref = averaged([p.measure(ref_g) for p in today.probes])
        source = f"the probes of {a.reference}"
    else:
        ref, source = today_final(today.readings, SMOOTH)
    result = {"command": " ".join(sys.argv[1:]), "date": time.strftime("%Y-%m-%d"), "budget_s": a.budget,
              "smooth": SMOOTH, "probe_seeds": a.probe_seeds,
              "reference_is_today_final": bool(a.reference and a.reference_is_today),
              "thresholds": {k: ref[k] for k in TARGETS if ref.get(k) is not None}, "threshold_source": source,
              "rows": {r.name: {"overrides": r.overrides, "steps": r.step, "train_s": r.clock, "readings": r.readings,
                                "train_steps": r.cfg.train.steps}
                       for r in rows}}
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n")
    report(result, a.doc, "ttq")
    print(f"\nevery reading: {a.out}")


def resmooth(result: dict, k: int) -> dict:
    """A run's result judged by means of k probes: its thresholds re-derived from today's readings."""
    if result.get("reference_is_today_final") or not result["threshold_source"].startswith("today's final"):
        sys.exit("--smooth: this run's thresholds come from a reference generator, not from today's readings")
    ref, source = today_final(result["rows"]["today"]["readings"], k)
    return {**result, "smooth": k, "thresholds": {t: ref[t] for t in result["thresholds"]},
            "threshold_source": source, "command": result["command"] + f" (judged with --smooth {k})"}


def report(result: dict, doc: str | None, block: str) -> None:
    """The table of a run (its JSON): when each configuration first reaches the thresholds, and
    what it reached within the budget; printed, and written into `doc` between the block's markers."""
    thresholds, budget, rows = result["thresholds"], result["budget_s"], result["rows"]
    k = result.get("smooth", 1)  # runs before smoothing compared single readings
    today = rows["today"]
    t_today = (first_reaching(today["readings"], thresholds, k) or {}).get("train_s")
    today_note = ""
    if t_today is None and result.get("reference_is_today_final"):
        # today stopped at the budget; the thresholds are its final generator's, which it reaches at its
        # last step: its time to quality is its full training at the rate measured in this run
        t_today = today["train_steps"] * today["train_s"] / max(today["steps"], 1)
        today_note = (f" Today stopped at the budget; its time to its own final quality is its "
                      f"{today['train_steps']} steps at its rate in this run: {t_today:.0f} s.")
    lines = [f"`python benchmarks/time_to_quality.py {result['command']}` ({result['date']}). Thresholds "
             f"({result['threshold_source']}): " + ", ".join(f"{k} >= {v:.3f}" for k, v in thresholds.items())
             + "." + (f" A configuration reaches them when the mean of {k} consecutive probes does." if k > 1 else "")
             + (f" Each probe reading is the mean over {result['probe_seeds']} probe seeds."
                if result.get("probe_seeds", 1) > 1 else "")
             + today_note, "",
             "| configuration | steps/s | reaches today's quality at | x today's time | "
             + " | ".join(f"{k.removeprefix('probe_')} by {budget:.0f} s (last {SMOOTH} probes' mean)" for k in TARGETS)
             + " | probe cost |",
             "|---|---|---|---|" + "---|" * len(TARGETS) + "---|"]
    for name, r in rows.items():
        hit = first_reaching(r["readings"], thresholds, k)
        last = [x for x in r["readings"] if x["train_s"] <= budget][-SMOOTH:] or r["readings"][:1]
        probe_s = sum(x["probe_s"] for x in r["readings"])
        when = f"{hit['train_s']:.0f} s (step {hit['step']})" if hit else "not within the run"
        ratio = f"{hit['train_s'] / t_today:.2f}" if hit and t_today else "–"
        lines.append(f"| {name} | {r['steps'] / max(r['train_s'], 1e-9):.1f} | {when} | {ratio} | "
                     + " | ".join(f"{sum(x.get(k, float('nan')) for x in last) / max(len(last), 1):.3f}"
                                  for k in TARGETS)
                     + f" | {probe_s / max(r['train_s'], 1e-9):.1%} |")
    print("\n".join(lines))
    if doc:
        from braingan.compare import replace_block

        Path(doc).write_text(replace_block(Path(doc).read_text(), "\n".join(lines) + "\n", block))


if __name__ == "__main__":
    main()
