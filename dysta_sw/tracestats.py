"""What the trace pack says about dynamic sparsity: the statistics behind the paper's Figs. 2, 3,
4 and 9 and Tables 2 and 4 (drawn into the report by :mod:`dysta_sw.report.traces`).

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


def by_model(pack: TracePack, model: str) -> list[ModelPattern]:
    """Every model-pattern of ``model`` in ``pack``."""
    return [mp for mp in pack.model_patterns.values() if mp.model == model]
