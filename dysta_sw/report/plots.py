"""The report's figures: Figs. 12 to 15 from rows of means over seeds, with the 95 % Student-t
intervals over seeds as error bars (matplotlib, Agg backend, imported when a figure is drawn)."""

from __future__ import annotations

from .tables import index

__all__ = ["pyplot", "STYLE", "FIGURE_SCHEDULERS", "BREAKDOWN", "plot_tradeoff", "plot_breakdown", "plot_slo_sweep",
           "plot_rate_sweep"]

#: Schedulers drawn in the sweep figures (Table 5 lists every scheduler).
FIGURE_SCHEDULERS = ("fcfs", "sjf", "prema", "planaria", "sdrm3", "dysta", "dysta-oracle")
#: Fig. 13's optimisation breakdown.
BREAKDOWN = ("prema", "dysta-nosparse", "dysta")
#: Colour and marker of each scheduler; other names get a green circle.
STYLE = {"fcfs": ("tab:gray", "o"), "sjf": ("tab:blue", "s"), "sjf-sparse": ("tab:cyan", "s"),
         "prema": ("tab:orange", "^"), "prema-sparse": ("gold", "^"), "planaria": ("tab:purple", "D"),
         "sdrm3": ("tab:brown", "v"), "sdrm3-sparse": ("peru", "v"), "dysta": ("tab:red", "*"),
         "dysta-static": ("lightcoral", "P"), "dysta-nosparse": ("salmon", "X"),
         "dysta-oracle": ("black", "h")}


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed), imported on first use."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _margins(fig, *, bottom: float, top: float = 0.65, left: float = 0.7, right: float = 0.15,
             wspace: float = 0.6, hspace: float = 0.75) -> None:
    """The subplots' margins and gaps in inches (``tight_layout`` measures every label by drawing
    the figure once more, which took a third of the report's drawing time): the same look for
    any figure width."""
    w, h = fig.get_size_inches()
    rows, cols = fig.axes[0].get_subplotspec().get_gridspec().get_geometry()
    aw = (w - left - right - (cols - 1) * wspace) / cols
    ah = (h - bottom - top - (rows - 1) * hspace) / rows
    fig.subplots_adjust(left=left / w, right=1 - right / w, bottom=bottom / h, top=1 - top / h,
                        wspace=wspace / aw, hspace=hspace / ah)


def _subtitle(ax, text):
    ax.set_title(text, fontsize=10)


def plot_tradeoff(means, grids, schedulers, path, note):
    """Fig. 12: violation rate vs ANTT, one point per scheduler, per scenario and rate."""
    plt = pyplot()
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
                ax.errorbar(100 * m["violation_rate"], m["antt"], xerr=_half(m, "violation_rate", 100),
                            yerr=_half(m, "antt", 1), color=color, linewidth=0.8, capsize=2, zorder=2)
                ax.scatter(100 * m["violation_rate"], m["antt"], color=color, marker=marker, s=70, label=s,
                           edgecolor="k", linewidth=0.4, zorder=3)
            ax.set_xlabel("SLO violation rate (%)")
            ax.set_ylabel("ANTT (lower is better)")
            ax.grid(alpha=0.3)
            _subtitle(ax, f"{g.label}, {rate:g} req/s, SLO {g.main_slo:g}x")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 7), fontsize=8)
    fig.suptitle(f"Fig. 12: ANTT vs SLO violation trade-off (lower left is better){note}", fontsize=11)
    _margins(fig, bottom=0.95)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_breakdown(means, grids, path, note):
    """Fig. 13: PREMA vs Dysta w/o sparsity vs Dysta, ANTT and violation rate."""
    plt = pyplot()
    idx = index(means)
    fig, axes = plt.subplots(1, 2 * len(grids), figsize=(4 * 2 * len(grids), 3.8))
    k = 0
    for g in grids:
        for metric, label, scale in (("antt", "ANTT", 1), ("violation_rate", "SLO violation rate (%)", 100)):
            ax = axes[k]
            k += 1
            names = [s for s in BREAKDOWN if (g.scenario, g.main_rate, g.main_slo, s) in idx]
            ms = [idx[(g.scenario, g.main_rate, g.main_slo, s)] for s in names]
            vals = [scale * m[metric] for m in ms]
            bars = ax.bar(names, vals, yerr=[_half(m, metric, scale) for m in ms], capsize=3,
                          color=[STYLE[s][0] for s in names], edgecolor="k", linewidth=0.4)
            ax.bar_label(bars, fmt="%.2f", fontsize=8)
            ax.set_ylabel(label)
            ax.tick_params(axis="x", labelsize=8)
            _subtitle(ax, f"{g.label}, {g.main_rate:g} req/s, SLO {g.main_slo:g}x")
    fig.suptitle(f"Fig. 13: optimisation breakdown{note}", fontsize=11)
    _margins(fig, bottom=0.5)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _half(m, metric, scale):
    """The 95 % interval half-width of a mean (0 where there is none: one seed, or STP)."""
    h = m.get(f"{metric}_ci", 0.0)
    return scale * h if h == h and h != float("inf") else 0.0


def _lines(ax, idx, keys, xs, scen, schedulers, metric, scale):
    """One line per scheduler with error bars: the 95 % intervals over seeds."""
    for s in schedulers:
        pts = [(x, idx.get(k + (s,))) for x, k in zip(xs, keys)]
        pts = [(x, scale * m[metric], _half(m, metric, scale)) for x, m in pts if m is not None]
        if pts:
            color, marker = STYLE.get(s, ("tab:green", "o"))
            x, y, e = zip(*pts)
            ax.errorbar(x, y, yerr=e, color=color, marker=marker, label=s, markersize=5, linewidth=1.2,
                        capsize=2, elinewidth=0.8)
    ax.grid(alpha=0.3)


def plot_slo_sweep(means, grids, schedulers, path, note):
    """Fig. 14: violation rate and ANTT against the SLO multiplier, at two rates per scenario."""
    plt = pyplot()
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
    _margins(fig, bottom=0.85)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_rate_sweep(means, grids, schedulers, path, note):
    """Fig. 15: violation rate, throughput and ANTT against the arrival rate at SLO 10."""
    plt = pyplot()
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
    _margins(fig, bottom=0.85)
    fig.savefig(path, dpi=110)
    plt.close(fig)
