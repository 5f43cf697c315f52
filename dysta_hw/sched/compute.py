"""The compute unit: modes A and B on shared or separate floating-point units (paper Fig. 11)."""

from __future__ import annotations

from amaranth.hdl import Module, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from dysta_hw.fp import FPAdd, FPClamp0, FPFromInt, FPMul
from dysta_sw.fp import get_format
from dysta_sw.hwmodel import COUNT_BITS, DIFF_BITS
from dysta_sw.hwsched import MODE_A, MODE_B, normalise_stages, schedule, unit_names

__all__ = ["ComputeUnit"]


class _Delays:
    """Shift registers that share their taps: ``get(sig, n)`` is ``sig`` delayed by ``n`` cycles."""

    def __init__(self, m: Module):
        self._m, self._chains = m, {}

    def get(self, sig: Signal, n: int):
        chain = self._chains.setdefault(id(sig), [sig])
        while len(chain) <= n:
            reg = Signal.like(sig, name=f"{sig.name}_d{len(chain)}", reset_less=sig.shape() != unsigned(1))
            self._m.d.sync += reg.eq(chain[-1])
            chain.append(reg)
        return chain[n]


class ComputeUnit(wiring.Component):
    """Mode A (``gamma``) and mode B (``score``) in the operation order of :mod:`dysta_sw.hwmodel`.

    The programs (:data:`dysta_sw.hwsched.MODE_A`, :data:`~dysta_sw.hwsched.MODE_B`) are
    scheduled at elaboration (:func:`dysta_sw.hwsched.schedule`). Mode B has a unit per
    operation, so a new mode-B input enters every cycle (``ii = 1``). ``shared=True``: mode A
    runs on mode B's units (one reconfigurable datapath, :func:`dysta_sw.hwsched.unit_names`);
    ``shared=False``: mode A has units of its own. Intermediate results wait in shift registers
    between the unit that produces them and the one that consumes them.

    Parameters
    ----------
    fmt, mode : str
        Number format and mode.
    shared : bool
        One reconfigurable datapath, or separate units.
    stages : dict, int or None
        Register slices per unit kind (``cvt``, ``mul``, ``add``, ``clamp``).
    meta_shape : Shape
        Data carried alongside a mode-B input to its output.
    dsp : bool
        Multiply significands in DSP blocks (``True``) or in the fabric (:class:`~dysta_hw.fp.FPMul`).

    Attributes
    ----------
    a : In(stream({count, inv_shape, inv_rhobar}, always_ready))
        Mode-A inputs, one at a time (the next after the previous result); no mode-B input may
        be in flight.
    a_out : Out(stream(W, always_ready))
        ``gamma``, ``latency_a`` cycles later.
    b : In(stream({gamma, R, dt, wt, inv_tiso, inv_q, eta, meta}, always_ready))
        Mode-B inputs, one per cycle at most; ``dt`` and ``wt`` the time differences in quanta,
        ``DIFF_BITS`` wide (:func:`dysta_sw.hwmodel.time_operands`).
    b_out : Out(stream({score, meta}, always_ready))
        ``latency_b`` cycles later.
    """

    def __init__(self, *, fmt="fp16", mode="ieee", shared=True, stages=None, meta_shape=1, dsp=True):
        self.dsp = bool(dsp)
        self.fmt, self.mode, self.shared = get_format(fmt), mode, bool(shared)
        self.stages = normalise_stages(stages)
        unit_a, unit_b = unit_names(self.shared)
        self.sched_a = schedule(MODE_A, unit=unit_a, stages=self.stages)
        self.sched_b = schedule(MODE_B, unit=unit_b, stages=self.stages)
        self.latency_a, self.latency_b, self.ii = self.sched_a.latency, self.sched_b.latency, self.sched_b.ii
        w = self.fmt.width
        super().__init__({
            "a": In(stream.Signature(data.StructLayout(
                {"count": COUNT_BITS, "inv_shape": w, "inv_rhobar": w}), always_ready=True)),
            "a_out": Out(stream.Signature(w, always_ready=True)),
            "b": In(stream.Signature(data.StructLayout(
                {"gamma": w, "R": w, "dt": signed(DIFF_BITS), "wt": unsigned(DIFF_BITS), "inv_tiso": w,
                 "inv_q": w, "eta": w, "meta": meta_shape}), always_ready=True)),
            "b_out": Out(stream.Signature(data.StructLayout({"score": w, "meta": meta_shape}), always_ready=True)),
        })

    def _unit(self, name, kind):
        f, md, st = self.fmt, self.mode, self.stages[kind]
        if kind == "mul":
            return FPMul(fmt=f, mode=md, stages=st, dsp=self.dsp)
        if kind == "add":
            return FPAdd(fmt=f, mode=md, stages=st)
        if kind == "clamp":
            return FPClamp0(fmt=f, mode=md, stages=st)
        # mode B's signed converter also takes mode A's count when the units are shared
        width, sgn = {"a_count_f": (COUNT_BITS, False), "b_dl": (DIFF_BITS, True),
                      "b_wait": (DIFF_BITS, False)}[name]
        return FPFromInt(width=width, signed=sgn, fmt=f, mode=md, stages=st)

    def elaborate(self, platform):
        m = Module()
        dl = _Delays(m)
        progs = []
        for port, sched, out in ((self.a, self.sched_a, self.a_out), (self.b, self.sched_b, self.b_out)):
            go = Signal(name=f"go_{port is self.a and 'a' or 'b'}")
            m.d.comb += go.eq(port.valid)
            inputs = {}
            for fname in port.payload.shape().members:
                field = Value.cast(getattr(port.payload, fname))
                sig = Signal(field.shape(), name=f"in_{fname}")
                m.d.comb += sig.eq(field)
                inputs[fname] = sig
            progs.append((sched, go, inputs, out))

        kinds = {}
        for sched, *_ in progs:
            for op in sched.ops:
                kinds[sched.unit[op.name]] = "add" if op.kind == "sub" else op.kind
        units, results = {}, {}
        for name, kind in kinds.items():
            u = m.submodules[f"u_{name}"] = self._unit(name, kind)
            res = Signal(self.fmt.width, name=f"res_{name}")
            m.d.comb += res.eq(u.o.payload)
            units[name], results[name] = u, res

        # each unit's input: the operands of whichever scheduled op is active this cycle
        for name, u in units.items():
            # gather operands first: delay taps add statements, which would end an If chain
            cases = []
            for sched, go, inputs, _ in progs:
                for op in sched.ops:
                    if sched.unit[op.name] != name:
                        continue
                    s = sched.start[op.name]
                    operands = [dl.get(inputs[x], s) if x in inputs
                                else dl.get(results[sched.unit[x]], s - sched.ready[x]) for x in op.inputs]
                    cases.append((dl.get(go, s), op, operands))
            for k, (active, op, ops) in enumerate(cases):
                with (m.If(active) if k == 0 else m.Elif(active)):
                    m.d.comb += u.i.valid.eq(1)
                    if op.kind in ("add", "sub"):
                        m.d.comb += [u.i.payload.a.eq(ops[0]), u.i.payload.b.eq(ops[1]),
                                     u.i.payload.sub.eq(op.kind == "sub")]
                    elif op.kind == "mul":
                        m.d.comb += [u.i.payload.a.eq(ops[0]), u.i.payload.b.eq(ops[1])]
                    else:
                        m.d.comb += u.i.payload.eq(ops[0])

        for sched, go, inputs, out in progs:
            last = sched.ops[-1].name
            m.d.comb += [out.valid.eq(dl.get(go, sched.latency))]
            if out is self.a_out:
                m.d.comb += out.payload.eq(results[sched.unit[last]])
            else:
                m.d.comb += [out.payload.score.eq(results[sched.unit[last]]),
                             out.payload.meta.eq(dl.get(inputs["meta"], sched.latency))]
        return m
