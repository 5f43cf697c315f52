"""Intervals over seeds (dysta_sw.stats) against hand-computed and printed values."""

import math

import numpy as np
import pytest

from dysta_sw.stats import (
    FAILS,
    HOLDS,
    UNDECIDED,
    Interval,
    combine,
    mean_ci,
    paired_ci,
    t_cdf,
    t_quantile,
    verdict_below,
    verdict_within,
)

# NIST/SEMATECH e-Handbook of Statistical Methods, section 1.3.6.7.2 (upper critical values of
# Student's t): (degrees of freedom, upper-tail probability) -> value, printed to 3 decimals.
NIST = {(1, 0.025): 12.706, (2, 0.025): 4.303, (3, 0.025): 3.182, (4, 0.025): 2.776, (9, 0.025): 2.262,
        (19, 0.025): 2.093, (29, 0.025): 2.045, (100, 0.025): 1.984, (5, 0.005): 4.032, (10, 0.05): 1.812,
        (30, 0.10): 1.310}


@pytest.mark.parametrize("df, tail", sorted(NIST))
def test_t_quantile_matches_the_printed_table(df, tail):
    assert t_quantile(1 - tail, df) == pytest.approx(NIST[(df, tail)], abs=6e-4)


def test_t_quantile_closed_forms():
    # df = 1 is the Cauchy distribution: quantile tan(pi (p - 1/2)); df = 2: (2p - 1) sqrt(2 / (4p(1-p)))
    for p in (0.6, 0.9, 0.975, 0.995):
        assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)
        assert t_quantile(p, 2) == pytest.approx((2 * p - 1) * math.sqrt(2 / (4 * p * (1 - p))), rel=1e-9)
    assert t_quantile(0.5, 7) == 0.0
    assert t_quantile(0.025, 4) == pytest.approx(-t_quantile(0.975, 4))
    # a large df approaches the normal quantile 1.959964
    assert t_quantile(0.975, 1e6) == pytest.approx(1.959964, abs=1e-5)
    assert t_cdf(0.0, 3) == 0.5


def test_interval_of_three_numbers_by_hand():
    # 1, 2, 6: mean 3; s^2 = (4 + 1 + 9) / 2 = 7; half = t(0.975, 2) sqrt(7 / 3) = 4.302653 * 1.527525 = 6.572411
    ci = mean_ci([1.0, 2.0, 6.0])
    assert ci.mean == 3.0 and ci.n == 3
    assert ci.half == pytest.approx(6.572411, abs=1e-6)
    assert (ci.low, ci.high) == pytest.approx((-3.572411, 9.572411), abs=1e-6)
    assert ci.text() == "3.00 ± 6.57"
    assert ci.text(100, 1) == "300.0 ± 657.2"


def test_paired_interval_by_hand():
    # differences 1 - 0.5, 2 - 1.0, 3 - 2.0 = 0.5, 1.0, 1.0: mean 5/6, s^2 = (1/9 + 1/36 + 1/36) / 2 = 1/12
    ci = paired_ci([1.0, 2.0, 3.0], [0.5, 1.0, 2.0])
    assert ci.mean == pytest.approx(5 / 6)
    assert ci.half == pytest.approx(4.302653 * math.sqrt(1 / 12 / 3), rel=1e-6)
    # pairing removes the shared seed-to-seed variance: separate intervals overlap, the paired one excludes 0
    a, b = np.array([10.0, 20.0, 30.0, 40.0]), np.array([9.0, 19.2, 28.9, 39.1])
    assert mean_ci(a).low < mean_ci(b).high
    assert paired_ci(a, b).low > 0
    with pytest.raises(ValueError, match="one of each per seed"):
        paired_ci([1.0, 2.0], [1.0])


def test_one_seed_says_nothing_about_the_spread():
    ci = mean_ci([0.3])
    assert ci.mean == 0.3 and math.isinf(ci.half)
    assert ci.text() == "0.30"
    assert verdict_below(ci) == UNDECIDED
    with pytest.raises(ValueError):
        mean_ci([])


def test_equal_values_give_a_zero_width_interval():
    ci = mean_ci([2.5, 2.5, 2.5, 2.5])
    assert (ci.mean, ci.half) == (2.5, 0.0)


def test_verdicts_on_constructed_intervals():
    assert verdict_below(Interval(-2.0, 1.0, 5)) == HOLDS  # [-3, -1]
    assert verdict_below(Interval(2.0, 1.0, 5)) == FAILS  # [1, 3]
    assert verdict_below(Interval(-0.5, 1.0, 5)) == UNDECIDED  # [-1.5, 0.5]
    assert verdict_below(Interval(0.0, 0.0, 5)) == UNDECIDED  # exactly 0 is not below 0
    assert verdict_within(Interval(0.5, 1.0, 5), 2.0) == HOLDS  # [-0.5, 1.5] inside +/- 2
    assert verdict_within(Interval(3.5, 1.0, 5), 2.0) == FAILS  # [2.5, 4.5] outside
    assert verdict_within(Interval(-3.5, 1.0, 5), 2.0) == FAILS
    assert verdict_within(Interval(1.5, 1.0, 5), 2.0) == UNDECIDED  # [0.5, 2.5] straddles 2


def test_combining_parts():
    assert combine([HOLDS, HOLDS]) == HOLDS
    assert combine([HOLDS, UNDECIDED]) == UNDECIDED
    assert combine([HOLDS, UNDECIDED, FAILS]) == FAILS
    assert combine([]) == UNDECIDED
