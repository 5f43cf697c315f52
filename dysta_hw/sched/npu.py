"""The NPU stand-in in gateware: replays every dispatched layer from a ROM.

Used by :class:`~dysta_hw.sched.selftest.SelfTest` (Verilator runs) and the board top-levels
(:mod:`boards`). It behaves like the Python stand-in of :func:`dysta_hw.sched.sim.run`: it takes
a dispatch when idle, sends the layer's output beats on the monitor lanes one per cycle
(``k`` non-zero lanes each), and strobes ``layer_done`` ``cycles`` cycles after the dispatch.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Elaboratable, Module, Mux, Signal
from amaranth.lib.memory import Memory

__all__ = ["NpuReplay", "CYCLE_BITS"]

#: Width of a layer's cycle count, beat count and non-zeros per beat in the ROM.
CYCLE_BITS = 16


class NpuReplay(Elaboratable):
    """Drives ``dut``'s ``dispatch.ready``, ``npu_data`` and ``layer_done`` from a ROM addressed
    by ``(tag, layer)``: ``jobs[tag].layers[layer]`` gives (cycles, beats, non-zeros per beat;
    all beats of a layer carry the same count).

    Outputs: ``disp`` (a dispatch is taken this cycle), ``ld`` (the layer-done strobe) and
    ``nnz`` (non-zeros sent in the running layer so far).
    """

    def __init__(self, dut, jobs):
        self.dut = dut
        self.rows = {}
        lb = dut.widths.layer
        for j in jobs:
            for layer, spec in enumerate(j.layers):
                if len(set(spec.beats)) > 1:
                    raise ValueError(f"job {j.tag} layer {layer}: the ROM holds one non-zero count per layer")
                k = spec.beats[0] if spec.beats else 0
                for v, what in ((spec.cycles, "cycles"), (len(spec.beats), "beats"), (k, "non-zeros")):
                    if not 0 <= v < 1 << CYCLE_BITS:
                        raise ValueError(f"job {j.tag} layer {layer}: {what} {v} does not fit {CYCLE_BITS} bits")
                self.rows[(j.tag << lb) | layer] = (spec.cycles | (len(spec.beats) << CYCLE_BITS)
                                                    | (k << 2 * CYCLE_BITS))
        self.disp = Signal()
        self.ld = Signal()
        self.nnz = Signal(32)

    def elaborate(self, platform):
        m = Module()
        dut = self.dut
        cb = CYCLE_BITS
        depth = max(1, max(self.rows, default=0) + 1)
        rom = Memory(shape=3 * cb, depth=depth, init=[self.rows.get(i, 0) for i in range(depth)])
        m.submodules.rom = rom
        rd = rom.read_port(domain="comb")
        running, left, beats, k_reg = Signal(), Signal(cb), Signal(cb), Signal(cb)
        m.d.comb += [rd.addr.eq(Cat(dut.dispatch.payload.layer, dut.dispatch.payload.tag)),
                     dut.dispatch.ready.eq(~running)]
        m.d.comb += [self.ld.eq(running & (left == 0)), dut.layer_done.eq(self.ld)]
        send = running & (beats != 0)
        m.d.comb += dut.npu_data.valid.eq(send)
        for i in range(dut.lanes):
            m.d.comb += dut.npu_data.payload[i].eq(Mux(k_reg > i, i % 7 + 1, 0))
        m.d.comb += self.disp.eq(dut.dispatch.valid & dut.dispatch.ready)
        with m.If(self.disp):
            m.d.sync += [running.eq(1), left.eq(rd.data[:cb] - 1), beats.eq(rd.data[cb:2 * cb]),
                         k_reg.eq(rd.data[2 * cb:]), self.nnz.eq(0)]
        with m.Elif(self.ld):
            m.d.sync += running.eq(0)
        with m.Elif(running):
            m.d.sync += left.eq(left - 1)
            with m.If(send):
                m.d.sync += [beats.eq(beats - 1), self.nnz.eq(self.nnz + k_reg)]
        return m
