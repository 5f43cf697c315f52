"""Load calibration: how each scenario's arrival rates are set (``--load``).

The paper gives its rates (30 and 40 Multi-AttNN requests/s, 3 and 4 Multi-CNN requests/s, and
the sweeps of Figs. 14 and 15) "given the computational capacity" of its accelerators, not the
mean latency of a request on them. A trace pack measured on other accelerator models needs its
own rates; ``--load`` says how they are found. Every method gives one factor ``k`` per scenario
and runs the paper's rates times ``k``, so the grid keeps the paper's ratios between its rates:

``paper-scale``
    ``k`` = the pack's capacity (:meth:`dysta_sw.trace.TracePack.capacity`): the paper's rates
    at an *assumed* time scale of the paper's traces (27 ms per Multi-AttNN request, 265 ms per
    Multi-CNN request), i.e. an offered load of 0.81 (AttNN) and 0.80 (CNN) at Table 5's rate.
``fcfs``
    ``k`` such that FCFS at Table 5's point (rate 30 / 3 times ``k``, SLO multiplier 10) misses
    the paper's FCFS violation rate, 55.1 % (Multi-AttNN) and 23.1 % (Multi-CNN), on
    :data:`CALIBRATION_SEEDS` seeds (0..19, whatever ``--seeds`` the run has, so that the rates do
    not move with it) of the run's request count. FCFS ignores deadlines, priorities and sparsity, so its violation
    rate depends only on the load and the latency spread: it is the one number of Table 5 that
    measures the paper's load. FCFS's violation rate rises with the rate on every seed (common
    random numbers: a seed's arrivals shrink as 1/rate, and FCFS's waits grow with them), so a
    bisection on ``log k`` finds it; the rate is rounded to 3 significant digits. The paper's FCFS
    ANTT (18.9 / 11.4) is then a check of the load model, printed beside it. When FCFS cannot
    miss that many deadlines (a run of a few dozen requests), the method falls back to
    ``paper-scale`` and says so.
``U`` (a number, e.g. ``0.8``)
    ``k`` such that Table 5's rate offers a load ``U``: ``rate = U / mean isolated latency``.

The report prints the method and what it gave (:func:`describe`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import metrics
from . import workload as wl
from .errors import DystaInputError
from .tables import ScenarioTables
from .trace import PAPER_RATES, TracePack, round_sig

__all__ = ["METHODS", "PAPER_FCFS", "Calibration", "parse", "calibrate", "describe", "fcfs_at"]

METHODS = ("paper-scale", "fcfs")
#: Seeds the ``fcfs`` calibration runs FCFS on (0..19): FCFS is cheap, and a rate that does not
#: depend on the run's own seed count keeps ``--seeds 5`` and ``--seeds 20`` on the same grid.
CALIBRATION_SEEDS = 20
#: The paper's FCFS row of Table 5 per scenario: (violation rate, ANTT).
PAPER_FCFS = {"attnn": (0.551, 18.9), "cnn": (0.231, 11.4)}


def parse(text: str) -> str:
    """Check a ``--load`` value: ``paper-scale``, ``fcfs`` or a utilisation in (0, 10]."""
    if text in METHODS:
        return text
    try:
        u = float(text)
    except ValueError:
        raise DystaInputError(f"--load must be one of {', '.join(METHODS)} or a target utilisation such as "
                              f"0.8, not {text!r}") from None
    if not (0 < u <= 10) or not math.isfinite(u):
        raise DystaInputError(f"--load {text}: a target utilisation must be in (0, 10] (0.8 is Table 5's "
                              "offered load at the paper's scale)")
    return f"{u:g}"


@dataclass(frozen=True)
class Calibration:
    """What a method gave for one scenario: the factor on the paper's rates, Table 5's rate, and
    (``fcfs``) FCFS's violation rate and ANTT there."""

    scenario: str
    method: str
    factor: float
    rate: float
    fcfs_violation: float | None = None
    fcfs_antt: float | None = None
    note: str = ""


