"""Floating-point test vectors in the style of Berkeley TestFloat, and SoftFloat references.

Operands are bit patterns (numpy ``int64``). :func:`special_operands` lists the corner-case
classes of TestFloat's level 1 (signed zeros, smallest and largest subnormals and normals, every
exponent with boundary fractions, values around 1, infinities, quiet and signalling NaNs with
payloads); :func:`conformance_pairs` crosses them with each other (about 46k pairs for FP16,
TestFloat level 1's size) and adds targeted pairs: cancellation, carries into the exponent,
exact rounding ties, overflow and underflow thresholds, and structured random operands.

The references here never call the code under test: :func:`softfloat` runs Berkeley SoftFloat
(``softfloatpy``); BF16, which SoftFloat has no arithmetic for, is computed in binary32 and
rounded to BF16 once, which is exact for ``+ - *`` because binary32 carries more than
``2p + 2`` bits for BF16's ``p = 8`` and has the same exponent range (double rounding is then
innocuous). :func:`exact_round` rounds exact rationals independently of both.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import softfloatpy as sf

from dysta_sw.fp import BF16, FP16, FP32, Format

# -- operand sets ----------------------------------------------------------------------------


def _pat(fmt: Format, sign, exp, frac):
    return (int(sign) << (fmt.width - 1)) | (int(exp) << fmt.man_bits) | int(frac)


def special_operands(fmt: Format) -> np.ndarray:
    """Corner-case operands of ``fmt``, both signs, deduplicated (about 215 for FP16)."""
    m, emax = fmt.man_bits, fmt.exp_max
    mask = (1 << m) - 1
    fracs = sorted({0, 1, 2, mask, mask - 1, 1 << (m - 1), (1 << (m - 1)) + 1, mask >> 1})
    # every exponent for narrow exponent fields; the boundaries and a spread otherwise
    if emax <= 31:
        exps = list(range(1, emax))
        fr_normal = [0, 1, mask]
    else:
        exps = sorted({1, 2, 3, fmt.bias - 2, fmt.bias - 1, fmt.bias, fmt.bias + 1, fmt.bias + 2,
                       emax - 3, emax - 2, emax - 1} | set(range(1, emax, 9)))
        fr_normal = [0, 1, mask]
    mags = {0, 1, 2, 3, mask, mask - 1, 1 << (m - 1)}  # zero and subnormals
    mags |= {_pat(fmt, 0, e, f) for e in exps for f in fr_normal}
    mags |= {_pat(fmt, 0, e, f) for e in (1, fmt.bias, emax - 1) for f in fracs}
    mags |= {fmt.inf, fmt.nan, fmt.inf | 1, fmt.inf | mask, fmt.nan | 1}  # inf, qNaN, sNaN
    mags = sorted(mags)
    return np.array(mags + [x | fmt.sign_bit for x in mags], dtype=np.int64)


def structured_random(fmt: Format, n: int, rng: np.random.Generator, exp_lo=0, exp_hi=None):
    """Random operands whose fields favour boundaries: fractions all ones, zero, one, sparse."""
    m = fmt.man_bits
    exp_hi = fmt.exp_max if exp_hi is None else exp_hi
    sign = rng.integers(0, 2, n)
    exp = rng.integers(exp_lo, exp_hi + 1, n)
    kind = rng.integers(0, 6, n)
    rnd = rng.integers(0, 1 << m, n)
    low_zero = rnd & ~((1 << rng.integers(0, m + 1, n)) - 1)
    frac = np.select([kind == 0, kind == 1, kind == 2, kind == 3, kind == 4],
                     [rnd, (1 << m) - 1, np.zeros(n, np.int64), np.ones(n, np.int64), low_zero],
                     (1 << m) - 1 - low_zero)
    return (sign << (fmt.width - 1)) | (exp << m) | frac


def uniform_random(fmt: Format, n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniformly random bit patterns."""
    return rng.integers(0, 1 << fmt.width, n, dtype=np.int64)


def _targeted_add(fmt: Format, rng, n):
    """Cancellation, carries into the exponent, exact ties and overflow for ``a + b``."""
    m, p = fmt.man_bits, fmt.man_bits + 1
    a = structured_random(fmt, n, rng, 1, fmt.exp_max - 1)
    ea = (a >> m) & fmt.exp_max
    out = []
    # cancellation: b = -(a +- a few ulps), and b = -a
    for delta in (0, 1, -1, 2, 3):
        b = np.clip((a & (fmt.sign_bit - 1)) + delta, 0, fmt.inf - 1) | ((~a) & fmt.sign_bit)
        out.append((a, b))
    # ties and near ties: b at half an ulp of a (a power of two, or with one extra low bit)
    for shift in (p, p + 1, p - 1):
        eb = ea - shift
        ok = eb >= 1
        for frac in (0, 1, (1 << m) - 1):
            b = (rng.integers(0, 2, n) << (fmt.width - 1)) | (np.maximum(eb, 1) << m) | frac
            out.append((a[ok], b[ok]))
    # carries: all-ones fraction plus small same-sign values
    c = (a & ~((1 << m) - 1)) | ((1 << m) - 1)
    out.append((c, (c & fmt.sign_bit) | structured_random(fmt, n, rng, 1, fmt.exp_max - 1) & (fmt.sign_bit - 1)))
    # overflow threshold: the largest normals with each other and with half-ulp values
    big = _pat(fmt, 0, fmt.exp_max - 1, (1 << m) - 1)
    for b in (big, _pat(fmt, 0, fmt.exp_max - 1 - p, 0), _pat(fmt, 0, fmt.exp_max - 1 - p, 1),
              _pat(fmt, 0, fmt.exp_max - 2 - p, (1 << m) - 1)):
        out.append((np.array([big, big | fmt.sign_bit]), np.array([b, b | fmt.sign_bit])))
    return out


