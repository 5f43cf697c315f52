"""The golden model of the hardware arithmetic, checked against numpy float16 step by step.

numpy's float16 ``+ - *`` are correctly rounded (round to nearest even), and an int64 below 2**53
converts to float16 with one rounding, so a float16 re-computation of each formula is an
independent reference for the FP16 ``ieee`` model on finite values.
"""

import numpy as np
import pytest

import helpers as h
from dysta_sw.engine import simulate
from dysta_sw.errors import DystaInputError
from dysta_sw.hwmodel import HwConfig, HwLuts
from dysta_sw.policies import Options, make_policy


def f16(bits):
    return np.asarray(bits, np.uint16).view(np.float16)


@pytest.fixture(scope="module")
def luts():
    mp = h.model_pattern("m/p/0.5", [[1e-3, 2e-3, 3e-3], [3e-3, 2e-3, 1e-3]], [[0.5, 0.25, 1.0], [0.3, 0.75, 0.0]],
                         shape=[100, 40000, 7])
    return h.tables(mp), HwLuts.build(h.tables(mp), HwConfig(fmt="fp16", time_shift=10), eta=0.01)


def test_lut_contents(luts):
    tab, lut = luts
    cfg = lut.cfg
    q = 1024 / 200e6
    np.testing.assert_array_equal(f16(lut.R), np.float16(tab.rbar / q))
    # 40000 outputs need 16 bits: counts are shifted right by 1 and 1/shape scaled by 2.
    np.testing.assert_array_equal(lut.count_shift[:3], [0, 1, 0])
    np.testing.assert_array_equal(f16(lut.inv_shape[:3]), np.float16([1 / 100, 2 / 40000, 1 / 7]))
    np.testing.assert_array_equal(f16(lut.inv_q[1:5]), np.float16([1, 1 / 2, 1 / 3, 1 / 4]))
    assert cfg.quantum_s == pytest.approx(q)


def test_gamma_matches_float16(luts):
    tab, lut = luts
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 3, 5000)
    shape = tab.shape[idx]
    nnz = rng.integers(0, shape + 1)
    count = nnz >> np.array([0, 1, 0])[idx]
    inv_shape = np.float16(np.array([1 / 100, 2 / 40000, 1 / 7]))[idx]
    inv_rho = np.float16(1 / np.maximum(tab.rhobar[idx], 1 / shape))
    expect = (count.astype(np.float16) * inv_shape) * inv_rho
    np.testing.assert_array_equal(f16(lut.gamma(nnz, idx)), expect)


def test_score_matches_float16(luts):
    tab, lut = luts
    rng = np.random.default_rng(2)
    n = 20000
    idx = rng.integers(0, 4, n)  # entry 3 is the end of the model (R = 0)
    gamma = np.float16(rng.uniform(0, 3, n))
    now = rng.integers(0, 1 << 30, n)
    deadline = now + rng.integers(-(1 << 24), 1 << 26, n)
    last = now - rng.integers(0, 1 << 18, n)
    nq = rng.integers(1, 65, n)
    s = lut.score(gamma.view(np.uint16), idx, np.zeros(n, int), deadline, last, now, nq)
    q = 10
    trem = gamma * f16(lut.R)[idx]
    with np.errstate(over="ignore"):  # values beyond 65504 are +inf, in the hardware too
        slack = np.maximum((((deadline - now) >> q).astype(np.float16) - trem), np.float16(0))
        pen = (((now - last) >> q).astype(np.float16) * f16(lut.inv_tiso)[0]) * np.float16(1 / nq)
        expect = trem + np.float16(0.01) * (slack + pen)
    assert np.isfinite(expect).mean() > 0.5  # most cases stay finite
    np.testing.assert_array_equal(f16(s), expect)


def test_bad_config():
    with pytest.raises(DystaInputError, match="depth"):
        HwConfig(depth=48)
    with pytest.raises(DystaInputError, match="fmt|format"):
        HwConfig(fmt="fp8")
    with pytest.raises(DystaInputError, match="time_shift"):
        HwConfig(time_shift=60)


