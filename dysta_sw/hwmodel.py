"""Golden model of the hardware scheduler's arithmetic (SPEC 7), and the ``dysta-hw`` policy.

The hardware keeps time as an integer cycle counter and computes in one floating-point format
(FP16 by default) with the operations of :mod:`dysta_sw.fp`. This module fixes the operation
order the gateware implements; every quantity below is a bit pattern of the format unless it is
called an integer.

Time
    Cycles at ``clock_hz``, counted by a free-running ``time_bits``-wide counter that wraps
    around; deadlines and last-run times are stored at that width. A time difference is taken
    modulo ``2**time_bits`` (signed for ``D - now``, unsigned for ``now - last``), so it is right
    across a wrap as long as it is below ``2**(time_bits - 1)`` cycles (see :func:`time_operands`).
    It enters the datapath as ``from_int(sat(d >> time_shift))``: an arithmetic shift to *quanta*
    of ``2**time_shift`` cycles, then saturated to ``DIFF_BITS`` (24) bits, so that the converter
    is narrow and realistic slacks fit the format: with FP16 (largest finite 65504) and the
    default quantum of 2**18 cycles (1.31 ms at 200 MHz) slacks up to 86 s are finite. Larger
    values overflow to infinity, which sorts last.

Look-up tables (programmed by the host, rounded from float64 with ``from_float``)
    ``R[mp, l]`` remaining latency ``Rbar[l]`` in quanta (``R[mp, L] = 0``); ``inv_rhobar[mp, l]``
    ``1 / max(rhobar[l], 1 / shape[l])``; ``count_shift[mp, l]`` the integer
    ``k = max(0, bit_length(shape[l]) - 15)`` and ``inv_shape[mp, l]`` ``2**k / shape[l]``, so the
    shifted count ``nnz >> k`` stays below 2**15 and converts to FP16 without overflow;
    ``inv_tiso[mp]`` ``1 / Tiso_est`` in 1/seconds (not 1/quanta: the penalty ``w / Tiso_est`` of
    SPEC 6 is a ratio added to times in seconds, so with times in quanta it must come out
    ``1 / quantum`` times larger, which ``wait_quanta / Tiso_est_seconds`` is; times the pack's
    capacity ``C``, see :class:`dysta_sw.policies.Dysta`, it is ``1 / (C * Tiso_est)``); ``inv_q[n]``
    ``1 / n`` for ``n = 1..depth``;
    the constant ``eta``.

Mode A (after a layer of request i ran; ``nnz`` integer from the zero-counting monitor)
    ``gamma_i = mul(mul(from_int(nnz >> count_shift[mp, l]), inv_shape[mp, l]), inv_rhobar[mp, l])``

Mode B (for every queued request i, at decision time ``now``, queue length ``n``)
    ``trem  = mul(gamma_i, R[mp_i, next_i])``
    ``slack = clamp0(sub(from_int((D_i - now) >> s, signed), trem))``
    ``pen   = mul(mul(from_int((now - last_i) >> s), inv_tiso[mp_i]), inv_q[n])``
    ``score = add(trem, mul(eta, add(slack, pen)))``
    and the request with the least score in :func:`dysta_sw.fp.lt_total` order runs next.

In the engine (:class:`DystaHW`) a request arrives with its static score ``Score0`` computed by
the host in float64 (quanta) and rounded to the format; a decision taken with an empty queue (a
wake-up, where the engine may admit several requests at once) compares static scores. The
gateware needs none: it dispatches the first request accepted into an idle, empty scheduler at
once, and :mod:`dysta_sw.hwsched` models exactly that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from . import fp
from .errors import DystaInputError
from .policies import Dysta, Options, Predictor
from .tables import ScenarioTables

_NATIVE = {"fp16": np.float16, "fp32": np.float32}

#: Width of the monitor's shifted non-zero count.
COUNT_BITS = 16
#: Width of a time difference in quanta, as converted to the format (saturated, two's complement
#: for ``D - now``): 2**23 quanta is beyond every format's useful range at its default quantum.
DIFF_BITS = 24
#: Default time quantum (log2 cycles) per format: FP16's range needs coarse quanta.
DEFAULT_TIME_SHIFT = {"fp16": 18, "bf16": 10, "fp32": 10}


def scaled_shift(shift: int, capacity: float, time_bits: int | None = None) -> int:
    """A time-quantum exponent for traces ``capacity`` times faster than the paper's scale; with
    ``time_bits``, a :class:`DystaInputError` naming the pack's time scale when the quantum would not
    fit the cycle counter (a pack whose layers last far longer than the paper's)."""
    out = max(0, round(shift - math.log2(capacity)))
    if time_bits is not None and out >= time_bits:
        raise DystaInputError(
            f"the trace pack's layers are {1 / capacity:.3g} times as long as the paper's, which needs a time "
            f"quantum of 2**{out} cycles: more than the hardware scheduler's {time_bits}-bit cycle counter "
            f"holds; use a pack at most {2.0 ** (time_bits - 1 - shift):.3g} times the paper's time scale "
            "(e.g. traces generate --latency-scale), or a wider counter")
    return out


@dataclass(frozen=True)
class HwConfig:
    """Parameters of the hardware scheduler that change what it computes.

    Parameters
    ----------
    fmt : str
        ``fp16``, ``bf16`` or ``fp32``.
    mode : str
        ``ieee`` or ``lean`` (subnormals flushed), see :mod:`dysta_sw.fp`.
    clock_hz : float
        Scheduler clock; trace seconds become cycles at this rate.
    time_shift : int or None
        log2 of the time quantum in cycles (default per format, see ``DEFAULT_TIME_SHIFT``).
    time_bits : int
        Width of the cycle counter and of time differences.
    depth : int
        Request table capacity (power of two, 8 to 512): sizes the ``1/n`` table.
    """

    fmt: str = "fp16"
    mode: str = "ieee"
    clock_hz: float = 200e6
    time_shift: int | None = None
    time_bits: int = 48
    depth: int = 64

    def __post_init__(self):
        fp.get_format(self.fmt)
        fp.check_mode(self.mode)
        if not (self.clock_hz > 0 and np.isfinite(self.clock_hz)):
            raise DystaInputError(f"clock_hz must be a positive frequency, not {self.clock_hz!r}")
        if self.depth < 8 or self.depth > 512 or self.depth & (self.depth - 1):
            raise DystaInputError(f"depth must be a power of two from 8 to 512, not {self.depth!r}")
        if not 16 <= self.time_bits <= 63:
            raise DystaInputError(f"time_bits must be from 16 to 63, not {self.time_bits!r}")
        if self.time_shift is not None and not 0 <= self.time_shift < self.time_bits:
            raise DystaInputError(f"time_shift must be from 0 to time_bits - 1, not {self.time_shift!r}")

    @property
    def shift(self) -> int:
        return DEFAULT_TIME_SHIFT[fp.get_format(self.fmt).name] if self.time_shift is None else self.time_shift

    def for_capacity(self, capacity: float) -> HwConfig:
        """This configuration for a trace pack ``capacity`` times faster than the paper's scale
        (:meth:`dysta_sw.trace.TracePack.capacity`): a default time quantum shrinks by the nearest
        power of two, so times keep the magnitudes the format was sized for; an explicit
        ``time_shift`` is kept."""
        if self.time_shift is not None:
            return self
        return replace(self, time_shift=scaled_shift(self.shift, capacity, self.time_bits))

    @property
    def quantum_s(self) -> float:
        """Seconds per time quantum."""
        return (1 << self.shift) / self.clock_hz

    def cycles(self, seconds) -> np.ndarray:
        """Seconds to integer cycles (round to nearest)."""
        return np.rint(np.asarray(seconds, dtype=np.float64) * self.clock_hz).astype(np.int64)


@dataclass(eq=False)
class HwLuts:
    """The look-up tables the host programs, as bit patterns (flat, indexed like ScenarioTables)."""

    cfg: HwConfig
    R: np.ndarray  #: per (mp, layer) at ``lut_base``, L + 1 entries per model-pattern
    inv_rhobar: np.ndarray
    inv_shape: np.ndarray  #: ``2**count_shift / shape``
    count_shift: np.ndarray  #: integer, per (mp, layer)
    inv_tiso: np.ndarray  #: per model-pattern
    inv_q: np.ndarray  #: index n = 1..depth (entry 0 unused, +0)
    eta: int

    @classmethod
    def build(cls, tables: ScenarioTables, cfg: HwConfig, eta: float) -> HwLuts:
        f, m = cfg.fmt, cfg.mode
        q = cfg.quantum_s
        shape = tables.shape.astype(np.float64)
        count_shift = np.maximum(0, np.ceil(np.log2(tables.shape + 1)).astype(np.int64) - 15)
        rhobar = np.maximum(tables.rhobar, 1.0 / shape)
        inv_q = np.zeros(cfg.depth + 1)
        inv_q[1:] = 1.0 / np.arange(1, cfg.depth + 1)
        return cls(cfg=cfg, R=fp.from_float(tables.rbar / q, f, m),
                   inv_rhobar=fp.from_float(1.0 / rhobar, f, m),
                   inv_shape=fp.from_float(np.exp2(count_shift) / shape, f, m), count_shift=count_shift,
                   inv_tiso=fp.from_float(1.0 / (tables.tiso_est * tables.capacity), f, m),
                   inv_q=fp.from_float(inv_q, f, m),
                   eta=int(fp.from_float(np.float64(eta), f, m)))

    def gamma(self, nnz, lut_index) -> np.ndarray:
        """Mode A: gamma from the monitor's non-zero count of the layer at ``lut_index``."""
        f, m = self.cfg.fmt, self.cfg.mode
        count = np.asarray(nnz, np.int64) >> self.count_shift[lut_index]
        g = fp.mul(fp.from_int(count, COUNT_BITS, False, f, m), self.inv_shape[lut_index], f, m)
        return fp.mul(g, self.inv_rhobar[lut_index], f, m)

    def score(self, gamma, lut_index, mp, deadline, last, now, n_queued) -> np.ndarray:
        """Mode B: the dynamic score; ``deadline``, ``last``, ``now`` integer cycles (broadcast)."""
        cfg = self.cfg
        f, m, s, w = cfg.fmt, cfg.mode, cfg.shift, cfg.time_bits
        trem = fp.mul(gamma, self.R[lut_index], f, m)
        d, wt = time_operands(deadline, last, now, s, w)
        dl = fp.from_int(d, DIFF_BITS, True, f, m)
        slack = fp.clamp0(fp.sub(dl, trem, f, m), f, m)
        wait = fp.from_int(wt, DIFF_BITS, False, f, m)
        pen = fp.mul(fp.mul(wait, self.inv_tiso[mp], f, m), self.inv_q[n_queued], f, m)
        return fp.add(trem, fp.mul(np.asarray(self.eta, trem.dtype), fp.add(slack, pen, f, m), f, m), f, m)

    # The engine evaluates scores at every decision of every run, where the bit-level golden
    # functions would dominate. For FP16 and FP32 in ieee mode numpy's native float16/float32
    # arithmetic is correctly rounded (round to nearest even, with subnormals), and an int64
    # below 2**53 converts with one rounding, so the same operation order on native floats gives
    # the same bits once NaNs are made canonical. tests/test_hwmodel.py checks the two agree.

    def native(self):
        """The numpy float type computing this format and mode bit-exactly, or ``None``."""
        return _NATIVE.get(fp.get_format(self.cfg.fmt).name) if self.cfg.mode == "ieee" else None

    def _bits(self, x) -> np.ndarray:
        fmt = fp.get_format(self.cfg.fmt)
        return np.where(np.isnan(x), fmt.nan, x.view(fmt.dtype)).astype(fmt.dtype)

    def gamma_fast(self, nnz, lut_index) -> np.ndarray:
        """:meth:`gamma` on native floats where exact (see :meth:`native`), else :meth:`gamma`."""
        dt = self.native()
        if dt is None:
            return self.gamma(nnz, lut_index)
        count = (np.asarray(nnz, np.int64) >> self.count_shift[lut_index]).astype(dt)
        with np.errstate(over="ignore", invalid="ignore"):
            g = (count * self.inv_shape.view(dt)[lut_index]) * self.inv_rhobar.view(dt)[lut_index]
        return self._bits(g)

    def score_fast(self, gamma, lut_index, mp, deadline, last, now, n_queued) -> np.ndarray:
        """:meth:`score` on native floats where exact (see :meth:`native`), else :meth:`score`."""
        dt = self.native()
        if dt is None:
            return self.score(gamma, lut_index, mp, deadline, last, now, n_queued)
        cfg = self.cfg
        s, w = cfg.shift, cfg.time_bits
        fmt = fp.get_format(cfg.fmt)
        with np.errstate(over="ignore", invalid="ignore"):
            trem = np.asarray(gamma, fmt.dtype).view(dt) * self.R.view(dt)[lut_index]
            d, wt = time_operands(deadline, last, now, s, w)
            dl = d.astype(dt)
            x = dl - trem
            slack = np.where(x <= 0, dt(0), x)  # max(x, +0): -0 gives +0, NaN stays NaN
            wait = wt.astype(dt)
            pen = (wait * self.inv_tiso.view(dt)[mp]) * self.inv_q.view(dt)[n_queued]
            score = trem + np.asarray(self.eta, fmt.dtype).view(dt) * (slack + pen)
        return self._bits(score)

    def static_score(self, lat_s, deadline_s, arrival_s, beta: float) -> np.ndarray:
        """The host's ``Score0 = Lat + beta (D - a - Lat)`` in quanta, rounded to the format."""
        q = self.cfg.quantum_s
        lat = np.asarray(lat_s) / q
        with np.errstate(invalid="ignore"):
            s0 = lat + beta * ((np.asarray(deadline_s) - np.asarray(arrival_s)) / q - lat)
        return fp.from_float(np.where(np.isfinite(s0), s0, np.inf), self.cfg.fmt, self.cfg.mode)

    def order_key(self, x) -> np.ndarray:
        """A float64 whose order is the hardware comparator's (``lt_total``), for the engine's argmin."""
        return fp._key(x, fp.get_format(self.cfg.fmt), self.cfg.mode).astype(np.float64)


def _fit(v: np.ndarray, width: int, signed: bool) -> np.ndarray:
    """Saturate to the ``width``-bit integer range, as the hardware's difference registers do."""
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    return np.clip(v, lo, hi)


def wrap(v, width: int, signed: bool):
    """``v`` modulo ``2**width``, read as a ``width``-bit two's complement number if ``signed``:
    what a ``width``-bit subtraction of two wrapped counter values gives."""
    v = np.asarray(v, np.int64) & ((1 << width) - 1)
    if signed:
        v = v - ((v >> (width - 1)) << width)
    return v


def time_operands(deadline, last, now, shift: int, time_bits: int):
    """The integer operands of mode B, in quanta, as the gateware forms them from its
    ``time_bits``-wide counter: ``sat((D - now) mod 2**time_bits, signed) >> shift`` and
    ``sat((now - last) mod 2**time_bits) >> shift``, each saturated to ``DIFF_BITS`` bits.
    ``deadline``, ``last`` and ``now`` may be absolute (unwrapped) or wrapped cycles alike."""
    d = wrap(np.asarray(deadline, np.int64) - np.asarray(now, np.int64), time_bits, True) >> shift
    w = wrap(np.asarray(now, np.int64) - np.asarray(last, np.int64), time_bits, False) >> shift
    return _fit(d, DIFF_BITS, True), _fit(w, DIFF_BITS, False)


class _HwPredictor(Predictor):
    """Mode A of the compute unit: gamma from the monitor's count (the last-one predictor)."""

    def __init__(self, policy: DystaHW):
        super().__init__("last-one", 1, 1.0)
        self.policy = policy

    def setup(self, st) -> None:
        super().setup(st)
        st.add("gamma_bits", np.full(st.req["next"].shape, self.policy.one, np.int64))

    def update(self, st, rows, c, ratio):
        luts = self.policy.luts
        layer = st.next[rows, c]
        idx = st.lut_base[rows, c] + layer
        shape = st.tables.shape[idx]
        # The monitor counts non-zeros of the layer's output: density x output size.
        nnz = np.rint(st.tables.rho[st.sample_base[rows, c] + layer] * shape).astype(np.int64)
        bits = luts.gamma_fast(nnz, idx)
        st.gamma_bits[rows, c] = bits
        return fp.to_float(bits, self.policy.cfg.fmt)


class DystaHW(Dysta):
    """Dysta computed with the hardware's arithmetic (:class:`HwLuts`): format, quanta, cycles.

    Runs in the engine like any policy, so ``dysta bench`` compares FP16/BF16/FP32 hardware
    arithmetic with the float64 ``dysta`` on the same workloads. The hardware always uses the
    last-one predictor and the paper's static score at wake-ups.
    """

    def __init__(self, options: Options | None = None, *, cfg: HwConfig | None = None):
        super().__init__(options, mode="full")
        self.cfg = self._cfg = cfg or HwConfig()
        self.name = f"dysta-hw-{fp.get_format(self.cfg.fmt).name}"
        self.one = int(fp.from_float(np.float64(1.0), self.cfg.fmt, self.cfg.mode))
        self.luts: HwLuts | None = None

    def predictor(self, profile):
        self._pred = _HwPredictor(self)
        return self._pred

    def setup(self, st):
        self.cfg = self._cfg.for_capacity(st.tables.capacity)
        self.luts = HwLuts.build(st.tables, self.cfg, self.options.eta)
        st.track(["rbar"])
        req = st.req
        st.add("score0_bits", self.luts.static_score(req["tiso_est"], req["deadline"], req["arrival"],
                                                     self.options.beta).astype(np.int64))
        st.add("deadline_cyc", self.cfg.cycles(np.where(np.isfinite(req["deadline"]), req["deadline"], 0.0)))

    def score(self, st, sl, valid, wake):
        luts, cfg = self.luts, self.cfg
        now = cfg.cycles(st.t)[:, None]
        last = cfg.cycles(st.last[:, sl])
        idx = st.lut_base[:, sl] + st.next[:, sl]
        n = np.minimum(st.q, cfg.depth)[:, None]
        s = luts.score_fast(st.gamma_bits[:, sl].astype(luts.R.dtype), idx, st.mp[:, sl], st.deadline_cyc[:, sl],
                       last, now, n)
        key = luts.order_key(s)
        if wake.any():
            key = np.where(wake[:, None], luts.order_key(st.score0_bits[:, sl].astype(luts.R.dtype)), key)
        return key


# ----------------------------------------------------------------------------- registration
# ``dysta-hw-<fmt>`` are registered under the ``dysta.policies`` entry points (pyproject.toml).

#: The schedulers of this module: Dysta in each format of the hardware.
HW_POLICY_NAMES = ("dysta-hw-fp16", "dysta-hw-bf16", "dysta-hw-fp32")


def fp16_policy(options: Options | None = None) -> DystaHW:
    """``dysta-hw-fp16``: Dysta in the hardware's FP16 arithmetic."""
    return DystaHW(options, cfg=HwConfig(fmt="fp16"))


def bf16_policy(options: Options | None = None) -> DystaHW:
    """``dysta-hw-bf16``: Dysta in the hardware's BF16 arithmetic."""
    return DystaHW(options, cfg=HwConfig(fmt="bf16"))


def fp32_policy(options: Options | None = None) -> DystaHW:
    """``dysta-hw-fp32``: Dysta in the hardware's FP32 arithmetic."""
    return DystaHW(options, cfg=HwConfig(fmt="fp32"))
