"""The floating-point golden model against Berkeley SoftFloat and independent references.

IEEE mode must equal SoftFloat bit for bit on every conformance case; lean mode must equal
``ftz(softfloat(daz(a), daz(b)))`` and differ from SoftFloat only where an operand or the
SoftFloat result is subnormal.
"""

from fractions import Fraction

import numpy as np
import pytest
import softfloatpy as sf

from dysta_sw import fp
from dysta_sw.fp import BF16, FP16, FP32
from fp_cases import (
    FORMATS,
    conformance_pairs,
    exact_round,
    flush,
    int_cases,
    is_subnormal,
    softfloat,
    softfloat_from_int,
    special_operands,
    to_fraction,
)

OPS = ["add", "sub", "mul"]


def _ids(x):
    return x.name if isinstance(x, fp.Format) else str(x)


@pytest.mark.parametrize("fmt", FORMATS, ids=_ids)
@pytest.mark.parametrize("op", OPS)
def test_conformance_ieee_and_lean(fmt, op):
    a, b = conformance_pairs(fmt, op)
    assert len(a) >= 46464  # at least TestFloat level 1's size for f16
    ieee_ref = softfloat(op, a, b, fmt)
    got = getattr(fp, op)(a, b, fmt, "ieee").astype(np.int64)
    bad = np.nonzero(got != ieee_ref)[0]
    assert len(bad) == 0, [(hex(a[i]), hex(b[i]), hex(got[i]), hex(ieee_ref[i])) for i in bad[:8]]

    lean_ref = flush(softfloat(op, flush(a, fmt), flush(b, fmt), fmt), fmt)
    lean = getattr(fp, op)(a, b, fmt, "lean").astype(np.int64)
    bad = np.nonzero(lean != lean_ref)[0]
    assert len(bad) == 0, [(hex(a[i]), hex(b[i]), hex(lean[i]), hex(lean_ref[i])) for i in bad[:8]]
    # the only differences from IEEE: a subnormal operand, or a subnormal IEEE result
    documented = is_subnormal(a, fmt) | is_subnormal(b, fmt) | is_subnormal(ieee_ref, fmt)
    assert not np.any((lean != ieee_ref) & ~documented)
    # and they do occur in the conformance set, so the check above is not vacuous
    assert np.any(lean != ieee_ref)


@pytest.mark.parametrize("op", ["add", "mul"])
def test_bf16_reference_is_exact(op):
    """Binary32-then-BF16 (the BF16 reference) equals exact rational rounding."""
    rng = np.random.default_rng(7)
    a, b = conformance_pairs(BF16, op)
    pick = rng.choice(len(a), 6000, replace=False)
    a, b = a[pick], b[pick]
    ref = softfloat(op, a, b, BF16)
    for x, y, r in zip(a.tolist(), b.tolist(), ref.tolist()):
        fx, fy = to_fraction(x, BF16), to_fraction(y, BF16)
        if fx is None or fy is None:
            continue
        exact = fx + fy if op == "add" else fx * fy
        neg_zero = (x >> 15) & (y >> 15) if op == "add" else (x >> 15) ^ (y >> 15)
        assert exact_round(exact, BF16, negative_zero=bool(neg_zero)) == r, (hex(x), hex(y))


def test_canonical_nan_and_specials():
    nan, inf, ninf = 0x7E00, 0x7C00, 0xFC00
    assert fp.add(inf, ninf) == nan
    assert fp.sub(inf, inf) == nan
    assert fp.mul(inf, 0) == nan and fp.mul(0x8000, ninf) == nan
    assert fp.add(0xFE01, 0x3C00) == nan  # negative NaN with payload -> canonical
    assert fp.mul(0x7C01, 0x3C00) == nan  # signalling NaN -> canonical
    assert fp.add(0x7BFF, 0x7BFF) == inf  # overflow
    assert fp.add(0x8000, 0x8000) == 0x8000 and fp.add(0x8000, 0x0000) == 0
    assert fp.sub(0x3C00, 0x3C00) == 0
    assert [fp.FP16.nan, fp.BF16.nan, fp.FP32.nan] == [0x7E00, 0x7FC0, 0x7FC00000]
    # lean: the smallest subnormal is a zero; min normal * (1 - ulp/2) still rounds to min normal
    assert fp.add(0x0001, 0x0001, mode="lean") == 0
    assert fp.add(0x0001, 0x0001) == 0x0002
    assert fp.mul(0x0400, 0x3BFF, mode="ieee") == 0x0400
    assert fp.mul(0x0400, 0x3BFF, mode="lean") == 0x0400
    assert fp.mul(0x0400, 0x3BFE, mode="lean") == 0x0000
    assert fp.mul(0x8400, 0x3BFE, mode="lean") == 0x8000


