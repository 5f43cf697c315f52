"""The sparse-latency predictors (SPEC 6): gamma from measured-to-mean density ratios.

``r_j = rho_measured[j] / rhobar[j]`` over the layers ``j`` run so far, with ``rhobar`` the mean
density of layer ``j`` over the calibration samples; last-one ``gamma = r_last``, last-N the mean
of the last N ratios (of how many there are), average-all the mean of all of them. Gamma is
read back from ``RunResult.gamma_log`` (the gamma of the dispatched request after its layer).
These are the measured gammas (``predictor_alpha="1"``); the fitted alpha is in
tests/test_predictor_alpha.py.

The pack used throughout: ``m/p/0.5``, 5 layers of 1 s, two calibration samples::

    rho[sample 0] = [0.2, 0.3, 0.4, 0.75, 0.1]
    rho[sample 1] = [0.6, 0.5, 0.4, 0.25, 0.7]
    rhobar        = [0.4, 0.4, 0.4, 0.5,  0.4]
    r[sample 0]   = [0.5, 0.75, 1.0, 1.5, 0.25]
    r[sample 1]   = [1.5, 1.25, 1.0, 0.5, 1.75]

and a third sample, in the test split only (it must not move rhobar)::

    rho[sample 2] = [0.8, 0.2, 0.6, 1.0, 0.4]  ->  r = [2.0, 0.5, 1.5, 2.0, 1.0]
"""

import numpy as np
import pytest

import helpers as h
from dysta_sw.engine import simulate
from dysta_sw.errors import DystaInputError
from dysta_sw.policies import Options, make_policy

RHO = [[0.2, 0.3, 0.4, 0.75, 0.1],
       [0.6, 0.5, 0.4, 0.25, 0.7],
       [0.8, 0.2, 0.6, 1.0, 0.4]]

# Expected gamma after each of the 5 layers, worked out by hand from the ratios above.
EXPECTED = {
    ("last-one", 0): [0.5, 0.75, 1.0, 1.5, 0.25],
    # last-3: [0.5], [0.5, 0.75], [0.5, 0.75, 1.0], [0.75, 1.0, 1.5], [1.0, 1.5, 0.25]
    ("last-n", 0): [0.5, 0.625, 0.75, 3.25 / 3, 2.75 / 3],
    # running means: 0.5/1, 1.25/2, 2.25/3, 3.75/4, 4.0/5
    ("average-all", 0): [0.5, 0.625, 0.75, 0.9375, 0.8],
    ("last-one", 1): [1.5, 1.25, 1.0, 0.5, 1.75],
    # last-3: [1.5], [1.5, 1.25], [1.5, 1.25, 1.0], [1.25, 1.0, 0.5], [1.0, 0.5, 1.75]
    ("last-n", 1): [1.5, 1.375, 1.25, 2.75 / 3, 3.25 / 3],
    # running means: 1.5/1, 2.75/2, 3.75/3, 4.25/4, 6.0/5
    ("average-all", 1): [1.5, 1.375, 1.25, 1.0625, 1.2],
}


def tables():
    return h.tables(h.model_pattern("m/p/0.5", [[1.0] * 5] * 3, rho=RHO, calib=[True, True, False]))


def run(tab, arrival, sample, name="dysta", options=None, profile="paper", deadline=None):
    n = len(arrival)
    w = h.workload(tab, arrival, [0] * n, sample=sample)
    d = np.full(n, 1e6) if deadline is None else np.asarray(deadline, float)
    return simulate(tab, [w], [d], make_policy(name, options or Options(predictor_alpha="1")), profile,
                    record=True)[0]


def gammas_of(res, request):
    """Gamma after each layer of ``request``, in layer order."""
    rows = res.log[:, 0] == request
    layers = res.log[rows, 1]
    assert list(layers) == list(range(len(layers)))
    return res.gamma_log[rows]


def test_rhobar_is_the_calibration_mean():
    """rhobar excludes the test-split sample 2: (0.2 + 0.6) / 2 = 0.4, ..., (0.75 + 0.25) / 2 = 0.5."""
    tab = tables()
    np.testing.assert_allclose(tab.rhobar[:5], [0.4, 0.4, 0.4, 0.5, 0.4])


@pytest.mark.parametrize("kind", ["last-one", "last-n", "average-all"])
@pytest.mark.parametrize("sample", [0, 1])
def test_gamma_after_each_layer(kind, sample):
    """One request alone; gamma after layers 1..5 follows the hand-computed table."""
    res = run(tables(), [0.0], [sample], options=Options(predictor_alpha="1", predictor=kind, last_n=3))
    np.testing.assert_allclose(gammas_of(res, 0), EXPECTED[(kind, sample)], rtol=1e-12)


def test_last_n_with_window_two():
    """last-2 of r = [0.5, 0.75, 1.0, 1.5, 0.25]: 0.5, 0.625, 0.875, 1.25, 0.875."""
    res = run(tables(), [0.0], [0], options=Options(predictor_alpha="1", predictor="last-n", last_n=2))
    np.testing.assert_allclose(gammas_of(res, 0), [0.5, 0.625, 0.875, 1.25, 0.875], rtol=1e-12)


def test_last_n_with_window_one_equals_last_one():
    res = run(tables(), [0.0], [0], options=Options(predictor_alpha="1", predictor="last-n", last_n=1))
    np.testing.assert_allclose(gammas_of(res, 0), EXPECTED[("last-one", 0)], rtol=1e-12)


