"""The ``reference`` profile: the published artifact's simulator, behaviour by behaviour (SPEC 9).

Each behaviour is a small queue whose decisions are worked out by hand in the comments; the
expected finish times and dispatch orders are literal numbers. Where it helps, the same queue
runs in the ``paper`` profile, or in a profile that differs from it by the one behaviour, to
show that the behaviour is what changes the outcome. Every case runs on both engines.
The decision-for-decision comparison with a re-statement of the artifact's event loop on
random workloads is in tests/test_artifact_model.py.
"""

from dataclasses import replace

import numpy as np
import pytest

import helpers as h
from dysta_sw import sweep
from dysta_sw.compiled import engine as compiled
from dysta_sw.engine import PROFILES, simulate
from dysta_sw.policies import Options, make_policy
from dysta_sw.tables import ScenarioTables
from dysta_sw.trace import resolve_pack

REF = PROFILES["reference"]
PAPER = PROFILES["paper"]


def run(tab, arrival, mp, deadline, name, *, priority=None, sample=None, options=None, profile="reference"):
    """One recorded run on the readable engine, checked against the compiled one."""
    w = h.workload(tab, arrival, mp, sample=sample, priority=priority)
    d = [np.asarray(deadline, float)]
    res = simulate(tab, [w], d, make_policy(name, options), profile, record=True)[0]
    got = compiled.simulate(tab, [w], d, make_policy(name, options), profile, record=True)[0]
    np.testing.assert_array_equal(got.log, res.log)
    return res


def order(res):
    return [(int(r), int(l)) for r, l in res.log[:, :2]]


# ----------------------------------------------------------------------------- clock rewind

@pytest.mark.parametrize("profile, finish, starts", [
    # paper: r0 0..2; at t=2 r1 and r2 are queued: SJF r2 (0.25) 2..2.25, r1 2.25..2.75..3.25.
    ("paper", [2.0, 3.25, 2.25], [0.0, 2.0, 2.25, 2.75]),
    # reference: r0 0..2 alone (r1, r2 arrive during it). At t=2 the queue is empty: admit r1
    # alone and set t back to its arrival, 0.5: r1's first layer 0.5..1.0. At t=1.0 the queue
    # holds r1, so r2 (0.75 < 1.0) is admitted: SJF r2 0.25 < r1's 0.5 -> r2 1.0..1.25, then
    # r1 1.25..1.75.
    ("reference", [2.0, 1.75, 1.25], [0.0, 0.5, 1.0, 1.25]),
])
def test_clock_rewinds_to_a_request_that_arrived_during_the_last_layer(profile, finish, starts):
    """SJF. r0 = one 2 s layer at 0; r1 = 2 x 0.5 s at 0.5; r2 = one 0.25 s layer at 0.75."""
    tab = h.tables(h.model_pattern("a/p/0.5", [[2.0]]), h.model_pattern("b/p/0.5", [[0.5, 0.5]]),
                   h.model_pattern("c/p/0.5", [[0.25]]))
    res = run(tab, [0.0, 0.5, 0.75], [0, 1, 2], [100.0] * 3, "sjf", profile=profile)
    np.testing.assert_allclose(res.finish, finish)
    np.testing.assert_allclose(res.log[:, 2], starts)


def test_rewind_admits_one_request_even_when_several_arrived_together():
    """FCFS, reference. r0 = one 1 s layer at 0; r1 and r2 (two models) = one 1 s layer each,
    both at 0.5.

    t=0: r0 alone, 0..1. t=1: queue empty -> admit r1 only, t := 0.5: r1 0.5..1.5. t=1.5: queue
    empty again (r2 was never admitted while r1 ran: it is admitted at a decision with a
    non-empty queue only) -> admit r2, t := 0.5: r2 0.5..1.5.
    """
    tab = h.tables(h.model_pattern("a/p/0.5", [[1.0]]), h.model_pattern("b/p/0.5", [[1.0]]))
    res = run(tab, [0.0, 0.5, 0.5], [0, 0, 1], [100.0] * 3, "fcfs")
    np.testing.assert_allclose(res.finish, [1.0, 1.5, 1.5])
    np.testing.assert_allclose(res.log[:, 2], [0.0, 0.5, 0.5])


