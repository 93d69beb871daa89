"""Metric definitions against values worked out by hand, on asymmetric inputs."""
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from braingan.metrics import collapse as col
from braingan.metrics import digits as dm
from braingan.metrics import distribution as dist
from braingan.metrics import smiles as sm
from braingan.metrics.frechet import frechet_distance, size_matched


# ------------------------------------------------------------------ MOSES metrics
def test_a_molecule_whose_canonical_form_does_not_parse_back_is_invalid(monkeypatch):
    """Seen in a search: a generated molecule whose canonical SMILES RDKit cannot read crashed the
    descriptors of the training probe. Here RDKit's writer is made to write such a form (c1cccc1,
    an aromatic ring that cannot be kekulised) for the second of three molecules."""
    write = sm.Chem.MolToSmiles
    monkeypatch.setattr(sm.Chem, "MolToSmiles", lambda m: "c1cccc1" if m.GetNumAtoms() == 4 else write(m))
    assert sm.canonical(["OCC", "CCCC", "c1ccccc1"]) == ["CCO", None, "c1ccccc1"]
    assert sm.validity(["OCC", "CCCC", "c1ccccc1"]) == pytest.approx(2 / 3)


def test_moses_example():
    gen = ["CCNC", "CCC", "INVALID", "CCC", None, ""]
    can = sm.canonical(gen)
    valid = [c for c in can if c]
    assert sm.validity(gen) == 0.5
    assert sm.fraction_unique(valid, 2) == 1.0 and sm.fraction_unique(valid) == pytest.approx(2 / 3)
    assert sm.novelty(valid, {"CCC"}) == 0.5  # of {CCNC, CCC}, only CCNC is not in training


def test_validity_is_the_share_of_strings_rdkit_parses():
    assert sm.validity(["CCO"]) == 1.0 and sm.validity(["CCO", "C1CC", "c1ccccc1"]) == pytest.approx(2 / 3)
    assert sm.validity([]) == 0.0


@pytest.mark.parametrize("s", ["", None, "C1CC", "C(C"])
def test_empty_none_and_broken_strings_are_invalid(s):
    assert sm.validity([s]) == 0.0


def test_undefined_values_are_none_not_numbers():
    assert sm.fraction_unique([]) is None and sm.novelty([], {"C"}) is None and sm.internal_diversity([]) is None
    assert sm.fraction_unique(["CCO"] * 24, 1000) is None  # unique@1000 of 24 molecules: MOSES refuses
    assert sm.fraction_unique(["CCO"] * 24) == pytest.approx(1 / 24)
    assert sm.fraction_unique(["CCO", "CCO", "CCN", "CCC"], 3) == pytest.approx(2 / 3)  # the first k of more
    assert sm.fraction_unique(["CCO", "CCN", "CCO"], 3) == pytest.approx(2 / 3)  # exactly k: defined
    assert dist.kl_score(dist.descriptors(["CCO", "CCN"]), dist.descriptors(["CCO"])) == (None, {})
    assert dist.fcd(np.zeros((1, 3)), np.zeros((5, 3))) is None and dist.fcd_score(None) is None
    assert dist.heavy_atoms(dist.descriptors([]), dist.descriptors(["CCO"]))["heavy_atoms_mean"] is None


def test_internal_diversity_by_hand():
    assert sm.internal_diversity(["CCO"] * 5) == pytest.approx(0.0)
    fps = sm.fingerprints(["CCO", "c1ccccc1"])
    t = sm.tanimoto(fps[:1], fps[1:])[0, 0]  # the one cross pair, counted twice; self-pairs are 1
    assert sm.internal_diversity(["CCO", "c1ccccc1"]) == pytest.approx(1 - (2 + 2 * t) / 4)
    assert t == 0.0  # ethanol and benzene share no Morgan bit


# ------------------------------------------------------------------ digits
def test_classifier_score_takes_p_y_within_each_split():
    two = np.zeros((4, 10))
    two[:2, 0], two[2:, 1] = 1, 1  # class-sorted: each split of 2 is one class
    assert dm.classifier_score(two, 2)[0] == pytest.approx(1.0)  # p(y) per split: no surprise
    assert dm.classifier_score(two, 4)[0] == pytest.approx(2.0)  # one split of both classes: exp(ln 2)
    mixed = two[[0, 2, 1, 3]]
    assert dm.classifier_score(mixed, 2)[0] == pytest.approx(2.0)


