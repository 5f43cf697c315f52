"""Floating-point adder/subtractor."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from dysta_sw.fp import get_format

from ._base import (
    FPUnit,
    Pipeline,
    bind,
    const_inf,
    const_nan,
    const_zero,
    lzc_merge,
    lzc_nibbles,
    round_encode,
    unpack,
)

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
        Register slices (latency in cycles); 0 is combinational. They are placed where they
        best balance the path (see :attr:`cut_points`): after the comparison, the ordering,
        each half of the alignment shift, the addition, each half of the leading-zero count
        and of the normalising shift, the rounding decision, and at the output.

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

    def weights(self) -> list[float]:
        # compare, order, align (2), invert, add, count (2), shift (2), round decision, round
        return [3, 2, 1.5, 2, 1, 3, 1.5, 2, 2.5, 1.3, 3, 3]

    def elaborate(self, platform):
        m = Module()
        fmt, ieee = self.fmt, self.mode == "ieee"
        w, e, mb = fmt.width, fmt.exp_bits, fmt.man_bits
        p = mb + 1
        n = p + 4  # the sum: carry, hidden bit, fraction, guard, round, sticky
        pipe = Pipeline(m, self.stages, self.weights(), self.i.valid)

        # 1. compare: which operand is larger (exponent and fraction fields apart), both
        # exponent differences, the classes, each operand's significand in either role; all from
        # the operands, side by side. The exponent difference is of the raw fields: a subnormal
        # y (exponent field 0, read as 1) beside a normal x is aligned one place less by
        # doubling its significand, which has no hidden bit
        a, b = self.i.payload.a, self.i.payload.b
        b = Cat(b[:w - 1], b[w - 1] ^ self.i.payload.sub)
        ua, ub = unpack(m, a, fmt, self.mode), unpack(m, b, fmt, self.mode)
        ea, eb = a[mb:w - 1], b[mb:w - 1]

        def as_y(u, f, other):
            if ieee:
                return Mux(u.normal, Cat(f, 1), Mux(other.normal, Cat(0, f), Cat(f, 0)))
            return Mux(u.normal, Cat(f, 1), 0)

        def as_x(u, f, ex):
            return Cat(f if ieee else f & u.normal.replicate(mb), u.normal), Cat(ex[0] | ~u.normal, ex[1:])

        (gxa, exa), (gxb, exb) = as_x(ua, a[:mb], ea), as_x(ub, b[:mb], eb)
        s = pipe.cut(
            e_gt=eb > ea, e_eq=eb == ea, f_gt=b[:mb] > a[:mb], d_ab=(ea - eb)[:e], d_ba=(eb - ea)[:e],
            gya=as_y(ua, a[:mb], ub), gyb=as_y(ub, b[:mb], ua), gxa=gxa, gxb=gxb, exa=exa, exb=exb,
            sa=ua.sign, sb=ub.sign, eff_sub=ua.sign ^ ub.sign,
            nan=ua.nan | ub.nan | (ua.inf & ub.inf & (ua.sign ^ ub.sign)), inf=ua.inf | ub.inf)

        # 2. order: x is the larger, so its exponent and sign lead
        swap = bind(m, s.e_gt | (s.e_eq & s.f_gt), "swap")
        keep = dict(gx=Mux(swap, s.gxb, s.gxa), ex=Mux(swap, s.exb, s.exa), sx=Mux(swap, s.sb, s.sa),
                    sy=Mux(swap, s.sa, s.sb), eff_sub=s.eff_sub, nan=s.nan, inf=s.inf)
        s = pipe.cut(gy=Mux(swap, s.gya, s.gyb), d=Mux(swap, s.d_ba, s.d_ab), **keep)
        keep = {k: getattr(s, k) for k in keep}

        # 3. align y below x with guard, round and sticky bits: by the low two bits of the
        # difference, then by the rest. The sticky bit comes from the difference and y: a
        # term per bit of y, ORed in groups of four, then into the adder's input
        lost = Cat(*[s.gy[k] & (s.d > k + 3) for k in range(p)])
        if ieee:  # the normalising shift stops at the subnormal exponent: a one at that place
            keep["stop"] = bind(m, (Const(1 << (n - 1), n) >> s.ex)[:n], "stop")
        al = bind(m, (Cat(Const(0, 3), s.gy) >> s.d[:2])[:p + 3], "aligned_lo")
        s = pipe.cut(al=al, d=s.d[2:], lost=lost, **keep)
        keep = {k: getattr(s, k) for k in keep}
        al = bind(m, (s.al >> Cat(Const(0, 2), s.d))[:p + 3], "aligned")
        lost = Cat(*[s.lost[k:k + 4].any() for k in range(0, p, 4)])
        s = pipe.cut(al=al, lost=lost, **keep)
        keep = {k: getattr(s, k) for k in keep}
        # y's addend, inverted for a subtraction, so that the adder is a carry chain only
        al = Cat(s.al[0] | s.lost.any(), s.al[1:]) ^ s.eff_sub.replicate(p + 3)
        s = pipe.cut(al=al, **keep)
        keep = {k: getattr(s, k) for k in keep}

        # 4. add or subtract
        total = bind(m, Cat(Const(0, 3), s.gx) + s.al + s.eff_sub, "total")
        z = bind(m, Cat(total[:p + 3], total[p + 3] & ~s.eff_sub), "z")  # drop a subtraction's carry
        del keep["gx"], keep["eff_sub"]
        s = pipe.cut(z=z, **keep)
        keep = {k: getattr(s, k) for k in keep}

        # 5. normalise: leading one to the top; IEEE stops at the subnormal exponent. The
        # leading-zero count per nibble, then merged; the shift by its upper bits, then the rest
        nibbles = lzc_nibbles(m, s.z | s.stop if ieee else s.z)
        keep.pop("stop", None)
        s = pipe.cut(z=s.z, nibbles=nibbles, zero=~s.z.any(), **keep)
        keep = {k: getattr(s, k) for k in keep}
        keep["zero"] = s.zero
        lz = lzc_merge(m, s.nibbles, n)
        s = pipe.cut(z=s.z, lz=lz, **keep)
        keep = {k: getattr(s, k) for k in keep}
        if ieee:
            be = Signal(e + 1)
        else:
            be = Signal(signed(e + 2))
        m.d.comb += be.eq(s.ex + 1 - s.lz)
        del keep["ex"]
        nz = bind(m, (s.z << Cat(Const(0, 2), s.lz[2:]))[:n], "normalised_hi")
        s = pipe.cut(z=nz, lz=s.lz[:2], be=be, **keep)
        keep = {k: getattr(s, k) for k in keep}
        nz = bind(m, (s.z << s.lz)[:n], "normalised")
        # beside the last shift: the exponent's range and the special results. A result with
        # be >= 2 is normal (only a shift stopped at the subnormal exponent leaves be = 1)
        tiny = Const(0) if ieee else s.be <= 0
        special = Signal(w)
        with m.If(s.nan):
            m.d.comb += special.eq(const_nan(fmt))
        with m.Elif(s.inf):
            m.d.comb += special.eq(const_inf(s.sx, fmt))
        with m.Elif(s.zero):
            m.d.comb += special.eq(const_zero(s.sx & s.sy, fmt))  # -0 only from -0 + -0
        with m.Elif(tiny):
            m.d.comb += special.eq(const_zero(s.sx, fmt))
        with m.Else():  # an overflow
            m.d.comb += special.eq(const_inf(s.sx, fmt))
        s = pipe.cut(nz=nz, be=s.be, sx=s.sx, special=special, below_max=s.be == fmt.exp_max - 1,
                     pre_special=s.nan | s.inf | s.zero | tiny | (s.be >= fmt.exp_max))

        # 6. the rounding decision; a carry out of an all-ones fraction just below the top
        # exponent overflows
        kept, guard, sticky = s.nz[4:], s.nz[3], s.nz[:3].any()
        field = Cat(s.be[0] & kept[mb], s.be[1:]) if ieee else s.be[:e + 1]  # subnormal: be=1, hidden 0
        s = pipe.cut(kept=kept, field=field, up=guard & (sticky | kept[0]), kept_all=kept[:mb].all(), sx=s.sx,
                     special=s.special, pre_special=s.pre_special, below_max=s.below_max)

        # 7. round to nearest even: one carry chain
        bits = round_encode(m, s.sx, s.field, s.kept, s.up, fmt)
        is_special = s.pre_special | (s.below_max & s.up & s.kept_all)
        s = pipe.cut(res=Mux(is_special, s.special, bits))
        m.d.comb += [self.o.payload.eq(s.res), self.o.valid.eq(pipe.valid)]
        return m
