"""Running the scheduler in Amaranth's simulator with a host and an NPU stand-in.

The host programs the LUTs, then presents requests in order, each from its arrival cycle on,
holding it until the scheduler accepts it (back-pressure). The NPU stand-in runs each dispatched
layer for the job's number of cycles, sends its output beats to the monitor, then strobes
``layer_done``. Everything the scheduler does is recorded with its cycle, in the form
:class:`dysta_sw.hwsched.SchedModel` replays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from amaranth.sim import Simulator

from dysta_sw import fp
from dysta_sw.hwsched import Accept, LayerDone, Table, Timing

from .npu import npu_values

__all__ = ["Layer", "Job", "Record", "run", "decision_latency", "latency_report", "from_trace"]


@dataclass(frozen=True)
class Layer:
    """One layer as the NPU stand-in runs it: ``cycles`` from dispatch to layer-done (at least
    ``len(beats) + 1``), ``beats`` the non-zero lanes of each output beat, sent one per cycle."""

    cycles: int
    beats: tuple = ()


@dataclass(frozen=True)
class Job:
    """A request: presented by the host from ``arrival`` (cycles after LUT programming) on."""

    arrival: int
    tag: int
    mp: int
    deadline: int  #: absolute cycles, relative to the start of the workload (host adds the base)
    layers: tuple


@dataclass
class Record:
    """What happened, with cycles of the scheduler's counter."""

    base: int = 0  #: cycle the workload started (after LUT programming)
    accepts: list = field(default_factory=list)
    layer_dones: list = field(default_factory=list)
    dispatches: list = field(default_factory=list)  #: (cycle, tag, mp, layer)
    trace: list = field(default_factory=list)  #: (cycle, mode, slot, tag, gamma, score)
    dones: list = field(default_factory=list)  #: (cycle, tag)
    lut_error: bool = False
    req_error: bool = False
    table_clash: bool = False  #: a used table read met a write to its slot (DystaScheduler.table_clash)
    cycles: int = 0
    max_count: int = 0


