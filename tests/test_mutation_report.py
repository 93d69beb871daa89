"""The mutation report's statistics (benchmarks/mutation_report.py) against values worked out by hand."""
import sys

import pytest

from helpers import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from mutation_report import clopper_pearson, weighted_score  # noqa: E402


def test_clopper_pearson_by_hand():
    # every mutant of 8 killed: the lower bound solves p**8 = 0.025, the upper is 1
    assert clopper_pearson(8, 8) == pytest.approx((0.025 ** (1 / 8), 1.0))
    # none of 5: the upper bound solves (1 - p)**5 = 0.025
    assert clopper_pearson(0, 5) == pytest.approx((0.0, 1 - 0.025 ** (1 / 5)))
    # 1 of 2: Beta(1, 2) and Beta(2, 1) quantiles, 1 - sqrt(1 - 0.025) and sqrt(0.975)
    assert clopper_pearson(1, 2) == pytest.approx((1 - 0.975 ** 0.5, 0.975 ** 0.5))


def test_all_mutants_weigh_each_module_by_its_size_not_its_sample():
    # 8 of 8 killed in a module of 100 mutants, 4 of 8 in one of 300: (100 * 1 + 300 * 0.5) / 400
    assert weighted_score([(100, 1.0), (300, 0.5)]) == pytest.approx(0.625)
