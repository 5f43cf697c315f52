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


def compute(tables: ScenarioTables, workload: Workload, finish: np.ndarray, deadlines: np.ndarray,
            preemptions: int = 0, decisions: int = 0) -> dict:
    """All metrics of one run (see module documentation)."""
    a = workload.arrival
    turnaround = finish - a
    ntt = normalised_turnaround(tables, workload, finish)
    late = finish > deadlines
    makespan = float(finish.max() - a.min())
    p50, p95, p99 = np.percentile(turnaround, [50, 95, 99])
    model = tables.model_of[workload.mp]
    per_model = {}
    for k, name in enumerate(tables.models):
        sel = model == k
        if sel.any():
            per_model[name] = {"antt": float(ntt[sel].mean()), "violation_rate": float(late[sel].mean()),
                                "requests": int(sel.sum())}
    return {
        "antt": float(ntt.mean()),
        "violation_rate": float(late.mean()),
        "stp": len(a) / makespan if makespan > 0 else float("inf"),
        "p50_turnaround_s": float(p50),
        "p95_turnaround_s": float(p95),
        "p99_turnaround_s": float(p99),
        "makespan_s": makespan,
        "preemptions": int(preemptions),
        "decisions": int(decisions),
        "per_model": per_model,
    }