def run(dut, lut_writes, jobs, *, max_cycles=200_000, done_ready=lambda cycle: True, vcd=None,
        fast_forward=False) -> Record:
    """Simulate ``dut`` (a :class:`DystaScheduler`) on ``jobs``; return the :class:`Record`.

    ``jobs`` are presented in list order. The run ends when every job has finished (or after
    ``max_cycles``). ``done_ready(cycle)`` models a host that is not always ready; it is asked
    every cycle unless ``fast_forward``, which skips the quiet cycles of long layers in one step
    (only while no ``done`` is pending, so the same record results).
    """
    rec = Record()
    by_tag = {j.tag: j for j in jobs}
    lanes = dut.lanes
    nonzero = npu_values(dut)

    async def bench(ctx):
        for t, mp, layer, value in lut_writes:
            ctx.set(dut.lut.valid, 1)
            ctx.set(dut.lut.payload, {"table": t, "mp": mp, "layer": layer, "value": value})
            while not ctx.get(dut.lut.ready):
                await ctx.tick()
            await ctx.tick()
        ctx.set(dut.lut.valid, 0)
        rec.lut_error = bool(ctx.get(dut.lut_error))
        cyc = ctx.get(dut.now)
        rec.base = base = cyc
        mask = (1 << dut.time_bits) - 1
        pending = list(jobs)
        presented = None
        run_tag = run_layer = None
        run_left = 0
        beats = []
        nnz = 0
        finished = 0
        ctx.set(dut.done.ready, 1)
        n_mp = dut.n_mp
        programmed = {mp for t, mp, _, value in lut_writes if t == Table.LAYERS and 1 <= value <= dut.max_layers}
        # a request naming an unprogrammed model-pattern is refused: it never finishes
        expected = sum(1 for j in jobs if j.mp < n_mp and j.mp in programmed)
        # until every request has been presented and taken (a refused one too) and the others finished
        while (finished < expected or pending or presented is not None) and cyc - base < max_cycles:
            # host
            if presented is None and pending and pending[0].arrival + base <= cyc:
                presented = pending.pop(0)
                ctx.set(dut.req.payload, {"tag": presented.tag, "mp": presented.mp,
                                          "deadline": (presented.deadline + base) & mask})
            ctx.set(dut.req.valid, presented is not None)
            # NPU
            ctx.set(dut.dispatch.ready, run_tag is None)
            if run_tag is not None and beats:
                k = beats.pop(0)
                ctx.set(dut.npu_data.valid, 1)
                ctx.set(dut.npu_data.payload, [nonzero[i] if i < k else 0 for i in range(lanes)])
                nnz += k
            else:
                ctx.set(dut.npu_data.valid, 0)
            ld = run_tag is not None and run_left == 0
            ctx.set(dut.layer_done, ld)
            dr = bool(done_ready(cyc - base))
            ctx.set(dut.done.ready, dr)
            # observe the handshakes of this cycle
            if presented is not None and ctx.get(dut.req.ready):
                rec.accepts.append(Accept(cyc, presented.tag, presented.mp, presented.deadline + base))
                presented = None
            if ld:
                rec.layer_dones.append(LayerDone(cyc, nnz))
                run_tag = None
            new_run = None
            if ctx.get(dut.dispatch.valid) and run_tag is None and not ld:
                d = ctx.get(dut.dispatch.payload)
                rec.dispatches.append((cyc, d.tag, d.mp, d.layer))
                new_run = (d.tag, d.layer)
            if dut.trace is not None and ctx.get(dut.trace.valid):
                t = ctx.get(dut.trace.payload)
                rec.trace.append((cyc, t.mode, t.slot, t.tag, t.gamma, t.score))
            if dr and ctx.get(dut.done.valid):
                rec.dones.append((cyc, ctx.get(dut.done.payload)))
                finished += 1
            rec.max_count = max(rec.max_count, ctx.get(dut.count))
            await ctx.tick()
            cyc += 1
            if new_run is not None:
                run_tag, run_layer = new_run
                lay = by_tag[run_tag].layers[run_layer]
                run_left = lay.cycles - 1
                beats = list(lay.beats)
                nnz = 0
            elif run_tag is not None:
                run_left -= 1
            # Fast-forward through the quiet middle of a long layer: the NPU is computing, the
            # scheduler is idle and nothing arrives, so every input is constant and no output
            # is observed (the record is the same as stepping cycle by cycle).
            if fast_forward and run_tag is not None and not beats and presented is None and run_left > 2:
                skip = run_left - 2
                if pending:
                    skip = min(skip, pending[0].arrival + base - cyc - 1)
                if (skip > 8 and not ctx.get(dut.busy) and not ctx.get(dut.done.valid)
                        and not (dut.trace is not None and ctx.get(dut.trace.valid))):
                    ctx.set(dut.npu_data.valid, 0)
                    ctx.set(dut.layer_done, 0)
                    ctx.set(dut.req.valid, 0)
                    ctx.set(dut.dispatch.ready, 0)
                    await ctx.tick().repeat(skip)
                    cyc += skip
                    run_left -= skip
        rec.cycles = cyc - base
        rec.req_error = bool(ctx.get(dut.req_error))
        rec.table_clash = bool(ctx.get(dut.table_clash))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return rec


def decision_latency(n_queued: int, **params) -> dict:
    """Measure the cycles from a layer-done to the next dispatch with ``n_queued`` requests in the
    table (none finishing), by simulation of ``DystaScheduler(**params)``.

    Returns ``{"n_queued", "measured", "model"}``: the simulated count and the one
    :meth:`dysta_sw.hwsched.Timing.decision` predicts.
    """
    from .scheduler import DystaScheduler

    params = {"n_mp": 1, "max_layers": 2, **params}
    dut = DystaScheduler(**params)
    if not 1 <= n_queued <= dut.depth:
        raise ValueError(f"n_queued must be from 1 to depth={dut.depth}, not {n_queued!r}")
    writes = [(Table.R, 0, 0, 0), (Table.R, 0, 1, 0), (Table.R, 0, 2, 0), (Table.INV_TISO, 0, 0, 0),
              (Table.LAYERS, 0, 0, 2), (Table.ETA, 0, 0, 0)]
    # the first request's first layer lasts until every other request is in the table
    jobs = [Job(0, i, 0, 1000, (Layer(n_queued + 8 if i == 0 else 2), Layer(2))) for i in range(n_queued)]
    rec = run(dut, writes, jobs)
    first_done = rec.layer_dones[0].cycle
    dispatch = next(c for c, *_ in rec.dispatches if c > first_done)
    return {"n_queued": n_queued, "measured": dispatch - first_done,
            "model": dut.timing.decision(n_queued, retired=False)}


