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
import sys
import time
from pathlib import Path

from . import plugins, sweep
from . import workload as wl
from .cliargs import add_cluster, add_policy_options, add_traces, options_from_args, positive_int, print_rows
from .errors import DystaInputError
from .policies import POLICY_NAMES, policy_names
from .report import grid, paper
from .report.tables import MEAN_KEYS, TIDY_KEYS, text_table, write_csv
from .tables import ScenarioTables
from .trace import DEFAULT_PACK, load_pack, resolve_pack, save_pack, shipped_packs

# ----------------------------------------------------------------------------- bench

def cmd_bench(a) -> int:
    if a.speed:
        return speed_benchmark(a)
    opts = options_from_args(a)
    schedulers = tuple(a.scheduler)
    if a.workload:
        pack = resolve_pack(a.traces)
        sweeps = []
        for f in a.workload:
            scenario = _workload_scenario(f)
            tables = ScenarioTables.build(pack, scenario)
            w = wl.load(f, tables, pack)
            rate = float(w.meta.get("rate", 0.0)) or float(len(w) / max(w.arrival[-1], 1e-12))
            seed = w.meta.get("seed", 0)
            sweeps.append(sweep.Sweep(scenario, tuple((rate, float(m)) for m in a.slo), schedulers,
                                      seeds=(seed,), n_requests=len(w), profile=a.profile, options=opts,
                                      traces=a.traces, workloads={(rate, seed): w}))
    else:
        pack = resolve_pack(a.traces)
        sweeps = [sweep.grid(s, a.rate or [pack.paper_rate(s)], a.slo, schedulers, seeds=tuple(range(a.seeds)),
                             n_requests=a.requests, profile=a.profile, options=opts, traces=a.traces)
                  for s in a.scenario]
    res = sweep.run(sweeps, jobs=a.jobs, cluster=a.cluster)
    if a.runs_csv:
        write_csv(res.rows, TIDY_KEYS, a.runs_csv)
    means = res.means()
    if a.format == "table":
        pack = resolve_pack(a.traces)
        print(text_table(means))
        print(f"\nmeans over {len(sweeps[0].seeds)} seed(s); profile {a.profile}; traces {pack.provenance()}")
    else:
        print_rows(means, a.format, MEAN_KEYS)
    return 0


