"""The scheduling engine: one time-shared accelerator, preemption at layer boundaries (SPEC 5).

Semantics of one run, given a workload and a policy:

1. If the queue ``Q`` is empty, jump ``t`` to the next arrival and admit it (with every request
   arriving at the same instant). The decision that follows is a *wake-up* decision.
2. Admit every pending request with arrival ``a <= t`` (``a < t`` in the ``reference`` profile).
3. The policy scores every request of ``Q``; the lowest score wins, ties going to the earliest
   arrival (then the lowest request index). The winner's next layer runs: ``t += lat``, its
   ``last := t``, the monitor reports that layer's density, the predictor updates its ``gamma``;
   a request whose last layer ran leaves ``Q`` with finish time ``t``.

Speed: the engine advances a *batch* of independent runs in lockstep, one layer per run per
step, so the Python overhead of a step is shared by every run in the batch. Per-request state is
a ``(runs, requests)`` array; a step touches only the window of requests that can be queued in
some run (from the oldest unfinished to the newest admitted request), and every per-request
quantity a policy reads (remaining-latency estimate, gamma, last time) is kept up to date
incrementally when that request's layer runs. A decision therefore costs O(|window|) vectorised
work and O(1) Python operations per run, never a loop over layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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
    """

    name: str
    strict_admission: bool = False
    predictor: str | None = None
    prema_reaccumulate: bool = False
    static_score: bool = True
    eta_from_beta: bool = False


PROFILES = {
    "paper": Profile("paper"),
    "reference": Profile("reference", strict_admission=True, predictor="average-all",
                         prema_reaccumulate=True, static_score=False, eta_from_beta=True),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise DystaInputError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}")
    return PROFILES[name]


#: Look-up fields a policy may ask the engine to keep current per request.
LUT_FIELDS = ("rbar", "rbar_model", "lbar", "lbar_model", "rem_true")


class Batch:
    """State of a batch of runs: per-run ``(B,)`` and per-request ``(B, N + 1)`` arrays.

    Column ``N`` is a sentinel request arriving at ``+inf`` so that "the next arrival" can
    always be read. Policies read the documented attributes and may add their own arrays
    with :meth:`add`.
    """

    def __init__(self, tables: ScenarioTables, workloads: list[Workload], deadlines: list[np.ndarray],
                 profile: Profile):
        self.tables = tables
        self.profile = profile
        b = len(workloads)
        n = max(len(w) for w in workloads)
        shape = (b, n + 1)
        self._req: list[str] = []
        self._run: list[str] = []
        self.arrival = self.add("arrival", np.full(shape, np.inf))
        self.deadline = self.add("deadline", np.full(shape, np.inf))
        self.priority = self.add("priority", np.ones(shape))
        mp = np.zeros(shape, np.int64)
        sample = np.zeros(shape, np.int64)
        for i, (w, d) in enumerate(zip(workloads, deadlines)):
            k = len(w)
            self.arrival[i, :k] = w.arrival
            self.deadline[i, :k] = d
            self.priority[i, :k] = w.priority
            mp[i, :k] = w.mp
            sample[i, :k] = w.sample
        self.mp = self.add("mp", mp)
        self.lut_base = self.add("lut_base", tables.lut_base[mp])
        self.sample_base = self.add("sample_base", tables.sample_base[mp] + sample * tables.n_layers[mp])
        self.n_layers = self.add("n_layers", tables.n_layers[mp])
        self.tiso_est = self.add("tiso_est", tables.tiso_est[mp])
        self.tiso_est_model = self.add("tiso_est_model", tables.tiso_est_model[mp])
        self.tiso_true = self.add("tiso_true", tables.tiso[tables.tiso_base[mp] + sample])
        self.next = self.add("next", np.zeros(shape, np.int64))
        self.last = self.add("last", self.arrival.copy())
        self.gamma = self.add("gamma", np.ones(shape))
        self.finished = self.add("finished", np.zeros(shape, bool))
        self.finished[:, n] = False
        self.finish = self.add("finish", np.full(shape, np.nan))
        self.col = np.arange(n + 1)
        self.n_requests = self.add_run("n_requests", np.array([len(w) for w in workloads]))
        self.t = self.add_run("t", np.zeros(b))
        self.tprev = self.add_run("tprev", np.zeros(b))
        self.hi = self.add_run("hi", np.zeros(b, np.int64))
        self.lo = self.add_run("lo", np.zeros(b, np.int64))
        self.nfin = self.add_run("nfin", np.zeros(b, np.int64))
        self.prev = self.add_run("prev", np.full(b, n, np.int64))
        self.preemptions = self.add_run("preemptions", np.zeros(b, np.int64))
        self.run_id = self.add_run("run_id", np.arange(b))
        self.cur: dict[str, np.ndarray] = {}

    @property
    def size(self) -> int:
        return len(self.t)

    def add(self, name: str, array: np.ndarray) -> np.ndarray:
        """Register a per-request array (compacted with the batch) and return it."""
        setattr(self, name, array)
        self._req.append(name)
        return array

    def add_run(self, name: str, array: np.ndarray) -> np.ndarray:
        """Register a per-run array (compacted with the batch) and return it."""
        setattr(self, name, array)
        self._run.append(name)
        return array

    def track(self, fields) -> None:
        """Keep ``cur[f]`` = look-up value of field ``f`` at each request's next layer."""
        for f in fields:
            if f not in LUT_FIELDS:
                raise ValueError(f"unknown look-up field {f!r}")
            if f not in self.cur:
                base = self.sample_base if f == "rem_true" else self.lut_base
                self.cur[f] = self.add(f"cur_{f}", getattr(self.tables, f)[base])

    def keep(self, rows: np.ndarray) -> None:
        """Drop the runs not in ``rows`` (used when runs finish)."""
        for name in self._req + self._run:
            setattr(self, name, getattr(self, name)[rows])
        for f in self.cur:
            self.cur[f] = getattr(self, f"cur_{f}")


