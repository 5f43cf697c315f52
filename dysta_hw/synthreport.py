"""Resource tables, the Fig. 16-style plot and the Table 6-style overhead of the hardware scheduler.

Works on the result dicts of :func:`dysta_hw.synth.synth_scheduler` (plain JSON, so the report
needs neither Amaranth nor the tools once the results exist; this module imports neither).
"""

from __future__ import annotations

from pathlib import Path

from dysta_sw.report.plots import pyplot
from dysta_sw.report.tables import rows_table

__all__ = ["EYERISS_V2", "PAPER_SCHEDULER", "resource_rows", "normalised_rows", "table6_rows", "table6_results",
           "goal_rows", "plot_fig16", "sweep_markdown"]

#: Paper Table 6: Eyeriss-V2 on the ZU7EV, and the paper's scheduler (Vivado, depth 64, FP16, shared).
EYERISS_V2 = {"lut": 99_168, "dsp": 194, "ram_kb": 140.0}
PAPER_SCHEDULER = {"lut": 553, "dsp": 3, "ram_kb": 0.5}

_BASE = ("fp32", "separate", "ieee")  # the paper's Non_Opt_FP32


def _mode(r: dict) -> str:
    return r.get("mode", "ieee")


def resource_rows(results: list[dict]) -> list[dict]:
    """One flat row per result: configuration, resources (``lut`` counts the shift-register LUTs,
    ``srl``, as logic), Fmax where placed and routed."""
    rows = []
    for r in results:
        row = {"target": r["target"], "depth": r["depth"], "fmt": r["fmt"], "mode": _mode(r), "unit": r["unit"],
               "lut": r["lut"], "srl": r.get("srl", 0), "lutram": r["lutram"], "ff": r["ff"], "dsp": r["dsp"],
               "bram": r["bram"], "ram_kb": r["ram_kb"]}
        if "fmax_mhz" in r:
            row["fmax_mhz"] = None if r["fmax_mhz"] is None else round(r["fmax_mhz"], 1)
        if r.get("fits") is False:
            row["note"] = r.get("message", "does not fit")
        rows.append(row)
    return rows


def normalised_rows(results: list[dict]) -> list[dict]:
    """LUT, FF and DSP of each configuration over those of the separate-unit FP32 IEEE design (the
    paper's Non_Opt_FP32) of the same target and depth; depths without that design are left out."""
    base = {(r["target"], r["depth"]): r for r in results if (r["fmt"], r["unit"], _mode(r)) == _BASE}
    rows = []
    for r in results:
        b = base.get((r["target"], r["depth"]))
        if b is None:
            continue
        rows.append({"target": r["target"], "depth": r["depth"], "design": _label(r),
                     **{k: round(r[k] / b[k], 3) if b[k] else None for k in ("lut", "ff", "dsp")}})
    return rows


def _label(r: dict) -> str:
    lean = "_lean" if _mode(r) == "lean" else ""
    return f"{'Opt' if r['unit'] == 'shared' else 'Non_Opt'}_{r['fmt'].upper()}{lean}"


def table6_rows(results) -> list[dict]:
    """Table 6: each scheduler of ``results`` (one result dict or a list) next to Eyeriss-V2
    (published figures), their sum and the overhead, then the paper's own scheduler row. LUTs are
    logic plus LUT-RAM."""
    results = [results] if isinstance(results, dict) else list(results)
    rows = [{"module": "Eyeriss-V2 (published)", "LUTs": EYERISS_V2["lut"], "DSPs": EYERISS_V2["dsp"],
             "on-chip RAM (KB)": EYERISS_V2["ram_kb"]}]
    for result in results:
        ours = {"lut": result["lut"] + result["lutram"], "dsp": result["dsp"], "ram_kb": result["ram_kb"]}
        total = {k: EYERISS_V2[k] + ours[k] for k in ours}
        rows += [
            {"module": f"Dysta scheduler ({result['target']}, depth {result['depth']}, {result['fmt']} "
                       f"{_mode(result)}, {result['unit']})",
             "LUTs": ours["lut"], "DSPs": ours["dsp"], "on-chip RAM (KB)": round(ours["ram_kb"], 2)},
            {"module": f"Dysta ({_mode(result)}) + Eyeriss-V2", "LUTs": total["lut"], "DSPs": total["dsp"],
             "on-chip RAM (KB)": round(total["ram_kb"], 2)},
            {"module": f"overhead ({_mode(result)})",
             **{name: f"{100 * ours[k] / EYERISS_V2[k]:.2f} %" for name, k in
                (("LUTs", "lut"), ("DSPs", "dsp"), ("on-chip RAM (KB)", "ram_kb"))}},
        ]
    rows.append({"module": "paper's scheduler (Vivado, ZU7EV)", "LUTs": PAPER_SCHEDULER["lut"],
                 "DSPs": PAPER_SCHEDULER["dsp"], "on-chip RAM (KB)": PAPER_SCHEDULER["ram_kb"]})
    return rows


