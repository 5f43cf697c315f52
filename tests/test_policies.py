"""Every scheduling policy on hand-built queues whose outcome is worked out by hand (SPEC 5, 6, 9).

Each scenario is small enough to follow with pencil and paper; the comments give the arithmetic
of every decision that matters, and the expected finish times / dispatch order are written out
as literal numbers. Deadlines are passed to the engine directly, so each test picks them.
Model-pattern names are ``model/pattern/rate``; every trace here has one sample with density 0.5
(so ``rhobar = rho`` and ``gamma`` stays 1) unless the test says otherwise.
"""

from dataclasses import replace

import numpy as np
import pytest

import helpers as h
from dysta_sw.engine import PROFILES, simulate
from dysta_sw.errors import DystaInputError
from dysta_sw.policies import POLICY_NAMES, Options, make_policy

ALL = ("fcfs", "sjf", "sjf-sparse", "prema", "prema-sparse", "planaria", "sdrm3", "sdrm3-sparse",
       "dysta", "dysta-static", "dysta-nosparse", "dysta-oracle")


def run(tab, arrival, mp, deadline, name, *, priority=None, sample=None, options=None, profile="paper",
        strict_fp=False):
    """One recorded run; ``strict_fp`` turns numpy division-by-zero/invalid warnings into errors.
    The hand-worked gammas are the measured ones (alpha = 1 unless ``options`` says otherwise; the
    fitted alpha: tests/test_predictor_alpha.py)."""
    w = h.workload(tab, arrival, mp, sample=sample, priority=priority)
    pol = make_policy(name, options or Options(predictor_alpha="1"))
    if strict_fp:
        with np.errstate(divide="raise", invalid="raise"):
            return simulate(tab, [w], [np.asarray(deadline, float)], pol, profile, record=True)[0]
    return simulate(tab, [w], [np.asarray(deadline, float)], pol, profile, record=True)[0]


def order(res):
    """Dispatch log as a list of (request, layer)."""
    return [(int(r), int(l)) for r, l in res.log[:, :2]]


def starts(res):
    return [float(s) for s in res.log[:, 2]]


def test_registry_names_every_policy_of_the_spec():
    assert set(POLICY_NAMES) == set(ALL)


# ----------------------------------------------------------------------------- shared behaviour

@pytest.mark.parametrize("name", ALL)
def test_simultaneous_identical_requests_run_in_index_order(name):
    """Four identical 1-layer requests arrive together: every score ties, so index order wins.

    1 layer of 1.0 s each, priority 3, deadline 10 -> finishes 1, 2, 3, 4.
    """
    tab = h.tables(h.model_pattern("a/p/0.5", [[1.0]]))
    res = run(tab, [0.0] * 4, [0] * 4, [10.0] * 4, name, priority=[3] * 4)
    np.testing.assert_allclose(res.finish, [1.0, 2.0, 3.0, 4.0])
    assert order(res) == [(0, 0), (1, 0), (2, 0), (3, 0)]


@pytest.mark.parametrize("name", ALL)
def test_exact_tie_goes_to_earliest_arrival(name):
    """r0 (2 s layer) runs alone; r1 (a=0.25) and r2 (a=0.5) are identical 1 s jobs, p=3, D=10.

    With beta = eta = alpha = 0 every policy's score of r1 and r2 is exactly equal at t=2:
    SJF R=1 vs 1; Planaria 3/8 vs 3/8; SDRM3 (alpha 0) 1/8 vs 1/8; Dysta Trem 1 vs 1;
    Dysta-static Score0 = Lat = 1 vs 1; PREMA tokens 3+3*1.75=8.25 vs 3+3*1.5=7.5, threshold 3,
    both eligible, R tie. The earlier arrival r1 must win: finishes 2, 3, 4.
    """
    tab = h.tables(h.model_pattern("x/p/0.5", [[2.0]]), h.model_pattern("a/p/0.5", [[1.0]]))
    opts = Options(beta=0.0, eta=0.0, alpha=0.0)
    res = run(tab, [0.0, 0.25, 0.5], [0, 1, 1], [10.0, 10.0, 10.0], name, priority=[3, 3, 3], options=opts)
    np.testing.assert_allclose(res.finish, [2.0, 3.0, 4.0])


@pytest.mark.parametrize("name", ALL)
def test_idle_accelerator_wakes_up_at_later_arrival(name):
    """r0 (1 s) finishes at 1; the accelerator idles until r1 arrives at 5 and runs it 5..6."""
    tab = h.tables(h.model_pattern("a/p/0.5", [[1.0]]))
    res = run(tab, [0.0, 5.0], [0, 0], [10.0, 15.0], name)
    np.testing.assert_allclose(res.finish, [1.0, 6.0])
    assert starts(res) == [0.0, 5.0]


