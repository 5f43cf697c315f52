"""Sweeps over (scenario, rate, SLO multiplier, scheduler, seed), in parallel processes.

Common random numbers: one request table per (scenario, seed, rate) is drawn once, in the
parent process, and handed to every scheduler and SLO multiplier. Schedulers that never read
deadlines (fcfs, sjf, sjf-sparse, prema, prema-sparse) run once per table and are evaluated
against every multiplier, since their decisions cannot depend on it.

Work is split into tasks of at most ``CHUNK`` runs of one scheduler; the engine advances the runs
of a task in lockstep (see :mod:`dysta_sw.engine`), and tasks go to a process pool using every
core. Results are *tidy*: one row per (scenario, rate, slo, scheduler, seed) run, plus the means
over seeds.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from . import metrics
from . import workload as wl
from .engine import get_profile, simulate
from .errors import DystaInputError
from .policies import Options, make_policy
from .tables import ScenarioTables
from .trace import resolve_pack

#: Largest number of runs advanced together by one task.
CHUNK = 100
SCENARIOS = ("attnn", "cnn")


@dataclass(frozen=True)
class Sweep:
    """One scenario's grid: ``points`` are (rate, slo) pairs; every scheduler and seed runs on each.

    ``workloads`` replaces generation: a mapping ``(rate, seed) -> Workload`` (replay).
    """

    scenario: str
    points: tuple[tuple[float, float], ...]
    schedulers: tuple[str, ...]
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    n_requests: int = 1000
    profile: str = "paper"
    options: Options = field(default_factory=Options)
    traces: str | None = None
    workloads: dict | None = None

    def validate(self) -> None:
        if self.scenario not in SCENARIOS:
            raise DystaInputError(f"unknown scenario {self.scenario!r}; choose one of: {', '.join(SCENARIOS)}")
        get_profile(self.profile)
        for name in self.schedulers:
            make_policy(name, self.options)
        if not self.points:
            raise DystaInputError("a sweep needs at least one (rate, SLO multiplier) point")
        for rate, slo in self.points:
            wl.check_positive("--rate", rate, fix="give the mean arrival rate in requests per second")
            wl.check_positive("--slo", slo, fix="the SLO multiplier M sets deadline = arrival + M x mean "
                              "isolated latency (M < 1 is allowed, though most requests will miss)")
        if self.workloads is None:
            wl.check_positive("--requests", self.n_requests, integer=True)
            if not self.seeds:
                raise DystaInputError("--seeds must be a positive integer")


def grid(scenario: str, rates, slos, schedulers, **kw) -> Sweep:
    """The full product of ``rates`` and ``slos``."""
    return Sweep(scenario, tuple((float(r), float(m)) for r in rates for m in slos), tuple(schedulers), **kw)


# ----------------------------------------------------------------------------- workers

_TABLES: dict = {}


def _tables(traces: str | None, scenario: str):
    key = (traces, scenario)
    if key not in _TABLES:
        pack = resolve_pack(traces)
        _TABLES[key] = (pack, ScenarioTables.build(pack, scenario))
    return _TABLES[key]


@dataclass
class _Task:
    sweep: Sweep
    scheduler: str
    runs: list  #: (rate, seed, workload, [slo, ...])


def _run_task(task: _Task) -> list[dict]:
    sw = task.sweep
    pack, tables = _tables(sw.traces, sw.scenario)
    policy = make_policy(task.scheduler, sw.options)
    works = [w for _, _, w, _ in task.runs]
    deadlines = [w.deadlines(slos[0]) for _, _, w, slos in task.runs]
    results = simulate(tables, works, deadlines, policy, sw.profile)
    rows = []
    for (rate, seed, w, slos), res in zip(task.runs, results):
        for slo in slos:
            m = metrics.compute(tables, w, res.finish, w.deadlines(slo), res.preemptions, res.decisions)
            rows.append({"scenario": sw.scenario, "rate": rate, "slo": slo, "scheduler": task.scheduler,
                         "seed": seed, "profile": sw.profile, "requests": len(w), "pack": pack.name,
                         "synthetic": pack.synthetic, **m})
    return rows


def _tasks(sw: Sweep) -> list[_Task]:
    pack, tables = _tables(sw.traces, sw.scenario)
    rates = list(dict.fromkeys(r for r, _ in sw.points))
    if sw.workloads is not None:
        tables_for = dict(sw.workloads)
    else:
        tables_for = {(r, s): wl.generate(tables, r, sw.n_requests, s, pack) for r in rates for s in sw.seeds}
    tasks = []
    for name in sw.schedulers:
        aware = make_policy(name, sw.options).uses_deadline
        runs = []
        for (rate, seed), w in tables_for.items():
            slos = [m for r, m in sw.points if r == rate]
            if not slos:
                continue
            if aware:
                runs += [(rate, seed, w, [m]) for m in slos]
            else:
                runs.append((rate, seed, w, slos))
        for i in range(0, len(runs), CHUNK):
            tasks.append(_Task(sw, name, runs[i:i + CHUNK]))
    return tasks


@dataclass
class SweepResult:
    rows: list[dict]  #: one per run
    wall_s: float
    decisions: int

    def means(self) -> list[dict]:
        """Means over seeds per (scenario, rate, slo, scheduler, profile)."""
        return mean_over_seeds(self.rows)


def run(sweeps: list[Sweep], jobs: int | None = None, progress: bool | None = None) -> SweepResult:
    """Run every sweep; ``jobs`` processes (default: all cores); a progress bar on a terminal."""
    for sw in sweeps:
        sw.validate()
    t0 = time.perf_counter()
    tasks = [t for sw in sweeps for t in _tasks(sw)]
    # Largest tasks first keeps the pool busy to the end.
    tasks.sort(key=lambda t: -sum(len(w) for _, _, w, _ in t.runs))
    jobs = jobs or os.cpu_count() or 1
    total = sum(len(t.runs) for t in tasks)
    rows: list[dict] = []
    bar = tqdm(total=total, unit="run", desc="simulating", disable=(None if progress is None else not progress),
               leave=False)
    with bar:
        if jobs == 1 or len(tasks) == 1:
            for t in tasks:
                rows += _run_task(t)
                bar.update(len(t.runs))
        else:
            with ProcessPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
                futures = {pool.submit(_run_task, t): t for t in tasks}
                for fut in as_completed(futures):
                    rows += fut.result()
                    bar.update(len(futures[fut].runs))
    order = {(sw.scenario, name): k for k, sw in enumerate(sweeps) for name in sw.schedulers}
    rows.sort(key=lambda r: (order[(r["scenario"], r["scheduler"])], r["rate"], r["slo"], r["seed"]))
    seen = set()
    decisions = 0
    for r in rows:  # a deadline-unaware run is counted once, not once per multiplier
        key = (r["scenario"], r["scheduler"], r["rate"], r["seed"], r["profile"],
               r["slo"] if make_policy(r["scheduler"]).uses_deadline else None)
        if key not in seen:
            seen.add(key)
            decisions += r["decisions"]
    return SweepResult(rows, time.perf_counter() - t0, decisions)


def mean_over_seeds(rows: list[dict]) -> list[dict]:
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["scenario"], r["rate"], r["slo"], r["scheduler"], r["profile"]), []).append(r)
    out = []
    for (scen, rate, slo, sched, prof), g in groups.items():
        m = {"scenario": scen, "rate": rate, "slo": slo, "scheduler": sched, "profile": prof,
             "seeds": len(g), "requests": g[0]["requests"], "pack": g[0]["pack"], "synthetic": g[0]["synthetic"]}
        for k in metrics.METRIC_KEYS:
            m[k] = float(np.mean([r[k] for r in g]))
        m["antt_std"] = float(np.std([r["antt"] for r in g]))
        m["violation_rate_std"] = float(np.std([r["violation_rate"] for r in g]))
        per_model = {}
        for model in dict.fromkeys(k for r in g for k in r["per_model"]):
            have = [r["per_model"][model] for r in g if model in r["per_model"]]
            per_model[model] = {k: float(np.mean([h[k] for h in have])) for k in ("antt", "violation_rate", "requests")}
        m["per_model"] = per_model
        out.append(m)
    return out
