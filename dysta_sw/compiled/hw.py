"""The ``dysta-hw-*`` policies' arithmetic, compiled: mode A (gamma) and mode B (score).

The formulas are :class:`dysta_sw.hwmodel.HwLuts`'s (see that module for the hardware's operation
order); each is one small function on scalar bit patterns over :mod:`dysta_sw.compiled.fp`, so
that a change of the hardware's formula is a change here and there, checked bit for bit by
tests/test_compiled_fp.py (``HwLuts.gamma``/``HwLuts.score`` against :func:`gamma_array` /
:func:`score_array` on random and special patterns) and decision for decision by
tests/test_compiled_engine.py.
"""

from __future__ import annotations

import numpy as np

from .. import fp as golden
from ..hwmodel import DIFF_BITS
from ._jit import compile_lock, jit
from .fp import add, clamp0, f_clamp0, f_dec, f_domain, f_enc, f_from_int, f_round, from_int, mul, sub


@jit
def fit(v, width, signed):
    """Saturate to the ``width``-bit (``width`` <= 63) integer range, as the hardware's difference
    registers do."""
    lo = -(np.int64(1) << (width - 1)) if signed else np.int64(0)
    hi = (np.int64(1) << (width - 1)) - 1 if signed else (np.int64(1) << width) - 1
    return min(max(v, lo), hi)


@jit
def gamma(nnz, count_shift, inv_shape, inv_rhobar, E, M, ieee):
    """Mode A: ``mul(mul(from_int(nnz >> count_shift), inv_shape), inv_rhobar)`` (in the float64
    domain where the format allows, as :func:`score_trem`)."""
    c = nnz >> count_shift
    if not (f_domain(E, M) and c < (np.int64(1) << 53)):
        return mul(mul(from_int(c, E, M), inv_shape, E, M, ieee), inv_rhobar, E, M, ieee)
    g1 = f_round(f_from_int(c, E, M) * f_dec(inv_shape, E, M, ieee), E, M, ieee)
    return f_enc(f_round(g1 * f_dec(inv_rhobar, E, M, ieee), E, M, ieee), E, M)


@jit
def time_operands(deadline, last, now, shift, width):
    """The integer operands of mode B, in quanta (:func:`dysta_sw.hwmodel.time_operands`): the
    differences modulo ``2**width`` (``D - now`` signed), shifted, saturated to ``DIFF_BITS``."""
    mask = (np.int64(1) << width) - 1
    d = (deadline - now) & mask
    d = d - ((d >> (width - 1)) << width)
    w = (now - last) & mask
    signed = width > 0  # not a constant: numba would compile fit once per literal
    return fit(d >> shift, DIFF_BITS, signed), fit(w >> shift, DIFF_BITS, not signed)


@jit
def trem(gamma_bits, R, E, M, ieee):
    """Mode B's first product, ``mul(gamma, R)``: the remaining latency (constant while the
    request waits, so the engine keeps it until the request runs again)."""
    if not f_domain(E, M):
        return mul(gamma_bits, R, E, M, ieee)
    return f_enc(f_round(f_dec(gamma_bits, E, M, ieee) * f_dec(R, E, M, ieee), E, M, ieee), E, M)


@jit
def score_trem(trem_bits, dl, wait, inv_tiso, inv_q, eta, E, M, ieee):
    """Mode B after :func:`trem`: the rest of mode B (see :func:`_score_loop`), on float64
    values (:func:`dysta_sw.compiled.fp.f_round`: the same bits, about three times faster) where
    the format allows, else on bit patterns (:func:`score_trem_bits`)."""
    if not f_domain(E, M):
        return score_trem_bits(trem_bits, dl, wait, inv_tiso, inv_q, eta, E, M, ieee)
    tr = f_dec(trem_bits, E, M, ieee)
    slack = f_clamp0(f_round(f_from_int(dl, E, M) - tr, E, M, ieee))
    p1 = f_round(f_from_int(wait, E, M) * f_dec(inv_tiso, E, M, ieee), E, M, ieee)
    pen = f_round(p1 * f_dec(inv_q, E, M, ieee), E, M, ieee)
    e = f_round(f_dec(eta, E, M, ieee) * f_round(slack + pen, E, M, ieee), E, M, ieee)
    return f_enc(f_round(tr + e, E, M, ieee), E, M)