# ----------------------------------------------------------------------------- FCFS / SJF

def test_fcfs_runs_in_arrival_order_even_when_a_short_job_waits():
    """r0 (1 s) at 0, r1 (3 x 1 s) at 0.2, r2 (0.1 s) at 0.4.

    FCFS: r0 0..1, r1 1..4, r2 4..4.1. (SJF would run r2 at t=1.)
    """
    tab = h.tables(h.model_pattern("a/p/0.5", [[1.0]]), h.model_pattern("b/p/0.5", [[1.0, 1.0, 1.0]]),
                   h.model_pattern("c/p/0.5", [[0.1]]))
    res = run(tab, [0.0, 0.2, 0.4], [0, 1, 2], [100.0] * 3, "fcfs")
    np.testing.assert_allclose(res.finish, [1.0, 4.0, 4.1])
    assert order(res) == [(0, 0), (1, 0), (1, 1), (1, 2), (2, 0)]


def _two_pattern_tables():
    """n/p: one 1.6 s layer. m/fast: 2 x 0.5 s, m/slow: 2 x 1.5 s (per-model Lbar = [1, 1])."""
    return h.tables(h.model_pattern("n/p/0.5", [[1.6]]), h.model_pattern("m/fast/0.5", [[0.5, 0.5]]),
                    h.model_pattern("m/slow/0.5", [[1.5, 1.5]]))


def test_sjf_uses_per_model_average_latency():
    """r0 = n/p (R = 1.6), r1 = m/fast, both at 0.

    SJF sees r1 through the per-model LUT: Rbar_model[0] = 1.0 + 1.0 = 2.0 > 1.6, so r0 runs
    0..1.6, then r1 1.6..2.1..2.6.
    """
    tab = _two_pattern_tables()
    res = run(tab, [0.0, 0.0], [0, 1], [100.0, 100.0], "sjf")
    np.testing.assert_allclose(res.finish, [1.6, 2.6])
    assert order(res)[0] == (0, 0)


def test_sjf_sparse_uses_pattern_aware_latency():
    """Same queue as above; SJF-sparse sees r1's own pattern: Rbar[0] = 0.5 + 0.5 = 1.0 < 1.6.

    r1 runs 0..0.5; at 0.5 its gamma = 0.5/0.5 = 1, R = 0.5 < 1.6 so it continues 0.5..1.0;
    then r0 1.0..2.6.
    """
    tab = _two_pattern_tables()
    res = run(tab, [0.0, 0.0], [0, 1], [100.0, 100.0], "sjf-sparse")
    np.testing.assert_allclose(res.finish, [2.6, 1.0])
    assert order(res) == [(1, 0), (1, 1), (0, 0)]


def _gamma_tables():
    """A = m/p: 2 layers of 1.0 s, two calibration samples with densities
    sample 0 = [0.2, 0.5], sample 1 = [0.6, 0.5] -> rhobar = [0.4, 0.5]; sample 0 has
    gamma = 0.2/0.4 = 0.5 after its first layer.  B = b/p: one 0.8 s layer."""
    a = h.model_pattern("m/p/0.5", [[1.0, 1.0], [1.0, 1.0]], rho=[[0.2, 0.5], [0.6, 0.5]])
    b = h.model_pattern("b/p/0.5", [[0.8]])
    return h.tables(a, b)


@pytest.mark.parametrize("name, finish", [
    # t=1: A's estimate Rbar[1] = 1.0 > B's 0.8 -> B runs 1..1.8, A 1.8..2.8.
    ("sjf", [2.8, 1.8]),
    # t=1: A's estimate gamma * Rbar[1] = 0.5 * 1.0 = 0.5 < 0.8 -> A runs 1..2, B 2..2.8.
    ("sjf-sparse", [2.0, 2.8]),
])
def test_sjf_sparse_scales_remaining_latency_by_measured_gamma(name, finish):
    """A (sample 0) arrives at 0 and runs its first layer alone; B arrives at 0.5."""
    tab = _gamma_tables()
    res = run(tab, [0.0, 0.5], [0, 1], [100.0, 100.0], name)
    np.testing.assert_allclose(res.finish, finish)


def test_sjf_later_simultaneous_arrivals_after_idle():
    """r0 (1 s) finishes at 1; r1 (2 s) and r2 (1 s) both arrive at 5 while the accelerator idles.

    Both are admitted at the wake-up, so the shorter r2 runs first: 5..6, then r1 6..8.
    """
    tab = h.tables(h.model_pattern("a/p/0.5", [[1.0]]), h.model_pattern("b/p/0.5", [[2.0]]))
    res = run(tab, [0.0, 5.0, 5.0], [0, 1, 0], [100.0] * 3, "sjf")
    np.testing.assert_allclose(res.finish, [1.0, 8.0, 6.0])


