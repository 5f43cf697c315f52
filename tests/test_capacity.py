"""A pack's capacity: the paper's rates and Dysta's penalty follow the accelerator's time scale."""

from dataclasses import replace

import numpy as np
import pytest

from dysta_sw.engine import simulate
from dysta_sw.hwmodel import HwConfig
from dysta_sw.policies import POLICY_NAMES, make_policy
from dysta_sw.report import QUICK
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
