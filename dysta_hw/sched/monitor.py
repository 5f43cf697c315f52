"""The monitor: counts the non-zero values of the running layer's output (SPEC 7)."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from dysta_sw.errors import DystaInputError
from dysta_sw.hwsched import NNZ_BITS

__all__ = ["Monitor"]


class Monitor(wiring.Component):
    """Zero-counting circuit over ``lanes`` lanes of NPU output: a popcount of the non-zero
    lanes of every beat, registered, then accumulated in a saturating ``NNZ_BITS``-bit counter
    (two pipeline stages, so neither the popcount nor the counter's carry chain has to share a
    cycle with the other).

    Parameters
    ----------
    lanes : int
        Values per beat (1 to 64).
    value_width : int
        Bits per value (1 to 64); a value is zero when all its bits are.

    Attributes
    ----------
    data : In(stream.Signature(ArrayLayout(value_width, lanes), always_ready=True))
        NPU output beats.
    clear : In(1)
        Restart the count (at a dispatch); a beat in the same cycle is not counted.
    count : Out(NNZ_BITS)
        Non-zeros of the beats since the last ``clear``, up to two cycles ago: two cycles after a
        layer-done, ``count`` is that layer's count (the beat of the layer-done cycle included).
    """

    def __init__(self, *, lanes=8, value_width=16):
        if not isinstance(lanes, int) or not 1 <= lanes <= 64:
            raise DystaInputError(f"lanes must be an integer from 1 to 64, not {lanes!r}")
        if not isinstance(value_width, int) or not 1 <= value_width <= 64:
            raise DystaInputError(f"value_width must be an integer from 1 to 64, not {value_width!r}")
        self.lanes, self.value_width = lanes, value_width
        super().__init__({
            "data": In(stream.Signature(data.ArrayLayout(value_width, lanes), always_ready=True)),
            "clear": In(1),
            "count": Out(NNZ_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        beat = sum((v != 0 for v in self.data.payload), start=0) if self.lanes > 1 else \
            (self.data.payload[0] != 0)
        inc = Signal(range(self.lanes + 1))
        m.d.sync += inc.eq(Mux(self.data.valid & ~self.clear, beat, 0))
        top = (1 << NNZ_BITS) - 1
        s = self.count + inc
        with m.If(self.clear):
            m.d.sync += self.count.eq(0)
        with m.Else():
            m.d.sync += self.count.eq(Mux(s > top, top, s))
        return m
