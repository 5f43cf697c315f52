"""A self-contained test bench in gateware: LUT writer, host and NPU stand-in around the scheduler.

For long workloads under Verilator (``dysta_hw.fp.verilator.build``): ROMs hold the LUT writes,
the requests and every layer's (cycles, beats, non-zeros per beat); the bench behaves exactly
like the Python stand-in of :mod:`dysta_hw.sched.sim` (same handshakes in the same cycles) and
shows every event of a cycle on one packed output ``vout``, which :meth:`SelfTest.record`
turns into a :class:`~dysta_hw.sched.sim.Record`.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Elaboratable, Module, Signal, Value
from amaranth.lib.memory import Memory
from amaranth.utils import bits_for

from dysta_sw.hwsched import Accept, LayerDone

from .npu import NpuReplay
from .sim import Record

__all__ = ["SelfTest"]


class SelfTest(Elaboratable):
    """``dut`` (a :class:`DystaScheduler`) driven by ROMs; see the module docstring.

    ``jobs`` must have tags ``0 .. len(jobs)-1`` in list order, non-decreasing arrivals, and
    layers whose beats :class:`~dysta_hw.sched.npu.NpuReplay` can hold (``k + 1`` non-zeros, then ``k``).
    """

    def __init__(self, dut, lut_writes, jobs):
        self.dut, self.lut_writes, self.jobs = dut, list(lut_writes), list(jobs)
        for i, j in enumerate(self.jobs):
            if j.tag != i:
                raise ValueError("SelfTest jobs need tags 0..n-1 in order")
        self.vin = Signal(8, name="vin")
        # keep: this cycle has an event (or is the first after programming), the records a
        # compiled run returns (dysta_hw.fp.verilator.Batches: bit 0 of the first byte)
        fields = [("keep", 1), ("now", dut.time_bits), ("lut_done", 1), ("lut_error", 1), ("acc", 1), ("ld", 1),
                  ("nnz", 32), ("disp", 1), ("disp_tag", dut.tag_bits), ("disp_mp", dut.widths.mp),
                  ("disp_layer", dut.widths.layer), ("tr", 1), ("tr_mode", 1), ("tr_slot", dut.widths.slot),
                  ("tr_tag", dut.tag_bits), ("tr_gamma", dut.fmt.width), ("tr_score", dut.fmt.width),
                  ("done", 1), ("done_tag", dut.tag_bits), ("count", bits_for(dut.depth))]
        self.fields, off = [], 0
        for name, width in fields:
            self.fields.append((name, width, off))
            off += (width + 7) // 8
        self.in_bytes, self.out_bytes = 1, off
        self.vout = Signal(8 * off, name="vout")
        self._sig = {name: Signal(width, name=f"o_{name}") for name, width, _ in self.fields}

    def elaborate(self, platform):
        m = Module()
        dut = self.dut
        m.submodules.dut = dut
        wd = dut.widths
        o = self._sig
        for name, width, off in self.fields:
            m.d.comb += self.vout[8 * off:8 * off + width].eq(o[name])

        # LUT writer
        lw = self.lut_writes or [(6, 0, 0, 0)]
        lut_rom = Memory(shape=3 + wd.mp + wd.layer + wd.value, depth=len(lw), init=[
            t | (mp << 3) | (layer << (3 + wd.mp)) | (v << (3 + wd.mp + wd.layer)) for t, mp, layer, v in lw])
        m.submodules.lut_rom = lut_rom
        lrd = lut_rom.read_port(domain="comb")
        lptr = Signal(range(len(lw) + 1))
        lut_done = Signal()
        m.d.comb += [lrd.addr.eq(lptr), lut_done.eq(lptr == len(lw)), dut.lut.valid.eq(~lut_done),
                     Value.cast(dut.lut.payload).eq(lrd.data)]
        with m.If(dut.lut.valid & dut.lut.ready):
            m.d.sync += lptr.eq(lptr + 1)
        base = Signal(dut.time_bits)
        with m.If(~lut_done):
            m.d.sync += base.eq(dut.now + 1)

        # host
        n = len(self.jobs)
        tb = dut.time_bits
        job_rom = Memory(shape=2 * tb + wd.mp, depth=max(n, 1), init=[
            j.arrival | (j.deadline << tb) | (j.mp << (2 * tb)) for j in self.jobs])
        m.submodules.job_rom = job_rom
        jrd = job_rom.read_port(domain="comb")
        jptr = Signal(range(n + 1))
        m.d.comb += jrd.addr.eq(jptr)
        arrival, deadline = jrd.data[:tb], jrd.data[tb:2 * tb]
        p = dut.req.payload
        m.d.comb += [dut.req.valid.eq(lut_done & (jptr < n) & (dut.now >= base + arrival)),
                     p.tag.eq(jptr), p.mp.eq(jrd.data[2 * tb:]), p.deadline.eq(deadline + base)]
        acc = dut.req.valid & dut.req.ready
        with m.If(acc):
            m.d.sync += jptr.eq(jptr + 1)

        # NPU: every layer from a ROM at (tag, layer)
        m.submodules.npu = npu = NpuReplay(dut, self.jobs)
        m.d.comb += dut.done.ready.eq(1)
        ld, nnz, disp = npu.ld, npu.nnz, npu.disp

        if dut.trace is not None:
            t = dut.trace.payload
            m.d.comb += [o["tr"].eq(dut.trace.valid), o["tr_mode"].eq(t.mode), o["tr_slot"].eq(t.slot),
                         o["tr_tag"].eq(t.tag), o["tr_gamma"].eq(t.gamma), o["tr_score"].eq(t.score)]
        lut_seen = Signal()
        m.d.sync += lut_seen.eq(lut_seen | lut_done)
        m.d.comb += o["keep"].eq(o["acc"] | o["ld"] | o["disp"] | o["tr"] | o["done"] | (lut_done & ~lut_seen))
        m.d.comb += [o["now"].eq(dut.now), o["lut_done"].eq(lut_done), o["lut_error"].eq(dut.lut_error),
                     o["acc"].eq(acc), o["ld"].eq(ld), o["nnz"].eq(nnz), o["disp"].eq(disp),
                     o["disp_tag"].eq(dut.dispatch.payload.tag), o["disp_mp"].eq(dut.dispatch.payload.mp),
                     o["disp_layer"].eq(dut.dispatch.payload.layer),
                     o["done"].eq(dut.done.valid), o["done_tag"].eq(dut.done.payload), o["count"].eq(dut.count)]
        return m

    def unpack(self, records: np.ndarray, names=None) -> dict:
        """Per-cycle arrays of every output field (or of those in ``names``) from
        ``(cycles, out_bytes)`` records."""
        n = len(records)
        out = {}
        for name, width, off in self.fields:
            if names is not None and name not in names:
                continue
            if width <= 8:  # a flag or a narrow field: one byte
                out[name] = (records[:, off] & ((1 << width) - 1)).astype(np.int64)
                continue
            nb = (width + 7) // 8
            b = np.zeros((n, 8), np.uint8)
            b[:, :nb] = records[:, off:off + nb]
            out[name] = (b.view("<u8").reshape(n) & np.uint64((1 << width) - 1)).astype(np.int64)
        return out

    def record(self, records: np.ndarray) -> Record:
        """The events of a run, as :func:`dysta_hw.sched.sim.run` records them."""
        f = self.unpack(records)
        rec = Record()
        start = int(np.argmax(f["lut_done"] == 1))
        rec.base = int(f["now"][start])
        rec.lut_error = bool(f["lut_error"][start])
        jobs = self.jobs
        for k, i in enumerate(np.flatnonzero(f["acc"])):
            j = jobs[k]
            rec.accepts.append(Accept(int(f["now"][i]), j.tag, j.mp, j.deadline + rec.base))
        for i in np.flatnonzero(f["ld"]):
            rec.layer_dones.append(LayerDone(int(f["now"][i]), int(f["nnz"][i])))
        for i in np.flatnonzero(f["disp"]):
            rec.dispatches.append((int(f["now"][i]), int(f["disp_tag"][i]), int(f["disp_mp"][i]),
                                   int(f["disp_layer"][i])))
        for i in np.flatnonzero(f["tr"]):
            rec.trace.append((int(f["now"][i]), int(f["tr_mode"][i]), int(f["tr_slot"][i]), int(f["tr_tag"][i]),
                              int(f["tr_gamma"][i]), int(f["tr_score"][i])))
        for i in np.flatnonzero(f["done"]):
            rec.dones.append((int(f["now"][i]), int(f["done_tag"][i])))
        rec.max_count = int(f["count"].max())
        rec.cycles = int(f["now"][-1]) - rec.base
        return rec

