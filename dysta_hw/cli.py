# amaranth: UnusedElaboratable=no
"""Hardware commands of the ``dysta`` command line: ``verilog``, ``hw-latency``, ``hil`` and ``synth``.

Each is registered under the ``dysta.commands`` entry points (``pyproject.toml``) by its
``add_*`` function. They need the gateware (``pip install -e '.[hw]'``); Amaranth and the
gateware are imported only when one of them runs, so this module loads without the extra and
the command then says which extra to install.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict

from dysta_sw.cliargs import (
    add_cluster,
    add_policy_options,
    add_traces,
    bounded_int,
    cluster_address,
    distinct,
    options_from_args,
    output_dir,
    output_file,
    positive_float,
    positive_int,
    seed,
)
from dysta_sw.errors import DystaInputError
from dysta_sw.report.tables import rows_table
from dysta_sw.trace import write_atomic

__all__ = ["add_verilog", "add_hw_latency", "add_hil", "add_synth"]

FORMATS = ("fp16", "bf16", "fp32")
STAGE_KEYS = ("cvt", "mul", "add", "clamp")
DEFAULT_QUEUED = (1, 8, 32)
#: Most requests ``dysta hil`` simulates (the gateware runs cycle by cycle).
MAX_HIL_REQUESTS = 100_000


#: Most cycles ``dysta hil`` gives a layer of mean latency: the gateware is simulated cycle by
#: cycle, so a million cycles per layer already takes minutes per request.
MAX_CYCLES_PER_LAYER = 1_000_000


def CYCLES_PER_LAYER(text: str) -> float:  # noqa: N802 (an argparse type)
    """``--cycles-per-layer``: a finite number from 1 (a layer shorter than a cycle cannot be
    simulated) to :data:`MAX_CYCLES_PER_LAYER` (longer ones would not finish)."""
    v = positive_float(text)
    if not 1 <= v <= MAX_CYCLES_PER_LAYER:
        import argparse
        raise argparse.ArgumentTypeError(f"expected a number of cycles from 1 to {MAX_CYCLES_PER_LAYER:,} "
                                         f"(the gateware is simulated cycle by cycle), got {text}")
    return v


def _need_hw():
    try:
        import amaranth  # noqa: F401

        from . import sched  # noqa: F401
    except ImportError as e:
        raise DystaInputError(f"this command needs the hardware extra ({e}); install it with "
                              "`pip install -e '.[hw]'`") from None


#: The scheduler's parameters and the flags that set them, so that its errors name the flag.
FLAGS = {"depth": "--depth", "fmt": "--fmt", "mode": "--mode", "shared": "--shared/--separate", "lanes": "--lanes",
         "value_width": "--value-width", "n_mp": "--n-mp", "max_layers": "--max-layers", "stages": "--stages",
         "time_shift": "--time-shift", "tag_bits": "--tag-bits", "time_bits": "--time-bits"}
_FLAG_RE = re.compile(r"(?<![-\w])(" + "|".join(sorted(FLAGS, key=len, reverse=True)) + r")\b(?!=)")
#: A Verilog module name (an identifier, not escaped).
VERILOG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
#: Verilog's reserved words (IEEE 1364-2005, Annex B): not identifiers; Yosys would write such a module
#: name escaped (``module \\always``), which no instantiation by the plain name matches.
VERILOG_KEYWORDS = frozenset("""
    always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config deassign default
    defparam design disable edge else end endcase endconfig endfunction endgenerate endmodule endprimitive
    endspecify endtable endtask event for force forever fork function generate genvar highz0 highz1 if ifnone
    incdir include initial inout input instance integer join large liblist library localparam macromodule
    medium module nand negedge nmos nor noshowcancelled not notif0 notif1 or output parameter pmos posedge
    primitive pull0 pull1 pulldown pullup pulsestyle_onevent pulsestyle_ondetect rcmos real realtime reg
    release repeat rnmos rpmos rtran rtranif0 rtranif1 scalared showcancelled signed small specify specparam
    strong0 strong1 supply0 supply1 table task time tran tranif0 tranif1 tri tri0 tri1 triand trior trireg
    unsigned use uwire vectored wait wand weak0 weak1 while wire wor xnor xor""".split())


def flag_names(message: str) -> str:
    """``message`` with the scheduler's parameter names replaced by their command-line flags."""
    return _FLAG_RE.sub(lambda m: FLAGS[m.group(1)], message)


