"""Cycle-level golden model of the hardware scheduler's controller (SPEC 7, docs/hw.md).

:mod:`dysta_sw.hwmodel` fixes *what* the gateware computes (modes A and B, bit patterns);
this module fixes *when* and *on which entries*: the request table's slot allocation, the scan
order, the tie-break, the retire/move of a finished request and the number of cycles from a
layer-done to the next dispatch. Given the LUT contents and the input events the simulation
recorded (the cycle each request was accepted, with its fields; the cycle of each layer-done,
with the monitor's non-zero count), :meth:`SchedModel.run` returns every decision: the dispatch,
its cycle, and the gamma and score of every evaluated entry. The gateware (``dysta_hw.sched``)
is equivalent when all of these are identical.

Also here, because gateware and model must share them: the compute unit's operation lists and
their modulo schedule (:func:`schedule`), the LUT write encoding (:class:`Table`), and host
helpers that turn :class:`~dysta_sw.hwmodel.HwLuts` into LUT writes.

Plain numpy; no Amaranth import.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from . import fp
from .errors import DystaInputError
from .hwmodel import COUNT_BITS, HwConfig, HwLuts

__all__ = ["Table", "Op", "MODE_A", "MODE_B", "Schedule", "schedule", "unit_names", "Timing", "SchedLuts", "Accept",
           "LayerDone", "Evaluation", "Decision", "Replay", "SchedModel", "NNZ_BITS", "COUNT_SHIFT_BITS",
           "DEFAULT_STAGES", "MAX_STAGES", "normalise_stages"]

#: Width of the monitor's (saturating) non-zero counter.
NNZ_BITS = 32
#: Width of a ``count_shift`` LUT entry.
COUNT_SHIFT_BITS = 5


class Table(enum.IntEnum):
    """Which look-up table a LUT write addresses (the ``table`` field of the ``lut`` stream)."""

    R = 0  #: ``R[mp][layer]``, layer 0..max_layers
    INV_RHOBAR = 1  #: ``inv_rhobar[mp][layer]``
    INV_SHAPE = 2  #: ``inv_shape[mp][layer]``
    COUNT_SHIFT = 3  #: ``count_shift[mp][layer]`` (integer < 2**COUNT_SHIFT_BITS)
    INV_TISO = 4  #: ``inv_tiso[mp]`` (layer ignored)
    LAYERS = 5  #: number of layers of model-pattern ``mp``, 1..max_layers (layer ignored)
    ETA = 6  #: the constant ``eta`` (mp and layer ignored)


# ---------------------------------------------------------------------------------------------
# Compute unit programs and their schedule


@dataclass(frozen=True)
class Op:
    """One floating-point operation of the compute unit: ``name = kind(*inputs)``."""

    name: str
    kind: str  #: ``cvt`` (from_int), ``mul``, ``add``, ``sub``, ``clamp``
    inputs: tuple


#: Mode A, in hwmodel's order: ``gamma = (from_int(count) * inv_shape) * inv_rhobar``.
MODE_A = (
    Op("count_f", "cvt", ("count",)),
    Op("g1", "mul", ("count_f", "inv_shape")),
    Op("gamma", "mul", ("g1", "inv_rhobar")),
)
#: Mode B, in hwmodel's order (HwLuts.score).
MODE_B = (
    Op("trem", "mul", ("gamma", "R")),
    Op("dl", "cvt", ("dt",)),
    Op("x", "sub", ("dl", "trem")),
    Op("slack", "clamp", ("x",)),
    Op("wait", "cvt", ("wt",)),
    Op("p1", "mul", ("wait", "inv_tiso")),
    Op("pen", "mul", ("p1", "inv_q")),
    Op("t", "add", ("slack", "pen")),
    Op("e", "mul", ("eta", "t")),
    Op("score", "add", ("trem", "e")),
)
_UNIT_KIND = {"cvt": "cvt", "mul": "mul", "add": "add", "sub": "add", "clamp": "clamp"}

#: Default register slices per FP unit kind.
DEFAULT_STAGES = {"cvt": 1, "mul": 1, "add": 1, "clamp": 0}
#: Most register slices a unit takes: every unit has fewer cut points than this, so more would only
#: lengthen its output's delay line.
MAX_STAGES = 64


def normalise_stages(stages) -> dict:
    """``stages`` as a dict ``{cvt, mul, add, clamp}``: None (defaults), an int (every unit) or a dict."""
    if stages is None:
        return dict(DEFAULT_STAGES)
    if isinstance(stages, int) and not isinstance(stages, bool):
        if not 0 <= stages <= MAX_STAGES:
            raise DystaInputError(f"stages must be an integer from 0 to {MAX_STAGES}, not {stages!r}")
        return {k: stages for k in DEFAULT_STAGES}
    if isinstance(stages, dict):
        bad = set(stages) - set(DEFAULT_STAGES)
        if bad:
            raise DystaInputError(f"stages keys must be among {sorted(DEFAULT_STAGES)}, not {sorted(bad)}")
        out = {**DEFAULT_STAGES, **stages}
        for k, v in out.items():
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_STAGES:
                raise DystaInputError(f"stages[{k!r}] must be an integer from 0 to {MAX_STAGES}, not {v!r}")
        return out
    raise DystaInputError(f"stages must be None, an int or a dict, not {stages!r}")


@dataclass(frozen=True)
class Schedule:
    """A modulo schedule of one program: op ``name`` starts ``start[name]`` cycles after the
    program's inputs are presented, on unit instance ``unit[name]``; its result is ready at
    ``ready[name]``. A new set of inputs may be presented every ``ii`` cycles."""

    ops: tuple
    unit: dict
    start: dict
    ready: dict
    ii: int
    latency: int


def unit_names(shared: bool) -> tuple[dict, dict]:
    """The FP unit each op of mode A and of mode B runs on.

    Mode B has one unit per op (named ``b_<op>``), so that a queued entry enters the datapath
    every cycle. With separate units mode A has its own (``a_<op>``); with ``shared`` units mode A
    runs on mode B's units of the same kind (its converter on ``b_dl``, its multiplies on
    ``b_trem`` and ``b_p1``): one reconfigurable datapath, switched between the two modes.
    """
    unit_b = {op.name: "b_" + op.name for op in MODE_B}
    if not shared:
        return {op.name: "a_" + op.name for op in MODE_A}, unit_b
    free: dict = {}
    for op in MODE_B:
        free.setdefault(_UNIT_KIND[op.kind], []).append(unit_b[op.name])
    unit_a = {}
    for op in MODE_A:
        unit_a[op.name] = free[_UNIT_KIND[op.kind]].pop(0)
    return unit_a, unit_b


def schedule(ops, *, unit: dict, stages: dict) -> Schedule:
    """Schedule ``ops`` on the units ``unit`` (op name to unit name, one op per unit): each op as
    early as its inputs allow, so one set of inputs may be presented every cycle (``ii = 1``)."""
    if len(set(unit[op.name] for op in ops)) != len(ops):
        raise ValueError("each op of a program needs a unit of its own")
    start, ready = {}, {}
    for op in ops:
        t = max([ready.get(x, 0) for x in op.inputs])
        start[op.name] = t
        ready[op.name] = t + stages[_UNIT_KIND[op.kind]]
    return Schedule(tuple(ops), dict(unit), start, ready, 1, ready[ops[-1].name])


@dataclass(frozen=True)
class Timing:
    """Cycle counts of the controller (see docs/hw.md, "Timing")."""

    lat_a: int  #: mode A latency
    lat_b: int  #: mode B latency

    @classmethod
    def of(cls, *, shared: bool, stages=None) -> Timing:
        st = normalise_stages(stages)
        unit_a, unit_b = unit_names(shared)
        return cls(schedule(MODE_A, unit=unit_a, stages=st).latency,
                   schedule(MODE_B, unit=unit_b, stages=st).latency)

    #: Cycles from the layer-done strobe to mode A's input: the strobe latches the monitor's
    #: count, the LUT outputs of the running layer settle (they are addressed from the dispatch,
    #: and a layer may last one cycle), the count is shifted, then saturated.
    A_ENTRY = 4
    #: Cycles from a scan's read address to its entry entering mode B: the registered table read
    #: (2), then the registered LUT read (3) while the time differences are formed.
    B_ENTRY = 5
    #: Extra cycles of a decision that retires the running request: the done handshake and the
    #: move of the table's last entry into the freed slot.
    RETIRE = 3

    #: Cycles from the last score to the dispatch: its order key, then the argmin register.
    ARGMIN = 2

    def decision(self, n_queued: int, retired: bool) -> int:
        """Cycles from the layer-done strobe to the dispatch (valid) for ``n_queued`` entries left
        in the table, when the dispatch and done streams are ready: mode A, its write-back, one
        entry into the scan per cycle, mode B of the last one, the argmin, the dispatch."""
        return (self.A_ENTRY + self.lat_a + 1 + self.RETIRE * retired + (n_queued - 1) + self.B_ENTRY
                + self.lat_b + self.ARGMIN)

    #: Cycles from the acceptance of a request into an empty, idle scheduler to its dispatch.
    wake = 1


# ---------------------------------------------------------------------------------------------
# LUT contents


@dataclass(eq=False)
class SchedLuts:
    """The scheduler's LUT contents, laid out as the gateware addresses them (2-D per model-pattern).

    Per-layer tables are ``(n_mp, max_layers + 1)`` bit patterns (``count_shift`` integers);
    ``inv_tiso`` and ``layers`` are per model-pattern; ``eta`` a bit pattern.
    """

    cfg: HwConfig
    n_mp: int
    max_layers: int
    R: np.ndarray
    inv_rhobar: np.ndarray
    inv_shape: np.ndarray
    count_shift: np.ndarray
    inv_tiso: np.ndarray
    layers: np.ndarray
    eta: int = 0

    @classmethod
    def empty(cls, cfg: HwConfig, n_mp: int, max_layers: int) -> SchedLuts:
        dt = fp.get_format(cfg.fmt).dtype
        z = lambda *s, t=dt: np.zeros(s, t)  # noqa: E731
        return cls(cfg, n_mp, max_layers, z(n_mp, max_layers + 1), z(n_mp, max_layers + 1),
                   z(n_mp, max_layers + 1), z(n_mp, max_layers + 1, t=np.int64), z(n_mp), z(n_mp, t=np.int64))

    @classmethod
    def from_hwluts(cls, luts: HwLuts, n_layers, lut_base, *, n_mp: int, max_layers: int) -> SchedLuts:
        """From :class:`HwLuts` (flat, ScenarioTables layout with ``lut_base`` and ``n_layers``)."""
        n_layers = np.asarray(n_layers)
        if len(n_layers) > n_mp or n_layers.max() > max_layers:
            raise DystaInputError(f"{len(n_layers)} model-patterns of up to {n_layers.max()} layers do not fit "
                                  f"n_mp={n_mp}, max_layers={max_layers}: build the scheduler larger")
        s = cls.empty(luts.cfg, n_mp, max_layers)
        for m, (nl, base) in enumerate(zip(n_layers, lut_base)):
            sl = slice(base, base + nl + 1)
            s.R[m, :nl + 1] = luts.R[sl]
            s.inv_rhobar[m, :nl + 1] = luts.inv_rhobar[sl]
            s.inv_shape[m, :nl + 1] = luts.inv_shape[sl]
            s.count_shift[m, :nl + 1] = luts.count_shift[sl]
            s.inv_tiso[m] = luts.inv_tiso[m]
            s.layers[m] = nl
        s.eta = int(luts.eta)
        return s

    def writes(self) -> list[tuple[int, int, int, int]]:
        """The ``(table, mp, layer, value)`` LUT writes that program these contents."""
        out = []
        for m in range(self.n_mp):
            if self.layers[m] == 0:
                continue
            for layer in range(int(self.layers[m]) + 1):
                for t, arr in ((Table.R, self.R), (Table.INV_RHOBAR, self.inv_rhobar),
                               (Table.INV_SHAPE, self.inv_shape), (Table.COUNT_SHIFT, self.count_shift)):
                    out.append((int(t), m, layer, int(arr[m, layer])))
            out.append((int(Table.INV_TISO), m, 0, int(self.inv_tiso[m])))
            out.append((int(Table.LAYERS), m, 0, int(self.layers[m])))
        out.append((int(Table.ETA), 0, 0, int(self.eta)))
        return out

    def hwluts(self) -> HwLuts:
        """The same contents as :class:`HwLuts` with ``lut_index = mp * (max_layers + 1) + layer``."""
        cfg = self.cfg
        inv_q = np.zeros(cfg.depth + 1)
        inv_q[1:] = 1.0 / np.arange(1, cfg.depth + 1)
        return HwLuts(cfg=cfg, R=self.R.ravel(), inv_rhobar=self.inv_rhobar.ravel(),
                      inv_shape=self.inv_shape.ravel(), count_shift=self.count_shift.ravel(),
                      inv_tiso=self.inv_tiso, inv_q=fp.from_float(inv_q, cfg.fmt, cfg.mode), eta=self.eta)


# ---------------------------------------------------------------------------------------------
# Events and decisions


@dataclass(frozen=True)
class Accept:
    """A request accepted on the ``req`` stream at ``cycle``."""

    cycle: int
    tag: int
    mp: int
    deadline: int


@dataclass(frozen=True)
class LayerDone:
    """The layer-done strobe at ``cycle``; ``nnz`` the non-zeros the monitor saw in that layer."""

    cycle: int
    nnz: int


@dataclass(frozen=True)
class Evaluation:
    """One entry the compute unit evaluated: mode ``"A"`` (gamma of the layer that ran) or ``"B"``."""

    mode: str
    slot: int
    tag: int
    gamma: int
    score: int  #: 0 for mode A


@dataclass
class Decision:
    """A dispatch: at ``cycle`` (dispatch valid), request ``tag`` runs ``layer`` of ``mp``.

    ``now`` is the latched cycle of the layer-done (the acceptance cycle for a wake-up),
    ``evaluations`` the entries evaluated for it (mode A of the layer that ran, then mode B of
    every queued entry in slot order; none for a wake-up), ``done`` the tag retired before it.
    """

    cycle: int
    tag: int
    mp: int
    layer: int
    now: int
    wake: bool
    evaluations: list = field(default_factory=list)
    done: int | None = None


@dataclass
class _Entry:
    tag: int
    mp: int
    next: int
    deadline: int
    last: int
    gamma: int


class SchedModel:
    """The controller, event by event, on the given LUT contents (see the module docstring).

    Parameters
    ----------
    luts : SchedLuts
        The programmed LUT contents.
    timing : Timing
        The gateware's cycle counts (``Timing.of(shared=..., stages=...)``).
    compiled : bool
        Compute gamma and the scores with the compiled arithmetic (:mod:`dysta_sw.compiled.hw`,
        checked bit for bit against :class:`~dysta_sw.hwmodel.HwLuts`' golden operations by
        tests/test_compiled_fp.py) instead of the golden numpy model: the same replay, faster.
    """

    def __init__(self, luts: SchedLuts, timing: Timing, compiled: bool = False):
        self.luts, self.timing = luts, timing
        self.cfg = luts.cfg
        self.hw = luts.hwluts()
        self.one = int(fp.from_float(np.float64(1.0), self.cfg.fmt, self.cfg.mode))
        if compiled:
            from .compiled import hw as fast
            self._gamma = lambda nnz, idx: fast.gamma_array(self.hw, nnz, idx)
            self._score = lambda *a: fast.score_array(self.hw, *a)
        else:
            self._gamma, self._score = self.hw.gamma, self.hw.score

    def _idx(self, mp, layer):
        return mp * (self.luts.max_layers + 1) + layer

    def run(self, accepts, layer_dones) -> Replay:
        """Replay ``accepts`` and ``layer_dones`` (with their recorded cycles).

        A request accepted in the same cycle as a layer-done is in the table for that decision.
        A request naming a model-pattern whose layer count was never programmed (or beyond
        ``n_mp``) is refused: the gateware takes it off the stream, sets ``req_error`` and keeps
        nothing (its tag is in ``refused``). Raises ``AssertionError`` if the events are impossible
        for the controller (a layer-done without a running request, an acceptance into a full table).
        """
        depth = self.cfg.depth
        table: list[_Entry] = []
        running = None  # slot of the running request
        out = Replay([], [], [], [])
        events = sorted([(a.cycle, 0, a) for a in accepts] + [(d.cycle, 1, d) for d in layer_dones],
                        key=lambda e: (e[0], e[1]))
        for cycle, _, ev in events:
            if isinstance(ev, Accept):
                if not (0 <= ev.mp < self.luts.n_mp and self.luts.layers[ev.mp] > 0):
                    out.refused.append(ev.tag)
                    continue
                assert len(table) < depth, f"request {ev.tag} accepted into a full table at cycle {cycle}"
                table.append(_Entry(ev.tag, ev.mp, 0, ev.deadline, cycle, self.one))
                if running is None:  # idle and empty: dispatch at once
                    assert len(table) == 1
                    running = 0
                    out.decisions.append(Decision(cycle + self.timing.wake, ev.tag, ev.mp, 0, cycle, True))
                continue
            assert running is not None, f"layer-done at cycle {cycle} with nothing running"
            running = self._decide(table, running, ev.cycle, ev.nnz, out)
        return out

    def _decide(self, table, slot, now, nnz, out) -> int | None:
        hw, cfg = self.hw, self.cfg
        e = table[slot]
        idx = self._idx(e.mp, e.next)
        k = int(self.luts.count_shift[e.mp, e.next])
        nnz = min(nnz, (1 << NNZ_BITS) - 1, ((1 << COUNT_BITS) << k) - 1)  # saturating counters
        # one-element arrays: numpy scalars warn on the wrap-around fp.from_int relies on
        e.gamma = int(self._gamma(np.array([nnz], np.int64), idx)[0])
        evals = [Evaluation("A", slot, e.tag, e.gamma, 0)]
        e.next += 1
        e.last = now
        retired = e.next == int(self.luts.layers[e.mp])
        done = None
        if retired:  # free the slot: the last entry moves into it, keeping the table packed
            done = e.tag
            out.dones.append(e.tag)
            last = table.pop()
            if slot < len(table):
                table[slot] = last
        if not table:
            out.evaluations += evals
            return None
        n = len(table)
        col = lambda f, dt=np.int64: np.array([f(q) for q in table], dt)  # noqa: E731
        scores = self._score(col(lambda q: q.gamma, hw.R.dtype), col(lambda q: self._idx(q.mp, q.next)),
                          col(lambda q: q.mp), col(lambda q: q.deadline), col(lambda q: q.last),
                          np.full(n, now, np.int64), np.full(n, n))
        for s, q in enumerate(table):
            evals.append(Evaluation("B", s, q.tag, q.gamma, int(scores[s])))
        out.evaluations += evals
        win = int(fp.argmin(np.asarray(scores, hw.R.dtype), fmt=cfg.fmt, mode=cfg.mode))
        w = table[win]
        out.decisions.append(Decision(now + self.timing.decision(n, retired), w.tag, w.mp, w.next, now, False,
                                      evals, done))
        return win


@dataclass
class Replay:
    """What :meth:`SchedModel.run` computes: the decisions, the retired tags and every evaluation
    (mode A and B, in the order the compute unit delivers them)."""

    decisions: list
    dones: list
    evaluations: list
    refused: list = field(default_factory=list)  #: tags of refused requests
