"""Metrics of a run (SPEC 4).

For ``N`` requests with arrival ``a``, finish ``f``, deadline ``D`` and true isolated latency
``Tiso`` of the request's sample:

- ``antt``: mean of ``(f - a) / Tiso``;
- ``violation_rate``: fraction of requests with ``f > D``;
- ``stp``: ``N / (max f - min a)`` in requests per second; ``makespan_s`` is that denominator;
- ``p50/p95/p99_turnaround_s``: percentiles (linear interpolation) of ``f - a`` in seconds;
- ``preemptions``: dispatches that switched away from a started, unfinished request;
- ``per_model``: the same ANTT, violation rate and count per model.
"""

from __future__ import annotations

import numpy as np

from .tables import ScenarioTables
from .workload import Workload

#: Scalar metric keys, in report order.
METRIC_KEYS = ("antt", "violation_rate", "stp", "p50_turnaround_s", "p95_turnaround_s",
               "p99_turnaround_s", "makespan_s", "preemptions", "decisions")


def isolated_latency(tables: ScenarioTables, workload: Workload) -> np.ndarray:
    """True isolated latency ``Tiso`` of each request's sample."""
    return tables.tiso[tables.tiso_base[workload.mp] + workload.sample]


def normalised_turnaround(tables: ScenarioTables, workload: Workload, finish: np.ndarray) -> np.ndarray:
    """``(f - a) / Tiso`` of each request (its mean is the ANTT)."""
    return (finish - workload.arrival) / isolated_latency(tables, workload)


def antt_and_violation(tables: ScenarioTables, workload: Workload, finish: np.ndarray,
                       deadlines: np.ndarray) -> tuple[float, float]:
    """The run's ANTT and violation rate alone (as :func:`compute` gives them)."""
    return (float(normalised_turnaround(tables, workload, finish).mean()),
            float((finish > deadlines).mean()))


#: The turnaround percentiles of :func:`compute`, as :func:`numpy.percentile` takes them (q / 100).
_PCT = np.true_divide(np.array([50, 95, 99]), 100)
_LERP: dict = {}


def _lerp_plan(n: int) -> tuple:
    """For ``n`` values: the sorted positions each percentile interpolates between and its weight,
    computed as :func:`numpy.percentile` (method ``linear``) computes them."""
    plan = _LERP.get(n)
    if plan is None:
        virtual = (n - 1) * _PCT
        prev = np.floor(virtual)
        nxt = prev + 1
        above = virtual >= n - 1
        prev[above] = nxt[above] = -1
        prev, nxt = prev.astype(np.intp), nxt.astype(np.intp)
        gamma = np.asarray(virtual - prev, dtype=virtual.dtype)
        plan = _LERP[n] = (prev, nxt, gamma, 1 - gamma, gamma >= 0.5)
    return plan


def percentiles(x: np.ndarray) -> np.ndarray:
    """The 50th, 95th and 99th percentiles of ``x`` (float64, 1-D, not empty), equal bit for bit
    to ``np.percentile(x, [50, 95, 99])`` (linear interpolation between the sorted values, NaN
    when ``x`` has one) at a tenth of its cost: a run's metrics are computed for every row of a grid."""
    s = np.sort(x)
    if np.isnan(s[-1]):
        return np.full(3, np.nan)
    prev, nxt, gamma, rest, upper = _lerp_plan(len(s))
    a, b = s[prev], s[nxt]
    diff = b - a
    out = a + diff * gamma
    np.subtract(b, diff * rest, out=out, where=upper)
    return out


def compute(tables: ScenarioTables, workload: Workload, finish: np.ndarray, deadlines: np.ndarray,
            preemptions: int = 0, decisions: int = 0) -> dict:
    """All metrics of one run (see module documentation).

    Means are ``np.add.reduce(x) / len(x)``, which is what ``x.mean()`` computes (the same
    pairwise sum) without its overhead; a model's requests are taken in arrival order from one
    stable sort by model, so its sums add the same values in the same order as a mask would.
    """
    a = workload.arrival
    n = len(a)
    turnaround = finish - a
    ntt = normalised_turnaround(tables, workload, finish)
    late = finish > deadlines
    makespan = float(finish.max() - a.min())
    p50, p95, p99 = percentiles(turnaround)
    model = tables.model_of[workload.mp]
    # a stable sort keeps each model's requests in arrival order; on bytes numpy sorts by radix
    order = np.argsort(model.astype(np.uint8) if len(tables.models) <= 256 else model, kind="stable")
    counts = np.bincount(model, minlength=len(tables.models))
    ntt_by, late_by = ntt[order], late[order]
    per_model = {}
    lo = 0
    for name, c in zip(tables.models, counts.tolist()):
        if c:
            hi = lo + c
            per_model[name] = {"antt": float(np.add.reduce(ntt_by[lo:hi]) / c),
                               "violation_rate": float(np.count_nonzero(late_by[lo:hi]) / c), "requests": c}
            lo = hi
    return {
        "antt": float(np.add.reduce(ntt) / n),
        "violation_rate": float(np.count_nonzero(late) / n),
        "stp": n / makespan if makespan > 0 else float("inf"),
        "p50_turnaround_s": float(p50),
        "p95_turnaround_s": float(p95),
        "p99_turnaround_s": float(p99),
        "makespan_s": makespan,
        "preemptions": int(preemptions),
        "decisions": int(decisions),
        "per_model": per_model,
    }
