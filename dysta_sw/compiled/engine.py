"""The compiled engine: one run's event loop in machine code (numba), O(|Q|) work per decision.

:func:`simulate` has the interface and the results of the readable engine
(:func:`dysta_sw.engine.simulate`), decision for decision: the same request chosen at every
step, the same finish times, preemptions and (with ``record``) dispatch log. The semantics are
the module documentation of :mod:`dysta_sw.engine` (SPEC 5); every policy formula comes from
:mod:`dysta_sw.formulas`, which the readable policies use too, and the ``dysta-hw-*``
arithmetic from :mod:`dysta_sw.compiled.hw`. tests/test_compiled_engine.py checks the two
engines against each other on random workloads, every policy, predictor and profile.

Layout of a run: the queue is an array of request indices in arrival order (admission appends,
a finished request's slot is closed up); per-request state (next layer, last time, gamma,
the predictor's window) lives in arrays indexed by request, and what the policies' scans read
(deadline, tokens, remaining latency, ...) also in rows in queue order (``qf``), so that a scan
reads contiguous memory and compiles to vector instructions. A decision scores the queue once
(twice for PREMA and Planaria, whose rules need the queue's largest token or whether any
deadline is still reachable) and takes the first least score, which is numpy's ``argmin``:
ties go to the earliest arrival, and a NaN score, should one ever occur, wins as it does there.
"""

from __future__ import annotations

import types
import weakref

import numpy as np

from .. import formulas
from ..engine import Profile, RunResult, get_profile
from ..errors import DystaInputError
from . import hw as H
from . import kernels as F
from ._jit import compile_lock, jit
from .fp import key as fp_key
from .fp import to_float as fp_to_float

# Policy codes of the compiled loop.
FCFS, SJF, PREMA, PLANARIA, SDRM3, DYSTA, DYSTA_STATIC, DYSTA_HW = range(8)
# Predictor codes.
PRED_NONE, PRED_LAST_ONE, PRED_LAST_N, PRED_AVERAGE_ALL = range(4)
_PRED = {"last-one": PRED_LAST_ONE, "last-n": PRED_LAST_N, "average-all": PRED_AVERAGE_ALL}

# Integer parameters (``ip``) and float parameters (``fpar``) of a run, by index.
(I_POLICY, I_MUL_GAMMA, I_PRED, I_LAST_N, I_STRICT, I_REACC, I_STATIC_WAKE, I_RECORD,
 I_HW_E, I_HW_M, I_HW_IEEE, I_HW_SHIFT, I_HW_WIDTH, I_HW_DEPTH, I_HW_ETA, I_HW_ONE,
 I_REWIND, I_FIRST_SEEN, I_GAMMA_TOKEN, I_STALE_GAMMA, I_SCAN) = range(21)
N_IP = 21
F_SCALE, F_ETA, F_ALPHA, F_CAPACITY, F_CLOCK = range(5)
# Rows of the queue-order state ``qf`` (see :func:`_run`): deadline, arrival, priority, tiso,
# static score, last time, gamma, remaining latency and next layer's latency (the policy's
# source, without gamma), PREMA tokens, and the scan's scores.
Q_DL, Q_ARR, Q_PRIO, Q_TISO, Q_S0, Q_LAST, Q_GAMMA, Q_REM, Q_NL, Q_TOK, Q_SCORE = range(11)
N_Q = 11


@jit
def _before(v, best):
    """``v`` replaces the running minimum ``best`` as numpy's argmin would (first NaN, else first least)."""
    return best == best and (v != v or v < best)


def _mask(*rows):
    return sum(1 << j for j in rows)


#: By policy code: a bit mask of the ``qf`` rows its scans read (a finished request's slot is
#: closed up in those only).
_ROWS_USED = np.zeros(8, np.int64)
_ROWS_USED[SJF] = _mask(Q_REM, Q_GAMMA)
_ROWS_USED[PREMA] = _mask(Q_TOK, Q_PRIO, Q_LAST, Q_ARR, Q_GAMMA, Q_TISO, Q_REM)
_ROWS_USED[PLANARIA] = _mask(Q_PRIO, Q_DL, Q_ARR)
_ROWS_USED[SDRM3] = _mask(Q_REM, Q_NL, Q_GAMMA, Q_DL, Q_LAST, Q_ARR)
_ROWS_USED[DYSTA] = _mask(Q_REM, Q_GAMMA, Q_DL, Q_LAST, Q_TISO, Q_S0)
_ROWS_USED[DYSTA_STATIC] = _mask(Q_S0)


