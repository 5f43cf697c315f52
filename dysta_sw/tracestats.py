"""What the trace pack says about dynamic sparsity: the paper's profiling figures and Table 4.

Everything is computed from a trace pack (no PyTorch needed):

- Fig. 2: per-layer latency of a language model normalised by that layer's mean latency;
- Fig. 3 / Table 2: activation sparsity (1 - density) of the last six layers of ResNet-50 and
  VGG-16 across samples, and the relative range of *network sparsity* (the mean of a sample's layer
  sparsities), ``(max - min) / mean`` over samples, per model-pattern;
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


def network_sparsity_range(mp: ModelPattern) -> float:
    """Relative range of network sparsity over samples (Table 2)."""
    net = (1.0 - mp.rho).mean(axis=1)
    mean = net.mean()
    return float((net.max() - net.min()) / mean) if mean > 0 else 0.0


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

    # Fig. 3: activation sparsity of the last six layers of ResNet-50 and VGG-16.
    shown = [m for m in ("resnet50", "vgg16") if _by_model(pack, m)]
    if shown:
        fig, axes = plt.subplots(1, len(shown), figsize=(5.5 * len(shown), 3.6), squeeze=False)
        for ax, model in zip(axes[0], shown):
            mp = _by_model(pack, model)[0]
            last = (1.0 - mp.rho[:, -6:]) * 100
            ax.boxplot(last, whis=(0, 100))
            ax.set_xticks(range(1, last.shape[1] + 1), [f"L{mp.n_layers - last.shape[1] + k}"
                                                       for k in range(last.shape[1])])
            ax.set_ylabel("activation sparsity (%)")
            ax.set_title(f"{mp.name}: last six layers", fontsize=10)
        fig.suptitle(f"Fig. 3: activation sparsity across inputs{note}", fontsize=10)
        fig.tight_layout()
        fig.savefig(out / "fig03_activation_sparsity.png", dpi=110)
        plt.close(fig)
        md += ["![Fig. 3](fig03_activation_sparsity.png)", ""]

    md += ["### Table 2: relative range of network sparsity", "", "| model-pattern | relative range (%) |",
           "|---|---:|"]
    md += [f"| {n} | {100 * network_sparsity_range(pack.model_patterns[n]):.1f} |" for n in cnn + attnn]
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
        md += ["![Fig. 9](fig09_layer_correlation.png)", ""]

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
