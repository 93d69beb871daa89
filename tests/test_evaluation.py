"""`evaluation.run` on tiny data, in-process: every metric present with its type, the
references on the terms they claim, and a perfect generator (real digits, training
molecules) scoring as the references do."""
import json

import numpy as np
import pytest

from braingan import classifier, evaluation, training
from braingan.config import from_dict
from braingan.data import canvas as cv
from braingan.data import dataset, fetch, preprocess
from braingan.stage import STAGES
from braingan.tracking import Run
from helpers import tiny_params


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval")
    over = {"preprocess.max_digits": 1200, "classifier.epochs": 3, "evaluate.n_samples": 100,
            "evaluate.score_split": 20, "evaluate.fcd": False}
    cfg = from_dict(tiny_params(**over))
    fetch.run(cfg, d / "raw", d / "r_fetch")
    preprocess.run(cfg, d / "raw", d / "processed", d / "r_pre")
    data = dataset.load(d / "processed")
    classifier.run(cfg, data, d / "r_clf", d / "classifier.pt")
    training.run(from_dict(tiny_params(**over), STAGES["train"], "train"), data, Run(enabled=False),
                 out=d / "train", model_path=d / "generator.pt", ckpt_dir=d / "ckpt", clf_path=d / "classifier.pt")
    return d, data, from_dict(tiny_params(**over), STAGES["evaluate"], "evaluate")


def _evaluate(d, data, cfg, out):
    return evaluation.run(cfg, data, Run(enabled=False), out=out, gen_path=d / "generator.pt",
                          clf_path=d / "classifier.pt", train_run=d / "train" / "mlflow.json")


@pytest.fixture(scope="module")
def evaluated(trained, tmp_path_factory):
    d, data, cfg = trained
    out = tmp_path_factory.mktemp("evaluated")
    return _evaluate(d, data, cfg, out), out


def test_every_metric_is_present_with_its_type(evaluated):
    m, out = evaluated
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
    assert ref["digits"]["frechet_floor_n"] == 100 and ref["smiles"]["trainset"]["n"] == 100
    for f in ("digits.png", "molecules.png", "descriptors.png", "positions.png", "smiles.csv", "timings.json"):
        assert (out / f).stat().st_size > 0, f


def test_novelty_is_against_the_training_set_and_the_trainset_sampler_draws_without_replacement(evaluated):
    ts = evaluated[0]["reference"]["smiles"]["trainset"]
    assert ts["validity"] == 1.0 and ts["novelty"] == 0.0 and ts["unique"] == 1.0
    assert ts["kl_score"] > 0.5 and not ts["collapsed"]  # 100 molecules: the KDEs are noisy


def test_a_perfect_generator_scores_like_the_references(trained, tmp_path, monkeypatch):
    """Real training digits and training molecules as the "generated" samples: the ratios
    against the references are 1 within sampling noise."""
    d, data, cfg = trained
    rng = np.random.default_rng(7)

    def real_samples(G, mcfg, task, n, seed, device, **kw):
        if task == training.MNIST:
            idx = rng.choice(len(data.train_images), n, replace=False)
            return cv.to_canvas(data.train_images[idx], data.shape, data.mode), data.train_labels[idx]
        idx = rng.choice(len(data.smiles_train_idx), n, replace=False)
        return data.vocab.one_hot(data.smiles_train_idx[idx]), np.full(n, -1)

    monkeypatch.setattr(evaluation, "generate", real_samples)
    m = _evaluate(d, data, cfg, tmp_path)
    dg, s = m["digits"], m["smiles"]
    print({k: dg[k] for k in ("score_ratio", "frechet_over_floor", "class_accuracy", "diversity_ratio")},
          {k: s[k] for k in ("validity", "kl_score", "hamming_ratio", "heavy_atoms_ratio")})
    assert dg["score_ratio"] == pytest.approx(1.0, abs=0.15)
    assert dg["frechet_over_floor"] == pytest.approx(1.0, abs=0.35)
    assert dg["class_accuracy"] > 0.8 and not dg["collapsed"] and dg["diversity_ratio"] == pytest.approx(1, abs=0.1)
    assert s["validity"] == 1.0 and s["novelty"] == 0.0 and s["sampled"]["validity"] == 1.0  # one-hot rows
    assert s["hamming_ratio"] == pytest.approx(1.0, abs=0.05) and not s["collapsed"]
    assert s["heavy_atoms_ratio"] == pytest.approx(1.0, abs=0.1) and s["kl_score"] > 0.7  # 100 molecules: noisy KDEs


def test_sample_rows_draws_each_row_from_its_distribution():
    rng = np.random.default_rng(0)
    canvas = np.zeros((4000, 2, 3))
    canvas[:, 0] = [0.2, 0.0, 0.8]
    canvas[:, 1] = [0.0, 1.0, 0.0]
    idx = evaluation.sample_rows(canvas, rng)
    assert set(idx[:, 1]) == {1} and set(idx[:, 0]) == {0, 2}
    assert (idx[:, 0] == 2).mean() == pytest.approx(0.8, abs=0.03)


def test_random_rows_use_training_lengths_and_no_pad(trained):
    _, data, _ = trained
    idx = evaluation.random_rows(data, 300, np.random.default_rng(0))
    lengths = (idx != data.vocab.pad).sum(1)
    assert set(lengths) <= set((data.smiles_train_idx != data.vocab.pad).sum(1))
    for row, k in zip(idx, lengths):
        assert (row[:k] != data.vocab.pad).all() and (row[k:] == data.vocab.pad).all()


def test_mlflow_metrics_leave_out_undefined_values_and_headline_picks_its_keys():
    m = {"smiles": {"validity": 0.0, "unique": None, "collapsed": True}, "digits": {"score_ratio": 0.5}}
    assert evaluation.mlflow_metrics(m) == {"eval.smiles.validity": 0.0, "eval.smiles.collapsed": 1.0,
                                            "eval.digits.score_ratio": 0.5}
    assert evaluation.headline(m) == {"Headline/mol_valid": 0.0, "Headline/mol_collapsed": 1.0,
                                      "Headline/digit_score_ratio": 0.5}