@jit
def _argmin(v, q):
    """numpy's ``argmin`` of ``v[:q]``: the first NaN, else the first least. In a longer queue
    without a NaN (a loop without a branch checks first), a plain ``<``: fewer instructions per
    queued request."""
    general = q <= 16  # a short queue: the one loop that handles a NaN too
    if not general:
        nans = 0
        for k in range(q):
            nans += v[k] != v[k]
        general = nans > 0
    c, best = 0, v[0]
    if general:
        for k in range(1, q):
            if _before(v[k], best):
                c, best = k, v[k]
        return c
    for k in range(1, q):
        if v[k] < best:
            c, best = k, v[k]
    return c


@jit
def _cycles(seconds, clock_hz):
    return np.int64(np.rint(seconds * clock_hz))


def _run(ip, fpar, reqf, reqi, lat, rho, inv_rhobar, rhobar_zero, rsrc, lsrc, hw_lut, hw_mp, hw_q, hw_req,
         state_i, state_f, hist, qf, finish, log_i, log_f):
    """One run. Writes ``finish`` (and the log when recording); returns (preemptions, decisions).

    Compiled twice, :data:`run_sw` and :data:`run_hw`: for ``dysta-hw-*`` the software estimates
    ``rsrc`` are ``None``, for every other policy the hardware's tables ``hw_lut`` are. numba prunes
    a branch on ``x is None`` when ``x`` is an argument of type None, so each kernel carries only
    its own policies' code: the two share no compiled function and compile apart, in parallel
    (:func:`compile_hw_in_background`).

    ``reqf`` rows: arrival, deadline, priority, tiso (the policy's), static score, the predictor's
    slope alpha (1: gamma as measured).
    ``reqi`` rows: LUT base, flat sample base, layer count, base of the remaining-latency source
    ``rsrc``, model-pattern. ``hw_lut`` rows (dysta-hw): R, inv_rhobar, inv_shape, count_shift,
    output size; ``hw_req`` rows: static score bits, deadline in cycles. The run's state arrives
    initialised (see :func:`_state`; allocating it here would make numba compile numpy's
    allocators into the kernel): ``state_i`` rows: queue slots, next layer, layers run, gamma
    bits and remaining-latency bits (dysta-hw; -1: to compute); ``state_f`` rows: last time,
    gamma, PREMA tokens, the predictor's sum; ``hist`` the last-n predictor's window per request.
    """
    arrival, deadline, priority, tiso, score0, galpha = reqf[0], reqf[1], reqf[2], reqf[3], reqf[4], reqf[5]
    lutb, sbase, nl, rbase, mp = reqi[0], reqi[1], reqi[2], reqi[3], reqi[4]
    n = arrival.size
    pol, mul_gamma, pred, last_n = ip[I_POLICY], ip[I_MUL_GAMMA] != 0, ip[I_PRED], ip[I_LAST_N]
    strict, reacc, static_wake, record = ip[I_STRICT] != 0, ip[I_REACC] != 0, ip[I_STATIC_WAKE] != 0, ip[I_RECORD] != 0
    rewind, first_seen, scan = ip[I_REWIND] != 0, ip[I_FIRST_SEEN] != 0, ip[I_SCAN] != 0
    gamma_token, stale_gamma = ip[I_GAMMA_TOKEN] != 0, ip[I_STALE_GAMMA] != 0
    E, M, ieee = ip[I_HW_E], ip[I_HW_M], ip[I_HW_IEEE] != 0
    shift, width, depth, eta_bits = ip[I_HW_SHIFT], ip[I_HW_WIDTH], ip[I_HW_DEPTH], ip[I_HW_ETA]
    scale, eta, alpha, capacity, clock = fpar[F_SCALE], fpar[F_ETA], fpar[F_ALPHA], fpar[F_CAPACITY], fpar[F_CLOCK]

    slots, nxt, count, gbits, trem_c = state_i[0], state_i[1], state_i[2], state_i[3], state_i[4]
    last, gamma, tokens, psum = state_f[0], state_f[1], state_f[2], state_f[3]
    q_dl, q_arr, q_prio, q_tiso, q_s0 = qf[Q_DL], qf[Q_ARR], qf[Q_PRIO], qf[Q_TISO], qf[Q_S0]
    q_last, q_gamma, q_rem, q_nl, q_tok, q_sc = qf[Q_LAST], qf[Q_GAMMA], qf[Q_REM], qf[Q_NL], qf[Q_TOK], qf[Q_SCORE]
    mirror = rsrc is not None and pol != FCFS  # whether a scan reads the rows (run_hw: never)
    used = _ROWS_USED[pol] if mirror else 0

    t = 0.0
    tprev = 0.0
    hi = 0
    q = 0
    nfin = 0
    prev_rid = -1
    prev_open = False
    preemptions = 0
    decisions = 0
    while nfin < n:
        # A decision taken with an empty queue is a wake-up, whether requests arrive exactly now
        # or time jumps to the next arrival.
        wake = q == 0
        qa = q
        if rewind and wake:
            # the artifact: only the next request, at its arrival, even if that is before now
            t = arrival[hi]
            slots[q] = hi
            q += 1
            hi += 1
        else:
            while hi < n and (arrival[hi] < t if strict else arrival[hi] <= t):
                slots[q] = hi
                q += 1
                hi += 1
            if q == 0:
                t = arrival[hi]
                while hi < n and arrival[hi] <= t:
                    slots[q] = hi
                    q += 1
                    hi += 1
        for k in range(qa, q if mirror else qa):  # the admitted requests' slots of the queue-order rows
            r = slots[k]
            q_dl[k], q_arr[k], q_prio[k], q_tiso[k], q_s0[k] = deadline[r], arrival[r], priority[r], tiso[r], score0[r]
            q_last[k], q_gamma[k], q_tok[k] = last[r], gamma[r], tokens[r]
            if rsrc is not None:  # (run_hw: pruned)
                q_rem[k] = rsrc[rbase[r] + nxt[r]]
                q_nl[k] = lsrc[lutb[r] + nxt[r]]

        # ---- the policy picks a slot
        c = 0
        if hw_lut is not None:  # DYSTA_HW: the hardware's arithmetic, least score in the comparator's total order
            # (run_sw: pruned)
            s0, dcyc = hw_req[0], hw_req[1]
            now = _cycles(t, clock)
            nq = min(q, depth)
            bestk = np.int64(0)
            for k in range(q):
                r = slots[k]
                if wake:
                    kk = fp_key(s0[r], E, M, ieee)
                else:
                    dl, wait = H.time_operands(dcyc[r], _cycles(last[r], clock), now, shift, width)
                    tr = trem_c[r]
                    if tr < 0:  # the request ran since (or has not been scored yet)
                        tr = H.trem(gbits[r], hw_lut[0, lutb[r] + nxt[r]], E, M, ieee)
                        trem_c[r] = tr
                    s = H.score_trem(tr, dl, wait, hw_mp[mp[r]], hw_q[nq], eta_bits, E, M, ieee)
                    kk = fp_key(s, E, M, ieee)
                if k == 0 or kk < bestk:
                    c, bestk = k, kk
        if rsrc is None:  # dysta-hw picked above (run_hw: the other policies below pruned)
            pass
        elif pol == FCFS:
            c = 0
        elif pol == SJF:
            for k in range(q):
                q_sc[k] = F.remaining_sparse(q_gamma[k], q_rem[k]) if mul_gamma else q_rem[k]
            c = _argmin(q_sc, q)
        elif pol == PREMA:
            top = -np.inf
            for k in range(q):
                if first_seen and q_tok[k] < 0:
                    q_tok[k] = q_prio[k]  # first seen: no gain, not counted in the largest
                    continue
                if reacc:
                    waited = t - q_last[k]
                else:
                    waited = F.prema_waited(t, tprev, q_arr[k], slots[k] == prev_rid)
                if gamma_token:
                    gain = F.prema_gain_scaled(q_prio[k], waited, q_gamma[k] if mul_gamma else 1.0, q_tiso[k])
                else:
                    gain = F.prema_gain(q_prio[k], waited, q_tiso[k])
                q_tok[k] = q_tok[k] + gain
                top = max(top, q_tok[k])
            threshold = F.prema_threshold(top)
            last_gamma = q_gamma[q - 1]
            for k in range(q):
                v = q_rem[k]
                if mul_gamma:
                    v = F.remaining_sparse(last_gamma if stale_gamma else q_gamma[k], v)
                q_sc[k] = v if q_tok[k] >= threshold else np.inf
            c = _argmin(q_sc, q)
        elif pol == PLANARIA and scan:
            best, best_arrival = 0.0, 0.0
            for k in range(q):
                v = F.planaria_ratio(q_prio[k], q_dl[k] - t)
                if k == 0 or F.scan_replaces(best, v, best_arrival, q_arr[k]):
                    c, best, best_arrival = k, v, q_arr[k]
        elif pol == PLANARIA:
            live = 0
            for k in range(q):
                live += q_dl[k] - t > 0
            any_live = live > 0
            for k in range(q):
                q_sc[k] = F.planaria_score(q_prio[k], q_dl[k] - t, any_live)
            c = _argmin(q_sc, q)
        elif pol == SDRM3 and scan:
            best, best_arrival = 0.0, 0.0
            for k in range(q):
                rem, nl_lat = q_rem[k], q_nl[k]
                if mul_gamma:
                    rem = F.remaining_sparse(q_gamma[k], rem)
                    nl_lat = F.remaining_sparse(q_gamma[k], nl_lat)
                v = F.sdrm3_mapscore(rem, q_dl[k] - t, t - q_last[k], nl_lat, alpha, True)
                if k == 0 or F.scan_replaces(best, v, best_arrival, q_arr[k]):
                    c, best, best_arrival = k, v, q_arr[k]
        elif pol == SDRM3:
            for k in range(q):
                rem, nl_lat = q_rem[k], q_nl[k]
                if mul_gamma:
                    rem = F.remaining_sparse(q_gamma[k], rem)
                    nl_lat = F.remaining_sparse(q_gamma[k], nl_lat)
                q_sc[k] = -F.sdrm3_mapscore(rem, q_dl[k] - t, t - q_last[k], nl_lat, alpha, False)
            c = _argmin(q_sc, q)
        elif pol == DYSTA_STATIC or (pol == DYSTA and wake and static_wake):
            c = _argmin(q_s0, q)
        elif pol == DYSTA:
            for k in range(q):
                trem = F.remaining_sparse(q_gamma[k], q_rem[k]) if mul_gamma else q_rem[k]
                q_sc[k] = F.dysta_dynamic(trem, q_dl[k], t, q_last[k], q_tiso[k], q, capacity, eta)
            c = _argmin(q_sc, q)

        # ---- its next layer runs
        r = slots[c]
        layer = nxt[r]
        flat = sbase[r] + layer
        start = t
        t = t + lat[flat]
        last[r] = t
        lb = lutb[r] + layer
        if hw_lut is not None:  # (run_sw: pruned)
            # mode A: gamma from the monitor's count of non-zeros (density x output size)
            nnz = np.int64(np.rint(rho[flat] * hw_lut[4, lb]))
            gbits[r] = H.gamma(nnz, hw_lut[3, lb], hw_lut[2, lb], hw_lut[1, lb], E, M, ieee)
            trem_c[r] = -1
            gamma[r] = fp_to_float(gbits[r], E, M)
        elif rsrc is None:  # (run_hw: the predictor below pruned)
            pass
        elif pred != PRED_NONE:
            ratio = F.density_ratio(rho[flat], inv_rhobar[lb], rhobar_zero[lb])
            count[r] += 1
            if pred == PRED_LAST_ONE:
                gamma[r] = F.gamma_mean(scale, ratio, np.int64(1))
            elif pred == PRED_AVERAGE_ALL:
                psum[r] = psum[r] + ratio
                gamma[r] = F.gamma_mean(scale, psum[r], count[r])
            else:
                hist[r, (count[r] - 1) % last_n] = ratio
                total = hist[r, 0]
                for j in range(1, last_n):
                    total = total + hist[r, j]
                gamma[r] = F.gamma_mean(scale, total, min(count[r], last_n))
            gamma[r] = F.gamma_calibrated(gamma[r], galpha[r])
        nxt[r] = layer + 1
        if mirror:
            q_last[c], q_gamma[c] = t, gamma[r]
            if rsrc is not None and layer + 1 < nl[r]:  # (run_hw: pruned)
                q_rem[c] = rsrc[rbase[r] + layer + 1]
                q_nl[c] = lsrc[lutb[r] + layer + 1]
        if prev_open and prev_rid != r:
            preemptions += 1
        done = layer + 1 == nl[r]
        prev_rid = r
        prev_open = not done
        tprev = start
        if record:
            log_i[decisions, 0] = r
            log_i[decisions, 1] = layer
            log_i[decisions, 2] = q
            log_f[decisions, 0] = start
            log_f[decisions, 1] = t
            log_f[decisions, 2] = gamma[r]
        decisions += 1
        if done:
            finish[r] = t
            nfin += 1
            for k in range(c, q - 1):
                slots[k] = slots[k + 1]
            for j in range(N_Q if mirror else 0):
                if (used >> j) & 1 == 0:
                    continue
                for k in range(c, q - 1):
                    qf[j, k] = qf[j, k + 1]
            q -= 1
    return preemptions, decisions


