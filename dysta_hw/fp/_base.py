"""Building blocks shared by the floating-point units: parameters, pipelining, unpacking, rounding.

Every unit is combinational logic cut into short segments at *cut points* (about one carry
chain, or two or three LUT levels, each); :class:`Pipeline` places the unit's ``stages``
register slices at the cut points that best balance the path (the last cut point is the output,
which is registered first), with the ``valid`` bit travelling alongside the data.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.utils import bits_for, ceil_log2

from dysta_sw.errors import DystaInputError
from dysta_sw.fp import Format, check_mode, get_format

__all__ = ["FPUnit", "Pipeline", "Unpacked", "bind", "unpack", "lzc", "lzc_nibbles", "lzc_merge", "round_flags",
           "round_encode", "check_stages", "check_width", "const_inf", "const_zero", "const_nan"]


def bind(m: Module, value, name: str) -> Signal:
    """A signal driven by ``value``.

    Naming an expression that is used more than once keeps it one net: the Python simulator
    inlines expressions at every use, so an unbound tree (a leading-zero count feeding a shift
    and an exponent) would be evaluated many times over.
    """
    sig = Signal.like(value, name=name)
    m.d.comb += sig.eq(value)
    return sig


def check_stages(stages) -> int:
    """Return ``stages`` if it is an integer >= 0, else raise :class:`ValueError`."""
    if not isinstance(stages, int) or isinstance(stages, bool) or stages < 0:
        raise DystaInputError(
            f"pipeline stages must be an integer >= 0 (0 = combinational), not stages={stages!r}")
    return stages


class FPUnit(wiring.Component):
    """Base of the floating-point units: holds the format, the mode and the pipeline depth.

    Parameters
    ----------
    fmt : Format or str
        Number format (``FP16``, ``BF16``, ``FP32`` or their names).
    mode : str
        ``"ieee"`` (subnormals, round-to-nearest-even) or ``"lean"`` (subnormals flushed to zero
        on input and output), exactly as in :mod:`dysta_sw.fp`.
    stages : int
        Register slices in the datapath; 0 is combinational.

    Attributes
    ----------
    latency : int
        Cycles from ``i.valid`` to the matching ``o.valid``; equal to ``stages``.
    cut_points : int
        Places in the datapath a register slice can go (the output included).
    """

    def __init__(self, signature, *, fmt, mode, stages):
        self.fmt: Format = get_format(fmt)
        self.mode: str = check_mode(mode)
        self.stages: int = check_stages(stages)
        super().__init__(signature)

    @property
    def latency(self) -> int:
        return self.stages

    @property
    def cut_points(self) -> int:
        """Places a register slice can go, the output included; stages beyond this number all
        go to the output (they add latency, not speed)."""
        return len(self.weights())

    def weights(self) -> list[float]:
        """Estimated delay of each segment of the datapath, in LUT levels (a carry chain counts
        about 2); :class:`Pipeline` places the registers by them."""
        raise NotImplementedError


def _spread(stages: int, weights: list[float]) -> list[int]:
    """Registers at each cut point: one at the output, the rest where they best balance the path.

    ``weights[k]`` estimates the delay of segment ``k`` (the logic before cut ``k``; the last cut
    is the output), in LUT levels. With ``stages`` registers the datapath becomes ``stages``
    groups of consecutive segments; the internal registers go to the cuts that minimise the
    heaviest group (ties: the earliest cuts). Stages beyond one per cut point all go to the output.
    """
    n = len(weights)
    counts = [0] * n
    if stages == 0:
        return counts
    groups = min(stages, n)
    counts[-1] = stages - groups + 1
    prefix = [0.0]
    for w in weights:
        prefix.append(prefix[-1] + w)
    # best[g][k]: the least heaviest group splitting segments 0..k-1 into g groups; cut[g][k] the
    # start of the last group
    inf = float("inf")
    best = [[inf] * (n + 1) for _ in range(groups + 1)]
    cut = [[0] * (n + 1) for _ in range(groups + 1)]
    best[0][0] = 0.0
    for g in range(1, groups + 1):
        for k in range(g, n + 1):
            for j in range(g - 1, k):
                cost = max(best[g - 1][j], prefix[k] - prefix[j])
                if cost < best[g][k] - 1e-9:
                    best[g][k], cut[g][k] = cost, j
    k = n
    for g in range(groups, 1, -1):
        k = cut[g][k]
        counts[k - 1] += 1
    return counts


class Pipeline:
    """Places register slices at the cut points of a datapath built in ``m``.

    Parameters
    ----------
    m : Module
        The module the datapath is built in.
    stages : int
        Number of register slices.
    weights : list of float
        Estimated logic depth of each segment; one cut point follows each segment, the last
        being the output.
    valid : Value
        The ``valid`` bit entering the datapath.
    """

    def __init__(self, m: Module, stages: int, weights, valid):
        self._m = m
        self._counts = _spread(stages, list(weights))
        self._cut = 0
        self.valid = valid

    def cut(self, **signals) -> SimpleNamespace:
        """Pass ``signals`` across the next cut point, through its registers if it has any."""
        if self._cut >= len(self._counts):
            raise AssertionError("more cut points used than weights given")
        for rep in range(self._counts[self._cut]):
            tag = f"c{self._cut}r{rep}"
            regs = {}
            for name, value in signals.items():
                reg = Signal.like(value, name=f"{name}_{tag}", reset_less=True)
                self._m.d.sync += reg.eq(value)
                regs[name] = reg
            valid = Signal(name=f"valid_{tag}")
            self._m.d.sync += valid.eq(self.valid)
            signals, self.valid = regs, valid
        self._cut += 1
        return SimpleNamespace(**signals)


class Unpacked(SimpleNamespace):
    """Fields of an operand: ``sign``, ``exp`` (0 read as 1), ``sig`` (with hidden bit),
    ``normal`` (exponent field non-zero), ``zero`` (zero, or subnormal in lean mode),
    ``inf`` and ``nan``."""


def unpack(m: Module, x, fmt: Format, mode: str) -> Unpacked:
    """Split bit pattern ``x`` into :class:`Unpacked` fields.

    In IEEE mode a subnormal keeps its fraction with a hidden bit of 0 and exponent 1; in lean
    mode a subnormal is a zero, so its significand is forced to 0.
    """
    e = x[fmt.man_bits:fmt.man_bits + fmt.exp_bits]
    f = x[:fmt.man_bits]
    normal = bind(m, e.any(), "normal")
    e_max = bind(m, e.all(), "e_max")
    f_any = bind(m, f.any(), "f_any")
    if mode == "ieee":
        sig = Cat(f, normal)
        zero = ~normal & ~f_any
    else:
        sig = Cat(Mux(normal, f, 0), normal)
        zero = ~normal
    return Unpacked(
        sign=x[fmt.width - 1], exp=Cat(e[0] | ~normal, e[1:]), sig=sig, normal=normal,
        zero=zero, inf=e_max & ~f_any, nan=e_max & f_any)


def lzc(m: Module, v, name: str = "lzc"):
    """Leading-zero count of ``v``, built in ``m``; ``len(v)`` when ``v`` is zero.

    :func:`lzc_nibbles` then :func:`lzc_merge`; a unit may register the nibbles' counts between.
    """
    return lzc_merge(m, lzc_nibbles(m, v, name), len(v), name)


def lzc_nibbles(m: Module, v, name: str = "lzc"):
    """First level of a leading-zero count: for each nibble of ``v`` (from the top; the last one
    padded with ones), 3 bits: its count (2 bits, 3 if zero) and whether it is zero. One LUT
    level."""
    width = len(v)
    size = max(4, 1 << ceil_log2(max(width, 1)))
    bits = [v[width - 1 - i] if i < width else Const(1) for i in range(size)]  # MSB first
    out = []
    for g in range(size // 4):
        b = bits[4 * g:4 * g + 4]
        count = Mux(b[0], 0, Mux(b[1], 1, Mux(b[2], 2, 3)))
        out.append(Cat(count[:2], ~(b[0] | b[1] | b[2] | b[3])))
    return bind(m, Cat(*out), f"{name}_nibbles")


def lzc_merge(m: Module, nibbles, width: int, name: str = "lzc"):
    """The leading-zero count of a ``width``-bit value from its :func:`lzc_nibbles`: a balanced
    tree, each level merging the counts of two halves."""
    n = len(nibbles) // 3
    size = 4 * n

    def tree(lo: int, k: int):
        if k == 1:
            leaf = nibbles[3 * lo:3 * lo + 3]
            return leaf[2], leaf[:2]
        hz, hc = tree(lo, k // 2)
        lz, lc = tree(lo + k // 2, k // 2)
        zero = bind(m, hz & lz, f"{name}_z{lo}_{k}")
        return zero, bind(m, Cat(Mux(hz, lc, hc), hz), f"{name}_c{lo}_{k}")

    zero, count = tree(0, n)
    if size > width:  # a zero v reaches the padding's first one: exactly width zeros
        return bind(m, count[:bits_for(width)], name)
    return bind(m, Mux(zero, width, count), name)


def round_flags(mod: Module, field, kept, guard, sticky, fmt: Format, *, at_max=None, below_max=None):
    """Round to nearest even, part one: the decision, ahead of the carry chain.

    ``kept`` holds the ``man_bits + 1`` significand bits with the hidden bit on top (0 for an
    IEEE subnormal, whose ``field`` must then be 0); ``guard`` and ``sticky`` are the rest;
    ``field`` (the exponent field, >= 0) is unsigned and may exceed the format's range.
    Returns ``(up, over)``: round the significand up (nearest even), and the rounded result
    overflows to infinity. ``over`` is found from ``field`` and ``kept`` rather than from the
    rounded sum, so that :func:`round_encode` is a carry chain and nothing after it. A unit that
    knows ``field >= exp_max`` (``at_max``) and ``field == exp_max - 1`` (``below_max``) sooner
    than ``field`` itself may pass them.
    """
    mb, emax = fmt.man_bits, fmt.exp_max
    up = bind(mod, guard & (sticky | kept[0]), "round_up")
    carry = up & kept[:mb].all()  # rounding carries into the exponent field
    at_max = field >= emax if at_max is None else at_max
    below_max = field == emax - 1 if below_max is None else below_max
    over = bind(mod, at_max | (below_max & carry), "round_over")
    return up, over


def round_encode(mod: Module, sign, field, kept, up, fmt: Format):
    """Round to nearest even, part two: the encoding of a finite result rounded by ``up`` (see
    :func:`round_flags`), one carry chain over the fraction and the exponent field, whose carry
    out of the fraction increments the exponent as the encoding wants."""
    mb, e = fmt.man_bits, fmt.exp_bits
    r = bind(mod, Cat(kept[:mb], field[:e]) + up, "rounded")
    return Cat(r[:mb + e], sign)


def const_inf(sign, fmt: Format):
    """The infinity of ``sign``."""
    return Cat(Const(0, fmt.man_bits), Const(fmt.exp_max, fmt.exp_bits), sign)


def const_zero(sign, fmt: Format):
    """The zero of ``sign``."""
    return Cat(Const(0, fmt.width - 1), sign)


def const_nan(fmt: Format):
    """The canonical NaN."""
    return Const(fmt.nan, fmt.width)


def check_width(width) -> int:
    """Return ``width`` if it is an integer from 1 to 64, else raise :class:`ValueError`."""
    if not isinstance(width, int) or isinstance(width, bool) or not 1 <= width <= 64:
        raise DystaInputError(f"integer width must be from 1 to 64 bits, not width={width!r}")
    return width

