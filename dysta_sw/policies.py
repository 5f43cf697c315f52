"""Scheduling policies (SPEC 6) behind one small interface, and the sparse-latency predictors.

A policy is an object the engine calls; it never drives the engine:

- ``setup(batch)`` allocates its per-request state and asks the engine to keep look-up values
  current (``batch.track``);
- ``score(batch, window, valid, wake)`` returns one score per request of the window (a
  ``(runs, W)`` array); ``choose`` picks the lowest valid score, ties to the earliest arrival
  (Planaria and SDRM3 choose by the artifact's scan in the ``reference`` profile);
- ``after(batch, rows, chosen, start)`` sees each dispatch (most policies ignore it);
- ``predictor(profile)`` returns the sparse-latency predictor updating ``gamma``, or ``None``.

Notation at decision time ``t`` for queued request ``i``: ``R_i`` estimated remaining latency
(pattern-aware LUT ``Rbar[next]``, or the per-model average LUT for pattern-unaware policies),
``gamma_i`` sparsity coefficient (1 until its first layer ran), ``w_i = t - last_i``, ``D_i``
deadline, ``p_i`` priority, ``Tiso_est_i`` estimated isolated latency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import formulas as F
from . import plugins
from .errors import DystaInputError

PREDICTORS = ("last-one", "last-n", "average-all")
#: ``--predictor-alpha``: the slope fitted per model-pattern, or the paper's alpha = 1.
PREDICTOR_ALPHAS = ("fitted", "1")


@dataclass(frozen=True)
class Options:
    """Policy options with the paper's defaults.

    Attributes
    ----------
    beta : float
        Weight of the slack in Dysta's static score.
    eta : float
        Weight of slack + penalty in Dysta's dynamic score.
    alpha : float
        SDRM3's fairness weight in MapScore = urgency + alpha * fairness.
    predictor : str
        Sparse-latency predictor: ``last-one`` (the hardware's), ``last-n``, ``average-all``.
    last_n : int
        Window of the ``last-n`` predictor.
    gamma_scale : float
        A constant factor on the predictor's ratio mean: the estimated remaining latency is
        ``gamma_scale * gamma * R`` (1: none).
    predictor_alpha : str
        ``fitted`` (default): the predictor's gamma goes through the slope alpha fitted per
        model-pattern on the calibration split (paper Sec. 5.1; :func:`dysta_sw.tracestats.fit_alpha`),
        ``max(0, 1 + alpha * (gamma - 1))``; ``1``: the paper's alpha = 1 (gamma as measured).
        It predicts better on every model-pattern of measured-v2 (Table 4 of the report).
    """

    beta: float = 0.01
    eta: float = 0.01
    alpha: float = 1.0
    predictor: str = "last-one"
    last_n: int = 3
    gamma_scale: float = 1.0
    predictor_alpha: str = "fitted"

    def __post_init__(self):
        if self.predictor_alpha not in PREDICTOR_ALPHAS:
            raise DystaInputError(f"unknown --predictor-alpha {self.predictor_alpha!r}; choose one of: "
                                  f"{', '.join(PREDICTOR_ALPHAS)}")
        if self.predictor not in PREDICTORS:
            raise DystaInputError(f"unknown predictor {self.predictor!r}; choose one of: {', '.join(PREDICTORS)}")
        if self.last_n < 1 or int(self.last_n) != self.last_n:
            raise DystaInputError(f"--last-n must be a positive integer, not {self.last_n}")
        for k in ("beta", "eta", "alpha", "gamma_scale"):
            v = getattr(self, k)
            if not np.isfinite(v) or v < 0:
                raise DystaInputError(f"--{k.replace('_', '-')} must be a finite number >= 0, not {v}")


# ----------------------------------------------------------------------------- predictors

class Predictor:
    """Sparse-latency predictor: turns measured-to-mean density ratios into ``gamma``.

    ``r_j = rho_measured[j] / rhobar[j]`` over the layers ``j`` run so far; ``gamma`` is
    ``scale`` times the last ratio (last-one), the mean of the last ``n`` (last-N) or the mean
    of all (average-all); with ``fitted``, that gamma goes through each model-pattern's slope
    alpha (:func:`dysta_sw.formulas.gamma_calibrated`).
    """

    def __init__(self, kind: str, n: int, scale: float, fitted: bool = False):
        self.kind, self.n, self.scale, self.fitted = kind, n, scale, fitted

    def setup(self, st) -> None:
        shape = st.req["next"].shape
        st.add("pred_count", np.zeros(shape, np.int64))
        if self.fitted:
            st.add("pred_alpha", st.tables.gamma_alpha(self.kind, self.n)[st.req["mp"]])
        if self.kind == "average-all":
            st.add("pred_sum", np.zeros(shape))
        elif self.kind == "last-n":
            for k in range(self.n):
                st.add(f"pred_hist{k}", np.zeros(shape))

    def update(self, st, rows, c, ratio):
        gamma = self._mean(st, rows, c, ratio)
        return F.gamma_calibrated(gamma, st.pred_alpha[rows, c]) if self.fitted else gamma

    def _mean(self, st, rows, c, ratio):
        count = st.pred_count[rows, c] + 1
        st.pred_count[rows, c] = count
        if self.kind == "last-one":
            return F.gamma_mean(self.scale, ratio, 1)
        if self.kind == "average-all":
            s = st.pred_sum[rows, c] + ratio
            st.pred_sum[rows, c] = s
            return F.gamma_mean(self.scale, s, count)
        hist = st.float_fields([f"pred_hist{k}" for k in range(self.n)])
        hist[(count - 1) % self.n, rows, c] = ratio
        total = hist[0, rows, c]
        for k in range(1, self.n):  # window-slot order, as the compiled engine sums
            total = total + hist[k, rows, c]
        return F.gamma_mean(self.scale, total, np.minimum(count, self.n))


# ----------------------------------------------------------------------------- policies

class Policy:
    """Base class. Subclasses set ``name``, ``uses_deadline``, ``uses_gamma`` and ``score``."""

    name = "policy"
    uses_deadline = True
    uses_gamma = False
    sparse = False

    def __init__(self, options: Options | None = None):
        self.options = options or Options()

    def predictor(self, profile):
        if not self.uses_gamma:
            return None
        kind = profile.predictor or self.options.predictor
        fitted = profile.fitted_alpha and self.options.predictor_alpha == "fitted"
        self._pred = Predictor(kind, self.options.last_n, self.options.gamma_scale, fitted)
        return self._pred

    def setup(self, st) -> None:
        pass

    def remaining(self, st, sl):
        """Estimated remaining latency: ``gamma * Rbar`` (sparse) or the per-model ``Rbar``."""
        if self.sparse:
            return F.remaining_sparse(st.gamma[:, sl], st.cur["rbar"][:, sl])
        return st.cur["rbar_model"][:, sl]

    def tiso(self, st, sl):
        return (st.tiso_est if self.sparse else st.tiso_est_model)[:, sl]

    def score(self, st, sl, valid, wake):
        raise NotImplementedError

    def choose(self, st, sl, valid, wake):
        """The slot each run dispatches: the lowest valid score, ties to the earliest arrival."""
        score = self.score(st, sl, valid, wake)
        return np.argmin(np.where(valid, score, np.inf), axis=1)

    def after(self, st, rows, c, start) -> None:
        pass

    def describe(self) -> str:
        return self.name


def scan_choose(value, arrival, valid):
    """The artifact's selection (``reference`` profile): walk each run's queue in arrival order
    keeping the best so far, which request ``k`` replaces when
    :func:`dysta_sw.formulas.scan_replaces` says so (largest ``value`` wins, but behind a negative
    best the next request takes over)."""
    c = np.zeros(len(value), np.int64)
    best, best_arrival = value[:, 0].copy(), arrival[:, 0].copy()
    for k in range(1, value.shape[1]):
        v, a = value[:, k], arrival[:, k]
        rep = valid[:, k] & F.scan_replaces(best, v, best_arrival, a)
        c[rep] = k
        best[rep], best_arrival[rep] = v[rep], a[rep]
    return c


class FCFS(Policy):
    """First come, first served: the earliest arrival."""

    name = "fcfs"
    uses_deadline = False

    def score(self, st, sl, valid, wake):
        return np.zeros(valid.shape)


class SJF(Policy):
    """Shortest job first: smallest ``R_i`` (per-model), or ``gamma_i * R_i`` (``sparse``)."""

    uses_deadline = False

    def __init__(self, options=None, *, sparse=False):
        super().__init__(options)
        self.sparse = self.uses_gamma = sparse
        self.name = "sjf-sparse" if sparse else "sjf"

    def setup(self, st):
        super().setup(st)
        st.track(["rbar" if self.sparse else "rbar_model"])

    def score(self, st, sl, valid, wake):
        return self.remaining(st, sl)


class PREMA(Policy):
    """PREMA (HPCA'20): token-based priority with a shortest-remaining tie-break.

    Tokens start at ``p_i``; at each decision every waiting request gains
    ``p_i * (time waited since the previous decision) / Tiso_est_i``. The threshold is 9 if the
    largest token is >= 9, else 3 if >= 3, else 1; among requests with token >= threshold the
    smallest ``R_i`` wins.

    The ``reference`` profile does what the published artifact does: a request's token is set to
    ``p_i`` at the first decision that sees it (no gain, and it does not count towards the
    largest token); later, it gains ``p_i * (t - last_i) / Tiso_est_i``, its whole wait since its
    last layer, at every decision. prema-sparse divides that gain by the request's ``gamma`` too,
    and multiplies every candidate's ``Rbar`` by the gamma of the last request in queue order.
    """

    uses_deadline = False

    def __init__(self, options=None, *, sparse=False):
        super().__init__(options)
        self.sparse = self.uses_gamma = sparse
        self.name = "prema-sparse" if sparse else "prema"

    def setup(self, st):
        super().setup(st)
        st.track(["rbar" if self.sparse else "rbar_model"])
        p = st.req["priority"].astype(np.float64)
        # first-seen: a negative token marks a request no decision has seen yet
        st.add("tokens", np.full_like(p, -1.0) if st.profile.prema_first_seen else p)

    def score(self, st, sl, valid, wake):
        prof = st.profile
        t = st.t[:, None]
        p = st.priority[:, sl]
        if prof.prema_reaccumulate:
            waited = t - st.last[:, sl]
        else:
            # The request that ran since the previous decision was not waiting.
            running = st.rid[:, sl] == st.prev_rid[:, None]
            waited = F.prema_waited(t, st.tprev[:, None], st.arrival[:, sl], running)
        if prof.prema_gamma_token:
            gain = F.prema_gain_scaled(p, waited, st.gamma[:, sl] if self.sparse else 1.0, self.tiso(st, sl))
        else:
            gain = F.prema_gain(p, waited, self.tiso(st, sl))
        tok = st.tokens[:, sl]
        counted = valid
        if prof.prema_first_seen:
            new = valid & (tok < 0)
            counted = valid & ~new
            tok[...] = np.where(new, p, tok)
        tok += np.where(counted, gain, 0.0)
        top = np.where(counted, tok, -np.inf).max(axis=1, keepdims=True)
        threshold = F.prema_threshold(top)
        rem = self.remaining(st, sl)
        if self.sparse and prof.prema_stale_gamma:
            last_gamma = st.gamma[st.rows, st.q - 1][:, None]
            rem = F.remaining_sparse(last_gamma, st.cur["rbar"][:, sl])
        return np.where(tok >= threshold, rem, np.inf)


class Planaria(Policy):
    """Planaria (MICRO'20), time-shared: largest ``p_i / (D_i - t)``.

    Requests already at or past their deadline (slack <= 0) rank below every request that can
    still make it; among themselves the highest priority, then the earliest arrival, wins.
    The ``reference`` profile chooses as the published artifact: ``p_i / (D_i - t)``, negative
    after a deadline, by :func:`scan_choose`.
    """

    name = "planaria"

    def choose(self, st, sl, valid, wake):
        if not st.profile.scan_selection:
            return super().choose(st, sl, valid, wake)
        ratio = F.planaria_ratio(st.priority[:, sl], st.deadline[:, sl] - st.t[:, None])
        return scan_choose(ratio, st.arrival[:, sl], valid)

    def score(self, st, sl, valid, wake):
        slack = st.deadline[:, sl] - st.t[:, None]
        any_live = ((slack > 0) & valid).any(axis=1, keepdims=True)
        return F.planaria_score(st.priority[:, sl], slack, any_live)


class SDRM3(Policy):
    """SDRM3 (ASPLOS'24): largest MapScore = urgency + alpha * fairness.

    urgency = ``min(1, R_i / (D_i - t))`` (1 when slack <= 0); fairness = ``w_i`` over the
    estimated latency of ``i``'s next layer. ``sparse`` uses the pattern-aware LUT and gamma.
    The ``reference`` profile chooses as the published artifact: urgency ``min(1, R_i / (D_i - t))``,
    negative after a deadline, by :func:`scan_choose` on MapScore.
    """

    def __init__(self, options=None, *, sparse=False):
        super().__init__(options)
        self.sparse = self.uses_gamma = sparse
        self.name = "sdrm3-sparse" if sparse else "sdrm3"

    def setup(self, st):
        super().setup(st)
        st.track(["rbar", "lbar"] if self.sparse else ["rbar_model", "lbar_model"])

    def _terms(self, st, sl):
        t = st.t[:, None]
        nxt = (F.remaining_sparse(st.gamma[:, sl], st.cur["lbar"][:, sl]) if self.sparse
               else st.cur["lbar_model"][:, sl])
        return self.remaining(st, sl), st.deadline[:, sl] - t, t - st.last[:, sl], nxt, self.options.alpha

    def score(self, st, sl, valid, wake):
        return -F.sdrm3_mapscore(*self._terms(st, sl), False)  # largest MapScore wins

    def choose(self, st, sl, valid, wake):
        if not st.profile.scan_selection:
            return super().choose(st, sl, valid, wake)
        return scan_choose(F.sdrm3_mapscore(*self._terms(st, sl), True), st.arrival[:, sl], valid)


class Dysta(Policy):
    """Dysta, the bi-level scheduler, and its ablations.

    Static level (software, at arrival): ``Score0_i = Lat_i + beta * (D_i - a_i - Lat_i)`` with
    ``Lat_i = Tiso_est`` of the model-pattern. Dynamic level (hardware, every layer boundary):

        Trem_i  = gamma_i * R_i
        slack_i = max(0, D_i - t - Trem_i)
        pen_i   = (w_i / Tiso_est_i) / |Q|
        Score_i = Trem_i + eta * (slack_i + pen_i / C)     (lowest wins)

    The penalty is a ratio the paper adds to seconds, so its weight depends on the time scale;
    ``C`` is the pack's capacity (:meth:`dysta_sw.trace.TracePack.capacity`, 1 at the paper's
    scale), which adds it to seconds at the paper's scale, where ``eta`` was chosen (the
    ``reference`` profile, as the published artifact, has no ``C``).

    A wake-up decision (the accelerator was idle) has no layer boundary: the newly admitted
    requests compete with their static scores (``paper`` profile).

    Parameters
    ----------
    mode : {"full", "static", "nosparse", "oracle"}
        ``static`` orders by ``Score0`` only; ``nosparse`` fixes gamma at 1 and uses per-model
        averages; ``oracle`` uses the true remaining and isolated latency.
    """

    NAMES = {"full": "dysta", "static": "dysta-static", "nosparse": "dysta-nosparse", "oracle": "dysta-oracle"}

    def __init__(self, options=None, *, mode="full"):
        super().__init__(options)
        self.mode = mode
        self.name = self.NAMES[mode]
        self.sparse = mode in ("full", "static", "oracle")
        self.uses_gamma = mode == "full"

    def setup(self, st):
        super().setup(st)
        if self.mode == "oracle":
            st.track(["rem_true"])
        else:
            st.track(["rbar" if self.sparse else "rbar_model"])
        req = st.req
        lat = req["tiso_true" if self.mode == "oracle" else ("tiso_est" if self.sparse else "tiso_est_model")]
        beta = self.options.beta
        with np.errstate(invalid="ignore"):  # the sentinel column has inf - inf
            st.add("score0", F.dysta_static(lat, req["deadline"], req["arrival"], beta))

    def score(self, st, sl, valid, wake):
        if self.mode == "static":
            return st.score0[:, sl]
        t = st.t[:, None]
        if self.mode == "oracle":
            trem, tiso = st.cur["rem_true"][:, sl], st.tiso_true[:, sl]
        else:
            trem, tiso = self.remaining(st, sl), self.tiso(st, sl)
        eta = self.options.beta if st.profile.eta_from_beta else self.options.eta
        capacity = st.tables.capacity if st.profile.penalty_capacity else 1.0
        score = F.dysta_dynamic(trem, st.deadline[:, sl], t, st.last[:, sl], tiso, st.q[:, None], capacity, eta)
        if st.profile.static_score and wake.any():
            score = np.where(wake[:, None], st.score0[:, sl], score)
        return score


# ----------------------------------------------------------------------------- registry

#: The built-in policies (the paper's schedulers): name -> factory ``(options) -> Policy``.
BUILTIN = {
    "fcfs": lambda o: FCFS(o),
    "sjf": lambda o: SJF(o),
    "sjf-sparse": lambda o: SJF(o, sparse=True),
    "prema": lambda o: PREMA(o),
    "prema-sparse": lambda o: PREMA(o, sparse=True),
    "planaria": lambda o: Planaria(o),
    "sdrm3": lambda o: SDRM3(o),
    "sdrm3-sparse": lambda o: SDRM3(o, sparse=True),
    "dysta": lambda o: Dysta(o),
    "dysta-static": lambda o: Dysta(o, mode="static"),
    "dysta-nosparse": lambda o: Dysta(o, mode="nosparse"),
    "dysta-oracle": lambda o: Dysta(o, mode="oracle"),
}

#: The built-in schedulers, the default set of ``bench`` and ``reproduce``.
POLICY_NAMES = tuple(BUILTIN)


def registry() -> dict:
    """Every scheduler: the built-ins, then those registered under the ``dysta.policies`` entry
    points (e.g. ``dysta-hw-fp16`` from :mod:`dysta_sw.hwmodel`), as name -> factory or, until it
    is first used, its entry point."""
    reg: dict = dict(BUILTIN)
    for ep in plugins.entry_points(plugins.POLICIES):
        reg.setdefault(ep.name, ep)
    return reg


def policy_names() -> tuple[str, ...]:
    """Every scheduler name, built-in and registered."""
    return tuple(registry())


def make_policy(name: str, options: Options | None = None) -> Policy:
    """Create the policy called ``name`` (see :func:`policy_names`)."""
    reg = registry()
    if name not in reg:
        raise DystaInputError(f"unknown scheduler {name!r}; choose from: {', '.join(reg)}")
    factory = reg[name]
    if name not in BUILTIN:  # an entry point (importlib.metadata's, or the importlib_metadata backport's)
        try:
            factory = plugins.load(factory)
        except plugins.PluginError as e:
            raise DystaInputError(str(e)) from None
    return factory(options or Options())
