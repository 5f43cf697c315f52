"""The ``reference`` profile against a model of the published artifact's simulator, decision for
decision (tests/artifact_model.py says what the model is and where it comes from).

Both engines, every scheduler the artifact has, on random small workloads (simultaneous
arrivals, equal scores, deadlines already missed, queues that empty mid-layer so the clock
rewinds) and on Table 5 workloads of the shipped pack: every dispatch (request, layer, start,
end) must be the same.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import artifact_model as art
import helpers as h
from dysta_sw import workload as wl
from dysta_sw.compiled import engine as compiled
from dysta_sw.engine import simulate
from dysta_sw.policies import Options, make_policy
from dysta_sw.tables import ScenarioTables
from dysta_sw.trace import resolve_pack


@st.composite
def cases(draw):
    """1-3 model-patterns of 1-4 layers (two may share a model, so per-model and pattern-aware
    tables differ), 1-3 samples each with dyadic latencies and positive densities, 1-25 requests."""
    n_mp = draw(st.integers(1, 3))
    model_layers = [draw(st.integers(1, 4)) for _ in range(2)]
    mps = []
    for k in range(n_mp):
        model = draw(st.integers(0, 1))
        n_layers, n_samples = model_layers[model], draw(st.integers(1, 3))
        lat = [[draw(st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0])) for _ in range(n_layers)] for _ in range(n_samples)]
        rho = [[draw(st.sampled_from([0.1, 0.25, 0.5, 0.75, 1.0])) for _ in range(n_layers)] for _ in range(n_samples)]
        mps.append(h.model_pattern(f"m{model}/p{k}/0.5", lat, rho))
    tab = h.tables(*mps, capacity=draw(st.sampled_from([1.0, 8.0])))
    n = draw(st.integers(1, 25))
    gaps = [draw(st.sampled_from([0.0, 0.125, 0.25, 0.5, 1.0, 3.0])) for _ in range(n)]
    mp = np.array([draw(st.integers(0, n_mp - 1)) for _ in range(n)])
    sample = np.array([draw(st.integers(0, tab.n_samples[m] - 1)) for m in mp])
    priority = np.array([draw(st.sampled_from([1, 3, 9])) for _ in range(n)])
    w = h.workload(tab, np.cumsum(gaps), mp, sample, priority)
    slo = draw(st.sampled_from([0.5, 1.0, 2.0, 10.0]))
    options = Options(beta=draw(st.sampled_from([0.01, 0.5, 1.0])), alpha=draw(st.sampled_from([1.0, 0.5])))
    return tab, w, w.deadlines(slo), options


def assert_same_decisions(tab, w, d, name, options):
    want = art.simulate(tab, w, d, name, options)
    for engine in (simulate, compiled.simulate):
        got = engine(tab, [w], [d], make_policy(name, options), "reference", record=True)[0]
        np.testing.assert_array_equal(got.log[:, :2], want[:, :2], err_msg=f"{name}: request, layer")
        np.testing.assert_array_equal(got.log, want, err_msg=f"{name}: start, end")


@pytest.mark.parametrize("name", art.ARTIFACT_SCHEDULERS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=cases())
def test_same_decisions_as_the_artifact_on_random_workloads(name, case):
    tab, w, d, options = case
    assert_same_decisions(tab, w, d, name, options)


@pytest.mark.parametrize("scenario, rate", [("attnn", 40.0), ("cnn", 3.0)])
def test_same_decisions_as_the_artifact_on_the_shipped_pack(scenario, rate):
    """Table 5 workloads of the default pack at one of the paper's rates (queues several deep,
    idle spells, deadlines missed at SLO 10)."""
    pack = resolve_pack(None)
    tab = ScenarioTables.build(pack, scenario, all_samples=True)  # the reference profile's tables
    w = wl.generate(tab, pack.paper_rate(scenario, rate), 150 if scenario == "attnn" else 100, 1, pack)
    d = w.deadlines(10.0)
    rewinds = 0
    for name in art.ARTIFACT_SCHEDULERS:
        assert_same_decisions(tab, w, d, name, Options())
        log = art.simulate(tab, w, d, name, Options())
        rewinds += int((log[1:, 2] < log[:-1, 3]).sum())
    if scenario == "attnn":  # short layers: requests arrive during a busy period's last layer
        assert rewinds > 0  # the clock did go back


def test_the_model_differs_from_the_paper_profile():
    """The comparison can fail: on the same random workload family the paper profile's decisions
    differ from the model's for some scheduler."""
    pack = resolve_pack(None)
    tab = ScenarioTables.build(pack, "attnn")
    w = wl.generate(tab, pack.paper_rate("attnn", 40.0), 150, 1, pack)
    d = w.deadlines(10.0)
    differ = []
    for name in art.ARTIFACT_SCHEDULERS:
        want = art.simulate(tab, w, d, name, Options())
        got = compiled.simulate(tab, [w], [d], make_policy(name), "paper", record=True)[0]
        differ.append(not np.array_equal(got.log, want))
    assert sum(differ) >= len(differ) // 2
