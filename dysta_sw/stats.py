"""Statistics over seeds: Student-t confidence intervals, paired differences and verdicts.

Every result of the benchmark is a mean over independent seeds (one request table per seed,
shared by every scheduler: common random numbers). Its uncertainty is stated as a two-sided
Student-t interval, ``mean +/- t_{1 - (1 - level) / 2, n - 1} * s / sqrt(n)`` with ``s`` the
sample standard deviation (``ddof = 1``) of the ``n`` per-seed values, at ``level = 0.95`` by
default. A difference between two schedulers is a *paired* difference: per seed, the value of
one minus the value of the other on the same request table, and its t interval; pairing removes
the variance the schedulers share (the load of that seed's table), so it decides with far fewer
seeds than two separate intervals would.

The t quantile is computed here with numpy and :mod:`math` only (no scipy in ``dysta_sw``):
Student's t distribution function through the regularised incomplete beta function (its
continued fraction, evaluated by the modified Lentz method, as in Press et al., *Numerical
Recipes*, 3rd ed., section 6.4), inverted by bisection to 1e-12. ``tests/test_stats.py`` checks it
against the printed table of the NIST/SEMATECH e-Handbook of Statistical Methods (section
1.3.6.7.2, critical values of Student's t).

A *verdict* says what an interval decides about a claim: ``holds`` when the whole interval is on
the claimed side, ``does not hold`` when the whole interval is on the other side, ``not
significant`` when it contains the boundary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["LEVEL", "t_cdf", "t_quantile", "Interval", "mean_ci", "paired_ci", "HOLDS", "FAILS", "UNDECIDED",
           "verdict_below", "verdict_within", "combine"]

#: The confidence level of every interval the report prints.
LEVEL = 0.95

HOLDS, FAILS, UNDECIDED = "holds", "does not hold", "not significant"


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz's method)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function ``I_x(a, b)``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Student's t distribution function with ``df`` degrees of freedom at ``t``."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, not {df}")
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (bisection on :func:`t_cdf`)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"a quantile needs 0 < p < 1, not {p}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if p == 0.5:
        return 0.0
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` seeds and its two-sided Student-t interval ``[low, high]`` at ``level``.

    With one seed the half-width is ``inf`` (one value says nothing about its spread)."""

    mean: float
    half: float
    n: int
    level: float = LEVEL

    @property
    def low(self) -> float:
        return self.mean - self.half

    @property
    def high(self) -> float:
        return self.mean + self.half

    def text(self, scale: float = 1.0, digits: int = 2) -> str:
        """``mean ± half`` (``scale`` multiplies both, e.g. 100 for percent)."""
        if not math.isfinite(self.half):
            return f"{scale * self.mean:.{digits}f}"
        return f"{scale * self.mean:.{digits}f} ± {scale * self.half:.{digits}f}"


def mean_ci(values, level: float = LEVEL) -> Interval:
    """The mean of ``values`` (one per seed) and its Student-t interval (see module documentation)."""
    v = np.asarray(values, np.float64)
    n = v.size
    if n == 0:
        raise ValueError("an interval needs at least one value")
    mean = float(v.mean())
    if n == 1:
        return Interval(mean, math.inf, 1, level)
    s = float(v.std(ddof=1))
    return Interval(mean, t_quantile(1.0 - (1.0 - level) / 2.0, n - 1) * s / math.sqrt(n), n, level)


def paired_ci(a, b, level: float = LEVEL) -> Interval:
    """The mean of ``a - b`` over seeds (``a[k]`` and ``b[k]`` from the same seed) and its interval."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values need one of each per seed, got {a.size} and {b.size}")
    return mean_ci(a - b, level)


def verdict_below(ci: Interval, bound: float = 0.0) -> str:
    """Claim "the quantity is below ``bound``" (e.g. Dysta minus a baseline below 0)."""
    if ci.high < bound:
        return HOLDS
    if ci.low > bound:
        return FAILS
    return UNDECIDED


def verdict_within(ci: Interval, tolerance: float) -> str:
    """Claim "the quantity is within ``+/- tolerance``" (e.g. "similar violation rates"): holds when
    the whole interval is inside, does not hold when the whole interval is outside."""
    if -tolerance <= ci.low and ci.high <= tolerance:
        return HOLDS
    if ci.low > tolerance or ci.high < -tolerance:
        return FAILS
    return UNDECIDED


def combine(verdicts) -> str:
    """A claim made of several parts: it holds when every part holds, does not hold when any part
    does not, and is not significant otherwise."""
    verdicts = list(verdicts)
    if any(v == FAILS for v in verdicts):
        return FAILS
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    return UNDECIDED
