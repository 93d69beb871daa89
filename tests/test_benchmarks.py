"""The benchmark scripts run on a workspace's data (tiny params), so a change to the code they
call cannot leave them broken unnoticed. They print numbers; these tests check which rows were
measured, never a time."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from braingan.config import ConfigError, from_dict, override, read_params
from braingan.levers import bf16_supported
from braingan.presets import PRESETS
from helpers import run_env, tiny_params


@pytest.mark.e2e  # the made workspace is a `dvc repro classifier`
def test_the_training_speed_benchmark_measures_each_step_it_names(made):
    out = subprocess.run([sys.executable, "benchmarks/train_speed.py", "--steps", "2", "--no-compile"], cwd=made,
                         env=run_env(made), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [line.split("  ")[1].strip() for line in out.stdout.splitlines()
            if "steps/s" in line and line.startswith("  ")]
    bf16 = ["optimised + bf16"] if bf16_supported(torch.device("cpu")) else []  # measured only where native
    assert rows == ["plain eager", "optimised", *bf16], out.stdout
    assert "probes (both tasks" in out.stdout and "seed model (116 x 25" in out.stdout


def _untrained_generator(made, path):
    """A generator of tiny_params() for the made workspace's data, saved untrained at `path`."""
    from braingan import models
    from braingan.data import dataset
    from braingan.generator import Generator

    data = dataset.load(made / "data" / "processed")
    cfg = from_dict(tiny_params())
    torch.manual_seed(0)
    G, _ = models.build(cfg.model, data.shape)
    Generator(G, cfg.model, data.vocab, data.shape, data.mode, (models.MNIST, models.SMILES)).save(path)
    return str(path)


