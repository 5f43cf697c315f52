"""Engine invariants (property tests) and batch/single-run equivalence."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import helpers as h
from dysta_sw import metrics
from dysta_sw.engine import simulate
from dysta_sw.policies import POLICY_NAMES, make_policy


@st.composite
def scenarios(draw):
    """A small random pack (1-3 model-patterns) and a workload with possibly simultaneous arrivals."""
    n_mp = draw(st.integers(1, 3))
    mps = []
    for k in range(n_mp):
        n_layers = draw(st.integers(1, 4))
        n_samples = draw(st.integers(1, 3))
        lat = draw(st.lists(st.lists(st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0]), min_size=n_layers,
                                     max_size=n_layers), min_size=n_samples, max_size=n_samples))
        rho = draw(st.lists(st.lists(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]), min_size=n_layers,
                                     max_size=n_layers), min_size=n_samples, max_size=n_samples))
        mps.append(h.model_pattern(f"m{k}/p/0.5", lat, rho))
    tab = h.tables(*mps)
    n = draw(st.integers(1, 12))
    gaps = draw(st.lists(st.sampled_from([0.0, 0.0, 0.25, 0.5, 1.0, 3.0, 10.0]), min_size=n, max_size=n))
    arrival = np.cumsum(gaps)
    mp = np.array(draw(st.lists(st.integers(0, n_mp - 1), min_size=n, max_size=n)))
    sample = np.array([draw(st.integers(0, tab.n_samples[m] - 1)) for m in mp])
    priority = np.array(draw(st.lists(st.sampled_from([1, 3, 9]), min_size=n, max_size=n)))
    slo = draw(st.sampled_from([0.5, 1.0, 2.0, 10.0]))
    return tab, h.workload(tab, arrival, mp, sample, priority), slo


def true_iso(tab, w):
    return np.array([tab.lat[tab.sample_base[m] + s * tab.n_layers[m]:][:tab.n_layers[m]].sum()
                     for m, s in zip(w.mp, w.sample)])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.sampled_from(POLICY_NAMES), st.sampled_from(["paper", "reference"]))
def test_invariants(case, name, profile):
    tab, w, slo = case
    d = w.deadlines(slo)
    res = simulate(tab, [w], [d], make_policy(name), profile, record=True)[0]
    log = res.log
    req, layer, start, end = log[:, 0].astype(int), log[:, 1].astype(int), log[:, 2], log[:, 3]
    n = len(w)
    # Every request runs each of its layers exactly once, in order, and finishes exactly once.
    for i in range(n):
        mine = layer[req == i]
        assert list(mine) == list(range(tab.n_layers[w.mp[i]]))
        assert res.finish[i] == end[req == i][-1]
    assert res.decisions == len(log) == sum(tab.n_layers[w.mp])
    # No layer starts before its request arrived; each runs for its true latency.
    assert np.all(start >= w.arrival[req])
    lat = tab.lat[tab.sample_base[w.mp[req]] + w.sample[req] * tab.n_layers[w.mp[req]] + layer]
    np.testing.assert_allclose(end - start, lat)
    # Finish >= arrival + isolated latency.
    assert np.all(res.finish >= w.arrival + true_iso(tab, w) - 1e-9)
    # Work conservation: the accelerator idles only when nothing that has arrived is unfinished.
    # (reference profile: when the queue empties, the clock rewinds to the next request's arrival,
    # which may be during the layer that just ended, SPEC 9)
    for k in range(1, len(log)):
        if profile == "reference" and start[k] != end[k - 1]:
            assert layer[k] == 0 and start[k] == w.arrival[req[k]]
            # the queue had emptied: every earlier request ran its last layer before step k
            assert all(((req[:k] == i) & (layer[:k] == tab.n_layers[w.mp[i]] - 1)).any() for i in range(req[k]))
            assert req[k] == 0 or w.arrival[req[k]] >= w.arrival[req[k] - 1]
        elif start[k] > end[k - 1] + 1e-12:
            waiting = (w.arrival <= end[k - 1]) & (res.finish > end[k - 1])
            assert not waiting.any()
            assert start[k] == pytest.approx(w.arrival[w.arrival > end[k - 1]].min())
        else:
            assert start[k] == pytest.approx(end[k - 1])
    # Metrics match a brute-force recomputation.
    m = metrics.compute(tab, w, res.finish, d)
    iso = true_iso(tab, w)
    antt = sum((res.finish[i] - w.arrival[i]) / iso[i] for i in range(n)) / n
    viol = sum(1 for i in range(n) if res.finish[i] > d[i]) / n
    assert m["antt"] == pytest.approx(antt)
    assert m["violation_rate"] == pytest.approx(viol)
    span = max(res.finish) - min(w.arrival)
    assert m["makespan_s"] == pytest.approx(span)
    assert m["stp"] == pytest.approx(n / span)
    assert m["p99_turnaround_s"] == pytest.approx(np.percentile(res.finish - w.arrival, 99))


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.just("paper"))
def test_makespan_is_policy_independent(case, profile):
    """Work conservation. Not in the reference profile: there the clock rewinds whenever the queue
    empties (SPEC 9), by how much depends on which layer ended last, hence on the policy."""
    tab, w, slo = case
    d = w.deadlines(slo)
    spans = {name: simulate(tab, [w], [d], make_policy(name), profile)[0].finish.max() for name in POLICY_NAMES}
    first = next(iter(spans.values()))
    for name, span in spans.items():
        assert span == pytest.approx(first, rel=1e-12), name


@settings(max_examples=40, deadline=None)
@given(st.lists(scenarios(), min_size=2, max_size=4), st.sampled_from(POLICY_NAMES))
def test_batched_runs_equal_single_runs(cases, name):
    """Lockstep batching must not change any run (runs of different lengths finish at different steps)."""
    tab = cases[0][0]
    works = []
    for _, w, slo in cases:
        # Re-map each workload onto the first case's tables.
        mp = w.mp % len(tab.names)
        sample = w.sample % tab.n_samples[mp]
        works.append((h.workload(tab, w.arrival, mp, sample, w.priority), slo))
    batch = simulate(tab, [w for w, _ in works], [w.deadlines(s) for w, s in works], make_policy(name),
                     record=True)
    for (w, slo), res in zip(works, batch):
        single = simulate(tab, [w], [w.deadlines(slo)], make_policy(name), record=True)[0]
        np.testing.assert_array_equal(single.finish, res.finish)
        np.testing.assert_array_equal(single.log, res.log)
        assert single.preemptions == res.preemptions


def test_queue_capacity_grows_beyond_initial_slots():
    """100 simultaneous arrivals overflow the initial slot capacity; nothing is lost, FCFS order kept."""
    tab = h.tables(h.model_pattern("m/p/0.5", [[1.0, 1.0]]))
    w = h.workload(tab, np.zeros(100), np.zeros(100, int))
    res = simulate(tab, [w], [w.deadlines(10)], make_policy("fcfs"), record=True)[0]
    np.testing.assert_allclose(res.finish, 2.0 * np.arange(1, 101))
    assert res.preemptions == 0


def test_preemptions_counted_at_layer_boundaries():
    """A long job is preempted once by a short one arriving during its first layer (SJF)."""
    tab = h.tables(h.model_pattern("long/p/0.5", [[1.0, 1.0, 1.0]]), h.model_pattern("short/p/0.5", [[0.5]]))
    w = h.workload(tab, [0.0, 0.5], [0, 1])
    res = simulate(tab, [w], [w.deadlines(10)], make_policy("sjf"), record=True)[0]
    # t=1: long has 2 s left, short 0.5 s -> short runs 1..1.5, then long 1.5..3.5.
    np.testing.assert_allclose(res.finish, [3.5, 1.5])
    assert res.preemptions == 1
