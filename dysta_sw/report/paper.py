"""``dysta reproduce``: the load calibration, the paper's grid, its tables and figures with
their intervals over seeds and Dysta's paired differences, the plug-ins' sections (the paper's
claims first), the configuration and the trace provenance, written to ``out/report.md`` with the
PNG figures and the CSV/JSON results.

The run holds ``out`` through :class:`dysta_sw.outputs.RunDirectory`: a lock against a second live
run, the previous run's outputs removed first, every file written aside and moved in at the end,
``report.md`` last."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from .. import __version__
from ..cluster import Background
from ..compiled import engine as compiled_engine
from ..load import describe
from ..outputs import RunDirectory, json_text
from ..stats import LEVEL
from ..trace import resolve_pack
from . import sections
from .claims import paired_table
from .grid import Config, capacity_note, run_grid
from .plots import BREAKDOWN, FIGURE_SCHEDULERS, plot_breakdown, plot_rate_sweep, plot_slo_sweep, plot_tradeoff, pyplot
from .tables import MEAN_KEYS, TIDY_KEYS, per_model_table, table5, write_csv, write_text

__all__ = ["reproduce"]


def reproduce(cfg: Config, out: str | Path, jobs: int | None = None, progress: bool | None = None,
              force: bool = False) -> Path:
    """Run the grid and write ``out/report.md``, the PNG figures and the tidy CSV results (see the
    module documentation for the lock and the order of the files; ``force`` takes a locked ``out``)."""
    pack = resolve_pack(cfg.traces)
    with RunDirectory(out, force=force) as rd:
        _write(cfg, rd.stage, pack, jobs, progress)
        return rd.commit()


#: ``{"wall": s, "cpu": s}`` of the last report's Figs. 12-15 when drawn in processes of their own
#: (wall: the longest process; CPU: all of them)
figure_timing: dict = {}

#: Figs. 12-15 in two groups of about equal drawing time, one process each
FIGURE_GROUPS = ((12, 13), (14, 15))


def _figures(which, means, grids, schedulers, figs, out: Path, note: str) -> dict:
    """Draw the figures ``which`` (of 12-15) into ``out``; returns their wall and CPU seconds."""
    t0, c0 = time.perf_counter(), time.process_time()
    if 12 in which:
        plot_tradeoff(means, grids, schedulers, out / "fig12_tradeoff.png", note)
    if 13 in which:
        plot_breakdown(means, grids, out / "fig13_breakdown.png", note)
    if 14 in which:
        plot_slo_sweep(means, grids, figs, out / "fig14_slo_sweep.png", note)
    if 15 in which:
        plot_rate_sweep(means, grids, figs, out / "fig15_rate_sweep.png", note)
    return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}


def _write(cfg: Config, out: Path, pack, jobs, progress) -> None:
    note = " [SYNTHETIC traces]" if pack.synthetic else ""
    ctx = sections.Context(cfg=cfg, pack=pack, out=out, jobs=jobs, progress=progress, note=note)
    # the sections that need neither the grid's results nor its pool render meanwhile, each in a
    # process of its own (the gateware simulations and Yosys runs overlap the scheduling); those
    # that read the calibrated load start once it is (FCFS alone: no kernel of the engine needed,
    # dysta_sw.compiled.engine.fcfs_finish), which they inherit instead of doing again, the
    # others before
    hw = True in sections.kernels(cfg)
    # the dysta-hw kernel compiles in a process of its own while this one compiles the other
    # (they share no compiled code: dysta_sw.compiled.engine._run); a process that needs a kernel
    # being compiled waits for it and loads it from the disk cache (compiled.engine.warm)
    jit = compiled_engine.compile_hw_in_background() if hw and (jobs or os.cpu_count() or 1) > 1 else None
    helpers = [jit] if jit is not None else []
    if (jobs or os.cpu_count() or 1) > 1:
        # imported once (0.7 s of CPU), inherited by every process that draws: the sections
        # started next (Fig. 16, the trace statistics) and those after the calibration
        pyplot()
    background = sections.start(ctx, cfg.sections, calibrated=False) or []
    try:
        cfg.grids  # noqa: B018 (calibrates, cached in dysta_sw.load)
        background += sections.start(ctx, cfg.sections, calibrated=True) or []
        _write_all(cfg, out, pack, jobs, progress, ctx, background or None)
        for b in helpers:
            b.result()
    except BaseException:
        for b in background + helpers:
            b.stop()
        raise


def _write_all(cfg: Config, out: Path, pack, jobs, progress, ctx, background) -> None:
    t0 = time.perf_counter()
    res = run_grid(cfg, jobs=jobs, progress=progress)
    means = res.means()
    write_csv(res.rows, TIDY_KEYS, out / "runs.csv")
    write_csv(means, MEAN_KEYS, out / "means.csv")
    write_text(out / "means.json", json_text(means, indent=1))
    grids = cfg.grids
    note = ctx.note
    figs = [s for s in FIGURE_SCHEDULERS if s in cfg.schedulers]
    # Figs. 12-15 are drawn in two processes of their own (matplotlib takes seconds per figure)
    # while this one writes the tables and sections
    figure_timing.clear()
    figures = ([Background(_figures, which, means, grids, cfg.schedulers, figs, out, note)
                for which in FIGURE_GROUPS] if (jobs or os.cpu_count() or 1) > 1 else [])
    if not figures:
        _figures(sum(FIGURE_GROUPS, ()), means, grids, cfg.schedulers, figs, out, note)
    md = [f"# Dysta reproduction report{' (quick)' if cfg.quick else ''}", ""]
    if pack.synthetic:
        md += ["> **SYNTHETIC TRACES.** Every figure below was computed on the synthetic trace pack "
               f"`{pack.name}`, generated to the shape of the paper's Table 3, not measured on real "
               "models. Compare schedulers with it; do not quote its absolute numbers as hardware results.", ""]
    points = [(f"{g.label} ({g.main_rate:g}/s)", g.scenario, g.main_rate, g.main_slo) for g in grids]
    others = [s for s in cfg.schedulers if s != "dysta"]
    ci_note = (f"Each cell: mean over {cfg.n_seeds} seeds ± the half-width of its {100 * LEVEL:g} % Student-t "
               "interval (t quantile with n - 1 degrees of freedom, `dysta_sw.stats`).")
    paired_note = ("Dysta minus each scheduler on the same request tables, per seed, then the mean ± the "
                   f"half-width of the {100 * LEVEL:g} % Student-t interval of those paired differences; "
                   "`*`: the interval excludes 0. Negative is better for Dysta.")
    md += ["## Load calibration", "",
           f"How the arrival rates were set (`--load {cfg.load}`, `dysta_sw/load.py`); every rate of the grid is "
           "the paper's times the scenario's factor:", "",
           *[f"- {g.label}: {describe(cfg.calibration(g.scenario), pack)}." for g in grids], ""]
    md += ["## Table 5: comparison of scheduling approaches", "",
           f"Mean over {cfg.n_seeds} seeds of {cfg.n_requests} requests; SLO multiplier "
           f"{grids[0].main_slo:g}; best mean per column in bold. " + ci_note + " Rates: "
           + "; ".join(f"{g.label} {g.main_rate:g}/s, offered load {g.main_rate * pack.mean_tiso(g.scenario):.2f}"
                       for g in grids) + ".", "",
           table5(means, points, cfg.schedulers, ci=True), "",
           "### Paired differences (Table 5 setting)", "", paired_note, "",
           paired_table(res.rows, points, others), ""]
    pts12 = [(f"{g.label} ({r:g}/s)", g.scenario, r, g.main_slo) for g in grids for r in (g.main_rate, g.high_rate)]
    md += ["## Fig. 12: ANTT / violation trade-off", "", "![Fig. 12](fig12_tradeoff.png)", "",
           "Error bars: the intervals of the table. " + ci_note, "",
           table5(means, pts12, cfg.schedulers, ci=True), "", paired_note, "",
           paired_table(res.rows, pts12, others), ""]
    md += ["## Fig. 13: optimisation breakdown", "", "![Fig. 13](fig13_breakdown.png)", "",
           table5(means, points, [s for s in BREAKDOWN if s in cfg.schedulers], ci=True), ""]
    md += ["## Fig. 14: robustness across latency SLOs", "", "![Fig. 14](fig14_slo_sweep.png)", "", ci_note, ""]
    for g in grids:
        for r in (g.main_rate, g.high_rate):
            md += [f"### {g.label}, {r:g} req/s", "",
                   table5(means, [(f"M={m:g}", g.scenario, r, m) for m in g.slos], figs, ci=True), ""]
    md += ["## Fig. 15: robustness across arrival rates", "", "![Fig. 15](fig15_rate_sweep.png)", "", ci_note, ""]
    for g in grids:
        md += [f"### {g.label}, SLO {g.main_slo:g}x", "",
               table5(means, [(f"{r:g}/s", g.scenario, r, g.main_slo) for r in g.rates], figs, ci=True), ""]
    md += ["## Per-model breakdown (Table 5 setting)", ""]
    for g in grids:
        md += [f"### {g.label}, {g.main_rate:g} req/s, SLO {g.main_slo:g}x", "",
               per_model_table(means, g.scenario, g.main_rate, g.main_slo, cfg.schedulers), ""]
    try:
        md += sections.render(replace(ctx, results=res), cfg.sections, background)
        drawn = [f.result() for f in figures]
        if drawn:
            figure_timing.update(wall=max(d["wall"] for d in drawn), cpu=sum(d["cpu"] for d in drawn))
    except BaseException:
        for f in figures:
            f.stop()
        raise
    wall = time.perf_counter() - t0
    md += ["## Configuration", "",
           f"- dysta {__version__}, Python {platform.python_version()}, numpy {np.__version__}",
           f"- semantics profile: `{cfg.profile}`; options: `{json.dumps(asdict(cfg.options))}`; load: `{cfg.load}`",
           f"- seeds: {cfg.n_seeds} (0..{cfg.n_seeds - 1}); requests per run: {cfg.n_requests}",
           *[f"- {g.label}: rates {', '.join(f'{r:g}' for r in g.rates)} at SLO {g.main_slo:g}; "
             f"SLOs {', '.join(f'{m:g}' for m in g.slos)} at rates {g.main_rate:g} and {g.high_rate:g}; "
             f"pack capacity: {capacity_note(pack, g.scenario)}"
             + ("" if cfg.calibration(g.scenario).method == "paper-scale" else
                " (with this load calibration only Dysta's penalty term uses the capacity; the rates are set "
                "as under Load calibration)")
             for g in grids],
           f"- schedulers: {', '.join(cfg.schedulers)}",
           f"- {len(res.rows)} result rows, {res.decisions:,} scheduling decisions in {res.wall_s:.1f} s "
           f"(report total {wall:.1f} s)",
           "- files: `runs.csv` (one row per run), `means.csv` / `means.json` (means over seeds)", "",
           "## Trace provenance", "", f"- {pack.provenance()}", f"- source: `{Path(pack.source).name}`",
           f"- metadata: `{json.dumps(pack.meta, sort_keys=True)}`", ""]
    write_text(out / "report.md", "\n".join(md))