# ----------------------------------------------------------------------------- PREMA

@pytest.mark.parametrize("priority, finish", [
    ((1, 1), [1.0, 3.0]),  # tokens 1, 1: threshold 1, both eligible, shorter r0 first
    ((1, 3), [3.0, 2.0]),  # tokens 1, 3: threshold 3, only r1 (2 s) eligible
    ((3, 3), [1.0, 3.0]),  # threshold 3, both eligible, shorter r0 first
    ((9, 3), [1.0, 3.0]),  # threshold 9, only r0
    ((3, 9), [3.0, 2.0]),  # threshold 9, only r1 although it is longer
    ((1, 9), [3.0, 2.0]),
])
def test_prema_token_thresholds(priority, finish):
    """r0 (1 s) and r1 (2 s) arrive together; tokens start at the priorities (no wait yet)."""
    tab = h.tables(h.model_pattern("a/p/0.5", [[1.0]]), h.model_pattern("b/p/0.5", [[2.0]]))
    res = run(tab, [0.0, 0.0], [0, 1], [100.0, 100.0], "prema", priority=priority)
    np.testing.assert_allclose(res.finish, finish)


@pytest.mark.parametrize("c_lat, finish", [
    # t=4: r0 token 1 + 1*4/1 = 5, r1 token 3 + 3*4/2 = 9 -> threshold 9, only r1: 4..6, r0 6..7.
    (4.0, [7.0, 6.0, 4.0]),
    # t=3: r0 token 1 + 3 = 4, r1 token 3 + 3*3/2 = 7.5 -> threshold 3, both, shorter r0: 3..4, r1 4..6.
    (3.0, [4.0, 6.0, 3.0]),
])
def test_prema_tokens_accumulate_priority_times_wait_over_isolated_latency(c_lat, finish):
    """Priorities {1, 3, 9}: r0 (1 s, p=1), r1 (2 s, p=3), r2 (c_lat s, p=9) all at 0.

    t=0: tokens 1, 3, 9 -> threshold 9 -> r2 runs 0..c_lat although it is the longest.
    """
    tab = h.tables(h.model_pattern("a/p/0.5", [[1.0]]), h.model_pattern("b/p/0.5", [[2.0]]),
                   h.model_pattern("c/p/0.5", [[c_lat]]))
    res = run(tab, [0.0] * 3, [0, 1, 2], [100.0] * 3, "prema", priority=[1, 3, 9])
    np.testing.assert_allclose(res.finish, finish)
    assert order(res)[0] == (2, 0)


@pytest.mark.parametrize("name, finish", [
    # PREMA: r1's Tiso_est is the model average (1+3)/2 = 2. t=2: token 1 + 2/2 = 2 < 3, r0 goes on.
    # t=4: token 3 -> threshold 3, both eligible; R: r0 Rbar[2] = 4, r1 Rbar_model = 2 -> r1 4..5.
    ("prema", [9.0, 5.0]),
    # PREMA-sparse: r1's own Tiso_est = 1. t=2: token 1 + 2/1 = 3 -> eligible; R: r0 gamma*Rbar[1]
    # = 6, r1 1 -> r1 runs 2..3, r0 3..9.
    ("prema-sparse", [9.0, 3.0]),
])
def test_prema_sparse_uses_pattern_aware_isolated_latency(name, finish):
    """r0 = big/p (4 x 2 s, p=3), r1 = m/fast (1 s, p=1), both at 0; m/slow (3 s) exists too.

    t=0: tokens 3, 1 -> threshold 3 -> r0 runs 0..2.
    """
    tab = h.tables(h.model_pattern("big/p/0.5", [[2.0, 2.0, 2.0, 2.0]]), h.model_pattern("m/fast/0.5", [[1.0]]),
                   h.model_pattern("m/slow/0.5", [[3.0]]))
    res = run(tab, [0.0, 0.0], [0, 1], [100.0, 100.0], name, priority=[3, 1])
    np.testing.assert_allclose(res.finish, finish)


def test_prema_sparse_uses_gamma():
    """PREMA-sparse with all priorities 1 (threshold 1, all eligible) is SJF on gamma * Rbar.

    A (sample 0, gamma 0.5 after layer 0) at 0, B (0.8 s) at 0.5; t=1: A 0.5 * 1.0 = 0.5 < 0.8 -> A
    runs 1..2, B 2..2.8. Plain PREMA would pick B (1.0 > 0.8): finishes 2.8, 1.8.
    """
    tab = _gamma_tables()
    res = run(tab, [0.0, 0.5], [0, 1], [100.0, 100.0], "prema-sparse")
    np.testing.assert_allclose(res.finish, [2.0, 2.8])
    res = run(tab, [0.0, 0.5], [0, 1], [100.0, 100.0], "prema")
    np.testing.assert_allclose(res.finish, [2.8, 1.8])


