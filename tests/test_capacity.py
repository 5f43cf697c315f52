"""A pack's capacity: the paper's rates and Dysta's penalty follow the accelerator's time scale."""

from dataclasses import replace

import numpy as np
import pytest

from dysta_sw.engine import simulate
from dysta_sw.hwmodel import HwConfig
from dysta_sw.policies import POLICY_NAMES, make_policy
from dysta_sw.report.grid import QUICK, ScenarioGrid, capacity_note
from dysta_sw.tables import ScenarioTables
from dysta_sw.trace import TracePack, resolve_pack
from dysta_sw.workload import generate
from helpers import model_pattern, pack


def test_synthetic_pack_is_at_the_papers_scale():
    p = resolve_pack("synthetic-v1")
    for scen, rates in (("attnn", (30.0, 40.0)), ("cnn", (3.0, 4.0))):
        assert p.capacity(scen) == 1.0
        assert [p.paper_rate(scen, r) for r in rates] == list(rates)
    assert p.paper_rate("attnn") == 30.0 and p.paper_rate("cnn") == 3.0


def test_capacity_of_a_hand_built_pack():
    # isolated latencies 2 ms and 4 ms (mean 3 ms) and 6 ms: a request takes 4.5 ms on average
    a = model_pattern("m/a/0", [[1e-3, 1e-3], [2e-3, 2e-3]])
    b = model_pattern("m/b/0", [[3e-3, 3e-3]])
    p = pack(a, b, scenario="attnn")
    assert p.mean_tiso("attnn") == pytest.approx(4.5e-3)
    assert p.capacity("attnn") == 6.0  # 27 ms / 4.5 ms
    assert p.paper_rate("attnn") == 180.0 and p.paper_rate("attnn", 40.0) == 240.0
    q = pack(a, b, scenario="cnn")
    assert q.capacity("cnn") == 58.9  # 265 ms / 4.5 ms, 3 significant digits
    assert q.paper_rate("cnn") == 177.0
    # no paper scale: capacity 1 and Table 5's offered load 0.8
    r = pack(a, b, scenario="other")
    assert r.capacity("other") == 1.0 and r.paper_rate("other") == 178.0  # 0.8 / 4.5 ms


def test_capacity_note_says_faster_or_slower():
    # 4.5 ms per AttNN request: 27 / 4.5 = 6 times faster than the paper's scale
    a = model_pattern("m/a/0", [[1e-3, 1e-3], [2e-3, 2e-3]])
    b = model_pattern("m/b/0", [[3e-3, 3e-3]])
    fast = capacity_note(pack(a, b, scenario="attnn"), "attnn")
    assert "6x faster than the paper's scale" in fast and "multiplied by 6 " in fast
    # 50 ms per AttNN request: capacity 0.54, i.e. 50 / 27 = 1.85 times slower, never "0.54x faster"
    c = model_pattern("m/c/0", [[25e-3, 25e-3]])
    slow = capacity_note(pack(c, scenario="attnn"), "attnn")
    assert "1.85x slower than the paper's scale" in slow and "multiplied by 0.54 " in slow
    assert "faster" not in slow
    # the synthetic pack is at the paper's scale
    assert "the paper's scale (offered load" in capacity_note(resolve_pack("synthetic-v1"), "cnn")


def test_grid_on_a_pack_multiplies_every_rate_by_its_capacity():
    # isolated latencies 2 ms and 4 ms (mean 3 ms) and 6 ms: mean 4.5 ms, capacity 27 / 4.5 = 6
    a = model_pattern("m/a/0", [[1e-3, 1e-3], [2e-3, 2e-3]])
    b = model_pattern("m/b/0", [[3e-3, 3e-3]])
    g = ScenarioGrid("attnn", "Multi-AttNN", 30.0, 40.0, (10.0, 25.0), (10.0, 50.0)).on(pack(a, b))
    assert (g.main_rate, g.high_rate, g.rates) == (180.0, 240.0, (60.0, 150.0))
    assert g.slos == (10.0, 50.0) and g.main_slo == 10.0  # SLO multipliers do not scale
    # every point once: the rate sweep at SLO 10, and both SLOs at the two main rates
    assert g.points() == ((60.0, 10.0), (150.0, 10.0), (180.0, 10.0), (180.0, 50.0), (240.0, 10.0),
                          (240.0, 50.0))


