"""The hardware's floating-point operations (:mod:`dysta_sw.fp`) as compiled integer code.

The scalar functions take and return bit patterns as ``int64`` and describe the format by its
exponent and fraction widths ``E``, ``M`` and the mode by ``ieee`` (``True``: IEEE 754 with
subnormals; ``False``: lean, subnormals flushed). They compute, step for step, what the numpy
golden model :mod:`dysta_sw.fp` computes on its int64 lanes, so the results are the same bits
(tests/test_compiled_fp.py checks them against it on random and special patterns, and against
Berkeley SoftFloat on the conformance cases). Compiled engines call them per queued request.

The array functions (``add_array``, ``sub_array``, ``mul_array``, ``from_int_array``,
``clamp0_array``, ``lt_total_array``, ``key_array``, ``to_float_array``) take the golden model's
arguments (formats, modes, checks) and run a compiled loop over numpy arrays.
"""

from __future__ import annotations

import math

import numpy as np
from numba.cpython.unsafe.numbers import leading_zeros

from .. import fp as golden
from ._jit import jit

# ----------------------------------------------------------------------------- scalar kernels


@jit
def mask(n):
    """``2**n - 1``."""
    return (np.int64(1) << n) - 1


@jit
def bitlen(v):
    """Bit length of a non-negative int64 (the golden model's ``frexp`` of an exact float below
    2**53): one count-leading-zeros instruction."""
    return 64 - np.int64(leading_zeros(v))


@jit
def shr_sticky(v, sh):
    """``v >> sh`` with the bits shifted out ORed into bit 0; ``0 <= sh <= 62``."""
    lost = v & ((np.int64(1) << sh) - 1)
    return (v >> sh) | (np.int64(1) if lost != 0 else np.int64(0))


@jit
def normalise(sig, be, M):
    """Leading one of ``sig`` (> 0, < 2**53) to bit ``M + 2``; returns ``(sig, be)`` adjusted."""
    top = M + 2
    lead = bitlen(sig) - 1
    right = min(max(lead - top, 0), 62)
    left = min(max(top - lead, 0), 62)
    return shr_sticky(sig, right) << left, be + lead - top


@jit
def round_pack(sign, be, sig, E, M, ieee):
    """Round and encode ``(-1)**sign * sig * 2**(be - bias - M - 2)`` (see ``fp._round_pack``)."""
    if ieee:
        sig = shr_sticky(sig, min(max(1 - be, 0), M + 4))
        be = max(be, np.int64(1))
    keep = sig >> 2
    up = (sig >> 1) & 1 & ((sig | keep) & 1)
    bits = ((be - 1) << M) + keep + up
    inf = mask(E) << M
    if bits >= inf:
        bits = inf
    if not ieee and be < 1:
        bits = (np.int64(1) << M) if be == 0 and (keep & mask(M)) == mask(M) else np.int64(0)
    return bits | (sign << (E + M))


@jit
def is_nan(x, E, M):
    return ((x >> M) & mask(E)) == mask(E) and (x & mask(M)) != 0


@jit
def daz(x, E, M, ieee):
    """Lean mode: a subnormal becomes the zero of its sign (identity in ieee mode)."""
    if not ieee and ((x >> M) & mask(E)) == 0:
        return x & (np.int64(1) << (E + M))
    return x


@jit
def _sig(x, E, M, ieee):
    """Significand with its hidden bit (0 for a lean-mode subnormal) and exponent (>= 1)."""
    e = (x >> M) & mask(E)
    f = x & mask(M)
    if e != 0:
        return f | (np.int64(1) << M), e
    return (f if ieee else np.int64(0)), np.int64(1)