def _workload_scenario(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise DystaInputError(f"workload file {path!r} does not exist")
    from .trace import _open_text, read_header
    meta = read_header(_open_text(p), p, wl.MAGIC, wl.VERSION)
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
    cfg = grid.Config(quick=a.quick, seeds=a.seeds, requests=a.requests, profile=a.profile, traces=a.traces,
                        options=options_from_args(a))
    t0 = time.perf_counter()
    from .cluster import session
    with session(a.cluster):  # one connection for every sweep of the report (local without one)
        path = paper.reproduce(cfg, a.out, jobs=a.jobs)
    print(f"wrote {path} ({time.perf_counter() - t0:.1f} s)")
    return 0


# ----------------------------------------------------------------------------- workload

def cmd_workload_export(a) -> int:
    pack = resolve_pack(a.traces)
    tables = ScenarioTables.build(pack, a.scenario)
    w = wl.generate(tables, a.rate, a.requests, a.seed, pack)
    wl.save(w, tables, a.output)
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
    for f in a.files:
        pack = load_pack(f)
        n = sum(mp.n_samples * mp.n_layers for mp in pack.model_patterns.values())
        print(f"{f}: OK, pack {pack.name!r}, {len(pack.model_patterns)} model-patterns, {n} rows, "
              f"fingerprint {pack.fingerprint}{', SYNTHETIC' if pack.synthetic else ''}")
    return 0


def cmd_traces_generate(a) -> int:
    from .synthetic import generate_pack
    pack = generate_pack(a.samples, a.seed, a.name, latency_scale=a.latency_scale, spread_scale=a.spread_scale,
                         correlation=a.correlation, n_layers=a.layers)
    save_pack(pack, a.output)
    print(f"wrote {a.output}: synthetic pack {pack.name!r}, fingerprint {pack.fingerprint}")
    return 0


# ----------------------------------------------------------------------------- parser

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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dysta", description="Sparse multi-DNN scheduling: benchmark, "
                                "reproduce the Dysta paper's experiments, manage traces and workloads.")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("bench", help="compare schedulers on generated or replayed workloads",
                       description="Run schedulers on Poisson workloads (or replay --workload files) and print "
                       "means over seeds in the paper's Table 5 layout, JSON or CSV.")
    b.add_argument("--scenario", nargs="+", choices=sweep.SCENARIOS, default=["attnn"])
    b.add_argument("--rate", nargs="+", type=float, default=None, metavar="R",
                   help="arrival rates, requests/s (default: Table 5's 30 AttNN / 3 CNN requests/s times the "
                   "pack's capacity, see 'dysta traces show')")
    b.add_argument("--slo", nargs="+", type=float, default=[10.0], metavar="M",
                   help="SLO multipliers: deadline = arrival + M x mean isolated latency of the model "
                   "(M < 1 is allowed: most requests then miss)")
    b.add_argument("--scheduler", nargs="+", default=list(POLICY_NAMES), metavar="NAME",
                   help=f"schedulers: {', '.join(policy_names())} (default: all but dysta-hw-* and other plug-ins)")
    b.add_argument("--seeds", type=positive_int, default=5, help="number of seeds, 0..S-1 (default 5)")
    b.add_argument("--requests", type=positive_int, default=1000, help="requests per workload (default 1000)")
    b.add_argument("--workload", nargs="+", metavar="FILE", help="replay exported workload files instead")
    b.add_argument("--profile", choices=("paper", "reference"), default="paper",
                   help="semantics: paper (default) or reference, the published artifact's simulator (README)")
    b.add_argument("--format", choices=("table", "json", "csv"), default="table")
    b.add_argument("--runs-csv", metavar="FILE", help="also write one row per run (tidy) to FILE")
    b.add_argument("--jobs", type=positive_int, default=None, help="processes (default: all cores)")
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
    r.add_argument("--quick", action="store_true", help="fewer points, 2 seeds, 300 requests (< 2 min)")
    r.add_argument("--seeds", type=positive_int, default=None, help="override the number of seeds")
    r.add_argument("--requests", type=positive_int, default=None, help="override requests per run")
    r.add_argument("--profile", choices=("paper", "reference"), default="paper",
                   help="semantics: paper (default) or reference, the published artifact's simulator (README)")
    r.add_argument("--jobs", type=positive_int, default=None, help="processes (default: all cores)")
    add_cluster(r)
    add_traces(r)
    add_policy_options(r)
    r.set_defaults(func=cmd_reproduce)

    w = sub.add_parser("workload", help="export request tables for replay")
    wsub = w.add_subparsers(dest="action", required=True)
    we = wsub.add_parser("export", help="write a generated workload (dysta-workload v1 CSV)")
    we.add_argument("--scenario", choices=sweep.SCENARIOS, required=True)
    we.add_argument("--rate", type=float, required=True, help="arrival rate, requests/s")
    we.add_argument("--seed", type=int, default=0)
    we.add_argument("--requests", type=positive_int, default=1000)
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
    tg.add_argument("--samples", type=int, default=128, help="samples per model-pattern")
    tg.add_argument("--seed", type=int, default=2023)
    tg.add_argument("--latency-scale", type=float, default=1.0, help="multiplies every mean isolated latency")
    tg.add_argument("--spread-scale", type=float, default=1.0, help="multiplies per-sample sparsity spread")
    tg.add_argument("--correlation", type=float, default=None, help="inter-layer density correlation, 0..1")
    tg.add_argument("--layers", type=int, default=None, help="override every model's layer count")
    tg.set_defaults(func=cmd_traces_generate)

    add_plugin_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DystaInputError as e:
        print(f"dysta {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