def _scheduler(**params):
    """``DystaScheduler(**params)``, its parameter errors naming the flags (before any long work)."""
    from .sched import DystaScheduler

    try:
        return DystaScheduler(**params)
    except (ValueError, TypeError) as e:  # DystaInputError is a ValueError
        raise DystaInputError(flag_names(str(e))) from None


def _stages(text: str):
    """``--stages 2`` (every unit) or ``--stages mul=3,add=2``."""
    try:
        if "=" not in text:
            return int(text)
        out = {}
        for part in text.split(","):
            k, v = part.split("=")
            if k.strip() in out:
                raise DystaInputError(f"--stages {text!r} lists {k.strip()!r} twice; give each unit once")
            out[k.strip()] = int(v)
        return out
    except DystaInputError:
        raise
    except ValueError:
        raise DystaInputError(f"--stages {text!r}: give an integer or KEY=N pairs separated by commas, keys "
                              f"{', '.join(STAGE_KEYS)} (e.g. --stages mul=3,add=2)") from None


def _add_design_options(p, *, sharing_default=True):
    p.add_argument("--depth", type=int, default=64, help="request table entries, a power of two 8..512 (default 64)")
    p.add_argument("--fmt", choices=FORMATS, default="fp16", help="number format of the compute unit")
    p.add_argument("--mode", choices=("ieee", "lean"), default="ieee",
                   help="ieee: subnormals kept; lean: subnormals flushed (smaller)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--shared", dest="shared", action="store_true", default=sharing_default,
                   help="one reconfigurable FP datapath (the paper's optimisation)" +
                   (" (default)" if sharing_default is True else ""))
    g.add_argument("--separate", dest="shared", action="store_false",
                   help="separate, pipelined units (the paper's non-optimised baseline)")
    p.add_argument("--stages", type=str, default=None, metavar="N|KEY=N,...",
                   help=f"register slices of the FP units ({', '.join(STAGE_KEYS)})")


def _design_params(a) -> dict:
    params = {"depth": a.depth, "fmt": a.fmt, "mode": a.mode}
    if a.stages is not None:
        params["stages"] = _stages(a.stages)
    return params


def cmd_verilog(a) -> int:
    if not VERILOG_NAME.match(a.name):
        raise DystaInputError(f"--name {a.name!r} is not a Verilog module name: use letters, digits, _ and $, "
                              "starting with a letter or _ (e.g. dysta_scheduler)")
    if a.name in VERILOG_KEYWORDS:
        raise DystaInputError(f"--name {a.name!r} is a reserved word of Verilog, not a module name; choose another "
                              "(e.g. dysta_scheduler)")
    out = None if a.output == "-" else output_file(a.output, "--output")
    _need_hw()
    from amaranth.back import rtlil, verilog

    params = _design_params(a)
    params.update(shared=a.shared, lanes=a.lanes, value_width=a.value_width, n_mp=a.n_mp,
                  max_layers=a.max_layers, tag_bits=a.tag_bits, time_bits=a.time_bits, time_shift=a.time_shift,
                  trace=a.trace)
    top = _scheduler(**params)
    back = rtlil if a.rtlil else verilog
    text = back.convert(top, name=a.name, ports=top.ports())
    if out is None:
        sys.stdout.write(text)
    else:
        write_atomic(out, text.encode())
        kind = "RTLIL" if a.rtlil else "Verilog"
        print(f"wrote {a.output}: {kind} of module {a.name} ({', '.join(f'{k}={v}' for k, v in params.items())})",
              file=sys.stderr)
    return 0


#: Issue goal: layer-done to dispatch in at most N + 24 cycles, shared or separate units.
DECISION_GOAL = 24


