"""The compiled FP operations and dysta-hw arithmetic against the golden model and SoftFloat.

``dysta_sw.compiled.fp`` re-implements ``dysta_sw.fp`` as scalar integer code; every result must
be the same bit pattern, on Berkeley SoftFloat's conformance cases (the golden model's own
check), on random patterns of every class and on each format's special values, in both modes.
"""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import helpers as h
from dysta_sw import fp
from dysta_sw.compiled import fp as cf
from dysta_sw.compiled import hw as chw
from dysta_sw.errors import DystaInputError
from dysta_sw.hwmodel import DIFF_BITS, HwConfig, HwLuts
from fp_cases import FORMATS, conformance_pairs, flush, int_cases, softfloat, softfloat_from_int, special_operands

#: The shipped formats, plus extremes of what ``fp.Format`` admits.
ALL_FORMATS = FORMATS + [fp.Format("e2m1", 2, 1), fp.Format("e3m2", 3, 2), fp.Format("e10m25", 10, 25)]
MODES = ("ieee", "lean")


def _ids(x):
    return x.name if isinstance(x, fp.Format) else str(x)


def corner_mix(fmt, rng, n):
    """Random patterns, a third replaced by the format's special operands."""
    bits = rng.integers(0, 1 << fmt.width, n, dtype=np.int64)
    specials = special_operands(fmt).astype(np.int64)
    pick = rng.random(n) < 0.33
    bits[pick] = specials[rng.integers(0, len(specials), pick.sum())]
    return bits.astype(fmt.dtype)


@pytest.mark.parametrize("fmt", FORMATS, ids=_ids)
@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_softfloat_conformance(fmt, op):
    """IEEE mode is SoftFloat bit for bit; lean mode is ftz(SoftFloat(daz(a), daz(b)))."""
    a, b = conformance_pairs(fmt, op)
    got = getattr(cf, f"{op}_array")(a, b, fmt, "ieee").astype(np.int64)
    ref = softfloat(op, a, b, fmt)
    bad = np.flatnonzero(got != ref)
    assert not len(bad), [(hex(a[i]), hex(b[i]), hex(got[i]), hex(ref[i])) for i in bad[:8]]
    lean = getattr(cf, f"{op}_array")(a, b, fmt, "lean").astype(np.int64)
    assert np.array_equal(lean, flush(softfloat(op, flush(a, fmt), flush(b, fmt), fmt), fmt))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=_ids)
def test_operations_equal_golden_model(fmt, mode):
    rng = np.random.default_rng(fmt.width * 7 + len(mode))
    n = 60000
    a, b = corner_mix(fmt, rng, n), corner_mix(fmt, rng, n)
    # every pair of special operands too
    s = special_operands(fmt).astype(fmt.dtype)
    sa, sb = np.meshgrid(s, s)
    a, b = np.concatenate([a, sa.ravel()]), np.concatenate([b, sb.ravel()])
    for op in ("add", "sub", "mul"):
        got, want = getattr(cf, f"{op}_array")(a, b, fmt, mode), getattr(fp, op)(a, b, fmt, mode)
        assert got.dtype == want.dtype
        bad = np.flatnonzero(got != want)
        assert not len(bad), (op, [(hex(a[i]), hex(b[i]), hex(got[i]), hex(want[i])) for i in bad[:8]])
    np.testing.assert_array_equal(cf.clamp0_array(a, fmt, mode), fp.clamp0(a, fmt, mode))
    np.testing.assert_array_equal(cf.lt_total_array(a, b, fmt, mode), fp.lt_total(a, b, fmt, mode))
    np.testing.assert_array_equal(cf.key_array(a, fmt, mode), fp._key(a, fmt, mode))
    np.testing.assert_array_equal(cf.to_float_array(a, fmt), fp.to_float(a, fmt))


@pytest.mark.parametrize("fmt", ALL_FORMATS, ids=_ids)
@pytest.mark.parametrize("width,signed", [(16, False), (48, True), (63, False), (64, True), (64, False)])
def test_from_int_equals_golden_model(fmt, width, signed):
    x = int_cases(fmt, width, signed, n_random=3000)
    for mode in MODES:
        np.testing.assert_array_equal(cf.from_int_array(x, width, signed, fmt, mode),
                                      fp.from_int(x, width, signed, fmt, mode))
    if fmt in FORMATS:
        np.testing.assert_array_equal(cf.from_int_array(x, width, signed, fmt).astype(np.int64),
                                      softfloat_from_int(x, width, signed, fmt))


def test_from_int_extremes():
    for fmt in ALL_FORMATS:
        signed = np.array([-(1 << 63), -(1 << 63) + 1, -1, 0, 1, (1 << 62) - 1, 1 << 62, (1 << 63) - 1], np.int64)
        np.testing.assert_array_equal(cf.from_int_array(signed, 64, True, fmt), fp.from_int(signed, 64, True, fmt))
        unsigned = np.array([0, 1, (1 << 62) - 1, 1 << 62, (1 << 63) + 255, (1 << 64) - 1], np.uint64)
        np.testing.assert_array_equal(cf.from_int_array(unsigned, 64, False, fmt),
                                      fp.from_int(unsigned, 64, False, fmt))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ALL_FORMATS), st.sampled_from(MODES), st.data())
