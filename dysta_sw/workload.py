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
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DystaInputError
from .tables import ScenarioTables
from .trace import TracePack, parse_column, read_header, read_rows, text_lines, write_atomic

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


#: Most requests in one workload: each costs about 200 bytes in the engine (a few arrays of its
#: state and results), so this bound keeps a workload under ~2 GB of memory.
MAX_REQUESTS = 10_000_000
#: How fine float64 time must stay over a workload: at its last arrival, the spacing of float64
#: numbers must be at most this fraction of the scenario's shortest layer, or adding a layer's
#: latency to the time would round it (at rate 1e-12/s, 1000 requests span 1e15 s, where float64
#: steps by 0.125 s, and a 3 ms request seemed to finish before it started: ANTT 0.02).
TIME_RESOLUTION = 1e-6


def check_requests(n_requests, option: str = "--requests") -> None:
    """Reject request counts that are not a positive integer or more than :data:`MAX_REQUESTS`."""
    check_positive(option, n_requests, integer=True)
    if n_requests > MAX_REQUESTS:
        raise DystaInputError(f"{option} {n_requests:,} is more than {MAX_REQUESTS:,} requests per workload "
                              f"(about 200 bytes each in memory); run several seeds of fewer requests")


def check_time_resolution(horizon_s: float, tables: ScenarioTables, what: str, fix: str) -> None:
    """Refuse a workload whose times reach ``horizon_s`` seconds, where float64 cannot resolve the
    shortest layer of ``tables`` (see :data:`TIME_RESOLUTION`)."""
    shortest = float(np.min(tables.lat))
    limit = TIME_RESOLUTION * shortest / np.finfo(np.float64).eps
    if not horizon_s <= limit:
        raise DystaInputError(
            f"{what} reach {horizon_s:.3g} s, where float64 time steps by {horizon_s * np.finfo(float).eps:.2g} s, "
            f"too coarse for the scenario's shortest layer ({shortest:.3g} s): every latency would be rounded; "
            f"{fix}")


def min_rate(tables: ScenarioTables, n_requests: int) -> float:
    """The lowest arrival rate at which ``n_requests`` requests stay within float64's resolution
    (their expected span at most half the limit: a margin for the Poisson arrivals' spread)."""
    shortest = float(np.min(tables.lat))
    return 2.0 * n_requests / (TIME_RESOLUTION * shortest / np.finfo(np.float64).eps)


def check_rate(tables: ScenarioTables, rate: float, n_requests: int) -> None:
    """Reject a rate that is not positive and finite, or so low that ``n_requests`` Poisson arrivals
    would span a time float64 cannot resolve (:func:`check_time_resolution`)."""
    check_positive("--rate", rate, fix="give the mean arrival rate in requests per second")
    lowest = min_rate(tables, n_requests)
    if rate < lowest:
        raise DystaInputError(
            f"rate {rate:g} requests/s: {n_requests:,} requests would arrive over about {n_requests / rate:.3g} s, "
            f"where float64 time cannot resolve the scenario's shortest layer ({float(np.min(tables.lat)):.3g} s) "
            f"and results would be wrong; give a rate >= {lowest:.2g} requests/s (--rate, or a larger --load: at "
            "such rates the requests barely queue)")


def generate(tables: ScenarioTables, rate: float, n_requests: int, seed: int, pack: TracePack | None = None
             ) -> Workload:
    """Draw a workload of ``n_requests`` requests at ``rate`` requests/s (see module docs)."""
    check_requests(n_requests)
    check_rate(tables, rate, n_requests)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DystaInputError(f"--seed must be an integer >= 0, not {seed!r}")
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
    """Export a workload in the ``dysta-workload v1`` format (written to a temporary name and renamed)."""
    buf = io.StringIO()
    buf.write(f"{MAGIC} v{VERSION}\n# meta: {json.dumps(workload.meta, sort_keys=True)}\n")
    buf.write(",".join(COLUMNS) + "\n")
    for i, (a, m, s, p, tb) in enumerate(zip(workload.arrival.tolist(), workload.mp.tolist(),
                                             workload.sample.tolist(), workload.priority.tolist(),
                                             workload.tbar.tolist())):
        buf.write(f"{i},{a!r},{tables.names[m]},{s},{p},{tb!r}\n")
    write_atomic(path, buf.getvalue().encode())