@pytest.mark.parametrize("fmt", FORMATS, ids=_ids)
@pytest.mark.parametrize("width,signed", [(1, False), (8, True), (11, False), (16, True),
                                          (32, False), (32, True), (64, False), (64, True)])
def test_from_int(fmt, width, signed):
    x = int_cases(fmt, width, signed, n_random=3000)
    ref = softfloat_from_int(x, width, signed, fmt)
    for mode in fp.MODES:
        got = fp.from_int(x, width, signed, fmt, mode).astype(np.int64)
        bad = np.nonzero(got != ref)[0]
        assert len(bad) == 0, [(int(x[i]), hex(got[i]), hex(ref[i])) for i in bad[:8]]


def test_from_int_exact_rounding_fp16():
    """SoftFloat's conversion agrees with rounding by definition, so both references hold."""
    x = int_cases(FP16, 32, True, n_random=2000)
    got = fp.from_int(x, 32, True, FP16)
    assert [exact_round(Fraction(int(v)), FP16) for v in x] == got.tolist()


def _f64_reference(values, fmt):
    sf.set_rounding_mode(sf.RoundingMode.NEAR_EVEN)
    out = []
    for v in values.tolist():
        if fmt == BF16:
            if v != v:
                out.append(BF16.nan)
            elif v in (float("inf"), float("-inf")):
                out.append(BF16.inf | (BF16.sign_bit if v < 0 else 0))
            else:
                out.append(exact_round(Fraction(v), BF16, negative_zero=str(v).startswith("-")))
            continue
        r = (sf.f64_to_f16 if fmt == FP16 else sf.f64_to_f32)(sf.Float64.from_float(v))
        out.append(int.from_bytes(r.to_bytes(), "big"))
    return np.array(out)


@pytest.mark.parametrize("fmt", FORMATS, ids=_ids)
def test_from_float_and_to_float(fmt):
    rng = np.random.default_rng(3)
    pats = np.concatenate([special_operands(fmt), rng.integers(0, 1 << fmt.width, 3000)])
    exact = fp.to_float(pats, fmt)
    # to_float is exact: it round-trips every non-NaN pattern
    back = fp.from_float(exact, fmt)
    keep = ~np.isnan(exact)
    assert np.array_equal(back[keep], pats[keep])
    assert np.all(back[~keep] == fmt.nan)
    # from_float rounds like SoftFloat (binary64 -> binary16/32) or by definition (BF16)
    vals = np.concatenate([exact[keep] * (1 + 2.0 ** -(fmt.man_bits + 1)),  # ties
                           exact[keep] * (1 + 3 * 2.0 ** -(fmt.man_bits + 3)),
                           rng.standard_normal(2000) * 10.0 ** rng.integers(-50, 50, 2000),
                           [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-300, -1e300]])
    ref = _f64_reference(vals, fmt)
    got = fp.from_float(vals, fmt).astype(np.int64)
    bad = np.nonzero(got != ref)[0]
    assert len(bad) == 0, [(vals[i], hex(got[i]), hex(ref[i])) for i in bad[:8]]
    lean = fp.from_float(vals, fmt, "lean").astype(np.int64)
    assert np.array_equal(lean, flush(ref, fmt))


def test_to_float_matches_numpy_half():
    pats = np.arange(1 << 16)
    ours = fp.to_float(pats, FP16)
    theirs = pats.astype(np.uint16).view(np.float16).astype(np.float64)
    assert np.array_equal(ours, theirs, equal_nan=True)


# -- comparison, argmin, clamp ---------------------------------------------------------------

