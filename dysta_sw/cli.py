"""The ``dysta`` command line.

Commands: ``bench`` (compare schedulers; ``--speed`` for the engine benchmark), ``reproduce``
(the paper's grid and report), ``workload export``, ``traces list|show|validate|generate``, and
the hardware commands of :mod:`dysta_sw.hwcli` (``verilog``, ``hw-latency``, ``hil``).
Later subsystems register more commands through :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import report, sweep
from . import workload as wl
from .errors import DystaInputError
from .policies import HW_POLICY_NAMES, POLICY_NAMES, PREDICTORS, Options
from .tables import ScenarioTables
from .trace import DEFAULT_PACK, load_pack, resolve_pack, save_pack, shipped_packs


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _add_traces(p):
    p.add_argument("--traces", metavar="PACK", default=None,
                   help=f"trace pack: a shipped pack name or a file path (default: {DEFAULT_PACK})")


def _add_cluster(p):
    p.add_argument("--cluster", metavar="ADDRESS", default=None,
                   help="run on the Dask cluster whose scheduler is at ADDRESS, e.g. tcp://host:8786 (default: "
                   "$DYSTA_CLUSTER, else local processes; needs the cluster extra; see docs/cluster.md)")


def _add_policy_options(p):
    g = p.add_argument_group("policy options")
    g.add_argument("--beta", type=float, default=0.01, help="Dysta static-score slack weight (default 0.01)")
    g.add_argument("--eta", type=float, default=0.01, help="Dysta dynamic-score weight (default 0.01)")
    g.add_argument("--alpha", type=float, default=1.0, help="SDRM3 fairness weight (default 1)")
    g.add_argument("--predictor", choices=PREDICTORS, default="last-one",
                   help="sparse latency predictor (default last-one; the reference profile forces average-all)")
    g.add_argument("--last-n", type=int, default=3, help="window of the last-n predictor (default 3)")


def _options(a) -> Options:
    return Options(beta=a.beta, eta=a.eta, alpha=a.alpha, predictor=a.predictor, last_n=a.last_n)


def _print_rows(rows: list[dict], fmt: str, keys) -> None:
    if fmt == "json":
        print(json.dumps(rows, indent=1))
    elif fmt == "csv":
        import csv
        w = csv.DictWriter(sys.stdout, fieldnames=list(keys), extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    else:
        print(report.text_table(rows))


# ----------------------------------------------------------------------------- bench

def cmd_bench(a) -> int:
    if a.speed:
        return speed_benchmark(a)
    opts = _options(a)
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
        report.write_csv(res.rows, report.TIDY_KEYS, a.runs_csv)
    means = res.means()
    if a.format == "table":
        pack = resolve_pack(a.traces)
        print(report.text_table(means))
        print(f"\nmeans over {len(sweeps[0].seeds)} seed(s); profile {a.profile}; traces {pack.provenance()}")
    else:
        _print_rows(means, a.format, report.MEAN_KEYS)
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
    cfg = report.Config(quick=a.quick, seeds=a.seeds, requests=a.requests, profile=a.profile, traces=a.traces,
                        options=_options(a))
    t0 = time.perf_counter()
    from .cluster import session
    with session(a.cluster):  # one connection for every sweep of the report (local without one)
        path = report.reproduce(cfg, a.out, jobs=a.jobs)
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
        print(f"\nscenario {scen}: {report.capacity_note(pack, scen)}; Table 5 rate "
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

#: Callables ``(subparsers) -> None`` adding more commands (hardware, synthesis, profiling).
COMMANDS: list = []


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
                   help=f"schedulers: {', '.join(POLICY_NAMES + HW_POLICY_NAMES)} (default: all but dysta-hw-*)")
    b.add_argument("--seeds", type=_positive_int, default=5, help="number of seeds, 0..S-1 (default 5)")
    b.add_argument("--requests", type=_positive_int, default=1000, help="requests per workload (default 1000)")
    b.add_argument("--workload", nargs="+", metavar="FILE", help="replay exported workload files instead")
    b.add_argument("--profile", choices=("paper", "reference"), default="paper", help="semantics profile")
    b.add_argument("--format", choices=("table", "json", "csv"), default="table")
    b.add_argument("--runs-csv", metavar="FILE", help="also write one row per run (tidy) to FILE")
    b.add_argument("--jobs", type=_positive_int, default=None, help="processes (default: all cores)")
    b.add_argument("--speed", action="store_true",
                   help="engine speed benchmark: decisions/s and the wall time of the whole reproduce grid")
    b.add_argument("--quick", action="store_true", help="with --speed: time the quick reproduce only")
    b.add_argument("--no-reproduce", action="store_true", help="with --speed: skip the whole-reproduce timings")
    _add_cluster(b)
    _add_traces(b)
    _add_policy_options(b)
    b.set_defaults(func=cmd_bench)

    r = sub.add_parser("reproduce", help="run the paper's experiment grid and write a report with plots")
    r.add_argument("--out", required=True, metavar="DIR", help="output directory (report.md, PNGs, CSVs)")
    r.add_argument("--quick", action="store_true", help="fewer points, 2 seeds, 300 requests (< 2 min)")
    r.add_argument("--seeds", type=_positive_int, default=None, help="override the number of seeds")
    r.add_argument("--requests", type=_positive_int, default=None, help="override requests per run")
    r.add_argument("--profile", choices=("paper", "reference"), default="paper")
    r.add_argument("--jobs", type=_positive_int, default=None, help="processes (default: all cores)")
    _add_cluster(r)
    _add_traces(r)
    _add_policy_options(r)
    r.set_defaults(func=cmd_reproduce)

    w = sub.add_parser("workload", help="export request tables for replay")
    wsub = w.add_subparsers(dest="action", required=True)
    we = wsub.add_parser("export", help="write a generated workload (dysta-workload v1 CSV)")
    we.add_argument("--scenario", choices=sweep.SCENARIOS, required=True)
    we.add_argument("--rate", type=float, required=True, help="arrival rate, requests/s")
    we.add_argument("--seed", type=int, default=0)
    we.add_argument("--requests", type=_positive_int, default=1000)
    we.add_argument("-o", "--output", required=True, metavar="FILE")
    _add_traces(we)
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

    from . import hwcli  # verilog, hw-latency, hil (dysta_hw is imported when they run)
    hwcli.add_commands(sub)
    try:  # profile (torch is imported when it runs)
        from profiling.cli import add_profile_command
    except ImportError:  # pragma: no cover - profiling/ ships in the same distribution
        pass
    else:
        add_profile_command(sub)
    for add in COMMANDS:
        add(sub)
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
