"""What the trace pack says about dynamic sparsity: the paper's profiling figures and Table 4.

Everything is computed from a trace pack (no PyTorch needed):

- Fig. 2: per-layer latency of a language model normalised by that layer's mean latency;
- Fig. 3 / Table 2, as the paper's artifact computes them (``dataset_sparsity/draw_boxplot.py``):
  Table 2 is the relative range ``(max - min) / mean`` over samples of the network's *valid-MAC
  fraction* (valid MACs of all Conv2d layers over their dense MACs); Fig. 3 plots the MAC sparsity
  (1 - valid / dense MACs) of the first six layers after the stem (conv layers 1-6; the paper's text
  says "the last six", its artifact plots these). Both come from the valid-MAC counts a measured
  pack records per CNN model-pattern (``valid_macs`` in its metadata). For an attention
  model-pattern whose density is counted over the real extent, the density *is* the valid fraction
  of its attention products, and its network fraction is the blocks' densities weighted by their
  extents. A pack without either (``measured-v1``, ``synthetic-v1``) falls back to the mean
  density, and for Fig. 3 to ``1 - density`` of trace layers 1-6; the table says which;
- Fig. 4: the spread of valid work per weight-sparsity pattern at equal rate. Valid MACs are
  proportional to the isolated latency on the accelerator models of the traces, so each sample's
  isolated latency is normalised by the mean over the compared patterns;
- Fig. 9: Pearson correlation between the densities of every pair of layers across samples;
- Table 4: RMSE of the remaining-latency estimate ``gamma * Rbar[l]`` on the held-out (test)
  samples, at every layer boundary ``l >= 1``, for the last-one, last-N and average-all
  predictors (``r_j = rho[j] / rhobar[j]``, as in the engine), against the true remaining latency.
"""

from __future__ import annotations

import numpy as np

from .trace import ModelPattern, TracePack


def normalised_layer_latency(mp: ModelPattern) -> np.ndarray:
    """``lat[s, l] / mean_s lat[s, l]``, flattened (Fig. 2)."""
    return (mp.lat / mp.lat.mean(axis=0)).ravel()


def network_valid_fraction(mp: ModelPattern) -> tuple[np.ndarray, str]:
    """Per-sample network valid fraction for Table 2 and what it is (module docstring)."""
    vm = mp.meta.get("valid_macs") or {}
    if "network_fraction" in vm:
        return np.asarray(vm["network_fraction"], np.float64), "valid-MAC fraction"
    if (mp.meta.get("profile") or {}).get("extent") == "real":
        w = mp.shape.astype(np.float64)
        return mp.rho @ w / w.sum(), "kept attention fraction"
    return mp.rho.mean(axis=1), "mean density (no valid-MAC counts in the pack)"


def network_sparsity_range(mp: ModelPattern) -> float:
    """Relative range ``(max - min) / mean`` of the network valid fraction over samples (Table 2)."""
    net = network_valid_fraction(mp)[0]
    mean = net.mean()
    return float((net.max() - net.min()) / mean) if mean > 0 else 0.0


def first_layers_sparsity(mp: ModelPattern) -> tuple[np.ndarray, list[str]]:
    """MAC sparsity (S, 6) of the first six layers after the stem and their labels (Fig. 3)."""
    vm = mp.meta.get("valid_macs") or {}
    if "fig3_mac_sparsity" in vm:
        return np.asarray(vm["fig3_mac_sparsity"], np.float64), [f"conv {k}" for k in vm["fig3_conv_index"]]
    last = min(7, mp.n_layers)
    return 1.0 - mp.rho[:, 1:last], [f"L{k}" for k in range(1, last)]


def mean_layer_correlation(mp: ModelPattern) -> float:
    """Mean off-diagonal Pearson correlation of the layer densities (Fig. 9's summary)."""
    corr = layer_correlation(mp)
    n = corr.shape[0]
    return float((corr.sum() - np.trace(corr)) / (n * n - n)) if n > 1 else 1.0


def density_latency_correlation(mp: ModelPattern) -> float:
    """Pearson correlation, over samples, of the mean layer density and the isolated latency."""
    d, t = mp.rho.mean(axis=1), mp.tiso
    if d.std() == 0 or t.std() == 0:
        return 0.0
    return float(np.corrcoef(d, t)[0, 1])