def cmd_hw_latency(a) -> int:
    _need_hw()
    from .sched.sim import latency_report

    params = _design_params(a)
    _scheduler(**params)  # parameter errors (--depth first) before any simulation
    if a.queued is None:
        queued = [n for n in DEFAULT_QUEUED if n <= a.depth]
    else:
        queued = distinct("--queued", a.queued)
        if max(queued) > a.depth:
            raise DystaInputError(f"--queued {max(queued)} is more than --depth {a.depth}: a queue cannot be longer "
                                  "than the request table")
    rows = latency_report(tuple(queued), simulate=not a.model_only, **params)
    if a.shared is not None:
        rows = [r for r in rows if r["shared"] == a.shared]
    for r in rows:
        r["unit"] = "shared" if r.pop("shared") else "separate"
        got = r["measured"] if r["measured"] is not None else r["model"]
        r["goal"] = r["n_queued"] + DECISION_GOAL
        r["goal_met"] = max(got, r["retired_model"]) <= r["goal"]
    keys = ("unit", "n_queued", "measured", "model", "retired_model", "goal", "goal_met")
    rows = [{k: r[k] for k in keys} for r in rows]
    if a.format == "json":
        print(json.dumps(rows, indent=1))
    else:
        print(f"Cycles from layer-done to dispatch, depth {a.depth}, {a.fmt} ({a.mode}); "
              f"goal N + {DECISION_GOAL} with either unit, also when the request that ran finished "
              "(retired_model)")
        print(rows_table(rows))
    return 0


def cmd_hil(a) -> int:
    _need_hw()
    from dysta_sw.trace import resolve_pack

    from . import hil

    _scheduler(depth=a.depth, fmt=a.fmt, shared=a.shared)  # --depth, before the workload and the simulation
    options_from_args(a)
    pack = resolve_pack(a.traces)
    pack.scenario(a.scenario)
    rate = a.rate if a.rate is not None else pack.paper_rate(a.scenario)
    res = hil.run(pack, a.scenario, rate=rate, requests=a.requests, slo=a.slo, seed=a.seed,
                  depth=a.depth, fmt=a.fmt, shared=a.shared, backend=a.backend, cycles_per_layer=a.cycles_per_layer,
                  options=options_from_args(a))
    if a.format == "json":
        out = asdict(res)
        out["latencies"] = [{"n_queued": n, "retired": r, "cycles": c} for (n, r), c in sorted(res.latencies.items())]
        print(json.dumps(out, indent=1))
    else:
        print(hil.summary(res))
    return 0 if res.identical else 1


def _int_list(text: str, what: str, allowed=None) -> list:
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise DystaInputError(f"--{what} {text!r}: give integers separated by commas, e.g. 8,64,512") from None
    bad = [v for v in vals if allowed is not None and v not in allowed]
    if not vals or bad:
        raise DystaInputError(f"--{what} {text!r}: choose from {', '.join(map(str, allowed))}")
    return _once(vals, what, text)


def _once(vals: list, what: str, text: str) -> list:
    """``vals`` (parsed from ``--what text``), unless a value is listed twice."""
    twice = sorted({str(v) for v in vals if vals.count(v) > 1})
    if twice:
        raise DystaInputError(f"--{what} {text!r} lists {', '.join(twice)} more than once; give each once")
    return vals


def cmd_synth(a) -> int:
    _need_hw()
    import contextlib

    from dysta_sw.outputs import RunDirectory

    from . import synthreport

    _synth_conflicts(a)
    out = output_dir(a.out, "--out") if a.out is not None else None
    if a.goals:
        return _synth_goals(a)
    # --out is held (DIR/.dysta.lock, as reproduce does) from before the synthesis to the last file
    with RunDirectory(out, force=a.force, last="synth.md") if out is not None else contextlib.nullcontext() as rd:
        results = _synth_results(a)
        if rd is not None:
            write_atomic(rd.stage / "synth.json", json.dumps(results, indent=1).encode())
            write_atomic(rd.stage / "synth.md", (f"# Scheduler resources ({a.target})\n\n"
                                                 + synthreport.sweep_markdown(results)).encode())
            fig = synthreport.plot_fig16(results, rd.stage / "fig16_resources.png")
            rd.commit()
            print(f"wrote {out / 'synth.json'}, {out / 'synth.md'}"
                  + (f", {out / fig.name}" if fig else ""), file=sys.stderr)
    if a.format == "json":
        print(json.dumps(results if a.sweep else results[0], indent=1))
    elif a.sweep:
        print(synthreport.sweep_markdown(results))
    else:
        r = results[0]
        print(rows_table(synthreport.resource_rows([r])))
        if r.get("message") and r.get("fits") is not False:  # a misfit's message is in the table's note
            print(r["message"])
            if r.get("critical_path"):
                from .goals import path_note
                print(path_note(r["critical_path"]))
        print("(cached result)" if r.get("cached") else f"({', '.join(r['tools'].values())})")
    return 0


