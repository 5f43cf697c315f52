"""The request table: per-request state in memories, kept packed in slots ``0 .. count-1``."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .layouts import Widths, entry_layout, request_layout

__all__ = ["RequestTable"]


class RequestTable(wiring.Component):
    """Up to ``depth`` in-flight requests, in three memories (static fields ``tag, mp,
    deadline``; dynamic fields ``next, last, gamma``; ``score``), so that large depths map to RAM.

    Slots are packed: the valid entries are exactly slots ``0 .. count-1``. A new request takes
    slot ``count``; retiring slot ``s`` moves the entry of slot ``count-1`` into ``s`` (one cycle,
    ``busy``), so a scan of the queue visits ``count`` slots and no valid bits are needed.

    Parameters
    ----------
    widths : Widths
        Field widths (``widths.depth`` entries).
    one : int
        Bit pattern of 1.0: the gamma of a request that has not run yet.

    Attributes
    ----------
    push : In(stream.Signature(request_layout))
        New requests; ``ready`` is ``accept & ~full``: a full table back-pressures, never drops.
    accept : In(1)
        Allow pushes (the controller lowers it while it evaluates the queue).
    now : In(time)
        The cycle counter: a pushed request's ``last``.
    count : Out(range(depth + 1))
        Valid entries.
    full : Out(1)
    rd_addr : In(slot); rd : Out(entry_layout)
        Synchronous read of all fields of a slot (data the next cycle).
    upd : In(stream.Signature({slot, next, last, gamma}, always_ready=True))
        Dynamic-field write (mode A write-back).
    score_wr : In(stream.Signature({slot, score}, always_ready=True))
        Score write (mode B write-back).
    retire : In(stream.Signature(slot, always_ready=True))
        Remove a slot; ``busy`` the next cycle while the last entry moves into it.
    busy : Out(1)
    """

    def __init__(self, *, widths: Widths, one: int):
        self._wd, self._one = widths, one
        wd = widths
        super().__init__({
            "push": In(stream.Signature(request_layout(wd))),
            "accept": In(1),
            "now": In(wd.time),
            "count": Out(range(wd.depth + 1)),
            "full": Out(1),
            "rd_addr": In(wd.slot),
            "rd": Out(entry_layout(wd)),
            "upd": In(stream.Signature(data.StructLayout(
                {"slot": wd.slot, "next": wd.layer, "last": wd.time, "gamma": wd.w}), always_ready=True)),
            "score_wr": In(stream.Signature(data.StructLayout({"slot": wd.slot, "score": wd.w}), always_ready=True)),
            "retire": In(stream.Signature(wd.slot, always_ready=True)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        wd = self._wd
        static = data.StructLayout({"tag": wd.tag, "mp": wd.mp, "deadline": wd.time})
        dynamic = data.StructLayout({"next": wd.layer, "last": wd.time, "gamma": wd.w})
        m.submodules.mem_static = ms = Memory(shape=static, depth=wd.depth, init=[])
        m.submodules.mem_dynamic = md = Memory(shape=dynamic, depth=wd.depth, init=[])
        m.submodules.mem_score = mc = Memory(shape=wd.w, depth=wd.depth, init=[])
        rs, rdy, rc = ms.read_port(), md.read_port(), mc.read_port()
        ws, wdy, wc = ms.write_port(), md.write_port(), mc.write_port()

        m.d.comb += self.full.eq(self.count == wd.depth)
        m.d.comb += self.push.ready.eq(self.accept & ~self.full)
        push = self.push.valid & self.push.ready

        # the move of a retirement: read the last slot now, write it into the hole next cycle
        moving = Signal()
        dst = Signal(wd.slot)
        last = (self.count - 1)[:wd.slot]
        m.d.sync += moving.eq(0)
        raddr = Signal(wd.slot)
        m.d.comb += raddr.eq(self.rd_addr)
        # (the controller only retires from a non-empty table; the guard makes ``count <= depth``
        # inductive for the formal proof, see dysta_hw.formal)
        with m.If(self.retire.valid & (self.count != 0)):
            m.d.comb += raddr.eq(last)
            m.d.sync += [self.count.eq(self.count - 1), dst.eq(self.retire.payload),
                         moving.eq(self.retire.payload != last)]
        with m.Elif(push):
            m.d.sync += self.count.eq(self.count + 1)
        m.d.comb += [rs.addr.eq(raddr), rdy.addr.eq(raddr), rc.addr.eq(raddr), self.busy.eq(moving)]
        r = self.rd
        m.d.comb += [r.tag.eq(rs.data.tag), r.mp.eq(rs.data.mp), r.deadline.eq(rs.data.deadline),
                     r.next.eq(rdy.data.next), r.last.eq(rdy.data.last), r.gamma.eq(rdy.data.gamma),
                     r.score.eq(rc.data)]

        p = self.push.payload
        with m.If(moving):
            m.d.comb += [ws.addr.eq(dst), ws.data.eq(rs.data), ws.en.eq(1),
                         wdy.addr.eq(dst), wdy.data.eq(rdy.data), wdy.en.eq(1),
                         wc.addr.eq(dst), wc.data.eq(rc.data), wc.en.eq(1)]
        with m.Elif(push):
            slot = self.count[:wd.slot]
            m.d.comb += [ws.addr.eq(slot), ws.data.tag.eq(p.tag), ws.data.mp.eq(p.mp),
                         ws.data.deadline.eq(p.deadline), ws.en.eq(1),
                         wdy.addr.eq(slot), wdy.data.next.eq(0), wdy.data.last.eq(self.now),
                         wdy.data.gamma.eq(self._one), wdy.en.eq(1),
                         wc.addr.eq(slot), wc.data.eq(p.score0), wc.en.eq(1)]
        with m.Else():
            u, s = self.upd, self.score_wr
            m.d.comb += [wdy.addr.eq(u.payload.slot), wdy.data.next.eq(u.payload.next),
                         wdy.data.last.eq(u.payload.last), wdy.data.gamma.eq(u.payload.gamma),
                         wdy.en.eq(u.valid),
                         wc.addr.eq(s.payload.slot), wc.data.eq(s.payload.score), wc.en.eq(s.valid)]
        return m
