"""The board's gateware: the scheduler, an NPU stand-in and the host link over a UART.

:class:`HostLink` is platform independent (ports ``rx``, ``tx``, ``leds``); the board
top-levels (:mod:`boards.build`) connect it to pins. The frames, their CRC and the sequence
numbers are described in :mod:`boards.protocol`; the framing gateware is in :mod:`boards.frames`.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Const, Elaboratable, EnableInserter, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from dysta_hw.sched import DystaScheduler
from dysta_hw.sched.npu import NpuReplay

from .frames import FrameRx, FrameTx
from .protocol import BOARD_PAYLOAD, HEADER, HOST_PAYLOAD, check_params
from .uart import UARTRx, UARTTx

__all__ = ["HostLink", "default_timeout"]

_EVENT_BITS = 8 * max(BOARD_PAYLOAD[ord(k)] for k in "ADLF")  # the widest event payload (L)


def default_timeout(divisor: int) -> int:
    """The retransmission and receive timeout, in clock cycles, for a UART of ``divisor``
    cycles per bit: 80 byte times (the host answers every read with an acknowledgement)."""
    return 80 * 10 * divisor


#: Event queues at least this deep stop the core one event early, from a register (see
#: :class:`HostLink`); shallower ones (the iCEBreaker's) stop it when full, combinationally.
REGISTERED_ENABLE_DEPTH = 4


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

    Parameters
    ----------
    queue_depth : int
        Entries of each event queue in front of the window (1: a single register, so the core
        stops for at least a cycle after every event; the smallest build, for the iCE40). From
        :data:`REGISTERED_ENABLE_DEPTH` on, the core stops when a queue holds ``queue_depth - 2``
        events, from a register (the enable of every flip-flop of the core is then no long path).
    window : int
        Events kept until the host acknowledges them (a power of two, 2 .. 64).
    timeout : int
        Clock cycles without an acknowledgement, once every event is sent, after which the
        board sends its unacknowledged events again; also how long a frame may stop half-way
        before the receiver drops it. Default :func:`default_timeout`.
    check_crc : bool
        False makes the receiver take every CRC as right: only for the fault campaign's check
        that it sees the wrong commands and events that would get through.

    ``leds``: bit 0 a request is in the table, bit 1 the scheduler is deciding, bit 2 a LUT
    write was out of range, bit 3 a damaged frame was received or a command was refused.
    """

    def __init__(self, sched: dict, jobs, *, divisor: int, queue_depth: int = 16, window: int = 16,
                 timeout: int | None = None, check_crc: bool = True):
        self.dut = DystaScheduler(**sched)
        wd = self.dut.widths
        check_params(tag_bits=wd.tag, n_mp=self.dut.n_mp, max_layers=self.dut.max_layers, time_bits=wd.time,
                     fmt_width=wd.w)
        self.jobs = list(jobs)
        for i, j in enumerate(self.jobs):
            if j.tag != i:
                raise ValueError("the NPU stand-in's ROM is addressed by tag: jobs need tags 0 .. n-1 in order")
        if queue_depth < 1:
            raise ValueError(f"queue_depth must be at least 1, not {queue_depth!r}")
        if window not in (2, 4, 8, 16, 32, 64):
            raise ValueError(f"window must be a power of two from 2 to 64, not {window!r}")
        timeout = default_timeout(divisor) if timeout is None else timeout
        if timeout < 20 * divisor:
            raise ValueError(f"timeout must be at least two byte times ({20 * divisor} cycles), not {timeout!r}")
        self.divisor, self.queue_depth, self.window, self.timeout = divisor, queue_depth, window, timeout
        self.check_crc = check_crc
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "leds": Out(4)})
        #: Signals a simulation bench may watch (not ports): ``event`` strobes when an event enters
        #: the window, with ``data`` (kind, then payload); ``unacked`` events in the window;
        #: ``pending`` events still in the queues in front of it; ``rx_bad``, ``timeouts`` as in the status.
        self.monitor = {"event": Signal(), "data": Signal(8 + _EVENT_BITS), "unacked": Signal(8),
                        "pending": Signal(), "rx_bad": Signal(16), "timeouts": Signal(16)}

    def elaborate(self, platform):
        m = Module()
        dut = self.dut
        wd = dut.widths
        m.submodules.uart_rx = urx = UARTRx(self.divisor)
        m.submodules.uart_tx = utx = UARTTx(self.divisor)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]

        # frames in: a damaged one (CRC, length, escaping, a UART framing error, stopped half-way)
        # is dropped and counted; the host sends it again
        m.submodules.frame_rx = frx = FrameRx(lengths=HOST_PAYLOAD, timeout=self.timeout, check_crc=self.check_crc)
        m.d.comb += [frx.byte.valid.eq(urx.data.valid), frx.byte.payload.eq(urx.data.payload),
                     frx.framing_error.eq(urx.framing_error)]
        # the received frame registered once before the command checks, which then start from
        # flip-flops (its valid flag comes through the CRC and length checks): one cycle later
        # than the frame's last byte, invisible on a link of ~10 cycles per bit
        rx = SimpleNamespace(**{n: Signal.like(getattr(frx, n), name=f"rx_{n}")
                                for n in ("valid", "unknown", "bad", "kind", "seq", "ack", "payload")})
        m.d.sync += [sig.eq(getattr(frx, n)) for n, sig in vars(rx).items()]
        m.submodules.frame_tx = ftx = FrameTx(max_raw=HEADER + BOARD_PAYLOAD[ord("S")])
        wiring.connect(m, ftx.byte, utx.data)

        # the core, stopped while an event queue is full
        core = _Core(dut, self.jobs)
        npu = core.npu
        en = Signal()
        m.submodules.core = EnableInserter(en)(core)
        queues = {}
        for kind, width in (("A", 16 + 48), ("D", 16 + 8 + 48), ("L", 32 + 48), ("F", 16 + 48), ("E", 8)):
            queues[kind] = q = SyncFIFOBuffered(width=width, depth=self.queue_depth if kind != "E" else 2)
            m.submodules[f"queue_{kind}"] = q
        event_queues = [q for k, q in queues.items() if k != "E"]
        if self.queue_depth >= REGISTERED_ENABLE_DEPTH:
            # registered: the enable reaches every flip-flop of the core, and from the queues' levels
            # through their compare it was the 100 MHz ULX3S build's critical path. A queue that
            # has room for two more events (its inner FIFO, the first of which may fill this cycle
            # while the output register empties) has room for this cycle's push next cycle
            m.d.sync += en.eq(Cat(q.level <= self.queue_depth - 3 for q in event_queues).all())
        else:
            m.d.comb += en.eq(Cat(q.w_rdy for q in event_queues).all())
        eq = queues["E"]

        # sequence numbers: commands expected; events acknowledged (base), next to send, next to write
        cmd_exp = Signal(8)
        base, send, wr = Signal(8), Signal(8), Signal(8)
        unacked = Signal(8)
        m.d.comb += unacked.eq(wr - base)

        # commands: executed once, in order; a frame out of order or arriving while the previous
        # command still waits is dropped unacknowledged (the host sends it again)
        req_pending, lut_pending, status_pending = Signal(), Signal(), Signal()
        bad_opcode, bad_field, damaged = Signal(), Signal(), Signal()
        rx_bad, timeouts = Signal(16), Signal(16)
        # (no reset: a command's fields are loaded with its pending flag, which has one)
        req_f = {n: Signal(w, name=f"req_{n}", reset_less=True)
                 for n, w in (("tag", 16), ("mp", 8), ("rel", 32), ("score0", 32))}
        lut_f = {n: Signal(w, name=f"lut_{n}", reset_less=True)
                 for n, w in (("table", 8), ("mp", 8), ("layer", 8), ("value", 32))}
        p = rx.payload
        ack_n = Signal(8)
        m.d.comb += ack_n.eq(rx.ack - base)
        acked = Signal()  # the host acknowledged events this cycle
        m.d.comb += acked.eq(rx.valid & (ack_n != 0) & (ack_n <= unacked))
        with m.If(rx.valid & ((rx.kind == ord("L")) | (rx.kind == ord("R")))):
            with m.If((rx.seq == cmd_exp) & ~req_pending & ~lut_pending & eq.w_rdy):
                m.d.sync += cmd_exp.eq(cmd_exp + 1)
                # a field wider than the scheduler's port is refused (flagged, answered
                # with E), not cut to an alias; the LUT bank checks the rest of the range
                with m.If(rx.kind == ord("L")):
                    m.d.sync += [lut_f["table"].eq(p[0:8]), lut_f["mp"].eq(p[8:16]),
                                 lut_f["layer"].eq(p[16:24]), lut_f["value"].eq(p[24:56])]
                    with m.If(_fits(p[0:8], 3) & _fits(p[8:16], wd.mp) & _fits(p[16:24], wd.layer)
                              & _fits(p[24:56], wd.value)):
                        m.d.sync += lut_pending.eq(1)
                    with m.Else():
                        m.d.comb += [eq.w_en.eq(1), eq.w_data.eq(ord("L"))]
                        m.d.sync += bad_field.eq(1)
                with m.Else():
                    m.d.sync += [req_f["tag"].eq(p[0:16]), req_f["mp"].eq(p[16:24]),
                                 req_f["rel"].eq(p[24:56]), req_f["score0"].eq(p[56:88])]
                    with m.If(_fits(p[0:16], wd.tag) & (p[16:24] < dut.n_mp) & _fits(p[56:88], wd.w)):
                        m.d.sync += req_pending.eq(1)
                    with m.Else():
                        m.d.comb += [eq.w_en.eq(1), eq.w_data.eq(ord("R"))]
                        m.d.sync += bad_field.eq(1)
        with m.If(rx.unknown):
            m.d.sync += bad_opcode.eq(1)
            m.d.comb += [eq.w_en.eq(eq.w_rdy), eq.w_data.eq(rx.kind)]
        # S and K frames are numbered apart from the commands: a gap means one was lost whole
        control_exp, lost = Signal(8), Signal()
        with m.If(rx.valid & ((rx.kind == ord("S")) | (rx.kind == ord("K")))):
            m.d.sync += control_exp.eq(rx.seq + 1)
            m.d.comb += lost.eq(rx.seq != control_exp)
        with m.If(rx.bad | lost):
            m.d.sync += damaged.eq(1)
            with m.If(rx_bad != 0xFFFF):
                m.d.sync += rx_bad.eq(rx_bad + 1)

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

        # the window: every event, numbered, until the host acknowledges it
        slot = exact_log2(self.window)
        m.submodules.ring = ring = Memory(shape=8 + _EVENT_BITS, depth=self.window, init=[])
        wp = ring.write_port()
        rp = ring.read_port(domain="sync")
        with m.If(unacked != self.window):
            chosen = Const(0)
            for kind, q in queues.items():
                with m.If(~chosen & q.r_rdy):
                    m.d.comb += [q.r_en.eq(1), wp.en.eq(1), wp.data.eq(Cat(Const(ord(kind), 8), q.r_data))]
                chosen = chosen | q.r_rdy
            with m.If(chosen):
                m.d.sync += wr.eq(wr + 1)
        m.d.comb += [wp.addr.eq(wr[:slot]), rp.addr.eq(send[:slot])]

        # frames out: a status first, then the events from ``send`` on; after a status, an event
        # waiting goes before the next status (a host asking all the time does not starve them)
        load, moved = Signal(), Signal()
        after_status = Signal()
        avail = Signal()  # the read port holds the event at ``send``, which is not sent yet
        m.d.sync += avail.eq((send != wr) & ~load & ~moved)
        fr = ftx.frame.payload
        flags = Cat(dut.lut_error, dut.busy, damaged, bad_opcode, bad_field, dut.req_error)
        kind_r = rp.data[:8]
        length = Signal(range(HEADER + 11))
        for k in "ADLFE":
            with m.If(kind_r == ord(k)):
                m.d.comb += length.eq(HEADER + BOARD_PAYLOAD[ord(k)])
        with m.If(status_pending & ~(after_status & avail)):
            m.d.comb += [ftx.frame.valid.eq(1),
                         fr.data.eq(Cat(Const(ord("S"), 8), wr, cmd_exp, now, _field(dut.count, 16), flags,
                                        Const(0, 2), n_disp, n_done, stalled, rx_bad, timeouts)),
                         fr.length.eq(HEADER + BOARD_PAYLOAD[ord("S")])]
            with m.If(ftx.frame.ready):
                m.d.sync += [status_pending.eq(0), after_status.eq(1)]
        with m.Elif(avail):
            m.d.comb += [ftx.frame.valid.eq(1), fr.data.eq(Cat(kind_r, send, cmd_exp, rp.data[8:])),
                         fr.length.eq(length), load.eq(ftx.frame.ready)]
            with m.If(load):
                m.d.sync += [send.eq(send + 1), after_status.eq(0)]
        with m.If(rx.valid & (rx.kind == ord("S"))):
            m.d.sync += status_pending.eq(1)  # after the clear above: asked again while one went out

        # acknowledgements, and the timeout that goes back to the oldest unacknowledged event
        timer = Signal(range(self.timeout + 1))
        waiting = (unacked != 0) & (send == wr) & ftx.frame.ready & ~status_pending
        with m.If(acked):
            m.d.sync += [base.eq(rx.ack), timer.eq(0)]
            with m.If(Value.cast(send - base)[:8] < ack_n):
                m.d.comb += moved.eq(1)
                m.d.sync += send.eq(rx.ack)
        with m.Elif(waiting):
            with m.If(timer == self.timeout):
                m.d.comb += moved.eq(1)
                m.d.sync += [send.eq(base), timer.eq(0)]
                with m.If(timeouts != 0xFFFF):
                    m.d.sync += timeouts.eq(timeouts + 1)
            with m.Else():
                m.d.sync += timer.eq(timer + 1)
        with m.Else():
            m.d.sync += timer.eq(0)

        mon = self.monitor
        m.d.comb += [mon["event"].eq(wp.en), mon["data"].eq(wp.data), mon["unacked"].eq(unacked),
                     mon["pending"].eq(Cat(q.r_rdy for q in queues.values()).any()), mon["rx_bad"].eq(rx_bad),
                     mon["timeouts"].eq(timeouts)]
        m.d.comb += self.leds.eq(Cat(dut.count != 0, dut.busy, dut.lut_error, damaged | bad_opcode | bad_field))
        return m


def _field(v, bits: int):
    """``v`` zero-extended to ``bits`` bits, for a frame field."""
    v = Value.cast(v)
    assert len(v) <= bits
    return Cat(v, Const(0, bits - len(v))) if len(v) < bits else v


def _fits(v, bits: int):
    return (v >> bits) == 0 if bits < len(v) else Const(1)