# ----------------------------------------------------------------------------- Planaria

def test_planaria_picks_largest_priority_over_slack():
    """Three 1 s jobs at 0: (p=1, D=2), (p=9, D=30), (p=3, D=4).

    t=0: 1/2 = 0.5, 9/30 = 0.3, 3/4 = 0.75 -> r2 runs 0..1.
    t=1: 1/(2-1) = 1.0, 9/29 = 0.31 -> r0 runs 1..2; r1 2..3.
    """
    tab = h.tables(h.model_pattern("a/p/0.5", [[1.0]]))
    res = run(tab, [0.0] * 3, [0] * 3, [2.0, 30.0, 4.0], "planaria", priority=[1, 9, 3])
    np.testing.assert_allclose(res.finish, [2.0, 3.0, 1.0])
    assert order(res) == [(2, 0), (0, 0), (1, 0)]


def test_planaria_requests_past_deadline_rank_below_live_ones():
    """r0 (2 s, p=1, D=100) runs 0..2. Waiting at t=2:

    r1 p=9, D=2.0 (slack exactly 0), r2 p=3, D=1.0 (slack -1), r3 p=1, D=100 (score 1/98).
    The only live request r3 runs first (2..3) even though its score is tiny; then the dead
    ones, r1 (p=9, earlier) 3..4 and r2 4..5. Slack 0 must not divide by zero.
    """
    tab = h.tables(h.model_pattern("x/p/0.5", [[2.0]]), h.model_pattern("a/p/0.5", [[1.0]]))
    res = run(tab, [0.0, 0.5, 0.5, 0.6], [0, 1, 1, 1], [100.0, 2.0, 1.0, 100.0], "planaria",
              priority=[1, 9, 3, 1], strict_fp=True)
    np.testing.assert_allclose(res.finish, [2.0, 4.0, 5.0, 3.0])


# ----------------------------------------------------------------------------- SDRM3

def _sdrm3_tables():
    """x/p: 2 x 1 s; y/p: 1 x 1 s."""
    return h.tables(h.model_pattern("x/p/0.5", [[1.0, 1.0]]), h.model_pattern("y/p/0.5", [[1.0]]))


@pytest.mark.parametrize("alpha, finish", [
    # t=1: r0 1/99 + 0 = 0.0101; r1 1/100 + 1 * 0.5/1 = 0.51 -> r1 runs 1..2, r0 2..3.
    (1.0, [3.0, 2.0]),
    # alpha = 0: urgency only, r0 1/99 > r1 1/100 -> r0 continues, finishes 2; r1 2..3.
    (0.0, [2.0, 3.0]),
])
def test_sdrm3_mapscore_urgency_plus_alpha_fairness(alpha, finish):
    """r0 = x (D=100) at 0, r1 = y (D=101) at 0.5; at t=1 r0 has waited 0, r1 0.5 s."""
    tab = _sdrm3_tables()
    res = run(tab, [0.0, 0.5], [0, 1], [100.0, 101.0], "sdrm3", options=Options(alpha=alpha))
    np.testing.assert_allclose(res.finish, finish)


@pytest.mark.parametrize("d0", [1.0, 0.5])
def test_sdrm3_urgency_is_one_when_slack_not_positive(d0):
    """r0 = x at 0 with D = d0 (slack at t=1 is 0 or -0.5), r1 = y at 0.5, D=100.

    t=1: r0 urgency 1 (slack <= 0) + fairness 0 = 1; r1 1/99 + 0.5/1 = 0.51 -> r0 continues
    (a raw R/(D-t) = 1/(-0.5) = -2 would hand the accelerator to r1). Finishes 2, 3.
    """
    tab = _sdrm3_tables()
    res = run(tab, [0.0, 0.5], [0, 1], [d0, 100.0], "sdrm3", strict_fp=True)
    np.testing.assert_allclose(res.finish, [2.0, 3.0])


def test_sdrm3_urgency_capped_at_one():
    """r0 = x (D=1.5), r1 = y (D=100), both at 0.

    t=0: r0 min(1, 2/1.5) = 1 vs r1 1/100 -> r0 runs 0..1.
    t=1: r0 min(1, 1/0.5 = 2) = 1 + 0; r1 1/99 + 1/1 = 1.0101 -> r1 runs 1..2, r0 2..3.
    (Without the cap r0 would score 2 and keep running.)
    """
    tab = _sdrm3_tables()
    res = run(tab, [0.0, 0.0], [0, 1], [1.5, 100.0], "sdrm3")
    np.testing.assert_allclose(res.finish, [3.0, 2.0])


