# amaranth: UnusedElaboratable=no
"""Formal checks of the hardware scheduler (SymbiYosys through YoWASP, Boolector as the solver).

:class:`Properties` wraps a real :class:`~dysta_hw.sched.DystaScheduler` whose inputs are all
free (``AnySeq``): the solver plays every host, LUT writer and NPU at once, constrained only by
the interface contract below. Shadow state in the harness watches the ports and states each
property; :func:`check` runs one property with ``yowasp-sby`` (:mod:`dysta_hw.formal.run`).

Contract assumed of the environment
    - tags of requests in flight are distinct (a tag is reused only after its ``done``);
    - ``layer_done`` is strobed only while the NPU runs a dispatched layer;
    - ``bounded_decision`` only: the host takes ``done`` at once (else a decision waits for it).

Properties (:data:`PROPERTIES`)
    ``full_not_ready``
        a full table never accepts (``count == depth`` implies ``req.ready`` low), and
        ``count <= depth``.
    ``no_loss``
        no request is lost or duplicated: ``done`` and ``dispatch`` only name requests in flight,
        and the table holds exactly as many entries as there are requests in flight (accepted,
        not yet done). A duplicated entry is later retired twice (a ``done`` of a tag not in
        flight); a lost one leaves the count and the in-flight set apart.
    ``min_score``
        after every rescoring, the dispatched request is one that was scored in that scan, its
        score is the least of the scan in the comparator's total order (``-inf < ... < -0 <
        +0 < ... < +inf < NaN``, computed here independently of ``FPMin``), and every request in
        the table was scored exactly once.
    ``bounded_decision``
        from ``layer_done`` to ``dispatch.valid`` (or to idle when the table empties) takes at
        most :func:`worst_decision` cycles (the ``Timing`` model at a full table).
"""

from __future__ import annotations

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, ClockDomain, Cover, Elaboratable, Module, Mux, Signal, Value

from dysta_sw.hwsched import Table

__all__ = ["Properties", "PROPERTIES", "MUTANTS", "COVERS", "small_scheduler", "worst_decision"]

PROPERTIES = ("full_not_ready", "no_loss", "min_score", "bounded_decision")
#: Deliberate mistakes in the harness that each must make its property FAIL: ``drop_done`` forgets
#: the ``done`` of tag 0 (``no_loss``); ``max_score`` expects the greatest score to win
#: (``min_score``); ``tight_bound`` asserts one cycle less than the timing model (``bounded_decision``,
#: showing the bound is reached, not just respected).
MUTANTS = {"drop_done": "no_loss", "max_score": "min_score", "tight_bound": "bounded_decision"}
#: Cover targets of ``Properties(dut, "reach")``: the assumptions leave these states reachable.
COVERS = ("a done", "a full table", "a dispatch after a layer-done with more than one request")


def small_scheduler(*, depth=8, fmt="fp16", shared=True, **kw):
    """A scheduler small enough for the solver: 3-bit tags (8 in flight), 16-bit time, one
    model-pattern of two layers, one 1-bit monitor lane."""
    from dysta_hw.sched import DystaScheduler

    params = {"tag_bits": max(3, (depth - 1).bit_length()), "time_bits": 16, "n_mp": 1, "max_layers": 2,
              "lanes": 1, "value_width": 1, **kw}
    return DystaScheduler(depth=depth, fmt=fmt, shared=shared, **params)


def worst_decision(dut) -> int:
    """The longest decision of ``dut`` (``dispatch`` and ``done`` ready): requests are refused
    while a decision is computed, so a layer-done sees at most ``depth`` requests, and at most
    ``depth - 1`` are left when the running one retires."""
    depth = dut.widths.depth
    return max(dut.timing.decision(depth, retired=False), dut.timing.decision(depth - 1, retired=True))


def _popcount(v):
    total = 0
    for i in range(len(v)):
        total = total + v[i]
    return total