def table6_results(results: list[dict]) -> list[dict]:
    """The Table 6 designs among ``results``: xcup, depth 64, FP16, shared; lean first."""
    t6 = [r for r in results if (r["target"], r["depth"], r["fmt"], r["unit"]) == ("xcup", 64, "fp16", "shared")]
    return sorted(t6, key=lambda r: _mode(r) != "lean")


def goal_rows(results: list[dict]) -> list[dict]:
    """The resource goals of issue 13 that ``results`` (a sweep) can answer: xcup, depth 64, FP16,
    shared: lean <= 553 LUTs and <= 3 DSPs, ieee <= 900 LUTs; LUTs at depth 512 within 1.2x of depth
    64 for every (target, format, mode, unit). ``dysta synth --goals`` measures every goal."""
    from .goals import DEPTH_RATIO, IEEE_LUTS, LEAN_DSPS, LEAN_LUTS, goal_row

    idx = {(r["target"], r["depth"], r["fmt"], r["unit"], _mode(r)): r for r in results}
    rows = []
    lean, ieee = idx.get(("xcup", 64, "fp16", "shared", "lean")), idx.get(("xcup", 64, "fp16", "shared", "ieee"))
    if lean:
        rows.append(goal_row("xcup LUTs, depth 64, fp16 lean, shared", f"<= {LEAN_LUTS}", lean["lut"],
                             lean["lut"] <= LEAN_LUTS, f"+ {lean['lutram']} LUT-RAM"))
        rows.append(goal_row("xcup DSPs, depth 64, fp16 lean, shared", f"<= {LEAN_DSPS}", lean["dsp"],
                             lean["dsp"] <= LEAN_DSPS))
    if ieee:
        rows.append(goal_row("xcup LUTs, depth 64, fp16 ieee, shared", f"<= {IEEE_LUTS}", ieee["lut"],
                             ieee["lut"] <= IEEE_LUTS, f"+ {ieee['lutram']} LUT-RAM"))
    for (t, d, f, u, m), r in sorted(idx.items()):
        small = idx.get((t, 64, f, u, m))
        if d == 512 and small and small["lut"]:
            ratio = r["lut"] / small["lut"]
            rows.append(goal_row(f"{t} LUTs, depth 512 / depth 64, {f} {m} {u}", f"<= {DEPTH_RATIO}",
                                 f"{ratio:.3f}", ratio <= DEPTH_RATIO))
    return rows


def sweep_markdown(results: list[dict]) -> str:
    """The sweep's resource table, the normalised table, Table 6 and the goals, as Markdown."""
    md = [rows_table(resource_rows(results), markdown=True), ""]
    norm = normalised_rows(results)
    if norm:
        md += ["Normalised to the separate-unit FP32 design of the same depth (paper Fig. 16):", "",
               rows_table(norm, markdown=True), ""]
    t6 = table6_results(results)
    if t6:
        md += ["Overhead against Eyeriss-V2 (paper Table 6; LUTs include LUTs used as memory):", "",
               rows_table(table6_rows(t6), markdown=True), ""]
    goals = goal_rows(results)
    if goals:
        md += ["Goals:", "", rows_table(goals, markdown=True), ""]
    return "\n".join(md)


def plot_fig16(results: list[dict], path: str | Path, target: str | None = None) -> Path | None:
    """Fig. 16: LUT, FF and DSP of every (format, unit) at each depth, normalised to the
    separate-unit FP32 design of that depth; one panel per resource. ``None`` if nothing to plot."""
    plt = pyplot()
    norm = [r for r in normalised_rows(results) if target is None or r["target"] == target]
    if not norm:
        return None
    depths = sorted({r["depth"] for r in norm})
    designs = sorted({r["design"] for r in norm}, key=lambda d: (not d.startswith("Non"), d[-4:] != "FP32", d))
    idx = {(r["depth"], r["design"]): r for r in norm}
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=False)
    width = 0.8 / len(designs)
    for ax, key, name in zip(axes, ("lut", "ff", "dsp"), ("LUT", "FF", "DSP")):
        for i, d in enumerate(designs):
            ys = [idx[(dep, d)][key] if (dep, d) in idx and idx[(dep, d)][key] is not None else 0 for dep in depths]
            ax.bar([j + (i - (len(designs) - 1) / 2) * width for j in range(len(depths))], ys, width, label=d)
        ax.set_xticks(range(len(depths)), [str(d) for d in depths])
        ax.set_xlabel("request table depth")
        ax.set_title(f"{name} (normalised to Non_Opt_FP32)")
        ax.axhline(1.0, color="grey", lw=0.6)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(designs), fontsize=8, frameon=False)
    tgt = target or ", ".join(sorted({r["target"] for r in norm}))
    fig.suptitle(f"Scheduler resources by depth, format and unit sharing ({tgt}, Yosys)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
