"""``dysta bench --speed``: how fast the engine and the whole report are, measured in one run.

It prints, in this order:

1. the machine (cores, load average) and where compiled kernels are cached;
2. the cold start: compiling every kernel in a fresh process with an empty cache, and loading
   them from the cache;
3. decisions per second per core of every scheduler, one run at a time, on Table 5 workloads
   (the pack's Table 5 rate, SLO 10, 1000 requests, 5 seeds), by wall time and by CPU time,
   next to the *physical bound*: a minimal compiled loop that only scans the same queue lengths
   (the ones each scheduler's runs produced) for their least value and updates the winner; and
   the readable numpy engine on the same workloads for comparison, in the same run;
4. the wall time of the whole ``dysta reproduce`` (``--quick``, then the full report) run as a
   user runs it, in a fresh process with an empty JIT cache (so its compilation is included),
   split by report section (the sections that ran in the report's background processes apart).
   The tools' caches (Verilator models, synthesis results, ``$DYSTA_CACHE_DIR``) are this
   machine's as they are; the first report on a new machine also builds its Verilator models.

Speed goals are figures printed here, never asserted by tests.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import workload as wl
from .compiled._jit import jit
from .tables import ScenarioTables
from .trace import resolve_pack


@jit
def _bound_loop(qlens, reps):
    """The least work of a decision: scan ``q`` slot values for the least, update the winner."""
    vals = np.zeros(max(1, qlens.max()))
    acc = 0.0
    for _ in range(reps):
        for q in qlens:
            best = 0
            bv = vals[0]
            for k in range(1, q):
                v = vals[k]
                if v < bv:
                    best, bv = k, v
            vals[best] += 1.0
            acc += vals[best]
    return acc


def bound(qlens: np.ndarray, min_seconds: float = 0.2) -> float:
    """Decisions per second (CPU time) of :func:`_bound_loop` over the queue lengths ``qlens``."""
    qlens = np.ascontiguousarray(qlens, np.int64)
    _bound_loop(qlens[:10], 1)
    reps = 1
    while True:
        c0 = time.thread_time()
        _bound_loop(qlens, reps)
        dt = time.thread_time() - c0
        if dt >= min_seconds:
            return reps * len(qlens) / dt
        reps *= 2


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - no load average on this platform
        return "n/a"


def _fresh_env(cache: str) -> dict:
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = cache
    return env


def _child(args: list[str], env: dict) -> dict:
    """Run ``python -m dysta_sw.speed ARGS`` and return the JSON its last line prints."""
    proc = subprocess.run([sys.executable, "-m", "dysta_sw.speed", *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"dysta_sw.speed {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- child processes

def _cpu_with_children() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _child_compile() -> dict:
    t0, c0 = time.perf_counter(), _cpu_with_children()
    from .compiled import engine
    t_import = time.perf_counter() - t0
    engine.warm_parallel()
    from .compiled import _jit
    kernels = (engine.run_sw, engine.run_hw)
    return {"wall": time.perf_counter() - t0, "cpu": _cpu_with_children() - c0, "import": t_import,
            "hits": sum(sum(k.stats.cache_hits.values()) for k in kernels), "cache": str(_jit.cache_dir())}


#: What the report's plug-in sections (``dysta.report_sections``) are called in the section table.
_SECTIONS = {"hw-arithmetic": "hardware arithmetic", "hil": "hardware in the loop",
             "synth": "synthesis (Fig. 16, Table 6)", "trace-stats": "trace statistics"}


def _timed(fn, label, times, cpu):
    def wrapper(*args, **kw):
        t0, c0 = time.perf_counter(), _cpu()
        try:
            return fn(*args, **kw)
        finally:
            times[label] = times.get(label, 0.0) + time.perf_counter() - t0
            cpu[label] = cpu.get(label, 0.0) + _cpu() - c0
    return wrapper


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (pool workers, tools)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _time_report(times: dict, cpu: dict) -> None:
    """Time the parts of ``dysta_sw.report.paper.reproduce`` in this process: the scheduling grid
    and the figures when drawn here (in their own process they time themselves, in
    ``paper.figure_timing``, and so do the plug-in sections, in :data:`sections.timings`)."""
    from .report import paper

    paper.run_grid = _timed(paper.run_grid, "scheduling grid (Table 5, Figs. 12-15), compiling the engine (JIT)",
                            times, cpu)
    for name in [n for n in vars(paper) if n.startswith("plot_")]:
        setattr(paper, name, _timed(getattr(paper, name), "figures 12-15", times, cpu))


def _child_reproduce(out: str, quick: bool, jobs: int | None, traces: str | None) -> dict:
    """``dysta reproduce`` as the command runs it (default options; the cluster of
    ``$DYSTA_CLUSTER`` if set), with every report section timed."""
    t0, c0 = time.perf_counter(), _cpu()
    from .cluster import session
    from .report import grid, paper, sections
    times: dict = {}
    cpu: dict = {}
    # the calibration runs FCFS alone (no kernel of the engine); the engine compiles where the
    # command compiles it, before the grid (run_sw here, run_hw in a process of its own)
    grid.calibrate = _timed(grid.calibrate, "load calibration", times, cpu)
    _time_report(times, cpu)
    with session(None):  # as cmd_reproduce: one connection for every sweep (local without one)
        paper.reproduce(grid.Config(quick=quick, traces=traces), out, jobs=jobs)
    background = {}
    if paper.figure_timing:
        background["figures 12-15"] = (paper.figure_timing["wall"], paper.figure_timing["cpu"])
    for name, (wall, sec_cpu, where) in sections.timings.items():
        label = _SECTIONS.get(name, name)
        if where:  # rendered in the background process, overlapping the rest: not part of the sum
            background[label] = (wall, sec_cpu)
        else:
            times[label], cpu[label] = wall, sec_cpu
    return {"wall": time.perf_counter() - t0, "cpu": _cpu() - c0, "sections": times, "cpu_sections": cpu,
            "background": background}


# ----------------------------------------------------------------------------- the benchmark

def run_benchmark(traces: str | None = None, jobs: int | None = None, quick_only: bool = False,
                  reproduce: bool = True, seeds: int = 5, requests: int = 1000, cluster: str | None = None,
                  out=print) -> int:
    """Print the figures listed in the module documentation; ``cluster`` (a Dask scheduler address)
    runs the timed ``reproduce`` on that cluster, the per-core figures are this machine's."""
    from .compiled import engine as compiled
    from .engine import simulate as reference
    from .hwmodel import HW_POLICY_NAMES
    from .policies import POLICY_NAMES, make_policy

    pack = resolve_pack(traces)
    out(f"dysta bench --speed: {os.cpu_count()} cores, load average {_load()} (1, 5, 15 min) at start; "
        f"Python {platform.python_version()}, numpy {np.__version__}, numba "
        f"{__import__('numba').__version__}; traces {pack.name}")

    # -- cold start
    with tempfile.TemporaryDirectory(prefix="dysta-jit-") as cache:
        env = _fresh_env(cache)
        cold = _child(["compile"], env)
        warm = _child(["compile"], env)
    out(f"\nJIT: kernels cached in {compiled_cache_dir()} (see dysta_sw/compiled/_jit.py)")
    out(f"  cold start (empty cache, fresh process): {cold['wall']:.2f} s wall, {cold['cpu']:.2f} s CPU "
        f"(import {cold['import']:.2f} s; the dysta-hw kernel compiled in a second process)")
    out(f"  warm start (kernels loaded from the cache): {warm['wall']:.2f} s wall, {warm['cpu']:.2f} s CPU")
    compile_s = cold["wall"]

    # -- decisions per second, batch 1
    compiled.warm()
    names = POLICY_NAMES + HW_POLICY_NAMES
    out(f"\ndecisions/s per core, one run at a time (batch 1), Table 5 workloads: {seeds} seeds x {requests} "
        "requests at the pack's Table 5 rate, SLO 10; best of 3 repetitions; 'CPU' divides by this thread's "
        "CPU time (independent of other load), 'bound' is the minimal compiled loop over the same queue lengths")
    out(f"  {'scenario':8s} {'scheduler':16s} {'decisions':>10s} {'mean |Q|':>8s} {'M/s wall':>9s} {'M/s CPU':>8s} "
        f"{'bound M/s':>9s} {'of bound':>8s}")
    totals = {"dec": 0, "wall": 0.0}
    rows = []
    for scenario in ("attnn", "cnn"):
        tables = ScenarioTables.build(pack, scenario)
        rate = pack.paper_rate(scenario)
        works = [wl.generate(tables, rate, requests, s, pack) for s in range(seeds)]
        dls = [w.deadlines(10.0) for w in works]
        for name in names:
            best_wall = best_cpu = np.inf
            for _ in range(3):
                t0, c0 = time.perf_counter(), time.thread_time()
                res = [compiled.simulate(tables, [w], [d], make_policy(name))[0] for w, d in zip(works, dls)]
                best_wall = min(best_wall, time.perf_counter() - t0)
                best_cpu = min(best_cpu, time.thread_time() - c0)
            dec = sum(r.decisions for r in res)
            queues = np.concatenate([compiled.simulate(tables, [w], [d], make_policy(name), record=True)[0]
                                     .extra["queue"] for w, d in zip(works, dls)])
            b = bound(queues)
            rows.append((scenario, name, dec, dec / best_cpu))
            totals["dec"] += dec
            totals["wall"] += best_wall
            out(f"  {scenario:8s} {name:16s} {dec:10d} {queues.mean():8.2f} {dec / best_wall / 1e6:9.2f} "
                f"{dec / best_cpu / 1e6:8.2f} {b / 1e6:9.1f} {dec / best_cpu / b:7.0%}")
    for label, group in (("Table 5 schedulers", POLICY_NAMES), ("dysta-hw (hardware arithmetic)", HW_POLICY_NAMES)):
        slowest = min((r for r in rows if r[1] in group), key=lambda r: r[3])
        out(f"  slowest of the {label}: {slowest[1]} ({slowest[0]}) at {slowest[3] / 1e6:.2f} M decisions/s per "
            "core (goal >= 2.5 M/s)")
    out(f"  the whole table: {totals['dec']:,} decisions in {totals['wall']:.2f} s wall; with the cold compile "
        f"({compile_s:.1f} s) counted, {totals['dec'] / (totals['wall'] + compile_s) / 1e6:.2f} M/s")

    # -- the readable engine on the same workloads, for the ratio
    tables = ScenarioTables.build(pack, "attnn")
    w = wl.generate(tables, pack.paper_rate("attnn"), requests, 0, pack)
    d = w.deadlines(10.0)
    out("\nreadable numpy engine (dysta_sw.engine), batch 1, same attnn workload (seed 0), vs the compiled engine:")
    for name in ("fcfs", "prema", "dysta"):
        c0 = time.thread_time()
        r = reference(tables, [w], [d], make_policy(name))[0]
        ref_cpu = time.thread_time() - c0
        c0 = time.thread_time()
        compiled.simulate(tables, [w], [d], make_policy(name))
        fast_cpu = time.thread_time() - c0
        out(f"  {name:8s} numpy {r.decisions / ref_cpu / 1e3:8.1f} k/s, compiled "
            f"{r.decisions / fast_cpu / 1e6:7.2f} M/s: {ref_cpu / fast_cpu:,.0f}x")

    # -- whole reproduce, cold JIT cache
    if reproduce:
        from .cluster import resolve
        address = resolve(cluster)
        where = f"on the Dask cluster {address}" if address else f"on {jobs or os.cpu_count()} core(s)"
        for quick in ((True,) if quick_only else (True, False)):
            with tempfile.TemporaryDirectory(prefix="dysta-jit-") as cache, \
                    tempfile.TemporaryDirectory(prefix="dysta-report-") as report_dir:
                out(f"\nwhole `dysta reproduce{' --quick' if quick else ''}` {where}, empty JIT cache, tool caches "
                    f"as this machine has them, fresh process (load average {_load()})...")
                env = _fresh_env(cache)
                if address:
                    env["DYSTA_CLUSTER"] = address
                res = _child(["reproduce", report_dir, "1" if quick else "0", str(jobs or 0), traces or ""], env)
            goal = 10 if quick else 30
            out(f"  {res['wall']:.1f} s wall (goal <= {goal} s), {res['cpu']:.1f} s CPU (this process and its "
                "workers and tools), of which:")
            out(f"    {'wall':>7s}  {'CPU':>7s}")
            for label, t in sorted(res["sections"].items(), key=lambda kv: -kv[1]):
                out(f"    {t:6.2f}s  {res['cpu_sections'].get(label, 0.0):6.2f}s  {label}")
            other = res["wall"] - sum(res["sections"].values())
            other_cpu = res["cpu"] - sum(res["cpu_sections"].values()) - sum(c for _, c in res["background"].values())
            out(f"    {other:6.2f}s  {other_cpu:6.2f}s  everything else (imports, loading the pack, writing files)")
            if res["background"]:
                out("  and, in the report's background process, overlapping the above (independent sections):")
                for label, (t, c) in sorted(res["background"].items(), key=lambda kv: -kv[1][0]):
                    out(f"    {t:6.2f}s  {c:6.2f}s  {label}")
    out(f"\nload average at the end: {_load()}")
    return 0


def compiled_cache_dir():
    from .compiled import _jit
    return _jit.cache_dir()


def main(argv: list[str]) -> int:
    """Child processes of the benchmark: ``compile`` or ``reproduce OUT QUICK JOBS TRACES``."""
    if argv[0] == "compile":
        print(json.dumps(_child_compile()))
    elif argv[0] == "reproduce":
        out, quick, jobs, traces = argv[1], argv[2] == "1", int(argv[3]) or None, argv[4] or None
        import contextlib
        import io
        with contextlib.redirect_stdout(io.StringIO()):
            res = _child_reproduce(str(Path(out)), quick, jobs, traces)
        print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