@jit
def add(a, b, E, M, ieee):
    """``a + b``, round to nearest even."""
    W = 1 + E + M
    emax = mask(E)
    nan = (emax << M) | (np.int64(1) << (M - 1))
    magmask = (np.int64(1) << (W - 1)) - 1
    if (b & magmask) > (a & magmask):
        x, y = b, a
    else:
        x, y = a, b
    sx, sy = x >> (W - 1), y >> (W - 1)
    ex_field, ey_field = (x >> M) & emax, (y >> M) & emax
    fx, fy = x & mask(M), y & mask(M)
    nanx, nany = ex_field == emax and fx != 0, ey_field == emax and fy != 0
    infx, infy = ex_field == emax and fx == 0, ey_field == emax and fy == 0
    sub_ = sx != sy
    if nanx or nany or (infx and infy and sub_):
        return nan
    if infx:  # |x| >= |y|: an infinite operand is x
        return x & ~mask(M)
    gx, ex = _sig(x, E, M, ieee)
    gy, ey = _sig(y, E, M, ieee)
    al = shr_sticky(gy << 3, min(ex - ey, M + 5))
    z = (gx << 3) - al if sub_ else (gx << 3) + al
    if z == 0:  # exact zero: -0 only for -0 + -0
        return (sx & sy) << (W - 1)
    sig, be = normalise(z, ex - 1, M)
    return round_pack(sx, be, sig, E, M, ieee)


@jit
def sub(a, b, E, M, ieee):
    """``a - b`` (``a + (-b)``)."""
    return add(a, b ^ (np.int64(1) << (E + M)), E, M, ieee)


@jit
def mul(a, b, E, M, ieee):
    """``a * b``, round to nearest even."""
    W = 1 + E + M
    emax = mask(E)
    nan = (emax << M) | (np.int64(1) << (M - 1))
    ea_field, eb_field = (a >> M) & emax, (b >> M) & emax
    fa, fb = a & mask(M), b & mask(M)
    s = (a >> (W - 1)) ^ (b >> (W - 1))
    ga, ea = _sig(a, E, M, ieee)
    gb, eb = _sig(b, E, M, ieee)
    nana, nanb = ea_field == emax and fa != 0, eb_field == emax and fb != 0
    infa, infb = ea_field == emax and fa == 0, eb_field == emax and fb == 0
    if nana or nanb or (infa and gb == 0) or (infb and ga == 0):
        return nan
    if infa or infb:
        return (s << (W - 1)) | (emax << M)
    if ga == 0 or gb == 0:
        return s << (W - 1)
    bias = (np.int64(1) << (E - 1)) - 1
    sig, be = normalise(ga * gb, ea + eb - bias - M + 2, M)
    return round_pack(s, be, sig, E, M, ieee)


@jit
def _from_magnitude(sign, u, E, M):
    """Round the unsigned magnitude ``u`` (uint64) with ``sign`` to the format (``fp._from_uint_block``)."""
    big = u >= np.uint64(1 << 62)
    if big:
        u = (u >> np.uint64(8)) | (np.uint64(1) if (u & np.uint64(0xFF)) != np.uint64(0) else np.uint64(0))
    v = np.int64(u)
    if v == 0:
        return np.int64(0)
    hi = v >> 31
    lead = (bitlen(hi) + 31 if hi > 0 else bitlen(v & 0x7FFFFFFF)) - 1
    top = M + 2
    if lead > top:
        sig = shr_sticky(v, min(lead - top, 62))
    else:
        sig = v << min(top - lead, 62)
    bias = (np.int64(1) << (E - 1)) - 1
    be = bias + lead + (8 if big else 0)
    # An integer is never subnormal (be >= bias >= 1), so both modes round it alike: the mode
    # argument is the (always true) ``be >= 1``, not a constant, which numba would compile twice.
    return round_pack(sign, be, sig, E, M, be >= 1)


@jit
def from_int(v, E, M):
    """The signed integer ``v`` (int64) in the format, round to nearest even (the same in both modes)."""
    if v < 0:
        return _from_magnitude(np.int64(1), np.uint64(-(v + 1)) + np.uint64(1), E, M)
    return _from_magnitude(np.int64(0), np.uint64(v), E, M)


