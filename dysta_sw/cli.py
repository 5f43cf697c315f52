"""The ``dysta`` command line.

Commands of the core: ``bench`` (compare schedulers; ``--speed`` for the engine benchmark),
``reproduce`` (the paper's grid and report), ``workload export``, ``traces
list|show|validate|generate``. Every other command is a plug-in found through the
``dysta.commands`` entry points (:mod:`dysta_sw.plugins`): the gateware's ``verilog``,
``hw-latency``, ``hil`` and ``synth``, the board targets' ``board``, the profiler's ``profile``.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
from pathlib import Path

from . import errors, plugins, sweep
from . import workload as wl
from .cliargs import (
    MAX_JOBS,
    add_cluster,
    add_policy_options,
    add_traces,
    bounded_float,
    bounded_int,
    cluster_address,
    distinct,
    nonnegative_float,
    options_from_args,
    output_dir,
    output_file,
    positive_float,
    print_rows,
    seed,
    shown,
    unit_float,
)
from .errors import DystaInputError
from .load import calibrate
from .load import parse as parse_load
from .policies import POLICY_NAMES, Options, policy_names
from .report import grid, paper
from .report.claims import CLAIMS_FILE
from .report.tables import MEAN_KEYS, TIDY_KEYS, text_table, write_csv
from .tables import ScenarioTables
from .trace import DEFAULT_PACK, load_pack, resolve_pack, save_pack, shipped_packs

# ----------------------------------------------------------------------------- bench

#: bench's options that generate workloads, and their defaults (``None`` in the parser, so that
#: ``--workload`` and ``--speed`` can tell what was given).
GENERATE_DEFAULTS = {"scenario": ["attnn"], "seeds": 5, "requests": 1000, "rate": None}
#: Most seeds of one bench or reproduce run.
MAX_SEEDS = 10_000
#: bench's ``--load`` when no rate is given (``None`` in the parser, so that ``--rate``,
#: ``--workload`` and ``--speed`` can tell it was given).
BENCH_LOAD = "paper-scale"
#: Options that ``--speed`` (a fixed benchmark) does not read, with their defaults.
SPEED_IGNORES = {"profile": "paper", "format": "table", "load": None,
                 **{k: getattr(Options(), k) for k in ("beta", "eta", "alpha", "predictor", "last_n",
                                                        "predictor_alpha")}}


def _given(a, names) -> list[str]:
    return [f"--{n.replace('_', '-')}" for n in names if getattr(a, n) not in (None, False)]


def _pack_file(traces: str | None) -> str | None:
    """The file ``--traces`` names (a shipped pack's own file), to tell an output from the inputs."""
    return str(shipped_packs().get(traces or DEFAULT_PACK, traces or ""))


def cmd_bench(a) -> int:
    a.cluster = cluster_address(a.cluster)
    if a.speed:
        extra = _given(a, ("workload", "scenario", "rate", "slo", "scheduler", "seeds", "requests", "runs_csv"))
        extra += [f"--{k.replace('_', '-')}" for k, d in SPEED_IGNORES.items() if getattr(a, k) != d]
        if extra:
            raise DystaInputError(f"--speed runs its own fixed benchmark and does not take {', '.join(extra)}; "
                                  f"drop {'them' if len(extra) > 1 else 'it'}, or drop --speed to compare schedulers")
        return speed_benchmark(a)
    extra = _given(a, ("quick", "no_reproduce"))
    if extra:
        verb, it = ("apply", "them") if len(extra) > 1 else ("applies", "it")
        raise DystaInputError(f"{', '.join(extra)} only {verb} with --speed; drop {it} or add --speed")
    opts = options_from_args(a)
    schedulers = tuple(distinct("--scheduler", a.scheduler or POLICY_NAMES))
    slos = distinct("--slo", a.slo or [10.0])
    inputs = [("--traces", _pack_file(a.traces)), *(("--workload", f) for f in a.workload or ())]
    runs_csv = output_file(a.runs_csv, "--runs-csv", inputs) if a.runs_csv is not None else None
    if a.load is not None and a.rate and not a.workload:
        raise DystaInputError("--load sets the arrival rate, which --rate already gives; drop --load, or drop --rate "
                              "to let --load set the rate")
    pack = resolve_pack(a.traces)
    if a.workload:
        extra = _given(a, (*GENERATE_DEFAULTS, "load"))
        if extra:
            raise DystaInputError(f"{', '.join(extra)} cannot be used with --workload: a workload file fixes its "
                                  "scenario, arrivals (rate), seed and number of requests; drop "
                                  f"{'them' if len(extra) > 1 else 'it'}, or generate workloads without --workload")
        sweeps = []
        seen: dict = {}
        for f in distinct("--workload", a.workload):
            scenario = _workload_scenario(f)
            tables = ScenarioTables.build(pack, scenario)
            w = wl.load(f, tables, pack)
            rate = float(w.meta.get("rate", 0.0)) or float(len(w) / max(w.arrival[-1], 1e-12))
            seed = w.meta.get("seed", 0)
            # the means pool the seeds of a (scenario, rate): two workloads there must be two seeds
            other = seen.setdefault((scenario, rate, seed), f)
            if other != f:
                raise DystaInputError(
                    f"--workload {f} and {other} are both {scenario} at rate {rate:g} with seed {seed}, so their "
                    "results would be averaged as one seed; give workloads of different rates or seeds, or bench "
                    "them one at a time")
            sweeps.append(sweep.Sweep(scenario, tuple((rate, float(m)) for m in slos), schedulers,
                                      seeds=(seed,), n_requests=len(w), profile=a.profile, options=opts,
                                      traces=a.traces, workloads={(rate, seed): w}))
    else:
        seeds = GENERATE_DEFAULTS["seeds"] if a.seeds is None else a.seeds
        requests = GENERATE_DEFAULTS["requests"] if a.requests is None else a.requests
        wl.check_requests(requests)
        scenarios = distinct("--scenario", a.scenario or GENERATE_DEFAULTS["scenario"])
        rates = distinct("--rate", a.rate)
        for s in scenarios:
            pack.scenario(s)  # a pack without the scenario: its error, before any work
        load = a.load or BENCH_LOAD
        sweeps = [sweep.grid(s, rates or [calibrate(pack, s, load, n_requests=requests).rate], slos, schedulers,
                             seeds=tuple(range(seeds)),
                             n_requests=requests, profile=a.profile, options=opts, traces=a.traces)
                  for s in scenarios]
    res = sweep.run(sweeps, jobs=a.jobs, cluster=a.cluster)
    if runs_csv is not None:
        write_csv(res.rows, TIDY_KEYS, runs_csv)
    means = res.means()
    if a.format == "table":
        print(text_table(means))
        groups: dict = {}
        for sw in sweeps:  # replayed workloads: one sweep per file, pooled per (scenario, rate)
            groups.setdefault((sw.scenario, sw.points[0][0]), set()).update(sw.seeds)
        n_seeds = max(len(v) for v in groups.values())
        print(f"\nmeans over {n_seeds} seed(s); profile {a.profile}; traces {pack.provenance()}")
    else:
        print_rows(means, a.format, MEAN_KEYS)
    return 0


def _workload_scenario(path: str) -> str:
    if not path.strip():
        raise DystaInputError("--workload is empty; give a workload file (dysta workload export writes one)")
    p = Path(path)
    if not p.is_file():
        what = "is not a regular file" if p.exists() else "does not exist"
        raise DystaInputError(f"--workload: workload file {path!r} {what}; give a file that "
                              "dysta workload export wrote")
    from .trace import read_header, text_lines
    with text_lines(p) as lines:
        meta = read_header(lines, p, wl.MAGIC, wl.VERSION)
    wl.check_meta(meta, p)
    scenario = meta.get("scenario")
    if scenario not in sweep.SCENARIOS:
        raise DystaInputError(f"{path}: its metadata names no known scenario ({scenario!r}); "
                              f"add \"scenario\": \"attnn\" or \"cnn\" to the '# meta:' line")
    return scenario


def speed_benchmark(a) -> int:
    """Decisions per second of the engine, its cold start, and the wall time of ``reproduce`` (dysta_sw.speed)."""
    from .speed import run_benchmark
    return run_benchmark(traces=a.traces, jobs=a.jobs, quick_only=a.quick, reproduce=not a.no_reproduce,
                         cluster=a.cluster)


# ----------------------------------------------------------------------------- reproduce

def cmd_reproduce(a) -> int:
    a.cluster = cluster_address(a.cluster)
    out = output_dir(a.out, "--out")
    cfg = grid.Config(quick=a.quick, seeds=a.seeds, requests=a.requests, profile=a.profile, traces=a.traces,
                      options=options_from_args(a), load=a.load)
    if cfg.requests is not None:
        wl.check_requests(cfg.requests)
    for sw in cfg.sweeps():  # every parameter and the pack's scenarios, before the run takes the directory
        sw.validate()
    t0 = time.perf_counter()
    from .cluster import session
    with session(a.cluster):  # one connection for every sweep of the report (local without one)
        path = paper.reproduce(cfg, out, jobs=a.jobs, force=a.force)
    claims = path.parent / CLAIMS_FILE
    if claims.is_file():
        print(claims.read_text())
    print(f"wrote {path} ({time.perf_counter() - t0:.1f} s)")
    return 0


# ----------------------------------------------------------------------------- workload

def cmd_workload_export(a) -> int:
    out = output_file(a.output, "--output", [("--traces", _pack_file(a.traces))])
    wl.check_requests(a.requests)
    pack = resolve_pack(a.traces)
    tables = ScenarioTables.build(pack, a.scenario)
    w = wl.generate(tables, a.rate, a.requests, a.seed, pack)
    wl.save(w, tables, out)
    print(f"wrote {a.output}: {len(w)} requests, scenario {a.scenario}, rate {a.rate:g}/s, seed {a.seed}, "
          f"pack {pack.name}")
    return 0


# ----------------------------------------------------------------------------- traces

def cmd_traces_list(a) -> int:
    for name, path in shipped_packs().items():
        pack = resolve_pack(name)
        scen = ", ".join(f"{k} ({len(v)} model-patterns)" for k, v in pack.scenarios.items())
        print(f"{name}{' (default)' if name == DEFAULT_PACK else ''}: {scen}; "
              f"{'SYNTHETIC' if pack.synthetic else 'measured'}; {path.name}")
    return 0


def cmd_traces_show(a) -> int:
    if a.pack is not None and not a.pack.strip():
        raise DystaInputError(f"the pack is empty; give a shipped pack ({', '.join(shipped_packs())}) or a pack "
                              "file, or leave it out for the default")
    pack = resolve_pack(a.pack)
    print(pack.provenance())
    for scen, names in pack.scenarios.items():
        print(f"\nscenario {scen}: {grid.capacity_note(pack, scen)}; Table 5 rate "
              f"{pack.paper_rate(scen):g} requests/s")
        print(f"  {'model-pattern':28s} {'samples':>7s} {'layers':>6s} {'Tiso_est (ms)':>13s} "
              f"{'Tiso min..max (ms)':>20s} {'mean density':>12s}")
        for n in names:
            mp = pack.model_patterns[n]
            print(f"  {n:28s} {mp.n_samples:7d} {mp.n_layers:6d} {1e3 * mp.tiso_est:13.3f} "
                  f"{1e3 * mp.tiso.min():9.3f}..{1e3 * mp.tiso.max():<9.3f} {mp.rho.mean():12.3f}")
    if a.json:
        print(json.dumps(pack.meta, indent=1, sort_keys=True))
    return 0


def cmd_traces_validate(a) -> int:
    for f in a.files:  # every name before the first (maybe long) load
        if not f.strip():
            raise DystaInputError("a file name is empty; give the trace pack files to check")
        if Path(f).exists() and not Path(f).is_file() and not Path(f).is_dir():
            raise DystaInputError(f"{shown(f)}: is a device or pipe, not a trace pack file")
    for f in a.files:
        pack = load_pack(f)
        n = sum(mp.n_samples * mp.n_layers for mp in pack.model_patterns.values())
        print(f"{f}: OK, pack {pack.name!r}, {len(pack.model_patterns)} model-patterns, {n} rows, "
              f"fingerprint {pack.fingerprint}{', SYNTHETIC' if pack.synthetic else ''}")
    return 0


#: A pack name: what ``dysta traces list`` prints and reports quote.
PACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def cmd_traces_generate(a) -> int:
    from .synthetic import generate_pack

    out = output_file(a.output, "--output")
    shipped = {p.resolve(): name for name, p in shipped_packs().items()}
    if out.resolve() in shipped:
        raise DystaInputError(f"--output {a.output}: is the shipped trace pack {shipped[out.resolve()]!r}, which "
                              "every run reads by that name; write the generated pack elsewhere")
    if not PACK_NAME.match(a.name):
        raise DystaInputError(f"--name {a.name!r}: a pack name is letters, digits and . _ + - (e.g. synthetic-v2)")
    rows = a.samples * (a.layers or 60) * 15
    if rows > 100_000_000:
        raise DystaInputError(f"--samples {a.samples} x --layers {a.layers or 'up to 60'} makes about {rows:,} rows; "
                              "keep a pack under 100,000,000 rows")
    a.output = str(out)
    pack = generate_pack(a.samples, a.seed, a.name, latency_scale=a.latency_scale, spread_scale=a.spread_scale,
                         correlation=a.correlation, n_layers=a.layers)
    save_pack(pack, a.output)
    print(f"wrote {a.output}: synthetic pack {pack.name!r}, fingerprint {pack.fingerprint}")
    return 0


# ----------------------------------------------------------------------------- parser

SEEDS = bounded_int(1, MAX_SEEDS, "a number of seeds")
REQUESTS = bounded_int(1, wl.MAX_REQUESTS, "a number of requests")
JOBS = bounded_int(1, MAX_JOBS, "a number of processes")
#: Latency scales whose latencies stay well inside float64 (and above a femtosecond).
LATENCY_SCALE = bounded_float(1e-9, 1e9, "a latency scale")
SPREAD_SCALE = nonnegative_float


def add_plugin_commands(sub) -> None:
    """Add every command registered under the ``dysta.commands`` entry points. A plug-in that
    cannot be imported still gets its command, which then says what went wrong."""
    for ep in plugins.entry_points(plugins.COMMANDS):
        if ep.name in sub.choices:
            continue
        try:
            add = plugins.load(ep)
        except plugins.PluginError as e:
            p = sub.add_parser(ep.name, help=f"(unavailable: {e})")
            p.set_defaults(func=_unavailable(e))
            continue
        add(sub)
        if ep.name not in sub.choices:
            raise RuntimeError(f"the plug-in {ep.value} registered under {ep.group} as {ep.name!r} added no "
                               f"command {ep.name!r}")


def _unavailable(error: Exception):
    def run(a) -> int:
        raise DystaInputError(str(error))
    return run


def _load_arg(text: str) -> str:
    try:
        return parse_load(text)
    except DystaInputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_load(p: argparse.ArgumentParser, default: str = "fcfs", given: bool = False) -> None:
    """``--load``; ``given``: its parser default is ``None`` (the command applies ``default`` itself and can
    tell the option was given)."""
    p.add_argument("--load", type=_load_arg, default=None if given else default, metavar="METHOD",
                   help="how the rates are set (dysta_sw/load.py): fcfs (FCFS misses the paper's FCFS share of "
                   "deadlines at Table 5's point, 55.1 %% AttNN / 23.1 %% CNN), paper-scale (the pack's capacity: "
                   "the paper's rates at an assumed 27 / 265 ms per request), or a target utilisation U at "
                   f"Table 5's rate, e.g. 0.8 (default: {default})")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dysta", description="Sparse multi-DNN scheduling: benchmark, "
                                "reproduce the Dysta paper's experiments, manage traces and workloads.")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("bench", help="compare schedulers on generated or replayed workloads",
                       description="Run schedulers on Poisson workloads (or replay --workload files) and print "
                       "means over seeds in the paper's Table 5 layout, JSON or CSV.")
    b.add_argument("--scenario", nargs="+", choices=sweep.SCENARIOS, default=None,
                   help="scenarios (default attnn)")
    b.add_argument("--rate", nargs="+", type=positive_float, default=None, metavar="R",
                   help="arrival rates, requests/s (default: Table 5's rate as --load sets it)")
    _add_load(b, BENCH_LOAD, given=True)
    b.add_argument("--slo", nargs="+", type=positive_float, default=None, metavar="M",
                   help="SLO multipliers: deadline = arrival + M x mean isolated latency of the model "
                   "(default 10; M < 1 is allowed: most requests then miss)")
    b.add_argument("--scheduler", nargs="+", default=None, metavar="NAME",
                   help=f"schedulers: {', '.join(policy_names())} (default: all but dysta-hw-* and other plug-ins)")
    b.add_argument("--seeds", type=SEEDS, default=None, help="number of seeds, 0..S-1 (default 5)")
    b.add_argument("--requests", type=REQUESTS, default=None, help="requests per workload (default 1000)")
    b.add_argument("--workload", nargs="+", metavar="FILE", help="replay exported workload files instead")
    b.add_argument("--profile", choices=("paper", "reference"), default="paper",
                   help="semantics: paper (default) or reference, the published artifact's simulator (README)")
    b.add_argument("--format", choices=("table", "json", "csv"), default="table")
    b.add_argument("--runs-csv", metavar="FILE", help="also write one row per run (tidy) to FILE")
    b.add_argument("--jobs", type=JOBS, default=None, help="processes (default: all cores)")
    b.add_argument("--speed", action="store_true",
                   help="engine speed benchmark: decisions/s and the wall time of the whole reproduce grid")
    b.add_argument("--quick", action="store_true", help="with --speed: time the quick reproduce only")
    b.add_argument("--no-reproduce", action="store_true", help="with --speed: skip the whole-reproduce timings")
    add_cluster(b)
    add_traces(b)
    add_policy_options(b)
    b.set_defaults(func=cmd_bench)

    r = sub.add_parser("reproduce", help="run the paper's experiment grid and write a report with plots")
    r.add_argument("--out", required=True, metavar="DIR", help="output directory (report.md, PNGs, CSVs)")
    r.add_argument("--quick", action="store_true", help="fewer points, 5 seeds, 300 requests")
    r.add_argument("--seeds", type=SEEDS, default=None, help="override the number of seeds (default 20; --quick 5)")
    r.add_argument("--requests", type=REQUESTS, default=None, help="override requests per run")
    r.add_argument("--profile", choices=("paper", "reference"), default="paper",
                   help="semantics: paper (default) or reference, the published artifact's simulator (README)")
    r.add_argument("--jobs", type=JOBS, default=None, help="processes (default: all cores)")
    r.add_argument("--force", action="store_true",
                   help="take the output directory even if another live run holds its lock (DIR/.dysta.lock)")
    _add_load(r)
    add_cluster(r)
    add_traces(r)
    add_policy_options(r)
    r.set_defaults(func=cmd_reproduce)

    w = sub.add_parser("workload", help="export request tables for replay")
    wsub = w.add_subparsers(dest="action", required=True)
    we = wsub.add_parser("export", help="write a generated workload (dysta-workload v1 CSV)")
    we.add_argument("--scenario", choices=sweep.SCENARIOS, required=True)
    we.add_argument("--rate", type=positive_float, required=True, help="arrival rate, requests/s")
    we.add_argument("--seed", type=seed, default=0)
    we.add_argument("--requests", type=REQUESTS, default=1000)
    we.add_argument("-o", "--output", required=True, metavar="FILE")
    add_traces(we)
    we.set_defaults(func=cmd_workload_export)

    t = sub.add_parser("traces", help="list, inspect, validate and generate trace packs")
    tsub = t.add_subparsers(dest="action", required=True)
    tl = tsub.add_parser("list", help="the shipped trace packs")
    tl.set_defaults(func=cmd_traces_list)
    ts = tsub.add_parser("show", help="per model-pattern statistics of a pack")
    ts.add_argument("pack", nargs="?", default=None, help=f"pack name or file (default {DEFAULT_PACK})")
    ts.add_argument("--json", action="store_true", help="also print the pack metadata")
    ts.set_defaults(func=cmd_traces_show)
    tv = tsub.add_parser("validate", help="load and check trace pack files")
    tv.add_argument("files", nargs="+")
    tv.set_defaults(func=cmd_traces_validate)
    tg = tsub.add_parser("generate", help="write a SYNTHETIC pack (the defaults give the shipped synthetic-v1)")
    tg.add_argument("-o", "--output", required=True, metavar="FILE", help="output (.csv or .csv.gz)")
    tg.add_argument("--name", default="synthetic-v1")
    tg.add_argument("--samples", type=bounded_int(2, 10_000_000, "a sample count"), default=128,
                    help="samples per model-pattern (>= 2: one calib, one test)")
    tg.add_argument("--seed", type=seed, default=2023)
    tg.add_argument("--latency-scale", type=LATENCY_SCALE, default=1.0,
                    help="multiplies every mean isolated latency")
    tg.add_argument("--spread-scale", type=SPREAD_SCALE, default=1.0, help="multiplies per-sample sparsity spread")
    tg.add_argument("--correlation", type=unit_float, default=None, help="inter-layer density correlation, 0..1")
    tg.add_argument("--layers", type=bounded_int(1, 10_000, "a layer count"), default=None,
                    help="override every model's layer count")
    tg.set_defaults(func=cmd_traces_generate)

    add_plugin_commands(sub)
    return p


