"""Golden model of the scheduler's floating-point hardware, on integer bit patterns.

Every function takes and returns numpy arrays of *bit patterns* (unsigned integers of the
format's width), vectorised over any shape, and computes exactly what the gateware of
``dysta_hw.fp`` computes: the hardware is what this module describes.

Formats
    :class:`Format` describes a binary interchange-style format by its exponent and mantissa
    (stored fraction) widths; :data:`FP16` (5, 10), :data:`BF16` (8, 7) and :data:`FP32` (8, 23)
    are predefined and every function also accepts their names (``"fp16"``, ``"bf16"``,
    ``"fp32"``).

Modes
    ``"ieee"``
        IEEE 754 arithmetic with subnormals and round-to-nearest-even: ``add``, ``sub``, ``mul``,
        ``from_int`` and ``from_float`` are bit-for-bit Berkeley SoftFloat 3e (RISC-V
        specialisation, which returns the canonical NaN).
    ``"lean"``
        Subnormals are flushed to zero on input and on output, which saves the hardware its
        denormalisation shifters: ``op_lean(a, b) == ftz(op_ieee(daz(a), daz(b)))``, where
        ``daz`` replaces a subnormal operand by the zero of its sign and ``ftz`` replaces a
        subnormal *result* (after IEEE rounding) by the zero of its sign. Normal results are
        untouched, so a tiny exact result that IEEE rounding carries up to the smallest normal
        stays that normal. There is no other difference from ``"ieee"``. Integer conversion
        never produces a subnormal, so ``from_int`` is the same in both modes.

Special values (both modes)
    Every NaN an operation returns is the canonical quiet NaN of the format: sign 0, exponent
    all ones, only the most significant fraction bit set (``0x7E00`` for FP16, ``0x7FC0`` for
    BF16, ``0x7FC00000`` for FP32). NaN payloads and signalling NaNs are not distinguished: any
    NaN operand gives the canonical NaN, as do ``inf - inf`` and ``0 * inf``. Overflow rounds
    to the infinity of the result's sign (round-to-nearest-even). No exception flags are kept.

Comparison
    :func:`lt_total` orders numbers by IEEE 754 ``totalOrder`` (so ``-0 < +0``) and puts every
    NaN above ``+inf``, all NaNs equal: NaN never wins an :func:`argmin` against a number.
    :func:`minimum` returns ``a`` when ``a < b`` and ``b`` otherwise (so the running minimum of a
    scan belongs in ``b`` to keep the first of equal values), with a NaN result canonical and,
    in lean mode, a subnormal operand flushed. :func:`clamp0` is ``max(x, +0)``: negative
    numbers (``-0`` and ``-inf`` included) give ``+0``, a NaN gives the canonical NaN.

The implementation is integer arithmetic on ``int64`` lanes, processed in cache-sized blocks;
it needs numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DystaInputError

__all__ = [
    "Format", "FP16", "BF16", "FP32", "FORMATS", "MODES", "get_format", "check_mode",
    "add", "sub", "mul", "from_int", "from_float", "to_float", "clamp0", "relu",
    "lt_total", "minimum", "argmin", "is_nan", "daz",
]

MODES = ("ieee", "lean")

_BLOCK = 1 << 15  # elements per block: keeps a dozen int64 temporaries inside the L2 cache


@dataclass(frozen=True)
class Format:
    """A binary floating-point format: sign, ``exp_bits`` exponent bits, ``man_bits`` fraction bits.

    Attributes
    ----------
    name : str
        Short name (``"fp16"``), used in reports and by :func:`get_format`.
    exp_bits : int
        Width of the biased exponent field, 2 to 10.
    man_bits : int
        Width of the stored fraction (mantissa without the hidden bit), 1 to 25, so that the
        exact product of two significands fits the model's int64 lanes.
    """

    name: str
    exp_bits: int
    man_bits: int

    def __post_init__(self):
        if not isinstance(self.exp_bits, int) or not 2 <= self.exp_bits <= 10:
            raise DystaInputError(f"Format exp_bits must be an integer from 2 to 10, not {self.exp_bits!r}")
        if not isinstance(self.man_bits, int) or not 1 <= self.man_bits <= 25:
            raise DystaInputError(f"Format man_bits must be an integer from 1 to 25, not {self.man_bits!r}")

    @property
    def width(self) -> int:
        """Total width in bits."""
        return 1 + self.exp_bits + self.man_bits

    @property
    def bias(self) -> int:
        """Exponent bias, ``2**(exp_bits-1) - 1``."""
        return (1 << (self.exp_bits - 1)) - 1

    @property
    def exp_max(self) -> int:
        """The all-ones exponent field of infinities and NaNs."""
        return (1 << self.exp_bits) - 1

    @property
    def sign_bit(self) -> int:
        """Mask of the sign bit."""
        return 1 << (self.width - 1)

    @property
    def inf(self) -> int:
        """Bit pattern of ``+inf``."""
        return self.exp_max << self.man_bits

    @property
    def nan(self) -> int:
        """Bit pattern of the canonical NaN (positive, quiet, payload 0)."""
        return self.inf | (1 << (self.man_bits - 1))

    @property
    def min_normal(self) -> int:
        """Bit pattern of the smallest positive normal number."""
        return 1 << self.man_bits

    @property
    def dtype(self) -> np.dtype:
        """The smallest numpy unsigned integer type that holds a bit pattern."""
        for t in (np.uint8, np.uint16, np.uint32, np.uint64):
            if np.iinfo(t).bits >= self.width:
                return np.dtype(t)
        raise AssertionError("unreachable: width <= 64")


FP16 = Format("fp16", 5, 10)
BF16 = Format("bf16", 8, 7)
FP32 = Format("fp32", 8, 23)
FORMATS = {f.name: f for f in (FP16, BF16, FP32)}


def get_format(fmt) -> Format:
    """Return the :class:`Format` ``fmt`` or the predefined format of that name (any case)."""
    if isinstance(fmt, Format):
        return fmt
    if isinstance(fmt, str) and fmt.lower() in FORMATS:
        return FORMATS[fmt.lower()]
    raise DystaInputError(
        f"unknown floating-point format fmt={fmt!r}; pass a Format or one of: {', '.join(FORMATS)}")


def check_mode(mode) -> str:
    """Return ``mode`` if it is one of :data:`MODES`, else raise :class:`ValueError`."""
    if mode not in MODES:
        raise DystaInputError(f"unknown floating-point mode={mode!r}; choose one of: {', '.join(MODES)}")
    return mode


# -- helpers on int64 lanes ------------------------------------------------------------------

def _bits_in(x, fmt: Format, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise DystaInputError(f"{name} must hold integer bit patterns, not dtype {a.dtype}")
    if a.size and (a.min() < 0 or int(a.max()) >> fmt.width):
        raise DystaInputError(f"{name} holds values outside the {fmt.width}-bit patterns of {fmt.name}")
    return a


def _bitlen(v: np.ndarray) -> np.ndarray:
    """Bit length of non-negative int64 values below 2**53 (exact: frexp of an exact float)."""
    return np.frexp(v.astype(np.float64))[1].astype(np.int64)


def _shr_sticky(v: np.ndarray, sh: np.ndarray) -> np.ndarray:
    """``v >> sh`` with the bits shifted out ORed into bit 0; ``0 <= sh <= 62``."""
    lost = v & ((np.int64(1) << sh) - 1)
    return (v >> sh) | (lost != 0)


def _normalise(sig: np.ndarray, be: np.ndarray, fmt: Format):
    """Put the leading one of ``sig`` (> 0, < 2**53) at bit ``man_bits + 2``; adjust ``be``."""
    top = fmt.man_bits + 2
    lead = _bitlen(sig) - 1
    right = np.clip(lead - top, 0, 62)
    left = np.clip(top - lead, 0, 62)
    return _shr_sticky(sig, right) << left, be + lead - top


def _round_pack(sign, be, sig, fmt: Format, mode: str) -> np.ndarray:
    """Round and encode ``(-1)**sign * sig * 2**(be - bias - man_bits - 2)``.

    ``sig`` has its leading one at bit ``man_bits + 2`` (the two bits below the kept
    significand are the guard bit and the sticky bit, which ORs everything below it); ``be``
    is the biased exponent of that leading one and may lie outside the format's range.
    """
    m = fmt.man_bits
    if mode == "ieee":
        # Denormalise tiny results so that rounding happens on the subnormal grid; a subnormal
        # is then encoded with be=1 and a hidden bit of 0, and ((be-1) << m) + keep gives its
        # pattern (a rounding carry into bit m makes it the smallest normal, as it should).
        sig = _shr_sticky(sig, np.clip(1 - be, 0, m + 4))
        be = np.maximum(be, 1)
    keep = sig >> 2
    up = (sig >> 1) & 1 & ((sig | keep) & 1)  # guard and (sticky or odd)
    bits = ((be - 1) << m) + keep + up  # a carry out of the fraction increments the exponent
    bits = np.where(bits >= fmt.inf, fmt.inf, bits)
    if mode == "lean":
        # ftz of the IEEE result: below the normal range only a value whose fraction is all
        # ones one binade down rounds (on the subnormal grid) up to the smallest normal.
        frac_ones = (keep & _mask(m)) == _mask(m)
        bits = np.where(be >= 1, bits, np.where((be == 0) & frac_ones, fmt.min_normal, 0))
    return bits | (sign << (fmt.width - 1))


def _mask(n: int) -> int:
    """``2**n - 1``."""
    return (1 << n) - 1


def _unpack(x: np.ndarray, fmt: Format, mode: str):
    """Split patterns into sign, exponent, significand with hidden bit, NaN and inf masks.

    The exponent of a zero or subnormal is 1 (its true binade). In lean mode a subnormal has a
    significand of 0, i.e. it is a zero of its sign.
    """
    m = fmt.man_bits
    s = x >> (fmt.width - 1)
    e = (x >> m) & fmt.exp_max
    f = x & _mask(m)
    nan = (e == fmt.exp_max) & (f != 0)
    inf = (e == fmt.exp_max) & (f == 0)
    normal = e != 0
    sig = np.where(normal, f | (1 << m), f if mode == "ieee" else 0)
    return s, np.maximum(e, 1), sig, nan, inf


def _blocked(fn, *arrays, out_dtype):
    """Apply ``fn`` to matching cache-sized blocks of the broadcast int64 ``arrays``."""
    arrays = np.broadcast_arrays(*arrays)
    shape = arrays[0].shape
    flat = [a.reshape(-1) for a in arrays]
    n = flat[0].size
    out = np.empty(n, dtype=out_dtype)
    for lo in range(0, n, _BLOCK):
        hi = min(n, lo + _BLOCK)
        out[lo:hi] = fn(*(a[lo:hi].astype(np.int64) for a in flat))
    return out.reshape(shape)[()]


# -- arithmetic ------------------------------------------------------------------------------

def _add_block(a, b, neg_b, fmt: Format, mode: str):
    m = fmt.man_bits
    b = b ^ (neg_b << (fmt.width - 1))
    mag = fmt.sign_bit - 1
    swap = (b & mag) > (a & mag)
    x, y = np.where(swap, b, a), np.where(swap, a, b)
    sx, ex, gx, nanx, infx = _unpack(x, fmt, mode)
    sy, ey, gy, nany, infy = _unpack(y, fmt, mode)
    # Three extra bits (guard, round, sticky) below the significands; |x| >= |y| so ex >= ey.
    sub_ = sx != sy
    al = _shr_sticky(gy << 3, np.minimum(ex - ey, m + 5))
    z = np.where(sub_, (gx << 3) - al, (gx << 3) + al)
    zero = z == 0
    # gx << 3 has its leading one at bit m + 3, one above where _round_pack wants it
    sig, be = _normalise(np.where(zero, 1, z), ex - 1, fmt)
    r = _round_pack(sx, be, sig, fmt, mode)
    r = np.where(zero, (sx & sy) << (fmt.width - 1), r)  # exact zero: -0 only for -0 + -0
    r = np.where(infx, x & ~_mask(m), r)  # |x| >= |y|: an infinite operand is x
    return np.where(nanx | nany | (infx & infy & sub_), fmt.nan, r)


def add(a, b, fmt=FP16, mode="ieee"):
    """``a + b`` of bit patterns ``a`` and ``b`` in format ``fmt``, rounded to nearest even.

    Arrays broadcast; the result is an array of ``fmt.dtype`` (a numpy scalar for scalars).
    """
    fmt, mode = get_format(fmt), check_mode(mode)
    a, b = _bits_in(a, fmt, "a"), _bits_in(b, fmt, "b")
    return _blocked(lambda x, y: _add_block(x, y, 0, fmt, mode), a, b, out_dtype=fmt.dtype)


def sub(a, b, fmt=FP16, mode="ieee"):
    """``a - b`` of bit patterns in format ``fmt`` (``a + (-b)``, any NaN canonical)."""
    fmt, mode = get_format(fmt), check_mode(mode)
    a, b = _bits_in(a, fmt, "a"), _bits_in(b, fmt, "b")
    return _blocked(lambda x, y: _add_block(x, y, 1, fmt, mode), a, b, out_dtype=fmt.dtype)


def _mul_block(a, b, fmt: Format, mode: str):
    m = fmt.man_bits
    sa, ea, ga, nana, infa = _unpack(a, fmt, mode)
    sb, eb, gb, nanb, infb = _unpack(b, fmt, mode)
    s = sa ^ sb
    p = ga * gb  # exact: at most 2 * 26 bits
    # the product of two hidden bits is bit 2m; _round_pack wants the leading one at m + 2
    sig, be = _normalise(np.where(p == 0, 1, p), ea + eb - fmt.bias - m + 2, fmt)
    zero = (ga == 0) | (gb == 0)
    r = _round_pack(s, be, sig, fmt, mode)
    r = np.where(zero, s << (fmt.width - 1), r)
    r = np.where(infa | infb, (s << (fmt.width - 1)) | fmt.inf, r)
    return np.where(nana | nanb | (infa & (gb == 0)) | (infb & (ga == 0)), fmt.nan, r)


def mul(a, b, fmt=FP16, mode="ieee"):
    """``a * b`` of bit patterns ``a`` and ``b`` in format ``fmt``, rounded to nearest even."""
    fmt, mode = get_format(fmt), check_mode(mode)
    a, b = _bits_in(a, fmt, "a"), _bits_in(b, fmt, "b")
    return _blocked(lambda x, y: _mul_block(x, y, fmt, mode), a, b, out_dtype=fmt.dtype)


def _check_width(width) -> int:
    if not isinstance(width, (int, np.integer)) or not 1 <= width <= 64:
        raise DystaInputError(f"integer width must be from 1 to 64 bits, not width={width!r}")
    return int(width)


def from_int(x, width, signed=False, fmt=FP16, mode="ieee"):
    """Convert integers of ``width`` bits (``signed`` two's complement or unsigned) to ``fmt``.

    ``x`` holds the integer *values*: ``0 <= x < 2**width`` when unsigned,
    ``-2**(width-1) <= x < 2**(width-1)`` when signed. Rounds to nearest even; values too large
    for the format give an infinity; 0 gives ``+0``. ``mode`` is accepted for uniformity and
    changes nothing (an integer is never subnormal).
    """
    fmt, mode, width = get_format(fmt), check_mode(mode), _check_width(width)
    v = np.asarray(x)
    if v.dtype.kind not in "iu":
        raise DystaInputError(f"from_int x must hold integers, not dtype {v.dtype}")
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    if v.size and (int(v.min()) < lo or int(v.max()) > hi):
        raise DystaInputError(
            f"from_int x holds values outside [{lo}, {hi}] of a {'signed' if signed else 'unsigned'} "
            f"{width}-bit integer; pass a wider width or signed=True")
    neg = (v < 0) if v.dtype.kind == "i" else np.zeros(v.shape, bool)
    if v.dtype.kind == "i":
        v64 = v.astype(np.int64)
        mag = np.where(neg, (-(v64 + 1)).astype(np.uint64) + np.uint64(1), v64.astype(np.uint64))
    else:
        mag = v.astype(np.uint64)
    return _blocked_u64(lambda s, u: _from_uint_block(s, u, fmt), neg.astype(np.int64), mag, fmt)


def _blocked_u64(fn, sign, mag, fmt: Format):
    shape = mag.shape
    sign, mag = sign.reshape(-1), mag.reshape(-1)
    out = np.empty(mag.size, dtype=fmt.dtype)
    for lo in range(0, mag.size, _BLOCK):
        hi = min(mag.size, lo + _BLOCK)
        out[lo:hi] = fn(sign[lo:hi], mag[lo:hi])
    return out.reshape(shape)[()]


def _from_uint_block(sign, u, fmt: Format):
    """Round unsigned 64-bit magnitudes ``u`` with signs ``sign`` to ``fmt``."""
    # Fold the low half into a sticky bit when the value needs more than 62 bits, so that the
    # rest is exact in int64 (the significand of any format needs at most 53 + 2 bits).
    big = u >= np.uint64(1 << 62)
    u = np.where(big, (u >> np.uint64(8)) | ((u & np.uint64(0xFF)) != 0), u)
    v = u.astype(np.int64)
    hi = v >> 31
    lead = np.where(hi > 0, _bitlen(hi) + 31, _bitlen(v & _mask(31))) - 1
    top = fmt.man_bits + 2
    sig = np.where(lead > top, _shr_sticky(v, np.clip(lead - top, 0, 62)), v << np.clip(top - lead, 0, 62))
    be = fmt.bias + lead + np.where(big, 8, 0)
    r = _round_pack(sign, be, np.where(v == 0, 1 << top, sig), fmt, "ieee")
    return np.where(v == 0, 0, r)


def from_float(x, fmt=FP16, mode="ieee"):
    """Round float64 values ``x`` to ``fmt`` bit patterns (nearest even; NaN -> canonical NaN).

    For the host side: look-up table entries and reciprocals enter the hardware through this.
    In lean mode a result that would be subnormal is flushed to the zero of its sign.
    """
    fmt, mode = get_format(fmt), check_mode(mode)
    v = np.asarray(x, dtype=np.float64)
    u = v.view(np.int64)

    def block(u):
        s = (u >> 63) & 1
        e = (u >> 52) & 0x7FF
        f = u & _mask(52)
        sig = np.where(e == 0, f, f | (1 << 52))
        nz = sig != 0
        sig2, be = _normalise(np.where(nz, sig, 1), np.maximum(e, 1) - 1023 + fmt.bias + 2 - 52 + fmt.man_bits, fmt)
        r = _round_pack(s, be, sig2, fmt, mode)
        r = np.where(nz, r, s << (fmt.width - 1))
        r = np.where(e == 0x7FF, np.where(f == 0, (s << (fmt.width - 1)) | fmt.inf, fmt.nan), r)
        return r

    return _blocked(block, u, out_dtype=fmt.dtype)


def to_float(x, fmt=FP16) -> np.ndarray:
    """The exact float64 values of bit patterns ``x`` of ``fmt`` (every NaN becomes ``nan``)."""
    fmt = get_format(fmt)
    a = _bits_in(x, fmt, "x").astype(np.int64)
    m = fmt.man_bits
    s, e, f = a >> (fmt.width - 1), (a >> m) & fmt.exp_max, a & _mask(m)
    mag = np.ldexp(np.where(e == 0, f, f | (1 << m)).astype(np.float64),
                   (np.maximum(e, 1) - fmt.bias - m).astype(np.int32))
    mag = np.where(e == fmt.exp_max, np.where(f == 0, np.inf, np.nan), mag)
    return np.where(s == 1, -mag, mag)[()]


# -- comparison and clamping -----------------------------------------------------------------

def is_nan(x, fmt=FP16) -> np.ndarray:
    """True where the bit pattern ``x`` is a NaN of ``fmt``."""
    fmt = get_format(fmt)
    a = _bits_in(x, fmt, "x").astype(np.int64)
    return ((a >> fmt.man_bits) & fmt.exp_max == fmt.exp_max) & ((a & _mask(fmt.man_bits)) != 0)


def daz(x, fmt=FP16, mode="lean") -> np.ndarray:
    """Lean-mode input flush: subnormals become the zero of their sign (identity in ieee mode)."""
    fmt, mode = get_format(fmt), check_mode(mode)
    a = _bits_in(x, fmt, "x")
    if mode == "ieee":
        return a.astype(fmt.dtype)
    a = a.astype(np.int64)
    return np.where((a >> fmt.man_bits) & fmt.exp_max == 0, a & fmt.sign_bit, a).astype(fmt.dtype)[()]


def _key(x, fmt: Format, mode: str) -> np.ndarray:
    """An unsigned key whose integer order is the total order of :func:`lt_total`."""
    a = daz(x, fmt, mode).astype(np.int64)
    key = np.where(a & fmt.sign_bit, ~a & _mask(fmt.width), a | fmt.sign_bit)
    return np.where(is_nan(a, fmt), _mask(fmt.width), key)


def lt_total(a, b, fmt=FP16, mode="ieee") -> np.ndarray:
    """``a < b`` in the total order ``-inf < ... < -0 < +0 < ... < +inf < NaN`` (NaNs all equal).

    In lean mode subnormals compare as the zero of their sign.
    """
    fmt, mode = get_format(fmt), check_mode(mode)
    return _key(a, fmt, mode) < _key(b, fmt, mode)


def minimum(a, b, fmt=FP16, mode="ieee") -> np.ndarray:
    """``a`` where ``lt_total(a, b)`` else ``b``; a NaN result is canonical, lean flushes subnormals."""
    fmt, mode = get_format(fmt), check_mode(mode)
    r = np.where(lt_total(a, b, fmt, mode), daz(a, fmt, mode), daz(b, fmt, mode))
    return np.where(is_nan(r, fmt), fmt.nan, r).astype(fmt.dtype)[()]


def argmin(x, axis=-1, fmt=FP16, mode="ieee") -> np.ndarray:
    """Index of the least element along ``axis`` in :func:`lt_total` order, the first on ties.

    A NaN is chosen only when every element is a NaN.
    """
    fmt, mode = get_format(fmt), check_mode(mode)
    return np.argmin(_key(x, fmt, mode), axis=axis)


def clamp0(x, fmt=FP16, mode="ieee") -> np.ndarray:
    """``max(x, +0)``: negative numbers (with ``-0`` and ``-inf``) give ``+0``, NaN the canonical NaN."""
    fmt, mode = get_format(fmt), check_mode(mode)
    a = daz(x, fmt, mode).astype(np.int64)
    r = np.where(a & fmt.sign_bit, 0, a)
    return np.where(is_nan(a, fmt), fmt.nan, r).astype(fmt.dtype)[()]


relu = clamp0
