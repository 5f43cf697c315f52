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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import plugins
from ..trace import TracePack
from .grid import Config

__all__ = ["Section", "Context", "registered", "render"]


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


def render(ctx: Context, names=None) -> list[str]:
    """The Markdown of every registered section (only those in ``names`` unless it is ``None``)."""
    md = []
    for name, sec in registered():
        if names is not None and name not in names:
            continue
        if isinstance(sec, Exception):
            md.append(f"## {name}\n\nNot run: {sec}\n")
        else:
            md.append(sec.render(ctx))
    return md
