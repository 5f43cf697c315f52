# amaranth: UnusedElaboratable=no
"""The hardware scheduler's goals (issue 13), measured: one table of *measured / goal / met*.

The table is the concatenation of the rows of every **goal provider**, a plug-in of the
``dysta.synth_goals`` entry-point group (``pyproject.toml``): a callable ``provider(ctx)``
taking a :class:`GoalContext` and returning rows made by :func:`goal_row`. This package provides
the scheduler's own goals (:func:`scheduler_goals`: ECP5 Fmax, xcup LUTs and DSPs, decision
latency, depth scaling); ``boards`` provides the board clocks (ULX3S through its PLL, the
iCEBreaker's timing margin), which this package cannot import (the layers point one way).

The goals are measured on whatever :class:`dysta_hw.sched.DystaScheduler` is installed: a
configuration the design does not offer (e.g. no ``lean`` mode) gives a row that says so
(``met`` is ``None``), never a crash, and a tool that fails gives a row with its error. Nothing
here lowers a goal: a goal that is missed is printed as missed.

``dysta synth --goals`` and ``python benchmarks/synth_goals.py`` print the table.
"""

from __future__ import annotations

import inspect
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from dysta_sw import plugins

__all__ = ["GOAL_PROVIDERS", "GoalContext", "goal_row", "goal_table", "goals_markdown", "scheduler_goals",
           "design_variants", "latency_goal"]

#: The entry-point group of goal providers.
GOAL_PROVIDERS = "dysta.synth_goals"

#: The reference configuration of the issue's table: depth 64, FP16.
DEPTH, FMT = 64, "fp16"
#: Goals (issue 13).
FMAX_MHZ = 200.0
LEAN_LUTS, LEAN_DSPS, IEEE_LUTS = 553, 3, 900
LATENCY_SLACK = 24  #: decision latency <= N + 24 cycles
DEPTH_RATIO = 1.2  #: LUTs(depth 512) / LUTs(depth 64)


@dataclass
class GoalContext:
    """What a goal provider may use: ``jobs`` tools at once, the synthesis cache, progress on
    standard error, whether to simulate (pysim) where a goal can be simulated, and whether to run
    no tool at all (``cache_only``: what is not cached yet is reported as not measured)."""

    jobs: int = 2
    use_cache: bool = True
    progress: bool = False
    simulate: bool = True
    cache_only: bool = False  #: report cached results only; run no tool


def goal_row(goal: str, target: str, measured, met: bool | None, note: str = "") -> dict:
    """One row of the table: what is measured, the goal, the measured value and whether it is met
    (``None``: not measured, ``note`` says why)."""
    return {"goal": goal, "target": target, "measured": "-" if measured is None else measured,
            "met": "n/a" if met is None else ("yes" if met else "NO"), "note": note}


def goal_table(ctx: GoalContext | None = None, providers=None) -> list[dict]:
    """The rows of every goal provider (by default those registered under :data:`GOAL_PROVIDERS`),
    the scheduler's first. A provider that cannot be loaded or fails adds one row saying so."""
    ctx = ctx or GoalContext()
    if providers is None:  # the scheduler's own goals first, then the other packages'
        eps = sorted(plugins.entry_points(GOAL_PROVIDERS), key=lambda ep: ep.name != "scheduler")
        providers = [(ep.name, ep) for ep in eps]
    rows = []
    for name, prov in providers:
        try:
            fn = plugins.load(prov) if not callable(prov) else prov
            rows += fn(ctx)
        except Exception as e:  # one failing provider must not hide the others' goals
            rows.append(goal_row(f"goals of {name}", "-", None, None, f"not measured: {type(e).__name__}: {e}"))
    return rows


def goals_markdown(rows: list[dict]) -> str:
    """The table as Markdown."""
    from dysta_sw.report.tables import rows_table

    return rows_table(rows, markdown=True)


# ---------------------------------------------------------------------------------------------
# The scheduler's own goals


def design_variants() -> dict[str, dict | None]:
    """The configurations the goals compare, as ``DystaScheduler`` keyword arguments: ``ieee``
    (the default design) and ``lean`` (FP16, subnormals flushed, no debug trace port when the
    design can leave it out: the paper's Table 6 point); see :func:`dysta_hw.synth.variant_params`.
    A variant the installed design does not accept maps to ``None``."""
    from .synth import variant_params

    return {name: variant_params(name) for name in ("ieee", "lean")}


def has_trace_port(**params) -> bool:
    """Whether ``DystaScheduler(**params)`` has the debug ``trace`` port (which costs logic: with
    every port kept, Yosys keeps what drives it)."""
    from .sched import DystaScheduler

    return "trace" in DystaScheduler(**params).signature.members


