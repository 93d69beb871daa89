"""Metric definitions against known values."""
import numpy as np
import pytest

from braingan.metrics import digits as dm
from braingan.metrics import smiles as sm


def test_moses_example():
    gen = ["CCNC", "CCC", "INVALID", "CCC"]
    m, can = sm.smiles_metrics(gen, train_canonical={"CCC"}, ref_valid=None, fcd=False, fcd_max=10)
    assert m["validity"] == 0.75
    valid = [c for c in can if c]
    assert sm.fraction_unique(valid, 2) == 1.0
    assert m["unique"] == pytest.approx(2 / 3)
    assert m["novelty"] == 0.5  # of {CCNC, CCC}, only CCNC is not in training


@pytest.mark.parametrize("s", ["", "|||", "||||||||", "|"])
def test_empty_and_all_pad_strings_are_invalid(s):
    assert sm.validity([s]) == 0.0


def test_pad_is_stripped_before_parsing():
    assert sm.validity(["CCO|||"]) == 1.0


def test_all_pad_batch_is_collapsed():
    pad = 3
    idx = np.full((50, 20), pad)
    c = sm.collapse(idx, pad, top_share_max=0.5, pad_share_max=0.5)
    assert c["collapsed"] and c["all_pad_share"] == 1.0 and c["top_output_share"] == 1.0


def test_collapse_indicators_on_known_rows():
    pad = 9
    idx = np.array([
        [1, 1, 1, 2, 9, 9],  # run of 3, no inner pad
        [1, 9, 2, 9, 9, 9],  # pad inside
        [9, 9, 9, 9, 9, 9],  # all pad
        [2, 2, 2, 2, 2, 2],  # run of 6
    ])
    c = sm.collapse(idx, pad, 0.5, 0.5)
    assert c["all_pad_share"] == 0.25 and c["pad_inside_share"] == 0.25
    assert c["longest_run_max"] == 6 and not c["collapsed"] and c["distinct_outputs"] == 4


def test_internal_diversity_of_identical_molecules_is_zero():
    assert sm.internal_diversity(["CCO"] * 5) == pytest.approx(0.0)
    assert 0 < sm.internal_diversity(["CCO", "c1ccccc1", "CC(=O)Nc1ccc(O)cc1"]) < 1


def test_classifier_score_known_values():
    confident_uniform = np.eye(10)[np.arange(1000) % 10]
    assert dm.classifier_score(confident_uniform)[0] == pytest.approx(10.0, rel=1e-6)
    one_class = np.eye(10)[np.zeros(1000, dtype=int)]
    assert dm.classifier_score(one_class)[0] == pytest.approx(1.0, rel=1e-6)
    assert dm.classifier_score(np.full((1000, 10), 0.1))[0] == pytest.approx(1.0, rel=1e-6)


def test_frechet_distance_of_a_set_to_itself_is_zero_and_shift_is_squared_norm():
    x = np.random.default_rng(0).normal(size=(2000, 8))
    assert dm.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    assert dm.frechet_distance(x, x + 2.0) == pytest.approx(8 * 4.0, rel=1e-6)


def test_class_coverage():
    assert dm.class_coverage(np.eye(10)[np.arange(100) % 10]) == 10
    assert dm.class_coverage(np.eye(10)[np.zeros(100, dtype=int)]) == 1


def test_fcd_of_a_set_with_itself_is_near_zero_and_needs_two_molecules():
    s = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "CCCl", "OCCO", "CC(C)O", "c1ccncc1"]
    assert sm.fcd_score(s, s, 100) == pytest.approx(0.0, abs=1e-3)
    assert sm.fcd_score(["CCO"], s, 100) is None
