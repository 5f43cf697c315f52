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

#: Least width of a layer's cycle count, beat count and non-zeros per beat in the ROM; wider
#: when a job needs it (a long layer of a workload with a wide spread of layer latencies).
CYCLE_BITS = 16
#: Widest ROM field accepted.
MAX_CYCLE_BITS = 32


class NpuReplay(Elaboratable):
    """Drives ``dut``'s ``dispatch.ready``, ``npu_data`` and ``layer_done`` from a ROM addressed
    by ``(tag, layer)``: ``jobs[tag].layers[layer]`` gives (cycles, beats, non-zeros per beat
    ``k``, ``extra``): the first ``extra`` beats carry ``k + 1`` non-zeros, the others ``k``.

    Outputs: ``disp`` (a dispatch is taken this cycle), ``ld`` (the layer-done strobe) and
    ``nnz`` (non-zeros sent in the running layer so far).
    """

    def __init__(self, dut, jobs):
        self.dut = dut
        lb = dut.widths.layer
        fields = {}
        for j in jobs:
            for layer, spec in enumerate(j.layers):
                n = len(spec.beats)
                k = min(spec.beats, default=0)
                extra = sum(b > k for b in spec.beats)
                if tuple(spec.beats) != (k + 1,) * extra + (k,) * (n - extra):
                    raise ValueError(f"job {j.tag} layer {layer}: the ROM holds beats of k + 1 non-zeros "
                                     f"followed by beats of k, not {spec.beats}")
                for v, what in ((spec.cycles, "cycles"), (n, "beats"), (k, "non-zeros")):
                    if not 0 <= v < 1 << MAX_CYCLE_BITS:
                        raise ValueError(f"job {j.tag} layer {layer}: {what} {v} does not fit {MAX_CYCLE_BITS} "
                                         "bits; give the layers fewer cycles (cycles_per_layer)")
                fields[(j.tag << lb) | layer] = (spec.cycles, n, k, extra)
        #: width of each ROM field
        self.cycle_bits = cb = max([CYCLE_BITS] + [v.bit_length() for f in fields.values() for v in f])
        self.rows = {a: c | (b << cb) | (k << 2 * cb) | (e << 3 * cb) for a, (c, b, k, e) in fields.items()}
        self.disp = Signal()
        self.ld = Signal()
        self.nnz = Signal(32)

    def elaborate(self, platform):
        m = Module()
        dut = self.dut
        cb = self.cycle_bits
        depth = max(1, max(self.rows, default=0) + 1)
        rom = Memory(shape=4 * cb, depth=depth, init=[self.rows.get(i, 0) for i in range(depth)])
        m.submodules.rom = rom
        rd = rom.read_port(domain="comb")
        running, left, beats, k_reg, extra = Signal(), Signal(cb), Signal(cb), Signal(cb), Signal(cb)
        k_now = Signal(cb + 1)
        m.d.comb += k_now.eq(k_reg + (extra != 0))
        m.d.comb += [rd.addr.eq(Cat(dut.dispatch.payload.layer, dut.dispatch.payload.tag)),
                     dut.dispatch.ready.eq(~running)]
        m.d.comb += [self.ld.eq(running & (left == 0)), dut.layer_done.eq(self.ld)]
        send = running & (beats != 0)
        m.d.comb += dut.npu_data.valid.eq(send)
        for i in range(dut.lanes):
            m.d.comb += dut.npu_data.payload[i].eq(Mux(k_now > i, i % 7 + 1, 0))
        m.d.comb += self.disp.eq(dut.dispatch.valid & dut.dispatch.ready)
        with m.If(self.disp):
            m.d.sync += [running.eq(1), left.eq(rd.data[:cb] - 1), beats.eq(rd.data[cb:2 * cb]),
                         k_reg.eq(rd.data[2 * cb:3 * cb]), extra.eq(rd.data[3 * cb:]), self.nnz.eq(0)]
        with m.Elif(self.ld):
            m.d.sync += running.eq(0)
        with m.Elif(running):
            m.d.sync += left.eq(left - 1)
            with m.If(send):
                m.d.sync += [beats.eq(beats - 1), self.nnz.eq(self.nnz + k_now)]
                with m.If(extra != 0):
                    m.d.sync += extra.eq(extra - 1)
        return m
