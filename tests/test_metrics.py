"""metrics.compute against the metrics' plain numpy definitions, bit for bit."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import helpers as h
from dysta_sw import metrics

_finite = st.floats(-1e6, 1e6, allow_nan=False, width=64)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_finite, st.sampled_from([0.0, -0.0, 1.0, 1.0, 2.5, np.inf, -np.inf, np.nan])),
                min_size=1, max_size=400))
def test_percentiles_equal_numpy(values):
    x = np.array(values, np.float64)
    with np.errstate(invalid="ignore"):  # inf - inf, in both
        got = metrics.percentiles(x.copy())
        want = np.percentile(x, [50, 95, 99])
    # equal bit for bit but for the sign of a zero: -0.0 and 0.0 tie, and which one a sort or a
    # partition puts first differs (a turnaround is never -0.0)
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(got.view(np.int64), want.view(np.int64)) or (x == 0).any()


def _plain(tab, w, finish, deadlines):
    """The definitions of the module docstring, with numpy's mean and percentile and a mask per model."""
    a = w.arrival
    ntt = (finish - a) / metrics.isolated_latency(tab, w)
    late = finish > deadlines
    model = tab.model_of[w.mp]
    per_model = {name: {"antt": float(ntt[model == k].mean()), "violation_rate": float(late[model == k].mean()),
                        "requests": int((model == k).sum())}
                 for k, name in enumerate(tab.models) if (model == k).any()}
    span = float(finish.max() - a.min())
    p = np.percentile(finish - a, [50, 95, 99])
    return {"antt": float(ntt.mean()), "violation_rate": float(late.mean()), "stp": len(a) / span if span > 0 else
            float("inf"), "p50_turnaround_s": float(p[0]), "p95_turnaround_s": float(p[1]),
            "p99_turnaround_s": float(p[2]), "makespan_s": span, "preemptions": 3, "decisions": 7,
            "per_model": per_model}


def _draw(data, n, elements):
    return np.array(data.draw(st.lists(elements, min_size=n, max_size=n)), np.float64)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_compute_equals_the_definitions(data):
    n_mp = data.draw(st.integers(1, 4))
    tab = h.tables(*[h.model_pattern(f"m{k % 3}/p{k}/0.5", [[0.5 + k, 1.0]], [[0.5, 0.5]]) for k in range(n_mp)])
    n = data.draw(st.integers(1, 300))
    arrival = np.sort(_draw(data, n, st.floats(0, 100)))
    mp = _draw(data, n, st.integers(0, n_mp - 1)).astype(np.int64)
    w = h.workload(tab, arrival, mp)
    finish = arrival + _draw(data, n, st.floats(0, 50))
    deadlines = arrival + _draw(data, n, st.floats(0, 50))
    got = metrics.compute(tab, w, finish, deadlines, 3, 7)
    want = _plain(tab, w, finish, deadlines)
    assert got == want
    assert all(type(got[k]) is type(want[k]) for k in want)