@pytest.mark.parametrize("fmt", ["fp16", "bf16", "fp32"])
def test_hw_policy_follows_dysta_when_margins_are_wide(fmt):
    """Scores far apart: the hardware arithmetic makes the float64 Dysta's choices."""
    tab = h.tables(h.model_pattern("long/p/0.5", [[0.01, 0.01, 0.01]]), h.model_pattern("short/p/0.5", [[0.002]]))
    w = h.workload(tab, [0.0, 0.005, 0.012, 0.013], [0, 1, 1, 0], priority=[1, 3, 9, 1])
    d = w.deadlines(10.0)
    ref = simulate(tab, [w], [d], make_policy("dysta", Options(predictor_alpha="1")), record=True)[0]  # the hw's alpha
    hw = simulate(tab, [w], [d], make_policy(f"dysta-hw-{fmt}", Options()), record=True)[0]
    np.testing.assert_array_equal(ref.log[:, :2], hw.log[:, :2])


def _special_bits(fmt, rng, n):
    """Random bit patterns, a third of them from the corner classes (zeros, subnormals, inf, NaN)."""
    from dysta_sw import fp
    f = fp.get_format(fmt)
    bits = rng.integers(0, 1 << f.width, n, dtype=np.int64)
    corners = np.array([0, f.sign_bit, 1, f.sign_bit | 1, f.min_normal, f.inf, f.sign_bit | f.inf, f.nan,
                        f.nan | 1, (1 << f.man_bits) - 1], np.int64)
    pick = rng.random(n) < 0.33
    bits[pick] = corners[rng.integers(0, len(corners), pick.sum())]
    return bits.astype(f.dtype)


@pytest.mark.parametrize("fmt", ["fp16", "fp32"])
def test_native_fast_path_is_bit_exact(fmt):
    """The engine's native-float path gives the golden model's bits, corner cases included."""
    mp = h.model_pattern("m/p/0.5", [[1e-3, 2e-3, 3e-3]], [[0.5, 0.25, 1.0]], shape=[100, 40000, 7])
    tab = h.tables(mp)
    lut = HwLuts.build(tab, HwConfig(fmt=fmt, time_shift=4), eta=0.01)
    assert lut.native() is not None
    rng = np.random.default_rng(3)
    n = 30000
    # Random LUT contents too, so every operand class reaches every operation.
    for name in ("R", "inv_rhobar", "inv_shape"):
        setattr(lut, name, _special_bits(fmt, rng, 4))
    lut.inv_tiso = _special_bits(fmt, rng, 1)
    idx = rng.integers(0, 4, n)
    gamma = _special_bits(fmt, rng, n)
    now = rng.integers(0, 1 << 40, n)
    deadline = now + rng.integers(-(1 << 40), 1 << 40, n)
    last = now - rng.integers(0, 1 << 30, n)
    nq = rng.integers(1, 65, n)
    args = (gamma, idx, np.zeros(n, int), deadline, last, now, nq)
    np.testing.assert_array_equal(lut.score_fast(*args), lut.score(*args))
    nnz = rng.integers(0, 40001, n)
    np.testing.assert_array_equal(lut.gamma_fast(nnz, idx % 3), lut.gamma(nnz, idx % 3))


def test_lean_mode_has_no_native_path():
    tab = h.tables(h.model_pattern("m/p/0.5", [[1e-3]]))
    assert HwLuts.build(tab, HwConfig(fmt="fp16", mode="lean"), eta=0.01).native() is None
    assert HwLuts.build(tab, HwConfig(fmt="bf16"), eta=0.01).native() is None


def test_fp32_hardware_arithmetic_tracks_float64_dysta():
    """With FP32 and 5 us quanta the hardware's score is float64 Dysta's in other units.

    A unit slip (e.g. the penalty taken per quantum instead of per second) moves this ANTT by
    several per cent; rounding alone moves it by far less.
    """
    from dysta_sw import metrics
    from dysta_sw import workload as wl
    from dysta_sw.tables import ScenarioTables
    from dysta_sw.trace import resolve_pack
    pack = resolve_pack(None)
    tab = ScenarioTables.build(pack, "attnn")
    w = wl.generate(tab, 30.0, 400, 0, pack)
    d = w.deadlines(10.0)
    antt = {}
    for name in ("dysta", "dysta-hw-fp32"):  # the hardware's gamma has alpha = 1
        res = simulate(tab, [w], [d], make_policy(name, Options(predictor_alpha="1")))[0]
        antt[name] = metrics.compute(tab, w, res.finish, d)["antt"]
    assert antt["dysta-hw-fp32"] == pytest.approx(antt["dysta"], rel=2e-3)