def _kernel(name: str):
    """:func:`_run` compiled under its own ``name``: numba caches a function under its qualified
    name, so each kernel has cache files of its own (two processes compiling one each never
    write the same file)."""
    fn = types.FunctionType(_run.__code__, _run.__globals__, name, _run.__defaults__, _run.__closure__)
    fn.__qualname__ = fn.__name__ = name
    fn.__doc__, fn.__module__ = _run.__doc__, _run.__module__
    return jit(fn)


#: every policy but ``dysta-hw-*`` (``hw_lut`` is ``None``)
run_sw = _kernel("run_sw")
#: ``dysta-hw-*``: the hardware's FP arithmetic
run_hw = _kernel("run_hw")


# ----------------------------------------------------------------------------- Python side

def _own(a, dtype) -> np.ndarray:
    return np.array(a, dtype=dtype, copy=True, order="C")


def _state(reqf, ip):
    """A run's initial state (see :func:`run`)."""
    n = reqf.shape[1]
    state_i = np.zeros((5, n), np.int64)
    state_i[3] = ip[I_HW_ONE]
    state_i[4] = -1  # dysta-hw's remaining latency (trem bits), -1 until computed
    state_f = np.empty((4, n))
    state_f[0] = reqf[0]  # last: the arrival
    state_f[1] = 1.0  # gamma
    state_f[2] = -1.0 if ip[I_FIRST_SEEN] else reqf[2]  # tokens: the priority (-1: not seen yet)
    state_f[3] = 0.0
    hist = np.zeros((n if ip[I_PRED] == PRED_LAST_N else 0, max(1, ip[I_LAST_N])))
    qf = np.empty((N_Q, n))
    return state_i, state_f, hist, qf