def test_classifier_score_of_an_asymmetric_split_by_hand():
    p = np.zeros((2, 10))
    p[0, :2] = [0.8, 0.2]
    p[1, :2] = [0.2, 0.8]
    py = np.array([0.5, 0.5])
    kl = 0.8 * math.log(0.8 / 0.5) + 0.2 * math.log(0.2 / 0.5)  # the same for both rows
    assert dm.classifier_score(p, 2)[0] == pytest.approx(math.exp(kl), rel=1e-9)
    assert py.sum() == 1
    with pytest.raises(ValueError, match="cannot fill one split of 3"):
        dm.classifier_score(p, 3)


def test_classifier_score_drops_a_trailing_partial_split():
    full = np.eye(10)[np.arange(20) % 10]
    assert dm.classifier_score(full, 10)[0] == pytest.approx(10.0, rel=1e-6)
    assert dm.classifier_score(np.vstack([full, np.eye(10)[[3]]]), 10)[0] == pytest.approx(10.0, rel=1e-6)


def test_frechet_distance_sees_correlation_not_only_variances():
    # {u, -u, v, -v} with u = (x, y), v = (y, x) has covariance [[2, 1], [1, 2]] when x^2 + y^2 = 3 and
    # 2xy = 1.5; with u = (x, -y), v = (-y, x) it is [[2, -1], [-1, 2]]
    x, y = (math.sqrt(4.5) + math.sqrt(1.5)) / 2, (math.sqrt(4.5) - math.sqrt(1.5)) / 2
    a = np.array([[x, y], [-x, -y], [y, x], [-y, -x]])
    b = np.array([[x, -y], [-x, y], [-y, x], [y, -x]])
    # equal means and variances; S_a S_b = 3 I, so FD = tr(S_a) + tr(S_b) - 2 tr(sqrt(3) I) = 8 - 4 sqrt(3)
    assert frechet_distance(a, b) == pytest.approx(8 - 4 * math.sqrt(3), rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + [3.0, -1.0]) == pytest.approx(10.0, rel=1e-6)  # shift: squared norm


def test_size_matched_floor_ignores_the_order_of_class_sorted_data():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(10, 4)) * 5
    pool = np.concatenate([c + rng.normal(size=(200, 4)) for c in centers])  # sorted by class, like the data
    target = np.concatenate([c + rng.normal(size=(30, 4)) for c in centers])  # new draws of the same mixture
    sorted_floor = size_matched(pool, target, 300, 10, np.random.default_rng(1))
    shuffled_floor = size_matched(pool[rng.permutation(len(pool))], target, 300, 10, np.random.default_rng(2))
    assert sorted_floor == pytest.approx(shuffled_floor, rel=0.5)
    assert frechet_distance(pool[:300], target) > 20 * sorted_floor  # the first rows: two classes only
    assert size_matched(pool, target, 1, 5, rng) is None


def test_frechet_distance_of_singular_covariances_a_duplicated_and_a_constant_feature():
    # features (x, x, c): the covariance s [[1, 1], [1, 1]] plus a zero row and column, rank 1, as dead or
    # copied units give. S_a S_b has the one eigenvalue 4 s t, so FD = 2 (mx - my)^2 + 2 s + 2 t - 4 sqrt(s t)
    # + (ca - cb)^2 = 2 (mx - my)^2 + 2 (sqrt(s) - sqrt(t))^2 + (ca - cb)^2
    x, y = np.array([0.0, 1.0, 5.0, 2.0]), np.array([3.0, -1.0, 0.5, 4.0, 2.0])
    a = np.stack([x, x, np.full(4, 5.0)], 1)
    b = np.stack([y, y, np.full(5, 2.0)], 1)
    s, t = x.var(ddof=1), y.var(ddof=1)
    want = 2 * (x.mean() - y.mean()) ** 2 + 2 * (math.sqrt(s) - math.sqrt(t)) ** 2 + 9.0
    assert frechet_distance(a, b) == pytest.approx(want, rel=1e-9)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    # rank 3 in 8 dimensions: round-off leaves eigenvalues a hair below zero, which must count as zero
    r = np.random.default_rng(0).normal(size=(50, 3)) @ np.random.default_rng(1).normal(size=(3, 8))
    shift = np.arange(8.0) - 2.5
    assert frechet_distance(r, r + shift) == pytest.approx((shift**2).sum(), rel=1e-6)  # sqrt(1e-16): 1e-8


