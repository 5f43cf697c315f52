"""Floating-point adder/subtractor."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from dysta_sw.fp import get_format

from ._base import FPUnit, Pipeline, bind, const_inf, const_nan, const_zero, lzc, round_normal, unpack

__all__ = ["FPAdd"]


class FPAdd(FPUnit):
    """``a + b`` or, with ``sub`` set, ``a - b``; bit-exact with :func:`dysta_sw.fp.add`/``sub``.

    A single-path adder: the operands are ordered by magnitude, the smaller is aligned with
    guard, round and sticky bits, one adder adds or subtracts, a leading-zero count normalises
    (after a carry, after cancellation, and down to the subnormal range in IEEE mode) and the
    result is rounded to nearest even. In lean mode the sum of two normal numbers below the
    normal range is exact, so flushing it needs no rounding logic at all.

    Parameters
    ----------
    fmt : Format or str
        Number format.
    mode : str
        ``"ieee"`` or ``"lean"``.
    stages : int
        Register slices (latency in cycles); 0 is combinational. Up to 4 are placed inside the
        datapath (after the swap, the addition, the normalisation, and at the output); more go
        to the output.

    Attributes
    ----------
    i : In(stream.Signature(StructLayout({"a": W, "b": W, "sub": 1}), always_ready=True))
        Operands, one per cycle when ``valid``; ``W = fmt.width``.
    o : Out(stream.Signature(W, always_ready=True))
        The result, ``latency`` cycles later.
    """

    def __init__(self, *, fmt="fp16", mode="ieee", stages=0):
        w = get_format(fmt).width
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({"a": w, "b": w, "sub": 1}), always_ready=True)),
            "o": Out(stream.Signature(w, always_ready=True)),
        }, fmt=fmt, mode=mode, stages=stages)

    def elaborate(self, platform):
        m = Module()
        fmt, ieee = self.fmt, self.mode == "ieee"
        w, e, mb = fmt.width, fmt.exp_bits, fmt.man_bits
        p = mb + 1
        pipe = Pipeline(m, self.stages, [3, 4, 4, 3], self.i.valid)

        # 1. order by magnitude: x is the larger, so its exponent and sign lead
        a, b = self.i.payload.a, self.i.payload.b
        b = Cat(b[:w - 1], b[w - 1] ^ self.i.payload.sub)
        swap = b[:w - 1] > a[:w - 1]
        x, y = Signal(w), Signal(w)
        m.d.comb += [x.eq(Mux(swap, b, a)), y.eq(Mux(swap, a, b))]
        ux, uy = unpack(m, x, fmt, self.mode), unpack(m, y, fmt, self.mode)
        eff_sub = bind(m, ux.sign ^ uy.sign, "eff_sub")
        # |x| >= |y| as bit patterns: a NaN y makes x a NaN, an infinite y makes x infinite
        s = pipe.cut(sx=ux.sign, sy=uy.sign, ex=ux.exp, gx=ux.sig, gy=uy.sig,
                     d=(ux.exp - uy.exp)[:e], eff_sub=eff_sub,
                     nan=ux.nan | (ux.inf & uy.inf & eff_sub), inf=ux.inf)

        # 2. align y below x with guard, round and sticky bits, then add or subtract
        al = bind(m, Cat(Const(0, 3), s.gy) >> s.d, "aligned")
        sticky = Cat(*[s.gy[k] & (s.d > k + 3) for k in range(p)]).any()
        al = Cat(al[0] | sticky, al[1:])
        total = bind(m, Cat(Const(0, 3), s.gx) + (al ^ s.eff_sub.replicate(p + 3)) + s.eff_sub, "total")
        z = bind(m, Cat(total[:p + 3], total[p + 3] & ~s.eff_sub), "z")  # drop a subtraction's carry
        s = pipe.cut(z=z, sx=s.sx, sy=s.sy, ex=s.ex, nan=s.nan, inf=s.inf)

        # 3. normalise: leading one to bit p+3; IEEE stops at the subnormal exponent
        lz = lzc(m, s.z)
        if ieee:
            sh = bind(m, Mux(lz > s.ex, s.ex, lz), "shift")
            be = (s.ex + 1 - sh)[:e + 1]
        else:
            sh = lz
            be = Signal(signed(e + 2))
            m.d.comb += be.eq(s.ex + 1 - lz)
        n = bind(m, (s.z << sh)[:p + 4], "normalised")
        s = pipe.cut(kept=n[4:], guard=n[3], sticky=n[:3].any(), be=be, zero=~s.z.any(),
                     sx=s.sx, sy=s.sy, nan=s.nan, inf=s.inf)

        # 4. round to nearest even and pick special results
        if ieee:
            field = Cat(s.be[0] & s.kept[mb], s.be[1:])  # a subnormal has be=1, hidden bit 0
            tiny = Const(0)
        else:
            field = s.be[:e + 1]
            tiny = s.be <= 0
        bits, over = round_normal(m, s.sx, field, s.kept, s.guard, s.sticky, fmt)
        res = Signal(w)
        with m.If(s.nan):
            m.d.comb += res.eq(const_nan(fmt))
        with m.Elif(s.inf):
            m.d.comb += res.eq(const_inf(s.sx, fmt))
        with m.Elif(s.zero):
            m.d.comb += res.eq(const_zero(s.sx & s.sy, fmt))  # -0 only from -0 + -0
        with m.Elif(tiny):
            m.d.comb += res.eq(const_zero(s.sx, fmt))
        with m.Elif(over):
            m.d.comb += res.eq(const_inf(s.sx, fmt))
        with m.Else():
            m.d.comb += res.eq(bits)
        s = pipe.cut(res=res)
        m.d.comb += [self.o.payload.eq(s.res), self.o.valid.eq(pipe.valid)]
        return m