def _where(pin: str | None) -> str:
    """A cell pin of nextpnr's report as the design hierarchy it sits in (``dut.cu.u_cvt``)."""
    if not pin:
        return "?"
    parts = pin.split(".")[:-1]  # the pin's name goes
    keep = []
    for part in parts:
        if re.search(r"_(SB|TRELLIS|DFF|LUT|CCU2|MULT|DP16KD|PFUMX|L6MUX|RDATA|WDATA)", part) or part.isdigit():
            break
        keep.append(part)
    return ".".join(keep) or parts[0]


def path_note(path: dict | None) -> str:
    """nextpnr's critical path in a few words: its delay, where it starts and where it ends."""
    if not path:
        return ""
    return (f"critical path {path['ns']:.1f} ns ({path['logic_ns']} logic, {path['routing_ns']} routing) from "
            f"{_where(path['source'])} to {_where(path['sink'])} through {len(path['nets'])} nets")


def _decision(timing, n: int, retired: bool) -> int:
    # The design's own cycle model; a model without the ``retired`` case takes n alone.
    if "retired" in inspect.signature(timing.decision).parameters:
        return timing.decision(n, retired=retired)
    return timing.decision(n)


def latency_goal(shared: bool, *, simulate: bool = True, depth: int = DEPTH, ns=(1, 8, 32), **params) -> dict:
    """Decision latency (layer-done strobe to the next dispatch) of ``DystaScheduler(shared=...)``
    against ``N + 24``: the design's ``timing`` model at every N from 1 to ``depth`` (with and
    without the running request retiring), and with ``simulate`` the cycles measured in Amaranth's
    simulator at each N of ``ns``. One :func:`goal_row`."""
    from .sched import DystaScheduler

    unit = "shared" if shared else "separate"
    dut = DystaScheduler(depth=depth, fmt=FMT, shared=shared, **params)
    plain = {n: _decision(dut.timing, n, False) for n in range(1, depth + 1)}
    worst = {n: max(c, _decision(dut.timing, n, True)) for n, c in plain.items()}
    slope = plain[depth] - plain[depth - 1]
    base = plain[depth] - slope * depth
    form = f"{'' if slope == 1 else slope}N {'+' if base >= 0 else '-'} {abs(base)}"
    met = all(c <= n + LATENCY_SLACK for n, c in worst.items())
    extra = max(worst[n] - plain[n] for n in plain)
    measured = f"{form} (model, N = 1..{depth}" + (f"; +{extra} when the request retires)" if extra else ")")
    note = ""
    if simulate:  # the model is the design's claim; the simulator checks it
        from .sched.sim import decision_latency

        sims = {n: decision_latency(n, depth=depth, fmt=FMT, shared=shared, **params)["measured"] for n in ns}
        met = met and all(c <= n + LATENCY_SLACK for n, c in sims.items())
        measured += "; pysim " + " / ".join(str(c) for c in sims.values()) + " at N = " + \
            " / ".join(map(str, sims))
        off = [n for n, c in sims.items() if c != _decision(dut.timing, n, False)]
        if off:
            note = f"pysim differs from the timing model at N = {off}"
    return goal_row(f"decision latency, layer-done to dispatch, {unit} unit (depth {depth}, {FMT})",
                    f"<= N + {LATENCY_SLACK} cycles", measured, met, note)