def ready(hw: bool = False) -> bool:
    """Whether the kernel of the ``dysta-hw-*`` policies (``hw``) or of the others is compiled (or
    loaded from the disk cache) in this process already: a run then costs no compilation."""
    return bool((run_hw if hw else run_sw).overloads)


def _warm_args(hw: bool) -> tuple:
    """A one-request, one-layer run of either kernel (in FP16 for ``hw``)."""
    one_f = np.ones(1)
    ip = np.zeros(N_IP, np.int64)
    ip[I_LAST_N] = 1
    if hw:
        ip[I_POLICY], ip[I_HW_E], ip[I_HW_M], ip[I_HW_WIDTH], ip[I_HW_DEPTH] = DYSTA_HW, 5, 10, 32, 1
    reqf = np.ones((6, 1))
    hw_lut = np.zeros((5, 1), np.int64) if hw else None
    rsrc = None if hw else np.zeros(2)
    return (ip, np.zeros(5), reqf, np.array([[0], [0], [1], [0], [0]], np.int64), one_f, one_f.copy(),
            one_f.copy(), np.zeros(1, np.bool_), rsrc, np.zeros(2), hw_lut, np.zeros(1, np.int64),
            np.zeros(1, np.int64), np.zeros((2, 1), np.int64), *_state(reqf, ip), np.zeros(1),
            np.zeros((0, 3), np.int64), np.zeros((0, 3)))


