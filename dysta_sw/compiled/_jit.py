"""The project's ``numba.njit``: numpy's float semantics, no GIL, machine code cached on disk.

Where the cache lives (the first writable directory of):

1. ``$NUMBA_CACHE_DIR/dysta`` when ``NUMBA_CACHE_DIR`` is set;
2. ``$DYSTA_CACHE_DIR/numba``, by default ``~/.cache/dysta/numba`` (where ``dysta synth`` caches too);
3. ``<temporary directory>/dysta-numba-<uid>``.

The package directory itself is never written, so a read-only installation (site-packages owned
by root, a container image) caches like any other. If no directory is writable, the kernels are
compiled in every process (a few seconds) and nothing is written. Each cache sits in a
subdirectory named after a hash of the sources (this package's, :mod:`dysta_sw.formulas` and the
golden model :mod:`dysta_sw.fp`): numba checks only the source file of the function it caches,
not the files of the functions it calls (the formulas, the FP operations), so the hash makes any
change to any of them start a fresh cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

import numba

from ..errors import DystaInputError
from ..tools import cache_dir as cache_root

_HERE = Path(__file__).parent


#: What compiled code is built from: this package, and the modules its kernels compile or read
#: constants from (the policy formulas, the golden floating-point model).
_SOURCES = (*sorted(_HERE.glob("*.py")), _HERE.parent / "formulas.py", _HERE.parent / "fp.py")


def source_stamp() -> str:
    """Hash of every source file compiled code is built from (16 hex digits)."""
    h = hashlib.sha256()
    for f in _SOURCES:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    h.update(numba.__version__.encode())
    return h.hexdigest()[:16]


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


def _candidates():
    if os.environ.get("NUMBA_CACHE_DIR"):
        yield Path(os.environ["NUMBA_CACHE_DIR"]) / "dysta"
    with contextlib.suppress(DystaInputError):  # a DYSTA_CACHE_DIR that is a file: the next candidate
        yield cache_root("numba")
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    yield Path(tempfile.gettempdir()) / f"dysta-numba-{uid}"


def _find_cache_dir() -> Path | None:
    stamp = source_stamp()
    for base in _candidates():
        with contextlib.suppress(RuntimeError):  # Path.home() without a home directory
            if _writable(base / stamp):
                return base / stamp
    return None


_CACHE_DIR = _find_cache_dir()


def cache_dir() -> Path | None:
    """The directory compiled kernels are cached in (``None``: not cached, see the module docs)."""
    return _CACHE_DIR


@contextlib.contextmanager
def compile_lock(name: str):
    """Held while this process compiles (or loads) kernel ``name``: an exclusive lock on a file
    beside the disk cache, so that a process wanting a kernel another one is compiling waits
    for it and then loads it from the cache, instead of compiling it a second time (the report's
    background processes, a sweep's workers, parallel tests). No cache: no lock."""
    try:
        import fcntl
    except ImportError:  # not POSIX: each process compiles for itself
        fcntl = None
    folder = cache_dir()
    if folder is None or fcntl is None:
        yield
        return
    with open(folder / f".{name}.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def jit(fn=None, **options):
    """``numba.njit`` with ``cache`` (see the module docs), ``nogil`` and numpy's error model
    (a float division by zero gives inf or NaN, as in numpy, instead of raising)."""
    if fn is None:
        return lambda f: jit(f, **options)
    options = {"cache": _CACHE_DIR is not None, "nogil": True, "error_model": "numpy", **options}
    if not options["cache"]:
        return numba.njit(**options)(fn)
    # numba picks a function's cache directory when it is decorated: point it at ours for that
    # moment only, leaving numba's configuration for other code as it was.
    saved = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(_CACHE_DIR)
    try:
        return numba.njit(**options)(fn)
    finally:
        numba.config.CACHE_DIR = saved


# The formulas' one conditional, compiled on scalars: a branch, not numpy's 0-d array.
from numba.core import types  # noqa: E402
from numba.extending import overload  # noqa: E402

from .. import formulas  # noqa: E402


@overload(formulas.where)
def _where(cond, a, b):
    if isinstance(cond, types.Boolean):
        def impl(cond, a, b):
            return a if cond else b
        return impl
    return None
