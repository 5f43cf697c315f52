"""A model of the published artifact's scheduling simulator, for tests of the ``reference`` profile.

Origin: the MICRO'23 Sparse-DySta artifact, github.com/SamsungLabs/Sparse-Multi-DNN-Scheduling,
``dysta_scheduler/`` (``scheduler.py``: the ``Scheduler`` base class and one class per scheduler;
``utils_common.py``: ``Task``; ``simulator.py``: the loop ``update_reqst(); exe()``). The
repository carries no licence, so nothing here is copied from it: this is a re-statement, written
for these tests, of what its event loop decides (SPEC 9 lists the behaviours), one object per
request and one plain loop, in the artifact's structure rather than the engines' (no slots, no
batches, no shared formulas), so that a test can compare the engines with it decision for decision.

What the artifact does and this model states:

- ``update_reqst``: with no request in flight, take only the next request of the table and set
  the clock to its arrival (which may be earlier than the clock: the clock rewinds); otherwise
  take every request with arrival strictly before the clock.
- ``exe``: the chosen request's next layer runs (``t += lat``; its last time := t); a request
  whose layers are all done leaves. Schedulers named ``dysta`` or ``*sparse`` read the monitor
  after every layer: gamma = mean of ``rho / rhobar`` over the layers run (average-all).
- The selection rules of FCFS, SJF, PREMA, Planaria, SDRM3 and Dysta, with the artifact's quirks
  (PREMA's first-seen token and, for prema-sparse, the gamma of the last request in queue
  order; the scan of Planaria and SDRM3; Dysta's penalty as a plain ratio).

What it takes from this project instead of recomputing it as the artifact did: the look-up
values (remaining latency ``Rbar``, next-layer ``Lbar``, ``Tiso_est``, per model-pattern or per
model) come from :class:`dysta_sw.tables.ScenarioTables`, and the density ratio is rounded as
the engines round it (``rho x (1 / rhobar)``). The artifact sums its per-layer means at every
decision, front to back, and divides ``rho / rhobar``: both can round differently in the last
bit, which changes a decision only on an exact tie. ``dysta-static`` (not in the artifact) and
the hardware policies are not modelled.
"""

from __future__ import annotations

import numpy as np

#: Schedulers of the artifact, by this project's names.
ARTIFACT_SCHEDULERS = ("fcfs", "sjf", "sjf-sparse", "prema", "prema-sparse", "planaria", "sdrm3",
                       "sdrm3-sparse", "dysta", "dysta-nosparse", "dysta-oracle")


class Request:
    """One request in flight, as the artifact's ``Task``."""

    def __init__(self, tab, w, deadline, i, aware: bool):
        m, s = int(w.mp[i]), int(w.sample[i])
        self.id = i
        self.arrival = float(w.arrival[i])
        self.deadline = float(deadline[i])
        self.priority = float(w.priority[i])
        self.n_layers = int(tab.n_layers[m])
        self.lut = int(tab.lut_base[m])
        self.flat = int(tab.sample_base[m] + s * tab.n_layers[m])
        self.aware = aware
        self.tiso_est = float(tab.tiso_est[m] if aware else tab.tiso_est_model[m])
        self.tiso_true = float(tab.tiso[tab.tiso_base[m] + s])
        self.done = 0  # layers run
        self.last = self.arrival
        self.gamma = 1.0
        self.ratios: list[float] = []
        self.token = None  # PREMA: None until a decision first sees the request

    def est_remaining(self, tab) -> float:
        return float((tab.rbar if self.aware else tab.rbar_model)[self.lut + self.done])

    def est_next_layer(self, tab) -> float:
        return float((tab.lbar if self.aware else tab.lbar_model)[self.lut + self.done])

    def true_remaining(self, tab) -> float:
        return float(tab.rem_true[self.flat + self.done])


def _scan(queue, score):
    """Planaria's and SDRM3's selection: the best so far, replaced when it is negative or not
    above the next score, except that an equal score keeps the earlier arrival."""
    best, best_score = None, -1.0
    for r in queue:
        v = score(r)
        if best is None or best_score < 0 or best_score <= v:
            if best is not None and best_score == v and best.arrival < r.arrival:
                continue
            best, best_score = r, v
    return best