@pytest.mark.parametrize("name, finish", [
    # r1 fairness 0.6 / Lbar_model 1.0 = 0.6, + 1/99 -> 0.61 < 1 -> r0 continues, r1 2..2.5.
    ("sdrm3", [2.0, 2.5]),
    # r1 fairness 0.6 / Lbar 0.5 = 1.2, + 0.5/99 -> 1.205 > 1 -> r1 1..1.5, r0 1.5..2.5.
    ("sdrm3-sparse", [2.5, 1.5]),
])
def test_sdrm3_sparse_uses_pattern_aware_next_layer_latency(name, finish):
    """r0 = x (2 x 1 s, D=1.5) at 0; r1 = m/fast (0.5 s, D=100) at 0.4; m/slow is 1.5 s.

    t=1: r0 urgency min(1, 1/0.5) = 1, fairness 0 -> 1.
    """
    tab = h.tables(h.model_pattern("x/p/0.5", [[1.0, 1.0]]), h.model_pattern("m/fast/0.5", [[0.5]]),
                   h.model_pattern("m/slow/0.5", [[1.5]]))
    res = run(tab, [0.0, 0.4], [0, 1], [1.5, 100.0], name)
    np.testing.assert_allclose(res.finish, finish)


# ----------------------------------------------------------------------------- Dysta

def _dysta_tables():
    """a/p: 2 x 1 s; b/p: 1 x 2 s."""
    return h.tables(h.model_pattern("a/p/0.5", [[1.0, 1.0]]), h.model_pattern("b/p/0.5", [[2.0]]))


@pytest.mark.parametrize("eta, finish", [
    # eta 0.01, t=1, |Q|=2: r0 1 + 0.01*(1000-1-1 = 998) = 10.98;
    # r1 2 + 0.01*((4-1-2 = 1) + (0.5/2)/2 = 0.125) = 2.01125 -> r1 runs 1..3, r0 3..4.
    (0.01, [4.0, 3.0]),
    # eta 0: remaining time only, r0 1 < r1 2 -> r0 finishes 2, r1 2..4.
    (0.0, [2.0, 4.0]),
])
def test_dysta_dynamic_score_weighs_slack(eta, finish):
    """r0 = a (D=1000) at 0, r1 = b (D=4) at 0.5."""
    tab = _dysta_tables()
    res = run(tab, [0.0, 0.5], [0, 1], [1000.0, 4.0], "dysta", options=Options(eta=eta))
    np.testing.assert_allclose(res.finish, finish)


def test_dysta_slack_is_clamped_at_zero():
    """eta = 1. r0 = a (D=3) at 0, r1 = b (D=0.5, already missed) at 0.5.

    t=1: r0 1 + (max(0, 3-1-1) = 1 + 0) = 2.0; r1 2 + (max(0, 0.5-1-2) = 0 + 0.125) = 2.125
    -> r0 continues, finishes 2; r1 2..4. Unclamped, r1 would score 2 - 2.5 + 0.125 < 2 and win.
    """
    tab = _dysta_tables()
    res = run(tab, [0.0, 0.5], [0, 1], [3.0, 0.5], "dysta", options=Options(eta=1.0))
    np.testing.assert_allclose(res.finish, [2.0, 4.0])


@pytest.mark.parametrize("a1, capacity, finish", [
    # w = 0.75: pen = (0.75/0.75)/2 = 0.5 -> r1 0.75 + 0.5 = 1.25 > 1.0 -> r0 continues.
    (0.25, 1.0, [2.0, 2.75]),
    # w = 0.25: pen = (0.25/0.75)/2 = 1/6 -> r1 0.9167 < 1.0 -> r1 runs 1..1.75, r0 1.75..2.75.
    # (Without the division by |Q| the penalty would be 1/3 and r0 would keep running.)
    (0.75, 1.0, [2.75, 1.75]),
    # w = 0.75 on a pack 4x faster than the paper's scale: pen = 0.5 / 4 -> r1 0.875 < 1.0 runs first.
    (0.25, 4.0, [2.75, 1.75]),
])
def test_dysta_penalty_is_wait_over_isolated_latency_over_queue_length(a1, capacity, finish):
    """eta = 1; both deadlines already missed (slack 0). r0 = a (2 x 1 s) at 0, r1 = c (0.75 s) at a1.

    t=1: r0 Trem 1, pen 0 -> 1.0; r1 Trem 0.75 + pen / capacity.
    """
    tab = h.tables(h.model_pattern("a/p/0.5", [[1.0, 1.0]]), h.model_pattern("c/p/0.5", [[0.75]]),
                   capacity=capacity)
    res = run(tab, [0.0, a1], [0, 1], [0.1, 0.1], "dysta", options=Options(eta=1.0))
    np.testing.assert_allclose(res.finish, finish)


def _static_tables():
    """s/p: one 0.5 s layer; l/p: 2 x 1 s."""
    return h.tables(h.model_pattern("s/p/0.5", [[0.5]]), h.model_pattern("l/p/0.5", [[1.0, 1.0]]))


