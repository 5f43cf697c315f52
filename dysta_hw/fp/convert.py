"""Integer-to-floating-point converter."""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, unsigned
from amaranth.hdl import signed as signed_shape
from amaranth.lib import stream
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for, ceil_log2

from dysta_sw.fp import get_format

from ._base import FPUnit, Pipeline, bind, check_width, const_inf, lzc_merge, lzc_nibbles, round_encode, round_flags

__all__ = ["FPFromInt"]


#: Logic levels in front of a converter's input, for the placement of its registers: the
#: compute unit's operand multiplexer and the decoding of the controller state that selects it
#: (the 100 MHz ULX3S build's critical path ran from there through the negation's carry chain).
INPUT_LEVELS = 2.0


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
        Register slices (latency in cycles); 0 is combinational. They are placed where they
        best balance the path: at the input (counted as :data:`INPUT_LEVELS` of logic in
        front: the operand selection of the compute unit that feeds it), after the negation,
        after the leading-zero count, between the two halves of the normalising shift, after
        the rounding decision, at the output; more go to the output.

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

    def weights(self) -> list[float]:
        # the logic in front, negate, count (2), shift (two count bits each), round decision, round
        n_in, p = self.width, self.fmt.man_bits + 1
        chunks = -(-bits_for(n_in) // 2)
        return [INPUT_LEVELS] + ([3] if self.signed else []) + [1.5, 0.7 * max(ceil_log2(n_in) - 2, 0) + 1] + [
            1.4] * chunks + [_or_levels(max(n_in - p - 1, 0)) + 1.5, 3]

    def elaborate(self, platform):
        m = Module()
        fmt, n_in = self.fmt, self.width
        e, mb = fmt.exp_bits, fmt.man_bits
        p = mb + 1
        count_bits = bits_for(n_in)
        chunks = [(lo, min(lo + 2, count_bits)) for lo in reversed(range(0, count_bits, 2))]
        pipe = Pipeline(m, self.stages, self.weights(), self.i.valid)

        # 0. the input: a register here when the stages allow one, so that the selection of the
        # operand in front (a multiplexer driven by the controller) does not run into the negation
        x = pipe.cut(x=Value.cast(self.i.payload)).x
        if self.signed:
            x = x.as_signed()
        # 1. magnitude: -(-2**(n-1)) is 2**(n-1), which fits unsigned
        if self.signed:
            sign = x[n_in - 1]
            mag = Signal(n_in)
            m.d.comb += mag.eq(Mux(sign, -x, x))
            s = pipe.cut(v=mag, sign=sign)
        else:
            s = SimpleNamespace(v=Value.cast(x), sign=Const(0))

        # 2. normalise: count the leading zeros (per nibble, then merged), then shift the leading
        # one to the top bit, two bits of the count at a time from the top
        s = pipe.cut(v=s.v, sign=s.sign, nibbles=lzc_nibbles(m, s.v))
        count = lzc_merge(m, s.nibbles, n_in)
        s = pipe.cut(v=s.v, sign=s.sign, count=count)
        # the exponent field of the leading one, and how it compares with the top exponent
        top = fmt.bias + n_in - 1
        field = Signal(max(e + 1, bits_for(top)))
        m.d.comb += field.eq(top - s.count)
        at_max = bind(m, s.count <= top - fmt.exp_max, "at_max") if top >= fmt.exp_max else Const(0)
        below_max = (s.count == top - fmt.exp_max + 1) if top >= fmt.exp_max - 1 else Const(0)
        keep = dict(sign=s.sign, field=field, at_max=at_max, below_max=below_max)
        v, count = s.v, s.count
        for lo, hi in chunks:
            v = bind(m, (v << Cat(Const(0, lo), count[lo:hi]))[:n_in], f"v{lo}")
            s = pipe.cut(v=v, count=count[:lo], **keep)
            keep = {k: getattr(s, k) for k in keep}
            v, count = s.v, s.count

        # 3. the rounding decision
        norm = s.v
        if n_in > p:
            kept, guard = norm[n_in - p:], norm[n_in - p - 1]
            sticky = norm[:n_in - p - 1].any() if n_in - p - 1 > 0 else Const(0)
        else:
            kept, guard, sticky = Cat(Const(0, p - n_in), norm), Const(0), Const(0)
        up, over = round_flags(m, s.field, kept, guard, sticky, fmt, at_max=s.at_max, below_max=s.below_max)
        s = pipe.cut(kept=kept, field=s.field, up=up, over=over, sign=s.sign, zero=~norm[n_in - 1])

        # 4. round to nearest even (one carry chain) and pick
        bits = round_encode(m, s.sign, s.field, s.kept, s.up, fmt)
        res = Signal(fmt.width)
        with m.If(s.zero):
            m.d.comb += res.eq(0)
        with m.Elif(s.over):
            m.d.comb += res.eq(const_inf(s.sign, fmt))
        with m.Else():
            m.d.comb += res.eq(bits)
        s = pipe.cut(res=res)
        m.d.comb += [self.o.payload.eq(s.res), self.o.valid.eq(pipe.valid)]
        return m


def _or_levels(n: int) -> int:
    """LUT4 levels of an ``n``-input OR."""
    levels = 0
    while n > 1:
        n, levels = -(-n // 4), levels + 1
    return levels