# ----------------------------------------------------------------------------- PREMA

@pytest.mark.parametrize("profile, finish", [
    # reference: t=0 r0 alone (first seen: token 3), runs 0..1. t=1: r1 admitted (0.5 < 1); r0
    # gains 3 * 0/4 -> 3, the largest counted token; r1 is first seen: token 9 but not counted ->
    # threshold 3; candidates r0 (R 3) and r1 (R 5) -> r0 1..2. t=2: r1 gains 9 * (2 - 0.5)/5 =
    # 2.7 -> 11.7 -> threshold 9 -> r1 2..7; r0 7..9.
    ("reference", [9.0, 7.0]),
    # without first-seen: at t=1 r1 = 9 + 9 * 0.5/5 = 9.9 counts -> threshold 9 -> r1 1..6; r0 6..9.
    (replace(REF, name="seen-at-admission", prema_first_seen=False), [9.0, 6.0]),
    # paper: at t=1 r1 gains its wait since admission: 9 + 9 * 0.5/5 = 9.9 -> r1 1..6.
    ("paper", [9.0, 6.0]),
])
def test_prema_first_seen_token_is_the_priority_and_does_not_set_the_threshold(profile, finish):
    """PREMA. r0 = 4 x 1 s (p=3, Tiso 4) at 0; r1 = one 5 s layer (p=9, Tiso 5) at 0.5."""
    tab = h.tables(h.model_pattern("a/p/0.5", [[1.0] * 4]), h.model_pattern("b/p/0.5", [[5.0]]))
    res = run(tab, [0.0, 0.5], [0, 1], [100.0] * 2, "prema", priority=[3, 9], profile=profile)
    np.testing.assert_allclose(res.finish, finish)


def _gamma_tables():
    """A = m/p: 3 layers of 1 s, calibration samples 0 and 1 with densities [0.1, 0.1, 0.5] and
    [0.7, 0.9, 0.5] -> rhobar [0.4, 0.5, 0.5]. Sample 0's ratios are 0.25, 0.2, 1: average-all
    gamma 0.25 after its first layer, 0.225 after its second. B = b/p: one 0.8 s layer.
    C = c/p: 6 layers of 1 s (gamma stays 1)."""
    a = h.model_pattern("m/p/0.5", [[1.0] * 3] * 2, rho=[[0.1, 0.1, 0.5], [0.7, 0.9, 0.5]])
    b = h.model_pattern("b/p/0.5", [[0.8]])
    c = h.model_pattern("c/p/0.5", [[1.0] * 6])
    return h.tables(a, b, c)


@pytest.mark.parametrize("profile, finish", [
    # reference: t=0 A alone 0..1 (gamma 0.25). t=1: B admitted; A token 1 (waited 0), B first
    # seen 1 -> threshold 1, both candidates. Every Rbar is multiplied by the gamma of the LAST
    # request in queue order, B's 1: A 1 x 2.0 = 2.0 > B 0.8 -> B 1..1.8; A 1.8..3.8.
    ("reference", [3.8, 1.8]),
    # own gamma: A 0.25 x 2.0 = 0.5 < 0.8 -> A 1..3, B 3..3.8.
    (replace(REF, name="own-gamma", prema_stale_gamma=False), [3.0, 3.8]),
])
def test_prema_sparse_uses_the_gamma_of_the_last_request_in_queue(profile, finish):
    """prema-sparse, all priorities 1. A (sample 0) at 0; B at 0.5."""
    tab = _gamma_tables()
    res = run(tab, [0.0, 0.5], [0, 1], [100.0] * 2, "prema-sparse", profile=profile)
    np.testing.assert_allclose(res.finish, finish)


