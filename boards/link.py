"""The board's gateware: the scheduler, an NPU stand-in and the host link over a UART.

:class:`HostLink` is platform independent (ports ``rx``, ``tx``, ``leds``); the board
top-levels (:mod:`boards.build`) connect it to pins. The framing is in :mod:`boards.protocol`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Elaboratable, EnableInserter, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from dysta_hw.sched import DystaScheduler
from dysta_hw.sched.npu import NpuReplay

from .protocol import CMD_LEN, EVENT_LEN, RX_BUFFER, check_params
from .uart import UARTRx, UARTTx

__all__ = ["HostLink"]

_MAX_CMD = max(CMD_LEN.values()) - 1  # payload bytes of the longest command


class _Core(Elaboratable):
    """The scheduler and the NPU stand-in: the part that stops when an event queue is full."""

    def __init__(self, dut, jobs):
        self.dut, self.npu = dut, NpuReplay(dut, jobs)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut, m.submodules.npu = self.dut, self.npu
        m.d.comb += self.dut.done.ready.eq(1)
        return m


class HostLink(wiring.Component):
    """``DystaScheduler(**sched)`` with the NPU stand-in replaying ``jobs`` (``dysta_hw.sched.sim.Job``
    with tags ``0 .. n-1``: the ROM is addressed by tag and layer), commanded over a UART of
    ``divisor`` clock cycles per bit.

    ``leds``: bit 0 a request is in the table, bit 1 the scheduler is deciding, bit 2 a LUT
    write was out of range, bit 3 the receive buffer overflowed or a command was refused.
    """

    def __init__(self, sched: dict, jobs, *, divisor: int, queue_depth: int = 16):
        self.dut = DystaScheduler(**sched)
        wd = self.dut.widths
        check_params(tag_bits=wd.tag, n_mp=self.dut.n_mp, max_layers=self.dut.max_layers, time_bits=wd.time,
                     fmt_width=wd.w)
        self.jobs = list(jobs)
        for i, j in enumerate(self.jobs):
            if j.tag != i:
                raise ValueError("the NPU stand-in's ROM is addressed by tag: jobs need tags 0 .. n-1 in order")
        if queue_depth < 2:
            raise ValueError(f"queue_depth must be at least 2, not {queue_depth!r}")
        self.divisor, self.queue_depth = divisor, queue_depth
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "leds": Out(4)})

    def elaborate(self, platform):
        m = Module()
        dut = self.dut
        wd = dut.widths
        m.submodules.uart_rx = urx = UARTRx(self.divisor)
        m.submodules.uart_tx = utx = UARTTx(self.divisor)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]

        # receive buffer; an overflow is flagged, never silent
        m.submodules.rx_fifo = rxf = SyncFIFOBuffered(width=8, depth=RX_BUFFER)
        rx_overflow = Signal()
        m.d.comb += [rxf.w_data.eq(urx.data.payload), rxf.w_en.eq(urx.data.valid)]
        with m.If(urx.data.valid & ~rxf.w_rdy):
            m.d.sync += rx_overflow.eq(1)

        # the core, stopped while an event queue is full
        core = _Core(dut, self.jobs)
        npu = core.npu
        en = Signal()
        m.submodules.core = EnableInserter(en)(core)
        queues = {}
        for kind, width in (("A", 16 + 48), ("D", 16 + 8 + 48), ("L", 32 + 48), ("F", 16 + 48)):
            queues[kind] = q = SyncFIFOBuffered(width=width, depth=self.queue_depth)
            m.submodules[f"queue_{kind}"] = q
        m.d.comb += en.eq(Cat(q.w_rdy for q in queues.values()).all())

        # command parser: one command at a time; it stops reading while a command waits
        op = Signal(8)
        have = Signal(range(_MAX_CMD + 1))
        buf = Signal(8 * _MAX_CMD)
        req_pending, lut_pending, status_pending, err_pending = Signal(), Signal(), Signal(), Signal()
        bad_opcode, bad_field = Signal(), Signal()
        err_byte = Signal(8)
        m.d.comb += rxf.r_en.eq(~(req_pending | lut_pending | status_pending | err_pending))
        byte = rxf.r_data
        req_f = {"tag": Signal(16), "mp": Signal(8), "rel": Signal(32), "score0": Signal(32)}
        lut_f = {"table": Signal(8), "mp": Signal(8), "layer": Signal(8), "value": Signal(32)}
        with m.If(rxf.r_rdy & rxf.r_en):
            with m.If(have == 0):
                with m.Switch(byte):
                    with m.Case(ord("S")):
                        m.d.sync += status_pending.eq(1)
                    with m.Case(ord("L"), ord("R")):
                        m.d.sync += [op.eq(byte), have.eq(1)]
                    with m.Default():
                        m.d.sync += [err_pending.eq(1), err_byte.eq(byte), bad_opcode.eq(1)]
            with m.Else():
                # payload bytes shift in from the top: the last byte of an n-byte payload ends at
                # the top of ``full``, its first at byte _MAX_CMD - n
                full = Cat(buf[8:], byte)
                m.d.sync += [buf.eq(full), have.eq(have + 1)]
                # a field wider than the scheduler's port is refused (flagged, answered with E),
                # not cut to an alias; the LUT bank checks the rest of the range itself
                with m.If((op == ord("L")) & (have == CMD_LEN[ord("L")] - 1)):
                    p = full[8 * (_MAX_CMD - 7):]
                    m.d.sync += [have.eq(0), lut_f["table"].eq(p[0:8]), lut_f["mp"].eq(p[8:16]),
                                 lut_f["layer"].eq(p[16:24]), lut_f["value"].eq(p[24:56])]
                    with m.If(_fits(p[0:8], 3) & _fits(p[8:16], wd.mp) & _fits(p[16:24], wd.layer)
                              & _fits(p[24:56], wd.value)):
                        m.d.sync += lut_pending.eq(1)
                    with m.Else():
                        m.d.sync += [err_pending.eq(1), err_byte.eq(op), bad_field.eq(1)]
                with m.If((op == ord("R")) & (have == CMD_LEN[ord("R")] - 1)):
                    p = full[8 * (_MAX_CMD - 11):]
                    m.d.sync += [have.eq(0), req_f["tag"].eq(p[0:16]), req_f["mp"].eq(p[16:24]),
                                 req_f["rel"].eq(p[24:56]), req_f["score0"].eq(p[56:88])]
                    with m.If(_fits(p[0:16], wd.tag) & (p[16:24] < dut.n_mp) & _fits(p[56:88], wd.w)):
                        m.d.sync += req_pending.eq(1)
                    with m.Else():
                        m.d.sync += [err_pending.eq(1), err_byte.eq(op), bad_field.eq(1)]

        # the commands into the core (a handshake counts only in an enabled cycle)
        r = dut.req.payload
        m.d.comb += [dut.req.valid.eq(req_pending), r.tag.eq(req_f["tag"]), r.mp.eq(req_f["mp"]),
                     r.deadline.eq(dut.now + req_f["rel"])]
        acc = req_pending & dut.req.ready & en
        with m.If(acc):
            m.d.sync += req_pending.eq(0)
        lp = dut.lut.payload
        m.d.comb += [dut.lut.valid.eq(lut_pending), lp.table.eq(lut_f["table"]), lp.mp.eq(lut_f["mp"]),
                     lp.layer.eq(lut_f["layer"]), lp.value.eq(lut_f["value"])]
        with m.If(lut_pending & dut.lut.ready & en):
            m.d.sync += lut_pending.eq(0)

        # events, stamped with the scheduler's cycle counter
        now = _field(dut.now, 48)
        d = dut.dispatch.payload
        pushes = {"A": (acc, Cat(req_f["tag"], now)),
                  "D": (npu.disp & en, Cat(_field(d.tag, 16), _field(d.layer, 8), now)),
                  "L": (npu.ld & en, Cat(npu.nnz, now)),
                  "F": (dut.done.valid & en, Cat(_field(dut.done.payload, 16), now))}
        n_disp, n_done, stalled = Signal(32), Signal(32), Signal(32)
        with m.If(~en):
            m.d.sync += stalled.eq(stalled + 1)
        with m.If(pushes["D"][0]):
            m.d.sync += n_disp.eq(n_disp + 1)
        with m.If(pushes["F"][0]):
            m.d.sync += n_done.eq(n_done + 1)
        for kind, (push, word) in pushes.items():
            m.d.comb += [queues[kind].w_en.eq(push), queues[kind].w_data.eq(word)]

        # serializer: one frame at a time, the queues first, then a status, then an error
        frame = Signal(8 * max(EVENT_LEN.values()))
        left = Signal(range(max(EVENT_LEN.values()) + 1))
        m.d.comb += [utx.data.valid.eq(left != 0), utx.data.payload.eq(frame[:8])]
        with m.If(utx.data.valid & utx.data.ready):
            m.d.sync += [frame.eq(frame >> 8), left.eq(left - 1)]
        flags = Cat(dut.lut_error, dut.busy, rx_overflow, bad_opcode, bad_field)
        with m.If(left == 0):
            chosen = Const(0)
            for kind, q in queues.items():
                with m.If(~chosen & q.r_rdy):
                    m.d.comb += q.r_en.eq(1)
                    m.d.sync += [frame.eq(Cat(Const(ord(kind), 8), q.r_data)), left.eq(EVENT_LEN[ord(kind)])]
                chosen = chosen | q.r_rdy
            with m.If(~chosen & status_pending):
                m.d.sync += [frame.eq(Cat(Const(ord("S"), 8), now, _field(dut.count, 16), flags, Const(0, 3),
                                          n_disp, n_done, stalled)),
                             left.eq(EVENT_LEN[ord("S")]), status_pending.eq(0)]
            with m.Elif(~chosen & err_pending):
                m.d.sync += [frame.eq(Cat(Const(ord("E"), 8), err_byte)), left.eq(EVENT_LEN[ord("E")]),
                             err_pending.eq(0)]

        m.d.comb += self.leds.eq(Cat(dut.count != 0, dut.busy, dut.lut_error, rx_overflow | bad_opcode | bad_field))
        return m


def _field(v, bits: int):
    """``v`` zero-extended to ``bits`` bits, for a frame field."""
    v = Value.cast(v)
    assert len(v) <= bits
    return Cat(v, Const(0, bits - len(v))) if len(v) < bits else v


def _fits(v, bits: int):
    return (v >> bits) == 0 if bits < len(v) else Const(1)