def test_size_matched_draws_without_replacement_from_two_rows_up():
    rng = np.random.default_rng(0)
    pool, b = rng.normal(size=(6, 2)) * [1.0, 3.0], rng.normal(size=(9, 2))
    whole = frechet_distance(pool, b)
    # all six rows in any order is the pool itself; a draw with replacement would repeat rows
    assert size_matched(pool, b, 6, 4, np.random.default_rng(1)) == pytest.approx(whole, rel=1e-9)
    assert size_matched(pool, b, 60, 1, np.random.default_rng(1)) == pytest.approx(whole, rel=1e-9)  # n capped
    assert size_matched(pool[:2], b, 2, 1, np.random.default_rng(1)) == pytest.approx(frechet_distance(pool[:2], b))


def test_digit_metrics_by_hand_with_accuracy_only_for_the_classes_asked_for():
    probs = np.zeros((5, 10))
    probs[0, [3, 5]] = [0.9, 0.1]  # asked 3, says 3
    probs[1, [3, 5]] = [0.6, 0.4]  # asked 5, says 3
    probs[2, [5, 3]] = [0.7, 0.3]  # asked 5, says 5
    probs[3, [5, 0]] = [0.8, 0.2]  # asked 5, says 5
    probs[4, [3, 1]] = [0.5, 0.5]  # asked 3, says 1 (argmax takes the first of a tie)
    classes = np.array([3, 5, 5, 5, 3])
    rng = np.random.default_rng(0)
    feats, ref = rng.normal(size=(5, 3)), rng.normal(size=(7, 3)) + 1.0
    m = dm.digit_metrics(probs, feats, ref, 5, classes)
    assert set(m) == {"classifier_score", "classifier_score_std", "frechet", "classes_covered", "mean_confidence",
                      "class_accuracy", "class_accuracy_3", "class_accuracy_5"}
    assert m["classifier_score"] == pytest.approx(dm.classifier_score(probs, 5)[0]) and m["classifier_score_std"] == 0.0
    assert m["frechet"] == pytest.approx(frechet_distance(feats, ref)) and m["classes_covered"] == 3
    assert m["mean_confidence"] == pytest.approx((0.9 + 0.6 + 0.7 + 0.8 + 0.5) / 5)
    assert m["class_accuracy"] == pytest.approx(3 / 5)
    assert m["class_accuracy_3"] == pytest.approx(1 / 2) and m["class_accuracy_5"] == pytest.approx(2 / 3)
    assert not any(k.startswith("class_accuracy") for k in dm.digit_metrics(probs, feats, ref, 5))


def test_class_coverage():
    assert dm.class_coverage(np.eye(10)[np.arange(100) % 10]) == 10
    assert dm.class_coverage(np.eye(10)[np.zeros(100, dtype=int)]) == 1


def test_digit_collapse_flags_copies_and_few_classes_not_real_variety():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(1000, 8))
    ref = col.feature_diversity(real, rng)
    copies = np.repeat(real[:1], 1000, axis=0)
    c = col.digit_collapse(10, col.feature_diversity(copies, rng), ref, min_classes=5, diversity=0.5)
    assert c["collapsed"] and c["diversity_ratio"] == 0.0 and c["collapsed_because"] == "diversity_ratio < 0.5"
    ok = col.digit_collapse(10, col.feature_diversity(rng.normal(size=(1000, 8)), rng), ref, min_classes=5, diversity=0.5)
    assert not ok["collapsed"] and ok["diversity_ratio"] == pytest.approx(1.0, abs=0.1)
    few = col.digit_collapse(4, ref, ref, min_classes=5, diversity=0.5)
    assert few["collapsed"] and few["collapsed_because"] == "classes_covered < 5"
    assert not col.digit_collapse(5, ref, ref, min_classes=5, diversity=0.5)["collapsed"]