def _targeted_mul(fmt: Format, rng, n):
    """Underflow and overflow thresholds, exact ties and results at the smallest normal."""
    m, p, bias = fmt.man_bits, fmt.man_bits + 1, fmt.bias
    out = []
    # exponents summing to the edges of the range (below, at and above the normal range)
    for target in list(range(-p - 3, 4)) + list(range(fmt.exp_max - 3, fmt.exp_max + 2)):
        ea = rng.integers(1, fmt.exp_max, n)
        eb = target + bias - ea
        ok = (eb >= 0) & (eb < fmt.exp_max)
        a = structured_random(fmt, n, rng) & ~(fmt.exp_max << m) | (ea << m)
        b = structured_random(fmt, n, rng) & ~(fmt.exp_max << m) | (np.clip(eb, 0, fmt.exp_max) << m)
        out.append((a[ok], b[ok]))
    # products whose exact value is a tie: significands (odd * 2**k) chosen until guard=1, rest 0
    ga = rng.integers(1 << m, 2 << m, 50 * n)
    gb = rng.integers(1 << m, 2 << m, 50 * n)
    prod = ga * gb
    top = prod >> (2 * m + 1)
    shift = m + top  # bits below the kept p bits
    tie = (prod & ((1 << shift) - 1)) == (1 << (shift - 1))
    ga, gb = ga[tie][:n], gb[tie][:n]
    k = len(ga)
    ea = rng.integers(bias - 3, bias + 4, k)
    a = (rng.integers(0, 2, k) << (fmt.width - 1)) | (ea << m) | (ga & ((1 << m) - 1))
    b = (rng.integers(0, 2, k) << (fmt.width - 1)) | (np.full(k, bias) << m) | (gb & ((1 << m) - 1))
    out.append((a, b))
    # the smallest normal times values just below 1: lands one binade below the normals
    below_one = np.array([_pat(fmt, 0, bias - 1, (1 << m) - j) for j in range(1, 5)] + [_pat(fmt, 0, bias, 0)])
    mn = np.array([fmt.min_normal, fmt.min_normal + 1, fmt.min_normal | fmt.sign_bit])
    aa, bb = np.meshgrid(mn, below_one)
    out.append((aa.ravel(), bb.ravel()))
    return out


def conformance_pairs(fmt: Format, op: str, seed: int = 0, n_random: int = 20000):
    """Operand pairs for ``op`` ("add", "sub", "mul"): all special pairs, targeted and random."""
    rng = np.random.default_rng([seed, fmt.width, fmt.man_bits, ["add", "sub", "mul"].index(op)])
    s = special_operands(fmt)
    a, b = np.meshgrid(s, s)
    parts = [(a.ravel(), b.ravel())]
    targeted = _targeted_mul(fmt, rng, 400) if op == "mul" else _targeted_add(fmt, rng, 400)
    if op == "sub":  # the same situations with b negated
        targeted = [(x, y ^ fmt.sign_bit) for x, y in targeted]
    parts += targeted
    parts.append((structured_random(fmt, n_random, rng), structured_random(fmt, n_random, rng)))
    parts.append((uniform_random(fmt, n_random, rng), uniform_random(fmt, n_random, rng)))
    return (np.concatenate([np.asarray(x, np.int64) for x, _ in parts]),
            np.concatenate([np.asarray(y, np.int64) for _, y in parts]))


def int_cases(fmt: Format, width: int, signed: bool, seed: int = 0, n_random: int = 20000):
    """Integers of ``width`` bits: extremes, powers of two and neighbours, rounding ties of
    ``fmt``, the overflow threshold, and random values of every bit length."""
    rng = np.random.default_rng([seed, fmt.width, width, int(signed)])
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    p = fmt.man_bits + 1
    vals = {0, 1, lo, hi, lo + 1, hi - 1}
    for k in range(width + 1):
        for d in (-1, 0, 1):
            vals.add((1 << k) + d)
        for g in range(max(0, k - p - 1), k):  # ties and neighbours at every rounding position
            for d in (-1, 0, 1):
                vals.add((1 << k) + (1 << g) + d)
                vals.add((1 << k) + (3 << g) + d if g + 2 <= k else 0)
    big = fmt.inf - 1  # largest finite magnitude and the overflow threshold around it
    mx = (big >> fmt.man_bits) - fmt.bias - fmt.man_bits
    if mx < 64:
        top = ((1 << p) - 1) << mx
        for d in (-1, 0, 1):
            vals |= {top + d, top + (1 << max(mx - 1, 0)) + d}
    vals |= {-v for v in list(vals)}
    fixed = np.array(sorted(v for v in vals if lo <= v <= hi), dtype=object)
    lengths = rng.integers(0, width + 1, n_random)
    rand = [int(rng.integers(0, 1 << 62)) << 2 | int(rng.integers(0, 4)) for _ in range(n_random)]
    rand = [r & ((1 << int(k)) - 1) for r, k in zip(rand, lengths)]
    if signed:
        rand = [r - (1 << (width - 1)) if r >= (1 << (width - 1)) else r for r in rand]
        rand = [-r if rng.integers(0, 2) and -r >= lo else r for r in rand]
    allv = list(fixed) + rand
    return np.array(allv, dtype=np.int64 if signed or width < 64 else np.uint64)


