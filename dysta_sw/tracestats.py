"""What the trace pack says about dynamic sparsity: the statistics behind the paper's Figs. 2, 3,
4 and 9 and Tables 2 and 4 (drawn into the report by :mod:`dysta_sw.report.traces`).

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


def by_model(pack: TracePack, model: str) -> list[ModelPattern]:
    """Every model-pattern of ``model`` in ``pack``."""
    return [mp for mp in pack.model_patterns.values() if mp.model == model]
