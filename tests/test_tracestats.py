"""Trace statistics behind the report's profiling figures, on hand-computed packs."""

import numpy as np
import pytest

import helpers as h
from dysta_sw import tracestats as ts


def test_network_sparsity_range_without_valid_mac_counts():
    # No valid-MAC counts: mean density per sample 0.5 and 0.7; mean 0.6; range 0.2 -> 1/3.
    mp = h.model_pattern("m/p/0.5", [[1.0, 1.0], [1.0, 1.0]], [[0.5, 0.5], [0.7, 0.7]])
    assert ts.network_sparsity_range(mp) == pytest.approx(0.2 / 0.6)
    assert ts.network_valid_fraction(mp)[1].startswith("mean density")


def test_table2_uses_the_recorded_valid_mac_fraction():
    """The artifact's Table 2: the network's valid-MAC fraction, not the trace densities."""
    mp = h.model_pattern("cnn/p/0.5", np.ones((3, 2)), [[0.9, 0.9], [0.1, 0.1], [0.5, 0.5]])
    mp.meta["valid_macs"] = {"network_fraction": [0.2, 0.25, 0.3]}
    assert ts.network_sparsity_range(mp) == pytest.approx(0.1 / 0.25)
    assert ts.network_valid_fraction(mp)[1] == "valid-MAC fraction"


def test_table2_of_an_attention_pattern_weighs_blocks_by_their_extent():
    # Density over the real extent: a decoder block (two modules, twice the shape) counts twice.
    mp = h.model_pattern("att/sanger/0.01", np.ones((2, 2)), [[0.2, 0.5], [0.4, 0.1]])
    mp.shape = np.array([100, 200])
    mp.meta["profile"] = {"extent": "real"}
    frac, what = ts.network_valid_fraction(mp)
    np.testing.assert_allclose(frac, [(0.2 + 2 * 0.5) / 3, (0.4 + 2 * 0.1) / 3])
    assert what == "kept attention fraction"


def test_fig3_first_six_layers_after_the_stem():
    rho = np.tile(np.linspace(0.1, 0.8, 8), (2, 1))
    mp = h.model_pattern("cnn/p/0.5", np.ones((2, 8)), rho)
    first, labels = ts.first_layers_sparsity(mp)  # fallback: 1 - density of trace layers 1..6
    np.testing.assert_allclose(first, 1 - rho[:, 1:7])
    assert labels == ["L1", "L2", "L3", "L4", "L5", "L6"]
    mp.meta["valid_macs"] = {"fig3_mac_sparsity": [[0.1] * 6, [0.2] * 6], "fig3_conv_index": [1, 2, 3, 4, 5, 6]}
    first, labels = ts.first_layers_sparsity(mp)
    assert first.shape == (2, 6) and labels[0] == "conv 1" and first[1, 0] == 0.2


def test_correlation_summaries():
    rho = [[0.1, 0.2, 0.3], [0.2, 0.4, 0.1], [0.3, 0.6, 0.2]]
    mp = h.model_pattern("m/p/0.5", [[1, 1, 1], [2, 2, 2], [3, 3, 3.5]], rho)
    # layers 0 and 1 are perfectly correlated; layer 2 against them: corr([.3,.1,.2], [.1,.2,.3]) = -0.5
    assert ts.mean_layer_correlation(mp) == pytest.approx((1.0 - 0.5 - 0.5) / 3)
    # mean densities 0.2, 0.233, 0.367 against isolated latencies 3, 6, 9.5
    d, t = np.mean(rho, axis=1), np.array([3.0, 6.0, 9.5])
    assert ts.density_latency_correlation(mp) == pytest.approx(np.corrcoef(d, t)[0, 1])


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