@dataclass
class RunResult:
    """Outcome of one run: finish times and counters, plus the dispatch log when recorded."""

    finish: np.ndarray
    preemptions: int
    decisions: int
    log: np.ndarray | None = None  #: rows (request, layer, start, end) when recorded
    gamma_log: np.ndarray | None = None  #: gamma of the dispatched request after its layer
    extra: dict = field(default_factory=dict)


def _admit(st: Batch, strict: bool) -> None:
    rows = np.arange(st.size)
    while True:
        nxt = st.arrival[rows, st.hi]
        adm = nxt < st.t if strict else nxt <= st.t
        if not adm.any():
            return
        st.hi += adm


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
    results: list[RunResult | None] = [None] * st.size
    logs: list[list] = [[] for _ in range(st.size)]
    decisions = np.zeros(st.size, np.int64)
    strict = profile.strict_admission
    lat, rho, rhobar = tables.lat, tables.rho, tables.rhobar
    while st.size:
        rows = np.arange(st.size)
        _admit(st, strict)
        wake = st.hi == st.nfin
        if wake.any():
            # Idle accelerator: jump to the next arrival and admit it (and its simultaneous peers).
            st.t[wake] = st.arrival[rows[wake], st.hi[wake]]
            _admit(st, False)
        lo, hi = int(st.lo.min()), int(st.hi.max())
        sl = slice(lo, hi)
        valid = ~st.finished[:, sl] & (st.col[sl] < st.hi[:, None])
        score = policy.score(st, sl, valid, wake)
        c = lo + np.argmin(np.where(valid, score, np.inf), axis=1)
        layer = st.next[rows, c]
        flat = st.sample_base[rows, c] + layer
        start = st.t.copy()
        st.t += lat[flat]
        st.last[rows, c] = st.t
        if predictor is not None:
            lb = st.lut_base[rows, c] + layer
            rb = rhobar[lb]
            ratio = np.where(rb > 0, rho[flat] / np.where(rb > 0, rb, 1.0), 1.0)
            st.gamma[rows, c] = predictor.update(st, rows, c, ratio)
        nxt = layer + 1
        st.next[rows, c] = nxt
        for f, arr in st.cur.items():
            base = st.sample_base if f == "rem_true" else st.lut_base
            idx = base[rows, c] + nxt
            src = getattr(tables, f)
            arr[rows, c] = src[np.minimum(idx, len(src) - 1)]
        policy.after(st, rows, c, start)
        prev = st.prev
        switched = (prev != c) & (st.next[rows, prev] > 0) & ~st.finished[rows, prev]
        st.preemptions += switched
        st.prev = c
        st.tprev = start
        done = nxt == st.n_layers[rows, c]
        if record:
            for i in rows:
                logs[st.run_id[i]].append((c[i], layer[i], start[i], st.t[i], st.gamma[i, c[i]]))
        decisions[st.run_id] += 1
        if done.any():
            dr, dc = rows[done], c[done]
            st.finished[dr, dc] = True
            st.finish[dr, dc] = st.t[done]
            st.nfin[dr] += 1
            while True:
                adv = st.finished[rows, st.lo]
                if not adv.any():
                    break
                st.lo += adv
            over = st.nfin == st.n_requests
            if over.any():
                for i in rows[over]:
                    rid = st.run_id[i]
                    n = st.n_requests[i]
                    res = RunResult(finish=st.finish[i, :n].copy(), preemptions=int(st.preemptions[i]),
                                    decisions=int(decisions[rid]))
                    if record:
                        log = np.array(logs[rid])
                        res.log, res.gamma_log = log[:, :4], log[:, 4]
                    policy.collect(st, i, res)
                    results[rid] = res
                st.keep(rows[~over])
    return results  # type: ignore[return-value]
