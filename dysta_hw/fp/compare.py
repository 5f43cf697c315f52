"""Total-order comparator/minimum and the ``max(x, 0)`` clamp."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from dysta_sw.fp import Format, get_format

from ._base import FPUnit, Pipeline, bind, const_nan, unpack

__all__ = ["FPMin", "FPClamp0", "order_key"]


def _keyed(x, nan, normal, fmt: Format, mode: str):
    """``x`` with, in lean mode, a subnormal replaced by the zero of its sign; and its order key.

    The key is an unsigned number ordered like :func:`dysta_sw.fp.lt_total`: negatives reversed,
    every NaN equal and on top.
    """
    sign = x[fmt.width - 1]
    if mode == "lean":
        x = Cat(x[:fmt.width - 1] & normal.replicate(fmt.width - 1), sign)
    key = Mux(sign, ~x, Cat(x[:fmt.width - 1], 1))
    return x, Mux(nan, Const((1 << fmt.width) - 1, fmt.width), key)


def order_key(x, fmt: Format, mode: str):
    """The order key of ``x`` (:func:`_keyed`), its flags taken from ``x`` itself: an argmin over
    keys needs two levels of logic per value and an unsigned compare."""
    e, f = x[fmt.man_bits:fmt.man_bits + fmt.exp_bits], x[:fmt.man_bits]
    return _keyed(x, e.all() & f.any(), e.any(), fmt, mode)[1]


class FPMin(FPUnit):
    """Total-order compare and minimum; bit-exact with :func:`dysta_sw.fp.lt_total`/``minimum``.

    ``lt`` is ``a < b`` in the order ``-inf < ... < -0 < +0 < ... < +inf < NaN`` (all NaNs
    equal), so a NaN never wins against a number; ``min`` is ``a`` when ``lt`` else ``b``
    (canonical if a NaN; a subnormal flushed in lean mode). For an argmin scan that keeps the
    first of equal values, feed the candidate as ``a`` and the running minimum as ``b``.

    Parameters
    ----------
    fmt : Format or str
        Number format.
    mode : str
        ``"ieee"`` or ``"lean"`` (subnormals compare and pass as the zero of their sign).
    stages : int
        Register slices (latency in cycles); 0 is combinational. Up to 3 are placed inside the
        datapath (after the NaN tests, after the keys, after the comparison); more go to the
        output.

    Attributes
    ----------
    i : In(stream.Signature(StructLayout({"a": W, "b": W}), always_ready=True))
        Operands, one per cycle when ``valid``; ``W = fmt.width``.
    o : Out(stream.Signature(StructLayout({"min": W, "lt": 1}), always_ready=True))
        The minimum and the comparison, ``latency`` cycles later.
    """

    def __init__(self, *, fmt="fp16", mode="ieee", stages=0):
        w = get_format(fmt).width
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({"a": w, "b": w}), always_ready=True)),
            "o": Out(stream.Signature(data.StructLayout({"min": w, "lt": 1}), always_ready=True)),
        }, fmt=fmt, mode=mode, stages=stages)

    def weights(self) -> list[float]:
        # classes, keys, compare, pick
        return [2.5, 1, 2.5, 1]

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        pipe = Pipeline(m, self.stages, self.weights(), self.i.valid)
        # 1. the operands' classes (a NaN test reduces the whole fraction)
        a, b = self.i.payload.a, self.i.payload.b
        ua, ub = unpack(m, a, fmt, self.mode), unpack(m, b, fmt, self.mode)
        s = pipe.cut(a=a, b=b, a_nan=ua.nan, b_nan=ub.nan, a_normal=ua.normal, b_normal=ub.normal)

        # 2. flush (lean) and form the order keys: one LUT per bit
        a, ka = _keyed(s.a, s.a_nan, s.a_normal, fmt, self.mode)
        b, kb = _keyed(s.b, s.b_nan, s.b_normal, fmt, self.mode)
        s = pipe.cut(a=a, b=b, ka=ka, kb=kb, b_nan=s.b_nan)

        # 3. compare the keys: one carry chain
        lt = bind(m, s.ka < s.kb, "lt")
        s = pipe.cut(a=s.a, b=s.b, lt=lt, b_nan=s.b_nan)

        # 4. pick; the result is a NaN only if b is (a NaN a never wins)
        res = Mux(s.lt, s.a, Mux(s.b_nan, const_nan(fmt), s.b))
        s = pipe.cut(res=res, lt=s.lt)
        m.d.comb += [self.o.payload.min.eq(s.res), self.o.payload.lt.eq(s.lt),
                     self.o.valid.eq(pipe.valid)]
        return m


class FPClamp0(FPUnit):
    """``max(x, +0)``; bit-exact with :func:`dysta_sw.fp.clamp0`.

    Negative numbers (``-0`` and ``-inf`` included) give ``+0``, a NaN gives the canonical NaN;
    in lean mode a positive subnormal gives ``+0``.

    Parameters
    ----------
    fmt : Format or str
        Number format.
    mode : str
        ``"ieee"`` or ``"lean"``.
    stages : int
        Register slices (latency in cycles); 0 is combinational. One may be placed inside the
        datapath (after the NaN test); more go to the output.

    Attributes
    ----------
    i : In(stream.Signature(W, always_ready=True))
        The operand, one per cycle when ``valid``; ``W = fmt.width``.
    o : Out(stream.Signature(W, always_ready=True))
        The clamped value, ``latency`` cycles later.
    """

    def __init__(self, *, fmt="fp16", mode="ieee", stages=0):
        w = get_format(fmt).width
        super().__init__({
            "i": In(stream.Signature(w, always_ready=True)),
            "o": Out(stream.Signature(w, always_ready=True)),
        }, fmt=fmt, mode=mode, stages=stages)

    def weights(self) -> list[float]:
        # classes, pick
        return [2.5, 1]

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        pipe = Pipeline(m, self.stages, self.weights(), self.i.valid)
        x = self.i.payload
        u = unpack(m, x, fmt, self.mode)
        # a positive number passes (in lean mode only a normal one), anything else gives +0
        keep = ~u.sign & (u.normal if self.mode == "lean" else Const(1))
        s = pipe.cut(x=x, nan=u.nan, keep=keep)
        res = Mux(s.nan, const_nan(fmt), s.x & s.keep.replicate(fmt.width))
        s = pipe.cut(res=res)
        m.d.comb += [self.o.payload.eq(s.res), self.o.valid.eq(pipe.valid)]
        return m