def fcfs_at(pack: TracePack, tables: ScenarioTables, rate: float, seeds, n_requests: int, slo: float = 10.0
            ) -> tuple[float, float]:
    """FCFS's mean violation rate and ANTT over ``seeds`` at ``rate`` (the compiled engine's FCFS,
    :func:`dysta_sw.compiled.engine.fcfs_finish`, which needs no kernel of the engine compiled)."""
    from .compiled import engine as compiled
    viol, antt = [], []
    for s in seeds:
        w = wl.generate(tables, rate, n_requests, s, pack)
        a, v = metrics.antt_and_violation(tables, w, compiled.fcfs_finish(tables, w), w.deadlines(slo))
        viol.append(v)
        antt.append(a)
    return float(np.mean(viol)), float(np.mean(antt))


_CACHE: dict = {}


def calibrate(pack: TracePack, scenario: str, method: str, n_requests: int = 1000,
              seeds=tuple(range(CALIBRATION_SEEDS))) -> Calibration:
    """The factor on the paper's rates for ``scenario`` by ``method`` (module documentation)."""
    method = parse(method)
    base = PAPER_RATES.get(scenario, (None,))[0]
    seeds = tuple(seeds)
    key = (pack.fingerprint, scenario, method, seeds, n_requests)
    if key in _CACHE:
        return _CACHE[key]
    if method == "paper-scale" or base is None:
        cal = Calibration(scenario, "paper-scale", pack.capacity(scenario), pack.paper_rate(scenario))
    elif method == "fcfs":
        tables = ScenarioTables.build(pack, scenario)
        target = PAPER_FCFS[scenario][0]

        def viol(rate):
            return fcfs_at(pack, tables, rate, seeds, n_requests)[0]

        lo = hi = pack.paper_rate(scenario)
        while viol(lo) > target:
            lo /= 2
        while viol(hi) < target:
            hi *= 2
            if hi > 1e4 * lo:
                cal = Calibration(scenario, "paper-scale", pack.capacity(scenario), pack.paper_rate(scenario),
                                  note=f"`--load fcfs` fell back to `paper-scale`: FCFS misses fewer than "
                                  f"{100 * target:g} % of the deadlines of {n_requests} requests at any rate")
                _CACHE[key] = cal
                return cal
        for _ in range(40):
            mid = math.sqrt(lo * hi)
            if viol(mid) < target:
                lo = mid
            else:
                hi = mid
            if hi / lo < 1 + 1e-5:
                break
        rate = round_sig(math.sqrt(lo * hi))
        v, a = fcfs_at(pack, tables, rate, seeds, n_requests)
        cal = Calibration(scenario, "fcfs", rate / base, rate, v, a)
    else:
        u = float(method)
        rate = round_sig(u / pack.mean_tiso(scenario))
        cal = Calibration(scenario, method, rate / base, rate)
    _CACHE[key] = cal
    return cal


def describe(cal: Calibration, pack: TracePack) -> str:
    """One sentence for the report: the method and what it gave."""
    load = cal.rate * pack.mean_tiso(cal.scenario)
    head = f"Table 5 rate {cal.rate:g}/s (the paper's rates x {cal.factor:.4g}; offered load {load:.2f})"
    if cal.method == "paper-scale":
        return (f"{head}, by `--load paper-scale`: the pack's capacity, i.e. the offered load of the paper's rates "
                "at an assumed 27 ms (AttNN) / 265 ms (CNN) per request" + (f" ({cal.note})" if cal.note else ""))
    if cal.method == "fcfs":
        pv, pa = PAPER_FCFS[cal.scenario]
        return (f"{head}, by `--load fcfs`: the rate at which FCFS misses the paper's {100 * pv:.1f} % of "
                f"deadlines; FCFS there: {100 * cal.fcfs_violation:.1f} % violations, ANTT {cal.fcfs_antt:.1f} "
                f"(paper: ANTT {pa:g})")
    return f"{head}, by `--load {cal.method}`: a target utilisation of {cal.method} at Table 5's rate"