def scheduler_goals(ctx: GoalContext) -> list[dict]:
    """The scheduler's goals: ECP5-85F Fmax of both units (nextpnr, >= 200 MHz); xcup LUTs and
    DSPs of the lean (<= 553 LUTs, <= 3 DSPs) and IEEE (<= 900 LUTs) shared designs at depth 64;
    the decision latency of both units (<= N + 24 cycles); LUTs at depth 512 over depth 64 (<= 1.2)
    for every format and unit, and for the lean design."""
    from . import synth
    from .sched import DystaScheduler  # noqa: F401  (the design must import before anything runs)

    variants = design_variants()
    ieee, lean = variants["ieee"], variants["lean"]
    if ieee is None:
        ieee = {}
    ratio_cfgs = [(f, s, "ieee", ieee) for f in synth.SWEEP_FMTS for s in (True, False)]
    if lean is not None:
        ratio_cfgs += [(FMT, s, "lean", lean) for s in (True, False)]
    # the headline goals first (place and route is the longest), so a partial run answers them
    jobs = {("ecp5", DEPTH, FMT, s, "ieee"): ("ecp5", DEPTH, FMT, s, ieee) for s in (True, False)}
    for name, kw in (("lean", lean), ("ieee", ieee)):
        if kw is not None:
            jobs[("xcup", DEPTH, FMT, True, name)] = ("xcup", DEPTH, FMT, True, kw)
    for f, s, name, kw in ratio_cfgs:
        for d in (DEPTH, 512):
            jobs.setdefault(("xcup", d, f, s, name), ("xcup", d, f, s, kw))

    def one(job):
        target, d, f, s, kw = job
        try:
            return synth.synth_scheduler(target, depth=d, fmt=f, shared=s, freq_mhz=FMAX_MHZ,
                                         use_cache=ctx.use_cache, cache_only=ctx.cache_only, **kw)
        except synth.SynthError as e:
            return {"error": str(e).splitlines()[0]}

    from tqdm import tqdm

    with ThreadPoolExecutor(max(1, ctx.jobs)) as ex:
        futs = {k: ex.submit(one, j) for k, j in jobs.items()}
        with tqdm(total=len(futs), desc="goals", unit="design", disable=not ctx.progress) as bar:
            res = {}
            for k, fut in futs.items():
                res[k] = fut.result()
                bar.update(1)

    rows = []
    for s in (True, False):
        unit = "shared" if s else "separate"
        r = res[("ecp5", DEPTH, FMT, s, "ieee")]
        what = f"ECP5-85F Fmax (nextpnr), {unit} unit (depth {DEPTH}, {FMT}, ieee)"
        if "error" in r:
            rows.append(goal_row(what, f">= {FMAX_MHZ:g} MHz", None, None, f"not measured: {r['error']}"))
        else:
            f = r.get("fmax_mhz")
            note = path_note(r.get("critical_path")) if f is not None and f < FMAX_MHZ else ""
            rows.append(goal_row(what, f">= {FMAX_MHZ:g} MHz", None if f is None else f"{f:.1f} MHz",
                                 None if f is None else f >= FMAX_MHZ, note if f is not None else r.get("message", "")))

    def xcup_row(name, r, key, limit, label):
        what = f"xcup {label} (Yosys estimate), {name}, shared (depth {DEPTH}, {FMT})"
        if r is None:
            return goal_row(what, f"<= {limit}", None, None, f"the design has no {name} configuration yet")
        if "error" in r:
            return goal_row(what, f"<= {limit}", None, None, f"not measured: {r['error']}")
        note = ""
        if key == "lut":
            note = f"+ {r['lutram']} LUT-RAM; {r['srl']} shift-register LUTs counted as logic"
        return goal_row(what, f"<= {limit}", r[key], r[key] <= limit, note)

    lean_r = res.get(("xcup", DEPTH, FMT, True, "lean")) if lean is not None else None
    ieee_r = res[("xcup", DEPTH, FMT, True, "ieee")]
    lean_note = ""
    if lean is not None:
        lean_note = "; no trace port" if not has_trace_port(depth=DEPTH, fmt=FMT, **lean) else \
            "; the debug trace port is still there"
    if ieee_r is not None and "error" not in ieee_r:
        ieee_note = "; with the debug trace port" if ieee_r.get("trace_port") else "; no trace port"
    else:
        ieee_note = ""
    row = xcup_row("lean", lean_r, "lut", LEAN_LUTS, "LUTs")
    row["note"] += lean_note
    ieee_row = xcup_row("ieee", ieee_r, "lut", IEEE_LUTS, "LUTs")
    ieee_row["note"] += ieee_note
    rows += [row, xcup_row("lean", lean_r, "dsp", LEAN_DSPS, "DSPs"), ieee_row]

    for s in (True, False):
        try:
            rows.append(latency_goal(s, simulate=ctx.simulate, **ieee))
        except Exception as e:  # a changed timing model or simulation helper: say so, keep the rest
            rows.append(goal_row(f"decision latency, {'shared' if s else 'separate'} unit", f"<= N + {LATENCY_SLACK}",
                                 None, None, f"not measured: {type(e).__name__}: {e}"))

    for f, s, name, _kw in ratio_cfgs:
        small, big = res[("xcup", DEPTH, f, s, name)], res[("xcup", 512, f, s, name)]
        what = f"xcup LUTs, depth 512 / depth {DEPTH}, {f} {name} {'shared' if s else 'separate'}"
        if "error" in small or "error" in big:
            err = small.get("error") or big.get("error")
            rows.append(goal_row(what, f"<= {DEPTH_RATIO}", None, None, f"not measured: {err}"))
            continue
        ratio = big["lut"] / small["lut"]
        rows.append(goal_row(what, f"<= {DEPTH_RATIO}", f"{ratio:.3f} ({big['lut']} / {small['lut']})",
                             ratio <= DEPTH_RATIO))
    return rows