def _name_commands(parser: argparse.ArgumentParser, leaves: dict | None = None) -> dict:
    """Record on every leaf parser its full command (``dysta traces generate``), for error
    messages; return ``{full command: leaf parser}``."""
    leaves = {} if leaves is None else leaves
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if any(isinstance(x, argparse._SubParsersAction) for x in sub._actions):
                    _name_commands(sub, leaves)
                else:
                    sub.set_defaults(command_name=sub.prog)
                    leaves[sub.prog] = sub
    return leaves


def main(argv: list[str] | None = None) -> int:
    """``dysta``: every command's bad input ends as ``dysta <command>: error: ...`` and exit status 2;
    Ctrl-C as ``dysta <command>: interrupted`` and status 130."""
    name = "dysta"  # until the command is known
    previous = _catch_sigint()
    try:
        parser = build_parser()  # loads the plug-ins
        leaves = _name_commands(parser)
        args, extra = parser.parse_known_args(argv)
        if extra:  # named by the command that does not know them, with its usage
            leaves.get(getattr(args, "command_name", None), parser).error(
                f"unrecognized arguments: {' '.join(extra)}")
        name = getattr(args, "command_name", f"dysta {args.command}")
        code = args.func(args)
        errors.check_interrupt()  # a Ctrl-C that a library swallowed still ends the run as interrupted
        return code
    except KeyboardInterrupt:
        print(f"\n{name}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if errors.interrupted:
            # the Ctrl-C reached a library that turned it into an error of its own (a C extension
            # being initialised reports ``ImportError: initialization failed``): still a Ctrl-C
            print(f"\n{name}: interrupted", file=sys.stderr)
            return 130
        if isinstance(e, DystaInputError):
            print(f"{name}: error: {e}", file=sys.stderr)
            return 2
        if isinstance(e, OSError):
            # an output that cannot be written (disk full, a path that vanished): input, not a bug
            what = f"{e.filename}: " if e.filename else ""
            print(f"{name}: error: {what}{e.strerror or e}; check the path, its permissions and the free "
                  "space", file=sys.stderr)
            return 2
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _on_sigint(signum, frame):
    errors.interrupted = True
    raise KeyboardInterrupt


def _catch_sigint():
    """Install the SIGINT handler that also records the interrupt (:func:`errors.check_interrupt`);
    returns the previous handler (``None`` off the main thread, where handlers cannot be set)."""
    errors.interrupted = False
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, _on_sigint)


if __name__ == "__main__":
    sys.exit(main())