def layer_correlation(mp: ModelPattern) -> np.ndarray:
    """Pearson correlation of layer densities across samples (Fig. 9); constant layers give 0."""
    rho = mp.rho
    std = rho.std(axis=0)
    z = np.where(std > 0, (rho - rho.mean(axis=0)) / np.where(std > 0, std, 1.0), 0.0)
    corr = z.T @ z / rho.shape[0]
    np.fill_diagonal(corr, 1.0)
    return corr


def predictor_rmse(mp: ModelPattern, kind: str, n: int = 3) -> tuple[float, float]:
    """RMSE (seconds) and RMSE relative to the mean true remaining latency, on test samples (Table 4)."""
    test = ~mp.calib if (~mp.calib).any() else mp.calib
    lat, rho = mp.lat[test], mp.rho[test]
    rhobar = mp.rhobar
    ratio = np.where(rhobar > 0, rho / np.where(rhobar > 0, rhobar, 1.0), 1.0)
    n_layers = lat.shape[1]
    errs, truths = [], []
    for l in range(1, n_layers):
        if kind == "last-one":
            gamma = ratio[:, l - 1]
        elif kind == "last-n":
            gamma = ratio[:, max(0, l - n):l].mean(axis=1)
        elif kind == "average-all":
            gamma = ratio[:, :l].mean(axis=1)
        else:
            raise ValueError(f"unknown predictor {kind!r}")
        true = lat[:, l:].sum(axis=1)
        errs.append(gamma * mp.rbar[l] - true)
        truths.append(true)
    if not errs:
        return 0.0, 0.0
    e, t = np.concatenate(errs), np.concatenate(truths)
    rmse = float(np.sqrt(np.mean(e ** 2)))
    return rmse, rmse / float(t.mean())


PREDICTOR_KINDS = ("last-one", "last-n", "average-all")


def _by_model(pack: TracePack, model: str) -> list[ModelPattern]:
    return [mp for mp in pack.model_patterns.values() if mp.model == model]


def section(pack: TracePack, out, note: str) -> str:
    """Markdown (and PNG figures in ``out``) for the report."""
    from .report import _plt
    plt = _plt()
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
        fig.tight_layout()
        fig.savefig(out / "fig02_latency_spread.png", dpi=110)
        plt.close(fig)
        md += ["![Fig. 2](fig02_latency_spread.png)", ""]

    # Fig. 3: MAC sparsity of the first six layers after the stem of ResNet-50 and VGG-16.
    shown = [m for m in ("resnet50", "vgg16") if _by_model(pack, m)]
    if shown:
        fig, axes = plt.subplots(1, len(shown), figsize=(5.5 * len(shown), 3.6), squeeze=False)
        for ax, model in zip(axes[0], shown):
            mp = _by_model(pack, model)[0]
            first, labels = first_layers_sparsity(mp)
            ax.boxplot(first * 100, whis=(0, 100))
            ax.set_xticks(range(1, first.shape[1] + 1), labels)
            ax.set_ylabel("MAC sparsity (%)")
            ax.set_title(f"{mp.name}: first six layers after the stem", fontsize=10)
        fig.suptitle(f"Fig. 3: sparsity across inputs{note}", fontsize=10)
        fig.tight_layout()
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
    models = [m for m in ("resnet50", "mobilenet") if len(_by_model(pack, m)) > 1]
    if models:
        fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 3.6), squeeze=False)
        for ax, model in zip(axes[0], models):
            mps = _by_model(pack, model)
            mean = np.mean(np.concatenate([mp.tiso for mp in mps]))
            for mp in mps:
                ax.hist(mp.tiso / mean, bins=30, histtype="step", label=mp.pattern, density=True)
            ax.set_xlabel("valid MACs (isolated latency) / mean over patterns")
            ax.set_ylabel("density")
            ax.legend(fontsize=8)
            ax.set_title(model, fontsize=10)
        fig.suptitle(f"Fig. 4: valid work per weight-sparsity pattern{note}", fontsize=10)
        fig.tight_layout()
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
           "relative RMSE is over the mean true remaining latency. last-N uses N = 3.", "",
           "| model-pattern | " + " | ".join(f"{k} (ms) | {k} (rel.)" for k in PREDICTOR_KINDS) + " |",
           "|---|" + "---:|---:|" * len(PREDICTOR_KINDS)]
    for name in attnn + cnn:
        cells = []
        for kind in PREDICTOR_KINDS:
            rmse, rel = predictor_rmse(pack.model_patterns[name], kind)
            cells += [f"{1e3 * rmse:.3f}", f"{100 * rel:.1f}%"]
        md.append(f"| {name} | " + " | ".join(cells) + " |")
    md.append("")
    return "\n".join(md)
