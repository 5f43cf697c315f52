"""Building blocks shared by the floating-point units: parameters, pipelining, unpacking, rounding.

Every unit is combinational logic cut into segments at a few *cut points*; :class:`Pipeline`
places the unit's ``stages`` register slices at those cut points (the last cut point is the
output), with the ``valid`` bit travelling alongside the data.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.utils import bits_for, ceil_log2

from dysta_sw.errors import DystaInputError
from dysta_sw.fp import Format, check_mode, get_format

__all__ = ["FPUnit", "Pipeline", "Unpacked", "bind", "unpack", "lzc", "round_normal", "check_stages",
           "check_width", "const_inf", "const_zero", "const_nan"]


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
    """

    def __init__(self, signature, *, fmt, mode, stages):
        self.fmt: Format = get_format(fmt)
        self.mode: str = check_mode(mode)
        self.stages: int = check_stages(stages)
        super().__init__(signature)

    @property
    def latency(self) -> int:
        return self.stages


def _spread(stages: int, weights: list[float]) -> list[int]:
    """Registers at each cut point: one at the output, the rest balanced over internal cuts.

    ``weights[k]`` estimates the logic depth of segment ``k`` (before cut ``k``). Stages beyond
    one per cut point all go to the output.
    """
    n = len(weights)
    counts = [0] * n
    if stages == 0:
        return counts
    internal = min(stages - 1, n - 1)
    counts[-1] = stages - internal
    total = sum(weights)
    cum = [sum(weights[:k + 1]) for k in range(n - 1)]
    last = -1
    for j in range(1, internal + 1):
        target = total * j / (internal + 1)
        # the nearest cut after the previous one, leaving room for the remaining registers
        lo, hi = last + 1, n - 1 - (internal - j)
        best = min(range(lo, hi), key=lambda k: abs(cum[k] - target))
        counts[best] += 1
        last = best
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

    A balanced tree: each level merges the counts of two halves, so the depth is logarithmic.
    """
    width = len(v)
    size = 1 << ceil_log2(max(width, 1))
    bits = [v[width - 1 - i] if i < width else Const(1) for i in range(size)]  # MSB first

    def tree(lo: int, n: int):
        if n == 1:
            return ~bits[lo], Const(0, 0)  # (all zero, count below this level)
        hz, hc = tree(lo, n // 2)
        lz, lc = tree(lo + n // 2, n // 2)
        zero = bind(m, hz & lz, f"{name}_z{lo}_{n}")
        return zero, bind(m, Cat(Mux(hz, lc, hc), hz), f"{name}_c{lo}_{n}")

    zero, count = tree(0, size)
    if size > width:  # a zero v reaches the padding's first one: exactly width zeros
        return bind(m, count[:bits_for(width)], name)
    return bind(m, Mux(zero, width, count), name)


def round_normal(mod: Module, sign, field, kept, guard, sticky, fmt: Format):
    """Round to nearest even and encode, for results whose exponent field ``field`` >= 0.

    ``kept`` holds the ``man_bits + 1`` significand bits with the hidden bit on top (0 for an
    IEEE subnormal, whose ``field`` must then be 0); ``guard`` and ``sticky`` are the rest.
    ``field`` is unsigned and may exceed the format's range. Returns ``(bits, overflow)``:
    the encoded pattern, valid unless ``overflow`` says the result is an infinity.
    """
    m, e = fmt.man_bits, fmt.exp_bits
    up = guard & (sticky | kept[0])
    # a carry out of the fraction increments the exponent field, as the encoding wants
    r = bind(mod, Cat(kept[:m], field) + up, "rounded")
    over = r[m + e:].any() | r[m:m + e].all()
    return Cat(r[:m + e], sign), over


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

