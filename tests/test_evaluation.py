"""`evaluation.run` on tiny data, in-process: every metric present with its type, the
references on the terms they claim, and a perfect generator (real digits, training
molecules) scoring as the references do."""
import json

import numpy as np
import pytest

from braingan import classifier, evaluation, plots, training
from braingan.recorder.evaluation import mlflow_metrics, record_evaluation
from braingan.config import from_dict
from braingan.data import canvas as cv
from braingan.data import dataset, fetch, preprocess
from braingan.evaluation.molecules import random_rows
from braingan.generator import Generator, Samples, sample_rows
from braingan.stage import STAGES
from braingan.tracking import Run
from helpers import tiny_params


OVER = {"preprocess.max_digits": 1200, "classifier.epochs": 3, "evaluate.n_samples": 100, "evaluate.score_split": 20,
        "evaluate.fcd": False, "evaluate.reference_max": 20000}  # every reference: the ratios below are near 1


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval")
    cfg = from_dict(tiny_params(**OVER))
    fetch.run(cfg, d / "raw", d / "r_fetch")
    preprocess.run(cfg, d / "raw", d / "processed", d / "r_pre")
    data = dataset.load(d / "processed")
    classifier.run(cfg, data, d / "r_clf", d / "classifier.pt")
    result = training.run(from_dict(tiny_params(**OVER), STAGES["train"], "train"), data,
                          classifier.load(d / "classifier.pt"), ckpt_dir=d / "ckpt")
    result.generator.save(d / "generator.pt")
    return d, data, from_dict(tiny_params(**OVER), STAGES["evaluate"], "evaluate")


def _evaluate(d, data, cfg, out, generator=None):
    """The evaluate stage's body (pipeline/evaluate.py) with its outputs under `out`."""
    ev = evaluation.run(cfg, data, generator or Generator.load(d / "generator.pt"), classifier.load(d / "classifier.pt"))
    record_evaluation(cfg, ev, out=out, train_run=d / "train" / "mlflow.json", run=Run(enabled=False))
    return ev


@pytest.fixture(scope="module")
def evaluated(trained, tmp_path_factory):
    d, data, cfg = trained
    out = tmp_path_factory.mktemp("evaluated")
    pictured = []  # the molecules molecules.png draws
    real = plots.molecule_grid_png
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plots, "molecule_grid_png", lambda smiles, **kw: pictured.extend(smiles) or real(smiles, **kw))
        ev = _evaluate(d, data, cfg, out)
    return ev.metrics, out, ev, pictured


def test_every_metric_is_present_with_its_type(evaluated):
    m, out, _, _ = evaluated
    assert json.loads((out / "metrics.json").read_text()) == m
    for key, typ in {"classifier_score": float, "score_ratio": float, "frechet": float, "frechet_over_floor": float,
                     "classes_covered": int, "class_accuracy": float, "collapsed": bool, "collapsed_rule": str,
                     "diversity_ratio": float}.items():
        assert isinstance(m["digits"][key], typ), key
    s = m["smiles"]
    for key, typ in {"validity": float, "collapsed": bool, "hamming_ratio": float, "top_output_share": float,
                     "pad_run_max": int, "symbol_run_max": int, "validity_note": str}.items():
        assert isinstance(s[key], typ), key
    for key in ("unique", "novelty", "kl_score", "heavy_atoms_mean", "int_div"):
        assert (s[key] is None) == (s["validity"] == 0) and (s[key] is None or isinstance(s[key], float)), key
    assert set(s["sampled"]) >= {"validity", "unique", "novelty", "collapsed"} and "kl_score" not in s["sampled"]
    ref = m["reference"]
    assert 0 <= ref["digits"]["round_trip_pixel_error_max"] <= 1  # pixels in [0, 1]; resize mode blurs them
    timings = json.loads((out / "timings.json").read_text())  # seconds per timed part, to the millisecond
    assert {"digit_references", "generate_smiles", "descriptors"} <= set(timings)
    assert all(isinstance(v, float) and v == round(v, 3) for v in timings.values())
    assert ref["digits"]["frechet_floor_n"] == 100 and ref["smiles"]["trainset"]["n"] == 100
    for f in ("digits.png", "molecules.png", "descriptors.png", "positions.png", "smiles.csv", "timings.json"):
        assert (out / f).stat().st_size > 0, f


