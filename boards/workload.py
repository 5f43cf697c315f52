"""The workload a board replays: drawn from a trace pack like ``dysta hil`` (:func:`dysta_hw.hil.prepare`).

The build bakes the jobs' layers (cycles, output density) into the NPU stand-in's ROM; the host
client programs the same LUTs and submits the same requests, so both sides must call
:func:`board_workload` with the same arguments (the defaults are those of the shipped builds).
"""

from __future__ import annotations

from dysta_sw.trace import resolve_pack

__all__ = ["board_workload", "DEFAULTS", "small_workload", "SMALL_PARAMS"]

#: The shipped builds' workload: 16 Multi-AttNN requests at Table 5's rate for the default pack
#: (``rate`` None: :meth:`dysta_sw.trace.TracePack.paper_rate`), 8 monitor lanes, 2 beats per layer,
#: a mean layer of 400 cycles.
DEFAULTS = {"scenario": "attnn", "rate": None, "requests": 16, "seed": 0, "lanes": 8, "beats": 2,
            "cycles_per_layer": 400.0, "traces": None}


def board_workload(*, depth: int = 64, fmt: str = "fp16", shared: bool = True, sched: dict | None = None, **kw):
    """The :class:`dysta_hw.hil.Workload` of a board build (``kw`` overrides :data:`DEFAULTS`;
    ``sched`` holds further ``DystaScheduler`` parameters, e.g. ``mode``, ``time_bits``)."""
    from dysta_hw.hil import prepare

    unknown = set(kw) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown workload options {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    a = {**DEFAULTS, **kw}
    pack = resolve_pack(a["traces"])
    rate = pack.paper_rate(a["scenario"]) if a["rate"] is None else a["rate"]
    return prepare(pack, a["scenario"], rate=rate, requests=a["requests"], seed=a["seed"],
                   depth=depth, fmt=fmt, shared=shared, lanes=a["lanes"], beats=a["beats"],
                   cycles_per_layer=a["cycles_per_layer"], **(sched or {}))


def small_workload(rng, n: int = 10, *, long_first: int = 2500):
    """A hand-made workload small enough for Amaranth's simulator: LUTs of two model-patterns of
    2 and 3 layers (``dysta_sw.hwsched.SchedLuts``, FP16, no time shift) and ``n`` requests
    (``dysta_hw.sched.sim.Job``) of random model-pattern and deadline. The first request's
    layers take ``long_first`` cycles each, so the others fill the table while it runs. The
    scheduler parameters that go with it are :data:`SMALL_PARAMS`."""
    import numpy as np

    from dysta_hw.sched.sim import Job, Layer
    from dysta_sw import fp
    from dysta_sw.hwmodel import HwConfig
    from dysta_sw.hwsched import SchedLuts

    cfg = HwConfig(fmt="fp16", mode="ieee", clock_hz=1e5, time_shift=0, time_bits=48, depth=8)
    luts = SchedLuts.empty(cfg, 2, 3)
    for m, nl in enumerate((2, 3)):
        luts.layers[m] = nl
        rem = np.append(np.cumsum(rng.uniform(5, 40, nl)[::-1])[::-1], 0.0)
        luts.R[m, :nl + 1] = fp.from_float(rem, "fp16")
        luts.inv_rhobar[m, :nl + 1] = fp.from_float(rng.uniform(1, 4, nl + 1), "fp16")
        luts.inv_shape[m, :nl + 1] = fp.from_float(np.full(nl + 1, 1 / 8), "fp16")
        luts.inv_tiso[m] = fp.from_float(rng.uniform(0.01, 0.1), "fp16")
    luts.eta = int(fp.from_float(0.5, "fp16"))
    jobs = []
    for i in range(n):
        mp = int(rng.integers(0, 2))
        layers = tuple(Layer(long_first if i == 0 else int(rng.integers(30, 150)), (int(rng.integers(0, 5)),) * 2)
                       for _ in range(int(luts.layers[mp])))
        jobs.append(Job(0, i, mp, int(rng.integers(50, 2000)), layers))
    return luts, jobs


#: The scheduler parameters of :func:`small_workload` (a table of 8).
SMALL_PARAMS = {"depth": 8, "fmt": "fp16", "shared": True, "lanes": 4, "n_mp": 2, "max_layers": 3, "time_shift": 0}