def load(path: str | Path, tables: ScenarioTables, pack: TracePack | None = None) -> Workload:
    """Import and validate a workload file against the scenario it will run on."""
    path = Path(path)
    if not path.is_file():
        raise DystaInputError(f"workload file {str(path)!r} does not exist")
    with text_lines(path) as lines:
        return _load(path, lines, tables, pack)


#: Types of the metadata a workload file may carry (others are kept as they are).
META_TYPES = {"scenario": (str,), "rate": (int, float), "seed": (int,), "requests": (int,), "pack": (str,),
              "pack_fingerprint": (str,)}


def check_meta(meta: dict, path) -> None:
    """Reject metadata of the wrong JSON type or value, naming the key and the fix."""
    for key, types in META_TYPES.items():
        if key not in meta:
            continue
        v = meta[key]
        if isinstance(v, bool) or not isinstance(v, types):
            kind = "a number" if float in types else {"str": "a string", "int": "an integer"}[types[0].__name__]
            raise DystaInputError(f"{path}, line 2: metadata \"{key}\" must be {kind}, not {json.dumps(v)[:40]}; "
                                  "fix the '# meta:' line or export the workload again")
    if "rate" in meta and not (0 < meta["rate"] <= sys.float_info.max):  # a huge JSON integer too
        raise DystaInputError(f"{path}, line 2: metadata \"rate\" must be a positive number of requests/s, "
                              f"not {str(meta['rate'])[:40]}")
    if "seed" in meta and meta["seed"] < 0:
        raise DystaInputError(f"{path}, line 2: metadata \"seed\" must be >= 0, not {meta['seed']}")


def _load(path: Path, lines, tables: ScenarioTables, pack: TracePack | None) -> Workload:
    meta = read_header(lines, path, MAGIC, VERSION)
    check_meta(meta, path)
    if pack is not None and meta.get("pack_fingerprint") not in (None, pack.fingerprint):
        raise DystaInputError(
            f"{path}: the workload was made from trace pack {meta.get('pack')!r} "
            f"(fingerprint {meta.get('pack_fingerprint')}), but pack {pack.name!r} has fingerprint "
            f"{pack.fingerprint}; replay it with the same pack (--traces)")
    rows = read_rows(lines, path, COLUMNS)
    if len(rows) > MAX_REQUESTS:
        raise DystaInputError(f"{path}: {len(rows):,} requests, more than {MAX_REQUESTS:,}; split the workload")
    lineno = np.array([r[0] for r in rows])
    request = parse_column(rows, path, 0, "request", int)
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
    order = np.argsort(request, kind="stable")
    dup = np.zeros(len(rows), bool)
    dup[order[1:]] = request[order[1:]] == request[order[:-1]]
    fail(dup, "request id listed twice; give every request its own id")
    fail(~np.isfinite(tbar) | (tbar <= 0), "tbar_model_s must be a positive number of seconds")
    if pack is not None and meta.get("pack_fingerprint") == pack.fingerprint:
        # made from this pack: every deadline's tbar is its model's mean isolated latency in the pack (written
        # exactly); another value was edited or cut short, and would move every deadline of that request
        want = tables.tbar_model[mp]
        bad = np.flatnonzero(~np.isclose(tbar, want, rtol=1e-9, atol=0.0))
        if bad.size:
            k = bad[0]
            raise DystaInputError(
                f"{path}, line {lineno[k]}: tbar_model_s {float(tbar[k])!r} is not the mean isolated latency of the "
                f"model of {tables.names[mp[k]]} in the pack the workload was made from ({float(want[k])!r} s); the "
                "file was edited or cut: export it again")
    if "requests" in meta and meta["requests"] != len(rows):
        raise DystaInputError(f"{path}, line 2: the metadata says {meta['requests']} requests but the file has "
                              f"{len(rows)} rows; the file was cut or edited: export it again")
    if "scenario" in meta and meta["scenario"] != tables.scenario:
        raise DystaInputError(f"{path}, line 2: the workload is of scenario {meta['scenario']!r}, not "
                              f"{tables.scenario!r}")
    check_time_resolution(float(arrival[-1]), tables, f"{path}: its arrival times",
                          "shift the arrivals to start near 0 s or use a higher rate")
    meta.setdefault("scenario", tables.scenario)
    meta["file"] = str(path)
    return Workload(arrival=arrival, mp=mp, sample=sample, priority=priority, tbar=tbar, meta=meta)
