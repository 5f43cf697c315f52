"""A stamp of everything the gateware is built from, for caches that must not elaborate a design
to know whether they hold its result.

The exact caches (:func:`dysta_hw.synth.synthesize`, :func:`dysta_hw.fp.verilator.build`) are keyed
by the design's RTLIL or Verilog text, which takes Amaranth seconds to produce for the scheduler.
:func:`design_stamp` hashes instead the sources a design is built from: every file of
``dysta_hw/sched`` and ``dysta_hw/fp`` (the gateware, the Verilator harness), ``dysta_hw/synth.py``
(the place-and-route harness) and this file, every ``dysta_sw`` module these import, directly or
through each other (the golden model's constants and formats: found by reading their import
statements, so a new import is covered), and the Amaranth version. Equal stamps and equal
constructor parameters give the same design, so a result filed under ``stamp + parameters``
(:func:`params_key`) is that design's. An edit to any of these sources changes the stamp: the exact
key is then computed once more and the result filed under the new stamp.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import threading
from pathlib import Path

__all__ = ["design_stamp", "params_key", "sources"]

_HW = Path(__file__).parent
#: One stamp computation at a time: threads (``dysta synth --goals``, sweeps) ask for it at once, and
#: CPython 3.11's ``ast.parse`` in several threads at once can fail ("AST constructor recursion
#: depth mismatch").
_LOCK = threading.Lock()


def _imported(path: Path, package_root: Path) -> set[Path]:
    """The files of ``dysta_sw`` that the module at ``path`` imports (any import statement)."""
    found = set()
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the module's own package
                base = path.parent
                for _ in range(node.level - 1):
                    base = base.parent
                parts = base.relative_to(package_root).parts + (tuple(node.module.split(".")) if node.module else ())
            else:
                parts = tuple(node.module.split("."))
            names = [".".join(parts)] + [".".join(parts + (a.name,)) for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] != "dysta_sw":
                continue
            # the module (a file or a package) and the packages it is in, whose __init__ runs first
            for n in range(1, len(parts) + 1):
                f = package_root.joinpath(*parts[:n])
                for cand in (f.with_suffix(".py"), f / "__init__.py"):
                    if cand.is_file():
                        found.add(cand)
    return found


def sources() -> list[Path]:
    """The files :func:`design_stamp` hashes."""
    root = _HW.parent
    files = {f for d in ("sched", "fp") for f in (_HW / d).rglob("*")
             if f.is_file() and f.suffix in (".py", ".cpp", ".h") and "__pycache__" not in f.parts}
    files |= {_HW / "synth.py", _HW / "stamp.py", root / "dysta_sw" / "__init__.py"}
    todo = [f for f in files if f.suffix == ".py"]
    while todo:
        for f in _imported(todo.pop(), root) - files:
            files.add(f)
            todo.append(f)
    return sorted(files)


def design_stamp() -> str:
    """Hash (24 hex digits) of :func:`sources` and of Amaranth's version."""
    with _LOCK:
        return _design_stamp()


@functools.cache
def _design_stamp() -> str:
    import amaranth

    h = hashlib.sha256(amaranth.__version__.encode())
    for f in sources():
        h.update(f.relative_to(_HW.parent).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:24]


def params_key(*parts) -> str:
    """Hash (24 hex digits) of :func:`design_stamp` and ``parts`` (JSON-able; other objects by ``repr``)."""
    text = json.dumps([design_stamp(), *parts], sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:24]
