"""Intervals for the book's measured shares and means, so verdicts carry their uncertainty.

A share measured on ``n`` independent draws (samples off the manifold, valid interpolation
paths) gets a Wilson score interval; a quantity measured once per training seed gets a
Student-t interval across the seeds. Both come back as an :class:`Interval` that prints as
``"16% [14%, 18%]"`` and answers the questions a verdict asks (is it below a threshold? does
it separate from another interval?).

>>> off = share(projection.off_manifold())          # Interval over the samples
>>> off.below(0.05), off.separated_from(control_off)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Interval", "across_seeds", "share", "wilson_interval"]


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided interval.

    Attributes
    ----------
    value : the estimate (a share in [0, 1], or a mean).
    low, high : interval bounds at ``level``.
    n : number of draws (or seeds) behind it.
    level : coverage of the interval, e.g. 0.95.
    percent : print as percentages (shares) rather than plain numbers.
    """

    value: float
    low: float
    high: float
    n: int
    level: float = 0.95
    percent: bool = True

    def below(self, x: float) -> bool:
        """The whole interval lies below ``x``: the quantity is smaller than ``x``."""
        return bool(self.high < x)

    def above(self, x: float) -> bool:
        """The whole interval lies above ``x``."""
        return bool(self.low > x)

    def contains(self, x: float) -> bool:
        """``x`` lies inside the interval (the data cannot tell it from the estimate)."""
        return bool(self.low <= x <= self.high)

    def separated_from(self, other: Interval) -> bool:
        """The two intervals do not overlap (a conservative test of a difference)."""
        return bool(self.high < other.low or other.high < self.low)

    def greater_than(self, other: Interval) -> bool:
        """This interval lies wholly above ``other``."""
        return bool(self.low > other.high)

    def fmt(self, digits: int = 0) -> str:
        """``"16% [14%, 18%]"`` (shares) or ``"0.16 [0.14, 0.18]"``."""
        if self.percent:
            f = f"{{:.{digits}%}}"
        else:
            f = f"{{:.{max(digits, 2)}f}}"
        return f"{f.format(self.value)} [{f.format(self.low)}, {f.format(self.high)}]"

    def __str__(self) -> str:
        # Small shares get a decimal, so that "0 of 2,000" reads 0% [0%, 0.2%], not [0%, 0%].
        return self.fmt(1 if self.percent and self.high < 0.1 else 0)

    def __format__(self, spec: str) -> str:
        return self.fmt(int(spec)) if spec.isdigit() else str(self)


def _check_level(level: object) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level must be a number in (0, 1); got {level!r}")
    return float(level)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial share ``successes / n``.

    Unlike the normal approximation it stays inside [0, 1] and is honest at 0 and n
    successes (0 of 2,000 gives [0, 0.19%], not [0, 0]).

    Parameters
    ----------
    successes : number of draws with the property, ``0 <= successes <= n``.
    n : number of draws, >= 1.
    level : coverage, in (0, 1).

    Returns
    -------
    ``(low, high)``
    """
    level = _check_level(level)
    for value, name in ((successes, "successes"), (n, "n")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an integer; got {type(value).__name__}")
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need n >= 1 and 0 <= successes <= n; got successes={successes}, n={n}")
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    # Exact at the ends: 0 successes cannot have a positive lower bound, and n cannot have
    # an upper bound below 1 (rounding can otherwise leave 1e-17 there).
    return (0.0 if successes == 0 else low), (1.0 if successes == n else high)


def share(flags: object, level: float = 0.95) -> Interval:
    """Share of True among ``flags`` with its Wilson interval.

    Parameters
    ----------
    flags : boolean array-like, shape ``(n,)``, n >= 1 (e.g. ``projection.off_manifold()``).
    level : coverage of the interval.
    """
    arr = np.asarray(flags)
    if arr.dtype != bool:
        raise TypeError(f"flags must be a boolean array; got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"flags must be a non-empty 1-D array; got shape {arr.shape}")
    k, n = int(arr.sum()), int(arr.size)
    low, high = wilson_interval(k, n, level)
    return Interval(k / n, low, high, n, level, percent=True)


def across_seeds(values: Sequence[float], level: float = 0.95, percent: bool = True) -> Interval:
    """Mean over training seeds with a Student-t interval.

    Parameters
    ----------
    values : one measurement per seed (at least 2, all finite).
    level : coverage of the interval.
    percent : whether the values are shares (printed as percentages).
    """
    level = _check_level(level)
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or x.size < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"values must hold at least 2 finite numbers, one per seed; got {values!r}")
    mean = float(x.mean())
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    low, high = mean - half, mean + half
    if percent:
        low, high = max(0.0, low), min(1.0, high)
    return Interval(mean, low, high, int(x.size), level, percent=percent)