def warm(hw: bool | None = None) -> None:
    """Compile the kernels (or load them from the disk cache): the ``dysta-hw-*`` one (``hw``
    True), the other (False) or both (None). A kernel another process is compiling is waited
    for and loaded (:func:`dysta_sw.compiled._jit.compile_lock`)."""
    for h in ((False, True) if hw is None else (bool(hw),)):
        kernel = run_hw if h else run_sw
        if not kernel.overloads:
            with compile_lock(kernel.py_func.__name__):
                kernel(*_warm_args(h))


def compile_hw_in_background():
    """Start ``warm(hw=True)`` (and the golden model's loops) in a process of its own and return it (a
    :class:`dysta_sw.cluster.Background`: ``result()`` waits for it, ``stop()`` ends it), so that
    this process compiles :data:`run_sw` (or does other work) meanwhile and later loads the
    ``dysta-hw-*`` kernel from the disk cache. ``None`` when that gains nothing: the kernel is
    loaded here already, or compiled code is not cached on disk (see :mod:`._jit`)."""
    from ..cluster import Background
    from ._jit import cache_dir
    if ready(hw=True) or cache_dir() is None:
        return None
    return Background(_warm_hw_and_loops)


def _warm_hw_and_loops() -> None:
    """:data:`run_hw`, then the golden model's array loops (:func:`dysta_sw.compiled.hw.warm_loops`:
    its functions are run_hw's, then loaded from the disk cache), holding the loops' lock from the
    start: a process replaying the golden model meanwhile (the report's HIL section) waits for them
    and loads them instead of compiling the same floating-point functions a second time."""
    with compile_lock("golden"):
        warm(True)
        H._warm_loops()


