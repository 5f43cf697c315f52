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


def prema_threshold(top):
    """The candidates' token threshold from the largest token: 9, 3 or 1."""
    return where(top >= 9, 9.0, where(top >= 3, 3.0, 1.0))


# ----------------------------------------------------------------------------- Planaria

def planaria_score(p, slack, any_live):
    """``-p / (D - t)`` (largest ``p / slack`` wins); with slack <= 0 a request ranks below every
    live one (``inf``) or, when none is live, by priority alone (``-p``)."""
    live = slack > 0
    return where(any_live, where(live, -p / where(live, slack, 1.0), np.inf), -p)


# ----------------------------------------------------------------------------- SDRM3

def sdrm3_score(rem, slack, wait, next_lat, alpha):
    """``-(urgency + alpha * fairness)``: urgency ``min(1, R / slack)`` (1 when slack <= 0),
    fairness ``wait / next layer's estimated latency`` (a layer predicted to take no time gets the
    largest finite fairness)."""
    live = slack > 0
    urgency = where(live, np.minimum(1.0, rem / where(live, slack, 1.0)), 1.0)
    fairness = wait / np.maximum(next_lat, 1e-12)
    return -(urgency + alpha * fairness)


# ----------------------------------------------------------------------------- Dysta

def dysta_static(lat, deadline, arrival, beta):
    """Static score ``Score0 = Lat + beta * (D - a - Lat)``."""
    return lat + beta * (deadline - arrival - lat)


def dysta_dynamic(trem, deadline, t, last, tiso, q, capacity, eta):
    """Dynamic score ``Trem + eta * (max(0, D - t - Trem) + (w / Tiso) / |Q| / C)``."""
    slack = np.maximum(deadline - t - trem, 0.0)
    pen = (t - last) / tiso / (q * capacity)
    return (slack + pen) * eta + trem