@jit
def score_trem_bits(trem_bits, dl, wait, inv_tiso, inv_q, eta, E, M, ieee):
    """:func:`score_trem` on bit patterns (:mod:`dysta_sw.compiled.fp`'s integer kernels)."""
    slack = clamp0(sub(from_int(dl, E, M), trem_bits, E, M, ieee), E, M, ieee)
    pen = mul(mul(from_int(wait, E, M), inv_tiso, E, M, ieee), inv_q, E, M, ieee)
    return add(trem_bits, mul(eta, add(slack, pen, E, M, ieee), E, M, ieee), E, M, ieee)


# ----------------------------------------------------------------------------- arrays (tests, tools)

@jit
def _gamma_loop(nnz, count_shift, inv_shape, inv_rhobar, E, M, ieee, out):
    for i in range(out.size):
        out[i] = gamma(nnz[i], count_shift[i], inv_shape[i], inv_rhobar[i], E, M, ieee)


@jit
def _score_loop(g, R, deadline, last, now, inv_tiso, inv_q, eta, shift, width, E, M, ieee, out):
    """Mode B for each queued request (:func:`trem`, then :func:`score_trem`)::

        trem  = mul(gamma, R)
        slack = clamp0(sub(from_int(dl), trem))
        pen   = mul(mul(from_int(wait), inv_tiso), inv_q)
        score = add(trem, mul(eta, add(slack, pen)))
    """
    for i in range(out.size):
        dl, wait = time_operands(deadline[i], last[i], now[i], shift, width)
        out[i] = score_trem(trem(g[i], R[i], E, M, ieee), dl, wait, inv_tiso[i], inv_q[i], eta, E, M, ieee)


def _warm_loops() -> None:
    """Compile (or load) :func:`_gamma_loop` and :func:`_score_loop` for the types
    :func:`gamma_array` and :func:`score_array` pass."""
    one = np.zeros(1, np.int64)
    _gamma_loop(one, one, one, one, 5, 10, True, np.empty(1, np.int64))
    _score_loop(one, one, one, one, one, one, one, np.int64(0), 0, 32, 5, 10, True, np.empty(1, np.int64))


def warm_loops() -> None:
    """Compile the array loops (or load them from the disk cache), waiting for a process that is
    compiling them: the report's, which compiles them after the ``dysta-hw-*`` kernel, whose
    floating-point functions they share (:func:`dysta_sw.compiled.engine.compile_hw_in_background`)."""
    if not (_gamma_loop.overloads and _score_loop.overloads):
        with compile_lock("golden"):
            _warm_loops()


def _flat(*arrays, dtype=np.int64):
    return [a.reshape(-1).astype(dtype) for a in np.broadcast_arrays(*arrays)]


def gamma_array(luts, nnz, lut_index) -> np.ndarray:
    """:meth:`HwLuts.gamma <dysta_sw.hwmodel.HwLuts.gamma>`, compiled."""
    warm_loops()
    f = golden.get_format(luts.cfg.fmt)
    idx = np.asarray(lut_index)
    nnz, cs, ish, irh = _flat(np.asarray(nnz, np.int64), luts.count_shift[idx], luts.inv_shape[idx],
                              luts.inv_rhobar[idx])
    out = np.empty(nnz.size, np.int64)
    _gamma_loop(nnz, cs, ish, irh, f.exp_bits, f.man_bits, luts.cfg.mode == "ieee", out)
    return out.astype(f.dtype).reshape(np.broadcast_shapes(np.shape(idx), np.shape(nnz)))


def score_array(luts, gamma_bits, lut_index, mp, deadline, last, now, n_queued) -> np.ndarray:
    """:meth:`HwLuts.score <dysta_sw.hwmodel.HwLuts.score>`, compiled."""
    warm_loops()
    cfg = luts.cfg
    f = golden.get_format(cfg.fmt)
    arrays = (np.asarray(gamma_bits), luts.R[np.asarray(lut_index)], np.asarray(deadline, np.int64),
              np.asarray(last, np.int64), np.asarray(now, np.int64), luts.inv_tiso[np.asarray(mp)],
              luts.inv_q[np.asarray(n_queued)])
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    flat = _flat(*arrays)
    out = np.empty(flat[0].size, np.int64)
    _score_loop(*flat, np.int64(luts.eta), cfg.shift, cfg.time_bits, f.exp_bits, f.man_bits, cfg.mode == "ieee", out)
    return out.astype(f.dtype).reshape(shape)