#: ``dysta synth``'s sweep options and their defaults (``None`` in the parser, so that a run without
#: ``--sweep`` can tell they were given).
SWEEP_DEFAULTS = {"depths": "8,16,32,64,128,256,512", "fmts": "fp16,bf16,fp32", "units": "both"}


def _synth_conflicts(a) -> None:
    """Options that this ``dysta synth`` run would ignore, refused before any synthesis."""
    def given(names):
        return [f"--{n.replace('_', '-')}" for n in names if getattr(a, n) not in (None, False)]

    def only(extra, what):
        if extra:
            verb, it = ("apply", "them") if len(extra) > 1 else ("applies", "it")
            raise DystaInputError(f"{', '.join(extra)} only {verb} with {what}; drop {it} or add {what}")

    if a.goals:
        extra = given(("sweep", "out", "cluster"))
        if extra:
            raise DystaInputError(f"--goals measures every goal on the installed design and does not take "
                                  f"{', '.join(extra)}; drop {'them' if len(extra) > 1 else 'it'}, or drop --goals")
    else:
        only(given(("check", "no_sim", "cached")), "--goals")
    if not a.sweep and not a.goals:
        only(given((*SWEEP_DEFAULTS, "modes", "cluster")), "--sweep")
    if a.out is None:
        only(given(("force",)), "--out")
    for k, v in SWEEP_DEFAULTS.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if a.sweep:
        a.cluster = cluster_address(a.cluster)


def _synth_results(a) -> list[dict]:
    """The synthesis results of ``dysta synth`` (one design, or the sweep)."""
    from . import synth

    try:
        if a.sweep:
            depths = _int_list(a.depths, "depths", synth.SWEEP_DEPTHS)
            fmts = [f for f in a.fmts.split(",") if f]
            if not fmts or any(f not in FORMATS for f in fmts):
                raise DystaInputError(f"--fmts {a.fmts!r}: choose from {', '.join(FORMATS)}")
            _once(fmts, "fmts", a.fmts)
            units = {"both": (True, False), "shared": (True,), "separate": (False,)}[a.units]
            modes = None
            if a.modes is not None:
                modes = [m for m in a.modes.split(",") if m]
                if not modes or any(m not in ("ieee", "lean") for m in modes):
                    raise DystaInputError(f"--modes {a.modes!r}: choose from ieee, lean (e.g. --modes ieee,lean)")
                _once(modes, "modes", a.modes)
            extra = {k: v for k, v in _design_params(a).items() if k not in ("depth", "fmt", "mode")}  # stages
            results = synth.sweep(a.target, depths=depths, fmts=fmts, units=units, modes=modes, jobs=a.jobs,
                                  progress=not a.no_progress and sys.stderr.isatty(), freq_mhz=a.freq,
                                  pnr=not a.no_pnr, use_cache=not a.no_cache, cluster=a.cluster, **extra)
        else:
            params = {**_design_params(a), "shared": a.shared}
            _scheduler(**params)  # parameter errors first
            results = [synth.synth_scheduler(a.target, freq_mhz=a.freq, pnr=not a.no_pnr, use_cache=not a.no_cache,
                                             **params)]
    except synth.SynthError as e:
        raise DystaInputError(f"synthesis failed: {e}") from None
    for r in results:
        r.pop("cells", None)
    return results