def test_report_grid_on_measured_v1():
    """On measured-v1 (capacities 12.5 AttNN and 7.34 CNN, README) the quick grid runs at 375 and
    500 AttNN and 22 and 29.4 CNN requests/s, the paper's offered loads of 0.8 and 1.07."""
    p = resolve_pack("measured-v1")
    attnn, cnn = (g.on(p) for g in QUICK)
    assert (attnn.main_rate, attnn.high_rate, attnn.rates) == (375.0, 500.0, (125.0, 250.0, 375.0, 500.0))
    assert (cnn.main_rate, cnn.high_rate, cnn.rates) == (22.0, 29.4, (14.7, 22.0, 29.4, 44.0))
    # offered load = rate x mean isolated latency, the same as the paper's at its scale
    assert attnn.main_rate * p.mean_tiso("attnn") == pytest.approx(30 * 0.027, rel=1e-2)
    assert cnn.main_rate * p.mean_tiso("cnn") == pytest.approx(3 * 0.265, rel=1e-2)


def test_report_grid_on_measured_v2():
    """On measured-v2 (capacities 9.72 AttNN and 0.959 CNN, README) the quick grid runs at 292 and
    389 AttNN and 2.88 and 3.84 CNN requests/s: a CNN capacity below 1 lowers the rates."""
    p = resolve_pack("measured-v2")
    attnn, cnn = (g.on(p) for g in QUICK)
    assert (attnn.main_rate, attnn.high_rate, attnn.rates) == (292.0, 389.0, (97.2, 194.0, 292.0, 389.0))
    assert (cnn.main_rate, cnn.high_rate, cnn.rates) == (2.88, 3.84, (1.92, 2.88, 3.84, 5.75))


@pytest.mark.parametrize("name", ["measured-v2", "measured-v1"])
def test_report_grid_runs_at_the_papers_offered_load(name):
    p = resolve_pack(name)
    for g in QUICK:
        s = g.on(p)
        cap = p.capacity(g.scenario)
        # the pack's requests against the paper's scale (27 ms AttNN, 265 ms CNN), to 3 digits
        assert cap == pytest.approx({"attnn": 0.027, "cnn": 0.265}[g.scenario] / p.mean_tiso(g.scenario), rel=5e-3)
        assert s.main_rate == pytest.approx(g.main_rate * cap, rel=5e-3)
        assert s.rates == tuple(p.paper_rate(g.scenario, r) for r in g.rates)
        # offered load = rate x mean isolated latency, the same as the paper's at its scale
        assert s.main_rate * p.mean_tiso(g.scenario) == pytest.approx(
            g.main_rate * {"attnn": 0.027, "cnn": 0.265}[g.scenario], rel=1e-2)


def _scaled(p: TracePack, k: float) -> TracePack:
    """The same pack on an accelerator ``1/k`` times as fast: every latency times ``k``."""
    return replace(p, name=f"{p.name}-x{k:g}",
                   model_patterns={n: replace(mp, lat=mp.lat * k) for n, mp in p.model_patterns.items()})


@pytest.mark.parametrize("scenario", ["attnn", "cnn"])
def test_schedules_do_not_depend_on_the_time_scale(scenario):
    """Latencies 8x shorter at 8x the rate: every scheduler, Dysta included, makes the same decisions."""
    base = resolve_pack("synthetic-v1")
    fast = _scaled(base, 1 / 8)
    assert fast.capacity(scenario) == 8.0
    tb, tf = ScenarioTables.build(base, scenario), ScenarioTables.build(fast, scenario)
    wb = [generate(tb, base.paper_rate(scenario, 40.0), 200, s, base) for s in range(2)]
    wf = [generate(tf, fast.paper_rate(scenario, 40.0), 200, s, fast) for s in range(2)]
    for name in POLICY_NAMES:
        rb = simulate(tb, wb, [w.deadlines(10.0) for w in wb], make_policy(name), record=True)
        rf = simulate(tf, wf, [w.deadlines(10.0) for w in wf], make_policy(name), record=True)
        for x, y in zip(rb, rf):
            assert np.array_equal(x.log[:, :2], y.log[:, :2]), name
            assert np.allclose(x.finish / 8, y.finish, rtol=1e-9), name


def test_dysta_hw_time_quantum_follows_the_capacity():
    assert HwConfig(fmt="fp16").for_capacity(1.0).shift == HwConfig(fmt="fp16").shift
    assert HwConfig(fmt="fp16").for_capacity(12.5).shift == HwConfig(fmt="fp16").shift - 4
    assert HwConfig(fmt="fp16", time_shift=7).for_capacity(12.5).shift == 7  # explicit wins
