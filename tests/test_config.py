"""Strict params: every bad value is rejected with the key, the value and what is allowed;
the allowed names come from the registries; a stage sees only the sections it declares."""
import dataclasses
import re
import subprocess
import sys

import pytest
import yaml

from braingan import config, losses, models
from braingan.config import Config, ConfigError, from_dict, load, override
from braingan.data import encodings, sources
from helpers import ROOT, run_env, tiny_params


def _with(**kv):
    return override(Config().to_dict(), {k.replace("__", "."): v for k, v in kv.items()})


def test_field_builders_carry_the_default_and_what_validation_reads():
    @dataclasses.dataclass
    class _Fields:  # built while the test runs (Config's own fields are built at import)
        rate: float = config.num(0.5, 0.0, 1.0, lo_open=True)
        count: int = config.num(3, 1)
        name: str = config.choice("b", "a", "b")
        family: str = config.registered("resnet", "braingan.models:FAMILIES")
        url: str = config.text("file://x", r"(https|file)://.+", "an https:// or file:// URL")

    assert _Fields() == _Fields(0.5, 3, "b", "resnet", "file://x")
    meta = {f.name: dict(f.metadata) for f in dataclasses.fields(_Fields)}
    assert meta == {"rate": {"min": 0.0, "max": 1.0, "lo_open": True},
                    "count": {"min": 1, "max": None, "lo_open": False},
                    "name": {"choices": ("a", "b")},
                    "family": {"registry": "braingan.models:FAMILIES"},
                    "url": {"pattern": r"(https|file)://.+", "allowed": "an https:// or file:// URL"}}
    assert config._build(_Fields, {"rate": 1.0, "count": 1, "name": "a"}, "s") == _Fields(1.0, 1, "a")
    for raw, message in [({"rate": 0.0}, "s.rate: 0.0 is too small; allowed: > 0.0 and <= 1.0"),
                         ({"count": 0}, "s.count: 0 is too small; allowed: >= 1"),
                         ({"name": "c"}, "s.name: 'c' is not allowed; allowed values: a, b"),
                         ({"family": "gpt"}, "'gpt' is not allowed"),
                         ({"url": "http://x"}, "s.url: 'http://x' is not allowed; expected an https:// or file:// URL")]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            config._build(_Fields, raw, "s")


def test_digest_hashes_only_the_sections_asked_for():
    base, other_train = Config(), from_dict(_with(train__steps=7))
    want = config.stable_hash({"evaluate": base.to_dict()["evaluate"]})
    assert base.digest("evaluate") == other_train.digest("evaluate") == want
    assert base.digest("evaluate", "train") != other_train.digest("evaluate", "train")
    assert base.digest() == config.stable_hash(base.to_dict()) != other_train.digest()
    assert len(base.digest()) == 16


def _allowed(registry):
    return f"allowed values: {', '.join(registry.names())}"


