"""dvc.yaml against the code: every module a stage's entry point imports is a dep of that
stage, its params are the sections its code may read, and its paths are those of paths.py."""
import ast
import dataclasses
import importlib
from pathlib import Path

import pytest
import yaml

from braingan import config, paths
from braingan.stage import STAGES
from helpers import ROOT, tiny_params, write_params

SRC = ROOT / "src"
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _module_file(mod: str) -> Path | None:
    p = SRC / Path(*mod.split("."))
    for cand in (p / "__init__.py", p.with_suffix(".py")):
        if cand.exists():
            return cand
    return None


def _imports(path: Path, package: str) -> set[str]:
    """braingan modules imported anywhere in a file (function-level imports included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("braingan")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.startswith("braingan"):
                out.add(base)
                out |= {f"{base}.{a.name}" for a in node.names if _module_file(f"{base}.{a.name}")}
    return out


def _registry_modules(sections) -> set[str]:
    """Modules whose registries config.py consults (by name) to validate these sections."""
    mods, todo = set(), [t for s in sections for t in [typing_hint(s)] if t]
    while todo:
        cls = todo.pop()
        for f in dataclasses.fields(cls):
            if f.metadata.get("registry"):
                mods.add(f.metadata["registry"].split(":")[0])
            hint = cls.__annotations__[f.name]
            sub = getattr(config, hint, None) if isinstance(hint, str) else None
            if dataclasses.is_dataclass(sub):
                todo.append(sub)
    return mods


def typing_hint(section: str):
    hint = config.Config.__annotations__[section]
    return getattr(config, hint, None) if isinstance(hint, str) else None


def stage_modules(stage: str) -> set[str]:
    """Every src file the stage's entry point can run, transitively."""
    todo = _imports(ROOT / "pipeline" / f"{stage}.py", "pipeline") | _registry_modules(STAGES[stage])
    seen = set()
    while todo:
        m = todo.pop()
        f = _module_file(m)
        if m in seen or f is None:
            continue
        seen.add(m)
        package = m if f.name == "__init__.py" else m.rsplit(".", 1)[0]
        todo |= _imports(f, package)
        todo |= {".".join(m.split(".")[:i]) for i in range(1, m.count(".") + 1)}  # Python runs the parents' __init__.py
    return {str(_module_file(m).relative_to(ROOT)) for m in seen}


def _deps(stage: str) -> list[str]:
    return [d if isinstance(d, str) else next(iter(d)) for d in DVC[stage].get("deps", [])]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_module_a_stage_runs_is_one_of_its_deps(stage):
    deps = _deps(stage)
    missing = sorted(m for m in stage_modules(stage)
                     if not any(m == d or m.startswith(d.rstrip("/") + "/") for d in deps))
    assert not missing, f"stage {stage} runs these modules but dvc.yaml does not list them as deps: {missing}"
    assert f"pipeline/{stage}.py" in deps and DVC[stage]["cmd"] == f"python pipeline/{stage}.py"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_params_in_dvc_yaml_are_the_sections_its_code_may_read(stage):
    declared = DVC[stage]["params"]
    if STAGES[stage] == config.SECTIONS:
        assert declared == [{"params.yaml": None}]  # all of them
    else:
        assert sorted(declared) == sorted(STAGES[stage])


def test_every_stage_with_outputs_runs_after_validate():
    for name in DVC:
        if name not in ("inputs", "validate"):
            assert "results/validate/params.json" in _deps(name), name
    assert "results/inputs/fingerprints.json" in _deps("fetch")


def _outs(stage: str) -> set[str]:
    st = DVC[stage]
    return {o if isinstance(o, str) else next(iter(o)) for key in ("outs", "metrics", "plots") for o in st.get(key, [])}


def test_paths_are_those_of_paths_py():
    every = {str(p) for name in DVC for p in _outs(name) | set(_deps(name))}
    for const in (paths.RAW, paths.PROCESSED, paths.CLASSIFIER, paths.GENERATOR):
        assert str(const) in every, const
    assert str(paths.CHECKPOINTS) not in every  # never an output: DVC would delete it before a resume
    for stage in STAGES:
        for out in _outs(stage):
            assert out.startswith((str(paths.results(stage)) + "/", str(paths.RAW), str(paths.PROCESSED),
                                   str(paths.CLASSIFIER), str(paths.GENERATOR))), (stage, out)


def test_code_defaults_point_where_dvc_yaml_says():
    from braingan import classifier, evaluation, training
    from braingan.data import fetch, preprocess
    from braingan.recorder.evaluation import record_evaluation
    from braingan.recorder.training import TrainingRecorder

    import inspect

    for fn, stage in ((fetch.run, "fetch"), (preprocess.run, "preprocess"), (classifier.run, "classifier"),
                      (training.run, "train"), (TrainingRecorder.__init__, "train"), (evaluation.run, "evaluate"),
                      (record_evaluation, "evaluate")):
        defaults = [str(p.default) for p in inspect.signature(fn).parameters.values() if isinstance(p.default, Path)]
        known = _outs(stage) | set(_deps(stage)) | {str(paths.results(stage)), str(paths.CHECKPOINTS)}
        for d in defaults:
            assert d in known or any(k.startswith(d + "/") or d.startswith(k + "/") for k in known), (stage, d)


def test_removing_a_dep_is_caught(monkeypatch):
    """The test above can fail: with one dep taken out of dvc.yaml it reports it."""
    deps = [d for d in DVC["evaluate"]["deps"] if d != "src/braingan/metrics/collapse.py"]
    monkeypatch.setitem(DVC["evaluate"], "deps", deps)
    with pytest.raises(AssertionError, match=r"src/braingan/metrics/collapse.py"):
        test_every_module_a_stage_runs_is_one_of_its_deps("evaluate")


def test_registries_are_imported_by_config_by_name():
    for mod in _registry_modules(config.SECTIONS):
        importlib.import_module(mod)
    assert _registry_modules(("fetch",)) == {"braingan.data.sources"}
    assert _registry_modules(("seed", "model", "train")) == {"braingan.models", "braingan.losses"}


def test_a_stage_names_itself_when_its_body_reads_an_undeclared_section_and_says_when_it_is_done(tmp_path, capsys):
    from braingan import stage

    write_params(tmp_path, tiny_params())
    params = str(tmp_path / "params.yaml")
    with pytest.raises(AttributeError, match="stage 'train' reads params section 'evaluate'"):
        stage.run("train", lambda cfg: cfg.evaluate.n_samples, params)
    capsys.readouterr()
    stage.run("fetch", lambda cfg: cfg.fetch, params)
    out = capsys.readouterr()
    assert out.err.startswith("braingan fetch: done in ") and out.out == ""


def test_the_committed_lock_records_the_code_that_is_committed():
    """results/ and the README's default row come from the run dvc.lock records: a code dep whose
    bytes differ from the lock makes `dvc status` call the committed results stale. After an
    edit, re-run the stage, or, where no computation changed (a rename, a comment, a log call),
    write the file's md5 and size into dvc.lock and say so in the commit."""
    import hashlib

    stale = []
    for name, stage in yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"].items():
        for dep in stage.get("deps", []):
            f = ROOT / dep["path"]
            if dep["path"].endswith(".py") and hashlib.md5(f.read_bytes()).hexdigest() != dep["md5"]:
                stale.append(f"{name}: {dep['path']}")
    assert not stale, stale