def test_digit_collapse_without_a_diversity_reading_and_at_its_exact_ratio():
    rule = "classes_covered < 5 or diversity_ratio < 0.5"
    assert col.digit_collapse(3, None, 2.0, min_classes=5, diversity=0.5) == {
        "diversity": None, "diversity_ratio": None, "collapsed": True, "collapsed_rule": rule,
        "collapsed_because": "classes_covered < 5"}
    no_ref = col.digit_collapse(10, 1.5, 0.0, min_classes=5, diversity=0.5)
    assert no_ref["diversity"] == 1.5 and no_ref["diversity_ratio"] is None and not no_ref["collapsed"]
    at = col.digit_collapse(10, 1.0, 2.0, min_classes=5, diversity=0.5)  # ratio exactly 0.5: not below it
    assert at["diversity_ratio"] == 0.5 and not at["collapsed"] and at["collapsed_because"] is None
    assert col.digit_collapse(10, 0.96, 2.0, min_classes=5, diversity=0.5)["collapsed_because"] == "diversity_ratio < 0.5"


# ------------------------------------------------------------------ SMILES collapse
PAD, C, O, N = 0, 1, 2, 3
RULES = dict(top_share=0.5, pad_share=0.5, symbol_share=0.9, diversity=0.5)


def _collapse(idx, reference=None, vocab=4):
    return col.smiles_collapse(np.asarray(idx), PAD, vocab, reference or {}, np.random.default_rng(0), **RULES)


def test_collapse_flags_all_pad_output():
    c = _collapse(np.zeros((50, 20), dtype=int))
    # identical rows too, but no top-symbol rule: an all-pad row has no symbol
    assert c["collapsed"] and c["collapsed_because"] == "all_pad_share >= 0.5 and top_output_share >= 0.5"
    # an all-pad row has no symbol: no pad inside a string, no runs, no top-symbol share
    assert c["pad_inside_share"] == 0.0 and c["pad_run_max"] == 0 and c["symbol_run_max"] == 0
    assert c["top_symbol_share_median"] is None


def test_every_collapse_indicator_of_a_small_mixed_set_by_hand():
    rows = np.array([[PAD, PAD, PAD, PAD, PAD],  # all pad
                     [C, PAD, O, PAD, PAD],  # one pad inside the string
                     [N, N, N, O, PAD],
                     [C, PAD, O, PAD, PAD]])  # a copy of row 1
    ref = {"hamming_diversity": 0.1, "position_entropy": 1.0, "vocab_share": 0.5}
    c = _collapse(rows, ref)
    assert c["all_pad_share"] == 0.25 and c["pad_inside_share"] == 0.5 and c["pad_run_max"] == 1
    assert c["symbol_run_max"] == 3 and c["symbol_run_mean"] == pytest.approx((0 + 1 + 3 + 1) / 4)
    assert c["top_output_share"] == 0.5 and c["distinct_outputs"] == 3
    assert c["top_symbol_share_median"] == pytest.approx(0.5)  # rows 1-3: 1/2, 3/4, 1/2
    assert c["vocab_share"] == 1.0 and c["vocab_ratio"] == 2.0  # C, O, N of 3 symbols; pad is not one
    # bits per column: {pad, C, N, C} 1.5, {pad, pad, N, pad} H(3/4), {pad, O, N, O} 1.5, {pad, pad, O, pad} H(3/4), 0
    h34 = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    assert c["position_entropy"] == pytest.approx((1.5 + h34 + 1.5 + h34) / 5)
    assert c["entropy_ratio"] == pytest.approx(c["position_entropy"] / 1.0)
    assert c["hamming_ratio"] == pytest.approx(c["hamming_diversity"] / 0.1)
    assert c["collapsed_because"] == "top_output_share >= 0.5"
    # each rule at its exact threshold: half the rows all pad fires; a Hamming ratio of exactly 0.5 does not
    half_pad = col.smiles_collapse(rows[:2], PAD, 4, {}, np.random.default_rng(0), **{**RULES, "top_share": 0.9})
    assert half_pad["all_pad_share"] == 0.5 and half_pad["collapsed_because"] == "all_pad_share >= 0.5"
    at = _collapse(rows[1:], {"hamming_diversity": 2 * _collapse(rows[1:])["hamming_diversity"]})
    assert at["hamming_ratio"] == 0.5 and "hamming_ratio" not in (at["collapsed_because"] or "")


