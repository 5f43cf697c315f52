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
  predictors (``r_j = rho[j] / rhobar[j]``, as in the engine), against the true remaining latency,
  beside no predictor (gamma = 1) and each predictor through the slope alpha fitted on the
  calibration split (:func:`fit_alpha`).
"""

from __future__ import annotations

import numpy as np

from . import formulas as F
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
    return mean_off_diagonal(layer_correlation(mp))


def density_latency_correlation(mp: ModelPattern) -> float:
    """Pearson correlation, over samples, of the mean layer density and the isolated latency."""
    d, t = mp.rho.mean(axis=1), mp.tiso
    if d.std() == 0 or t.std() == 0:
        return 0.0
    return float(np.corrcoef(d, t)[0, 1])


def layer_correlation(mp: ModelPattern) -> np.ndarray:
    """Pearson correlation of layer densities across samples (Fig. 9); constant layers give 0."""
    return density_correlation(mp.rho)


def density_correlation(rho: np.ndarray) -> np.ndarray:
    """Pearson correlation of the columns (layers) of ``rho`` (samples, layers); constant layers give 0."""
    std = rho.std(axis=0)
    z = np.where(std > 0, (rho - rho.mean(axis=0)) / np.where(std > 0, std, 1.0), 0.0)
    corr = z.T @ z / rho.shape[0]
    np.fill_diagonal(corr, 1.0)
    return corr


def mean_off_diagonal(corr: np.ndarray) -> float:
    """Mean of a correlation matrix's off-diagonal entries (1 for a single layer)."""
    n = corr.shape[0]
    return float((corr.sum() - np.trace(corr)) / (n * n - n)) if n > 1 else 1.0


def _ratios(mp: ModelPattern, rows: np.ndarray) -> np.ndarray:
    """``r_j = rho[s, j] / rhobar[j]`` of the samples ``rows`` (1 where a layer's mean density is 0)."""
    rhobar = mp.rhobar
    return np.where(rhobar > 0, mp.rho[rows] / np.where(rhobar > 0, rhobar, 1.0), 1.0)


def predictor_gammas(mp: ModelPattern, rows: np.ndarray, kind: str, n: int = 3):
    """``(l, gamma)`` at every layer boundary ``l >= 1`` of the samples ``rows``: the predictor's
    gamma after layers ``0..l-1`` ran (``none``: gamma = 1, no predictor)."""
    ratio = _ratios(mp, rows)
    for l in range(1, mp.n_layers):
        if kind == "last-one":
            gamma = ratio[:, l - 1]
        elif kind == "last-n":
            gamma = ratio[:, max(0, l - n):l].mean(axis=1)
        elif kind == "average-all":
            gamma = ratio[:, :l].mean(axis=1)
        elif kind == "none":
            gamma = np.ones(ratio.shape[0])
        else:
            raise ValueError(f"unknown predictor {kind!r}")
        yield l, gamma


def calibrated(gamma: np.ndarray, alpha: float) -> np.ndarray:
    """:func:`dysta_sw.formulas.gamma_calibrated` on arrays."""
    return F.gamma_calibrated(gamma, alpha)


def fit_alpha(mp: ModelPattern, kind: str = "last-one", n: int = 3) -> float:
    """The predictor's slope ``alpha`` for ``mp``, fitted on its calibration split (paper Sec. 5.1).

    The paper estimates the remaining latency as ``alpha * gamma * Lat_avg`` with alpha "how
    effectively sparsity can deliver real latency reduction", set per pattern (to 1 on its
    accelerators). We read it as that: the slope of latency in density, ``Trem = (1 + alpha *
    (gamma - 1)) * Rbar[l]``, which is the paper's estimate at alpha = 1 and no predictor at
    alpha = 0. Least squares over every calibration sample and layer boundary ``l >= 1``:
    ``alpha = sum(x * y) / sum(x * x)`` with ``x = Rbar[l] * (gamma - 1)`` and ``y = true
    remaining latency - Rbar[l]``. No variation of gamma (``sum(x * x) = 0``) gives 1. alpha may
    be below 0: for attention whose density is counted over the real extent, a longer input is
    both sparser and slower.
    """
    xs, ys = [], []
    for l, gamma in predictor_gammas(mp, mp.calib, kind, n):
        xs.append(mp.rbar[l] * (gamma - 1.0))
        ys.append(mp.lat[mp.calib][:, l:].sum(axis=1) - mp.rbar[l])
    if not xs:
        return 1.0
    x, y = np.concatenate(xs), np.concatenate(ys)
    xx = float(x @ x)
    return float(x @ y) / xx if xx > 0 else 1.0


def predictor_rmse(mp: ModelPattern, kind: str, n: int = 3, alpha: float = 1.0) -> tuple[float, float]:
    """RMSE (seconds) and RMSE relative to the mean true remaining latency, on test samples (Table 4),
    of ``calibrated(gamma, alpha) * Rbar[l]``; ``kind`` ``none`` is no predictor (gamma = 1)."""
    test = ~mp.calib if (~mp.calib).any() else mp.calib
    lat = mp.lat[test]
    errs, truths = [], []
    for l, gamma in predictor_gammas(mp, test, kind, n):
        true = lat[:, l:].sum(axis=1)
        errs.append(calibrated(gamma, alpha) * mp.rbar[l] - true)
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