def test_with_fcd_on_a_full_measurement_gives_fcd_its_size_matched_reference_ratio_and_score(trained):
    """The FCD block of Instruments.measure (the other tests here run with evaluate.fcd off)."""
    from braingan.evaluation.molecules import Instruments
    from braingan.metrics import distribution as dist

    _, data, _ = trained
    cfg = from_dict(tiny_params(**{**OVER, "evaluate.fcd": True, "evaluate.reference_max": 100}), STAGES["evaluate"],
                    "evaluate")
    m = Instruments(data, cfg, np.random.default_rng(0), {}).measure(data.smiles_train_idx[:60], full=True).metrics
    assert m["fcd_n"] == cfg.evaluate.distribution_max == 40 and m["fcd_reference"] > 0
    assert m["fcd_ratio"] == pytest.approx(m["fcd"] / m["fcd_reference"])
    assert m["fcd_score"] == pytest.approx(dist.fcd_score(m["fcd"]))


def test_a_digits_only_model_without_class_conditioning_has_no_class_accuracy_and_every_picture(trained, tmp_path):
    """Classes are asked of the generator only under task+class conditioning; a model not
    trained on SMILES still gets each picture, a message in place of molecules."""
    d, data, _ = trained
    over = {**OVER, "train.tasks": "mnist", "model.conditioning": "task"}
    g = training.run(from_dict(tiny_params(**over), STAGES["train"], "train"), data,
                     classifier.load(d / "classifier.pt"), ckpt_dir=tmp_path / "ckpt").generator
    ev = evaluation.run(from_dict(tiny_params(**over), STAGES["evaluate"], "evaluate"), data, g,
                        classifier.load(d / "classifier.pt"))
    assert not [k for k in ev.metrics["digits"] if k.startswith("class_accuracy")] and "smiles" not in ev.metrics
    assert list(ev.figures) == list(evaluation.PICTURES) and all(ev.figures.values())


def test_novelty_is_against_the_training_set_and_the_trainset_sampler_draws_without_replacement(evaluated):
    ts = evaluated[0]["reference"]["smiles"]["trainset"]
    assert ts["validity"] == 1.0 and ts["novelty"] == 0.0 and ts["unique"] == 1.0
    assert ts["kl_score"] > 0.5 and not ts["collapsed"]  # 100 molecules: the KDEs are noisy


def test_a_perfect_generator_scores_like_the_references(trained, tmp_path, monkeypatch):
    """Real training digits and training molecules as the "generated" samples: the ratios
    against the references are 1 within sampling noise."""
    d, data, cfg = trained
    rng = np.random.default_rng(7)

    def real_samples(task, n, seed, class_=None, progress=False):
        if task == training.MNIST:
            idx = rng.choice(len(data.train_images), n, replace=False)
            canvas, classes = cv.to_canvas(data.train_images[idx], data.shape, data.mode), data.train_labels[idx]
        else:
            idx = rng.choice(len(data.smiles_train_idx), n, replace=False)
            canvas, classes = data.vocab.one_hot(data.smiles_train_idx[idx]), np.full(n, -1)
        return Samples(task, canvas, classes, data.vocab, data.mode)

    perfect = Generator.load(d / "generator.pt")
    monkeypatch.setattr(perfect, "sample", real_samples)
    m = _evaluate(d, data, cfg, tmp_path, perfect).metrics
    dg, s = m["digits"], m["smiles"]
    print({k: dg[k] for k in ("score_ratio", "frechet_over_floor", "class_accuracy", "diversity_ratio")},
          {k: s[k] for k in ("validity", "kl_score", "hamming_ratio", "heavy_atoms_ratio")})
    assert dg["score_ratio"] == pytest.approx(1.0, abs=0.15)
    assert dg["frechet_over_floor"] == pytest.approx(1.0, abs=0.35)
    assert dg["class_accuracy"] > 0.8 and not dg["collapsed"] and dg["diversity_ratio"] == pytest.approx(1, abs=0.1)
    assert s["validity"] == 1.0 and s["novelty"] == 0.0 and s["sampled"]["validity"] == 1.0  # one-hot rows
    assert s["hamming_ratio"] == pytest.approx(1.0, abs=0.05) and not s["collapsed"]
    assert s["heavy_atoms_ratio"] == pytest.approx(1.0, abs=0.1) and s["kl_score"] > 0.7  # 100 molecules: noisy KDEs


