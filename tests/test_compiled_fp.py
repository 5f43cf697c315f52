"""The compiled FP operations and dysta-hw arithmetic against the golden model and SoftFloat.

``dysta_sw.compiled.fp`` re-implements ``dysta_sw.fp`` as scalar integer code; every result must
be the same bit pattern, on Berkeley SoftFloat's conformance cases (the golden model's own
check), on random patterns of every class and on each format's special values, in both modes.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import helpers as h
from dysta_sw import fp
from dysta_sw.compiled import fp as cf
from dysta_sw.compiled import hw as chw
from dysta_sw.errors import DystaInputError
from dysta_sw.hwmodel import HwConfig, HwLuts
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