@pytest.mark.e2e
def test_the_time_to_quality_benchmark_reads_each_probe_under_every_probe_seed_asked(made, tmp_path):
    out = subprocess.run([sys.executable, "benchmarks/time_to_quality.py", "--budget", "2", "--slice", "1",
                          "--probe-every", "5", "--probe-seeds", "2", "--reference",
                          _untrained_generator(made, tmp_path / "g.pt"), "--out", str(tmp_path / "t.json"), "ema"],
                         cwd=made, env=run_env(made), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads((tmp_path / "t.json").read_text())
    assert result["probe_seeds"] == 2 and list(result["rows"]) == ["today", "ema"]
    for row in result["rows"].values():
        assert [r["step"] for r in row["readings"]] == list(range(5, row["steps"] + 1, 5)) and row["readings"]
    assert "Each probe reading is the mean over 2 probe seeds." in out.stdout


@pytest.mark.e2e
def test_the_probe_noise_benchmark_reads_one_generator_under_each_probe_seed(made, tmp_path):
    out = subprocess.run([sys.executable, "benchmarks/probe_noise.py", "--model",
                          _untrained_generator(made, tmp_path / "g.pt"), "--seeds", "3", "--samples", "40"],
                         cwd=made, env=run_env(made), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "(40 samples per task) under probe seeds 0-2" in out.stdout
    rows = {line.split(" | ")[0].removeprefix("| ") for line in out.stdout.splitlines() if line.startswith("| ")}
    assert {"digit_score_ratio", "digit_class_acc", "mol_valid"} <= rows


def _benchmark(name: str):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_time_to_quality_counts_a_crossing_only_when_the_mean_of_consecutive_probes_makes_it():
    ttq = _benchmark("time_to_quality")
    kl = [0.5, 0.9, 0.5, 0.6, 0.7, 0.8]
    readings = [{"step": 100 * (i + 1), "probe_digit_score_ratio": 1.0, "probe_mol_kl_score": v} for i, v in enumerate(kl)]
    thresholds = {"probe_mol_kl_score": 0.65}
    assert ttq.first_reaching(readings, thresholds, 1)["step"] == 200  # the lucky 0.9 alone
    # means of three: (0.5 + 0.9 + 0.5) / 3 = 0.633 at step 300, (0.9 + 0.5 + 0.6) / 3 = 0.667 at step 400
    assert ttq.first_reaching(readings, thresholds, 3)["step"] == 400
    assert ttq.smoothed(readings, 3)[-1]["probe_mol_kl_score"] == pytest.approx(0.7)
    assert ttq.first_reaching(readings, {"probe_mol_kl_score": 0.71}, 3) is None


def test_the_asha_replay_stops_below_the_rungs_quantile_and_lets_the_first_arrival_go_on():
    replay = _benchmark("tune_asha").replay
    # budget 4, a report every step, rungs at 1, 2 and 4 (grace 1, 1 in 2 on); one trial at a time
    grid = {"A": {"cpu_s": 4.0, "steps": 4, "quality": {1: 0.5, 2: 0.6, 3: 0.7, 4: 0.8}},
            "B": {"cpu_s": 8.0, "steps": 4, "quality": {1: 0.4, 2: 0.45, 3: 0.5, 4: 0.55}},  # 2 s a step
            "C": {"cpu_s": 4.0, "steps": 4, "quality": {1: 0.9, 2: 0.5, 3: 0.9, 4: 0.95}}}
    r = replay(grid, ["A", "B", "C"], budget=4, every=1, grace=1, rf=2, slots=1)
    # B at rung 1: 0.4 below the median of {0.5}; C at rung 1: 0.9 above the median of {0.5, 0.4} = 0.45,
    # at rung 2: 0.5 below the median of {0.6}. CPU (4 x 1 + 1 x 2 + 2 x 1) s of (4 + 8 + 4) s
    assert r["reached"] == {"A": 4, "B": 1, "C": 2} and r["cpu"] == pytest.approx(8 / 16) and r["winner"] == "A"
    # started first, B meets empty rungs and trains the whole budget; A beats it at every rung; C as before
    r = replay(grid, ["B", "A", "C"], budget=4, every=1, grace=1, rf=2, slots=1)
    assert r["reached"] == {"B": 4, "A": 4, "C": 2} and r["cpu"] == pytest.approx(14 / 16) and r["winner"] == "A"
    # two at a time: A and C reach rung 1 at once (A recorded first), C stops at rung 2 at 2 s; B starts
    # then and stops at rung 1 (at 4 s), below the median of {0.5, 0.9}
    r = replay(grid, ["A", "C", "B"], budget=4, every=1, grace=1, rf=2, slots=2)
    assert r["reached"] == {"A": 4, "C": 2, "B": 1} and r["cpu"] == pytest.approx(8 / 16)


def test_the_seed_noise_groups_a_configurations_runs_by_the_seed_each_logged():
    m = _benchmark("tune_asha")
    runs = [{"overrides": '{"a": 1}', "seed": 0, "quality": {10: 0.5}},  # the grid's run: no seed override
            {"overrides": '{"a": 1, "seed": 2}', "seed": 2, "quality": {5: 0.2, 10: 0.7}},
            {"overrides": '{"seed": 1, "a": 1}', "seed": 1, "quality": {10: 0.9}},
            {"overrides": '{"a": 2}', "seed": 0, "quality": {10: 0.6}},
            {"overrides": '{"a": 2, "seed": 1}', "seed": 1, "quality": {5: 0.1}}]  # failed before the budget
    seeds = m.by_seed(runs, 10)
    assert seeds == {'{"a": 1}': {0: 0.5, 2: 0.7, 1: 0.9}, '{"a": 2}': {0: 0.6}}
    # only a = 1 ran on more than one seed; its mean 0.7, its sample standard deviation
    # sqrt((0.2^2 + 0 + 0.2^2) / 2) = 0.2; the seeds in order as columns
    assert m.seed_lines(seeds, ["s"])[-2:] == ["|---|---|---|---|---|---|",
                                               '| `{"a": 1}` | 0.500 | 0.900 | 0.700 | 0.700 | 0.200 |']


def test_every_named_lever_of_the_time_to_quality_benchmark_is_a_valid_config_on_top_of_today():
    """A misspelt key or an out-of-range value must fail here, not 40 minutes into a benchmark run."""
    root = Path(__file__).resolve().parents[1]
    levers = yaml.safe_load((root / "benchmarks" / "levers.yaml").read_text())
    for name, lever in levers.items():
        cfg = from_dict(override(read_params(root / "params.yaml"), {**PRESETS["today"], **lever}))
        for key, value in lever.items():
            section, field = key.split(".")
            assert getattr(getattr(cfg, section), field) == value, name
    with pytest.raises(ConfigError, match="lr_end_ratio"):
        from_dict(override(read_params(root / "params.yaml"), {**PRESETS["today"], "train.lr_end_ratio": 1.5}))


def test_a_reading_under_several_probe_seeds_is_each_values_mean_and_costs_their_sum():
    ttq = _benchmark("time_to_quality")
    readings = [{"a": 1.0, "b": None, "probe_s": 0.5}, {"a": 4.0, "b": 2.0, "probe_s": 0.25},
                {"a": 1.0, "b": 3.0, "probe_s": 0.5}]
    assert ttq.averaged(readings) == {"a": 2.0, "probe_s": 1.25}  # b: missing under the first seed
    assert ttq.averaged(readings[:1]) == {"a": 1.0, "probe_s": 0.5}


def test_time_to_quality_runs_today_first_and_every_configuration_at_the_seed_asked(tmp_path):
    ttq = _benchmark("time_to_quality")
    levers = tmp_path / "levers.yaml"
    levers.write_text("fast: {train.lr_g: 0.002}\n")
    c = ttq.configurations(["fast", "default"], levers, seed=7)
    assert list(c) == ["today", "fast", "default"]
    assert c["today"] == {**PRESETS["today"], "seed": 7}
    assert c["fast"] == {**PRESETS["today"], "train.lr_g": 0.002, "seed": 7}
    assert c["default"] == {"seed": 7}
    assert "seed" not in ttq.configurations(["fast"], levers, seed=None)["fast"]
    with pytest.raises(SystemExit, match="unknown configuration 'slow'; known: today, default, fast"):
        ttq.configurations(["slow"], levers, seed=None)


def test_probe_noise_spreads_each_reading_that_every_seed_gave():
    pn = _benchmark("probe_noise")
    readings = [{"a": 1.0, "b": 2.0}, {"a": 2.0, "b": None}, {"a": 6.0, "b": 4.0}]
    stats = pn.spread(readings, keys=("a", "b"))
    # a: mean 3; deviations -2, -1, 3; (4 + 1 + 9) / (3 - 1) = 7; b: missing under one seed
    assert list(stats) == ["a"]
    assert stats["a"]["mean"] == 3.0 and stats["a"]["sd"] == pytest.approx(7 ** 0.5)
    assert (stats["a"]["min"], stats["a"]["max"]) == (1.0, 6.0)
    assert pn.spread(readings[:1], keys=("a",)) == {}
    assert pn.table(stats)[-1] == "| a | 3.000 | 2.646 | 1.000 | 6.000 |"


def test_probe_curves_table_the_largest_gap_between_trials_and_where_each_first_reaches_the_thresholds():
    pc = _benchmark("probe_curves")
    rows = {"a": ((500, 0.5, 0.4), (1000, 0.9, 0.6), (1500, 0.95, 0.8)),
            "b": ((500, 0.5, 0.4), (1000, 0.7, 0.7), (1500, 0.9, 0.5))}
    curves = {n: [{"step": s, "probe_digit_score_ratio": d, "probe_mol_kl_score": k} for s, d, k in v]
              for n, v in rows.items()}
    lines = pc.table(curves, {"probe_digit_score_ratio": 0.8, "probe_mol_kl_score": 0.55}, every=1000, k=1)
    # every 1000 steps and the last: digits of a, b, then KL of a, b
    assert lines[2:4] == ["| 1000 | 0.900 | 0.700 | 0.600 | 0.700 |", "| 1500 | 0.950 | 0.900 | 0.800 | 0.500 |"]
    # b less a: digits 0, -0.2, -0.05 (mean -0.083); KL 0, +0.1, -0.3 (mean -0.067, higher once)
    assert ("- digit_score_ratio, `b` less `a`: -0.083 on average, higher at 0 of 3 probes, the largest gap 0.200 "
            "(step 1000).") in lines
    assert ("- mol_kl_score, `b` less `a`: -0.067 on average, higher at 1 of 3 probes, the largest gap 0.300 "
            "(step 1500).") in lines
    # a: 0.9 and 0.6 at step 1000; b: its digits pass at 1500 only, where its KL has fallen to 0.5
    assert "- `a` reaches digit_score_ratio >= 0.800 and mol_kl_score >= 0.550 at step 1000." in lines
    assert "- `b` reaches digit_score_ratio >= 0.800 and mol_kl_score >= 0.550 at no step of its run." in lines