def _synth_goals(a) -> int:
    """``dysta synth --goals``: every goal of the hardware scheduler, measured."""
    from . import goals

    ctx = goals.GoalContext(jobs=a.jobs, use_cache=not a.no_cache, simulate=not a.no_sim, cache_only=a.cached,
                            progress=not a.no_progress and sys.stderr.isatty())
    rows = goals.goal_table(ctx)
    if a.format == "json":
        print(json.dumps(rows, indent=1))
    else:
        print("Goals of the hardware scheduler (issue 13), measured on the installed design:")
        print(rows_table(rows))
    return 1 if a.check and any(r["met"] != "yes" for r in rows) else 0


def add_verilog(sub) -> None:
    """``dysta verilog``."""
    v = sub.add_parser("verilog", help="emit the hardware scheduler as Verilog (or RTLIL)",
                       description="Convert DystaScheduler with the given parameters to Verilog (default) or "
                       "RTLIL with every port kept (docs/hw.md lists them).")
    _add_design_options(v)
    v.add_argument("--lanes", type=int, default=8, help="NPU output values per beat seen by the monitor")
    v.add_argument("--value-width", type=int, default=16, help="bits per NPU output value")
    v.add_argument("--n-mp", type=int, default=16, help="model-patterns in the LUTs")
    v.add_argument("--max-layers", type=int, default=64, help="layers per model-pattern in the LUTs")
    v.add_argument("--tag-bits", type=int, default=16, help="width of request tags")
    v.add_argument("--time-bits", type=int, default=48, help="width of the cycle counter")
    v.add_argument("--time-shift", type=int, default=None, help="log2 of the time quantum in cycles")
    v.add_argument("--name", default="dysta_scheduler", help="top module name")
    v.add_argument("--rtlil", action="store_true", help="emit RTLIL (Yosys' own format) instead of Verilog")
    v.add_argument("--no-trace", dest="trace", action="store_false",
                   help="leave out the debug trace port (the production build; with --mode lean, Table 6's lean point)")
    v.add_argument("-o", "--output", default="-", metavar="FILE", help="output file (default: standard output)")
    v.set_defaults(func=cmd_verilog)


def add_hw_latency(sub) -> None:
    """``dysta hw-latency``."""
    h = sub.add_parser("hw-latency", help="cycles from layer-done to dispatch, simulated and modelled",
                       description="Simulate the scheduler with N queued requests and print the cycles from "
                       "a layer-done strobe to the next dispatch, next to the timing model.")
    _add_design_options(h, sharing_default=None)
    h.add_argument("--queued", type=positive_int, nargs="+", default=None, metavar="N",
                   help="queue lengths (default 1 8 32, those up to --depth)")
    h.add_argument("--model-only", action="store_true", help="print the timing model without simulating")
    h.add_argument("--format", choices=("table", "json"), default="table")
    h.set_defaults(func=cmd_hw_latency)


def add_hil(sub) -> None:
    """``dysta hil``."""
    s = sub.add_parser("hil", help="hardware in the loop: a workload scheduled by the simulated gateware",
                       description="Draw a benchmark workload, schedule it with the simulated gateware "
                       "(Verilator or Amaranth), compare every decision with the golden model and score "
                       "the schedule next to float64 Dysta and FCFS. Exit status 1 on any mismatch.")
    s.add_argument("--scenario", choices=("attnn", "cnn"), default="attnn")
    s.add_argument("--rate", type=positive_float, default=None,
                   help="requests/s (default: Table 5's 30 attnn / 3 cnn times the pack's capacity)")
    s.add_argument("--slo", type=positive_float, default=10.0, help="SLO multiplier (default 10)")
    s.add_argument("--requests", type=bounded_int(1, MAX_HIL_REQUESTS, "a number of requests"), default=64,
                   help=f"requests (default 64, at most {MAX_HIL_REQUESTS:,})")
    s.add_argument("--seed", type=seed, default=0)
    s.add_argument("--depth", type=int, default=64, help="request table entries (default 64)")
    s.add_argument("--fmt", choices=FORMATS, default="fp16")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--shared", dest="shared", action="store_true", default=True, help="shared unit (default)")
    g.add_argument("--separate", dest="shared", action="store_false", help="separate units")
    s.add_argument("--backend", choices=("verilator", "amaranth"), default=None,
                   help="simulator (default: Verilator when installed)")
    s.add_argument("--cycles-per-layer", type=CYCLES_PER_LAYER, default=None,
                   help="simulation clock: cycles of a mean-latency layer (default 2000 Verilator, 40 Amaranth)")
    s.add_argument("--format", choices=("table", "json"), default="table")
    add_traces(s)
    add_policy_options(s)
    s.set_defaults(func=cmd_hil)