def _order_reference(x, fmt, mode):
    """Sort keys from values: (NaN last, value, -0 before +0), after the lean flush."""
    x = flush(x, fmt) if mode == "lean" else np.asarray(x, np.int64)
    v = fp.to_float(x, fmt)
    nan = np.isnan(v)
    sign = (x >> (fmt.width - 1)) & 1
    return nan, np.where(nan, 0.0, v), 1 - sign


def _lt_reference(a, b, fmt, mode):
    na, va, za = _order_reference(a, fmt, mode)
    nb, vb, zb = _order_reference(b, fmt, mode)
    return ~na & (nb | (va < vb) | ((va == vb) & (za < zb)))


@pytest.mark.parametrize("fmt", FORMATS, ids=_ids)
@pytest.mark.parametrize("mode", fp.MODES)
def test_lt_total_minimum_clamp0(fmt, mode):
    s = special_operands(fmt)
    a, b = (v.ravel() for v in np.meshgrid(s, s))
    rng = np.random.default_rng(5)
    a = np.concatenate([a, rng.integers(0, 1 << fmt.width, 20000)])
    b = np.concatenate([b, rng.integers(0, 1 << fmt.width, 20000)])
    lt = _lt_reference(a, b, fmt, mode)
    assert np.array_equal(fp.lt_total(a, b, fmt, mode), lt)
    fa, fb = (flush(v, fmt) if mode == "lean" else v for v in (a, b))
    want_min = np.where(lt, fa, fb)
    want_min = np.where(np.isnan(fp.to_float(want_min, fmt)), fmt.nan, want_min)
    assert np.array_equal(fp.minimum(a, b, fmt, mode), want_min)
    # clamp0 = max(x, +0): NaN canonical, anything ordered below +0 becomes +0
    below = _lt_reference(a, np.zeros_like(a), fmt, mode)
    nan = np.isnan(fp.to_float(a, fmt))
    want = np.where(nan, fmt.nan, np.where(below, 0, fa))
    assert np.array_equal(fp.clamp0(a, fmt, mode), want)
    assert fp.relu is fp.clamp0


@pytest.mark.parametrize("mode", fp.MODES)
def test_argmin_nan_never_wins_first_tie(mode):
    rng = np.random.default_rng(11)
    x = rng.choice(special_operands(FP16), size=(3000, 9))
    x[:100] = FP16.nan  # all-NaN rows pick index 0
    x[100:200, 3:] = x[100:200, 3:4]  # ties
    got = fp.argmin(x, axis=1, fmt=FP16, mode=mode)
    for row, g in zip(x, got):
        best = 0
        for j in range(1, len(row)):
            if _lt_reference(row[j:j + 1], row[best:best + 1], FP16, mode)[0]:
                best = j
        assert g == best


# -- parameters ------------------------------------------------------------------------------

def test_bad_parameters_raise_value_error():
    with pytest.raises(ValueError, match="fmt='fp8'.*fp16, bf16, fp32"):
        fp.add(1, 2, fmt="fp8")
    with pytest.raises(ValueError, match="mode='fast'.*ieee, lean"):
        fp.mul(1, 2, mode="fast")
    with pytest.raises(ValueError, match="width=0"):
        fp.from_int(1, 0)
    with pytest.raises(ValueError, match="width=-3"):
        fp.from_int(1, -3)
    with pytest.raises(ValueError, match=r"outside \[0, 255\].*wider width or signed=True"):
        fp.from_int(256, 8)
    with pytest.raises(ValueError, match="outside the 16-bit patterns"):
        fp.add(1 << 16, 0)
    with pytest.raises(ValueError, match="exp_bits"):
        fp.Format("tiny", 1, 3)
    assert fp.get_format("BF16") is BF16 and fp.get_format(FP32) is FP32


def test_shapes_and_dtypes():
    a = np.array([[0x3C00, 0x4000], [0x4200, 0x0000]], dtype=np.uint16)
    r = fp.add(a, np.uint16(0x3C00))
    assert r.shape == (2, 2) and r.dtype == np.uint16
    assert r.tolist() == [[0x4000, 0x4200], [0x4400, 0x3C00]]
    assert fp.mul(0x3F800000, 0x40000000, FP32) == 0x40000000
    assert isinstance(fp.add(0x3C00, 0x3C00), np.uint16)
