"""The scheduler's look-up tables, programmed by the host through a write stream."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from dysta_sw import fp
from dysta_sw.hwsched import COUNT_SHIFT_BITS, Table

from .layouts import Widths, lut_write_layout

__all__ = ["LutBank"]


class LutBank(wiring.Component):
    """``R``, ``inv_rhobar``, ``inv_shape``, ``count_shift`` per (model-pattern, layer),
    ``inv_tiso`` and the layer count per model-pattern, the ``1/n`` ROM and ``eta``.

    Per-layer tables are memories addressed ``Cat(layer, mp)`` (``2**bits_for(max_layers)``
    rows per model-pattern). Reads are synchronous: an address presented in one cycle gives data
    in the next. A write outside the tables (``mp >= n_mp``, ``layer > max_layers``, a table
    number above 6, a ``count_shift`` of ``2**COUNT_SHIFT_BITS`` or more, a layer count outside
    ``1..max_layers``) changes nothing and sets the sticky ``error``.

    Parameters
    ----------
    widths : Widths
        Field widths.
    n_mp, max_layers, depth : int
        Table sizes.
    fmt, mode : str
        Number format and mode (for the ``1/n`` ROM, rounded with :func:`dysta_sw.fp.from_float`).

    Attributes
    ----------
    w : In(stream.Signature(lut_write_layout))
        LUT writes; ``ready`` follows ``w_en``.
    w_en : In(1)
        Allow writes (the controller lowers it while it reads the tables for a decision).
    error : Out(1)
        Sticky: a write was out of range.
    layer_mp, layer_idx : In
        Address of the per-layer tables; ``R``, ``inv_rhobar``, ``inv_shape``, ``count_shift`` Out.
    mp : In
        Address of the per-model-pattern tables; ``inv_tiso``, ``layers`` Out.
    n : In
        Queue length for the ``1/n`` ROM; ``inv_q`` Out.
    eta : Out
        The ``eta`` register.
    """

    def __init__(self, *, widths: Widths, n_mp, max_layers, depth, fmt, mode):
        self._wd, self._n_mp, self._max_layers, self._depth = widths, n_mp, max_layers, depth
        self._fmt, self._mode = fmt, mode
        w = widths.w
        super().__init__({
            "w": In(stream.Signature(lut_write_layout(widths))),
            "w_en": In(1),
            "error": Out(1),
            "layer_mp": In(widths.mp), "layer_idx": In(widths.layer),
            "R": Out(w), "inv_rhobar": Out(w), "inv_shape": Out(w), "count_shift": Out(COUNT_SHIFT_BITS),
            "mp": In(widths.mp), "inv_tiso": Out(w), "layers": Out(widths.layer),
            "n": In(range(depth + 1)), "inv_q": Out(w),
            "eta": Out(w),
        })

    def elaborate(self, platform):
        m = Module()
        wd = self._wd
        rows = self._n_mp << wd.layer
        p = self.w.payload
        in_mp = p.mp < self._n_mp
        in_layer = p.layer <= self._max_layers
        tab = p.table
        ok = Signal()
        m.d.comb += ok.eq(in_mp & (
            ((tab <= int(Table.INV_SHAPE)) & in_layer)
            | ((tab == int(Table.COUNT_SHIFT)) & in_layer & (p.value < (1 << COUNT_SHIFT_BITS)))
            | (tab == int(Table.INV_TISO))
            | ((tab == int(Table.LAYERS)) & (p.value >= 1) & (p.value <= self._max_layers)))
            | (tab == int(Table.ETA)))
        m.d.comb += self.w.ready.eq(self.w_en)
        fire = self.w.valid & self.w_en
        with m.If(fire & ~ok):
            m.d.sync += self.error.eq(1)

        layer_addr = Cat(self.layer_idx, self.layer_mp)
        for name, table, shape in (("R", Table.R, wd.w), ("inv_rhobar", Table.INV_RHOBAR, wd.w),
                                   ("inv_shape", Table.INV_SHAPE, wd.w),
                                   ("count_shift", Table.COUNT_SHIFT, COUNT_SHIFT_BITS)):
            mem = m.submodules[f"mem_{name}"] = Memory(shape=shape, depth=rows, init=[])
            self._ports(m, mem, layer_addr, getattr(self, name), fire & ok & (tab == int(table)),
                        Cat(p.layer, p.mp), p.value)
        for name, table, shape in (("inv_tiso", Table.INV_TISO, wd.w), ("layers", Table.LAYERS, wd.layer)):
            mem = m.submodules[f"mem_{name}"] = Memory(shape=shape, depth=self._n_mp, init=[])
            self._ports(m, mem, self.mp, getattr(self, name), fire & ok & (tab == int(table)), p.mp, p.value)

        inv = np.zeros(self._depth + 1)
        inv[1:] = 1.0 / np.arange(1, self._depth + 1)
        rom = m.submodules.rom_inv_q = Memory(
            shape=wd.w, depth=self._depth + 1, init=[int(x) for x in fp.from_float(inv, self._fmt, self._mode)])
        rd = rom.read_port()
        m.d.comb += [rd.addr.eq(self.n), self.inv_q.eq(rd.data)]
        with m.If(fire & ok & (tab == int(Table.ETA))):
            m.d.sync += self.eta.eq(p.value)
        return m

    @staticmethod
    def _ports(m, mem, raddr, rdata, we, waddr, wdata):
        rd = mem.read_port()
        wr = mem.write_port()
        m.d.comb += [rd.addr.eq(raddr), rdata.eq(rd.data), wr.addr.eq(waddr), wr.data.eq(wdata), wr.en.eq(we)]