@jit
def from_uint(u, E, M):
    """The unsigned integer ``u`` (uint64) in the format."""
    return _from_magnitude(np.int64(0), u, E, M)


@jit
def clamp0(x, E, M, ieee):
    """``max(x, +0)``: negatives (``-0``, ``-inf``) give ``+0``, a NaN the canonical NaN."""
    a = daz(x, E, M, ieee)
    if is_nan(a, E, M):
        return (mask(E) << M) | (np.int64(1) << (M - 1))
    if a & (np.int64(1) << (E + M)):
        return np.int64(0)
    return a


@jit
def key(x, E, M, ieee):
    """An integer whose order is :func:`lt_total`'s: ``-inf < ... < -0 < +0 < ... < +inf < NaN``."""
    a = daz(x, E, M, ieee)
    W = 1 + E + M
    if is_nan(a, E, M):
        return mask(W)
    if a & (np.int64(1) << (W - 1)):
        return ~a & mask(W)
    return a | (np.int64(1) << (W - 1))


@jit
def lt_total(a, b, E, M, ieee):
    """``a < b`` in the total order of :func:`key`."""
    return key(a, E, M, ieee) < key(b, E, M, ieee)


@jit
def to_float(x, E, M):
    """The exact float64 value of the pattern ``x`` (every NaN is ``nan``)."""
    e = (x >> M) & mask(E)
    f = x & mask(M)
    if e == mask(E):
        mag = np.inf if f == 0 else np.nan
    else:
        bias = (np.int64(1) << (E - 1)) - 1
        sig = f if e == 0 else f | (np.int64(1) << M)
        mag = math.ldexp(np.float64(sig), max(e, 1) - bias - M)
    return -mag if (x >> (E + M)) & 1 else mag


# ----------------------------------------------------------------------------- float64 domain
#
# The same operations on float64 values instead of bit patterns, for the compiled policies' chains
# of operations (:func:`dysta_sw.compiled.hw.score_trem`): a value of the format is held as the
# float64 it equals; an operation is float64 arithmetic on such values followed by
# :func:`f_round`, the format's rounding of the result (round to nearest even, overflow to
# infinity, IEEE subnormals or the lean mode's flush, exactly as ``round_pack``). The float64
# result is exact for a product (2 * (M + 1) <= 53 bits), for a sum of formats up to 16 bits wide
# and for every sum that cancels into the subnormal range; otherwise it is rounded once to 53
# bits first, which is innocuous before a rounding to p <= 25 bits (53 >= 2p + 2: Figueroa,
# "When is double rounding innocuous?", SIGNUM 1995). So the result is the integer kernels' bits
# for every format with ``M <= F_MAX_M`` (tests/test_compiled_fp.py compares them).

@jit
def f_domain(E, M):
    """Whether the float64 domain computes the format ``(E, M)`` exactly: ``M <= 24`` (p <= 25)
    and ``E <= 10`` (every value and intermediate a normal float64)."""
    return M <= 24 and E <= 10


@jit
def _f64(b):
    """The float64 whose bits are ``b`` (int64)."""
    return np.int64(b).view(np.float64)


@jit
def _pow2(k):
    """``2.0 ** k`` for ``-1022 <= k <= 1023``."""
    return _f64((np.int64(k) + 1023) << 52)


@jit
def f_dec(x, E, M, ieee):
    """The value of the pattern ``x`` as a float64 (lean mode: a subnormal is the zero of its sign)."""
    e = (x >> M) & mask(E)
    f = x & mask(M)
    bias = (np.int64(1) << (E - 1)) - 1
    if e == mask(E):
        v = np.inf if f == 0 else np.nan
    elif e != 0:
        v = _f64(((e - bias + 1023) << 52) | (f << (52 - M)))
    elif ieee:
        v = np.float64(f) * _pow2(1 - bias - M)
    else:
        v = 0.0
    return -v if (x >> (E + M)) & 1 else v


