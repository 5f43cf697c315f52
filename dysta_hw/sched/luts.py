"""The scheduler's look-up tables, programmed by the host through a write stream."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from dysta_sw import fp
from dysta_sw.hwsched import COUNT_SHIFT_BITS, Table

from .layouts import Widths, lut_write_layout, times_const
from .ram import RegisteredRam

__all__ = ["LutBank"]

#: Cycles from ``mp``/``layer``/``n`` to the table outputs (address register + registered RAM).
READ_LATENCY = 3


class LutBank(wiring.Component):
    """``R``, ``inv_rhobar``, ``inv_shape``, ``count_shift`` per (model-pattern, layer),
    ``inv_tiso`` and the layer count per model-pattern, the ``1/n`` ROM and ``eta``.

    Per-layer tables hold exactly ``n_mp * (max_layers + 1)`` rows, row
    ``mp * (max_layers + 1) + layer`` for a layer of a model-pattern (the request table keeps each
    request's row). Every table is read through a registered address and a
    :class:`RegisteredRam`: the outputs are those of the ``row``, ``mp`` and ``n`` presented
    ``READ_LATENCY`` (3) cycles earlier. A write outside the tables (``mp >= n_mp``,
    ``layer > max_layers``, a table number above 6, a ``count_shift`` of
    ``2**COUNT_SHIFT_BITS`` or more, a layer count outside ``1..max_layers``) changes nothing and
    sets the sticky ``error``. Writes are registered: one taken in a cycle is in the tables two
    cycles later (reads presented from then on see it).

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
    row, mp : In
        Addresses of the per-layer tables (``R``, ``inv_rhobar``, ``inv_shape``, ``count_shift``
        Out) and of the per-model-pattern tables (``inv_tiso``, ``layers`` Out).
    n : In
        Queue length for the ``1/n`` ROM; ``inv_q`` Out.
    eta : Out
        The ``eta`` register.
    chk_mp : In ; chk_ok : Out
        Combinational: ``chk_mp`` names a model-pattern whose layer count has been written.
    """

    def __init__(self, *, widths: Widths, n_mp, max_layers, depth, fmt, mode):
        self._wd, self._n_mp, self._max_layers, self._depth = widths, n_mp, max_layers, depth
        self._fmt, self._mode = fmt, mode
        w = widths.w
        super().__init__({
            "w": In(stream.Signature(lut_write_layout(widths))),
            "w_en": In(1),
            "error": Out(1),
            "row": In(widths.row), "mp": In(widths.mp),
            "R": Out(w), "inv_rhobar": Out(w), "inv_shape": Out(w), "count_shift": Out(COUNT_SHIFT_BITS),
            "inv_tiso": Out(w), "layers": Out(widths.layer),
            "n": In(range(depth + 1)), "inv_q": Out(w),
            "eta": Out(w),
            "chk_mp": In(widths.mp), "chk_ok": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        wd = self._wd
        stride = wd.stride
        rows = self._n_mp * stride
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

        # the write, registered: decoded in the cycle it is taken, written in the next
        we = Signal(7)
        w_row, w_mp, w_val = Signal(range(max(rows, 2))), Signal(wd.mp), Signal(wd.value)
        m.d.sync += [we.eq(0), w_row.eq(times_const(p.mp, stride) + p.layer), w_mp.eq(p.mp), w_val.eq(p.value)]
        with m.If(fire & ok):
            m.d.sync += we.eq(1 << tab)

        # the read address, registered
        r_row, r_mp, r_n = Signal.like(w_row), Signal(wd.mp), Signal(range(self._depth + 1))
        m.d.sync += [r_row.eq(self.row), r_mp.eq(self.mp), r_n.eq(self.n)]

        for name, table, shape in (("R", Table.R, wd.w), ("inv_rhobar", Table.INV_RHOBAR, wd.w),
                                   ("inv_shape", Table.INV_SHAPE, wd.w),
                                   ("count_shift", Table.COUNT_SHIFT, COUNT_SHIFT_BITS)):
            mem = m.submodules[f"mem_{name}"] = RegisteredRam(shape, rows)
            m.d.comb += [mem.r_addr.eq(r_row), getattr(self, name).eq(mem.r_data), mem.w_addr.eq(w_row),
                         mem.w_data.eq(w_val), mem.w_en.eq(we[int(table)])]
        for name, table, shape in (("inv_tiso", Table.INV_TISO, wd.w), ("layers", Table.LAYERS, wd.layer)):
            mem = m.submodules[f"mem_{name}"] = RegisteredRam(shape, self._n_mp)
            m.d.comb += [mem.r_addr.eq(r_mp), getattr(self, name).eq(mem.r_data), mem.w_addr.eq(w_mp),
                         mem.w_data.eq(w_val), mem.w_en.eq(we[int(table)])]

        inv = np.zeros(self._depth + 1)
        inv[1:] = 1.0 / np.arange(1, self._depth + 1)
        rom = m.submodules.rom_inv_q = RegisteredRam(
            wd.w, self._depth + 1, init=[int(x) for x in fp.from_float(inv, self._fmt, self._mode)])
        m.d.comb += [rom.r_addr.eq(r_n), self.inv_q.eq(rom.r_data)]
        with m.If(we[int(Table.ETA)]):
            m.d.sync += self.eta.eq(w_val)

        # model-patterns with a layer count: requests naming another are refused
        # (set in the cycle the write is taken: a request in the next cycle is accepted)
        programmed = Signal(self._n_mp)
        with m.If(fire & ok & (tab == int(Table.LAYERS))):
            m.d.sync += programmed.bit_select(p.mp, 1).eq(1)
        m.d.comb += self.chk_ok.eq((self.chk_mp < self._n_mp) & programmed.bit_select(self.chk_mp, 1))
        return m
