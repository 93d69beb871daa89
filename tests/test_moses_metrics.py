"""The MOSES metrics (metrics/moses.py), each against values worked out by hand on a few
molecules or bit vectors, and the reference statistics' cache."""
import warnings
from collections import Counter

import numpy as np
import pytest
from rdkit import Chem

from braingan.metrics import moses
from braingan.metrics.distribution import ChemNet


def test_valid_counts_every_string_and_keeps_the_valid_ones_canonical_in_order():
    v, can = moses.valid_canonical(["OCC", "", "C1CC", "c1ccccc1", None])  # empty, unclosed ring, None: invalid
    assert v == 2 / 5 and can == ["CCO", "c1ccccc1"]


def test_unique_at_k_is_over_the_first_k_and_warns_when_there_are_fewer():
    assert moses.unique_at(["CCO", "CCO", "CCN", "CCC"], 2) == 1 / 2  # the first two: one distinct
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert moses.unique_at(["CCO", "CCO", "CCN"], 1000) == 2 / 3
    assert "only 3 valid molecules" in str(w[0].message)
    assert moses.unique_at([], 10) is None


def test_novelty_is_over_the_distinct_valid_molecules():
    assert moses.novelty(["CCO", "CCO", "CCN", "CCC"], {"CCO", "CCCl"}) == 2 / 3  # {CCO, CCN, CCC} - {CCO}


def test_snn_is_the_mean_highest_tanimoto_to_the_reference():
    gen = np.array([[1, 1, 0, 0], [0, 0, 1, 1]], np.uint8)
    ref = np.array([[1, 0, 0, 0], [0, 0, 1, 1], [1, 1, 1, 1]], np.uint8)
    # gen 0: 1/2, 0, 2/4 -> 0.5; gen 1: 0, 1, 2/4 -> 1.0
    assert moses.snn(gen, ref) == pytest.approx(0.75)
    assert moses.snn(gen, ref, chunk=1) == pytest.approx(0.75)  # chunking changes nothing


def test_int_div_and_int_div2_by_hand():
    fps = np.array([[1, 1, 0], [1, 0, 0]], np.uint8)  # T = [[1, 1/2], [1/2, 1]]
    assert moses.int_div(fps, 1) == pytest.approx(1 - 0.75)  # each row's mean: (1 + 0.5) / 2
    assert moses.int_div(fps, 2) == pytest.approx(1 - np.sqrt((1 + 0.25) / 2))


def test_cos_similarity_of_counts_over_the_union_of_keys():
    assert moses.cos_similarity(Counter(a=1, b=2), Counter(b=1, c=2)) == pytest.approx(2 / 5)
    assert moses.cos_similarity(Counter(a=3), Counter(a=1)) == pytest.approx(1.0)
    assert moses.cos_similarity(Counter(), Counter(a=1)) is None


def test_brics_fragments_and_two_ring_scaffolds():
    mols = [Chem.MolFromSmiles(s) for s in ("CC(=O)NC", "CC(=O)Nc1ccccc1", "c1ccccc1")]
    # the amide bond is a BRICS bond (C(=O) label 1, N label 5); benzene has none
    assert moses.fragments(mols) == Counter({"[1*]C(C)=O": 2, "[5*]NC": 1, "[16*]c1ccccc1": 1, "[5*]N[5*]": 1,
                                             "c1ccccc1": 1})
    scaf = [Chem.MolFromSmiles(s) for s in ("c1ccccc1CCc1ccccc1", "Cc1ccccc1", "CCO", "c1ccc(CCc2ccccc2)cc1")]
    # toluene's scaffold (benzene) has one ring and ethanol none: MOSES keeps scaffolds of two rings or more
    assert moses.scaffolds(scaf) == Counter({"c1ccc(CCc2ccccc2)cc1": 2})


def test_filters_refuse_charges_other_atoms_big_rings_and_smarts_matches():
    # the files' layouts: MCF with a header; PAINS without, its SMARTS padded with spaces
    f = moses.Filters("names,smarts\nMCF1,[#6]=&!@[#6]-[#6]#[#7]\n", '"[OH]c1ccccc1"   ,"<regId=phenol>"\n')
    ok = {s: f.passes(Chem.MolFromSmiles(s)) for s in
          ("CCO", "C[N+](C)(C)C", "CCP", "C1CCCCCCC1", "C1CCCCCC1", "C=CC#N", "Oc1ccccc1", "c1ccccc1")}
    assert ok == {"CCO": True, "C[N+](C)(C)C": False, "CCP": False, "C1CCCCCCC1": False, "C1CCCCCC1": True,
                  "C=CC#N": False, "Oc1ccccc1": False, "c1ccccc1": True}
    assert f.share([Chem.MolFromSmiles(s) for s in ("CCO", "CCP", "CCN", "CCS")]) == 3 / 4