@jit
def f_round(v, E, M, ieee):
    """``v`` rounded to the format (the float64 it rounds to), as ``round_pack`` rounds."""
    b = np.float64(v).view(np.int64)
    mag = b & ~(np.int64(1) << 63)
    if mag >= (np.int64(0x7FF) << 52) or mag == 0:  # NaN, infinities and zeros stay
        return v
    bias = (np.int64(1) << (E - 1)) - 1
    emin = 1 - bias
    if mag >= (emin + 1023) << 52:  # a normal of the format: round the float64's fraction in place
        sh = 52 - M
        r = (b + (np.int64(1) << (sh - 1)) - 1 + ((b >> sh) & 1)) & ~((np.int64(1) << sh) - 1)
        if (r & ~(np.int64(1) << 63)) >= (bias + 1 + 1023) << 52:
            r = (b & (np.int64(1) << 63)) | (np.int64(0x7FF) << 52)
        return _f64(r)
    a = abs(v)
    if ieee:
        r = np.rint(a * _pow2(M - emin)) * _pow2(emin - M)
    else:  # flushed before rounding: only a value whose kept bits are all ones becomes the least normal
        r = _pow2(emin) if a >= _pow2(emin) - _pow2(emin - 1 - M) else 0.0
    return -r if v < 0.0 else r


@jit
def f_enc(v, E, M):
    """The pattern of ``v``, a value of the format (every NaN the canonical one)."""
    if v != v:
        return (mask(E) << M) | (np.int64(1) << (M - 1))
    b = np.float64(v).view(np.int64)
    sign = (b >> 63) & 1
    a = abs(v)
    bias = (np.int64(1) << (E - 1)) - 1
    if a == np.inf:
        bits = mask(E) << M
    elif a >= _pow2(1 - bias):
        ab = np.float64(a).view(np.int64)
        bits = (((ab >> 52) - 1023 + bias) << M) | ((ab >> (52 - M)) & mask(M))
    else:
        bits = np.int64(a * _pow2(bias - 1 + M))
    return bits | (sign << (E + M))


@jit
def f_clamp0(v):
    """``max(v, +0)`` of a value (negatives and ``-0`` give ``+0``, a NaN stays a NaN)."""
    if v != v:
        return v
    return 0.0 if np.float64(v).view(np.int64) < 0 else v


@jit
def f_from_int(v, E, M):
    """The signed integer ``v`` (``|v| < 2**53``, exact in float64) as a value of the format (:func:`from_int`)."""
    return f_round(np.float64(v), E, M, True)


# ----------------------------------------------------------------------------- array functions

_ADD, _SUB, _MUL = 0, 1, 2


@jit
def _binary_loop(op, a, b, E, M, ieee, out):
    for i in range(out.size):
        if op == _MUL:
            out[i] = mul(a[i], b[i], E, M, ieee)
        elif op == _SUB:
            out[i] = sub(a[i], b[i], E, M, ieee)
        else:
            out[i] = add(a[i], b[i], E, M, ieee)


@jit
def _unary_loop(op, a, E, M, ieee, out):
    for i in range(out.size):
        if op == 0:
            out[i] = clamp0(a[i], E, M, ieee)
        else:
            out[i] = key(a[i], E, M, ieee)


@jit
def _from_int_loop(v, E, M, out):
    for i in range(out.size):
        out[i] = from_int(v[i], E, M)


@jit
def _from_uint_loop(u, E, M, out):
    for i in range(out.size):
        out[i] = from_uint(u[i], E, M)


@jit
def _to_float_loop(a, E, M, out):
    for i in range(out.size):
        out[i] = to_float(a[i], E, M)


def _params(fmt, mode):
    f = golden.get_format(fmt)
    return f, f.exp_bits, f.man_bits, golden.check_mode(mode) == "ieee"