@pytest.mark.parametrize("profile, finish", [
    # reference, A's gain divided by its gamma x Tiso_est 3:
    #   t=0 A alone (token 1) 0..1, gamma 0.25. t=1: C admitted, first seen (3, not counted);
    #   A token 1 -> threshold 1; R x gamma of C (1): A 2 < C 6 -> A 1..2, gamma 0.225.
    #   t=2: C gains 3 x 1.5/(1 x 6) = 0.75 -> 3.75 -> threshold 3 -> C 2..3.
    #   t=3: A gains 1 x 1/(0.225 x 3) = 1.48 -> 2.48 < 3 -> C 3..4.
    #   t=4: A gains 1 x 2/0.675 = 2.96 -> 5.44 >= 3: candidates A (R 1) and C (R 4) -> A 4..5;
    #   C 5..9.
    ("reference", [5.0, 9.0]),
    # without the gamma: A gains 1/3, 2/3 (-> 2.0 at t=4 < 3), 3/3 (-> 3.0 at t=5): C 4..5, then
    # A (R 1 < C's 3) 5..6, C 6..9.
    (replace(REF, name="plain-token", prema_gamma_token=False), [6.0, 9.0]),
])
def test_prema_sparse_token_grows_by_wait_over_gamma_times_isolated_latency(profile, finish):
    """prema-sparse. A (sample 0, p=1) at 0; C (p=3) at 0.5. Tokens re-accumulate the whole
    wait since the last layer (the artifact, already in the reference profile)."""
    tab = _gamma_tables()
    res = run(tab, [0.0, 0.5], [0, 2], [100.0] * 2, "prema-sparse", priority=[1, 3], profile=profile)
    np.testing.assert_allclose(res.finish, finish)


# ----------------------------------------------------------------------------- Planaria, SDRM3

@pytest.mark.parametrize("profile, finish", [
    # paper: t=1 every deadline has passed -> highest priority, r1 (p=9) 1..2, then r2 (p=3)
    # 2..3, r0 3..4.
    ("paper", [4.0, 2.0, 3.0]),
    # reference: t=1 scores p/(D - t): r0 1/-0.9 = -1.1, r1 9/-0.8 = -11.25, r2 3/-0.7 = -4.3.
    # The scan keeps r0, then r1 replaces it (best < 0), then r2 (best < 0) -> r2 1..2.
    # t=2: r0 -0.53, r1 -5 -> r1 replaces r0 -> r1 2..3; r0 3..4.
    ("reference", [4.0, 3.0, 2.0]),
])
def test_planaria_behind_an_expired_best_the_next_request_takes_over(profile, finish):
    """Planaria. r0 = 2 x 1 s (p=1, D=0.1) at 0; r1 = 1 s (p=9, D=0.2) at 0.2; r2 = 1 s (p=3,
    D=0.3) at 0.4. t=0: r0 alone 0..1."""
    tab = h.tables(h.model_pattern("a/p/0.5", [[1.0, 1.0]]), h.model_pattern("b/p/0.5", [[1.0]]))
    res = run(tab, [0.0, 0.2, 0.4], [0, 1, 1], [0.1, 0.2, 0.3], "planaria", priority=[1, 9, 3],
              profile=profile)
    np.testing.assert_allclose(res.finish, finish)


def test_planaria_live_requests_rank_by_priority_over_slack_in_the_scan():
    """Planaria, reference, no deadline passed: the largest p/(D - t) wins.

    r0 = 2 x 1 s (p=1, D=10) at 0; r1 = 1 s (p=3, D=7) at 0.5; r2 = 1 s (p=1, D=1.5) at 0.75.
    t=1: r0 1/9 = 0.11, r1 3/6 = 0.5, r2 1/0.5 = 2 -> r2 1..2. t=2: r0 1/8, r1 3/5 -> r1 2..3;
    r0 3..4.
    """
    tab = h.tables(h.model_pattern("a/p/0.5", [[1.0, 1.0]]), h.model_pattern("b/p/0.5", [[1.0]]))
    res = run(tab, [0.0, 0.5, 0.75], [0, 1, 1], [10.0, 7.0, 1.5], "planaria", priority=[1, 3, 1])
    np.testing.assert_allclose(res.finish, [4.0, 3.0, 2.0])


