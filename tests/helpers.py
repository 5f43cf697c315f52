"""Hand-built trace packs and workloads for tests: every number is chosen by the test."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from dysta_sw.tables import ScenarioTables
from dysta_sw.trace import ModelPattern, TracePack
from dysta_sw.workload import Workload


def model_pattern(name: str, lat, rho=None, shape=None, calib=None) -> ModelPattern:
    """A model-pattern from explicit ``lat[sample][layer]`` (seconds) and densities.

    By default every sample is in the calibration split, so the look-up tables are plain means
    over the samples given.
    """
    lat = np.asarray(lat, dtype=float)
    rho = np.full(lat.shape, 0.5) if rho is None else np.asarray(rho, dtype=float)
    shape = np.full(lat.shape[1], 100, np.int64) if shape is None else np.asarray(shape, np.int64)
    calib = np.ones(lat.shape[0], bool) if calib is None else np.asarray(calib, bool)
    return ModelPattern(name=name, lat=lat, rho=rho, shape=shape, calib=calib)


def pack(*mps: ModelPattern, scenario: str = "attnn", name: str = "test-pack") -> TracePack:
    return TracePack(name=name, meta={"synthetic": True, "description": "hand-built test pack"},
                     model_patterns={m.name: m for m in mps}, scenarios={scenario: [m.name for m in mps]})


def tables(*mps: ModelPattern, scenario: str = "attnn", capacity: float = 1.0) -> ScenarioTables:
    """Tables of a hand-built pack. Its latencies are in whole seconds, far from the paper's scale;
    the hand-worked expectations count Dysta's penalty at capacity 1 unless ``capacity`` is given."""
    return replace(ScenarioTables.build(pack(*mps, scenario=scenario), scenario), capacity=capacity)


def workload(tab: ScenarioTables, arrival, mp, sample=None, priority=None, tbar=None) -> Workload:
    """A request table; ``mp`` are model-pattern indices; ``tbar`` defaults to the tables' value."""
    arrival = np.asarray(arrival, float)
    n = len(arrival)
    mp = np.asarray(mp, np.int64)
    sample = np.zeros(n, np.int64) if sample is None else np.asarray(sample, np.int64)
    priority = np.ones(n, np.int64) if priority is None else np.asarray(priority, np.int64)
    tbar = tab.tbar_model[mp] if tbar is None else np.asarray(tbar, float)
    return Workload(arrival=arrival, mp=mp, sample=sample, priority=priority, tbar=tbar)