def test_scalar_kernels_property(fmt, mode, data):
    """Single patterns drawn by hypothesis (it shrinks a failure to the smallest pattern)."""
    a = data.draw(st.integers(0, (1 << fmt.width) - 1))
    b = data.draw(st.integers(0, (1 << fmt.width) - 1))
    v = data.draw(st.integers(-(1 << 63), (1 << 63) - 1))
    E, M, ieee = fmt.exp_bits, fmt.man_bits, mode == "ieee"
    arr = np.array([a], np.int64), np.array([b], np.int64)
    assert cf.add(a, b, E, M, ieee) == int(fp.add(*arr, fmt, mode)[0])
    assert cf.sub(a, b, E, M, ieee) == int(fp.sub(*arr, fmt, mode)[0])
    assert cf.mul(a, b, E, M, ieee) == int(fp.mul(*arr, fmt, mode)[0])
    assert cf.clamp0(a, E, M, ieee) == int(fp.clamp0(arr[0], fmt, mode)[0])
    assert cf.lt_total(a, b, E, M, ieee) == bool(fp.lt_total(*arr, fmt, mode)[0])
    assert cf.from_int(v, E, M) == int(fp.from_int(np.array([v]), 64, True, fmt, mode)[0])


@numba.njit
def _float_domain_loop(a, b, v, E, M, ieee, out):
    """Every operation of the float64 domain, as the patterns the integer kernels would give."""
    for i in range(a.size):
        x, y = cf.f_dec(a[i], E, M, ieee), cf.f_dec(b[i], E, M, ieee)
        out[i, 0] = cf.f_enc(cf.f_round(x + y, E, M, ieee), E, M)
        out[i, 1] = cf.f_enc(cf.f_round(x - y, E, M, ieee), E, M)
        out[i, 2] = cf.f_enc(cf.f_round(x * y, E, M, ieee), E, M)
        out[i, 3] = cf.f_enc(cf.f_clamp0(x), E, M)
        out[i, 4] = cf.f_enc(cf.f_from_int(v[i], E, M), E, M)
        out[i, 5] = cf.f_enc(x, E, M)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", [f for f in ALL_FORMATS if cf.f_domain(f.exp_bits, f.man_bits)], ids=_ids)
def test_float_domain_equals_integer_kernels(fmt, mode):
    """The float64 domain (values rounded by ``f_round``) gives the integer kernels' bits: on random
    patterns of every class, every pair of special operands, and pairs whose sum or product lands
    on the subnormal range, the overflow threshold and halfway cases."""
    rng = np.random.default_rng(fmt.width * 13 + len(mode))
    E, M, ieee = fmt.exp_bits, fmt.man_bits, mode == "ieee"
    n = 60000
    a, b = corner_mix(fmt, rng, n).astype(np.int64), corner_mix(fmt, rng, n).astype(np.int64)
    # near-cancelling pairs (b = -a with a few low bits changed) and neighbours of the least normal
    near = a ^ (1 << (fmt.width - 1)) ^ rng.integers(0, 8, n)
    small = ((1 << M) + rng.integers(-(1 << min(M, 6)), 1 << min(M, 6), n)) | (rng.integers(0, 2, n) << (E + M))
    s = special_operands(fmt).astype(np.int64)
    sa, sb = np.meshgrid(s, s)
    a = np.concatenate([a, a, small, sa.ravel()])
    b = np.concatenate([b, near, small[::-1], sb.ravel()])
    v = rng.integers(-(1 << 52), 1 << 52, a.size) >> rng.integers(0, 52, a.size)
    out = np.empty((a.size, 6), np.int64)
    _float_domain_loop(a, b, v, E, M, ieee, out)
    want = [cf.add_array(a, b, fmt, mode), cf.sub_array(a, b, fmt, mode), cf.mul_array(a, b, fmt, mode),
            cf.clamp0_array(a, fmt, mode), cf.from_int_array(v, 64, True, fmt, mode)]
    for k, (name, w) in enumerate(zip(("add", "sub", "mul", "clamp0", "from_int"), want)):
        bad = np.flatnonzero(out[:, k] != w.astype(np.int64))
        assert not len(bad), (name, [(hex(a[i]), hex(b[i]), int(v[i]), hex(out[i, k]), hex(int(w[i])))
                                     for i in bad[:6]])
    # decoding and encoding a pattern gives it back, up to the canonical NaN and (lean) flushed subnormals
    keep = cf.clamp0_array(a, fmt, mode).astype(np.int64)  # the canonical NaN, as clamp0 gives it
    is_nan = fp.is_nan(a.astype(fmt.dtype), fmt)
    exp_zero = ((a >> M) & ((1 << E) - 1)) == 0
    back = np.where(is_nan, keep, np.where(exp_zero & (mode == "lean"), a & (1 << (E + M)), a))
    np.testing.assert_array_equal(out[:, 5], back)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", ["fp16", "bf16", "fp32"])
