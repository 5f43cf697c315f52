"""Sweeps over (scenario, rate, SLO multiplier, scheduler, seed), in parallel processes.

Common random numbers: one request table per (scenario, seed, rate) is drawn once, in the
parent process, and handed to every scheduler and SLO multiplier. Schedulers that never read
deadlines (fcfs, sjf, sjf-sparse, prema, prema-sparse) run once per table and are evaluated
against every multiplier, since their decisions cannot depend on it.

A task holds the runs of request tables (every scheduler and multiplier on them: several tables
to a task, or one table's runs split over tasks, so that every worker gets a few tasks); each
run goes through the compiled
engine (:mod:`dysta_sw.compiled.engine`), and tasks go to a process pool using every core, or
to a Dask cluster (:mod:`dysta_sw.cluster`). Results are *tidy*: one row per (scenario, rate,
slo, scheduler, seed) run, plus the means over seeds, identical however the tasks ran.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import metrics
from . import workload as wl
from .engine import get_profile
from .engine import simulate as reference_simulate
from .errors import DystaInputError
from .policies import Options, make_policy
from .stats import mean_ci
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
            wl.check_requests(self.n_requests)
            if not self.seeds:
                raise DystaInputError("--seeds must be a positive integer")
            for s in self.seeds:
                if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                    raise DystaInputError(f"a seed must be an integer >= 0, not {s!r}")
            tables = _tables(self.traces, self.scenario)[1]
            for rate in dict.fromkeys(r for r, _ in self.points):
                wl.check_rate(tables, rate, self.n_requests)


def grid(scenario: str, rates, slos, schedulers, **kw) -> Sweep:
    """The full product of ``rates`` and ``slos``."""
    return Sweep(scenario, tuple((float(r), float(m)) for r in rates for m in slos), tuple(schedulers), **kw)


# ----------------------------------------------------------------------------- workers

_TABLES: dict = {}


def _tables(traces: str | None, scenario: str, pack=None, profile: str = "paper"):
    """The pack and one scenario's tables for ``profile`` (its look-up tables from the calibration
    split, or every sample), built once per process (``pack`` given: keyed by its fingerprint, as
    on a cluster worker; else resolved from ``traces``)."""
    all_samples = get_profile(profile).all_samples
    key = (pack.fingerprint if pack is not None else traces, scenario, all_samples)
    if key not in _TABLES:
        pack = pack if pack is not None else resolve_pack(traces)
        _TABLES[key] = (pack, ScenarioTables.build(pack, scenario, all_samples=all_samples))
    return _TABLES[key]


@dataclass
class _Task:
    """Runs on request tables (common random numbers): ``items`` are (rate, seed, workload, runs)
    with ``runs`` a list of (scheduler, [slo, ...])."""

    sweep: Sweep
    items: list

    @property
    def weight(self) -> int:
        """Runs, for the progress bar."""
        return sum(len(runs) for *_, runs in self.items)

    @property
    def cost(self) -> int:
        """Requests times runs: what the task's time is roughly proportional to."""
        return sum(len(w) * len(runs) for _, _, w, runs in self.items)


def simulate(tables, workloads, deadlines, policy, profile):
    """The compiled engine (:mod:`dysta_sw.compiled.engine`), or the readable one for a policy it lacks."""
    from .compiled import engine as compiled
    if compiled.supports(policy):
        return compiled.simulate(tables, workloads, deadlines, policy, profile)
    return reference_simulate(tables, workloads, deadlines, policy, profile)


def warm(sweeps=None) -> None:
    """Compile (or load from the disk cache) the compiled engine's kernels that ``sweeps``' schedulers
    run on (every kernel when ``None``), before worker processes fork."""
    from .compiled import engine as compiled
    if sweeps is None:
        compiled.warm()
        return
    policies = [make_policy(name, sw.options) for sw in sweeps for name in sw.schedulers]
    for hw in sorted({compiled.uses_hw_kernel(p) for p in policies if compiled.supports(p)}):
        compiled.warm(hw)


def _run_task(task: _Task, pack=None) -> list[dict]:
    sw = task.sweep
    pack, tables = _tables(sw.traces, sw.scenario, pack, sw.profile)
    rows = []
    for rate, seed, w, runs in task.items:
        for name, slos in runs:
            policy = make_policy(name, sw.options)
            res = simulate(tables, [w], [w.deadlines(slos[0])], policy, sw.profile)[0]
            for slo in slos:
                m = metrics.compute(tables, w, res.finish, w.deadlines(slo), res.preemptions, res.decisions)
                rows.append({"scenario": sw.scenario, "rate": rate, "slo": slo, "scheduler": name,
                             "seed": seed, "profile": sw.profile, "requests": len(w), "pack": pack.name,
                             "synthetic": pack.synthetic, **m})
    return rows


#: Tasks per unit of parallelism (worker or process) a sweep aims at: enough to balance the
#: load to the end, few enough that a task's overhead (a cluster's messages) stays small.
TASKS_PER_WORKER = 8


