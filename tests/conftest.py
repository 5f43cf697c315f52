"""Shared fixtures: the external tools (each skips its tests with the reason when the tool is
missing, and fails them under ``CI=true``; see ``helpers.missing``)."""

import sys
from pathlib import Path

import pytest

# Make tests/helpers.py importable as ``helpers``.
sys.path.insert(0, str(Path(__file__).parent))

import helpers  # noqa: E402

#: The heavy tiers: their tests are left out of the README's test command (``-m "not heavy"``).
HEAVY = ("slow", "hw", "synth", "formal", "profiling", "boards", "sparseml")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark every test of a heavy tier ``heavy`` (before ``-m`` selects). The tiers partition the
    heavy tests, so each runs in one session: a test has at most one tier, and ``smoke`` tests
    (which .ci/run adds to the README's command) belong to one."""
    for item in items:
        tiers = [m for m in HEAVY if item.get_closest_marker(m)]
        if len(tiers) > 1:
            raise pytest.UsageError(f"{item.nodeid} is in more than one test tier: {', '.join(tiers)}")
        if item.get_closest_marker("smoke") and not tiers:
            raise pytest.UsageError(f"{item.nodeid} is marked smoke but is in no heavy tier")
        if tiers:
            item.add_marker(pytest.mark.heavy)


@pytest.fixture(scope="session")
def verilator():
    """Verilator and the C++ toolchain it compiles with; the path of ``verilator``."""
    return helpers.require_tool("verilator", "c++", "make")["verilator"]


@pytest.fixture(scope="session")
def yosys():
    """The YoWASP Yosys of the synth extra."""
    return helpers.require_tool("yosys")["yosys"]


@pytest.fixture(scope="session")
def nextpnr(yosys):
    """Yosys, nextpnr-ecp5 and nextpnr-ice40 (place and route)."""
    return helpers.require_tool("nextpnr-ecp5", "nextpnr-ice40")


@pytest.fixture(scope="session")
def formal_tools(yosys):
    """SymbiYosys and Boolector of the formal extra."""
    return helpers.require_tool("sby", "boolector")


@pytest.fixture(scope="session")
def ecp5_flow(nextpnr):
    """Everything an ECP5 bitstream needs: Yosys, nextpnr-ecp5 and ecppack."""
    return helpers.require_tool("ecppack")