def test_score_trem_float_domain_equals_bit_patterns(fmt, mode):
    """``score_trem`` (float64 domain) and ``score_trem_bits`` (integer kernels) agree on operands
    of every class and on time differences over the whole saturated range."""
    f = fp.get_format(fmt)
    E, M, ieee = f.exp_bits, f.man_bits, mode == "ieee"
    rng = np.random.default_rng(5 + len(mode))
    ops = [corner_mix(f, rng, 3000).astype(np.int64) for _ in range(5)]
    lim = 1 << (DIFF_BITS - 1)
    dl = rng.integers(-lim, lim, 3000) >> rng.integers(0, DIFF_BITS, 3000)
    wait = rng.integers(0, 2 * lim, 3000) >> rng.integers(0, DIFF_BITS, 3000)
    for i in range(3000):
        args = (ops[0][i], dl[i], wait[i], ops[1][i], ops[2][i], ops[3][i], E, M, ieee)
        assert chw.score_trem(*args) == chw.score_trem_bits(*args), [hex(x) for x in args[:6]]


def test_bad_input_is_rejected_like_the_golden_model():
    with pytest.raises(DystaInputError, match="outside"):
        cf.add_array(np.array([1 << 16]), 0, "fp16")
    with pytest.raises(DystaInputError, match="integer bit patterns"):
        cf.mul_array(np.array([1.0]), 0, "fp16")
    with pytest.raises(DystaInputError, match="mode"):
        cf.add_array(0, 0, "fp16", "fast")
    with pytest.raises(DystaInputError, match="outside"):
        cf.from_int_array(np.array([300]), 8, False)


# ----------------------------------------------------------------------------- dysta-hw arithmetic

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", ["fp16", "bf16", "fp32"])
def test_hw_gamma_and_score_equal_golden_model(fmt, mode):
    """Mode A and mode B of the compiled policy give HwLuts.gamma / HwLuts.score's bits, with
    every operand class in every look-up table entry and time differences past the format's range."""
    f = fp.get_format(fmt)
    mp = h.model_pattern("m/p/0.5", [[1e-3, 2e-3, 3e-3]], [[0.5, 0.25, 1.0]], shape=[100, 40000, 7])
    luts = HwLuts.build(h.tables(mp), HwConfig(fmt=fmt, mode=mode, time_shift=4, time_bits=40), eta=0.01)
    rng = np.random.default_rng(11)
    n = 40000
    for name in ("R", "inv_rhobar", "inv_shape"):
        setattr(luts, name, corner_mix(f, rng, 4))
    luts.inv_tiso = corner_mix(f, rng, 3)
    luts.inv_q = corner_mix(f, rng, 65)
    idx = rng.integers(0, 4, n)
    mps = rng.integers(0, 3, n)
    gamma = corner_mix(f, rng, n)
    now = rng.integers(0, 1 << 40, n)
    deadline = now + rng.integers(-(1 << 44), 1 << 44, n)  # saturates the 40-bit difference
    last = now - rng.integers(0, 1 << 41, n)
    nq = rng.integers(1, 65, n)
    for eta in (luts.eta, int(corner_mix(f, rng, 1)[0])):
        luts.eta = eta
        args = (gamma, idx, mps, deadline, last, now, nq)
        np.testing.assert_array_equal(chw.score_array(luts, *args), luts.score(*args))
    nnz = rng.integers(0, 40001, n)
    np.testing.assert_array_equal(chw.gamma_array(luts, nnz, idx % 3), luts.gamma(nnz, idx % 3))


def test_warm_loops_compile_what_the_golden_model_calls():
    """The loops the report's background process compiles (compiled.hw.warm_loops) are the ones the
    golden model then calls: the same types, so no process compiles them a second time."""
    chw.warm_loops()
    before = (len(chw._gamma_loop.signatures), len(chw._score_loop.signatures))
    for fmt, mode in (("fp16", "ieee"), ("bf16", "lean")):
        mp = h.model_pattern("m/p/0.5", [[1e-3, 2e-3]], [[0.5, 0.25]], shape=[100, 7])
        luts = HwLuts.build(h.tables(mp), HwConfig(fmt=fmt, mode=mode), eta=0.01)
        g = chw.gamma_array(luts, np.array([3, 50]), np.array([0, 1]))
        chw.score_array(luts, g, np.array([1, 2]), np.array([0, 0]), np.array([10**6, 10]), np.array([0, 5]),
                        np.array([100, 100]), np.array([2, 2]))
    assert (len(chw._gamma_loop.signatures), len(chw._score_loop.signatures)) == before == (1, 1)
