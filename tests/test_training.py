"""Training: seeded determinism, checkpoints, resume, continuation, forced re-runs, the
generator file, and what lands in MLflow (against a temporary SQLite store)."""
import csv
import hashlib
import json
import os
import signal
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from braingan import checkpoint, classifier, losses, training
from braingan import gan as gan_module
from braingan.config import from_dict
from braingan.generator import Generator
from braingan.recorder.training import TrainingRecorder
from braingan.stage import STAGES
from braingan.tracking import Run
from helpers import tiny_data, tiny_params


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    data = tiny_data(d)
    classifier.run(from_dict(tiny_params()), data, d / "r_clf", d / "classifier.pt")
    data.clf = d / "classifier.pt"
    return data


def _train(tmp: Path, data, run=None, **over):
    """The train stage's body (pipeline/train.py) with its outputs under `tmp`."""
    cfg = from_dict(tiny_params(**over), STAGES["train"], "train")  # what the train stage sees
    with TrainingRecorder(out=tmp / "out", model_path=tmp / "g.pt", run=run or Run(enabled=False)) as rec:
        result = training.run(cfg, data, classifier.load(data.clf), observer=rec, ckpt_dir=tmp / "ckpt")
        rec.finish(result)
    with open(tmp / "out" / "history.csv") as f:  # probe_s, a time, apart: it is the one column that may differ
        return result.metrics, [{k: v for k, v in r.items() if k != "probe_s"} for r in csv.DictReader(f)]


@pytest.mark.parametrize("family, loss", [("resnet", "wgan-gp"), ("seed", "wgan-clip"), ("resnet", "ns-r1")])
def test_same_params_give_the_same_losses_and_another_seed_does_not(tmp_path, data, family, loss):
    _, h1 = _train(tmp_path / "a", data, **{"model.family": family, "train.loss": loss})
    _, h2 = _train(tmp_path / "b", data, **{"model.family": family, "train.loss": loss})
    assert h1 == h2 and [r["step"] for r in h1] == ["2", "3", "4", "6"]  # 3: a monitor row (sample_every 3)
    _, h3 = _train(tmp_path / "c", data, **{"model.family": family, "train.loss": loss, "seed": 1})
    assert h3 != h1


def test_first_logged_losses_equal_a_step_computed_by_hand(tmp_path, data):
    """Step 1 of a run, recomputed outside the training loop from the same seeds: the loop
    feeds the critic what the definitions say (catches deterministic bugs two runs share)."""
    cfg = from_dict(tiny_params(**{"train.steps": 1, "train.n_critic": 1, "train.log_every": 1, "model.gumbel_tau": 0.0}))
    _, hist = _train(tmp_path / "run", data, **{"train.steps": 1, "train.n_critic": 1, "train.log_every": 1,
                                                "model.gumbel_tau": 0.0})
    gan = training.GAN.create(cfg, training.RealData.from_processed(data, torch.device("cpu")), data.shape,
                              torch.device("cpu"))
    real, real_cls = gan.real.sample(training.MNIST, 8, gan.rng)
    with torch.no_grad():
        t = torch.zeros(8, dtype=torch.long)
        cls = torch.randint(10, (8,), generator=gan.rng)
        z = torch.randn(8, cfg.model.z_dim, generator=gan.rng)
        from braingan import models

        fake = gan.G(z, models.condition(t, cls, "task+class")).sigmoid()  # per-task: digits are sigmoid pixels
    eps = torch.rand(8, 1, 1)
    out_r, out_f = gan.D(real), gan.D(fake)
    gp = losses.gradient_penalty(gan.D, real, fake, eps)
    aux = losses.aux_loss(out_r, t, real_cls)
    d_loss = out_f["score"].mean() - out_r["score"].mean() + 10.0 * gp + aux
    row = hist[0]
    assert float(row["wdist_mnist"]) == pytest.approx((out_r["score"].mean() - out_f["score"].mean()).item(), rel=1e-4)
    assert float(row["gp_mnist"]) == pytest.approx(gp.item(), rel=1e-4)
    assert float(row["d_loss_mnist"]) == pytest.approx(d_loss.item(), rel=1e-4)


