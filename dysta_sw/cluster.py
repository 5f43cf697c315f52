"""Independent units of work on local processes or on a Dask cluster, with one progress bar.

:func:`map_units` runs ``fn(unit, *shared)`` for every unit and returns the results in unit
order, whatever order they finish in, so a caller's output does not depend on where or how the
units ran. Units run

- in this process (``jobs=1``), or in a pool of ``jobs`` local processes (default: every core);
  ``shared`` reaches each process once, through the pool's initializer;
- on a Dask cluster when an address is given (``cluster=``, the ``--cluster`` option of the
  commands, or the ``DYSTA_CLUSTER`` environment variable), e.g. ``tcp://host:8786``. ``shared``
  objects (a trace pack) are scattered to every worker once (broadcast), and tasks refer to them;
  a worker that dies mid-run loses nothing: the scheduler runs its tasks again elsewhere.

Dask is optional (the ``cluster`` extra): without an address nothing imports it. Every worker
needs this package installed, at the same version, with the extras its units use.

A command that runs several sweeps opens one connection for all of them with :func:`session`;
its scattered objects are reused across calls.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import signal
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed

from .errors import DystaInputError

ENV = "DYSTA_CLUSTER"
_ADDRESS = re.compile(r"^(tcp|tls|ucx|inproc|ws|wss)://\S+$")


def resolve(address: str | None) -> str | None:
    """The cluster address to use: ``address``, else ``$DYSTA_CLUSTER``, else ``None`` (local)."""
    address = address or os.environ.get(ENV) or None
    if address is not None and not _ADDRESS.match(address):
        raise DystaInputError(
            f"cluster address {address!r} (from {'--cluster' if address != os.environ.get(ENV) else ENV}) "
            "is not a Dask scheduler address; give one like tcp://host:8786")
    return address


class _Session:
    """One connection to a Dask scheduler, and the objects already scattered to its workers."""

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError:
            raise DystaInputError(
                f"running on the cluster {address} needs Dask: pip install 'dysta[cluster]'") from None
        try:
            self.client = Client(address, timeout="20s", set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise DystaInputError(
                f"cannot reach the Dask scheduler at {address} ({e}); start one with 'dask scheduler' and "
                f"workers with 'dask worker {address}', or run locally without --cluster / {ENV}") from None
        self.address = address
        self._scattered: dict = {}

    def workers(self) -> int:
        """Worker threads of the cluster (at least 1)."""
        return max(1, sum(self.client.nthreads().values()))

    def scatter(self, key, obj):
        """``obj`` on every worker, once per session (``key`` names it, e.g. a pack fingerprint)."""
        if key not in self._scattered:
            self._scattered[key] = self.client.scatter(obj, broadcast=True, hash=False)
        return self._scattered[key]

    def close(self):
        self.client.close()


_local = threading.local()


@contextlib.contextmanager
def session(address: str | None):
    """Run the :func:`map_units` calls inside on the cluster at ``address`` (resolved by
    :func:`resolve`; local when ``None``), over one connection."""
    address = resolve(address)
    if address is None:
        yield None
        return
    s = _Session(address)
    saved = getattr(_local, "session", None)
    _local.session = s
    try:
        yield s
    finally:
        _local.session = saved
        s.close()


def current() -> _Session | None:
    """The session opened by :func:`session`, if any."""
    return getattr(_local, "session", None)


def parallelism(jobs: int | None = None) -> int:
    """How many units can run at once: the open session's worker threads, or ``jobs`` local processes."""
    s = current()
    if s is not None:
        return s.workers()
    return jobs or os.cpu_count() or 1


def _packed_call(fn, unit, *shared) -> bytes:
    """``fn(unit, *shared)`` pickled: one opaque buffer for Dask to keep, measure and send, instead of
    nested rows it would walk (``sizeof``) and serialise object by object."""
    return pickle.dumps(fn(unit, *shared), protocol=pickle.HIGHEST_PROTOCOL)


# ----------------------------------------------------------------------------- local processes

_SHARED: tuple = ()


def _init_shared(shared):
    global _SHARED
    _SHARED = shared


