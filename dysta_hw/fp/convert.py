"""Integer-to-floating-point converter."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.hdl import signed as signed_shape
from amaranth.lib import stream
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from dysta_sw.fp import get_format

from ._base import FPUnit, Pipeline, bind, check_width, const_inf, lzc, round_normal

__all__ = ["FPFromInt"]


class FPFromInt(FPUnit):
    """Convert a ``width``-bit integer to ``fmt``; bit-exact with :func:`dysta_sw.fp.from_int`.

    For time differences and counters. Rounds to nearest even, overflows to infinity, and 0
    gives ``+0``; both modes are the same circuit (an integer is never subnormal).

    Parameters
    ----------
    fmt : Format or str
        Number format.
    width : int
        Integer width, 1 to 64.
    signed : bool
        Two's-complement input (else unsigned).
    mode : str
        ``"ieee"`` or ``"lean"`` (accepted for uniformity).
    stages : int
        Register slices (latency in cycles); 0 is combinational. Up to 2 are placed inside the
        datapath (after normalisation, at the output); more go to the output.

    Attributes
    ----------
    i : In(stream.Signature(signed(width) or unsigned(width), always_ready=True))
        The integer, one per cycle when ``valid``.
    o : Out(stream.Signature(W, always_ready=True))
        The converted value, ``latency`` cycles later; ``W = fmt.width``.
    """

    def __init__(self, *, width, signed=False, fmt="fp16", mode="ieee", stages=0):
        self.width = check_width(width)
        self.signed = bool(signed)
        shape = signed_shape(width) if signed else unsigned(width)
        super().__init__({
            "i": In(stream.Signature(shape, always_ready=True)),
            "o": Out(stream.Signature(get_format(fmt).width, always_ready=True)),
        }, fmt=fmt, mode=mode, stages=stages)

    def elaborate(self, platform):
        m = Module()
        fmt, n_in = self.fmt, self.width
        e, mb = fmt.exp_bits, fmt.man_bits
        p = mb + 1
        pipe = Pipeline(m, self.stages, [4, 3], self.i.valid)

        # 1. magnitude and normalisation: leading one to the top bit
        x = self.i.payload
        sign = x[n_in - 1] if self.signed else Const(0)
        mag = Signal(n_in)
        m.d.comb += mag.eq(Mux(sign, -x, x))  # -(-2**(n-1)) is 2**(n-1): fits unsigned
        lz = lzc(m, mag)
        norm = bind(m, (mag << lz)[:n_in], "normalised")
        if n_in > p:
            kept, guard = norm[n_in - p:], norm[n_in - p - 1]
            sticky = norm[:n_in - p - 1].any() if n_in - p - 1 > 0 else Const(0)
        else:
            kept, guard, sticky = Cat(Const(0, p - n_in), norm), Const(0), Const(0)
        field = Signal(max(e + 1, bits_for(fmt.bias + n_in)))  # exponent of the leading one
        m.d.comb += field.eq(fmt.bias + n_in - 1 - lz)
        s = pipe.cut(kept=kept, guard=guard, sticky=sticky, field=field, sign=sign,
                     zero=~mag.any())

        # 2. round to nearest even
        bits, over = round_normal(m, s.sign, s.field, s.kept, s.guard, s.sticky, fmt)
        res = Signal(fmt.width)
        with m.If(s.zero):
            m.d.comb += res.eq(0)
        with m.Elif(over):
            m.d.comb += res.eq(const_inf(s.sign, fmt))
        with m.Else():
            m.d.comb += res.eq(bits)
        s = pipe.cut(res=res)
        m.d.comb += [self.o.payload.eq(s.res), self.o.valid.eq(pipe.valid)]
        return m
