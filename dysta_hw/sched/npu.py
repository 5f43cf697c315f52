"""The NPU stand-in in gateware: replays every dispatched layer from a memory.

Used by :class:`~dysta_hw.sched.selftest.SelfTest` (Verilator runs) and the board top-levels
(:mod:`boards`). It behaves like the Python stand-in of :func:`dysta_hw.sched.sim.run`: it takes
a dispatch when idle, sends the layer's output beats on the monitor lanes one per cycle
(``k`` non-zero lanes each), and strobes ``layer_done`` ``cycles`` cycles after the dispatch.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Elaboratable, Module, Mux, Signal
from amaranth.lib.memory import Memory

__all__ = ["NpuReplay", "npu_rows", "npu_values", "CYCLE_BITS"]

#: Least width of a layer's cycle count, beat count and non-zeros per beat in the ROM; wider
#: when a job needs it (a long layer of a workload with a wide spread of layer latencies).
CYCLE_BITS = 16
#: Widest ROM field accepted.
MAX_CYCLE_BITS = 32


def npu_rows(dut, jobs, cycle_bits: int | None = None, least: int = CYCLE_BITS) -> tuple[int, dict[int, int]]:
    """The NPU stand-in's rows for ``jobs``: ``(cycle_bits, {address: row})``, a row at address
    ``(tag << layer bits) | layer`` packing (cycles, beats, non-zeros per beat ``k``, ``extra``)
    in fields of ``cycle_bits`` bits (by default the least of at least ``least`` bits that
    holds them). Raises ``ValueError`` for a layer the stand-in cannot replay."""
    lb = dut.widths.layer
    fields = {}
    for j in jobs:
        for layer, spec in enumerate(j.layers):
            n = len(spec.beats)
            k = min(spec.beats, default=0)
            extra = sum(b > k for b in spec.beats)
            if tuple(spec.beats) != (k + 1,) * extra + (k,) * (n - extra):
                raise ValueError(f"job {j.tag} layer {layer}: the NPU stand-in holds beats of k + 1 non-zeros "
                                 f"followed by beats of k, not {spec.beats}")
            limit = cycle_bits or MAX_CYCLE_BITS
            for v, what in ((spec.cycles, "cycles"), (n, "beats"), (k, "non-zeros")):
                if not 0 <= v < 1 << limit:
                    raise ValueError(f"job {j.tag} layer {layer}: {what} {v} does not fit {limit} "
                                     "bits; give the layers fewer cycles (cycles_per_layer)")
            fields[(j.tag << lb) | layer] = (spec.cycles, n, k, extra)
    cb = cycle_bits or max([least] + [v.bit_length() for f in fields.values() for v in f])
    return cb, {a: c | (b << cb) | (k << 2 * cb) | (e << 3 * cb) for a, (c, b, k, e) in fields.items()}


def npu_values(dut) -> list[int]:
    """The value the NPU stand-ins send on each lane when it carries a non-zero: ``1 + lane % 7``,
    kept below ``2**value_width`` (a 1-bit lane carries 1), so that no value is cut to zero."""
    top = (1 << dut.value_width) - 1
    return [min(i % 7 + 1, top) for i in range(dut.lanes)]


class NpuReplay(Elaboratable):
    """Drives ``dut``'s ``dispatch.ready``, ``npu_data`` and ``layer_done`` from rows addressed
    by ``(tag, layer)`` (:func:`npu_rows`): ``jobs[tag].layers[layer]`` gives (cycles, beats,
    non-zeros per beat ``k``, ``extra``): the first ``extra`` beats carry ``k + 1`` non-zeros, the
    others ``k``.

    With ``jobs``, the rows are a ROM inside (the board top-levels). Without, they are read from a
    memory outside, combinationally: ``rd_addr`` (output) and ``rd_data`` (input, ``4 *
    cycle_bits`` bits), so that one design replays any workload (:class:`~dysta_hw.sched.selftest.SelfTest`).

    Outputs: ``disp`` (a dispatch is taken this cycle), ``ld`` (the layer-done strobe) and
    ``nnz`` (non-zeros sent in the running layer so far).
    """

    def __init__(self, dut, jobs=None, cycle_bits: int = MAX_CYCLE_BITS):
        self.dut = dut
        if jobs is not None:
            # a ROM (the board top-levels): its fields and counters as wide as the jobs need
            self.cycle_bits, self.rows = npu_rows(dut, jobs, least=1)
        else:
            self.cycle_bits, self.rows = cycle_bits, None
        self.rd_addr = Signal(dut.tag_bits + dut.widths.layer)
        self.rd_data = Signal(4 * self.cycle_bits)
        self.disp = Signal()
        self.ld = Signal()
        self.nnz = Signal(32)

    def elaborate(self, platform):
        m = Module()
        dut = self.dut
        cb = self.cycle_bits
        if self.rows is not None:
            depth = max(1, max(self.rows, default=0) + 1)
            rom = Memory(shape=4 * cb, depth=depth, init=[self.rows.get(i, 0) for i in range(depth)])
            m.submodules.rom = rom
            rd = rom.read_port(domain="comb")
            m.d.comb += [rd.addr.eq(self.rd_addr), self.rd_data.eq(rd.data)]
        data = self.rd_data
        running, left, beats, k_reg, extra = Signal(), Signal(cb), Signal(cb), Signal(cb), Signal(cb)
        k_now = Signal(cb + 1)
        m.d.comb += k_now.eq(k_reg + (extra != 0))
        m.d.comb += [self.rd_addr.eq(Cat(dut.dispatch.payload.layer, dut.dispatch.payload.tag)),
                     dut.dispatch.ready.eq(~running)]
        m.d.comb += [self.ld.eq(running & (left == 0)), dut.layer_done.eq(self.ld)]
        send = running & (beats != 0)
        m.d.comb += dut.npu_data.valid.eq(send)
        nonzero = npu_values(dut)
        for i in range(dut.lanes):
            m.d.comb += dut.npu_data.payload[i].eq(Mux(k_now > i, nonzero[i], 0))
        m.d.comb += self.disp.eq(dut.dispatch.valid & dut.dispatch.ready)
        with m.If(self.disp):
            m.d.sync += [running.eq(1), left.eq(data[:cb] - 1), beats.eq(data[cb:2 * cb]),
                         k_reg.eq(data[2 * cb:3 * cb]), extra.eq(data[3 * cb:]), self.nnz.eq(0)]
        with m.Elif(self.ld):
            m.d.sync += running.eq(0)
        with m.Elif(running):
            m.d.sync += left.eq(left - 1)
            with m.If(send):
                m.d.sync += [beats.eq(beats - 1), self.nnz.eq(self.nnz + k_now)]
                with m.If(extra != 0):
                    m.d.sync += extra.eq(extra - 1)
        return m
