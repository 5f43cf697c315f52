"""The report's trace-statistics section: what the trace pack says about dynamic sparsity
(paper Figs. 2, 3, 4 and 9; Tables 2 and 4), from :mod:`dysta_sw.tracestats`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..trace import TracePack
from ..tracestats import (
    PREDICTOR_KINDS,
    by_model,
    density_latency_correlation,
    first_layers_sparsity,
    fit_alpha,
    layer_correlation,
    mean_layer_correlation,
    network_sparsity_range,
    network_valid_fraction,
    normalised_layer_latency,
    predictor_rmse,
)
from .plots import _margins, pyplot
from .sections import Context, Section

__all__ = ["section", "TRACE_STATS"]


def section(pack: TracePack, out: Path, note: str) -> str:
    """Markdown (and PNG figures in ``out``) for the report."""
    plt = pyplot()
    md = ["## Benchmark traces: dynamic sparsity (paper Figs. 2, 3, 4, 9; Tables 2, 4)", "",
          f"Computed from the trace pack `{pack.name}`{note}.", ""]
    attnn = pack.scenarios.get("attnn", [])
    cnn = pack.scenarios.get("cnn", [])

    # Fig. 2: normalised per-layer latency of the language models.
    if attnn:
        fig, ax = plt.subplots(figsize=(6.5, 3.6))
        for name in attnn:
            ax.hist(normalised_layer_latency(pack.model_patterns[name]), bins=60, histtype="step", label=name,
                    density=True)
        ax.set_xlabel("layer latency / mean latency of that layer")
        ax.set_ylabel("density")
        ax.legend(fontsize=8)
        ax.set_title(f"Fig. 2: dynamic latency of the language models{note}", fontsize=10)
        _margins(fig, bottom=0.55, top=0.35, wspace=0.0)
        fig.savefig(out / "fig02_latency_spread.png", dpi=110)
        plt.close(fig)
        md += ["![Fig. 2](fig02_latency_spread.png)", ""]

    # Fig. 3: MAC sparsity of the first six layers after the stem of ResNet-50 and VGG-16.
    shown = [m for m in ("resnet50", "vgg16") if by_model(pack, m)]
    if shown:
        fig, axes = plt.subplots(1, len(shown), figsize=(5.5 * len(shown), 3.6), squeeze=False)
        for ax, model in zip(axes[0], shown):
            mp = by_model(pack, model)[0]
            first, labels = first_layers_sparsity(mp)
            ax.boxplot(first * 100, whis=(0, 100))
            ax.set_xticks(range(1, first.shape[1] + 1), labels)
            ax.set_ylabel("MAC sparsity (%)")
            ax.set_title(f"{mp.name}: first six layers after the stem", fontsize=10)
        fig.suptitle(f"Fig. 3: sparsity across inputs{note}", fontsize=10)
        _margins(fig, bottom=0.45, top=0.7)
        fig.savefig(out / "fig03_activation_sparsity.png", dpi=110)
        plt.close(fig)
        md += ["![Fig. 3](fig03_activation_sparsity.png)", "",
               "Fig. 3 shows the first six layers after the stem, as the paper's artifact plots them "
               "(its text says the last six).", ""]

    md += ["### Table 2: relative range of network sparsity", "",
           "`(max - min) / mean` over samples of the network's valid fraction, as the paper's artifact "
           "computes it.", "", "| model-pattern | relative range (%) | measure |", "|---|---:|---|"]
    md += [f"| {n} | {100 * network_sparsity_range(pack.model_patterns[n]):.1f} | "
           f"{network_valid_fraction(pack.model_patterns[n])[1]} |" for n in cnn + attnn]
    md += [""]

    # Fig. 4: valid-work spread per weight-sparsity pattern at equal rate.
    models = [m for m in ("resnet50", "mobilenet") if len(by_model(pack, m)) > 1]
    if models:
        fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 3.6), squeeze=False)
        for ax, model in zip(axes[0], models):
            mps = by_model(pack, model)
            mean = np.mean(np.concatenate([mp.tiso for mp in mps]))
            for mp in mps:
                ax.hist(mp.tiso / mean, bins=30, histtype="step", label=mp.pattern, density=True)
            ax.set_xlabel("valid MACs (isolated latency) / mean over patterns")
            ax.set_ylabel("density")
            ax.legend(fontsize=8)
            ax.set_title(model, fontsize=10)
        fig.suptitle(f"Fig. 4: valid work per weight-sparsity pattern{note}", fontsize=10)
        _margins(fig, bottom=0.55, top=0.7)
        fig.savefig(out / "fig04_valid_macs.png", dpi=110)
        plt.close(fig)
        md += ["![Fig. 4](fig04_valid_macs.png)", ""]

    # Fig. 9: layer-sparsity correlation of two language models.
    lm = [n for n in attnn if n.split("/")[0] in ("bert", "gpt2")] or attnn[:2]
    if lm:
        fig, axes = plt.subplots(1, len(lm), figsize=(4.6 * len(lm), 4), squeeze=False)
        for ax, name in zip(axes[0], lm):
            im = ax.imshow(layer_correlation(pack.model_patterns[name]), vmin=-1, vmax=1, cmap="RdBu_r")
            ax.set_xlabel("layer")
            ax.set_ylabel("layer")
            ax.set_title(name, fontsize=10)
        fig.colorbar(im, ax=list(axes[0]), shrink=0.8, label="Pearson correlation")
        fig.suptitle(f"Fig. 9: correlation of layer sparsity{note}", fontsize=10)
        fig.savefig(out / "fig09_layer_correlation.png", dpi=110)
        plt.close(fig)
        md += ["![Fig. 9](fig09_layer_correlation.png)", "",
               "| model-pattern | mean layer-pair correlation | corr(mean density, isolated latency) |",
               "|---|---:|---:|"]
        md += [f"| {n} | {mean_layer_correlation(pack.model_patterns[n]):.2f} | "
               f"{density_latency_correlation(pack.model_patterns[n]):+.2f} |" for n in attnn]
        md += [""]

    md += ["### Table 4: RMSE of the sparse latency predictors (held-out samples)", "",
           "RMSE of `gamma * Rbar[l]` against the true remaining latency at every layer boundary; "
           "relative RMSE is over the mean true remaining latency. last-N uses N = 3. `none` is no "
           "predictor (gamma = 1); `fitted` is the predictor's gamma through the slope alpha fitted per "
           "model-pattern on the calibration split, `max(0, 1 + alpha (gamma - 1))` (paper Sec. 5.1; the paper "
           "sets alpha = 1, the other columns), what Dysta uses by default (`--predictor-alpha fitted`).", ""]
    names = attnn + cnn
    kinds = [(k, 1.0) for k in PREDICTOR_KINDS] + [("none", 1.0)]
    rel = {}
    for name in names:
        mp = pack.model_patterns[name]
        for kind, _ in kinds:
            rel[(name, kind)] = predictor_rmse(mp, kind)
        for kind in PREDICTOR_KINDS:
            rel[(name, kind + " fitted")] = predictor_rmse(mp, kind, alpha=fit_alpha(mp, kind))
    cols = [k for k, _ in kinds] + [k + " fitted" for k in PREDICTOR_KINDS]
    # the paper's layout: one row per predictor; the mean relative RMSE per scenario and where it is best
    md += ["| predictor | " + " | ".join(f"mean rel. RMSE, {s}" for s in ("Multi-AttNN", "Multi-CNN")
                                            if pack.scenarios.get(s.split("-")[1].lower()))
           + " | best on (model-patterns) |", "|---|" + "---:|" * (1 + sum(1 for x in (attnn, cnn) if x))]
    best = {n: min(cols, key=lambda c: rel[(n, c)][1]) for n in names}
    for c in cols:
        cells = [f"{100 * np.mean([rel[(n, c)][1] for n in group]):.1f}%" for group in (attnn, cnn) if group]
        md.append(f"| {c} | " + " | ".join(cells) + f" | {sum(1 for n in names if best[n] == c)} |")
    md += ["", "| model-pattern | alpha (last-one) | " + " | ".join(f"{k} (ms) | {k} (rel.)" for k in cols) + " |",
           "|---|---:|" + "---:|---:|" * len(cols)]
    for name in names:
        cells = [f"{fit_alpha(pack.model_patterns[name]):.3f}"]
        for c in cols:
            rmse, r = rel[(name, c)]
            cells += [f"{1e3 * rmse:.3f}", f"{100 * r:.1f}%"]
        md.append(f"| {name} | " + " | ".join(cells) + " |")
    md.append("")
    return "\n".join(md)


def _render(ctx: Context) -> str:
    return section(ctx.pack, ctx.out, ctx.note)


#: Registered as ``trace-stats`` in ``dysta.report_sections``.
TRACE_STATS = Section("Benchmark traces: dynamic sparsity", 400, _render, independent=True, calibrated=False)