def _tasks(sw: Sweep, parallel: int) -> list[_Task]:
    """About ``TASKS_PER_WORKER * parallel`` tasks: the request tables' runs, with several tables
    to a task when there are many, or a table's runs split over several tasks (at most ``CHUNK``
    runs each) when there are few."""
    pack, tables = _tables(sw.traces, sw.scenario)
    rates = list(dict.fromkeys(r for r, _ in sw.points))
    if sw.workloads is not None:
        tables_for = dict(sw.workloads)
    else:
        tables_for = {(r, s): wl.generate(tables, r, sw.n_requests, s, pack) for r in rates for s in sw.seeds}
    aware = {name: make_policy(name, sw.options).uses_deadline for name in sw.schedulers}
    items = []
    for (rate, seed), w in tables_for.items():
        slos = [m for r, m in sw.points if r == rate]
        if not slos:
            continue
        runs = []
        for name in sw.schedulers:
            runs += [(name, [m]) for m in slos] if aware[name] else [(name, slos)]
        items.append((rate, seed, w, runs))
    target = TASKS_PER_WORKER * parallel
    if len(items) >= target:
        # Deal the tables out largest first to the lightest task, so the tasks weigh alike.
        groups: list[list] = [[] for _ in range(target)]
        load = [0] * target
        for item in sorted(items, key=lambda it: -len(it[2]) * len(it[3])):
            k = load.index(min(load))
            groups[k].append(item)
            load[k] += len(item[2]) * len(item[3])
        return [_Task(sw, g) for g in groups if g]
    pieces = -(-target // max(1, len(items)))
    tasks = []
    for rate, seed, w, runs in items:
        size = max(1, min(CHUNK, -(-len(runs) // pieces)))
        tasks += [_Task(sw, [(rate, seed, w, runs[i:i + size])]) for i in range(0, len(runs), size)]
    return tasks


@dataclass
class SweepResult:
    rows: list[dict]  #: one per run
    wall_s: float
    decisions: int

    def means(self) -> list[dict]:
        """Means over seeds per (scenario, rate, slo, scheduler, profile)."""
        return mean_over_seeds(self.rows)


def run(sweeps: list[Sweep], jobs: int | None = None, progress: bool | None = None,
        cluster: str | None = None) -> SweepResult:
    """Run every sweep on ``jobs`` processes (default: all cores) or on the Dask cluster at
    ``cluster`` (see :mod:`dysta_sw.cluster`; also an open :func:`dysta_sw.cluster.session` or
    ``$DYSTA_CLUSTER``), with a progress bar on a terminal. The rows and their order are the same
    whichever way they ran."""
    from . import cluster as cl
    address = cl.resolve(cluster)
    if address is not None and (cl.current() is None or cl.current().address != address):
        with cl.session(address):  # one connection for the whole run
            return run(sweeps, jobs, progress, address)
    for sw in sweeps:
        sw.validate()
    t0 = time.perf_counter()
    remote = cl.current() is not None
    parallel = cl.parallelism(jobs)
    tasks = [t for sw in sweeps for t in _tasks(sw, parallel)]
    # Largest tasks first keeps the workers busy to the end.
    tasks.sort(key=lambda t: -t.cost)
    shared = {}
    packs = {sw.traces: _tables(sw.traces, sw.scenario)[0] for sw in sweeps}
    if remote and len(packs) == 1:
        # The workers get the trace pack once (it may be a file only this machine has); tasks
        # carry their request table and parameters only. (Sweeps over several packs resolve
        # their pack by name on each worker.)
        (pack,) = packs.values()
        shared = {("pack", pack.fingerprint): pack}
    results = cl.map_units(_run_task, tasks, shared=shared, jobs=jobs, progress=progress,
                           desc="simulating", unit="run", weight=lambda t: t.weight,
                           warm=lambda: warm(sweeps))
    rows = [r for res in results for r in res]
    # Sweep (scenario), then scheduler as listed, then rate, multiplier and seed: a total order
    # of the rows, whatever order the tasks finished in.
    order: dict = {}
    for k, sw in enumerate(sweeps):
        for j, name in enumerate(sw.schedulers):
            order.setdefault((sw.scenario, name), (k, j))
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
    """Means over seeds per (scenario, rate, slo, scheduler, profile), with the population standard
    deviations (``*_std``) and the half-widths of the 95 % Student-t intervals (``*_ci``,
    :mod:`dysta_sw.stats`) of ANTT and violation rate."""
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
        # half-widths of the 95 % Student-t intervals over seeds (inf for one seed)
        m["antt_ci"] = mean_ci([r["antt"] for r in g]).half
        m["violation_rate_ci"] = mean_ci([r["violation_rate"] for r in g]).half
        per_model = {}
        for model in dict.fromkeys(k for r in g for k in r["per_model"]):
            have = [r["per_model"][model] for r in g if model in r["per_model"]]
            per_model[model] = {k: float(np.mean([h[k] for h in have])) for k in ("antt", "violation_rate", "requests")}
        m["per_model"] = per_model
        out.append(m)
    return out
