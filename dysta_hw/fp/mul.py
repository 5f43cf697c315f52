"""Floating-point multiplier."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from dysta_sw.fp import get_format

from ._base import FPUnit, Pipeline, bind, const_inf, const_nan, const_zero, lzc, round_normal, unpack

__all__ = ["FPMul"]


class FPMul(FPUnit):
    """``a * b``; bit-exact with :func:`dysta_sw.fp.mul`.

    The significand product is one ``(man_bits+1)``-square multiplier (one DSP at FP16 and
    BF16). Lean mode needs only a one-bit normalisation of the product; IEEE mode adds a
    leading-zero count for subnormal operands and a sticky right shift for subnormal results.

    Parameters
    ----------
    fmt : Format or str
        Number format.
    mode : str
        ``"ieee"`` or ``"lean"``.
    stages : int
        Register slices (latency in cycles); 0 is combinational. Up to 3 are placed inside the
        datapath (after the multiplier, after normalisation, at the output); more go to the
        output.

    Attributes
    ----------
    i : In(stream.Signature(StructLayout({"a": W, "b": W}), always_ready=True))
        Operands, one per cycle when ``valid``; ``W = fmt.width``.
    o : Out(stream.Signature(W, always_ready=True))
        The product, ``latency`` cycles later.
    """

    def __init__(self, *, fmt="fp16", mode="ieee", stages=0):
        w = get_format(fmt).width
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({"a": w, "b": w}), always_ready=True)),
            "o": Out(stream.Signature(w, always_ready=True)),
        }, fmt=fmt, mode=mode, stages=stages)

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        w, e, mb = fmt.width, fmt.exp_bits, fmt.man_bits
        p = mb + 1
        pipe = Pipeline(m, self.stages, [4, 3, 3], self.i.valid)
        be_shape = signed(bits_for(2 * fmt.exp_max) + 1)

        # 1. multiply the significands, add the exponents
        ua = unpack(m, self.i.payload.a, fmt, self.mode)
        ub = unpack(m, self.i.payload.b, fmt, self.mode)
        prod = Signal(2 * p)
        m.d.comb += prod.eq(ua.sig * ub.sig)
        # exponent of the product's bit 2p-1
        be0 = Signal(be_shape)
        m.d.comb += be0.eq(ua.exp + ub.exp - fmt.bias + 1)
        s = pipe.cut(
            prod=prod, be0=be0, sign=ua.sign ^ ub.sign,
            nan=ua.nan | ub.nan | (ua.inf & ub.zero) | (ub.inf & ua.zero),
            inf=ua.inf | ub.inf, zero=ua.zero | ub.zero)

        # 2. normalise to p kept bits, a guard and a sticky bit
        if self.mode == "lean":
            top = s.prod[2 * p - 1]
            n = bind(m, Mux(top, s.prod, s.prod << 1)[:2 * p], "normalised")
            be = Signal(be_shape)
            m.d.comb += be.eq(s.be0 - ~top)
            win = Cat(n[:p - 1].any(), n[p - 1:])  # sticky, guard, kept
            field = be[:e + 1]
            # ftz after IEEE rounding: one binade below the normals, an all-ones fraction
            # rounds up to the smallest normal on the subnormal grid; all else is a zero
            tiny, to_min = be <= 0, (be == 0) & n[p:2 * p - 1].all()
        else:
            lz = lzc(m, s.prod)
            be = Signal(be_shape)
            m.d.comb += be.eq(s.be0 - lz)
            normal = bind(m, be >= 1, "normal_result")
            # subnormal result: shift so that bit 2p-1 has exponent 1, right if be0 < 1
            left = Mux(normal, lz, Mux(s.be0 >= 1, s.be0 - 1, 0)[:len(lz)])
            n = bind(m, (s.prod << left)[:2 * p], "normalised")
            win = bind(m, Cat(n[:p - 1].any(), n[p - 1:]), "window")
            right = Signal(range(p + 3))
            with m.If(~normal & (s.be0 < 1)):
                m.d.comb += right.eq(Mux(1 - s.be0 > p + 2, p + 2, (1 - s.be0)[:len(right)]))
            lost = Cat(*[win[k] & (right > k) for k in range(p + 2)]).any()
            win = bind(m, win >> right, "denormalised")
            win = Cat(win[0] | lost, win[1:])
            field = Mux(normal, be[:e + 1], 0)
            tiny, to_min = Const(0), Const(0)
        s = pipe.cut(kept=win[2:], guard=win[1], sticky=win[0], field=field, tiny=tiny,
                     to_min=to_min, sign=s.sign, nan=s.nan, inf=s.inf, zero=s.zero)

        # 3. round to nearest even and pick special results
        bits, over = round_normal(m, s.sign, s.field, s.kept, s.guard, s.sticky, fmt)
        res = Signal(w)
        with m.If(s.nan):
            m.d.comb += res.eq(const_nan(fmt))
        with m.Elif(s.inf):
            m.d.comb += res.eq(const_inf(s.sign, fmt))
        with m.Elif(s.zero | (s.tiny & ~s.to_min)):
            m.d.comb += res.eq(const_zero(s.sign, fmt))
        with m.Elif(s.tiny):
            m.d.comb += res.eq(Cat(Const(fmt.min_normal, w - 1), s.sign))
        with m.Elif(over):
            m.d.comb += res.eq(const_inf(s.sign, fmt))
        with m.Else():
            m.d.comb += res.eq(bits)
        s = pipe.cut(res=res)
        m.d.comb += [self.o.payload.eq(s.res), self.o.valid.eq(pipe.valid)]
        return m