@pytest.mark.parametrize("profile, finish", [
    # paper: t=1 r0's slack <= 0 -> urgency 1, MapScore 1 + 0 = 1; r1 urgency 1/99 + fairness
    # 0.5/1 = 0.51 -> r0 1..2, r1 2..3.
    ("paper", [2.0, 3.0]),
    # reference: r0's urgency R/(D - t) = 1/-0.5 = -2 -> MapScore -2 < 0: the scan moves on to r1
    # -> r1 1..2, r0 2..3.
    ("reference", [3.0, 2.0]),
])
def test_sdrm3_urgency_goes_negative_after_a_deadline(profile, finish):
    """SDRM3 (alpha 1). r0 = 2 x 1 s (D=0.5) at 0, r1 = 1 s (D=100) at 0.5. t=0: r0 alone."""
    tab = h.tables(h.model_pattern("a/p/0.5", [[1.0, 1.0]]), h.model_pattern("b/p/0.5", [[1.0]]))
    res = run(tab, [0.0, 0.5], [0, 1], [0.5, 100.0], "sdrm3", profile=profile)
    np.testing.assert_allclose(res.finish, finish)


def test_sdrm3_a_lower_score_replaces_a_negative_best():
    """SDRM3, reference. r0 = 2 x 1 s (D=0.5) at 0; r1 = 1 s (D=0.7) at 0.5; r2 = 1 s (D=0.75)
    at 0.6. t=1: MapScores r0 1/-0.5 + 0 = -2; r1 1/-0.3 + 0.5 = -2.83; r2 1/-0.25 + 0.4 = -3.6.
    The scan: r0, r1 replaces (best -2 < 0), r2 replaces (best < 0) -> r2 1..2, although its
    score is the lowest. t=2: r0 1/-1.5 + 1/1 = 0.33, r1 1/-1.3 + 1.5 = 0.73 -> r1 2..3; r0 3..4.
    """
    tab = h.tables(h.model_pattern("a/p/0.5", [[1.0, 1.0]]), h.model_pattern("b/p/0.5", [[1.0]]))
    res = run(tab, [0.0, 0.5, 0.6], [0, 1, 1], [0.5, 0.7, 0.75], "sdrm3")
    np.testing.assert_allclose(res.finish, [4.0, 3.0, 2.0])


def test_scan_equal_scores_keep_the_earlier_arrival():
    """Planaria, reference. r0 = 2 x 1 s (p=1, D=3) at 0; r1 = 1 s (p=1, D=3) at 0.5 and r2 =
    1 s (p=3, D=7) at 0.75. t=1: r0 1/2, r1 1/2, r2 3/6 = 1/2: all equal -> r0 (the earliest)
    1..2. t=2: r1 1/1 = 1 > r2 3/5 -> r1 2..3; r2 3..4."""
    tab = h.tables(h.model_pattern("a/p/0.5", [[1.0, 1.0]]), h.model_pattern("b/p/0.5", [[1.0]]))
    res = run(tab, [0.0, 0.5, 0.75], [0, 1, 1], [3.0, 3.0, 7.0], "planaria", priority=[1, 1, 3])
    np.testing.assert_allclose(res.finish, [2.0, 3.0, 4.0])


# ----------------------------------------------------------------------------- Dysta