@pytest.mark.parametrize("raw, message", [
    (_with(model__activation="foo"), "model.activation: 'foo' is not allowed; allowed values: softmax, sigmoid, per-task"),
    (_with(model__family="gpt"), f"model.family: 'gpt' is not allowed; {_allowed(models.FAMILIES)}"),
    (_with(train__loss="hinge"), f"train.loss: 'hinge' is not allowed; {_allowed(losses.LOSSES)}"),
    (_with(preprocess__encoding="inchi"), f"preprocess.encoding: 'inchi' is not allowed; {_allowed(encodings.ENCODINGS)}"),
    (_with(preprocess__tokens="bpe"), f"preprocess.tokens: 'bpe' is not allowed; {_allowed(encodings.TOKENIZERS)}"),
    (_with(fetch__mnist__source="s3"), f"fetch.mnist.source: 's3' is not allowed; {_allowed(sources.MNIST_SOURCES)}"),
    (_with(fetch__smiles__source="zinc"), f"fetch.smiles.source: 'zinc' is not allowed; {_allowed(sources.SMILES_SOURCES)}"),
    (_with(train__steps="100"), "train.steps: expected an integer, got '100'"),
    (_with(train__steps=0), "train.steps: 0 is too small; allowed: >= 1"),
    (_with(train__lr_g="fast"), "train.lr_g: expected a number, got 'fast'"),
    (_with(train__lr_g=0), "train.lr_g: 0.0 is too small; allowed: > 0.0 and <= 1.0"),
    (_with(train__lr_d=-1e-4), "train.lr_d: -0.0001 is too small; allowed: > 0.0"),
    (_with(train__lr_g=float("nan")), "train.lr_g: nan is not a finite number"),
    (_with(train__lr_d=float("inf")), "train.lr_d: inf is not a finite number"),
    (_with(classifier__lr=0.0), "classifier.lr: 0.0 is too small; allowed: > 0.0"),
    (_with(train__steps=1.5), "train.steps: expected an integer, got 1.5"),
    (_with(preprocess__canonical="yes"), "preprocess.canonical: expected true or false, got 'yes'"),
    (_with(preprocess__heldout=0.95), "preprocess.heldout: 0.95 is too large; allowed: <= 0.9"),
    (_with(fetch__smiles__source="path"), "fetch.smiles.path: required when fetch.smiles.source is 'path'"),
    (_with(fetch__smiles__source="url", fetch__smiles__url="https://x/y.csv"), "both required when fetch.smiles.source is 'url'"),
    (_with(fetch__smiles__sha256="/etc/passwd"), "fetch.smiles.sha256: '/etc/passwd' is not allowed; expected 64 lower-case hex digits"),
    (_with(fetch__smiles__sha256="ab" * 31), "expected 64 lower-case hex digits"),
    (_with(fetch__smiles__url="ftp://x/y.csv"), "fetch.smiles.url: 'ftp://x/y.csv' is not allowed; expected an https:// URL"),
    (_with(fetch__mnist__source="path"), "fetch.mnist.path: required when fetch.mnist.source is 'path'"),
    (_with(evaluate__n_samples=True), "evaluate.n_samples: expected an integer, got True"),
    (_with(evaluate__score_split=2000), "evaluate.score_split: 2000 is larger than evaluate.n_samples (1000)"),
    (_with(train__device="tpu"), "train.device: 'tpu' is not allowed; allowed values: auto, cpu, cuda"),
    (_with(model__conditioning="class"), "model.conditioning: 'class' is not allowed; allowed values: task, task+class"),
    (_with(preprocess__canvas="crop"), "preprocess.canvas: 'crop' is not allowed; allowed values: resize, pad"),
    (_with(train__loss="wgan-clip", train__clip=0.0), "train.clip: 0.0 must be > 0 with train.loss wgan-clip"),
    ({**Config().to_dict(), "trian": {}}, "unknown key trian; allowed keys here:"),
    (_with(model__dimm=3), "unknown key model.dimm; allowed keys here:"),
    ({**Config().to_dict(), "model": "resnet"}, "model: expected a mapping of keys, got str 'resnet'"),
    ([1, 2], "params: expected a mapping of sections, got list"),
])
def test_bad_params_are_rejected_with_a_specific_message(raw, message):
    with pytest.raises(ConfigError) as e:
        from_dict(raw)
    assert message in str(e.value)


def test_boundaries_are_inclusive_where_they_say_so():
    assert from_dict(_with(preprocess__heldout=0.9)).preprocess.heldout == 0.9  # "<= 0.9"
    assert from_dict(_with(train__steps=1)).train.steps == 1  # ">= 1"
    assert from_dict(_with(train__lr_g=1.0)).train.lr_g == 1.0  # "<= 1.0"
    assert from_dict(_with(evaluate__score_split=1000)).evaluate.score_split == 1000


def test_defaults_validate_and_the_committed_params_file_is_valid_and_complete():
    assert from_dict(Config().to_dict()) == Config()
    assert set(yaml.safe_load((ROOT / "params.yaml").read_text())) == set(Config().to_dict())
    load(ROOT / "params.yaml")