@pytest.mark.parametrize("name, finish", [
    # Wake-up at 10 (static scores, beta 1): r1 0.5 + (110-10-0.5) = 100, r2 2 + (15-10-2) = 5
    # -> r2 runs 10..11. t=11 is a boundary (dynamic, eta 0): r1 0.5 < r2 1.0 -> r1 11..11.5,
    # r2 11.5..12.5. (A dynamic wake-up decision would run r1 first: r1 10.5, r2 12.5.)
    ("dysta", [0.5, 11.5, 12.5]),
    # Static only: r2 (5) before r1 (100) throughout: r2 10..12, r1 12..12.5.
    ("dysta-static", [0.5, 12.5, 12.0]),
])
def test_dysta_wakeup_decision_uses_static_score(name, finish):
    """Options(beta=1, eta=0): Score0 = Lat + (D - a - Lat), dynamic score = Trem.

    r0 = s at 0 (D=100) runs 0..0.5; the accelerator idles; r1 = s (D=110) and r2 = l (D=15)
    both arrive at 10.
    """
    tab = _static_tables()
    res = run(tab, [0.0, 10.0, 10.0], [0, 0, 1], [100.0, 110.0, 15.0], name, options=Options(beta=1.0, eta=0.0))
    np.testing.assert_allclose(res.finish, finish)


@pytest.mark.parametrize("name, finish", [
    # dysta-static: Score0 r0 = 2 + 0.01*(100-0-2) = 2.98, r1 = 2.5 + 0.01*(3.5-0.5-2.5) = 2.505
    # -> at t=1 r1 preempts: 1..3.5, r0 3.5..4.5.
    ("dysta-static", [4.5, 3.5]),
    # dysta: t=1 r0 1 + 0.01*98 = 1.98; r1 2.5 + 0.01*(0 + (0.5/2.5)/2) = 2.501 -> r0 continues.
    ("dysta", [2.0, 4.5]),
])
def test_dysta_static_orders_by_static_score_only(name, finish):
    """Default beta = eta = 0.01. r0 = a (2 x 1 s, D=100) at 0; r1 = c (2.5 s, D=3.5) at 0.5."""
    tab = h.tables(h.model_pattern("a/p/0.5", [[1.0, 1.0]]), h.model_pattern("c/p/0.5", [[2.5]]))
    res = run(tab, [0.0, 0.5], [0, 1], [100.0, 3.5], name)
    np.testing.assert_allclose(res.finish, finish)


@pytest.mark.parametrize("name, finish", [
    # dysta: A gamma 0.5 -> Trem 0.5, slack 10-1-0.5 = 8.5 -> 0.585;
    #        B 0.8 + 0.01*((10-1-0.8 = 8.2) + (0.5/0.8)/2 = 0.3125) = 0.885125 -> A 1..2, B 2..2.8.
    ("dysta", [2.0, 2.8]),
    # dysta-nosparse: gamma 1 -> A 1.0 + 0.01*8 = 1.08 > 0.885125 -> B 1..1.8, A 1.8..2.8.
    ("dysta-nosparse", [2.8, 1.8]),
])
def test_dysta_nosparse_ignores_measured_sparsity(name, finish):
    """A (sample 0 of m/p, gamma 0.5 after layer 0) at 0, B (0.8 s) at 0.5, both D=10."""
    tab = _gamma_tables()
    res = run(tab, [0.0, 0.5], [0, 1], [10.0, 10.0], name)
    np.testing.assert_allclose(res.finish, finish)
    if name == "dysta-nosparse":
        np.testing.assert_allclose(res.gamma_log, 1.0)


def _oracle_tables():
    """x/p: samples [1.0, 0.2] and [1.0, 1.8] (Lbar = [1, 1], Rbar[1] = 1); y/p: one 0.6 s layer."""
    return h.tables(h.model_pattern("x/p/0.5", [[1.0, 0.2], [1.0, 1.8]]), h.model_pattern("y/p/0.5", [[0.6]]))


@pytest.mark.parametrize("name, finish", [
    # oracle: A's true remaining 0.2 -> 0.2 + 0.01*(10-1-0.2 = 8.8) = 0.288;
    #         B 0.6 + 0.01*((10-1-0.6 = 8.4) + (0.5/0.6)/2) = 0.68817 -> A 1..1.2, B 1.2..1.8.
    ("dysta-oracle", [1.2, 1.8]),
    # dysta: A's estimate Rbar[1] = 1.0 -> 1.0 + 0.01*8 = 1.08 > 0.688 -> B 1..1.6, A 1.6..1.8.
    ("dysta", [1.8, 1.6]),
])
def test_dysta_oracle_uses_true_remaining_latency(name, finish):
    """A = x sample 0 (true remaining after layer 0: 0.2 s) at 0; B = y at 0.5; both D=10."""
    tab = _oracle_tables()
    res = run(tab, [0.0, 0.5], [0, 1], [10.0, 10.0], name)
    np.testing.assert_allclose(res.finish, finish)


