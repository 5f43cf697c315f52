"""An output directory that one run holds at a time and that never shows a half-finished run.

:class:`RunDirectory` is what ``dysta reproduce --out DIR`` writes through:

- **A lock**: ``DIR/.dysta.lock`` holds the pid and host of the run that owns the directory. A
  second run into a directory whose lock belongs to a live process refuses, naming the lock and
  ``--force``; a lock left by a process that no longer runs (on this host) is taken over.
- **No stale outputs**: the outputs of the previous run (listed in ``DIR/.dysta-outputs.json``,
  its ``report.md`` first) are removed when the run starts, so an interrupted run never leaves an
  old ``report.md`` beside new CSVs and figures.
- **Written aside, then moved in**: the run writes into ``DIR/.dysta-run-<pid>/`` and
  :meth:`RunDirectory.commit` moves its files into ``DIR``, the report last, so ``report.md``
  appears only beside the files of its own run. An interrupted run leaves no partial file in
  ``DIR``: its staging directory is removed.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import time
from pathlib import Path

from .errors import DystaInputError

__all__ = ["RunDirectory", "LOCK", "MANIFEST"]

LOCK = ".dysta.lock"
MANIFEST = ".dysta-outputs.json"
STAGE_PREFIX = ".dysta-run-"
#: What a report directory of a dysta before the manifest held (removed with its report.md).
LEGACY_OUTPUTS = ("runs.csv", "means.csv", "means.json")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True



def finite_or_null(v):
    """``v`` with every infinite or NaN float (in its dicts, lists and tuples) replaced by ``None``."""
    if isinstance(v, dict):
        return {k: finite_or_null(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [finite_or_null(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def json_text(obj, **kw) -> str:
    """``obj`` as strict JSON (RFC 8259 has no Infinity or NaN: an unbounded one-seed confidence
    interval is ``null``)."""
    return json.dumps(finite_or_null(obj), allow_nan=False, **kw)


class RunDirectory:
    """``out`` held by this run (see the module documentation); a context manager.

    Parameters
    ----------
    out : path
        The output directory (created with its parents).
    force : bool
        Take the directory even when its lock names a live run.
    last : str
        The file :meth:`commit` moves in last (the report).
    option : str
        The command-line option that named ``out``, for error messages.

    Attributes
    ----------
    stage : Path
        Where the run writes its files until :meth:`commit`.
    """

    def __init__(self, out, *, force: bool = False, last: str = "report.md", option: str = "--out"):
        self.out = Path(out)
        self.force, self.last, self.option = force, last, option
        self.lock = self.out / LOCK
        self.stage = self.out / f"{STAGE_PREFIX}{os.getpid()}"
        self._owned = False

    # ------------------------------------------------------------------ lock

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.lock.read_text())
        except (OSError, ValueError):
            return None

    def _acquire(self) -> None:
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        for _ in range(3):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is None:
                    # being written by a run that started this instant, or garbage: give it a moment
                    time.sleep(0.2)
                    holder = self._holder()
                live = (holder is not None and isinstance(holder.get("pid"), int)
                        and (holder.get("host") != me["host"] or _alive(holder["pid"])))
                if live and holder.get("pid") != me["pid"] and not self.force:
                    where = "" if holder.get("host") == me["host"] else f" on {holder.get('host')}"
                    raise DystaInputError(
                        f"{self.option} {self.out}: another run (pid {holder['pid']}{where}) is writing there, holding "
                        f"its lock {self.lock}; wait for it to finish, choose another directory, or pass --force "
                        "if that run is gone") from None
                self.lock.unlink(missing_ok=True)  # a dead run's lock, or --force
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self._owned = True
            return
        raise DystaInputError(f"{self.option} {self.out}: could not take the lock {self.lock}; another run keeps "
                              "taking it, retry when it has finished")

    def _release(self) -> None:
        if self._owned:
            holder = self._holder()
            if holder is None or holder.get("pid") == os.getpid():
                self.lock.unlink(missing_ok=True)
            self._owned = False

    # ------------------------------------------------------------------ outputs

    def _remove_previous(self) -> None:
        """Remove the previous run's outputs: its report first, then what its manifest lists, and
        the staging directories of runs that are gone."""
        manifest = self.out / MANIFEST
        try:
            listed = json.loads(manifest.read_text())
        except (OSError, ValueError):
            listed = None
        report = self.out / self.last
        if not isinstance(listed, list):
            listed = list(LEGACY_OUTPUTS) if report.exists() else []
        report.unlink(missing_ok=True)
        for name in listed:
            p = self.out / str(name)
            if p.parent != self.out:  # a manifest names files of this directory only
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        manifest.unlink(missing_ok=True)
        for stage in self.out.glob(f"{STAGE_PREFIX}*"):
            pid = stage.name[len(STAGE_PREFIX):]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(stage, ignore_errors=True)

    def __enter__(self) -> RunDirectory:
        self.out.mkdir(parents=True, exist_ok=True)
        self._acquire()
        try:
            self._remove_previous()
            shutil.rmtree(self.stage, ignore_errors=True)
            self.stage.mkdir()
        except BaseException:
            self._release()
            raise
        return self

    def commit(self) -> Path:
        """Move the staged files into the directory, :attr:`last` at the end; return its path."""
        names = sorted(p.name for p in self.stage.iterdir())
        tmp = self.out / f".{MANIFEST}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(names))
        os.replace(tmp, self.out / MANIFEST)
        for name in [n for n in names if n != self.last] + [n for n in names if n == self.last]:
            dst = self.out / name
            if dst.is_dir() and not dst.is_symlink():
                shutil.rmtree(dst)
            os.replace(self.stage / name, dst)
        return self.out / self.last

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.stage, ignore_errors=True)
        self._release()
