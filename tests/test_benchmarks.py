"""The benchmark scripts run on a workspace's data (tiny params), so a change to the code they
call cannot leave them broken unnoticed. They print numbers; these tests check which rows were
measured, never a time."""
import subprocess
import sys

import pytest
import torch

from braingan.levers import bf16_supported
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