def test_dysta_oracle_penalty_uses_true_isolated_latency():
    """eta = 1, deadlines missed (slack 0). r0 = x/p (2 x 1 s) at 0; r1 = y/p sample 0 at 0.25,
    where y/p has samples of 0.5 s and 1.5 s (estimated Tiso 1.0, true Tiso of sample 0 is 0.5).

    t=1: r0 true remaining 1.0 -> 1.0. r1: 0.5 + (0.75/0.5)/2 = 1.25 > 1.0 -> r0 continues,
    r1 2..2.5. (With the estimated Tiso: 0.5 + (0.75/1.0)/2 = 0.875 -> r1 would run first.)
    """
    tab = h.tables(h.model_pattern("x/p/0.5", [[1.0, 1.0]]), h.model_pattern("y/p/0.5", [[0.5], [1.5]]))
    res = run(tab, [0.0, 0.25], [0, 1], [0.1, 0.1], "dysta-oracle", options=Options(eta=1.0))
    np.testing.assert_allclose(res.finish, [2.0, 2.5])


# ----------------------------------------------------------------------------- profiles (SPEC 9)

@pytest.mark.parametrize("profile, finish, first_three", [
    # paper (a <= t): r1 is admitted at t=1; R 0.5 < r0's 1.0 -> r1 1..1.5, r0 1.5..2.5.
    ("paper", [2.5, 1.5], [(0, 0), (1, 0), (0, 1)]),
    # reference (a < t): at t=1 r1 is not yet admitted, r0 runs 1..2 and empties the queue;
    # the clock then rewinds to r1's arrival: r1 runs 1..1.5.
    ("reference", [2.0, 1.5], [(0, 0), (0, 1), (1, 0)]),
])
def test_profile_strict_admission_at_layer_boundary(profile, finish, first_three):
    """SJF; r0 = a (2 x 1 s) at 0; r1 = s (0.5 s) arrives exactly at the boundary t=1."""
    tab = h.tables(h.model_pattern("a/p/0.5", [[1.0, 1.0]]), h.model_pattern("s/p/0.5", [[0.5]]))
    res = run(tab, [0.0, 1.0], [0, 1], [100.0, 100.0], "sjf", profile=profile)
    np.testing.assert_allclose(res.finish, finish)
    assert order(res) == first_three


@pytest.mark.parametrize("profile, finish", [
    # paper: r1 gains 1 * 1 s / 2 s = 0.5 per decision while waiting:
    #   t=1: 1.5, t=2: 2.0, t=3: 2.5, t=4: 3.0 -> eligible (threshold 3); R 2 < r0's 4 -> r1 4..6.
    ("paper", [10.0, 6.0]),
    # reference: the wake-up at t=0 admits r0 alone; r1 is admitted at t=1, where its token is
    # set to 1 (first seen); then it re-gains its whole wait since arrival at every decision:
    #   t=2: +2/2 -> 2.0, t=3: +3/2 -> 3.5 -> eligible; R 2 < r0's 5 -> r1 3..5.
    ("reference", [10.0, 5.0]),
])
def test_profile_prema_token_accumulation(profile, finish):
    """PREMA; r0 = big (8 x 1 s, p=3) and r1 = s (one 2 s layer, p=1) both at 0.

    paper, t=0: tokens 3, 1 -> threshold 3 -> only r0. r0 is running, so it never gains tokens.
    """
    tab = h.tables(h.model_pattern("big/p/0.5", [[1.0] * 8]), h.model_pattern("s/p/0.5", [[2.0]]))
    res = run(tab, [0.0, 0.0], [0, 1], [100.0, 100.0], "prema", priority=[3, 1], profile=profile)
    np.testing.assert_allclose(res.finish, finish)


@pytest.mark.parametrize("profile, finish", [
    # paper: static scores at the wake-up: r0 2 + 1*(6-5-2) = 1.0, r1 1.5 + 1*(6.5-5-1.5) = 1.5
    # -> r0 0..2, r1 2..3.5.
    ("paper", [2.0, 3.5]),
    # static_score off alone: dynamic score, slack clamped: r0 2 + 1*max(0, -1) = 2.0,
    # r1 1.5 + 0 = 1.5 -> r1 0..1.5, r0 1.5..3.5.
    (replace(PROFILES["paper"], name="no-static", static_score=False), [3.5, 1.5]),
    # reference: the wake-up admits r0 alone (0..2); the queue empties and the clock rewinds to
    # r1's arrival: r1 0..1.5.
    ("reference", [2.0, 1.5]),
])
def test_profile_reference_has_no_static_score_at_wakeup(profile, finish):
    """Options(beta=1, eta=1) (so eta-from-beta changes nothing); both arrive at 5 on an idle
    accelerator (times below are relative to 5).

    r0 = one 2 s layer with D=5+1 (infeasible: static slack -1); r1 = one 1.5 s layer, D=5+1.5.
    """
    tab = h.tables(h.model_pattern("a/p/0.5", [[2.0]]), h.model_pattern("b/p/0.5", [[1.5]]))
    res = run(tab, [5.0, 5.0], [0, 1], [6.0, 6.5], "dysta", options=Options(beta=1.0, eta=1.0), profile=profile)
    np.testing.assert_allclose(res.finish, np.add(finish, 5.0))