def test_collapse_flags_one_repeated_output():
    rows = np.tile([C, O, N, C, PAD, PAD], (10, 1))
    rows[0] = [N, N, PAD, PAD, PAD, PAD]
    c = _collapse(rows)
    assert c["collapsed"] and c["top_output_share"] == 0.9 and c["distinct_outputs"] == 2


def test_collapse_flags_one_symbol_of_random_length_and_one_symbol_with_a_stray_other():
    rng = np.random.default_rng(0)
    rows = np.zeros((200, 72), dtype=int)
    for r in rows:
        r[: rng.integers(5, 72)] = C  # C repeated to a random length: distinct outputs, top share small
    c = _collapse(rows)
    assert c["collapsed"] and c["top_output_share"] < 0.1 and c["top_symbol_share_median"] == 1.0
    rows = np.full((200, 72), C)
    rows[np.arange(200), rng.integers(0, 72, 200)] = O  # 71 C and one O at a random place
    c = _collapse(rows)
    assert c["collapsed"] and c["top_symbol_share_median"] == pytest.approx(71 / 72)


def test_one_symbol_rule_fires_at_its_exact_threshold():
    nine = np.array([[C] * 9 + [O], [O] + [C] * 9, [C] * 4 + [O] + [C] * 5, [N, O] * 5])  # median top-symbol share 0.9
    assert _collapse(nine)["top_symbol_share_median"] == pytest.approx(0.9)
    assert _collapse(nine)["collapsed_because"] == "top_symbol_share_median >= 0.9"
    eight = np.array([[C] * 8 + [O, O], [O, O] + [C] * 8, [C] * 4 + [O, O] + [C] * 4, [N, O] * 5])
    assert not _collapse(eight)["collapsed"]


def test_pad_runs_and_symbol_runs_are_reported_apart():
    c = _collapse([[C, C, C, PAD, PAD, PAD, PAD, O, PAD, PAD], [N, N, N, N, N, PAD, PAD, PAD, PAD, PAD]])
    assert c["symbol_run_max"] == 5 and c["pad_run_max"] == 4 and c["pad_inside_share"] == 0.5
    assert c["symbol_run_mean"] == pytest.approx((3 + 5) / 2)


def test_near_copies_are_flagged_against_the_training_reference_and_training_strings_are_not():
    rng = np.random.default_rng(0)
    V, L = 24, 116  # the seed's Stahl canvas: training strings of 20-55 symbols, mostly pad
    train = np.array([np.concatenate([rng.integers(1, V, k), np.zeros(L - k, int)]) for k in rng.integers(20, 55, 600)])
    ref = col.smiles_diversity(train[:300], PAD, V, rng)
    held = _collapse(train[300:], ref, V)
    assert not held["collapsed"] and held["hamming_ratio"] == pytest.approx(1.0, abs=0.05)
    base = np.where(rng.random(L) < 0.7, 5, 7)  # the seed's `PPP2P2...` shape: two symbols, mostly one
    copies = np.array([np.where(rng.random(L) < 0.15, rng.choice([5, 7, 9], L), base) for _ in range(500)])
    c = _collapse(copies, ref, V)
    assert c["collapsed"] and c["hamming_ratio"] < 0.5 and c["collapsed_because"] == "hamming_ratio < 0.5"
    assert c["vocab_share"] == pytest.approx(3 / (V - 1)) and c["top_output_share"] < 0.01


def test_hamming_distance_counts_differing_positions_over_the_pair_extent():
    a, b = [C, O, PAD, PAD, PAD], [C, N, N, PAD, PAD]  # differ at 1 and 2; either has a symbol at 0-2
    assert col.hamming_diversity(np.array([a, b]), PAD, np.random.default_rng(0)) == pytest.approx(2 / 3)
    assert col.hamming_diversity(np.array([[PAD] * 5, [PAD] * 5]), PAD, np.random.default_rng(0)) == 0.0
    assert col.hamming_diversity(np.array([a]), PAD, np.random.default_rng(0)) is None


