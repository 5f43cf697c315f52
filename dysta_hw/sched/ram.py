"""A memory whose reads are registered twice: in the RAM and at its output."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["RegisteredRam"]


class RegisteredRam(wiring.Component):
    """A simple dual-port memory with a read latency of two cycles.

    The read address is taken by the RAM's synchronous read port (block RAM, or distributed RAM
    with an output register) and its data goes through one more register, so that no RAM read
    feeds logic in the cycle it comes out of the array: the clock-to-output delay of a block RAM
    without its output register is several nanoseconds on every FPGA family this project targets.
    A write is visible to a read presented in the next cycle or later.

    Parameters
    ----------
    shape : ShapeLike
        Shape of an entry.
    depth : int
        Entries.
    init : list
        Initial contents (a ROM when nothing drives ``w_en``).

    Attributes
    ----------
    r_addr : In ; r_data : Out
        ``r_data`` is the entry at the ``r_addr`` presented two cycles earlier.
    w_addr, w_data, w_en : In
        Write port.
    """

    def __init__(self, shape, depth: int, init=()):
        self._shape, self._depth, self._init = shape, depth, list(init)
        super().__init__({"r_addr": In(range(max(depth, 2))), "r_data": Out(shape),
                          "w_addr": In(range(max(depth, 2))), "w_data": In(shape), "w_en": In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=self._shape, depth=self._depth, init=self._init)
        rd, wr = mem.read_port(), mem.write_port()
        m.d.comb += [rd.addr.eq(self.r_addr), wr.addr.eq(self.w_addr), wr.data.eq(self.w_data),
                     wr.en.eq(self.w_en)]
        m.d.sync += self.r_data.eq(rd.data)
        return m
