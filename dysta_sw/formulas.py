"""Every policy's score formula and the sparse-latency predictor, written once (SPEC 6).

Each function is plain numpy arithmetic. The readable engine (:mod:`dysta_sw.policies`) calls it
on ``(runs, slots)`` arrays; the compiled engine (:mod:`dysta_sw.compiled.engine`) compiles the
same function with numba and calls it on scalars, inside its loop over the queue. So a formula
is changed in one place, and both engines take the same decisions, bit for bit (IEEE float64,
the same operations in the same order; tests/test_compiled_engine.py checks it on random
workloads). Only :func:`where` differs between the two: ``np.where`` on arrays, a plain
conditional on scalars (:mod:`dysta_sw.compiled._jit` registers the compiled version). It lives
beside the readable engine, not in :mod:`dysta_sw.compiled`, so that the readable engine and
policies do not depend on the compiled package (which depends on them).

Notation (SPEC 6) for queued request i at decision time ``t``: ``R`` estimated remaining latency,
``gamma`` sparsity coefficient, ``last`` end of its last layer (or its arrival), ``D`` deadline,
``p`` priority, ``tiso`` estimated isolated latency.
"""

from __future__ import annotations

import numpy as np


def where(cond, a, b):
    """``a`` where ``cond`` else ``b`` (``np.where``; a conditional expression when compiled)."""
    return np.where(cond, a, b)


# ----------------------------------------------------------------------------- predictor

def density_ratio(rho, inv_rhobar, rhobar_zero):
    """``r = rho_measured / rhobar`` of a layer; a layer whose mean density is 0 gives 1."""
    return where(rhobar_zero, 1.0, rho * inv_rhobar)


def gamma_mean(scale, total, count):
    """``gamma = scale * (sum of the ratios in the window) / (their number)``.

    last-one: the last ratio over 1; last-N: the last N (or fewer) ratios, summed in window-slot
    order; average-all: every ratio so far.
    """
    return scale * total / count


def gamma_calibrated(gamma, alpha):
    """The predictor's gamma through the model-pattern's fitted slope ``alpha`` (paper Sec. 5.1):
    ``max(0, 1 + alpha * (gamma - 1))``. ``alpha = 1`` is the paper's setting and gives ``gamma``
    itself, bit for bit; ``alpha = 0`` is no predictor (gamma = 1). See
    :func:`dysta_sw.tracestats.fit_alpha`."""
    return where(alpha == 1.0, gamma, np.maximum(0.0, 1.0 + alpha * (gamma - 1.0)))


def remaining_sparse(gamma, rbar):
    """Pattern-aware remaining latency ``gamma * Rbar[next]``."""
    return gamma * rbar


# ----------------------------------------------------------------------------- PREMA

def prema_waited(t, tprev, arrival, running):
    """Time a queued request waited since the previous decision (0 for the one that ran)."""
    return where(running, 0.0, t - np.maximum(tprev, arrival))


def prema_gain(p, waited, tiso):
    """Tokens a request gains for ``waited`` seconds: ``p * waited / Tiso_est``."""
    return p * np.maximum(waited, 0.0) / tiso


def prema_gain_scaled(p, waited, gamma, tiso):
    """``reference`` profile: ``p * (waited / (gamma * Tiso_est))``, the published artifact's token
    growth in its order of operations (prema-sparse; ``gamma`` = 1 for prema). A zero
    ``gamma * Tiso_est`` (every measured density 0), where the artifact divides by zero, gives an
    infinite gain after any wait and none without one."""
    den = gamma * tiso
    pos = den > 0
    return where(pos, p * (np.maximum(waited, 0.0) / where(pos, den, 1.0)), where(waited > 0, np.inf, 0.0))


def prema_threshold(top):
    """The candidates' token threshold from the largest token: 9, 3 or 1."""
    return where(top >= 9, 9.0, where(top >= 3, 3.0, 1.0))


# ----------------------------------------------------------------------------- Planaria

def planaria_score(p, slack, any_live):
    """``-p / (D - t)`` (largest ``p / slack`` wins); with slack <= 0 a request ranks below every
    live one (``inf``) or, when none is live, by priority alone (``-p``)."""
    live = slack > 0
    return where(any_live, where(live, -p / where(live, slack, 1.0), np.inf), -p)


def planaria_ratio(p, slack):
    """``reference`` profile: the artifact's raw ``p / (D - t)``, negative once the deadline has
    passed (largest wins, see :func:`scan_replaces`); a slack of exactly 0, where the artifact
    divides by zero, counts as ``+inf``."""
    zero = slack == 0
    return where(zero, np.inf, p / where(zero, 1.0, slack))


# ----------------------------------------------------------------------------- SDRM3

def sdrm3_mapscore(rem, slack, wait, next_lat, alpha, negative):
    """MapScore ``urgency + alpha * fairness`` (largest wins). urgency ``min(1, R / slack)``: 1
    when slack <= 0, or (``negative``: the ``reference`` profile, as the artifact) negative once
    the deadline has passed (1 at a slack of exactly 0); fairness ``wait / next layer's estimated
    latency`` (a layer predicted to take no time gets the largest finite fairness)."""
    live = where(negative, slack != 0, slack > 0)
    urgency = where(live, np.minimum(1.0, rem / where(live, slack, 1.0)), 1.0)
    fairness = wait / np.maximum(next_lat, 1e-12)
    return urgency + alpha * fairness


# ----------------------------------------------------------------------------- artifact selection

def scan_replaces(best, v, best_arrival, arrival):
    """``reference`` profile, Planaria and SDRM3: whether queued request ``v`` (its score; largest
    wins) replaces the running ``best`` as the artifact's scan of the queue in arrival order does.

    It replaces when the best so far is negative (an expired deadline) or not above ``v``, except
    that an equal score keeps an earlier arrival. So behind an expired best, the next request in
    queue order takes over whatever its score."""
    return ((best < 0.0) | (best <= v)) & ((best != v) | (best_arrival >= arrival))


# ----------------------------------------------------------------------------- Dysta

def dysta_static(lat, deadline, arrival, beta):
    """Static score ``Score0 = Lat + beta * (D - a - Lat)``."""
    return lat + beta * (deadline - arrival - lat)


def dysta_dynamic(trem, deadline, t, last, tiso, q, capacity, eta):
    """Dynamic score ``Trem + eta * (max(0, D - t - Trem) + (w / Tiso) / |Q| / C)`` (``C`` is 1 in
    the ``reference`` profile: the artifact counts the penalty as a plain ratio)."""
    slack = np.maximum(deadline - t - trem, 0.0)
    pen = (t - last) / tiso / (q * capacity)
    return (slack + pen) * eta + trem
