"""The scheduling engine: one time-shared accelerator, preemption at layer boundaries (SPEC 5).

Semantics of one run, given a workload and a policy:

1. If the queue ``Q`` is empty, admit the requests arriving at ``t``, or else jump ``t`` to the next
   arrival and admit it (with every request arriving at the same instant). The decision that
   follows is a *wake-up* decision. (``reference`` profile, as the published artifact: admit
   only the next pending request and set ``t`` to its arrival, even when that is earlier than
   ``t``: the clock rewinds to a request that arrived during the layer that just ended.)
2. Admit every pending request with arrival ``a <= t`` (``a < t`` in the ``reference`` profile).
3. The policy scores every request of ``Q``; the lowest score wins, ties going to the earliest
   arrival (then the lowest request index); a policy may choose otherwise (``Policy.choose``:
   Planaria and SDRM3 scan the queue as the artifact does in the ``reference`` profile).
   The winner's next layer runs: ``t += lat``, its
   ``last := t``, the monitor reports that layer's density, the predictor updates its ``gamma``;
   a request whose last layer ran leaves ``Q`` with finish time ``t``.

Speed: the engine advances a *batch* of independent runs in lockstep, one layer per run per
step, so the Python overhead of a step is shared by every run in the batch. Like the hardware's
request table, each run keeps its queue in *slots*: admitted, unfinished requests in arrival
order, packed at the front of ``(runs, capacity)`` arrays (a finished request's slot is closed
up). Every per-request quantity a policy reads (remaining-latency estimate, gamma, last time) is
kept current incrementally when that request's layer runs, so a decision costs O(|Q|)
vectorised work (the longest queue of the batch) and O(1) Python operations per run, never a
loop over layers. Ties go to the lowest slot, which is the earliest arrival.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import formulas as F
from .errors import DystaInputError
from .tables import ScenarioTables
from .workload import Workload


@dataclass(frozen=True)
class Profile:
    """A semantics profile (SPEC 9).

    Attributes
    ----------
    strict_admission : bool
        Admit arrivals with ``a < t`` rather than ``a <= t``.
    predictor : str or None
        Force this sparse-latency predictor on every policy that uses one.
    prema_reaccumulate : bool
        PREMA adds a request's whole wait since its last layer at every decision, instead of
        the time since the previous decision.
    static_score : bool
        Dysta's wake-up decisions use the software static score.
    eta_from_beta : bool
        Dysta's dynamic score uses ``beta`` as its weight ``eta``.
    clock_rewind : bool
        With an empty queue, admit only the next pending request and set the clock to its
        arrival, even when it arrived during the layer that just ended (the clock goes back).
    prema_first_seen : bool
        PREMA sets a request's token to its priority at the first decision that sees it, with no
        gain, and leaves that token out of the largest token that sets the threshold.
    prema_gamma_token : bool
        PREMA's token grows by ``p * (waited / (gamma * Tiso_est))``: prema-sparse divides by the
        request's gamma too (gamma = 1 for prema), in the artifact's order of operations.
    prema_stale_gamma : bool
        prema-sparse multiplies every candidate's ``Rbar`` by the gamma of the last request in
        queue order, not by its own.
    scan_selection : bool
        Planaria's ``p / (D - t)`` and SDRM3's urgency ``R / (D - t)`` go negative after a
        deadline, and the queue is scanned in order keeping the best so far, which a request
        replaces when the best is negative or not above its score
        (:func:`dysta_sw.formulas.scan_replaces`).
    penalty_capacity : bool
        Dysta's penalty is divided by the pack's capacity ``C`` (counted at the paper's time
        scale); without it, the penalty is the plain ratio ``(w / Tiso_est) / |Q|``.
    all_samples : bool
        Sweeps build the look-up tables from every sample of the pack, not its calibration split
        (``ScenarioTables.build(..., all_samples=True)``), as the artifact does.
    fitted_alpha : bool
        The predictor may use the slope ``alpha`` fitted per model-pattern
        (``Options.predictor_alpha``); the published artifact had none (alpha = 1).
    """

    name: str
    strict_admission: bool = False
    predictor: str | None = None
    prema_reaccumulate: bool = False
    static_score: bool = True
    eta_from_beta: bool = False
    clock_rewind: bool = False
    prema_first_seen: bool = False
    prema_gamma_token: bool = False
    prema_stale_gamma: bool = False
    scan_selection: bool = False
    penalty_capacity: bool = True
    all_samples: bool = False
    fitted_alpha: bool = True


PROFILES = {
    "paper": Profile("paper"),
    # The published artifact's simulator (SPEC 9): it takes the same decisions on the same requests.
    "reference": Profile("reference", strict_admission=True, predictor="average-all",
                         prema_reaccumulate=True, static_score=False, eta_from_beta=True,
                         clock_rewind=True, prema_first_seen=True, prema_gamma_token=True,
                         prema_stale_gamma=True, scan_selection=True, penalty_capacity=False,
                         all_samples=True, fitted_alpha=False),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise DystaInputError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}")
    return PROFILES[name]


#: Look-up fields a policy may ask the engine to keep current per request.
LUT_FIELDS = ("rbar", "rbar_model", "lbar", "lbar_model", "rem_true")


class Batch:
    """State of a batch of runs.

    Per-request fields live twice: their initial values in request order, ``req[name]`` of shape
    ``(runs, N + 1)`` (column ``N`` is a sentinel request arriving at ``+inf``, so "the next
    arrival" can always be read), and their current values in the queue slots, the attribute
    ``batch.<name>`` of shape ``(runs, capacity)``; slots ``[0, q)`` of a run hold its queue in
    arrival order. Policies declare extra fields with :meth:`add` in ``setup`` and read the slot
    attributes in ``score``. Per-run values (``t``, ``q``, ...) are ``(runs,)`` arrays.
    """

    FLOAT_FIELDS = ("arrival", "deadline", "priority", "tiso_est", "tiso_est_model", "tiso_true", "last", "gamma")
    INT_FIELDS = ("rid", "mp", "lut_base", "sample_base", "n_layers", "next")

    def __init__(self, tables: ScenarioTables, workloads: list[Workload], deadlines: list[np.ndarray],
                 profile: Profile, capacity: int = 16):
        self.tables = tables
        self.profile = profile
        b = len(workloads)
        n = max(len(w) for w in workloads)
        shape = (b, n + 1)
        arrival = np.full(shape, np.inf)
        deadline = np.full(shape, np.inf)
        priority = np.ones(shape)
        mp = np.zeros(shape, np.int64)
        sample = np.zeros(shape, np.int64)
        for i, (w, d) in enumerate(zip(workloads, deadlines)):
            k = len(w)
            arrival[i, :k] = w.arrival
            deadline[i, :k] = d
            priority[i, :k] = w.priority
            mp[i, :k] = w.mp
            sample[i, :k] = w.sample
        self.req: dict[str, np.ndarray] = {}
        self._blocks: tuple[np.ndarray, np.ndarray] | None = None
        self._float: list[str] = []
        self._int: list[str] = []
        self._capacity = capacity
        self.sample = sample
        sample_base = tables.sample_base[mp] + sample * tables.n_layers[mp]
        for name, init in (("arrival", arrival), ("deadline", deadline), ("priority", priority),
                           ("tiso_est", tables.tiso_est[mp]), ("tiso_est_model", tables.tiso_est_model[mp]),
                           ("tiso_true", tables.tiso[tables.tiso_base[mp] + sample]), ("last", arrival),
                           ("gamma", np.ones(shape)), ("rid", np.broadcast_to(np.arange(n + 1), shape)),
                           ("mp", mp), ("lut_base", tables.lut_base[mp]), ("sample_base", sample_base),
                           ("n_layers", tables.n_layers[mp]), ("next", np.zeros(shape, np.int64))):
            self.add(name, init)
        self.cur: dict[str, np.ndarray] = {}
        self._run: list[str] = []
        self.n_requests = self.add_run("n_requests", np.array([len(w) for w in workloads]))
        self.t = self.add_run("t", np.zeros(b))
        self.tprev = self.add_run("tprev", np.zeros(b))
        self.hi = self.add_run("hi", np.zeros(b, np.int64))  #: next request to admit
        self.next_arrival = self.add_run("next_arrival", arrival[:, 0].copy())  #: its arrival time
        self.q = self.add_run("q", np.zeros(b, np.int64))  #: queue length |Q|
        self.nfin = self.add_run("nfin", np.zeros(b, np.int64))
        self.prev_rid = self.add_run("prev_rid", np.full(b, -1, np.int64))  #: request that ran last
        self.prev_open = self.add_run("prev_open", np.zeros(b, bool))  #: ... and is unfinished
        self.preemptions = self.add_run("preemptions", np.zeros(b, np.int64))
        self.run_id = self.add_run("run_id", np.arange(b))
        self.finish = self.add_run("finish", np.full((b, n), np.nan))
        self.rows = np.arange(b)

    @property
    def size(self) -> int:
        return len(self.t)

    @property
    def capacity(self) -> int:
        return self._capacity

    def add(self, name: str, init: np.ndarray) -> None:
        """Declare a per-request field with its initial value per request (``(runs, N + 1)``)."""
        if self._blocks is not None:
            raise RuntimeError("per-request fields must be declared before the run starts")
        init = np.asarray(init)
        kind = self._int if np.issubdtype(init.dtype, np.integer) or init.dtype == bool else self._float
        if name not in self.req:
            kind.append(name)
        self.req[name] = init

    def add_run(self, name: str, array: np.ndarray) -> np.ndarray:
        """Register a per-run array (compacted with the batch) and return it."""
        setattr(self, name, array)
        self._run.append(name)
        return array

    def track(self, fields) -> None:
        """Keep slot field ``cur_<f>`` = look-up value of ``f`` at each request's next layer."""
        for f in fields:
            if f not in LUT_FIELDS:
                raise ValueError(f"unknown look-up field {f!r}")
            if f not in self.cur:
                base = self.req["sample_base"] if f == "rem_true" else self.req["lut_base"]
                self.add(f"cur_{f}", getattr(self.tables, f)[base])
                self.cur[f] = None  # bound to the slot view by _bind

    def start(self) -> None:
        """Build the slot tables once every field is declared."""
        c = self._capacity
        self.req_float = np.stack([self.req[k] for k in self._float]).astype(np.float64)
        self.req_int = np.stack([self.req[k] for k in self._int]).astype(np.int64)
        # Empty slots hold a copy of request 0 so that arithmetic on them stays finite.
        self._blocks = (np.repeat(self.req_float[:, :, :1], c, axis=2),
                        np.repeat(self.req_int[:, :, :1], c, axis=2))
        self.col = np.arange(c)
        self._bind()

    def _bind(self) -> None:
        fb, ib = self._blocks
        for k, name in enumerate(self._float):
            setattr(self, name, fb[k])
        for k, name in enumerate(self._int):
            setattr(self, name, ib[k])
        for f in self.cur:
            self.cur[f] = getattr(self, f"cur_{f}")
        self.arrival_req = self.req_float[self._float.index("arrival")]

    def float_fields(self, names: list[str]) -> np.ndarray:
        """Slot values of consecutive float fields ``names`` as one ``(len(names), runs, capacity)`` view."""
        k = self._float.index(names[0])
        if self._float[k:k + len(names)] != list(names):
            raise ValueError(f"fields {names} were not declared consecutively")
        return self._blocks[0][k:k + len(names)]

    def grow(self) -> None:
        """Double the slot capacity."""
        fb, ib = self._blocks
        c = self._capacity
        self._blocks = tuple(np.concatenate([blk, np.repeat(blk[:, :, :1], c, axis=2)], axis=2) for blk in (fb, ib))
        self._capacity = 2 * c
        self.col = np.arange(2 * c)
        self._bind()

    def admit(self, r: np.ndarray) -> None:
        """Append the next pending request of each run in ``r`` to its queue."""
        if (self.q[r] >= self._capacity).any():
            self.grow()
        h, s = self.hi[r], self.q[r]
        fb, ib = self._blocks
        fb[:, r, s] = self.req_float[:, r, h]
        ib[:, r, s] = self.req_int[:, r, h]
        self.hi[r] += 1
        self.q[r] += 1
        self.next_arrival[r] = self.arrival_req[r, self.hi[r]]

    def remove(self, r: np.ndarray, c: np.ndarray) -> None:
        """Close up slot ``c`` of each run in ``r`` (its request finished)."""
        # Only slots from the lowest closed one to the longest queue move.
        lo, hi = int(c.min()), int(self.q[r].max())
        col = self.col[lo:hi]
        idx = col + (col >= c[:, None])
        np.minimum(idx, self._capacity - 1, out=idx)
        rr = r[:, None]
        for blk in self._blocks:
            blk[:, rr, col] = blk[:, rr, idx]
        self.q[r] -= 1

    def keep(self, rows: np.ndarray) -> None:
        """Drop the runs not in ``rows`` (used when runs finish)."""
        for name in self._run:
            setattr(self, name, getattr(self, name)[rows])
        self.req_float = self.req_float[:, rows]
        self.req_int = self.req_int[:, rows]
        self._blocks = tuple(blk[:, rows] for blk in self._blocks)
        self.rows = np.arange(len(rows))
        self._bind()


@dataclass
class RunResult:
    """Outcome of one run: finish times and counters, plus the dispatch log when recorded."""

    finish: np.ndarray
    preemptions: int
    decisions: int
    log: np.ndarray | None = None  #: rows (request, layer, start, end) when recorded
    gamma_log: np.ndarray | None = None  #: gamma of the dispatched request after its layer
    extra: dict = field(default_factory=dict)


def _admit(st: Batch, rows: np.ndarray, strict: bool) -> None:
    while True:
        due = st.next_arrival[rows] < st.t[rows] if strict else st.next_arrival[rows] <= st.t[rows]
        if not due.any():
            return
        rows = rows[due]
        st.admit(rows)


def simulate(tables: ScenarioTables, workloads: list[Workload], deadlines: list[np.ndarray], policy,
             profile: Profile | str = "paper", record: bool = False) -> list[RunResult]:
    """Run ``policy`` on each workload (one run per workload/deadline pair) and return the results.

    All runs advance together; see the module documentation. ``record`` keeps the dispatch log
    (request, layer, start, end) and the gamma after every layer, for tests and hardware checks.
    """
    if isinstance(profile, str):
        profile = get_profile(profile)
    if len(workloads) != len(deadlines):
        raise ValueError("one deadline array per workload is required")
    if not workloads:
        return []
    for w in workloads:
        if len(w) == 0:
            raise DystaInputError("a workload needs at least one request")
    st = Batch(tables, workloads, deadlines, profile)
    policy.setup(st)
    predictor = policy.predictor(profile)
    if predictor is not None:
        predictor.setup(st)
    st.start()
    results: list[RunResult | None] = [None] * st.size
    logs: list[list] = [[] for _ in range(st.size)]
    decisions = np.zeros(st.size, np.int64)
    strict = profile.strict_admission
    lat, rho = tables.lat, tables.rho
    rhobar_zero = tables.rhobar <= 0
    inv_rhobar = 1.0 / np.where(rhobar_zero, 1.0, tables.rhobar)
    lut_src = {f: (getattr(tables, f), f == "rem_true") for f in st.cur}
    while st.size:
        rows = st.rows
        # A decision taken with an empty queue has no layer boundary: it is a wake-up, whether
        # the requests arrive exactly now or time has to jump to the next arrival.
        wake = st.q == 0
        if profile.clock_rewind:
            if wake.any():
                wr = rows[wake]
                st.t[wr] = st.next_arrival[wr]  # may be earlier than now: the clock goes back
                st.admit(wr)
            if not wake.all():
                _admit(st, rows[~wake], strict)
        else:
            _admit(st, rows, strict)
            idle = st.q == 0
            if idle.any():
                wr = rows[idle]
                st.t[wr] = st.next_arrival[wr]
                _admit(st, wr, False)
        sl = slice(0, int(st.q.max()))
        valid = st.col[sl] < st.q[:, None]
        c = policy.choose(st, sl, valid, wake)
        layer = st.next[rows, c]
        rid = st.rid[rows, c]
        flat = st.sample_base[rows, c] + layer
        start = st.t.copy()
        st.t += lat[flat]
        st.last[rows, c] = st.t
        lb = st.lut_base[rows, c]
        if predictor is not None:
            # r = rho / rhobar; a layer whose mean density is 0 gives r = 1 (no information).
            ratio = F.density_ratio(rho[flat], inv_rhobar[lb + layer], rhobar_zero[lb + layer])
            st.gamma[rows, c] = predictor.update(st, rows, c, ratio)
        nxt = layer + 1
        st.next[rows, c] = nxt
        for f, (src, true) in lut_src.items():
            base = st.sample_base[rows, c] if true else lb
            st.cur[f][rows, c] = src[np.minimum(base + nxt, len(src) - 1)]
        policy.after(st, rows, c, start)
        st.preemptions += st.prev_open & (st.prev_rid != rid)
        done = nxt == st.n_layers[rows, c]
        st.prev_rid = rid
        st.prev_open = ~done
        st.tprev = start
        if record:
            gam = st.gamma[rows, c]
            for i in rows:
                logs[st.run_id[i]].append((rid[i], layer[i], start[i], st.t[i], gam[i]))
        decisions[st.run_id] += 1
        if done.any():
            dr = rows[done]
            st.finish[dr, rid[done]] = st.t[dr]
            st.nfin[dr] += 1
            st.remove(dr, c[done])
            over = st.nfin == st.n_requests
            if over.any():
                for i in rows[over]:
                    rid_run = st.run_id[i]
                    n = st.n_requests[i]
                    res = RunResult(finish=st.finish[i, :n].copy(), preemptions=int(st.preemptions[i]),
                                    decisions=int(decisions[rid_run]))
                    if record:
                        log = np.array(logs[rid_run])
                        res.log, res.gamma_log = log[:, :4], log[:, 4]
                    results[rid_run] = res
                st.keep(rows[~over])
    return results  # type: ignore[return-value]
