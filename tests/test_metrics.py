"""Metric definitions against values worked out by hand, on asymmetric inputs."""
import math
from pathlib import Path

import numpy as np
import pytest

from braingan.metrics import collapse as col
from braingan.metrics import digits as dm
from braingan.metrics import distribution as dist
from braingan.metrics import smiles as sm
from braingan.metrics.frechet import frechet_distance, size_matched


# ------------------------------------------------------------------ MOSES metrics
def test_moses_example():
    gen = ["CCNC", "CCC", "INVALID", "CCC", None, ""]
    can = sm.canonical(gen)
    valid = [c for c in can if c]
    assert sm.validity(gen) == 0.5
    assert sm.fraction_unique(valid, 2) == 1.0 and sm.fraction_unique(valid) == pytest.approx(2 / 3)
    assert sm.novelty(valid, {"CCC"}) == 0.5  # of {CCNC, CCC}, only CCNC is not in training


@pytest.mark.parametrize("s", ["", None, "C1CC", "C(C"])
def test_empty_none_and_broken_strings_are_invalid(s):
    assert sm.validity([s]) == 0.0


def test_undefined_values_are_none_not_numbers():
    assert sm.fraction_unique([]) is None and sm.novelty([], {"C"}) is None and sm.internal_diversity([]) is None
    assert sm.fraction_unique(["CCO"] * 24, 1000) is None  # unique@1000 of 24 molecules: MOSES refuses
    assert sm.fraction_unique(["CCO"] * 24) == pytest.approx(1 / 24)
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


# ------------------------------------------------------------------ SMILES collapse
PAD, C, O, N = 0, 1, 2, 3
RULES = dict(top_share=0.5, pad_share=0.5, symbol_share=0.9, diversity=0.5)


def _collapse(idx, reference=None, vocab=4):
    return col.smiles_collapse(np.asarray(idx), PAD, vocab, reference or {}, np.random.default_rng(0), **RULES)


def test_collapse_flags_all_pad_output():
    c = _collapse(np.zeros((50, 20), dtype=int))
    assert c["collapsed"] and c["all_pad_share"] == 1.0 and "all_pad_share >= 0.5" in c["collapsed_because"]


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
    assert dist.continuous_kl(np.array([0.0, 1, 2, 3]), np.array([0.0, 1, 2, 3])) == pytest.approx(0.0, abs=1e-9)


def test_heavy_atoms_show_tiny_molecules():
    h = dist.heavy_atoms(dist.descriptors(["C", "CC", "c1ccccc1CCCCCC"]), dist.descriptors(["c1ccccc1", "CCCC"]))
    assert h["heavy_atoms_mean"] == pytest.approx((1 + 2 + 12) / 3) and h["small_share"] == pytest.approx(2 / 3)
    assert h["heavy_atoms_ratio"] == pytest.approx(5 / 5)


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