def warm_parallel() -> None:
    """:func:`warm` both kernels, the ``dysta-hw-*`` one in a second process (:func:`compile_hw_in_background`)."""
    bg = compile_hw_in_background()
    try:
        warm(False)
        if bg is not None:
            bg.result()
    except BaseException:
        if bg is not None:
            bg.stop()
        raise
    warm(True)  # from the disk cache when the other process compiled it


class _Spec:
    """Everything about one (tables, policy, profile) that does not change from run to run."""

    def __init__(self, tables, policy, profile: Profile):
        from .. import policies as P

        self.tables, self.policy, self.profile = tables, policy, profile
        opts = policy.options
        ip = np.zeros(N_IP, np.int64)
        fpar = np.zeros(5)
        code = policy_code(policy)
        mode = getattr(policy, "mode", None)
        ip[I_POLICY] = code
        oracle = isinstance(policy, P.Dysta) and mode == "oracle"
        sparse = policy.sparse
        # gamma multiplies the pattern-aware estimate of policies that use the predictor
        ip[I_MUL_GAMMA] = int(sparse and not oracle and code != DYSTA_HW)
        kind = None if not policy.uses_gamma or code == DYSTA_HW else (profile.predictor or opts.predictor)
        ip[I_PRED] = PRED_NONE if kind is None else _PRED[kind]
        ip[I_LAST_N] = opts.last_n
        ip[I_STRICT] = profile.strict_admission
        ip[I_REACC] = profile.prema_reaccumulate
        ip[I_STATIC_WAKE] = profile.static_score
        ip[I_REWIND] = profile.clock_rewind
        ip[I_FIRST_SEEN] = profile.prema_first_seen
        ip[I_GAMMA_TOKEN] = profile.prema_gamma_token
        ip[I_STALE_GAMMA] = profile.prema_stale_gamma
        ip[I_SCAN] = profile.scan_selection
        fpar[F_SCALE] = opts.gamma_scale
        fpar[F_ETA] = opts.beta if profile.eta_from_beta else opts.eta
        fpar[F_ALPHA] = opts.alpha
        fpar[F_CAPACITY] = tables.capacity if profile.penalty_capacity else 1.0
        t = tables
        # Private writable copies: a read-only array (e.g. deserialized on a cluster worker) is
        # another numba type, which would compile the kernel again.
        self.lat, self.rho = _own(t.lat, np.float64), _own(t.rho, np.float64)
        self.rhobar_zero = _own(t.rhobar <= 0, np.bool_)
        self.inv_rhobar = 1.0 / np.where(self.rhobar_zero, 1.0, t.rhobar)
        self.rbase_from_sample = oracle
        self.rsrc = _own(t.rem_true if oracle else (t.rbar if sparse else t.rbar_model), np.float64)
        self.lsrc = _own(t.lbar if sparse else t.lbar_model, np.float64)
        self.tiso_kind = "tiso_true" if oracle else ("tiso_est" if sparse else "tiso_est_model")
        fitted = kind is not None and profile.fitted_alpha and opts.predictor_alpha == "fitted"
        self.galpha = t.gamma_alpha(kind, opts.last_n) if fitted else np.ones(len(t.names))
        self.hw_lut = None  # the kernel without the hardware's arithmetic (run_sw)
        self.hw_mp = np.zeros(1, np.int64)
        self.hw_q = np.zeros(1, np.int64)
        self.luts = None
        if code == DYSTA_HW:
            from .. import fp
            from ..hwmodel import HwLuts
            cfg = policy._cfg.for_capacity(t.capacity)
            self.luts = luts = HwLuts.build(t, cfg, opts.eta)
            f = fp.get_format(cfg.fmt)
            self.hw_lut = np.stack([luts.R.astype(np.int64), luts.inv_rhobar.astype(np.int64),
                                    luts.inv_shape.astype(np.int64), luts.count_shift.astype(np.int64),
                                    t.shape.astype(np.int64)])
            self.hw_mp = luts.inv_tiso.astype(np.int64)
            self.hw_q = luts.inv_q.astype(np.int64)
            ip[I_HW_E], ip[I_HW_M], ip[I_HW_IEEE] = f.exp_bits, f.man_bits, cfg.mode == "ieee"
            ip[I_HW_SHIFT], ip[I_HW_WIDTH], ip[I_HW_DEPTH] = cfg.shift, cfg.time_bits, cfg.depth
            ip[I_HW_ETA] = luts.eta
            ip[I_HW_ONE] = int(fp.from_float(np.float64(1.0), cfg.fmt, cfg.mode))
            fpar[F_CLOCK] = cfg.clock_hz
        self.ip, self.fpar = ip, fpar

    def run(self, workload, deadline, record: bool) -> RunResult:
        t, w = self.tables, workload
        mp, sample = np.asarray(w.mp, np.int64), np.asarray(w.sample, np.int64)
        n = len(w)
        arrival = np.asarray(w.arrival, np.float64)
        deadline = np.asarray(deadline, np.float64)
        lutb = t.lut_base[mp]
        sbase = t.sample_base[mp] + sample * t.n_layers[mp]
        nl = t.n_layers[mp]
        if self.tiso_kind == "tiso_true":
            tiso = t.tiso[t.tiso_base[mp] + sample]
        else:
            tiso = getattr(t, self.tiso_kind)[mp]
        opts = self.policy.options
        with np.errstate(invalid="ignore", over="ignore"):
            score0 = formulas.dysta_static(tiso, deadline, arrival, opts.beta)
        reqf = np.stack([arrival, deadline, np.asarray(w.priority, np.float64), tiso, score0, self.galpha[mp]])
        reqi = np.stack([lutb, sbase, nl, sbase if self.rbase_from_sample else lutb, mp]).astype(np.int64)
        hw_req = np.zeros((2, 1), np.int64)
        if self.luts is not None:
            luts = self.luts
            s0 = luts.static_score(t.tiso_est[mp], deadline, arrival, opts.beta).astype(np.int64)
            dcyc = luts.cfg.cycles(np.where(np.isfinite(deadline), deadline, 0.0))
            hw_req = np.stack([s0, dcyc])
        m = int(nl.sum()) if record else 0
        log_i = np.zeros((m, 3), np.int64)
        log_f = np.zeros((m, 3))
        finish = np.full(n, np.nan)
        ip = self.ip.copy()
        ip[I_RECORD] = record
        # one of rsrc and hw_lut is None: it picks the kernel (see _run)
        kernel, rsrc = (run_sw, self.rsrc) if self.hw_lut is None else (run_hw, None)
        if not kernel.overloads:  # (the dispatcher's `signatures` costs ~20 us a call)
            warm(kernel is run_hw)
        pre, dec = kernel(ip, self.fpar, reqf, reqi, self.lat, self.rho, self.inv_rhobar, self.rhobar_zero, rsrc,
                          self.lsrc, self.hw_lut, self.hw_mp, self.hw_q, hw_req, *_state(reqf, ip), finish, log_i,
                          log_f)
        res = RunResult(finish=finish, preemptions=int(pre), decisions=int(dec))
        if record:
            res.log = np.column_stack([log_i[:, :2].astype(np.float64), log_f[:, :2]])
            res.gamma_log = log_f[:, 2].copy()
            res.extra["queue"] = log_i[:, 2].copy()
        return res