def test_the_descriptor_picture_draws_the_generator_s_valid_molecules_and_labels_each_reference(evaluated):
    """descriptors.png once drew the random-symbol reference under the label "generated" (the
    last set measured). Each set drawn must be what its label says, with its size."""
    import csv

    from rdkit import Chem
    from rdkit.Chem import Descriptors

    m, out, ev, pictured = evaluated
    sets = ev.descriptors
    with open(out / "smiles.csv") as f:
        valid = [r["canonical"] for r in csv.DictReader(f) if r["reading"] == "argmax" and r["valid"] == "True"]
    n_valid, drawn = m["smiles"]["n_valid"], min(m["smiles"]["n_valid"], 40)  # evaluate.distribution_max: 40
    assert len(valid) == n_valid == round(m["smiles"]["validity"] * m["n_samples"]) > drawn
    n_random = m["reference"]["smiles"]["random"]["n_valid"]
    assert list(sets) == [f"generated (valid, argmax, {drawn} of {n_valid} drawn)", "training molecules",
                          f"random-symbol sampler (valid, {min(n_random, 40)} of {n_random} drawn)"]
    gen = sorted(sets[list(sets)[0]]["MolWt"])
    pool = sorted(Descriptors.MolWt(Chem.MolFromSmiles(s)) for s in valid)
    assert len(gen) == drawn and all(any(abs(g - p) < 1e-6 for p in pool) for g in gen)  # drawn from these valid ones
    title = plots.descriptor_histograms(sets)._suptitle.get_text()
    assert title.startswith(f"Descriptors of {drawn} generated (valid, argmax, {drawn} of {n_valid} drawn) vs ")
    assert pictured == valid  # molecules.png draws the same valid molecules of the argmax reading


def test_with_every_valid_molecule_drawn_the_title_counts_the_generator_s_valid_molecules(trained, tmp_path):
    """The default case (n_samples below distribution_max): the generated histograms are the
    generator's valid molecules, all of them, and the title's count is metrics.json's."""
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    d, data, cfg = trained
    cfg.evaluate.distribution_max = 1000
    ev = _evaluate(d, data, cfg, tmp_path)
    label = list(ev.descriptors)[0]
    assert label == "generated (valid, argmax)"
    valid = sorted(Descriptors.MolWt(Chem.MolFromSmiles(r[3])) for r in ev.smiles_rows if r[0] == "argmax" and r[4])
    assert sorted(ev.descriptors[label]["MolWt"]) == pytest.approx(valid)
    assert len(valid) == ev.metrics["smiles"]["n_valid"] > 0


def test_sample_rows_draws_each_row_from_its_distribution():
    rng = np.random.default_rng(0)
    canvas = np.zeros((4000, 2, 3))
    canvas[:, 0] = [0.2, 0.0, 0.8]
    canvas[:, 1] = [0.0, 1.0, 0.0]
    idx = sample_rows(canvas, rng)
    assert set(idx[:, 1]) == {1} and set(idx[:, 0]) == {0, 2}
    assert (idx[:, 0] == 2).mean() == pytest.approx(0.8, abs=0.03)


def test_random_rows_use_training_lengths_and_no_pad(trained):
    _, data, _ = trained
    idx = random_rows(data, 300, np.random.default_rng(0))
    lengths = (idx != data.vocab.pad).sum(1)
    assert set(lengths) <= set((data.smiles_train_idx != data.vocab.pad).sum(1))
    for row, k in zip(idx, lengths):
        assert (row[:k] != data.vocab.pad).all() and (row[k:] == data.vocab.pad).all()


def test_mlflow_metrics_leave_out_undefined_values_and_headline_picks_its_keys():
    m = {"smiles": {"validity": 0.0, "unique": None, "collapsed": True}, "digits": {"score_ratio": 0.5}}
    assert mlflow_metrics(m) == {"eval.smiles.validity": 0.0, "eval.smiles.collapsed": 1.0,
                                          "eval.digits.score_ratio": 0.5}
    assert evaluation.headline(m) == {"mol_valid": 0.0, "mol_collapsed": 1.0, "digit_score_ratio": 0.5}