def test_test_split_sample_is_measured_against_calibration_mean():
    """Sample 2 (not in the calibration split): r = [0.8/0.4, 0.2/0.4, 0.6/0.4, 1.0/0.5, 0.4/0.4]."""
    res = run(tables(), [0.0], [2], options=Options(predictor_alpha="1", predictor="last-one"))
    np.testing.assert_allclose(gammas_of(res, 0), [2.0, 0.5, 1.5, 2.0, 1.0], rtol=1e-12)


@pytest.mark.parametrize("kind", ["last-one", "last-n", "average-all"])
def test_each_request_keeps_its_own_history_when_interleaved(kind):
    """SDRM3-sparse with far deadlines alternates two requests layer by layer: the one that just
    ran has waited 0 (fairness 0), the other has waited 1 s (fairness 1/(gamma*1) > 0.5, while
    urgency is ~1e-5). Both start at 0 (tie -> r0 first). Each request's gamma sequence must be
    its own sample's, untouched by the other's measurements.
    """
    res = run(tables(), [0.0, 0.0], [0, 1], name="sdrm3-sparse",
              options=Options(predictor_alpha="1", predictor=kind))
    assert [int(r) for r in res.log[:, 0]] == [0, 1] * 5
    np.testing.assert_allclose(gammas_of(res, 0), EXPECTED[(kind, 0)], rtol=1e-12)
    np.testing.assert_allclose(gammas_of(res, 1), EXPECTED[(kind, 1)], rtol=1e-12)


@pytest.mark.parametrize("kind", ["last-n", "average-all"])
def test_history_starts_fresh_for_each_request(kind):
    """r0 (sample 0) runs 0..5; r1 (sample 1) arrives at 100 after an idle gap. r1's first gamma is
    its own first ratio 1.5, not a mean with r0's ratios."""
    res = run(tables(), [0.0, 100.0], [0, 1], options=Options(predictor_alpha="1", predictor=kind))
    np.testing.assert_allclose(gammas_of(res, 1), EXPECTED[(kind, 1)], rtol=1e-12)


@pytest.mark.parametrize("scale, kind, expected", [
    (2.0, "last-one", [1.0, 1.5, 2.0, 3.0, 0.5]),
    (0.5, "average-all", [0.25, 0.3125, 0.375, 0.46875, 0.4]),
    (2.0, "last-n", [1.0, 1.25, 1.5, 6.5 / 3, 5.5 / 3]),
])
def test_gamma_scale_multiplies_gamma(scale, kind, expected):
    """gamma_scale (the paper's hardware-dependent alpha) multiplies the predicted gamma."""
    res = run(tables(), [0.0], [0], options=Options(predictor_alpha="1", predictor=kind, gamma_scale=scale))
    np.testing.assert_allclose(gammas_of(res, 0), expected, rtol=1e-12)


@pytest.mark.parametrize("scale, finish", [
    # scale 1: A's estimate 1 * 0.5 * Rbar[1] = 0.5 < B's 0.8 -> A runs 1..2, B 2..2.8.
    (1.0, [2.0, 2.8]),
    # scale 2: 2 * 0.5 * 1.0 = 1.0 > 0.8 -> B runs 1..1.8, A 1.8..2.8.
    (2.0, [2.8, 1.8]),
])
def test_gamma_scale_changes_sjf_sparse_decision(scale, finish):
    """A = m/p sample 0 (2 x 1 s, densities [0.2, 0.5] vs samples' mean [0.4, 0.5]: r = 0.5)
    at 0; B = b/p (0.8 s) at 0.5."""
    a = h.model_pattern("m/p/0.5", [[1.0, 1.0], [1.0, 1.0]], rho=[[0.2, 0.5], [0.6, 0.5]])
    tab = h.tables(a, h.model_pattern("b/p/0.5", [[0.8]]))
    w = h.workload(tab, [0.0, 0.5], [0, 1])
    policy = make_policy("sjf-sparse", Options(predictor_alpha="1", gamma_scale=scale))
    res = simulate(tab, [w], [np.full(2, 100.0)], policy)[0]
    np.testing.assert_allclose(res.finish, finish)


@pytest.mark.parametrize("name", ["sjf", "prema", "sdrm3", "dysta-nosparse", "dysta-static", "dysta-oracle"])
def test_policies_without_sparsity_keep_gamma_at_one(name):
    res = run(tables(), [0.0], [0], name=name)
    np.testing.assert_allclose(res.gamma_log, 1.0)


@pytest.mark.parametrize("name", ["sjf-sparse", "prema-sparse", "sdrm3-sparse", "dysta"])
@pytest.mark.parametrize("profile, expected", [
    ("paper", EXPECTED[("last-one", 0)]),  # the option's last-one is used
    ("reference", EXPECTED[("average-all", 0)]),  # the artifact's average-all is forced
])
def test_reference_profile_forces_average_all(name, profile, expected):
    res = run(tables(), [0.0], [0], name=name, options=Options(predictor_alpha="1", predictor="last-one"),
              profile=profile)
    np.testing.assert_allclose(gammas_of(res, 0), expected, rtol=1e-12)


def test_default_predictor_is_last_one():
    res = run(tables(), [0.0], [0])
    np.testing.assert_allclose(gammas_of(res, 0), EXPECTED[("last-one", 0)], rtol=1e-12)


# ----------------------------------------------------------------------------- bad input

def test_unknown_predictor_is_rejected_by_name():
    with pytest.raises(DystaInputError, match=r"predictor.*'last-two'"):
        Options(predictor="last-two")


@pytest.mark.parametrize("n", [0, -3, 1.5])
def test_last_n_must_be_a_positive_integer(n):
    with pytest.raises(DystaInputError, match=r"last.n"):
        Options(predictor="last-n", last_n=n)
