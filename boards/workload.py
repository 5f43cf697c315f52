"""The workload a board replays: drawn from a trace pack like ``dysta hil`` (:func:`dysta_hw.hil.prepare`).

The build bakes the jobs' layers (cycles, output density) into the NPU stand-in's ROM; the host
client programs the same LUTs and submits the same requests, so both sides must call
:func:`board_workload` with the same arguments (the defaults are those of the shipped builds).
"""

from __future__ import annotations

from dysta_sw.trace import resolve_pack

__all__ = ["board_workload", "DEFAULTS"]

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
