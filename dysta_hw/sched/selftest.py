"""A self-contained test bench in gateware: LUT writer, host and NPU stand-in around the scheduler.

For long workloads under Verilator (``dysta_hw.fp.verilator.build``): memories hold the LUT
writes, the requests and every layer's (cycles, beats, non-zeros per beat); the bench behaves
exactly like the Python stand-in of :mod:`dysta_hw.sched.sim` (same handshakes in the same
cycles) and shows every event of a cycle on one packed output ``vout``, which
:meth:`SelfTest.record` turns into a :class:`~dysta_hw.sched.sim.Record`.

The memories are written through the input ``vin``, one row per cycle (:meth:`SelfTest.load_records`),
while the bench stands still and the scheduler idles (it sees no LUT write and no request); the
last record starts the bench. The run is the Python bench's, later by the cycles of loading. So
the design does not depend on the workload: one compiled model, named by :attr:`SelfTest.key`,
runs every workload that fits its capacity.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Elaboratable, EnableInserter, Module, Signal, Value
from amaranth.lib.memory import Memory
from amaranth.utils import bits_for, ceil_log2

from dysta_sw.hwsched import Accept, LayerDone

from .npu import MAX_CYCLE_BITS, NpuReplay, npu_rows
from .sim import Record

__all__ = ["SelfTest"]

#: Kinds of the load records on ``vin`` (its first byte; 0: nothing).
LOAD_LUT, LOAD_JOB, LOAD_NPU, LOAD_START = 1, 2, 3, 4
#: Bytes of a load record's address.
ADDR_BYTES = 4


def _pow2(n: int, least: int) -> int:
    return 1 << ceil_log2(max(n, least))


class SelfTest(Elaboratable):
    """``dut`` (a :class:`DystaScheduler`) driven from memories; see the module docstring.

    ``jobs`` must have tags ``0 .. len(jobs)-1`` in list order, non-decreasing arrivals, and
    layers whose beats :class:`~dysta_hw.sched.npu.NpuReplay` can hold (``k + 1`` non-zeros, then ``k``).
    The memories hold ``lut_capacity`` LUT writes and ``job_capacity`` requests (by default the
    powers of two that hold these, at least 256 and 64 or what the tags can name: workloads of the
    same size share a model).
    """

    def __init__(self, dut, lut_writes, jobs, *, lut_capacity: int | None = None, job_capacity: int | None = None):
        self.dut, self.lut_writes, self.jobs = dut, list(lut_writes), list(jobs)
        for i, j in enumerate(self.jobs):
            if j.tag != i:
                raise ValueError("SelfTest jobs need tags 0..n-1 in order")
        self.lut_capacity = lut_capacity or _pow2(len(self.lut_writes), 256)
        # at least 64 requests, where the scheduler's tags can name them
        self.job_capacity = job_capacity or max(_pow2(len(self.jobs), 1),
                                                min(_pow2(len(self.jobs), 64), 1 << dut.tag_bits))
        if len(self.lut_writes) > self.lut_capacity or len(self.jobs) > self.job_capacity:
            raise ValueError(f"{len(self.lut_writes)} LUT writes and {len(self.jobs)} requests do not fit a bench "
                             f"for {self.lut_capacity} and {self.job_capacity}")
        if self.job_capacity > 1 << dut.tag_bits:
            raise ValueError(f"{self.job_capacity} requests need more than the scheduler's {dut.tag_bits}-bit tags")
        self.cycle_bits = MAX_CYCLE_BITS
        self._npu_rows = npu_rows(dut, self.jobs, self.cycle_bits)[1]
        wd, tb = dut.widths, dut.time_bits
        self._lut_width = 3 + wd.mp + wd.layer + wd.value
        self._job_width = 2 * tb + wd.mp
        data_bits = max(self._lut_width, self._job_width, 4 * self.cycle_bits, 64)
        self.in_bytes = 1 + ADDR_BYTES + (data_bits + 7) // 8
        self.vin = Signal(8 * self.in_bytes, name="vin")
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
        self.out_bytes = off
        self.vout = Signal(8 * off, name="vout")
        self._sig = {name: Signal(width, name=f"o_{name}") for name, width, _ in self.fields}

    @property
    def key(self) -> tuple:
        """What the design depends on besides the scheduler's parameters (not the workload)."""
        return ("SelfTest", 2, self.lut_capacity, self.job_capacity, self.cycle_bits)

    def load_records(self) -> np.ndarray:
        """The ``vin`` records, one per cycle, that write this workload into the bench's memories
        and start it (the last record)."""
        wd, tb = self.dut.widths, self.dut.time_bits
        rows = [(LOAD_LUT, i, t | (mp << 3) | (layer << (3 + wd.mp)) | (v << (3 + wd.mp + wd.layer)))
                for i, (t, mp, layer, v) in enumerate(self.lut_writes)]
        rows += [(LOAD_JOB, j.tag, j.arrival | (j.deadline << tb) | (j.mp << (2 * tb))) for j in self.jobs]
        rows += [(LOAD_NPU, a, r) for a, r in sorted(self._npu_rows.items())]
        rows.append((LOAD_START, 0, len(self.lut_writes) | (len(self.jobs) << 32)))
        db = self.in_bytes - 1 - ADDR_BYTES
        out = np.zeros((len(rows), self.in_bytes), np.uint8)
        for i, (kind, addr, data) in enumerate(rows):
            out[i] = np.frombuffer(bytes([kind]) + addr.to_bytes(ADDR_BYTES, "little") + data.to_bytes(db, "little"),
                                   np.uint8)
        return out

    def elaborate(self, platform):
        m = Module()
        dut = self.dut
        wd, tb = dut.widths, dut.time_bits
        o = self._sig
        for name, width, off in self.fields:
            m.d.comb += self.vout[8 * off:8 * off + width].eq(o[name])

        # loading: one memory row per cycle from vin, then the start record
        kind, addr, data = self.vin[:8], self.vin[8:8 + 8 * ADDR_BYTES], self.vin[8 + 8 * ADDR_BYTES:]
        jb = ceil_log2(self.job_capacity)
        rams = {LOAD_LUT: Memory(shape=self._lut_width, depth=self.lut_capacity, init=[]),
                LOAD_JOB: Memory(shape=self._job_width, depth=self.job_capacity, init=[]),
                LOAD_NPU: Memory(shape=4 * self.cycle_bits, depth=self.job_capacity << wd.layer, init=[])}
        m.submodules.lut_ram, m.submodules.job_ram, m.submodules.npu_ram = rams.values()
        for k, ram in rams.items():
            wp = ram.write_port()
            m.d.comb += [wp.addr.eq(addr), wp.data.eq(data), wp.en.eq(kind == k)]
        run = Signal()
        n_lut, n_jobs = Signal(range(self.lut_capacity + 1)), Signal(range(self.job_capacity + 1))
        with m.If(kind == LOAD_START):
            m.d.sync += [run.eq(1), n_lut.eq(data[:32]), n_jobs.eq(data[32:64])]

        # the bench stands still until the start; the scheduler idles (no LUT write, no request):
        # gating its registers too would make the compiled model a third slower
        m.submodules.dut = dut
        b = Module()
        # LUT writer
        lrd = rams[LOAD_LUT].read_port(domain="comb")
        lptr = Signal(range(self.lut_capacity + 1))
        lut_done = Signal()
        b.d.comb += [lrd.addr.eq(lptr), lut_done.eq(lptr == n_lut), dut.lut.valid.eq(~lut_done),
                     Value.cast(dut.lut.payload).eq(lrd.data)]
        with b.If(dut.lut.valid & dut.lut.ready):
            b.d.sync += lptr.eq(lptr + 1)
        base = Signal(tb)
        with b.If(~lut_done):
            b.d.sync += base.eq(dut.now + 1)

        # host
        jrd = rams[LOAD_JOB].read_port(domain="comb")
        jptr = Signal(range(self.job_capacity + 1))
        b.d.comb += jrd.addr.eq(jptr)
        arrival, deadline = jrd.data[:tb], jrd.data[tb:2 * tb]
        p = dut.req.payload
        b.d.comb += [dut.req.valid.eq(lut_done & (jptr < n_jobs) & (dut.now >= base + arrival)),
                     p.tag.eq(jptr), p.mp.eq(jrd.data[2 * tb:]), p.deadline.eq(deadline + base)]
        acc = dut.req.valid & dut.req.ready
        with b.If(acc):
            b.d.sync += jptr.eq(jptr + 1)

        # NPU: every layer from the memory at (tag, layer)
        b.submodules.npu = npu = NpuReplay(dut, cycle_bits=self.cycle_bits)
        nrd = rams[LOAD_NPU].read_port(domain="comb")
        b.d.comb += [nrd.addr.eq(npu.rd_addr[:wd.layer + jb]), npu.rd_data.eq(nrd.data), dut.done.ready.eq(1)]
        ld, nnz, disp = npu.ld, npu.nnz, npu.disp

        if dut.trace is not None:
            t = dut.trace.payload
            b.d.comb += [o["tr"].eq(dut.trace.valid), o["tr_mode"].eq(t.mode), o["tr_slot"].eq(t.slot),
                         o["tr_tag"].eq(t.tag), o["tr_gamma"].eq(t.gamma), o["tr_score"].eq(t.score)]
        lut_seen = Signal()
        b.d.sync += lut_seen.eq(lut_seen | lut_done)
        b.d.comb += o["keep"].eq(run & (o["acc"] | o["ld"] | o["disp"] | o["tr"] | o["done"] | (lut_done & ~lut_seen)))
        b.d.comb += [o["now"].eq(dut.now), o["lut_done"].eq(lut_done), o["lut_error"].eq(dut.lut_error),
                     o["acc"].eq(acc), o["ld"].eq(ld), o["nnz"].eq(nnz), o["disp"].eq(disp),
                     o["disp_tag"].eq(dut.dispatch.payload.tag), o["disp_mp"].eq(dut.dispatch.payload.mp),
                     o["disp_layer"].eq(dut.dispatch.payload.layer),
                     o["done"].eq(dut.done.valid), o["done_tag"].eq(dut.done.payload), o["count"].eq(dut.count)]
        m.submodules.bench = EnableInserter(run)(b)
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

