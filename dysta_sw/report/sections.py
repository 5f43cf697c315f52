"""Report sections contributed by plug-ins (entry-point group ``dysta.report_sections``).

A package adds a section to ``dysta reproduce``'s report by declaring, in its ``pyproject.toml``::

    [project.entry-points."dysta.report_sections"]
    my-section = "my_package.report:MY_SECTION"

where ``MY_SECTION = Section(title="...", order=500, render=render)`` and ``render(context)``
returns the section's Markdown (a ``## `` heading first). It may write figures into
``context.out`` and run more of the grid through ``context.jobs``. Sections come after the
paper's tables and figures, by ``order`` then name; the shipped ones are this package's
``paper-claims`` (60; it reads ``context.results``), the gateware's
``hw-arithmetic`` (100), ``hil`` (200) and ``synth`` (300), and this package's ``trace-stats``
(400). A section whose extra is not installed says so ("Not run: ...") rather than fail.

A section declared ``independent=True`` reads only ``cfg``, ``pack``, ``out`` and ``note`` (not the
grid's results, not ``jobs``): :func:`start` renders each of those in a separate local process
while this one runs the grid (the gateware simulations and Yosys runs of ``hil`` and ``synth``
overlap the scheduling and each other), and :func:`render` takes their Markdown from them. The report is the same file
either way; with ``--jobs 1`` everything runs in this process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .. import plugins
from ..trace import TracePack
from .grid import Config

__all__ = ["Section", "Context", "registered", "render", "start", "timings"]

#: ``{name: (wall s, CPU s, "background" or "")}`` of every section the last :func:`render` ran,
#: measured in the process that rendered it (``dysta bench --speed`` prints them).
timings: dict[str, tuple[float, float, str]] = {}


@dataclass(frozen=True)
class Context:
    """What a section may use: the run's configuration, its trace pack, the output directory,
    the process count and progress setting of the grid, the note that marks synthetic traces
    in titles (``" [SYNTHETIC traces]"`` or ``""``) and the grid's results."""

    cfg: Config
    pack: TracePack
    out: Path
    jobs: int | None = None
    progress: bool | None = None
    note: str = ""
    #: the grid's :class:`dysta_sw.sweep.SweepResult` (per-seed rows), when the report ran one
    results: object | None = None


@dataclass(frozen=True)
class Section:
    """One section of the report: ``render(context) -> Markdown``."""

    title: str
    order: int
    render: Callable[[Context], str]
    #: reads only ``cfg``, ``pack``, ``out`` and ``note``: may render in a separate process (see above)
    independent: bool = False
    #: may read ``cfg.grids`` (the calibrated load); an independent section that does not (False)
    #: starts before the calibration, beside the engine's compilation
    calibrated: bool = True
    #: runs ``dysta-hw-*`` schedules (the compiled engine's hardware kernel): the report then
    #: compiles that kernel in a process of its own from the start, beside the other's compilation
    hw_kernel: bool = False


def registered() -> list[tuple[str, Section | Exception]]:
    """``(name, section)`` of every installed section in report order; a section that could not
    be loaded is ``(name, error)``."""
    found = []
    for ep in plugins.entry_points(plugins.REPORT_SECTIONS):
        try:
            sec = plugins.load(ep)
        except plugins.PluginError as e:
            found.append((ep.name, 10**9, e))
            continue
        if not isinstance(sec, Section):
            found.append((ep.name, 10**9, TypeError(f"{ep.value} is a {type(sec).__name__}, not a Section")))
            continue
        found.append((ep.name, sec.order, sec))
    return [(name, sec) for name, _, sec in sorted(found, key=lambda x: (x[1], x[0]))]


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _timed_render(name: str, sec: Section, ctx: Context) -> tuple[str, float, float]:
    t0, c0 = time.perf_counter(), _cpu()
    md = sec.render(ctx)
    return md, time.perf_counter() - t0, _cpu() - c0


def need_hw_kernel(names=None) -> bool:
    """Whether a section among ``names`` (every registered one when ``None``) declares ``hw_kernel``."""
    return any(not isinstance(s, Exception) and s.hw_kernel for _, s in _selected(names))


def kernels(cfg: Config) -> tuple[bool, ...]:
    """The compiled engine's kernels a report of ``cfg`` runs, as
    :func:`dysta_sw.compiled.engine.warm` names them (``False``: every policy but ``dysta-hw-*``;
    ``True``: ``dysta-hw-*``), for the grid's schedulers and the sections that declare ``hw_kernel``."""
    from ..compiled import engine as compiled_engine
    from ..policies import make_policy
    used = {compiled_engine.uses_hw_kernel(p) for p in (make_policy(n, cfg.options) for n in cfg.schedulers)
            if compiled_engine.supports(p)}
    if need_hw_kernel(cfg.sections):
        used.add(True)
    return tuple(sorted(used))


def _selected(names):
    return [(n, s) for n, s in registered() if names is None or n in names]


def _render_independent(names, ctx: Context) -> dict:
    """In the background process: ``{name: (markdown, wall, cpu)}`` of the independent sections."""
    return {n: _timed_render(n, s, ctx) for n, s in _selected(names)
            if not isinstance(s, Exception) and s.independent}


def start(ctx: Context, names=None, calibrated: bool | None = None):
    """Start rendering the independent sections (of ``names``, or all; with ``calibrated``, only
    those whose :attr:`Section.calibrated` is that), each in a separate local process, unless
    ``ctx.jobs`` is 1 (or the machine has one core) or there is none; returns the handle
    :func:`render` takes (a list of processes), or ``None``. ``ctx.results`` is not sent (they
    do not read it)."""
    from ..cluster import Background

    if (ctx.jobs or os.cpu_count() or 1) <= 1:
        return None
    alone = [n for n, s in _selected(names) if not isinstance(s, Exception) and s.independent
             and (calibrated is None or s.calibrated == calibrated)]
    if not alone:
        return None
    bare = replace(ctx, results=None)
    started = []
    try:
        for n in alone:
            started.append(Background(_render_independent, [n], bare))
    except BaseException:
        for b in started:
            b.stop()
        raise
    return started


def render(ctx: Context, names=None, background=None) -> list[str]:
    """The Markdown of every registered section (only those in ``names`` unless it is ``None``),
    in report order; the independent ones from ``background`` (:func:`start`) when given, taken
    after this process rendered the others."""
    timings.clear()
    texts = {}
    selected = _selected(names)
    try:
        for name, sec in selected:
            if isinstance(sec, Exception):
                texts[name] = f"## {name}\n\nNot run: {sec}\n"
            elif background is None or not sec.independent:
                text, wall, cpu = _timed_render(name, sec, ctx)
                texts[name], timings[name] = text, (wall, cpu, "")
        done = {}
        for b in background or ():
            done.update(b.result())
    except BaseException:
        for b in background or ():
            b.stop()
        raise
    for name, (text, wall, cpu) in done.items():
        texts[name], timings[name] = text, (wall, cpu, "background")
    return [texts[name] for name, _ in selected]
