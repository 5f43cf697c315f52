"""Profiling of sparse DNNs with PyTorch: the source of the measured trace packs.

The pipeline (paper Sections 3.1-3.3, Fig. 7): build a model (:mod:`profiling.cnn`,
:mod:`profiling.transformer`), sparsify its weights (:mod:`profiling.pruning`) or its attention
(Sanger-style thresholding, :mod:`profiling.transformer`), run real inputs
(:mod:`profiling.inputs`) with forward hooks that turn every layer's masks into latency on an
accelerator performance model (:mod:`profiling.eyeriss`, :mod:`profiling.sanger`,
:mod:`profiling.profiler`), and write the result as a ``dysta-trace-pack v1``
(:mod:`profiling.pack`). ``dysta profile`` is a plug-in command of :mod:`profiling.cli`.

This package is the only place in the project that imports torch; it is an optional extra
(``pip install dysta[profiling]``). See ``docs/profiling.md``.
"""

from __future__ import annotations

import re

TORCH_PIN = "torch==2.13.0"


def require_torch():
    """Import and return torch, or fail with an error that says how to install it."""
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "profiling needs PyTorch, which is not installed: install the profiling extra with "
            f"`pip install -e .[profiling]` (it pins {TORCH_PIN}, the CPU build)") from e
    return torch


_NM = re.compile(r"^nm(\d+):(\d+)$")


def parse_nm(pattern: str) -> tuple[int, int] | None:
    """``(N, M)`` of an ``nmN:M`` pattern name, else ``None`` (here, without torch, so that the
    command line can read it before the profiler loads)."""
    m = _NM.match(pattern)
    if not m:
        return None
    n, mm = int(m.group(1)), int(m.group(2))
    if not 0 < n < mm:
        raise ValueError(f"N:M pattern {pattern!r} needs 0 < N < M")
    return n, mm