def _binary(op, a, b, fmt, mode):
    f, E, M, ieee = _params(fmt, mode)
    a, b = golden._bits_in(a, f, "a"), golden._bits_in(b, f, "b")
    a, b = np.broadcast_arrays(a, b)
    shape = a.shape
    out = np.empty(a.size, np.int64)
    _binary_loop(op, a.reshape(-1).astype(np.int64), b.reshape(-1).astype(np.int64), E, M, ieee, out)
    return out.astype(f.dtype).reshape(shape)[()]


def add_array(a, b, fmt=golden.FP16, mode="ieee"):
    """``a + b`` of bit-pattern arrays, as :func:`dysta_sw.fp.add`."""
    return _binary(_ADD, a, b, fmt, mode)


def sub_array(a, b, fmt=golden.FP16, mode="ieee"):
    """``a - b`` of bit-pattern arrays, as :func:`dysta_sw.fp.sub`."""
    return _binary(_SUB, a, b, fmt, mode)


def mul_array(a, b, fmt=golden.FP16, mode="ieee"):
    """``a * b`` of bit-pattern arrays, as :func:`dysta_sw.fp.mul`."""
    return _binary(_MUL, a, b, fmt, mode)


def _unary(op, x, fmt, mode):
    f, E, M, ieee = _params(fmt, mode)
    a = np.asarray(golden._bits_in(x, f, "x"))
    out = np.empty(a.size, np.int64)
    _unary_loop(op, a.reshape(-1).astype(np.int64), E, M, ieee, out)
    return out.reshape(a.shape)


def clamp0_array(x, fmt=golden.FP16, mode="ieee"):
    """``max(x, +0)`` of a bit-pattern array, as :func:`dysta_sw.fp.clamp0`."""
    return _unary(0, x, fmt, mode).astype(golden.get_format(fmt).dtype)[()]


def key_array(x, fmt=golden.FP16, mode="ieee"):
    """The total-order keys of a bit-pattern array (``int64``)."""
    return _unary(1, x, fmt, mode)[()]


def lt_total_array(a, b, fmt=golden.FP16, mode="ieee"):
    """``a < b`` in the total order, as :func:`dysta_sw.fp.lt_total`."""
    return (key_array(a, fmt, mode) < key_array(b, fmt, mode))[()]


def from_int_array(x, width, signed=False, fmt=golden.FP16, mode="ieee"):
    """Integers of ``width`` bits to the format, as :func:`dysta_sw.fp.from_int` (same checks)."""
    f, E, M, _ = _params(fmt, mode)
    width = golden._check_width(width)
    v = np.asarray(x)
    if v.dtype.kind not in "iu":
        raise golden.DystaInputError(f"from_int x must hold integers, not dtype {v.dtype}")
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    if v.size and (int(v.min()) < lo or int(v.max()) > hi):
        raise golden.DystaInputError(
            f"from_int x holds values outside [{lo}, {hi}] of a {'signed' if signed else 'unsigned'} "
            f"{width}-bit integer; pass a wider width or signed=True")
    out = np.empty(v.size, np.int64)
    if v.dtype.kind == "u":
        _from_uint_loop(v.reshape(-1).astype(np.uint64), E, M, out)
    else:
        _from_int_loop(v.reshape(-1).astype(np.int64), E, M, out)
    return out.astype(f.dtype).reshape(v.shape)[()]


def to_float_array(x, fmt=golden.FP16):
    """The float64 values of a bit-pattern array, as :func:`dysta_sw.fp.to_float`."""
    f, E, M, _ = _params(fmt, "ieee")
    a = np.asarray(golden._bits_in(x, f, "x"))
    out = np.empty(a.size, np.float64)
    _to_float_loop(a.reshape(-1).astype(np.int64), E, M, out)
    return out.reshape(a.shape)[()]
