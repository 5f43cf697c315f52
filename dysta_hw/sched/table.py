"""The request table: per-request state in memories, kept packed in slots ``0 .. count-1``."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import Widths, entry_layout, request_layout, times_const
from .ram import RegisteredRam

__all__ = ["RequestTable"]


class RequestTable(wiring.Component):
    """Up to ``depth`` in-flight requests, in two memories (static fields ``tag, mp,
    deadline``; dynamic fields ``next, row, last, gamma``), so that large depths map to block RAM.
    ``row`` is the LUT row of the ``next`` layer, ``mp * (max_layers + 1) + next``, kept so that
    no LUT address is computed on the scan's path.

    Slots are packed: the valid entries are exactly slots ``0 .. count-1``. A new request takes
    slot ``count``; retiring slot ``s`` moves the entry of slot ``count-1`` into ``s``: the last
    slot is read in the cycle of the retirement and written into ``s`` two cycles later, so a
    read presented three cycles after the retirement or later sees the moved entry (``busy``
    is high in the two cycles between). A scan of the queue visits ``count`` slots and no valid
    bits are needed.

    Reads are registered (:class:`RegisteredRam`): ``rd`` holds the entry at the ``rd_addr``
    presented two cycles earlier.

    Parameters
    ----------
    widths : Widths
        Field widths (``widths.depth`` entries).
    one : int
        Bit pattern of 1.0: the gamma of a request that has not run yet.

    Attributes
    ----------
    push : In(stream.Signature(request_layout))
        New requests; ``ready`` is ``accept & ~full & ~busy``: a full table back-pressures, never
        drops.
    accept : In(1)
        Allow pushes (the controller lowers it while it evaluates the queue).
    now : In(time)
        The cycle counter: a pushed request's ``last``.
    count : Out(range(depth + 1))
        Valid entries.
    full : Out(1)
    rd_addr : In(slot); rd : Out(entry_layout)
        Registered read of all fields of a slot (data two cycles later).
    upd : In(stream.Signature({slot, next, last, gamma}, always_ready=True))
        Dynamic-field write (mode A write-back).
    retire : In(stream.Signature(slot, always_ready=True))
        Remove a slot (from a non-empty table, not while ``busy``).
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
                {"slot": wd.slot, "next": wd.layer, "row": wd.row, "last": wd.time, "gamma": wd.w}),
                always_ready=True)),
            "retire": In(stream.Signature(wd.slot, always_ready=True)),
            "busy": Out(1),
        })
        #: (not a port) a write to the slot being read this cycle: the memories leave what such a
        #: read returns undefined (``collision_free``), so the controller must not use it
        self.clash = Signal()

    def elaborate(self, platform):
        m = Module()
        wd = self._wd
        static = data.StructLayout({"tag": wd.tag, "mp": wd.mp, "deadline": wd.time})
        dynamic = data.StructLayout({"next": wd.layer, "row": wd.row, "last": wd.time, "gamma": wd.w})
        # no read is used whose slot is written in the same cycle: the scan reads only in the
        # controller's SCAN state, when nothing writes (no pushes, no mode-A write-back, the move
        # done); a retirement reads the last slot in a cycle without a write
        m.submodules.mem_static = ms = RegisteredRam(static, wd.depth, collision_free=True)
        m.submodules.mem_dynamic = md = RegisteredRam(dynamic, wd.depth, collision_free=True)

        m.d.comb += self.full.eq(self.count == wd.depth)
        m.d.comb += self.push.ready.eq(self.accept & ~self.full & ~self.busy)
        push = self.push.valid & self.push.ready

        # the move of a retirement: read the last slot now, write it into the hole two cycles later
        mv1, mv2 = Signal(), Signal()
        dst1, dst2 = Signal(wd.slot), Signal(wd.slot)
        last = (self.count - 1)[:wd.slot]
        raddr = Signal(wd.slot)
        m.d.comb += raddr.eq(self.rd_addr)
        m.d.sync += [mv1.eq(0), mv2.eq(mv1), dst2.eq(dst1)]
        # (the controller only retires from a non-empty table; the guard makes ``count <= depth``
        # inductive for the formal proof, see dysta_hw.formal)
        with m.If(self.retire.valid & (self.count != 0)):
            m.d.comb += raddr.eq(last)
            m.d.sync += [self.count.eq(self.count - 1), dst1.eq(self.retire.payload),
                         mv1.eq(self.retire.payload != last)]
        with m.Elif(push):
            m.d.sync += self.count.eq(self.count + 1)
        busy_r = Signal()
        m.d.sync += busy_r.eq(self.retire.valid & (self.count != 0))
        m.d.comb += [ms.r_addr.eq(raddr), md.r_addr.eq(raddr), self.busy.eq(busy_r | mv2)]
        r = self.rd
        m.d.comb += [r.tag.eq(ms.r_data.tag), r.mp.eq(ms.r_data.mp), r.deadline.eq(ms.r_data.deadline),
                     r.next.eq(md.r_data.next), r.row.eq(md.r_data.row), r.last.eq(md.r_data.last),
                     r.gamma.eq(md.r_data.gamma)]

        m.d.comb += self.clash.eq((ms.w_en & (ms.w_addr == raddr)) | (md.w_en & (md.w_addr == raddr)))
        p = self.push.payload
        with m.If(mv2):
            m.d.comb += [ms.w_addr.eq(dst2), ms.w_data.eq(ms.r_data), ms.w_en.eq(1),
                         md.w_addr.eq(dst2), md.w_data.eq(md.r_data), md.w_en.eq(1)]
        with m.Elif(push):
            slot = self.count[:wd.slot]
            m.d.comb += [ms.w_addr.eq(slot), ms.w_data.tag.eq(p.tag), ms.w_data.mp.eq(p.mp),
                         ms.w_data.deadline.eq(p.deadline), ms.w_en.eq(1),
                         md.w_addr.eq(slot), md.w_data.next.eq(0), md.w_data.row.eq(times_const(p.mp, wd.stride)),
                         md.w_data.last.eq(self.now),
                         md.w_data.gamma.eq(self._one), md.w_en.eq(1)]
        with m.Else():
            u = self.upd
            m.d.comb += [md.w_addr.eq(u.payload.slot), md.w_data.next.eq(u.payload.next),
                         md.w_data.row.eq(u.payload.row),
                         md.w_data.last.eq(u.payload.last), md.w_data.gamma.eq(u.payload.gamma),
                         md.w_en.eq(u.valid)]
        return m