def test_default_names_are_registered():
    c = Config()
    assert c.model.family in models.FAMILIES and c.train.loss in losses.LOSSES
    assert c.preprocess.encoding in encodings.ENCODINGS and c.preprocess.tokens in encodings.TOKENIZERS
    assert c.fetch.mnist.source in sources.MNIST_SOURCES and c.fetch.smiles.source in sources.SMILES_SOURCES


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty"),
    ("# only a comment\n", "the file is empty"),
    ("seed: 0\ntrain:\n  lr_g: 0.001\n  lr_g: 0.002\n", "duplicate key 'lr_g' on line 4 (first on line 3)"),
    ("seed: 0\nseed: 1\n", "duplicate key 'seed' on line 2"),
    ("model: [resnet\n", "not valid YAML"),
    ("lr: !!python/object/apply:os.system [ls]\n", "not valid YAML"),
])
def test_params_files_that_are_empty_ambiguous_or_broken_are_refused(tmp_path, text, message):
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(tmp_path / "params.yaml")


def test_a_params_file_that_is_not_utf8_is_refused_with_the_decoder_message(tmp_path):
    (tmp_path / "params.yaml").write_bytes(b"seed: \xff\n")
    with pytest.raises(ConfigError, match=re.escape("params.yaml: not valid YAML: 'utf-8' codec can't decode byte 0xff "
                                                    "in position 6: invalid start byte")):
        load(tmp_path / "params.yaml")


def test_missing_params_file(tmp_path):
    with pytest.raises(ConfigError, match="no such params file"):
        load(tmp_path / "nope.yaml")


def test_a_stage_validates_and_sees_only_its_sections():
    raw = _with(model__activation="foo")  # bad, but not in the fetch stage's sections
    cfg = from_dict(raw, ("fetch",), "fetch")
    assert cfg.fetch.smiles.source == "rdkit-nci"
    with pytest.raises(AttributeError, match="stage 'fetch' reads params section 'model'"):
        cfg.model.activation  # noqa: B018 - reading it is the error
    assert set(cfg.to_dict()) == {"fetch"}
    with pytest.raises(ConfigError, match="model.activation"):
        from_dict(raw, ("seed", "model", "train"), "train")


