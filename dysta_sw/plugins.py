"""Plug-ins: what other packages add to ``dysta`` through entry points (as Glasgow's applets).

The software core imports none of its plug-ins; it finds them in the installed packages'
metadata, by entry-point group:

``dysta.commands``
    The entry point's name is a command of ``dysta``; its object is a callable
    ``add(subparsers)`` that adds that command's parser (with ``set_defaults(func=...)``). It
    must import nothing heavy: the command imports its extra's packages when it runs, and says
    which extra to install when they are missing.
``dysta.report_sections``
    The object is a :class:`dysta_sw.report.sections.Section`: a title, an order and a
    ``render(context) -> str`` that returns the section's Markdown for ``dysta reproduce``.
``dysta.policies``
    The entry point's name is a scheduler name; its object is a callable ``factory(options)``
    returning a :class:`dysta_sw.policies.Policy`.

This distribution registers its own packages the same way in ``pyproject.toml``
(``[project.entry-points."dysta.commands"]`` ...); a change there takes effect after
``pip install -e .`` runs again.
"""

from __future__ import annotations

import functools
from importlib import metadata

__all__ = ["COMMANDS", "REPORT_SECTIONS", "POLICIES", "PluginError", "entry_points", "load"]

COMMANDS = "dysta.commands"
REPORT_SECTIONS = "dysta.report_sections"
POLICIES = "dysta.policies"


class PluginError(RuntimeError):
    """A registered plug-in could not be imported."""


@functools.cache
def entry_points(group: str) -> tuple[metadata.EntryPoint, ...]:
    """The entry points of ``group`` in the order the packages declare them, one per name (a
    package installed twice, e.g. an editable and a regular copy, lists its entry points twice)."""
    seen: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=group):
        seen.setdefault(ep.name, ep)
    return tuple(seen.values())


def load(ep: metadata.EntryPoint):
    """The object ``ep`` names, or :class:`PluginError` saying which plug-in failed and why."""
    try:
        return ep.load()
    except (ImportError, AttributeError) as e:
        raise PluginError(f"the plug-in {ep.name!r} of {ep.group} ({ep.value}) could not be loaded: {e}; "
                          "reinstall the package that provides it (pip install -e .)") from e