class _CtrlCAt(TrainingRecorder):
    """A recorder that sends its own process SIGINT (as Ctrl-C does) when training reaches `at`."""

    def __init__(self, at, **kw):
        super().__init__(**kw)
        self.at = at

    def log(self, step, group, values):
        super().log(step, group, values)
        self._maybe_stop(step)

    def sampled(self, step, files):
        super().sampled(step, files)
        self._maybe_stop(step)

    def _maybe_stop(self, step):
        if step == self.at:
            self.at = None  # once: a second Ctrl-C stops at once
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("stop", [4, 3], ids=["at-a-log-step", "one-step-before-a-log-step"])
def test_resume_continues_exactly_where_it_stopped(tmp_path, data, stop):
    """Ctrl-C at step `stop`, then `dvc repro` again. Resumed at 3, the first step (index 3)
    trains only the SMILES task, yet the row logged at step 4 has both tasks' losses."""
    over = {"train.steps": 8, "train.checkpoint_every": 4}
    full_m, full = _train(tmp_path / "full", data, **over)
    cfg = from_dict(tiny_params(**over), STAGES["train"], "train")
    part = tmp_path / "part"
    with pytest.raises(training.Stopped, match=f"stopped at step {stop}"):
        with _CtrlCAt(stop, out=part / "out", model_path=part / "g.pt", run=Run(enabled=False)) as rec:
            training.run(cfg, data, classifier.load(data.clf), observer=rec, ckpt_dir=part / "ckpt")
    (part / "out" / "samples").rename(part / "samples-before")  # as DVC deletes outputs
    m, resumed = _train(part, data, **over)
    assert m["resumed_from"] == stop and m["steps"] == 8
    losses_only = lambda h: [{k: v for k, v in r.items() if "_" in k and k.split("_")[0] in  # noqa: E731
                              ("wdist", "gp", "d", "g", "critic")} for r in h if r.get("d_loss_smiles")]
    assert losses_only(resumed) == losses_only(full) and len(losses_only(full)) == 4
    assert all(r["wdist_mnist"] and r["wdist_smiles"] for r in losses_only(resumed))
    assert {k: v for k, v in m.items() if k.startswith("final_")} == {
        k: v for k, v in full_m.items() if k.startswith("final_")}
    before = {p.name: p.read_bytes() for p in (tmp_path / "part" / "samples-before").iterdir()}
    after = {p.name: p.read_bytes() for p in (tmp_path / "part" / "out" / "samples").iterdir()}
    assert before and all(name.endswith(".png") for name in after)  # pictures only: a `dvc plots` folder
    assert set(before) < set(after) and all(after[k] == v for k, v in before.items())  # earlier samples kept


def test_the_step_rate_and_wall_time_are_the_steps_over_the_clock_s_seconds(tmp_path, data, monkeypatch):
    """A clock that reads 100 s at the start and 101.5 s ever after: the 6 steps took 1.5 s."""
    readings = iter([100.0])
    monkeypatch.setattr(training, "time", SimpleNamespace(time=lambda: next(readings, 101.5)))
    m, _ = _train(tmp_path, data)
    assert (m["steps"], m["wall_s"], m["steps_per_s"]) == (6, 1.5, 4.0)


def test_a_finished_run_trains_again_when_forced(tmp_path, data):
    m1, h1 = _train(tmp_path, data)
    m2, h2 = _train(tmp_path, data)  # the final checkpoint is not "resumed from step 6 of 6"
    assert m2["resumed_from"] == 0 and h2 == h1 and m2["final_d_loss_mnist"] == m1["final_d_loss_mnist"]
    assert sorted(p.name for p in (tmp_path / "out" / "samples").iterdir()) == [
        "digits_step0000003.png", "digits_step0000006.png", "molecules_step0000003.png", "molecules_step0000006.png"]
    assert sorted(p.name for p in (tmp_path / "out" / "sample_smiles").iterdir()) == [
        "smiles_step0000003.txt", "smiles_step0000006.txt"]