def policy_code(policy) -> int:
    """The compiled loop's code for ``policy``; ``TypeError`` for a policy it does not implement."""
    from .. import policies as P
    from ..hwmodel import DystaHW

    kind = type(policy)
    if kind is DystaHW:
        return DYSTA_HW
    if kind is P.Dysta:
        return DYSTA_STATIC if policy.mode == "static" else DYSTA
    code = {P.FCFS: FCFS, P.SJF: SJF, P.PREMA: PREMA, P.Planaria: PLANARIA, P.SDRM3: SDRM3}.get(kind)
    if code is None:
        raise TypeError(f"the compiled engine has no implementation of policy {policy.name!r} ({kind.__name__})")
    return code


def uses_hw_kernel(policy) -> bool:
    """Whether ``policy`` runs on :data:`run_hw` (``dysta-hw-*``); False for :data:`run_sw`'s
    policies and for a policy the compiled engine does not implement."""
    return supports(policy) and policy_code(policy) == DYSTA_HW


def supports(policy) -> bool:
    """Whether the compiled engine implements ``policy`` (every policy of the registry does)."""
    try:
        policy_code(policy)
    except TypeError:
        return False
    return True


@jit
def _fcfs(arrival, lat, sbase, nl, finish):
    t = 0.0
    for i in range(arrival.size):
        if arrival[i] > t:  # the queue ran empty: time jumps to the arrival
            t = arrival[i]
        for layer in range(nl[i]):
            t = t + lat[sbase[i] + layer]
        finish[i] = t


