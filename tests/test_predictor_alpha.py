"""The predictor's slope alpha (paper Sec. 5.1), fitted per model-pattern on the calibration split.

Synthetic model-pattern: every layer of sample ``s`` has density ``rhobar[l] * (1 + f_s)`` (so the
ratio, and every predictor's gamma, is ``1 + f_s``) and latency ``L[l] * (1 + a * f_s)``; the
``f_s`` of the calibration samples average 0, so ``Rbar`` is the suffix sum of ``L``, and the true
remaining latency at every boundary is exactly ``(1 + a * (gamma - 1)) * Rbar[l]``: the fit must
give ``a``.
"""

import numpy as np
import pytest

import helpers as h
from dysta_sw.compiled import engine as compiled
from dysta_sw.engine import simulate
from dysta_sw.errors import DystaInputError
from dysta_sw.formulas import gamma_calibrated
from dysta_sw.policies import Options, make_policy
from dysta_sw.tracestats import fit_alpha, predictor_rmse

L = np.array([1.0, 2.0, 0.5, 1.5, 1.0])
RHOBAR = np.array([0.4, 0.3, 0.5, 0.2, 0.6])
F_CALIB = np.array([-0.3, -0.1, 0.1, 0.3])  # mean 0
F_TEST = np.array([0.5, -0.4])


def linear_mp(a, noise=0.0, seed=0):
    f = np.concatenate([F_CALIB, F_TEST])
    rng = np.random.default_rng(seed)
    lat = L * (1 + a * f[:, None]) * (1 + noise * rng.standard_normal((f.size, L.size)))
    rho = RHOBAR * (1 + f[:, None])
    calib = np.r_[np.ones(F_CALIB.size, bool), np.zeros(F_TEST.size, bool)]
    return h.model_pattern("m/p/0.5", lat, rho=rho, calib=calib)


@pytest.mark.parametrize("a", [0.4, 1.0, 0.0, -1.5])
@pytest.mark.parametrize("kind", ["last-one", "last-n", "average-all"])
def test_fit_recovers_a_known_alpha(a, kind):
    assert fit_alpha(linear_mp(a), kind) == pytest.approx(a, abs=1e-12)


def test_fit_with_noise_is_close():
    f = np.linspace(-0.4, 0.4, 201)  # many calibration samples, mean 0
    rng = np.random.default_rng(3)
    lat = L * (1 + 0.6 * f[:, None]) * (1 + 0.01 * rng.standard_normal((f.size, L.size)))
    mp = h.model_pattern("m/p/0.5", lat, rho=RHOBAR * (1 + f[:, None]))
    assert fit_alpha(mp) == pytest.approx(0.6, abs=0.02)


def test_no_variation_in_density_gives_alpha_one():
    mp = h.model_pattern("m/p/0.5", [[1.0, 2.0], [1.5, 2.5]], rho=[[0.5, 0.5], [0.5, 0.5]])
    assert fit_alpha(mp) == 1.0


def test_fitted_alpha_predicts_the_held_out_samples_exactly():
    """Table 4 on the linear model-pattern: with the fitted alpha the RMSE is 0; with alpha = 1 (the
    paper's) and with no predictor it is not."""
    mp = linear_mp(0.4)
    fitted = predictor_rmse(mp, "last-one", alpha=fit_alpha(mp))[0]
    assert fitted == pytest.approx(0.0, abs=1e-12)
    assert predictor_rmse(mp, "last-one")[0] > 0.1 and predictor_rmse(mp, "none")[0] > 0.1


def test_gamma_calibrated_by_hand():
    assert gamma_calibrated(1.7, 1.0) == 1.7  # alpha = 1: the measured gamma itself
    assert gamma_calibrated(1.5, 0.4) == pytest.approx(1.2)  # 1 + 0.4 * 0.5
    assert gamma_calibrated(1.5, 0.0) == 1.0  # no predictor
    assert gamma_calibrated(0.5, -1.5) == pytest.approx(1.75)  # 1 - 1.5 * -0.5
    assert gamma_calibrated(2.0, -1.5) == 0.0  # 1 - 1.5 = -0.5: a remaining latency is never negative
    np.testing.assert_allclose(gamma_calibrated(np.array([0.5, 2.0]), np.array([1.0, 0.5])), [0.5, 1.5])


def _run(engine, tab, name, options, profile="paper", sample=4):
    w = h.workload(tab, [0.0], [0], sample=[sample])
    return engine(tab, [w], [np.full(1, 1e6)], make_policy(name, options), profile, record=True)[0]


@pytest.mark.parametrize("engine", [simulate, compiled.simulate])
@pytest.mark.parametrize("name", ["dysta", "sjf-sparse", "prema-sparse", "sdrm3-sparse"])
def test_engines_apply_the_fitted_alpha(engine, name):
    """Test sample 4 (f = 0.5): every ratio is 1.5; with a = 0.4 fitted, gamma = 1 + 0.4 * 0.5 = 1.2
    after every layer; with ``predictor_alpha="1"`` it is the measured 1.5."""
    tab = h.tables(linear_mp(0.4))
    np.testing.assert_allclose(tab.gamma_alpha("last-one"), [0.4])
    got = _run(engine, tab, name, Options())
    np.testing.assert_allclose(got.gamma_log, [1.2] * 5, rtol=1e-12)
    raw = _run(engine, tab, name, Options(predictor_alpha="1"))
    np.testing.assert_allclose(raw.gamma_log, [1.5] * 5, rtol=1e-12)


@pytest.mark.parametrize("engine", [simulate, compiled.simulate])
def test_reference_profile_has_no_fitted_alpha(engine):
    """The published artifact had alpha = 1 (and average-all): the ratio 1.5 as measured."""
    tab = h.tables(linear_mp(0.4))
    got = _run(engine, tab, "dysta", Options(), profile="reference")
    np.testing.assert_allclose(got.gamma_log, [1.5] * 5, rtol=1e-12)


def test_fitted_alpha_changes_decisions_on_the_shipped_pack():
    """On measured-v2's Table 5 workload the fitted alpha (default) and alpha = 1 schedule differently."""
    from dysta_sw import workload as wl
    from dysta_sw.tables import ScenarioTables
    from dysta_sw.trace import resolve_pack

    pack = resolve_pack(None)
    tab = ScenarioTables.build(pack, "attnn")
    assert (tab.gamma_alpha("last-one") < 0).all()  # attention: a denser input is a shorter one
    w = wl.generate(tab, 350.0, 300, 0, pack)
    d = w.deadlines(10.0)
    a = compiled.simulate(tab, [w], [d], make_policy("dysta"), "paper", record=True)[0]
    b = compiled.simulate(tab, [w], [d], make_policy("dysta", Options(predictor_alpha="1")), "paper", record=True)[0]
    assert not np.array_equal(a.log[:, 0], b.log[:, 0])


def test_unknown_predictor_alpha_is_rejected():
    with pytest.raises(DystaInputError, match="--predictor-alpha 'two'"):
        Options(predictor_alpha="two")