def test_stage_rejects_bad_params_before_any_work_and_writes_nothing(tmp_path):
    d = Config().to_dict()
    d["model"]["activation"] = "foo"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(d))
    p = subprocess.run([sys.executable, str(ROOT / "pipeline" / "validate.py")], cwd=tmp_path, env=run_env(ROOT),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert "braingan validate: error: model.activation: 'foo' is not allowed; allowed values: softmax, sigmoid, per-task" in p.stderr
    assert "Traceback" not in p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["params.yaml"]


def test_seed_preset_is_valid_and_differs_from_the_defaults():
    from braingan.presets import PRESETS, set_args

    args = set_args("seed", str(ROOT / "params.yaml"))
    assert "model.family=seed" in args and "train.loss=wgan-clip" in args and "model.z_dim=2" in args
    assert "preprocess.tokens=chars" in args and "train.lr_g=1e-05" in args
    assert len(args) == 2 * sum(1 for a in args if a == "-S")
    assert PRESETS["seed"]["train.steps"] == 3000


def test_the_long_preset_is_the_default_at_twice_its_steps():
    from braingan.presets import set_args

    assert set_args("long", str(ROOT / "params.yaml")) == ["-S", "train.steps=40000"]
    assert load(ROOT / "params.yaml").train.steps == 20000


def test_every_preset_the_readme_and_benchmarks_name_exists():
    """The README once showed `braingan preset long` before there was one."""
    from braingan.presets import PRESETS

    texts = [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("benchmarks/*.yaml")]
    named = {m for f in texts for m in re.findall(r"braingan preset (\w+)", f.read_text())}
    assert {"seed", "today", "long"} <= named and named <= set(PRESETS), named - set(PRESETS)


def test_exponent_floats_written_by_dvc_set_param_are_numbers():
    # `dvc exp run -S train.lr_g=1e-5` writes `lr_g: 1e-05`, which PyYAML reads as a string
    raw = yaml.safe_load("train: {lr_g: 1e-05}")
    assert raw["train"]["lr_g"] == "1e-05"
    assert from_dict(raw).train.lr_g == 1e-5
    with pytest.raises(ConfigError, match="train.steps: expected an integer, got '1e3'"):
        from_dict({"train": {"steps": "1e3"}})


def test_model_too_large_for_memory_is_refused_naming_the_keys():
    from braingan.models import check_fits

    huge = from_dict(_with(model__dim=4096, model__blocks=64)).model
    with pytest.raises(ConfigError, match=r"model.dim / model.blocks / model.z_dim .* need about [\d,.]+ GiB.* this machine has"):
        check_fits(huge, (16, 2), 24 * 2**30)
    check_fits(Config().model, (72, 47), 24 * 2**30)  # the default fits


def test_validate_judges_memory_on_the_smallest_canvas_the_params_can_give(tmp_path, monkeypatch):
    """extra_pad 19: a one-atom molecule gives 1 + 19 = 20 rows, a multiple of 4, so the smallest
    canvas has 20 rows (24 from two atoms). A model that fits there must pass validate: train
    checks again on the real canvas."""
    from braingan import validation

    cfg = from_dict(tiny_params(**{"preprocess.extra_pad": 19}))
    need = 16 * sum(models.n_params(m) for m in models.build(cfg.model, (20, 2)))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(validation, "open_store", lambda: None)
    monkeypatch.setattr(validation, "memory_bytes", lambda: need)
    validation.run(cfg)
    assert (tmp_path / "results" / "validate" / "params.json").exists()
    monkeypatch.setattr(validation, "memory_bytes", lambda: need - 1)
    with pytest.raises(ConfigError, match="model.dim / model.blocks / model.z_dim"):
        validation.run(cfg)


def test_a_registry_returns_what_was_registered_and_refuses_a_name_twice():
    from braingan.registry import Registry

    r = Registry("train.loss")

    @r.register("hinge")
    class Hinge:
        pass

    assert r.get("hinge") is Hinge and r.names() == ("hinge",) and "hinge" in r and "wgan" not in r
    with pytest.raises(ValueError, match=r"^train.loss: 'hinge' is registered twice$"):
        r.register("hinge")(Hinge)
    with pytest.raises(ConfigError, match=r"^train.loss: 'wgan' is not allowed; allowed values: hinge$"):
        r.get("wgan")


def test_a_stage_refuses_a_key_that_is_no_section_even_one_yaml_read_as_a_number():
    raw = {**Config().to_dict(), 1: "x", "zzz": 2}  # `1: x` in params.yaml is an int key beside the strings
    with pytest.raises(ConfigError, match=r"^unknown key 1; allowed keys here: classifier, evaluate, fetch, model, preprocess, seed, train$"):
        from_dict(raw, sections=("train",))
    raw = Config().to_dict()
    raw["train"] = {**raw["train"], 1: "x", "zz": 2}  # the same inside a section
    with pytest.raises(ConfigError, match=r"^unknown key train.1; allowed keys here: "):
        from_dict(raw)


def test_an_undeclared_section_names_itself_and_lets_dunder_lookups_fail_plainly():
    from braingan.config import Undeclared

    u = Undeclared("train", "evaluate")
    with pytest.raises(AttributeError) as e:
        u.__deepcopy__  # noqa: B018 - copy/pickle probe dunders; they must get a plain AttributeError
    assert e.value.args == ("__deepcopy__",)
    with pytest.raises(AttributeError, match=r"stage 'evaluate' reads params section 'train' \(train.lr_g\)"):
        u.lr_g  # noqa: B018


def test_dump_keeps_the_params_file_order():
    # sections and keys in the order params.yaml and the dataclasses give them, not sorted
    d = yaml.safe_load(config.dump(Config()))
    assert list(d) == ["seed", "fetch", "preprocess", "model", "train", "classifier", "evaluate"]
    assert list(d["train"]) == list(Config().to_dict()["train"]) != sorted(d["train"])