def fcfs_finish(tables, workload) -> np.ndarray:
    """FCFS's finish times on ``workload``, as :func:`simulate` gives them in every profile without
    the clock rewind (``paper``): each request runs to its end in arrival order, from its arrival or
    the previous finish, its layers' latencies added one by one, so the same float64 sums. A loop
    of a few lines that compiles in a fraction of a second: what the load calibration
    (:mod:`dysta_sw.load`) runs hundreds of times, before the engine's kernels are compiled."""
    mp, sample = np.asarray(workload.mp, np.int64), np.asarray(workload.sample, np.int64)
    finish = np.empty(len(workload))
    _fcfs(np.require(workload.arrival, np.float64, "C"), np.require(tables.lat, np.float64, ["C", "W"]),
          (tables.sample_base[mp] + sample * tables.n_layers[mp]).astype(np.int64),
          tables.n_layers[mp].astype(np.int64), finish)
    return finish


def simulate(tables, workloads, deadlines, policy, profile: Profile | str = "paper",
             record: bool = False) -> list[RunResult]:
    """Run ``policy`` on each workload, one compiled run after another; see :func:`dysta_sw.engine.simulate`.

    ``record`` also keeps, per decision, the queue length the policy saw (``RunResult.extra["queue"]``).
    """
    if isinstance(profile, str):
        profile = get_profile(profile)
    if len(workloads) != len(deadlines):
        raise ValueError("one deadline array per workload is required")
    for w in workloads:
        if len(w) == 0:
            raise DystaInputError("a workload needs at least one request")
    if not workloads:
        return []
    return [_spec(tables, policy, profile).run(w, d, record) for w, d in zip(workloads, deadlines)]


#: Specs per tables object: a sweep simulates many runs of few (policy, profile) pairs on one
#: scenario's tables, and a spec's copies of the tables (and dysta-hw's look-up tables) are the
#: larger part of a short run's cost.
_SPECS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _spec(tables, policy, profile: Profile) -> _Spec:
    key = (type(policy), policy.name, policy.options, getattr(policy, "mode", None), getattr(policy, "_cfg", None),
           profile)
    specs = _SPECS.setdefault(tables, {})
    if key not in specs:
        specs[key] = _Spec(tables, policy, profile)
    return specs[key]