@pytest.mark.parametrize("profile, capacity, finish", [
    # paper at capacity 8: pen / 8. t=1: r0 1 + 1 x (0 + 0) = 1.0; r1 0.9 + (0.5/0.9)/2/8 =
    # 0.935 -> r1 1..1.9, r0 1.9..2.9.
    ("paper", 8.0, [2.9, 1.9]),
    # reference: no capacity factor: r1 0.9 + (0.5/0.9)/2 = 1.178 > 1.0 -> r0 1..2, r1 2..2.9.
    ("reference", 8.0, [2.0, 2.9]),
    (replace(PAPER, name="no-capacity", penalty_capacity=False), 8.0, [2.0, 2.9]),
    # at capacity 1 the factor changes nothing: paper as reference.
    ("paper", 1.0, [2.0, 2.9]),
])
def test_dysta_penalty_has_no_capacity_factor(profile, capacity, finish):
    """Dysta, beta = eta = 1; every deadline already missed (slack clamps to 0), so the score is
    Trem + pen with pen = (w / Tiso_est) / |Q| [/ C]. r0 = 2 x 1 s at 0; r1 = one 0.9 s layer at
    0.5. t=0: r0 alone 0..1; at t=1 both queued (w: r0 0, r1 0.5)."""
    tab = h.tables(h.model_pattern("a/p/0.5", [[1.0, 1.0]]), h.model_pattern("b/p/0.5", [[0.9]]),
                   capacity=capacity)
    res = run(tab, [0.0, 0.5], [0, 1], [0.1, 0.1], "dysta", options=Options(beta=1.0, eta=1.0),
              profile=profile)
    np.testing.assert_allclose(res.finish, finish)


def test_reference_profile_lists_every_artifact_behaviour():
    """The reference profile turns on every behaviour of SPEC 9 (and the paper profile none)."""
    on = {"strict_admission", "prema_reaccumulate", "eta_from_beta", "clock_rewind", "prema_first_seen",
          "prema_gamma_token", "prema_stale_gamma", "scan_selection"}
    for f in on:
        assert getattr(REF, f) is True and getattr(PAPER, f) is False, f
    assert REF.predictor == "average-all" and PAPER.predictor is None
    assert REF.static_score is False and PAPER.static_score is True
    assert REF.penalty_capacity is False and PAPER.penalty_capacity is True
    assert REF.all_samples is True and PAPER.all_samples is False


# ----------------------------------------------------------------------------- look-up tables

def test_reference_look_up_tables_use_every_sample():
    """m/a: sample 0 (calibration) 2 x 1 s, sample 1 (test) 3 s + 1 s; m/b: one calibration
    sample of 2 x 2 s. Calibration split: Rbar(m/a) = [2, 1, 0]; per model, the mean of the two
    patterns' means: Lbar = [1.5, 1.5]. Every sample (the artifact): Rbar(m/a) = [3, 1, 0]
    (Lbar [2, 1]); per model, the mean over the model's 3 samples: Lbar = [(1+3+2)/3,
    (1+1+2)/3] = [2, 4/3]."""
    a = h.model_pattern("m/a/0.5", [[1.0, 1.0], [3.0, 1.0]], calib=[True, False])
    b = h.model_pattern("m/b/0.5", [[2.0, 2.0]])
    pack = h.pack(a, b)
    calib = ScenarioTables.build(pack, "attnn")
    every = ScenarioTables.build(pack, "attnn", all_samples=True)
    np.testing.assert_allclose(calib.rbar[:3], [2.0, 1.0, 0.0])
    np.testing.assert_allclose(every.rbar[:3], [3.0, 1.0, 0.0])
    np.testing.assert_allclose(calib.lbar_model[:2], [1.5, 1.5])
    np.testing.assert_allclose(every.lbar_model[:2], [2.0, 4.0 / 3.0])
    np.testing.assert_allclose(every.tiso_est_model, [2.0 + 4.0 / 3.0] * 2)
    # the true traces and the SLO base do not depend on it
    np.testing.assert_array_equal(calib.lat, every.lat)
    np.testing.assert_array_equal(calib.tbar_model, every.tbar_model)


def test_sweeps_in_the_reference_profile_use_every_sample():
    pack = resolve_pack(None)
    _, paper = sweep._tables(None, "attnn", profile="paper")
    _, ref = sweep._tables(None, "attnn", profile="reference")
    np.testing.assert_array_equal(ref.rbar, ScenarioTables.build(pack, "attnn", all_samples=True).rbar)
    np.testing.assert_array_equal(paper.rbar, ScenarioTables.build(pack, "attnn").rbar)
    assert not np.array_equal(ref.rbar, paper.rbar)  # measured-v2 has a test split
