"""Intervals of measured shares and of per-seed means."""

import numpy as np
import pytest
from scipy import stats

from topolib.metrics.intervals import Interval, across_seeds, share, wilson_interval


def test_wilson_matches_the_textbook_values():
    # Newcombe (1998), table I: 81 of 263 -> [0.2553, 0.3662] at 95%.
    low, high = wilson_interval(81, 263)
    assert low == pytest.approx(0.2553, abs=5e-4) and high == pytest.approx(0.3662, abs=5e-4)


def test_wilson_is_honest_at_zero_and_n():
    low, high = wilson_interval(0, 2000)
    assert low == 0.0 and high == pytest.approx(0.00192, abs=1e-4)
    low, high = wilson_interval(64, 64)
    assert high == 1.0 and 0.9 < low < 0.95


def test_wilson_covers_the_true_share_about_as_often_as_it_says():
    rng = np.random.default_rng(0)
    p, n, hits = 0.1, 200, 0
    for _ in range(2000):
        low, high = wilson_interval(int(rng.binomial(n, p)), n)
        hits += low <= p <= high
    assert 0.93 <= hits / 2000 <= 0.97


def test_share_of_flags():
    flags = np.zeros(2000, dtype=bool)
    flags[:320] = True
    s = share(flags)
    assert s.value == pytest.approx(0.16) and s.low < 0.16 < s.high and s.n == 2000
    assert s.above(0.05) and not s.below(0.05) and s.contains(0.16)
    assert str(s) == "16% [14%, 18%]"


def test_separation():
    a = Interval(0.16, 0.14, 0.18, 2000)
    b = Interval(0.02, 0.01, 0.03, 2000)
    c = Interval(0.17, 0.15, 0.19, 2000)
    assert a.separated_from(b) and a.greater_than(b) and not b.greater_than(a)
    assert not a.separated_from(c)


def test_across_seeds_is_the_t_interval():
    values = [0.12, 0.18, 0.15, 0.2]
    iv = across_seeds(values)
    low, high = stats.t.interval(0.95, 3, loc=np.mean(values), scale=stats.sem(values))
    assert iv.value == pytest.approx(np.mean(values))
    assert iv.low == pytest.approx(low) and iv.high == pytest.approx(high) and iv.n == 4


def test_across_seeds_clips_shares_but_not_other_means():
    assert across_seeds([0.0, 0.01, 0.0]).low == 0.0
    assert across_seeds([-1.0, 1.0], percent=False).low < -1


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: wilson_interval(3, 0), ValueError, "n >= 1"),
        (lambda: wilson_interval(5, 4), ValueError, "successes <= n"),
        (lambda: wilson_interval(1.5, 4), TypeError, "successes must be an integer"),
        (lambda: wilson_interval(1, 4, level=95), ValueError, "level"),
        (lambda: share(np.array([0.1, 0.2])), TypeError, "boolean"),
        (lambda: share(np.array([], dtype=bool)), ValueError, "non-empty"),
        (lambda: across_seeds([0.1]), ValueError, "at least 2"),
        (lambda: across_seeds([0.1, np.nan]), ValueError, "finite"),
    ],
)
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
