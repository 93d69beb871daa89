"""The benchmark scripts run on a workspace's data (tiny params), so a change to the code they
call cannot leave them broken unnoticed. They print numbers; these tests check which rows were
measured, never a time."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from braingan.config import ConfigError, from_dict, override, read_params
from braingan.levers import bf16_supported
from braingan.presets import PRESETS
from helpers import run_env


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


def test_time_to_quality_counts_a_crossing_only_when_the_mean_of_consecutive_probes_makes_it():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "time_to_quality.py"
    spec = importlib.util.spec_from_file_location("time_to_quality", path)
    ttq = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ttq)
    kl = [0.5, 0.9, 0.5, 0.6, 0.7, 0.8]
    readings = [{"step": 100 * (i + 1), "probe_digit_score_ratio": 1.0, "probe_mol_kl_score": v} for i, v in enumerate(kl)]
    thresholds = {"probe_mol_kl_score": 0.65}
    assert ttq.first_reaching(readings, thresholds, 1)["step"] == 200  # the lucky 0.9 alone
    # means of three: (0.5 + 0.9 + 0.5) / 3 = 0.633 at step 300, (0.9 + 0.5 + 0.6) / 3 = 0.667 at step 400
    assert ttq.first_reaching(readings, thresholds, 3)["step"] == 400
    assert ttq.smoothed(readings, 3)[-1]["probe_mol_kl_score"] == pytest.approx(0.7)
    assert ttq.first_reaching(readings, {"probe_mol_kl_score": 0.71}, 3) is None


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