def _init_worker(shared):
    """A local worker: Ctrl-C is the parent's to handle (it stops the workers), so a worker never
    prints a traceback of its own; SIGINT stayed blocked from the fork until here."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _init_shared(shared)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop ``pool`` now: drop the queued units and end the running workers (on Ctrl-C or an error)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    # taken before the shutdown, which forgets it when it does not wait
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=5)
    # Let the pool's management thread see its workers gone and close its wake-up pipe before the
    # interpreter exits: Python 3.11's exit hook writes to that pipe unlocked, and a close racing
    # with it prints "OSError: Bad file descriptor" after the command has ended.
    if manager is not None:
        manager.join(timeout=5)


class Background:
    """``fn(*args)`` in one separate local process, started now (forked where the platform forks,
    so ``args`` are inherited rather than sent), with SIGINT left to this process as for
    :func:`map_units`' workers; :meth:`result` waits for the value (or raises the error),
    :meth:`stop` ends the process."""

    def __init__(self, fn, *args):
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self._pool = ProcessPoolExecutor(max_workers=1, initializer=_init_worker, initargs=(args,))
            self._future = self._pool.submit(_call_shared_all, fn)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def result(self):
        try:
            value = self._future.result()
        except BaseException:
            self.stop()
            raise
        self._pool.shutdown()
        return value

    def stop(self) -> None:
        _stop(self._pool)


def _call_shared_all(fn):
    return fn(*_SHARED)


def _call_shared(fn, unit):
    return fn(unit, *_SHARED)


def _bar(total, desc, unit, progress):
    from tqdm import tqdm
    return tqdm(total=total, unit=unit, desc=desc, disable=(None if progress is None else not progress),
                leave=False)


def map_units(fn, units, *, shared: dict | None = None, jobs: int | None = None, cluster: str | None = None,
              progress: bool | None = None, desc: str = "", unit: str = "unit", weight=None,
              warm=None) -> list:
    """``[fn(u, *shared.values()) for u in units]``, run locally or on a cluster (see the module docs).

    ``shared`` maps a key (naming the content, e.g. a trace pack's fingerprint) to an object
    every call receives, sent once per process or worker. ``weight(u)`` is what a unit adds to
    the progress bar (default 1). ``warm`` is called once in this process before local worker
    processes start (e.g. to compile kernels they then inherit). ``fn`` must be importable by
    name on the workers (a module-level function).
    """
    units = list(units)
    weight = weight or (lambda u: 1)
    shared = shared or {}
    results: list = [None] * len(units)
    s = current()
    address = resolve(cluster)
    if address is not None and (s is None or s.address != address):
        with session(address):
            return map_units(fn, units, shared=shared, jobs=jobs, cluster=address, progress=progress, desc=desc,
                             unit=unit, weight=weight, warm=warm)
    with _bar(sum(weight(u) for u in units), desc, unit, progress) as bar:
        if s is not None:
            from distributed import as_completed as dask_completed
            refs = [s.scatter(k, v) for k, v in shared.items()]
            futures = [s.client.submit(_packed_call, fn, u, *refs, pure=False) for u in units]
            index = {f.key: i for i, f in enumerate(futures)}
            try:
                # results arrive with their futures, fetched in the background as tasks finish
                for fut, res in dask_completed(futures, with_results=True, loop=s.client.loop):
                    i = index[fut.key]
                    results[i] = pickle.loads(res)
                    bar.update(weight(units[i]))
            finally:
                for f in futures:
                    f.release()
            return results
        jobs = jobs or os.cpu_count() or 1
        if warm is not None:
            warm()
        values = tuple(shared.values())
        if jobs == 1 or len(units) <= 1:
            for i, u in enumerate(units):
                results[i] = fn(u, *values)
                bar.update(weight(u))
            return results
        # The workers fork with SIGINT blocked and then ignore it (_init_worker): Ctrl-C reaches the
        # terminal's whole process group, and only this process may act on it.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        pool = None
        try:
            try:
                pool = ProcessPoolExecutor(max_workers=min(jobs, len(units)), initializer=_init_worker,
                                           initargs=(values,))
                futures = {pool.submit(_call_shared, fn, u): i for i, u in enumerate(units)}
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            for fut in as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                bar.update(weight(units[i]))
        except BaseException:
            if pool is not None:
                _stop(pool)
            raise
        pool.shutdown()
    return results