def test_position_entropy_by_hand():
    idx = np.array([[1, 2], [2, 2], [1, 2], [2, 2]])  # column 0: two symbols half each (1 bit); column 1: 0 bits
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # symbols that never occur (p = 0) add nothing, and no warning
        assert col.position_entropy(idx, 3) == pytest.approx(0.5)
    assert col.vocab_share(idx, 0, 4) == pytest.approx(2 / 3)


# ------------------------------------------------------------------ distribution learning
@pytest.fixture(scope="module")
def nci():
    from rdkit import RDConfig

    from braingan.data.sources import read_smiles_file

    raw = read_smiles_file(Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi").smiles
    can = [c for c in sm.canonical(raw) if c]
    return [can[i] for i in np.random.default_rng(0).permutation(len(can))]


def test_kl_score_of_one_half_of_the_data_against_the_other_is_high(nci):
    half = len(nci) // 2
    score, kl = dist.kl_score(dist.descriptors(nci[:half]), dist.descriptors(nci[half : 2 * half]))
    print(f"KL score half vs half ({half} molecules each): {score:.3f}")
    assert score >= 0.95 and set(kl) == set(dist.CONTINUOUS + dist.DISCRETE + (dist.NN_SIMILARITY,))


def test_kl_score_of_methane_copies_is_low(nci):
    score, _ = dist.kl_score(dist.descriptors(nci[:1000]), dist.descriptors(["C"] * 1000))
    print(f"KL score of 1,000 methanes: {score:.3f}")
    assert score <= 0.3


def test_discrete_kl_by_hand():
    p, q = np.array([0, 0, 1, 1.0]), np.zeros(4)  # P: half in the first bin, half in the last; Q: all in the first
    want = 0.5 * math.log(0.5 / 1.0) + 0.5 * math.log(0.5 / 1e-10)
    assert dist.discrete_kl(p, q) == pytest.approx(want, rel=1e-6)
    # ten bins of width 1 over P's range [0, 10]: 0 and 0.95 share the first (11 bins would split them)
    p, q = np.array([0, 0.95, 10]), np.array([0, 0, 10, 10.0])
    assert dist.discrete_kl(p, q) == pytest.approx(2 / 3 * math.log(4 / 3) + 1 / 3 * math.log(2 / 3), rel=1e-6)
    assert dist.continuous_kl(np.array([0.0, 1, 2, 3]), np.array([0.0, 1, 2, 3])) == pytest.approx(0.0, abs=1e-9)


def test_continuous_kl_is_the_kl_of_the_two_kdes_on_a_1000_point_grid():
    from scipy.stats import entropy, gaussian_kde

    p, q = np.array([0.0, 1, 1.5, 4]), np.array([1.0, 2, 2.5, 6, 7])
    grid = np.linspace(0, 7, 1000)
    want = entropy(gaussian_kde(p)(grid) + 1e-10, gaussian_kde(q)(grid) + 1e-10)
    assert dist.continuous_kl(p, q) == pytest.approx(want, rel=1e-9)


def test_one_value_density_is_a_spike_a_thousandth_of_the_scale_wide():
    grid = np.linspace(1.0, 1.5, 11)  # scale max(1, |x|, grid range) = 1.5: width 1.5e-3
    np.testing.assert_allclose(dist._density(np.array([1.5, 1.5]), grid), np.exp(-0.5 * ((grid - 1.5) / 1.5e-3) ** 2))
    grid = np.linspace(49.9, 50.1, 5)  # scale 50: width 0.05
    np.testing.assert_allclose(dist._density(np.array([50.0, 50.0]), grid), np.exp(-0.5 * ((grid - 50) / 0.05) ** 2))


def test_kl_score_needs_two_molecules_a_side_and_counts_an_incomputable_descriptor_as_zero(monkeypatch):
    two = dist.descriptors(["CCO", "c1ccccc1N"])
    assert dist.kl_score(two, two)[0] == pytest.approx(1.0)  # two molecules on each side are enough
    from rdkit.Chem import Descriptors

    monkeypatch.setattr(Descriptors, "TPSA", lambda m: float("nan"))
    assert dist.descriptors(["CCO", "CCN"])["TPSA"].tolist() == [0.0, 0.0]


def test_nearest_neighbour_similarity_uses_4096_bit_fingerprints(nci):
    smiles = nci[:60]
    for bits, expect_equal in ((4096, True), (1024, False)):  # folding to 1,024 bits changes some similarities
        sim = sm.tanimoto(*(2 * [sm.fingerprints(smiles, bits=bits)]))
        np.fill_diagonal(sim, -1.0)
        assert np.allclose(dist.nearest_neighbour_similarity(smiles), sim.max(1)) == expect_equal


def test_fingerprints_are_float32_and_two_empty_ones_are_identical():
    assert sm.fingerprints(["CCO"]).dtype == np.float32  # [N, 4096] for 10,000 molecules: half the memory of float64
    empty = np.zeros((1, 8), dtype=np.float32)
    assert sm.tanimoto(empty, empty)[0, 0] == 1.0
    one_bit = np.eye(8, dtype=np.float32)[:1]
    assert sm.tanimoto(empty, one_bit)[0, 0] == 0.0 and sm.tanimoto(one_bit, one_bit)[0, 0] == 1.0


def test_heavy_atoms_show_tiny_molecules():
    h = dist.heavy_atoms(dist.descriptors(["C", "CC", "CCCCC", "c1ccccc1CCCCCC"]), dist.descriptors(["c1ccccc1", "CCCC"]))
    assert h["heavy_atoms_mean"] == pytest.approx((1 + 2 + 5 + 12) / 4)
    assert h["small_share"] == pytest.approx(3 / 4)  # at most 5 heavy atoms: 5 itself counts
    assert h["heavy_atoms_ratio"] == pytest.approx(5 / 5)
    assert dist.heavy_atoms(dist.descriptors([]), dist.descriptors(["CCO"])) == {
        "heavy_atoms_mean": None, "heavy_atoms_ratio": None, "small_share": None}


def test_nearest_neighbour_similarity_excludes_itself():
    s = dist.nearest_neighbour_similarity(["CCO", "CCO", "c1ccccc1"])
    assert s[0] == 1.0 and s[1] == 1.0 and s[2] == 0.0


def test_fcd_score_of_a_set_against_itself_is_one(nci):
    act = dist.ChemNet().activations(nci[:60])
    assert dist.fcd_score(dist.fcd(act, act)) == pytest.approx(1.0, abs=1e-3)
    other = dist.ChemNet().activations(["C" * k for k in range(1, 61)])
    assert dist.fcd(other, act) > 10


def test_fcd_score_is_exp_of_minus_a_fifth_of_the_distance():
    assert dist.fcd_score(5.0) == pytest.approx(math.exp(-1.0))
    assert dist.fcd_score(None) is None


def test_fcd_needs_two_molecules_on_each_side():
    a = np.array([[0.0, 1.0], [2.0, 0.0]])  # exactly two: defined
    b = np.array([[1.0, 1.0], [3.0, 2.0], [0.0, 4.0]])
    assert dist.fcd(a, b) == pytest.approx(frechet_distance(a, b)) and dist.fcd(b, a) is not None
    assert dist.fcd(a[:1], b) is None and dist.fcd(b, a[:1]) is None


def test_chemnet_activations_of_no_molecule_are_an_empty_512_column_float32_array():
    a = dist.ChemNet().activations([])
    assert a.shape == (0, 512) and a.dtype == np.float32


def test_activation_pool_computes_only_the_rows_asked_for_once_each_and_equal_to_the_whole_set(nci):
    class Counting(dist.ChemNet):
        def __init__(self):
            super().__init__()
            self.asked = []

        def activations(self, smiles):
            self.asked.append(list(smiles))
            return super().activations(smiles)

    net = Counting()
    pool = dist.ActivationPool(net, nci[:40])
    whole = dist.ChemNet().activations(nci[:40])
    assert len(pool) == 40 and net.asked == []
    got = pool[np.array([7, 2, 7, 31])]  # a repeat, out of order
    assert net.asked == [[nci[2], nci[7], nci[31]]]  # each once
    # fcd pads every molecule to 350 symbols, so a batch changes nothing but the GEMM's round-off
    np.testing.assert_allclose(got, whole[[7, 2, 7, 31]], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pool[np.array([31, 5])], whole[[31, 5]], rtol=1e-5, atol=1e-6)  # a batch of one
    assert net.asked[1:] == [[nci[5]]] and pool.done.sum() == 4
