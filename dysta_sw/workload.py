"""Workloads: request tables drawn from a scenario, exportable and replayable.

Generation (SPEC 4): Poisson arrivals at rate ``lambda`` (exponential gaps, the first request
arrives after one gap), model-pattern uniform over the scenario, priority uniform over
{1, 3, 9}, sample uniform over all samples of the chosen model-pattern. Common random numbers:
the gaps are drawn as unit exponentials and divided by the rate, so one seed gives the same
sequence of (model-pattern, priority, sample) at every rate, and one request table per
(seed, rate) is shared by every scheduler and SLO multiplier.

The deadline of request ``i`` is ``D_i = a_i + M * Tbar_model``, with ``Tbar_model`` the mean
true isolated latency of its model over all patterns and samples; the table stores
``Tbar_model`` per request so one file serves every multiplier ``M``.

File format ``dysta-workload v1``::

    # dysta-workload v1
    # meta: {"scenario": "attnn", "rate": 30.0, "seed": 0, "pack": ..., "pack_fingerprint": ...}
    request,arrival_s,model_pattern,sample,priority,tbar_model_s
    0,0.0321,bert/sanger/0.002,17,3,0.0147
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DystaInputError
from .tables import ScenarioTables
from .trace import TracePack, _open_text, parse_column, read_header, read_rows

MAGIC = "# dysta-workload"
VERSION = 1
COLUMNS = ("request", "arrival_s", "model_pattern", "sample", "priority", "tbar_model_s")
PRIORITIES = np.array([1, 3, 9])


@dataclass(eq=False)
class Workload:
    """A request table, sorted by arrival (ties keep request order).

    Attributes
    ----------
    arrival : ndarray of float
        Arrival times, seconds, non-decreasing.
    mp : ndarray of int
        Model-pattern index into the scenario's tables.
    sample : ndarray of int
        Input sample of the model-pattern's trace.
    priority : ndarray of int
        PREMA priority level.
    tbar : ndarray of float
        Mean isolated latency of the request's model; deadline = arrival + M * tbar.
    meta : dict
        Scenario, rate, seed, pack name and fingerprint.
    """

    arrival: np.ndarray
    mp: np.ndarray
    sample: np.ndarray
    priority: np.ndarray
    tbar: np.ndarray
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.arrival)

    def deadlines(self, slo: float) -> np.ndarray:
        """Deadlines for SLO multiplier ``slo``."""
        return self.arrival + slo * self.tbar


def check_positive(name: str, value: float, *, integer: bool = False, fix: str = "") -> None:
    """Reject impossible parameters with a message naming the option."""
    bad = value <= 0 or (integer and int(value) != value) or not np.isfinite(value)
    if bad:
        kind = "a positive integer" if integer else "a positive number"
        raise DystaInputError(f"{name} must be {kind}, not {value!r}{'; ' + fix if fix else ''}")


def generate(tables: ScenarioTables, rate: float, n_requests: int, seed: int, pack: TracePack | None = None
             ) -> Workload:
    """Draw a workload of ``n_requests`` requests at ``rate`` requests/s (see module docs)."""
    check_positive("--rate", rate, fix="give the mean arrival rate in requests per second")
    check_positive("--requests", n_requests, integer=True)
    rng = np.random.default_rng(seed)
    gaps = rng.standard_exponential(n_requests)
    mp = rng.integers(len(tables.names), size=n_requests)
    priority = PRIORITIES[rng.integers(3, size=n_requests)]
    sample = np.floor(rng.random(n_requests) * tables.n_samples[mp]).astype(np.int64)
    arrival = np.cumsum(gaps) / rate
    meta = {"scenario": tables.scenario, "rate": float(rate), "seed": int(seed), "requests": int(n_requests)}
    if pack is not None:
        meta.update(pack=pack.name, pack_fingerprint=pack.fingerprint)
    return Workload(arrival=arrival, mp=mp, sample=sample, priority=priority,
                    tbar=tables.tbar_model[mp], meta=meta)


def save(workload: Workload, tables: ScenarioTables, path: str | Path) -> None:
    """Export a workload in the ``dysta-workload v1`` format."""
    buf = io.StringIO()
    buf.write(f"{MAGIC} v{VERSION}\n# meta: {json.dumps(workload.meta, sort_keys=True)}\n")
    buf.write(",".join(COLUMNS) + "\n")
    for i, (a, m, s, p, tb) in enumerate(zip(workload.arrival.tolist(), workload.mp.tolist(),
                                             workload.sample.tolist(), workload.priority.tolist(),
                                             workload.tbar.tolist())):
        buf.write(f"{i},{a!r},{tables.names[m]},{s},{p},{tb!r}\n")
    Path(path).write_text(buf.getvalue())


def load(path: str | Path, tables: ScenarioTables, pack: TracePack | None = None) -> Workload:
    """Import and validate a workload file against the scenario it will run on."""
    path = Path(path)
    if not path.is_file():
        raise DystaInputError(f"workload file {str(path)!r} does not exist")
    lines = _open_text(path)
    meta = read_header(lines, path, MAGIC, VERSION)
    if pack is not None and meta.get("pack_fingerprint") not in (None, pack.fingerprint):
        raise DystaInputError(
            f"{path}: the workload was made from trace pack {meta.get('pack')!r} "
            f"(fingerprint {meta.get('pack_fingerprint')}), but pack {pack.name!r} has fingerprint "
            f"{pack.fingerprint}; replay it with the same pack (--traces)")
    rows = read_rows(lines, path, COLUMNS)
    lineno = np.array([r[0] for r in rows])
    arrival = parse_column(rows, path, 1, "arrival_s", float)
    sample = parse_column(rows, path, 3, "sample", int)
    priority = parse_column(rows, path, 4, "priority", int)
    tbar = parse_column(rows, path, 5, "tbar_model_s", float)
    index = {n: i for i, n in enumerate(tables.names)}
    mp = np.empty(len(rows), np.int64)
    for k, (line, row) in enumerate(rows):
        if row[2] not in index:
            raise DystaInputError(
                f"{path}, line {line}: model-pattern {row[2]!r} is not in scenario {tables.scenario!r} "
                f"of the trace pack; replay with the pack the workload was made from (--traces)")
        mp[k] = index[row[2]]

    def fail(mask, what):
        bad = np.flatnonzero(mask)
        if bad.size:
            raise DystaInputError(f"{path}, line {lineno[bad[0]]}: {what}")

    fail(~np.isfinite(arrival) | (arrival < 0), "arrival_s must be a finite time >= 0")
    fail(np.append(False, np.diff(arrival) < 0), "arrival_s must not decrease; sort the requests by arrival")
    fail((sample < 0) | (sample >= tables.n_samples[mp]), "sample is out of range for its model-pattern")
    fail(priority <= 0, "priority must be a positive integer")
    fail(~np.isfinite(tbar) | (tbar <= 0), "tbar_model_s must be a positive number of seconds")
    meta.setdefault("scenario", tables.scenario)
    meta["file"] = str(path)
    return Workload(arrival=arrival, mp=mp, sample=sample, priority=priority, tbar=tbar, meta=meta)
