"""Floating-point multiplier."""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for, ceil_log2

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

__all__ = ["FPMul"]


class FPMul(FPUnit):
    """``a * b``; bit-exact with :func:`dysta_sw.fp.mul`.

    The significand product is one ``(man_bits+1)``-square multiplier: a DSP block (one at
    FP16 and BF16), or, with ``dsp=False``, an adder tree in the fabric that the pipeline can
    cut after every level. Lean mode needs only a one-bit normalisation of the product; IEEE
    mode adds a leading-zero count for subnormal operands and a sticky right shift for
    subnormal results.

    Parameters
    ----------
    fmt : Format or str
        Number format.
    mode : str
        ``"ieee"`` or ``"lean"``.
    stages : int
        Register slices (latency in cycles); 0 is combinational. They are placed where they
        best balance the path (see :attr:`cut_points`): after the unpacking, after the product
        (or each level of the adder tree), between the steps of the normalisation, after the
        rounding decision and at the output.
    dsp : bool
        Multiply in a DSP block (the default: least logic). An ECP5 MULT18X18D is
        combinational in nextpnr's timing model (3.9 ns), which caps a unit around it near
        150 MHz; the fabric multiplier (``dsp=False``) is pipelined like the rest.

    Attributes
    ----------
    i : In(stream.Signature(StructLayout({"a": W, "b": W}), always_ready=True))
        Operands, one per cycle when ``valid``; ``W = fmt.width``.
    o : Out(stream.Signature(W, always_ready=True))
        The product, ``latency`` cycles later.
    """

    def __init__(self, *, fmt="fp16", mode="ieee", stages=0, dsp=True):
        w = get_format(fmt).width
        self.dsp = bool(dsp)
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({"a": w, "b": w}), always_ready=True)),
            "o": Out(stream.Signature(w, always_ready=True)),
        }, fmt=fmt, mode=mode, stages=stages)

    def weights(self) -> list[float]:
        # unpack, multiply (a DSP, or an adder tree level by level), normalise, round
        # decision, round
        w = [1.5] + ([6] if self.dsp else [3] + [2.5] * (ceil_log2(self.fmt.man_bits + 1) - 1))
        if self.mode == "ieee":  # count (2), compare, shift left (2), shift right (2)
            w += [2.5, 0.7 * ceil_log2(2 * self.fmt.man_bits + 2) - 0.5, 2.5, 2.3, 1.3, 2, 3]
        else:
            w += [1.5]
        return w + [3, 3]

    def elaborate(self, platform):
        m = Module()
        fmt, ieee = self.fmt, self.mode == "ieee"
        w, e, mb = fmt.width, fmt.exp_bits, fmt.man_bits
        p = mb + 1
        be_shape = signed(bits_for(2 * fmt.exp_max) + 1)
        levels = ceil_log2(p)  # adder-tree levels of the fabric multiplier
        pipe = Pipeline(m, self.stages, self.weights(), self.i.valid)

        # 1. unpack; the sum of the exponents (the product's bit 2p-1 has exponent ex_sum-bias+1)
        ua = unpack(m, self.i.payload.a, fmt, self.mode)
        ub = unpack(m, self.i.payload.b, fmt, self.mode)
        keep = dict(ex_sum=ua.exp + ub.exp, sign=ua.sign ^ ub.sign,
                    nan=ua.nan | ub.nan | (ua.inf & ub.zero) | (ub.inf & ua.zero),
                    inf=ua.inf | ub.inf, zero=ua.zero | ub.zero)
        s = pipe.cut(ga=ua.sig, gb=ub.sig, **keep)
        keep = {k: getattr(s, k) for k in keep}
        # beside the product, what the exponent alone decides: comparisons of the sum with
        # constants, and one carry chain each for the rest
        ex_sum, bias, emax = keep.pop("ex_sum"), fmt.bias, fmt.exp_max
        if ieee:
            be0 = Signal(be_shape)
            m.d.comb += be0.eq(ex_sum - (bias - 1))
            keep["be0"] = be0
            # a subnormal result: how far left (be0 >= 1) or right (at most p+2) to shift; the
            # choices are made a segment later
            keep.update(left_ok=ex_sum >= bias, left_by=(ex_sum - bias)[:bits_for(2 * p)],
                        right_max=ex_sum <= bias - (p + 2), right_by=(bias - ex_sum)[:bits_for(p + 2)])
        else:
            # the exponent field for a product with its top bit set (hi) or clear (lo)
            for half, c in (("hi", bias - 1), ("lo", bias)):
                keep.update({f"field_{half}": (ex_sum - c)[:e + 1], f"tiny_{half}": ex_sum <= c,
                             f"sub_{half}": ex_sum == c, f"at_max_{half}": ex_sum >= emax + c,
                             f"below_max_{half}": ex_sum == emax + c - 1})

        # 2. multiply the significands: one DSP multiplier, or in the fabric an adder tree over
        # the partial products (rows of a AND one bit of b), one carry chain per level
        if self.dsp:
            prod = bind(m, s.ga * s.gb, "prod")
            s = pipe.cut(prod=prod, **keep)
        else:
            rows = [(s.ga & s.gb[i].replicate(p), i) for i in range(p)]
            for level in range(levels):
                pairs = []
                for j in range(0, len(rows) - 1, 2):
                    (v0, s0), (v1, s1) = rows[j], rows[j + 1]
                    pairs.append((bind(m, v0 + (v1 << (s1 - s0)), f"pp{level}_{j // 2}"), s0))
                if len(rows) % 2:
                    pairs.append(rows[-1])
                rows = pairs
                s = pipe.cut(**{f"r{j}": v for j, (v, _) in enumerate(rows)}, **keep)
                rows = [(getattr(s, f"r{j}"), sh) for j, (_, sh) in enumerate(rows)]
                keep = {k: getattr(s, k) for k in keep}
            (v, sh), = rows
            s = SimpleNamespace(prod=Cat(Const(0, sh), v)[:2 * p], **keep)
        keep = {k: getattr(s, k) for k in keep}

        # 3. normalise to p kept bits, a guard and a sticky bit
        if not ieee:
            top = s.prod[2 * p - 1]
            n = bind(m, Mux(top, s.prod, s.prod << 1)[:2 * p], "normalised")
            pick = {k: Mux(top, keep.pop(f"{k}_hi"), keep.pop(f"{k}_lo"))
                    for k in ("field", "tiny", "sub", "at_max", "below_max")}
            s = pipe.cut(n=n, **pick, **keep)
            # ftz after IEEE rounding: one binade below the normals, an all-ones fraction
            # rounds up to the smallest normal on the subnormal grid; all else is a zero
            keep = {k: getattr(s, k) for k in [*keep, "field", "tiny", "at_max", "below_max"]}
            keep["to_min"] = s.sub & s.n[p:2 * p - 1].all()
            win = Cat(s.n[:p - 1].any(), s.n[p - 1:])  # sticky, guard, kept
        else:
            # a subnormal operand: count the product's leading zeros (per nibble, then merged)
            left_ok, left_by = keep.pop("left_ok"), keep.pop("left_by")
            right_max, right_by = keep.pop("right_max"), keep.pop("right_by")
            keep.update(c1=Mux(left_ok, left_by, 0), right=Mux(left_ok, 0, Mux(right_max, p + 2, right_by)))
            s = pipe.cut(prod=s.prod, nibbles=lzc_nibbles(m, s.prod), **keep)
            keep = {k: getattr(s, k) for k in keep}
            lz = lzc_merge(m, s.nibbles, 2 * p)
            s = pipe.cut(prod=s.prod, lz=lz, **keep)
            keep = {k: getattr(s, k) for k in keep}
            # a normal result shifts its leading one to the top; a subnormal one shifts so that
            # bit 2p-1 has exponent 1 (left if be0 >= 1, right if not)
            be = Signal(be_shape)
            m.d.comb += be.eq(s.be0 - s.lz)
            normal = bind(m, s.lz < s.be0, "normal_result")
            del keep["be0"]
            s = pipe.cut(prod=s.prod, lz=s.lz, be=be, normal=normal, **keep)
            keep = {k: getattr(s, k) for k in keep}
            left = bind(m, Mux(s.normal, s.lz, s.c1), "left")
            n = bind(m, (s.prod << Cat(Const(0, 2), left[2:]))[:2 * p], "normalised_hi")
            keep.update(at_max=s.normal & (s.be >= emax), below_max=s.normal & (s.be == emax - 1))
            s = pipe.cut(n=n, left=left[:2], be=s.be, normal=s.normal, **keep)
            keep = {k: getattr(s, k) for k in keep}
            n = bind(m, (s.n << s.left)[:2 * p], "normalised")
            s = pipe.cut(n=n, be=s.be, normal=s.normal, **keep)
            keep = {k: getattr(s, k) for k in keep}
            win = bind(m, Cat(s.n[:p - 1].any(), s.n[p - 1:]), "window")
            right = Mux(s.normal, 0, s.right)
            lost = Cat(*[win[k] & (right > k) for k in range(p + 2)])
            del keep["right"], keep["c1"]
            s = pipe.cut(win=bind(m, win >> right[:2], "denormalised_lo"), right=right[2:], lost=lost,
                         field=Mux(s.normal, s.be[:e + 1], 0), **keep)
            keep = {k: getattr(s, k) for k in keep}
            win = bind(m, s.win >> Cat(Const(0, 2), s.right), "denormalised")
            keep.update(tiny=Const(0), to_min=Const(0), field=s.field)
            s = pipe.cut(win=Cat(win[0] | s.lost.any(), win[1:]), **keep)
            keep = {k: getattr(s, k) for k in keep}
            win = s.win

        # 4. the rounding decision; a carry out of an all-ones fraction just below the top
        # exponent overflows
        kept, guard, sticky = win[2:], win[1], win[0]
        s = pipe.cut(kept=kept, up=guard & (sticky | kept[0]), kept_all=kept[:mb].all(), **keep)

        # 5. round to nearest even (one carry chain), and the special results beside it
        bits = round_encode(m, s.sign, s.field, s.kept, s.up, fmt)
        over = s.at_max | (s.below_max & s.up & s.kept_all)
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