def test_damaged_checkpoint_falls_back_to_the_previous_one(tmp_path, data):
    _train(tmp_path, data, **{"train.steps": 6, "train.checkpoint_every": 3})
    ckpts = sorted((tmp_path / "ckpt").glob("ckpt-*.pt"))
    assert [c.name for c in ckpts] == ["ckpt-00000003.pt", "ckpt-00000006.pt"]
    raw = bytearray(ckpts[-1].read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    ckpts[-1].write_bytes(bytes(raw))
    key = training.digest(from_dict(tiny_params(**{"train.steps": 6, "train.checkpoint_every": 3})), data)
    assert checkpoint.load_latest(tmp_path / "ckpt", key)["step"] == 3


def test_a_checkpoint_of_other_params_is_not_resumed(tmp_path, data):
    _train(tmp_path, data, **{"train.steps": 4, "train.checkpoint_every": 2})
    m, _ = _train(tmp_path, data, **{"train.steps": 6, "train.checkpoint_every": 2, "train.lr_g": 0.001})
    assert m["resumed_from"] == 0


def test_a_checkpoint_made_by_other_step_code_is_not_resumed(tmp_path, data, monkeypatch, capsys):
    _train(tmp_path, data, **{"train.steps": 4, "train.checkpoint_every": 2})  # as if killed at step 4 of 6
    monkeypatch.setattr(training, "code_hash", lambda: "edited models.py")
    m, _ = _train(tmp_path, data, **{"train.steps": 6, "train.checkpoint_every": 2})
    assert m["resumed_from"] == 0 and "other params or code; starting over" in capsys.readouterr().err


def test_code_hash_reads_the_step_s_modules_and_changes_with_any_byte_of_them(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n"), b.write_text("y = 2\n")
    want = hashlib.sha256(b"x = 1\ny = 2\n").hexdigest()[:16]
    assert training.code_hash([a, b]) == want != training.code_hash([b, a])
    b.write_text("y = 3\n")
    assert training.code_hash([a, b]) != want
    from braingan import levers, models, sampling
    own = hashlib.sha256(b"".join(Path(f).read_bytes() for f in (models.__file__, losses.__file__, sampling.__file__,
                                                                  gan_module.__file__, levers.__file__,
                                                                  training.__file__))).hexdigest()[:16]
    assert training.code_hash() == own


def test_a_run_interrupted_after_a_finished_run_of_other_params_resumes_its_own_checkpoint(tmp_path, data):
    _train(tmp_path, data, **{"train.steps": 6, "train.checkpoint_every": 2})  # finished: checkpoints at 4 and 6
    other = {"train.checkpoint_every": 2, "train.lr_g": 0.001}
    _train(tmp_path, data, **other, **{"train.steps": 2})  # as if killed after its checkpoint at step 2
    m, _ = _train(tmp_path, data, **other, **{"train.steps": 6})
    assert m["resumed_from"] == 2


def test_generator_file_loads_with_weights_only_and_identical_weights_give_identical_bytes(tmp_path, data):
    _train(tmp_path / "a", data)
    _train(tmp_path / "b", data)
    state = torch.load(sorted((tmp_path / "a" / "ckpt").glob("*.pt"))[-1], weights_only=True)
    assert state["step"] == 6
    g = Generator.load(tmp_path / "a" / "g.pt")
    assert g.model.family == "resnet" and g.tasks == (0, 1) and g.vocab.encoding.name == "selfies" and g.step == 6
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(tmp_path / "a" / "g.pt") == digest(tmp_path / "b" / "g.pt")
    for name in ("once.pt", "twice.pt"):  # saved twice: the temp file's random name does not get in
        g.save(tmp_path / name)
    assert digest(tmp_path / "once.pt") == digest(tmp_path / "twice.pt") == digest(tmp_path / "a" / "g.pt")


@pytest.fixture
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


def test_mlflow_run_gets_flat_params_of_its_data_and_every_logged_step(tmp_path, data, store):
    _train(tmp_path, data, Run())
    exp = store.get_experiment_by_name("braingan")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    (run,) = store.search_runs([exp.experiment_id])
    p = run.data.params
    assert p["model.activation"] == "per-task" and p["train.steps"] == "6" and p["seed"] == "0"
    assert p["preprocess.max_len"] == "40" and p["fetch.smiles.source"] == "rdkit-nci"  # the params that made the data
    assert not any(k.startswith(("evaluate.", "classifier.")) for k in p)  # not this run's
    assert [m.step for m in store.get_metric_history(run.info.run_id, "train.d_loss_smiles")] == [2, 4, 6]
    assert [m.step for m in store.get_metric_history(run.info.run_id, "monitor.smiles_vocab_share")] == [3, 6]
    assert run.info.run_name == "resnet-per-task-wgan-gp-both" and run.info.status == "FINISHED"


def test_the_generator_is_the_run_s_model_logged_without_reading_back_each_metric(tmp_path, data, store,
                                                                                  monkeypatch):
    """Inside a run, MLflow's log_model reads the whole history of every metric of the run, a
    request per metric (on a basic-auth server, a password hash each): the generator is logged
    without that and is still the run's LoggedModel with the run's params."""
    from mlflow.entities import LoggedModelStatus
    from mlflow.tracking import MlflowClient

    def refuse(*args, **kwargs):
        raise AssertionError("a metric's history was read while logging the model")

    monkeypatch.setattr(MlflowClient, "get_metric_history", refuse)
    _train(tmp_path, data, Run())
    ids = json.loads((tmp_path / "out" / "mlflow.json").read_text())
    model, run = store.get_logged_model(ids["model_id"]), store.get_run(ids["run_id"])
    assert model.name == "generator" and model.source_run_id == run.info.run_id
    assert model.status == LoggedModelStatus.READY and model.params == run.data.params
    assert [o.model_id for o in run.outputs.model_outputs] == [model.model_id]


def test_quality_probes_and_their_cost_are_logged_every_sample_every_steps(tmp_path, data, store):
    _train(tmp_path, data, Run())
    with open(tmp_path / "out" / "history.csv") as f:
        rows = {r["step"]: r for r in csv.DictReader(f)}
    for step in ("3", "6"):  # sample_every 3
        r = rows[step]
        assert 0 < float(r["probe_digit_score_ratio"]) and 0 <= float(r["probe_digit_class_acc"]) <= 1
        assert 0 <= float(r["probe_mol_valid"]) <= 1 and float(r["probe_s"]) > 0
    assert rows["2"]["probe_s"] == ""  # only at the probe steps
    (run,) = store.search_runs([store.get_experiment_by_name("braingan").experiment_id])
    for key in ("monitor.probe_digit_score_ratio", "monitor.probe_mol_valid", "monitor.probe_s"):
        assert [m.step for m in store.get_metric_history(run.info.run_id, key)] == [3, 6], key


def test_the_kl_probe_reads_its_floor_where_no_molecule_is_valid_so_a_search_ranks_the_model_last(data):
    from braingan import models
    from braingan.probes import Probes
    from braingan.tune import quality

    cfg = from_dict(tiny_params())
    G, _ = models.build(cfg.model, data.shape)
    with torch.no_grad():
        G.out.bias[data.vocab.pad] = 100.0  # every row reads as the pad: each molecule is empty, none valid
    g = Generator(G, cfg.model, data.vocab, data.shape, data.mode, (models.MNIST, models.SMILES))
    out = Probes(data, classifier.load(data.clf), seed=0).measure(g)
    assert out["probe_mol_valid"] == 0.0 and out["probe_mol_kl_score"] == 0.0
    assert "probe_mol_heavy_ratio" not in out  # a ratio of no molecules' size to the training set's: unread
    # what a search ranks by: half the digit score, not the digit score alone
    assert quality(out, "quality") == pytest.approx(out["probe_digit_score_ratio"] / 2)


def test_raising_steps_continues_in_a_new_run_that_says_what_it_continued(tmp_path, data, store):
    _train(tmp_path, data, Run(), **{"train.steps": 4, "train.checkpoint_every": 2})
    exp = store.get_experiment_by_name("braingan").experiment_id
    (first,) = store.search_runs([exp])
    m, _ = _train(tmp_path, data, Run(), **{"train.steps": 8, "train.checkpoint_every": 2})
    assert m["resumed_from"] == 4
    runs = {r.info.run_id: r for r in store.search_runs([exp])}
    assert len(runs) == 2
    second = next(r for i, r in runs.items() if i != first.info.run_id)
    old = runs[first.info.run_id]
    assert old.data.params["train.steps"] == "4" and old.info.status == "FINISHED"  # untouched
    assert old.info.end_time == first.info.end_time and not old.data.tags.get("braingan.resumed")
    assert second.data.params["train.steps"] == "8"
    assert second.data.tags["braingan.continued_from"] == first.info.run_id
    assert second.data.tags["braingan.continued_at_step"] == "4"
    steps = [h.step for h in store.get_metric_history(second.info.run_id, "train.g_loss_mnist")]
    assert steps == [2, 4, 6, 8]  # the curve of the steps it continues is copied in


def test_gan_state_round_trips(data):
    cfg = from_dict(tiny_params())
    real = training.RealData.from_processed(data, torch.device("cpu"))
    a = training.GAN.create(cfg, real, data.shape, torch.device("cpu"))
    gan_module.train_critic(a, training.MNIST)
    b = training.GAN.create(cfg, real, data.shape, torch.device("cpu"))
    b.load_state_dict(a.state_dict())
    for x, y in zip(a.G.parameters(), b.G.parameters()):
        torch.testing.assert_close(x, y)
    assert np.array_equal(a.rng.get_state().numpy(), b.rng.get_state().numpy())


def test_gumbel_temperature_anneals_exponentially_from_start_to_end(data):
    cfg = from_dict(tiny_params(**{"model.gumbel_tau": 2.0, "model.gumbel_tau_end": 0.5, "train.steps": 5}))
    gan = training.GAN.create(cfg, training.RealData.from_processed(data, torch.device("cpu")), data.shape,
                              torch.device("cpu"))
    taus = []
    for step in range(5):
        gan.anneal(step)
        taus.append(gan.tau)
    assert taus == pytest.approx([2.0, 2 ** 0.5, 1.0, 2 ** -0.5, 0.5])
    fixed = training.GAN.create(from_dict(tiny_params(**{"model.gumbel_tau": 2.0})), gan.real, data.shape,
                                torch.device("cpu"))
    fixed.anneal(3)
    assert fixed.tau == 2.0


def _two_steps(gan) -> dict:
    torch.manual_seed(5)  # the same penalty interpolation weights for both paths
    logs = {}
    for task in (training.MNIST, training.SMILES):
        logs.update({f"{k}_{task}": v for k, v in {**gan_module.train_critic(gan, task),
                                                      **gan_module.train_generator(gan, task)}.items()})
    return logs


def test_compiled_steps_give_the_eager_shapes_and_finite_losses_close_to_eager(data):
    """`train.compile: true` cannot promise bit-equal floats (inductor fuses and reorders
    sums), so: the same outputs' shapes, finite losses, and after two steps per task from
    the same weights and draws, losses within 1e-3 relative of the eager path's."""
    cfg = from_dict(tiny_params(**{"train.compile": True}))
    real = training.RealData.from_processed(data, torch.device("cpu"))
    compiled = training.GAN.create(cfg, real, data.shape, torch.device("cpu"))
    assert compiled.compiled
    eager = training.GAN.create(from_dict(tiny_params()), real, data.shape, torch.device("cpu"))
    assert not eager.compiled
    z, c = torch.randn(8, cfg.model.z_dim), torch.zeros(8, 12)
    assert compiled.G_step(z, c).shape == eager.G(z, c).shape == (8, *data.shape)
    x = torch.rand(8, *data.shape)
    assert {k: v.shape for k, v in compiled.D_step(x).items()} == {k: v.shape for k, v in eager.D(x).items()}
    got, want = _two_steps(compiled), _two_steps(eager)
    assert got.keys() == want.keys()
    for k in want:
        assert torch.isfinite(got[k]), k
        assert got[k].item() == pytest.approx(want[k].item(), rel=1e-3, abs=1e-5), k


def test_compile_that_fails_falls_back_to_eager_and_says_why(data, monkeypatch, capsys):
    def no_compiler(module):
        raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found\nsecond line")

    monkeypatch.setattr(torch, "compile", no_compiler)
    cfg = from_dict(tiny_params(**{"train.compile": True}))
    gan = training.GAN.create(cfg, training.RealData.from_processed(data, torch.device("cpu")), data.shape,
                              torch.device("cpu"))
    assert not gan.compiled and gan.G_step is gan.G and gan.D_step is gan.D
    err = capsys.readouterr().err
    assert ("train.compile: torch.compile is not possible here (RuntimeError: InvalidCxxCompiler: No working C++ "
            "compiler found); training eagerly") in err
    assert all(torch.isfinite(v) for v in _two_steps(gan).values())