def test_dysta_first_decision_at_time_zero_is_a_wakeup():
    """Same queue as above, arriving at t=0, the very start of the run (paper profile).

    The accelerator is idle at t=0 and no layer boundary has happened, so (SPEC 5 step 1, SPEC 6
    "requests admitted since the last boundary enter with their static score") the decision is
    a wake-up and uses Score0: r0 2 + 1*(1-0-2) = 1.0 < r1 1.5 + 0 = 1.5 -> r0 0..2, r1 2..3.5.
    It must not matter whether the first arrival is at 0 or later (the test above, at 5).
    """
    tab = h.tables(h.model_pattern("a/p/0.5", [[2.0]]), h.model_pattern("b/p/0.5", [[1.5]]))
    res = run(tab, [0.0, 0.0], [0, 1], [1.0, 1.5], "dysta", options=Options(beta=1.0, eta=1.0))
    np.testing.assert_allclose(res.finish, [2.0, 3.5])


def test_dysta_arrivals_exactly_when_queue_empties_is_a_wakeup():
    """SPEC 5 checks step 1 (Q empty -> jump to the next arrival, admit it) before step 2.

    r0 (1 s) arrives at 0.5 and finishes at 1.5, emptying Q; r1 (2 s, D=2.5) and r2 (1.5 s, D=3)
    arrive exactly at 1.5. Q is empty, so this is a wake-up decision with static scores
    (beta = eta = 1): r1 2 + (2.5-1.5-2) = 1.0 < r2 1.5 + (3-1.5-1.5) = 1.5 -> r1 1.5..3.5,
    r2 3.5..5. (The dynamic score would be r1 2 + max(0, -1) = 2 > r2 1.5 -> r2 first.)
    """
    tab = h.tables(h.model_pattern("c/p/0.5", [[1.0]]), h.model_pattern("a/p/0.5", [[2.0]]),
                   h.model_pattern("b/p/0.5", [[1.5]]))
    res = run(tab, [0.5, 1.5, 1.5], [0, 1, 2], [100.0, 2.5, 3.0], "dysta", options=Options(beta=1.0, eta=1.0))
    np.testing.assert_allclose(res.finish, [1.5, 3.5, 5.0])


@pytest.mark.parametrize("profile, finish", [
    # paper: eta = 0.01 -> r0 10.98 vs r1 2.01125 (see test_dysta_dynamic_score_weighs_slack) -> r1.
    ("paper", [4.0, 3.0]),
    # reference: eta := beta = 0 -> r0 1 vs r1 2 -> r0 continues.
    ("reference", [2.0, 4.0]),
])
def test_profile_reference_takes_eta_from_beta(profile, finish):
    """Options(beta=0, eta=0.01); r0 = a (2 x 1 s, D=1000) at 0, r1 = b (2 s, D=4) at 0.5."""
    tab = _dysta_tables()
    res = run(tab, [0.0, 0.5], [0, 1], [1000.0, 4.0], "dysta", options=Options(beta=0.0, eta=0.01),
              profile=profile)
    np.testing.assert_allclose(res.finish, finish)


# ----------------------------------------------------------------------------- bad input

def test_unknown_scheduler_is_rejected_by_name():
    with pytest.raises(DystaInputError, match=r"scheduler.*'edf'"):
        make_policy("edf")


@pytest.mark.parametrize("kwargs, pattern", [
    ({"beta": -0.5}, r"beta"),
    ({"eta": -1.0}, r"eta"),
    ({"alpha": -1.0}, r"alpha"),
    ({"gamma_scale": -2.0}, r"gamma.scale"),
    ({"beta": float("nan")}, r"beta"),
    ({"eta": float("inf")}, r"eta"),
])
def test_negative_or_non_finite_weights_are_rejected(kwargs, pattern):
    with pytest.raises(DystaInputError, match=pattern):
        Options(**kwargs)


def test_make_policy_rejects_bad_options_before_running():
    with pytest.raises(DystaInputError, match="beta"):
        make_policy("dysta", Options(beta=-0.01))
