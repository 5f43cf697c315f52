"""Trace statistics behind the report's profiling figures, on hand-computed packs."""

import numpy as np
import pytest

import helpers as h
from dysta_sw import tracestats as ts


def test_network_sparsity_range():
    # Network sparsity per sample: 0.5 and 0.3; mean 0.4; range 0.2 -> 50 %.
    mp = h.model_pattern("m/p/0.5", [[1.0, 1.0], [1.0, 1.0]], [[0.5, 0.5], [0.7, 0.7]])
    assert ts.network_sparsity_range(mp) == pytest.approx(0.5)


def test_layer_correlation_signs():
    rho = [[0.1, 0.9, 0.5], [0.2, 0.8, 0.5], [0.4, 0.6, 0.5]]
    corr = ts.layer_correlation(h.model_pattern("m/p/0.5", np.ones((3, 3)), rho))
    assert corr[0, 1] == pytest.approx(-1.0) and corr[0, 0] == 1.0
    assert corr[0, 2] == 0.0  # a constant layer correlates with nothing


def test_predictor_rmse_by_hand():
    # Calibration samples 0 and 1 give rhobar = [0.5, 0.5, 0.5] and Lbar = [1, 1, 1]: Rbar = [3, 2, 1, 0].
    # Test sample 2: densities [1.0, 0.25, ...] so r = [2, 0.5]; true latencies [2, 1, 0.5].
    lat = [[1, 1, 1], [1, 1, 1], [2, 1, 0.5]]
    rho = [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [1.0, 0.25, 0.5]]
    mp = h.model_pattern("m/p/0.5", lat, rho, calib=[True, True, False])
    # l = 1: gamma = 2 (every predictor) -> 2 * 2 = 4 vs true 1.5: error 2.5.
    # l = 2: last-one 0.5 -> 0.5 * 1 = 0.5 vs 0.5: error 0; average-all 1.25 -> error 0.75.
    rmse, rel = ts.predictor_rmse(mp, "last-one")
    assert rmse == pytest.approx(np.sqrt((2.5 ** 2 + 0) / 2))
    assert rel == pytest.approx(rmse / 1.0)  # mean true remaining (1.5 + 0.5) / 2
    assert ts.predictor_rmse(mp, "average-all")[0] == pytest.approx(np.sqrt((2.5 ** 2 + 0.75 ** 2) / 2))
    # last-N with N = 1 is last-one.
    assert ts.predictor_rmse(mp, "last-n", n=1)[0] == pytest.approx(rmse)


def test_normalised_latency_has_unit_mean_per_layer():
    mp = h.model_pattern("m/p/0.5", [[1.0, 4.0], [3.0, 2.0]])
    np.testing.assert_allclose(ts.normalised_layer_latency(mp), [0.5, 4 / 3, 1.5, 2 / 3])