# -- references ------------------------------------------------------------------------------

_SF = {16: (sf.Float16, "f16"), 32: (sf.Float32, "f32")}


def _sf_call(fmt: Format, name: str, *ops):
    if fmt == BF16:
        to32 = [sf.bf16_to_f32(sf.BFloat16.from_bytes(int(x).to_bytes(2, "big"))) for x in ops]
        r = getattr(sf, f"f32_{name}")(*to32)
        return int.from_bytes(sf.f32_to_bf16(r).to_bytes(), "big")
    cls, pre = _SF[fmt.width]
    nb = fmt.width // 8
    args = [cls.from_bytes(int(x).to_bytes(nb, "big")) for x in ops]
    return int.from_bytes(getattr(sf, f"{pre}_{name}")(*args).to_bytes(), "big")


def softfloat(op: str, a, b, fmt: Format) -> np.ndarray:
    """Berkeley SoftFloat's ``a op b`` (op: "add", "sub", "mul"), round-to-nearest-even."""
    if fmt not in (FP16, BF16, FP32):
        raise ValueError(f"no SoftFloat reference for {fmt}")
    sf.set_rounding_mode(sf.RoundingMode.NEAR_EVEN)
    return np.array([_sf_call(fmt, op, x, y) for x, y in zip(a.tolist(), b.tolist())], dtype=np.int64)


def softfloat_from_int(x, width: int, signed: bool, fmt: Format) -> np.ndarray:
    """SoftFloat's integer conversion (``i64_to_*``/``ui64_to_*``); BF16 via :func:`exact_round`."""
    sf.set_rounding_mode(sf.RoundingMode.NEAR_EVEN)
    out = []
    for v in x.tolist():
        if fmt == BF16:
            out.append(exact_round(Fraction(v), fmt))
            continue
        conv = getattr(sf, f"{'i' if signed else 'ui'}64_to_{'f16' if fmt == FP16 else 'f32'}")
        arg = sf.Int64.from_int(v) if signed else sf.UInt64.from_int(v)
        out.append(int.from_bytes(conv(arg).to_bytes(), "big"))
    return np.array(out, dtype=np.int64)


def to_fraction(x: int, fmt: Format):
    """Exact value of a finite pattern as a Fraction (None for inf/NaN)."""
    m = fmt.man_bits
    s, e, f = x >> (fmt.width - 1), (x >> m) & fmt.exp_max, x & ((1 << m) - 1)
    if e == fmt.exp_max:
        return None
    v = Fraction(f if e == 0 else f | (1 << m)) * Fraction(2) ** (max(e, 1) - fmt.bias - m)
    return -v if s else v


def exact_round(v: Fraction, fmt: Format, negative_zero: bool = False) -> int:
    """Round an exact rational to ``fmt`` by the definition of round-to-nearest-even."""
    sign = 1 if v < 0 or (v == 0 and negative_zero) else 0
    v = abs(v)
    m, emin = fmt.man_bits, 1 - fmt.bias
    if v == 0:
        return sign << (fmt.width - 1)
    e = v.numerator.bit_length() - v.denominator.bit_length()
    while Fraction(2) ** e > v:
        e -= 1
    while Fraction(2) ** (e + 1) <= v:
        e += 1
    e = max(e, emin)
    ulp = Fraction(2) ** (e - m)
    q, r = divmod(v, ulp)
    q = int(q)
    if r > ulp / 2 or (r == ulp / 2 and q & 1):
        q += 1
    bits = ((e - emin) << m) + q  # q includes the hidden bit for normals; carries roll over
    return (sign << (fmt.width - 1)) | min(bits, fmt.inf)


def is_subnormal(x, fmt: Format) -> np.ndarray:
    """True for non-zero patterns with a zero exponent field."""
    x = np.asarray(x, np.int64)
    return (((x >> fmt.man_bits) & fmt.exp_max) == 0) & ((x & ((1 << fmt.man_bits) - 1)) != 0)


def flush(x, fmt: Format) -> np.ndarray:
    """Replace subnormal patterns by the zero of their sign (the lean mode's flush)."""
    x = np.asarray(x, np.int64)
    return np.where(is_subnormal(x, fmt), x & fmt.sign_bit, x)


FORMATS = [FP16, BF16, FP32]