def _first_least(queue, key):
    best, best_key = None, None
    for r in queue:
        k = key(r)
        if best is None or k < best_key:
            best, best_key = r, k
    return best


def choose(name, queue, t, tab, options):
    """The request the artifact's scheduler ``name`` runs next."""
    sparse = name.endswith("-sparse") or name == "dysta"
    if name == "fcfs":
        return _first_least(queue, lambda r: r.arrival)
    if name in ("sjf", "sjf-sparse"):
        return _first_least(queue, lambda r: r.gamma * r.est_remaining(tab) if sparse else r.est_remaining(tab))
    if name in ("prema", "prema-sparse"):
        top = 0.0
        for r in queue:
            if r.token is None:
                r.token = r.priority  # first seen: no gain, not counted below
                continue
            idle = t - r.last
            slowdown = idle / (r.gamma * r.tiso_est) if sparse else idle / r.tiso_est
            r.token += r.priority * slowdown
            top = max(top, r.token)
        threshold = 9 if top >= 9 else 3 if top >= 3 else 1
        candidates = [r for r in queue if r.token >= threshold]
        stale = queue[-1].gamma  # every candidate's estimate uses the last request's gamma
        return _first_least(candidates, lambda r: stale * r.est_remaining(tab) if sparse else r.est_remaining(tab))
    if name == "planaria":
        # a slack of exactly 0 stops the artifact (ZeroDivisionError); the engines, and the model,
        # take the limit from a live deadline: +inf
        return _scan(queue, lambda r: r.priority / (r.deadline - t) if r.deadline != t else float("inf"))
    if name in ("sdrm3", "sdrm3-sparse"):
        def mapscore(r):
            rem, nxt = r.est_remaining(tab), r.est_next_layer(tab)
            if sparse:
                rem, nxt = r.gamma * rem, r.gamma * nxt
            urgency = min(1.0, rem / (r.deadline - t)) if r.deadline != t else 1.0  # as Planaria's
            return urgency + options.alpha * ((t - r.last) / nxt)
        return _scan(queue, mapscore)
    if name in ("dysta", "dysta-nosparse", "dysta-oracle"):
        oracle = name == "dysta-oracle"

        def score(r):
            if oracle:
                trem, tiso = r.true_remaining(tab), r.tiso_true
            else:
                trem = r.gamma * r.est_remaining(tab) if sparse else r.est_remaining(tab)
                tiso = r.tiso_est
            urgency = max(0.0, (r.deadline - t) - trem)
            penalty = (t - r.last) / tiso / len(queue)
            return trem + options.beta * (urgency + penalty)
        return _first_least(queue, score)
    raise ValueError(f"the artifact has no scheduler {name!r}")


def simulate(tab, w, deadline, name, options):
    """The artifact's run of scheduler ``name``: rows (request, layer, start, end), one per layer."""
    sparse = name.endswith("-sparse") or name == "dysta"
    monitored = sparse  # the artifact reads the monitor for "dysta" and "*sparse"
    aware = sparse or name == "dysta-oracle"
    n = len(w)
    nxt, t = 0, 0.0
    queue: list[Request] = []
    log = []
    finished = 0
    while finished < n:
        if not queue:
            r = Request(tab, w, deadline, nxt, aware)
            nxt += 1
            t = r.arrival  # possibly earlier than now
            queue.append(r)
        else:
            while nxt < n and w.arrival[nxt] < t:
                queue.append(Request(tab, w, deadline, nxt, aware))
                nxt += 1
        r = choose(name, queue, t, tab, options)
        layer = r.done
        start = t
        t += float(tab.lat[r.flat + layer])
        r.last = t
        if monitored:
            rhobar = float(tab.rhobar[r.lut + layer])
            # rho x (1 / rhobar), rounded as the engines do (the artifact divides)
            r.ratios.append(1.0 if rhobar <= 0 else float(tab.rho[r.flat + layer]) * (1.0 / rhobar))
            r.gamma = sum(r.ratios) / len(r.ratios)
        r.done += 1
        log.append((r.id, layer, start, t))
        if r.done == r.n_layers:
            queue.remove(r)
            finished += 1
    return np.array(log, dtype=float)