def test_filter_smarts_that_do_not_parse_are_counted_in_the_error():
    with pytest.raises(ValueError, match="^2 filter SMARTS do not parse"):
        moses.Filters("names,smarts\nA,[#6]\nB,C(((\n", '"[OH]c1ccccc1","<regId=phenol>"\n"c1((","x"\n')


def test_frechet_to_reference_statistics_by_hand():
    act = np.array([[0, 0], [2, 0], [0, 2], [2, 2]], float)  # mean (1, 1), covariance 4/3 I
    cov = np.eye(2) * 4 / 3
    assert moses.frechet_to_stats(act, np.ones(2), cov) == pytest.approx(0.0, abs=1e-9)
    assert moses.frechet_to_stats(act, np.zeros(2), cov) == pytest.approx(2.0)  # |(1, 1)|^2
    assert moses.frechet_to_stats(act[:1], np.zeros(2), cov) is None


def test_reference_statistics_are_cached_by_what_they_depend_on(tmp_path):
    net = ChemNet()
    smiles = ["CCO", "CC(=O)Nc1ccccc1", "c1ccc(CCc2ccccc2)cc1", "CCN"]
    first = moses.reference_stats(smiles, tmp_path, net)
    (cached,) = tmp_path.glob("moses-*.npz")
    assert cached.name == f"moses-{moses.strings_key(smiles)}.npz"
    again = moses.reference_stats(smiles, tmp_path, None)  # no network needed: read from the cache
    assert again["frag"] == first["frag"] and again["scaf"] == first["scaf"] and again["n"] == 4
    np.testing.assert_array_equal(again["fps"], first["fps"])
    np.testing.assert_allclose(again["mu"], first["mu"])
    assert moses.strings_key(smiles[:3]) != moses.strings_key(smiles)  # other strings, other key


def test_reference_statistics_in_parts_equal_those_in_one_and_show_their_progress(tmp_path, capsys):
    net = ChemNet()
    smiles = ["CCO", "CC(=O)Nc1ccccc1", "xyz", "c1ccc(CCc2ccccc2)cc1", "O=C(Nc1ccccc1)C1CC1", "CCN", "c1ccccc1CC1CCCC1"]
    whole = moses.reference_stats(smiles, None, net)
    assert "MOSES reference statistics" not in capsys.readouterr().err  # one part: no bar
    parts = moses.reference_stats(smiles, None, net, chunk=3)  # parts of 3, 3 and 1 strings
    err = capsys.readouterr().err
    assert "MOSES reference statistics" in err and "7/7" in err, err
    assert parts["n"] == whole["n"] == 6 and parts["frag"] == whole["frag"] and parts["scaf"] == whole["scaf"]
    np.testing.assert_array_equal(parts["fps"], whole["fps"])
    np.testing.assert_allclose(parts["mu"], whole["mu"], atol=1e-6)
    np.testing.assert_allclose(parts["sigma"], whole["sigma"], atol=1e-6)


def test_every_metric_of_a_set_against_itself(tmp_path):
    """A set scored against itself as the reference: SNN, Frag, Scaf 1 and FCD 0 by definition."""
    net = ChemNet()
    smiles = ["CCO", "CC(=O)Nc1ccccc1", "c1ccc(CCc2ccccc2)cc1", "CCN", "O=C(Nc1ccccc1)C1CC1", "c1ccccc1"]
    ref = moses.reference_stats(smiles, tmp_path, net)
    f = moses.Filters("names,smarts\n", "")
    m = moses.metrics(smiles + ["C1CC"], {"Test": ref}, {"CCO"}, f, net, ks=(2, 1000))
    assert m["valid"] == 6 / 7 and m["unique@2"] == 1.0 and m["n_valid"] == 6
    assert m["SNN/Test"] == pytest.approx(1.0) and m["Frag/Test"] == pytest.approx(1.0)
    assert m["Scaf/Test"] == pytest.approx(1.0) and m["FCD/Test"] == pytest.approx(0.0, abs=1e-3)
    assert m["Novelty"] == 5 / 6 and m["Filters"] == 1.0 and 0 < m["IntDiv2"] < m["IntDiv"] < 1