class Properties(Elaboratable):
    """The harness: ``dut`` with free inputs, the environment contract as assumptions and the
    property ``prop`` (one of :data:`PROPERTIES`) as assertions. ``mutant`` deliberately breaks
    the check so that a test can see it fail (:data:`MUTANTS`)."""

    def __init__(self, dut, prop: str, mutant: str | None = None):
        if prop not in PROPERTIES + ("reach",):
            raise ValueError(f"unknown property {prop!r}; choose from {', '.join(PROPERTIES)}")
        if mutant is not None and MUTANTS.get(mutant) != prop:
            raise ValueError(f"mutant {mutant!r} does not apply to {prop!r}; mutants: {MUTANTS}")
        self.dut, self.prop, self.mutant = dut, prop, mutant
        # a free-running clock input: with SymbiYosys' ``multiclock off`` every flip-flop steps
        # once per solver step (an undriven clock would freeze them)
        self.sync = ClockDomain("sync", reset_less=True)
        self.clk = self.sync.clk

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.sync
        dut = self.dut
        m.submodules.dut = dut
        wd = dut.widths
        w = dut.fmt.width

        # every input free
        for port in (dut.req.valid, dut.req.payload, dut.lut.valid, dut.lut.payload, dut.done.ready,
                     dut.dispatch.ready, dut.npu_data.valid, dut.npu_data.payload, dut.layer_done):
            m.d.comb += Value.cast(port).eq(AnySeq(len(Value.cast(port))))

        # the model-patterns programmed so far (a LAYERS write in range): a request naming another
        # is refused (docs/hw.md), so it is not in flight
        prog = Signal(dut.n_mp)
        lw = dut.lut.payload
        with m.If(dut.lut.valid & dut.lut.ready & (lw.table == int(Table.LAYERS)) & (lw.mp < dut.n_mp)
                  & (lw.value >= 1) & (lw.value <= dut.max_layers)):
            m.d.sync += prog.bit_select(lw.mp, 1).eq(1)
        mp_ok = (dut.req.payload.mp < dut.n_mp) & prog.bit_select(dut.req.payload.mp, 1)

        n_tags = 1 << wd.tag
        inflight = Signal(n_tags)
        accept = dut.req.valid & dut.req.ready & mp_ok
        took_done = dut.done.valid & dut.done.ready
        set_mask = Mux(accept, 1 << dut.req.payload.tag, 0)
        clr_mask = Mux(took_done, 1 << dut.done.payload, 0)
        if self.mutant == "drop_done":
            clr_mask = Mux(took_done & (dut.done.payload != 0), 1 << dut.done.payload, 0)
        m.d.sync += inflight.eq((inflight & ~clr_mask) | set_mask)

        npu_busy = Signal()
        with m.If(dut.dispatch.valid & dut.dispatch.ready):
            m.d.sync += npu_busy.eq(1)
        with m.Elif(dut.layer_done):
            m.d.sync += npu_busy.eq(0)

        # the environment contract
        m.d.comb += Assume(~dut.req.valid | ~(inflight >> dut.req.payload.tag)[0])
        m.d.comb += Assume(~dut.layer_done | npu_busy)

        if self.prop == "reach":
            m.d.comb += [Cover(took_done), Cover(dut.count == wd.depth)]
            seen_ld = Signal()
            with m.If(dut.layer_done):
                m.d.sync += seen_ld.eq(1)
            m.d.comb += Cover(seen_ld & dut.dispatch.valid & (dut.count > 1))

        elif self.prop == "full_not_ready":
            m.d.comb += Assert(dut.count <= wd.depth)
            m.d.comb += Assert(~(dut.count == wd.depth) | ~dut.req.ready)

        elif self.prop == "no_loss":
            m.d.comb += Assert(~dut.done.valid | (inflight >> dut.done.payload)[0])
            m.d.comb += Assert(~dut.dispatch.valid | (inflight >> dut.dispatch.payload.tag)[0])
            m.d.comb += Assert(_popcount(inflight) == dut.count)

        elif self.prop == "min_score":
            tr = dut.trace.payload
            sign = 1 << (w - 1)
            mask = (1 << w) - 1
            exp_mask = ((1 << dut.fmt.exp_bits) - 1) << dut.fmt.man_bits
            score = Signal(w)
            if dut.mode == "lean":  # subnormals compare as the zero of their sign
                m.d.comb += score.eq(Mux((tr.score & exp_mask) == 0, tr.score & sign, tr.score))
            else:
                m.d.comb += score.eq(tr.score)
            is_nan = ((score & exp_mask) == exp_mask) & ((score & ((1 << dut.fmt.man_bits) - 1)) != 0)
            key = Signal(w)
            m.d.comb += key.eq(Mux(is_nan, mask, Mux(score & sign, ~score & mask, score | sign)))
            key_of = [Signal(w, name=f"key_of_{t}") for t in range(n_tags)]
            seen = Signal(n_tags)
            once = Signal(init=1)  # no tag scored twice in a scan
            least = Signal(w)
            scanned = Signal()
            with m.If(dut.trace.valid & (tr.mode == 0)):  # mode A opens a decision
                m.d.sync += [seen.eq(0), least.eq(0 if self.mutant == "max_score" else mask), scanned.eq(0),
                             once.eq(1)]
            with m.Elif(dut.trace.valid & (tr.mode == 1)):
                m.d.sync += [seen.eq(seen | (1 << tr.tag)), scanned.eq(1),
                             least.eq(Mux((key > least) if self.mutant == "max_score" else (key < least),
                                          key, least))]
                with m.If((seen >> tr.tag)[0]):
                    m.d.sync += once.eq(0)
                for t in range(n_tags):
                    with m.If(tr.tag == t):
                        m.d.sync += key_of[t].eq(key)
            with m.If(dut.dispatch.valid & dut.dispatch.ready):
                m.d.sync += scanned.eq(0)
            winner = Signal(w)
            m.d.comb += winner.eq(Mux(dut.dispatch.payload.tag == 0, key_of[0], 0))
            for t in range(1, n_tags):
                with m.If(dut.dispatch.payload.tag == t):
                    m.d.comb += winner.eq(key_of[t])
            with m.If(dut.dispatch.valid & scanned):
                m.d.comb += [Assert((seen >> dut.dispatch.payload.tag)[0]), Assert(winner == least),
                             Assert(once), Assert(_popcount(seen) == dut.count)]

        elif self.prop == "bounded_decision":
            bound = worst_decision(dut) - (self.mutant == "tight_bound")
            m.d.comb += Assume(dut.done.ready)
            since = Signal(range(bound + 2))
            pending = Signal()
            with m.If(dut.layer_done):
                m.d.sync += [pending.eq(1), since.eq(1)]
            with m.Elif(pending & (dut.dispatch.valid | (~dut.busy & (dut.count == 0)))):
                m.d.sync += pending.eq(0)
            with m.Elif(pending & (since <= bound)):
                m.d.sync += since.eq(since + 1)
            # ``since`` is k in the k-th cycle after the strobe: without a dispatch by then,
            # k == bound would mean a decision longer than ``bound``
            m.d.comb += Assert(~pending | (since < bound) | dut.dispatch.valid)
        return m
