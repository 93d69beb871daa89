"""The MOSES source and protocol end to end, offline: the molsets wheel is placed in the test's
cache (as `scripts/setup.sh --test` fetched it), a seeded subset trains, and
`dvc exp run -S evaluate.protocol=moses` writes the MOSES metrics under their own names to
metrics.json and MLflow, beside the project's own."""
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from braingan.data import moses
from conftest import unavailable
from helpers import dvc, make_repo, mlflow_runs, tiny_params

pytestmark = pytest.mark.e2e

MOSES_NAMES = ["valid", "unique@1k", "unique@10k", "FCD/Test", "FCD/TestSF", "SNN/Test", "SNN/TestSF", "Frag/Test",
               "Frag/TestSF", "Scaf/Test", "Scaf/TestSF", "IntDiv", "IntDiv2", "Filters", "Novelty"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A braingan cache holding the verified wheel, copied from the user's cache."""
    src = Path(os.environ.get("BRAINGAN_CACHE", Path.home() / ".cache" / "braingan")) / "moses" / moses.WHEEL
    if not src.is_file() or hashlib.sha256(src.read_bytes()).hexdigest() != moses.WHEEL_SHA256:
        unavailable(f"the molsets wheel is not in {src.parent} (scripts/setup.sh --test fetches it with pip)")
    d = tmp_path_factory.mktemp("cache")
    (d / "moses").mkdir()
    shutil.copy(src, d / "moses" / moses.WHEEL)
    return d


def test_moses_source_and_protocol_through_exp_run(tmp_path, cache):
    r = make_repo(tmp_path, tiny_params(**{"evaluate.fcd": False}))
    env = {"BRAINGAN_CACHE": str(cache)}  # and the dead proxy of run_env: no network at all
    dvc(r, "exp", "run", "-n", "moses", "-S", "fetch.smiles.source=moses", "-S", "preprocess.max_smiles=2000",
        "-S", "evaluate.protocol=moses", "-S", "evaluate.moses_samples=300", "-S", "evaluate.moses_reference_max=400",
        env=env)
    fetched = json.loads((r / "results/fetch/metrics.json").read_text())
    assert fetched["smiles_read"] == 1_584_663  # the MOSES training split, whole
    refs = sorted(p.name for p in (r / "data/processed/references").iterdir())
    assert refs == ["mcf.csv", "test.txt", "test_scaffolds.txt", "train.txt", "wehi_pains.csv"]
    pre = json.loads((r / "results/preprocess/metrics.json").read_text())
    assert pre["smiles_read"] == 2000  # preprocess.max_smiles: a seeded subset is cleaned and split
    m = json.loads((r / "results/evaluate/metrics.json").read_text())
    assert "smiles" in m and "digits" in m  # the project's metrics stay
    got = m["moses"]
    assert set(MOSES_NAMES) <= set(got) and got["n"] == 300
    assert 0 <= got["valid"] <= 1 and got["protocol"] == "not MOSES's: reference sets cut to 400 molecules each"
    assert got["unique@10k"] is not None and got["Scaf/TestSF"] is None or 0 <= got["Scaf/TestSF"] <= 1
    _, runs = mlflow_runs(r)
    (run,) = [x for x in runs if x.data.tags.get("dvc.exp_name") == "moses" and "mlflow.parentRunId" not in x.data.tags]
    for name in ("eval.moses.valid", "eval.moses.unique_at_10k", "eval.moses.FCD/Test", "eval.moses.SNN/TestSF",
                 "eval.moses.IntDiv2", "eval.moses.Novelty"):
        assert name in run.data.metrics, name
    assert run.data.params["fetch.smiles.source"] == "moses"