def add_synth(sub) -> None:
    """``dysta synth``."""
    y = sub.add_parser("synth", help="resource and timing report of the scheduler (Yosys, nextpnr)",
                       description="Synthesize DystaScheduler (its real top level, every port kept) with the "
                       "open flow: xcup = Yosys synth_xilinx -family xcup (Zynq UltraScale+, estimate), ecp5 = "
                       "synth_ecp5 + nextpnr-ecp5 (LFE5U-85F) for Fmax, ice40 = synth_ice40 + nextpnr-ice40 (UP5K). "
                       "Results are cached in $DYSTA_CACHE_DIR/synth. --sweep runs depth x format x unit sharing (and "
                       "the lean FP16 designs); --goals measures and prints every goal of the scheduler.")
    y.add_argument("--target", choices=("xcup", "ecp5", "ice40"), default="xcup")
    _add_design_options(y)
    y.add_argument("--freq", type=positive_float, default=200.0,
                   help="place-and-route frequency target in MHz (default 200)")
    y.add_argument("--no-pnr", action="store_true", help="ecp5/ice40: resources only, no place and route (no Fmax)")
    y.add_argument("--no-cache", action="store_true", help="synthesize again even when a cached result exists")
    y.add_argument("--sweep", action="store_true", help="every depth x format x unit (see --depths, --fmts, --units)")
    y.add_argument("--depths", default=None, help="sweep depths (default 8..512)")
    y.add_argument("--fmts", default=None, help="sweep formats (default fp16,bf16,fp32)")
    y.add_argument("--units", choices=("both", "shared", "separate"), default=None, help="sweep units (default both)")
    y.add_argument("--modes", default=None, metavar="MODE,...",
                   help="sweep modes, ieee and/or lean, for every format (default: ieee for every format, plus "
                   "the lean fp16 designs when the design has a lean mode)")
    y.add_argument("--goals", action="store_true",
                   help="measure every goal of the scheduler (ECP5 Fmax, xcup LUTs and DSPs, decision latency, "
                   "depth scaling, board clocks) and print measured / goal / met")
    y.add_argument("--no-sim", action="store_true", help="with --goals: the decision latency from the timing "
                   "model only, without simulating it")
    y.add_argument("--check", action="store_true", help="with --goals: exit status 1 unless every goal is met")
    y.add_argument("--cached", action="store_true", help="with --goals: cached results only, no synthesis or "
                   "place and route (what is not cached is reported as not measured)")
    y.add_argument("--jobs", type=bounded_int(1, 1024, "a number of processes"), default=2,
                   help="syntheses at once (default 2)")
    add_cluster(y, help="with --sweep: synthesize on the Dask cluster whose scheduler is at ADDRESS, e.g. "
                "tcp://host:8786 (default: $DYSTA_CLUSTER, else here; see docs/cluster.md)")
    y.add_argument("--no-progress", action="store_true", help="no progress bar")
    y.add_argument("--out", default=None, metavar="DIR",
                   help="also write synth.json, synth.md and the Fig. 16-style plot fig16_resources.png here "
                   "(the directory is held by this run: DIR/.dysta.lock)")
    y.add_argument("--force", action="store_true",
                   help="take the --out directory even if another live run holds its lock (DIR/.dysta.lock)")
    y.add_argument("--format", choices=("table", "json"), default="table")
    y.set_defaults(func=cmd_synth)
