"""The Dysta hardware scheduler: request table, LUTs, monitor, compute unit and controller."""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from dysta_hw.fp.compare import order_key
from dysta_sw import fp
from dysta_sw.errors import DystaInputError
from dysta_sw.hwmodel import COUNT_BITS, DEFAULT_TIME_SHIFT, DIFF_BITS, HwConfig
from dysta_sw.hwsched import Timing, normalise_stages

from .compute import ComputeUnit
from .layouts import Widths, dispatch_layout, lut_write_layout, request_layout, times_const, trace_layout
from .luts import LutBank
from .monitor import Monitor
from .table import RequestTable

__all__ = ["DystaScheduler"]


class DystaScheduler(wiring.Component):
    """The hardware scheduler between the host and the NPU (SPEC 7, docs/hw.md).

    Parameters
    ----------
    depth : int
        Request table capacity, a power of two from 8 to 512.
    fmt : str
        ``fp16``, ``bf16`` or ``fp32``.
    mode : str
        ``ieee`` or ``lean``.
    shared : bool
        One time-multiplexed FP datapath (``True``) or separate units per operation.
    lanes : int
        NPU output values per beat seen by the monitor (1 to 64).
    value_width : int
        Bits per NPU output value (1 to 64).
    n_mp : int
        Model-patterns in the LUTs (1 to 1024).
    max_layers : int
        Layers per model-pattern (1 to 1024).
    stages : None, int or dict
        Register slices of the FP units (``cvt``, ``mul``, ``add``, ``clamp``).
    time_shift : int or None
        log2 of the time quantum (cycles); default per format (``DEFAULT_TIME_SHIFT``).
    tag_bits : int
        Width of request tags (1 to 32).
    time_bits : int
        Width of the cycle counter and of deadlines (16 to 63); the counter wraps around and
        time differences are taken modulo ``2**time_bits`` (:func:`dysta_sw.hwmodel.time_operands`).
    trace : bool
        Give the debug ``trace`` port (every gamma and score the compute unit delivers).
    dsp : bool
        Multiply in DSP blocks, or in the fabric (``False``: slower to place without DSP registers
        on ECP5, see docs/fp.md).

    Attributes
    ----------
    req : In(stream(request_layout))
        Requests; ``ready`` low when the table is full or a decision is being computed. A request
        naming a model-pattern beyond ``n_mp`` or whose layer count was never written is taken
        (when ``ready``, like any other) and refused (``req_error``).
    req_error : Out(1)
        Sticky: a request was refused.
    lut : In(stream(lut_write_layout))
        LUT writes; ``ready`` low while a decision is being computed.
    lut_error : Out(1)
        Sticky: a LUT write was out of range and ignored.
    done : Out(stream(tag))
        Tags of finished requests.
    dispatch : Out(stream(dispatch_layout))
        The next (tag, mp, layer) to run.
    npu_data : In(stream(ArrayLayout(value_width, lanes), always_ready))
        NPU output values, counted by the monitor.
    layer_done : In(1)
        Strobe: the dispatched layer has finished.
    now : Out(time_bits)
        The cycle counter.
    count : Out
        Requests in the table.
    busy : Out(1)
        A decision is being computed.
    trace : Out(stream(trace_layout, always_ready)), or None
        Debug (``trace=True``): every gamma (mode A) and score (mode B) the compute unit delivers.
    timing : Timing
        Cycle counts (:meth:`Timing.decision`).
    params : dict
        The constructor's arguments, every one (with its default): they determine the design.
    """

    def __init__(self, *, depth=64, fmt="fp16", mode="ieee", shared=True, lanes=8, value_width=16, n_mp=16,
                 max_layers=64, stages=None, time_shift=None, tag_bits=16, time_bits=48, trace=True, dsp=True):
        self.params = dict(depth=depth, fmt=fmt, mode=mode, shared=shared, lanes=lanes, value_width=value_width,
                           n_mp=n_mp, max_layers=max_layers, stages=stages, time_shift=time_shift,
                           tag_bits=tag_bits, time_bits=time_bits, trace=trace, dsp=dsp)
        def check(name, v, lo, hi):
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise DystaInputError(f"{name} must be an integer from {lo} to {hi}, not {v!r}")
        check("depth", depth, 8, 512)
        if depth & (depth - 1):
            raise DystaInputError(f"depth must be a power of two from 8 to 512, not {depth!r}")
        self.fmt = fp.get_format(fmt)
        self.mode = fp.check_mode(mode)
        if not isinstance(shared, bool):
            raise DystaInputError(f"shared must be True or False, not {shared!r}")
        check("lanes", lanes, 1, 64)
        check("value_width", value_width, 1, 64)
        check("n_mp", n_mp, 1, 1024)
        check("max_layers", max_layers, 1, 1024)
        check("tag_bits", tag_bits, 1, 32)
        check("time_bits", time_bits, 16, 63)
        if time_shift is not None:
            check("time_shift", time_shift, 0, time_bits - 1)
        if not isinstance(trace, bool):
            raise DystaInputError(f"trace must be True or False, not {trace!r}")
        if not isinstance(dsp, bool):
            raise DystaInputError(f"dsp must be True or False, not {dsp!r}")
        self.dsp = dsp
        self.stages = normalise_stages(stages)
        self.depth, self.shared, self.lanes, self.value_width = depth, shared, lanes, value_width
        self.n_mp, self.max_layers, self.tag_bits, self.time_bits = n_mp, max_layers, tag_bits, time_bits
        self.time_shift = DEFAULT_TIME_SHIFT[self.fmt.name] if time_shift is None else time_shift
        self.timing = Timing.of(shared=shared, stages=self.stages)
        self.widths = wd = Widths(depth=depth, fmt_width=self.fmt.width, n_mp=n_mp, max_layers=max_layers,
                                  tag_bits=tag_bits, time_bits=time_bits)
        ports = {
            "req": In(stream.Signature(request_layout(wd))),
            "req_error": Out(1),
            "lut": In(stream.Signature(lut_write_layout(wd))),
            "lut_error": Out(1),
            "done": Out(stream.Signature(tag_bits)),
            "dispatch": Out(stream.Signature(dispatch_layout(wd))),
            "npu_data": In(stream.Signature(data.ArrayLayout(value_width, lanes), always_ready=True)),
            "layer_done": In(1),
            "now": Out(time_bits),
            "count": Out(range(depth + 1)),
            "busy": Out(1),
        }
        if trace:
            ports["trace"] = Out(stream.Signature(trace_layout(wd), always_ready=True))
        super().__init__(ports)
        if not trace:
            self.trace = None
        #: (not a port; simulation only, Yosys removes it) sticky: a table read the controller
        #: uses met a write to the same slot, whose result the table's memories leave undefined
        self.table_clash = Signal()

    def config(self, clock_hz: float = 200e6) -> HwConfig:
        """The :class:`HwConfig` of this scheduler (for :mod:`dysta_sw.hwsched`)."""
        return HwConfig(fmt=self.fmt.name, mode=self.mode, clock_hz=clock_hz, time_shift=self.time_shift,
                        time_bits=self.time_bits, depth=self.depth)

    def ports(self) -> list:
        """The top-level signals, for ``verilog.convert(..., ports=...)`` (the ``always_ready``
        streams have constant ``ready`` members, which are not ports)."""
        out = []
        for _, _, value in self.signature.flatten(self):
            if not isinstance(Value.cast(value), Const):
                out.append(Value.cast(value))
        return out

    def elaborate(self, platform):
        m = Module()
        wd = self.widths
        fmt, mode, tb, s = self.fmt, self.mode, self.time_bits, self.time_shift
        one = int(fp.from_float(np.float64(1.0), fmt, mode))
        meta = data.StructLayout({"slot": wd.slot, "tag": wd.tag, "mp": wd.mp, "next": wd.layer, "row": wd.row,
                                  "gamma": wd.w})

        m.submodules.table = table = RequestTable(widths=wd, one=one)
        m.submodules.luts = luts = LutBank(widths=wd, n_mp=self.n_mp, max_layers=self.max_layers,
                                           depth=self.depth, fmt=fmt, mode=mode)
        m.submodules.monitor = mon = Monitor(lanes=self.lanes, value_width=self.value_width)
        m.submodules.cu = cu = ComputeUnit(fmt=fmt, mode=mode, shared=self.shared, stages=self.stages,
                                           meta_shape=meta, dsp=self.dsp)
        wiring.connect(m, wiring.flipped(self.lut), luts.w)
        wiring.connect(m, wiring.flipped(self.npu_data), mon.data)
        m.d.comb += [self.lut_error.eq(luts.error), table.now.eq(self.now), self.count.eq(table.count)]
        m.d.sync += self.now.eq(self.now + 1)

        # requests: a valid model-pattern goes into the table, another is taken and refused
        accept = Signal()
        rq = self.req
        m.d.comb += [luts.chk_mp.eq(rq.payload.mp), table.push.payload.eq(rq.payload),
                     table.push.valid.eq(rq.valid & luts.chk_ok), table.accept.eq(accept),
                     rq.ready.eq(table.push.ready)]  # a full table back-pressures every request
        with m.If(rq.valid & rq.ready & ~luts.chk_ok):
            m.d.sync += self.req_error.eq(1)
        pushed = Signal()
        m.d.comb += pushed.eq(table.push.valid & table.push.ready)

        # the running request (or the one about to be dispatched)
        cur_slot, cur_tag = Signal(wd.slot), Signal(wd.tag)
        cur_mp, cur_next, cur_row = Signal(wd.mp), Signal(wd.layer), Signal(wd.row)
        now_l = Signal(tb)
        # the scan
        issue = Signal(range(self.depth + 1))
        got = Signal(range(self.depth + 1))
        best = Signal(meta)
        best_key = Signal(wd.w)
        count_m1 = Signal(range(self.depth + 1))
        m.d.comb += count_m1.eq(table.count - 1)

        # scan front end: registered table read (data 2 cycles after the address), then the LUT
        # read (3 cycles) while the time differences are formed, saturated and aligned
        rd = table.rd
        scan_rd = Signal()
        m.d.comb += [luts.n.eq(table.count), luts.mp.eq(cur_mp), luts.row.eq(cur_row)]
        v = [Signal(name=f"v{k}") for k in range(6)]  # v[k]: an entry's read address was k cycles ago
        m.d.sync += [v[k + 1].eq(v[k]) for k in range(5)]
        slot_r = [Signal(wd.slot, name=f"slot{k}") for k in range(2)]  # the address of the entry in rd
        m.d.sync += [slot_r[0].eq(table.rd_addr), slot_r[1].eq(slot_r[0])]
        with m.If(scan_rd):
            m.d.comb += [luts.mp.eq(rd.mp), luts.row.eq(rd.row)]
        f3, f4, f5 = Signal(meta), Signal(meta), Signal(meta)
        m.d.sync += [f3.slot.eq(slot_r[1]), f3.tag.eq(rd.tag), f3.mp.eq(rd.mp), f3.next.eq(rd.next),
                     f3.row.eq(rd.row), f3.gamma.eq(rd.gamma), f4.eq(f3), f5.eq(f4)]
        d3, w3 = Signal(signed(tb)), Signal(tb)
        m.d.sync += [d3.eq(rd.deadline - now_l), w3.eq(now_l - rd.last)]
        dmax, dmin, wmax = (1 << (DIFF_BITS - 1)) - 1, -(1 << (DIFF_BITS - 1)), (1 << DIFF_BITS) - 1
        dsh, wsh = d3 >> s, w3 >> s
        d4, w4 = Signal(signed(DIFF_BITS)), Signal(DIFF_BITS)
        m.d.sync += [d4.eq(Mux(dsh > dmax, dmax, Mux(dsh < dmin, dmin, dsh))), w4.eq(Mux(wsh > wmax, wmax, wsh))]
        d5, w5 = Signal(signed(DIFF_BITS)), Signal(DIFF_BITS)
        m.d.sync += [d5.eq(d4), w5.eq(w4)]
        b = cu.b.payload
        m.d.comb += [cu.b.valid.eq(v[5]), b.gamma.eq(f5.gamma), b.R.eq(luts.R), b.dt.eq(d5), b.wt.eq(w5),
                     b.inv_tiso.eq(luts.inv_tiso), b.inv_q.eq(luts.inv_q), b.eta.eq(luts.eta), b.meta.eq(f5)]

        # scan back end: each score's order key (``lt_total``'s order: negatives reversed, NaNs
        # equal and last, lean subnormals as zeros) registered, then the argmin over keys (a
        # strict less-than: the first of equal scores stays)
        o = cu.b_out
        kv, k_key, k_meta = Signal(), Signal(wd.w), Signal(meta)
        m.d.sync += [kv.eq(o.valid), k_key.eq(order_key(o.payload.score, fmt, mode)), k_meta.eq(o.payload.meta)]
        take = Signal()
        m.d.comb += take.eq((got == 0) | (k_key < best_key))
        win = Signal(meta)
        m.d.comb += win.eq(Mux(take, k_meta, best))
        with m.If(kv):
            m.d.sync += [got.eq(got + 1), best.eq(win), best_key.eq(Mux(take, k_key, best_key))]
        if self.trace is not None:
            tr = self.trace.payload
            with m.If(o.valid):
                m.d.comb += [self.trace.valid.eq(1), tr.mode.eq(1), tr.slot.eq(o.payload.meta.slot),
                             tr.tag.eq(o.payload.meta.tag), tr.gamma.eq(o.payload.meta.gamma),
                             tr.score.eq(o.payload.score)]

        # mode A: the shifted count (registered), then saturated (registered)
        cnt = Signal(COUNT_BITS)
        shifted = Signal.like(mon.count)
        shift_en = Signal()
        with m.If(shift_en):
            m.d.sync += shifted.eq(mon.count >> luts.count_shift)  # the layer's count (2 cycles on)
        m.d.sync += cnt.eq(Mux(shifted >> COUNT_BITS != 0, (1 << COUNT_BITS) - 1, shifted))
        m.d.comb += [cu.a.payload.count.eq(cnt), cu.a.payload.inv_shape.eq(luts.inv_shape),
                     cu.a.payload.inv_rhobar.eq(luts.inv_rhobar)]

        m.d.comb += [self.dispatch.payload.tag.eq(cur_tag), self.dispatch.payload.mp.eq(cur_mp),
                     self.dispatch.payload.layer.eq(cur_next), self.done.payload.eq(cur_tag)]
        wait = Signal(2)
        # mode A's valid, high in state A_GO, from a register set in the state before: it selects
        # the shared units' operands, so it must not come through the state decoder
        a_go = Signal()
        m.d.sync += a_go.eq(0)
        m.d.comb += cu.a.valid.eq(a_go)

        with m.FSM(init="IDLE"):
            with m.State("IDLE"):
                m.d.comb += [accept.eq(1), luts.w_en.eq(1)]
                with m.If(pushed):
                    p = rq.payload
                    m.d.sync += [cur_slot.eq(table.count), cur_tag.eq(p.tag), cur_mp.eq(p.mp), cur_next.eq(0),
                                 cur_row.eq(times_const(p.mp, wd.stride))]
                    m.next = "DISPATCH"
            with m.State("DISPATCH"):
                m.d.comb += self.dispatch.valid.eq(1)
                with m.If(self.dispatch.ready):
                    m.d.comb += mon.clear.eq(1)
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += [accept.eq(1), luts.w_en.eq(~self.layer_done)]
                with m.If(self.layer_done):
                    m.d.sync += now_l.eq(self.now)
                    m.next = "A_SETTLE"
            # the running layer's LUTs are addressed from the dispatch on (cur_*), so valid 3 cycles
            # later: from the second cycle after a layer-done at the earliest (a one-cycle layer)
            with m.State("A_SETTLE"):
                m.d.comb += self.busy.eq(1)
                m.next = "A_SHIFT"
            with m.State("A_SHIFT"):  # the count is shifted
                m.d.comb += [self.busy.eq(1), shift_en.eq(1)]
                m.next = "A_SAT"
            with m.State("A_SAT"):  # and saturated
                m.d.comb += self.busy.eq(1)
                m.d.sync += a_go.eq(1)
                m.next = "A_GO"

            def mode_a_result():
                with m.If(cu.a_out.valid):
                    g = cu.a_out.payload
                    m.d.comb += [table.upd.valid.eq(1), table.upd.payload.slot.eq(cur_slot),
                                 table.upd.payload.next.eq(cur_next + 1), table.upd.payload.row.eq(cur_row + 1),
                                 table.upd.payload.last.eq(now_l),
                                 table.upd.payload.gamma.eq(g)]
                    if self.trace is not None:
                        m.d.comb += [self.trace.valid.eq(1), tr.mode.eq(0), tr.slot.eq(cur_slot),
                                     tr.tag.eq(cur_tag), tr.gamma.eq(g), tr.score.eq(0)]
                    m.d.sync += [issue.eq(0), got.eq(0)]
                    with m.If(cur_next + 1 == luts.layers):
                        m.next = "RETIRE"
                    with m.Else():
                        m.next = "SCAN"

            with m.State("A_GO"):
                m.d.comb += self.busy.eq(1)
                m.next = "A_WAIT"
                mode_a_result()  # a combinational mode A (latency 0) finishes at once
            with m.State("A_WAIT"):
                m.d.comb += self.busy.eq(1)
                mode_a_result()
            with m.State("RETIRE"):
                m.d.comb += [self.busy.eq(1), self.done.valid.eq(1)]
                with m.If(self.done.ready & table.clash):
                    m.d.sync += self.table_clash.eq(1)
                with m.If(self.done.ready):
                    m.d.comb += [table.retire.valid.eq(1), table.retire.payload.eq(cur_slot)]
                    m.d.sync += wait.eq(0)
                    m.next = "MOVE"
            with m.State("MOVE"):  # two cycles: the table's last entry moves into the freed slot
                m.d.comb += self.busy.eq(1)
                m.d.sync += wait.eq(wait + 1)
                with m.If(wait == 1):
                    with m.If(table.count == 0):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "SCAN"
            with m.State("SCAN"):
                m.d.comb += [self.busy.eq(1), table.rd_addr.eq(issue), scan_rd.eq(v[2])]
                with m.If(table.clash):
                    m.d.sync += self.table_clash.eq(1)
                with m.If(issue != table.count):
                    m.d.comb += v[0].eq(1)
                    m.d.sync += issue.eq(issue + 1)
                with m.If(kv & (got == count_m1)):
                    m.d.sync += [cur_slot.eq(win.slot), cur_tag.eq(win.tag), cur_mp.eq(win.mp),
                                 cur_next.eq(win.next), cur_row.eq(win.row)]
                    m.next = "DISPATCH"
        return m
