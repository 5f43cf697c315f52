"""A memory whose reads are registered twice: in the RAM and at its output."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
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
    collision_free : bool
        The user never reads an entry in the cycle it is written (or ignores what that read
        returns): the memory gets Yosys' ``no_rw_check`` (its read is an asynchronous port and a
        register, which Yosys merges into the RAM's synchronous port, the collision result left
        undefined). Otherwise a read in the cycle of a write to the same entry returns the old
        entry, as Amaranth simulates it, which block RAMs without a read-before-write mode between
        their two ports (iCE40, ECP5) get from Yosys in logic: the write delayed by a register and
        a bypass, about 3 logic cells per bit on an iCE40.

    Attributes
    ----------
    r_addr : In ; r_data : Out
        ``r_data`` is the entry at the ``r_addr`` presented two cycles earlier.
    w_addr, w_data, w_en : In
        Write port.
    """

    def __init__(self, shape, depth: int, init=(), *, collision_free: bool = False):
        self._shape, self._depth, self._init = shape, depth, list(init)
        self._collision_free = collision_free
        super().__init__({"r_addr": In(range(max(depth, 2))), "r_data": Out(shape),
                          "w_addr": In(range(max(depth, 2))), "w_data": In(shape), "w_en": In(1)})

    def elaborate(self, platform):
        m = Module()
        attrs = {"no_rw_check": 1} if self._collision_free else None
        m.submodules.mem = mem = Memory(shape=self._shape, depth=self._depth, init=self._init, attrs=attrs)
        wr = mem.write_port()
        if self._collision_free:
            rd = mem.read_port(domain="comb")
            data = Signal.like(self.r_data, reset_less=True)
            m.d.sync += data.eq(rd.data)
        else:
            rd = mem.read_port()
            data = rd.data
        m.d.comb += [rd.addr.eq(self.r_addr), wr.addr.eq(self.w_addr), wr.data.eq(self.w_data),
                     wr.en.eq(self.w_en)]
        # the output register has no reset (a RAM read has none either; on an iCE40 a register
        # with a reset and an enable costs a LUT per bit)
        out = Signal.like(self.r_data, reset_less=True)
        m.d.sync += out.eq(data)
        m.d.comb += self.r_data.eq(out)
        return m
