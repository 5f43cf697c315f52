"""Total-order comparator/minimum and the ``max(x, 0)`` clamp."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from dysta_sw.fp import Format, get_format

from ._base import FPUnit, Pipeline, const_nan, unpack

__all__ = ["FPMin", "FPClamp0"]


def _flush(m, x, fmt: Format, mode: str):
    """``x`` with, in lean mode, a subnormal replaced by the zero of its sign; and its fields."""
    u = unpack(m, x, fmt, mode)
    if mode == "lean":
        x = Mux(u.normal, x, Cat(Const(0, fmt.width - 1), u.sign))
    return x, u


def _key(x, u, fmt: Format):
    """Unsigned key ordered like :func:`dysta_sw.fp.lt_total`: negatives reversed, NaN on top."""
    key = Mux(u.sign, ~x, Cat(x[:fmt.width - 1], 1))
    return Mux(u.nan, Const((1 << fmt.width) - 1, fmt.width), key)


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
        Register slices (latency in cycles); 0 is combinational. All sit at the output.

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

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        pipe = Pipeline(m, self.stages, [1], self.i.valid)
        a, ua = _flush(m, self.i.payload.a, fmt, self.mode)
        b, ub = _flush(m, self.i.payload.b, fmt, self.mode)
        lt = Signal()
        m.d.comb += lt.eq(_key(a, ua, fmt) < _key(b, ub, fmt))
        res = Mux(lt, a, b)
        # ua.nan/ub.nan are the NaN flags of a and b: the result is a NaN only if b is
        res = Mux(~lt & ub.nan, const_nan(fmt), res)
        s = pipe.cut(res=res, lt=lt)
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
        Register slices (latency in cycles); 0 is combinational. All sit at the output.

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

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        pipe = Pipeline(m, self.stages, [1], self.i.valid)
        x, u = _flush(m, self.i.payload, fmt, self.mode)
        res = Mux(u.nan, const_nan(fmt), Mux(u.sign, 0, x))
        s = pipe.cut(res=res)
        m.d.comb += [self.o.payload.eq(s.res), self.o.valid.eq(pipe.valid)]
        return m