def latency_report(ns=(1, 8, 32), *, simulate: bool = True, **params) -> list[dict]:
    """Layer-done-to-dispatch cycles of both variants (shared and separate units) for each
    queue length in ``ns``: one row ``{"shared", "n_queued", "model", "retired_model",
    "measured"}`` per case, ``measured`` by simulation (``None`` without ``simulate``).
    ``params`` go to :class:`DystaScheduler` (``depth``, ``fmt``, ``mode``, ``stages``...).
    """
    rows = []
    depth = params.get("depth", 64)
    for shared in (False, True):
        p = {**params, "shared": shared}
        timing = Timing.of(shared=shared, stages=p.get("stages"))
        for n in ns:
            if not 1 <= n <= depth:
                raise ValueError(f"queue length {n} must be from 1 to depth={depth}")
            rows.append({"shared": shared, "n_queued": n, "model": timing.decision(n, retired=False),
                         "retired_model": timing.decision(n, retired=True),
                         "measured": decision_latency(n, **p)["measured"] if simulate else None})
    return rows


def from_trace(tables, workload, deadlines_s, cfg, *, eta: float, n_mp: int, max_layers: int, lanes: int = 8,
               beats: int = 2, min_count: int = 64):
    """LUT contents and jobs replaying a dysta workload on its trace pack's ``ScenarioTables``.

    Times are converted at ``cfg.clock_hz``: pass a low clock (e.g. 20 kHz) so that latencies of
    milliseconds become tens of cycles and the simulation stays short. Each layer's output is
    scaled down to ``B`` beats of ``lanes`` values carrying ``round(rho * lanes * B)`` non-zeros
    (the first beats one more than the others), and the ``inv_shape``/``count_shift`` LUTs
    describe that scaled output, so that mode A sees the trace's density. ``B`` is per
    (model-pattern, layer): at least ``beats``, and enough for ``min_count`` non-zeros at the
    layer's mean density (sparse attention layers need hundreds of beats to be resolved), as
    long as the layer's shortest sample has a cycle for every beat. Returns ``(SchedLuts, jobs)``.
    """
    import numpy as np

    from dysta_sw.hwmodel import HwLuts
    from dysta_sw.hwsched import SchedLuts

    luts = SchedLuts.from_hwluts(HwLuts.build(tables, cfg, eta), tables.n_layers, tables.lut_base,
                                 n_mp=n_mp, max_layers=max_layers)
    luts.inv_shape[:] = fp.from_float(np.float64(1.0 / (beats * lanes)), cfg.fmt, cfg.mode)
    luts.count_shift[:] = 0
    n_beats = []
    for m in range(len(tables.names)):
        nl, ns = int(tables.n_layers[m]), int(tables.n_samples[m])
        lat = tables.lat[tables.sample_base[m]:tables.sample_base[m] + ns * nl].reshape(ns, nl)
        rhobar = tables.rhobar[tables.lut_base[m]:tables.lut_base[m] + nl]
        want = np.ceil(min_count / (lanes * np.maximum(rhobar, 1.0 / (lanes << 15))))
        room = cfg.cycles(lat).min(axis=0) - 1
        # the monitor's count (COUNT_BITS wide, shift 0 here) must not overflow: lanes * B < 2**15
        nb = np.clip(want, beats, np.clip(room, beats, ((1 << 15) - 1) // lanes)).astype(np.int64)
        luts.inv_shape[m, :nl] = fp.from_float(1.0 / (nb * lanes), cfg.fmt, cfg.mode)
        n_beats.append(nb)
    arrival = cfg.cycles(workload.arrival)
    deadline = cfg.cycles(np.where(np.isfinite(deadlines_s), deadlines_s, 0.0))
    jobs = []
    for i in range(len(workload)):
        m, s = int(workload.mp[i]), int(workload.sample[i])
        nl = int(tables.n_layers[m])
        base = tables.sample_base[m] + s * nl
        layers = []
        for layer in range(nl):
            nb = int(n_beats[m][layer])
            k, extra = divmod(int(np.rint(tables.rho[base + layer] * lanes * nb)), nb)
            cyc = int(cfg.cycles(tables.lat[base + layer]))
            layers.append(Layer(max(cyc, nb + 1), (k + 1,) * extra + (k,) * (nb - extra)))
        jobs.append(Job(int(arrival[i]), i, m, int(deadline[i]), tuple(layers)))
    return luts, jobs
