"""The paper-claims logic on constructed per-seed results: holds, does not hold, not significant."""

import numpy as np
import pytest

import helpers as h
from dysta_sw.report.claims import Runs, paired_table, render, scheduling_claims, trace_claims
from dysta_sw.report.grid import ScenarioGrid
from dysta_sw.stats import FAILS, HOLDS, UNDECIDED
from dysta_sw.trace import resolve_pack

GRID = ScenarioGrid("attnn", "Multi-AttNN", 10.0, 20.0, (10.0, 20.0), (10.0, 50.0))
SCHEDULERS = ("fcfs", "sjf", "sdrm3", "prema", "planaria", "dysta", "dysta-nosparse")
NOISE = [0.0, 0.01, -0.01, 0.02, -0.02]  # per seed, shared by every scheduler (common random numbers)


def rows(values, seeds=5):
    """Per-seed rows at every point of GRID: ``values[scheduler] = (violation, antt)`` plus the seed's
    shared noise, or a callable ``seed -> (violation, antt)``."""
    out = []
    for rate, slo in GRID.points():
        for s in SCHEDULERS:
            for seed in range(seeds):
                v = values[s]
                viol, antt = v(seed) if callable(v) else (v[0] + NOISE[seed], v[1] + 10 * NOISE[seed])
                out.append({"scenario": "attnn", "rate": rate, "slo": slo, "scheduler": s, "seed": seed,
                            "violation_rate": viol, "antt": antt})
    return out


BETTER = {"fcfs": (0.5, 18.0), "sjf": (0.15, 5.0), "sdrm3": (0.6, 19.0), "prema": (0.15, 5.4),
          "planaria": (0.07, 16.0), "dysta-nosparse": (0.06, 5.0), "dysta": (0.05, 4.7)}


def claim(claims, where, words):
    (c,) = [c for c in claims if c.where == where and words in c.statement]
    return c


def test_dysta_below_every_baseline_holds():
    cl = scheduling_claims(rows(BETTER), [GRID], SCHEDULERS)
    t5 = claim(cl, "Table 5, Multi-AttNN", "lowest violation rate")
    assert t5.verdict == HOLDS and len(t5.parts) == 10  # 5 baselines x 2 metrics
    assert claim(cl, "Table 5, Multi-AttNN", "against Planaria").verdict == HOLDS
    assert "Planaria/Dysta ANTT = 3.40x" in claim(cl, "Table 5, Multi-AttNN", "against Planaria").measured
    assert claim(cl, "Fig. 12, Multi-AttNN", "lower left").verdict == HOLDS
    assert claim(cl, "Fig. 13, Multi-AttNN", "static level").verdict == HOLDS
    assert claim(cl, "Fig. 13, Multi-AttNN", "dynamic level").verdict == HOLDS
    fig14 = claim(cl, "Fig. 14, Multi-AttNN", "every SLO")
    assert fig14.verdict == HOLDS and len(fig14.parts) == 2 * 2 * 5 * 2  # rates x SLOs x baselines x metrics
    assert claim(cl, "Fig. 15, Multi-AttNN", "every rate").verdict == HOLDS


def test_a_baseline_better_than_dysta_does_not_hold():
    values = dict(BETTER, planaria=(0.03, 16.0))  # Planaria misses fewer deadlines on every seed
    cl = scheduling_claims(rows(values), [GRID], SCHEDULERS)
    t5 = claim(cl, "Table 5, Multi-AttNN", "lowest violation rate")
    assert t5.verdict == FAILS
    assert dict(t5.parts)["planaria violation_rate @ 10/s, SLO 10"] == FAILS
    assert dict(t5.parts)["planaria antt @ 10/s, SLO 10"] == HOLDS
    assert "planaria: 2.00 ± 0.00 pp" in t5.measured


# Dysta's violation rate 0.05 + or - 0.03 around SJF's 0.05 (+ the seed's noise), alternating by seed:
# differences -3, +2, -2, +1, -1 pp
AROUND_SJF = dict(BETTER, sjf=(0.05, 5.0), dysta=lambda seed: (0.05 + (0.03 if seed % 2 else -0.03), 4.7))


def test_differences_within_seed_noise_are_not_significant():
    values = AROUND_SJF
    cl = scheduling_claims(rows(values), [GRID], SCHEDULERS)
    t5 = claim(cl, "Table 5, Multi-AttNN", "lowest violation rate")
    assert t5.verdict == UNDECIDED
    parts = dict(t5.parts)
    assert parts["sjf violation_rate @ 10/s, SLO 10"] == UNDECIDED
    assert parts["sjf antt @ 10/s, SLO 10"] == HOLDS


def test_ties_neither_support_nor_contradict():
    # Dysta and Dysta w/o sparsity equal on every seed: a tie, so the dynamic-level claim is undecided
    values = dict(BETTER, dysta=BETTER["dysta-nosparse"])
    cl = scheduling_claims(rows(values), [GRID], SCHEDULERS)
    dyn = claim(cl, "Fig. 13, Multi-AttNN", "dynamic level")
    assert dyn.parts == [("ANTT", "tie")] and dyn.verdict == UNDECIDED
    runs = Runs(rows(values))
    ci, tie = runs.diff("attnn", 10.0, 10.0, "dysta", "dysta-nosparse", "antt")
    assert tie and ci.mean == 0.0 and ci.half == 0.0


def test_one_seed_decides_nothing():
    cl = scheduling_claims(rows(BETTER, seeds=1), [GRID], SCHEDULERS)
    assert {c.verdict for c in cl} == {UNDECIDED}


def test_paired_table_marks_intervals_that_exclude_zero():
    md = paired_table(rows(AROUND_SJF), [("A", "attnn", 10.0, 10.0)], ["sjf", "planaria"])
    lines = md.splitlines()
    assert lines[0] == "| Dysta minus | A viol. (pp) | A ANTT |"
    sjf = lines[2].split(" | ")
    # -3, 2, -2, 1, -1: mean -0.6, s^2 = 17.2 / 4, half = 2.776445 * 2.073644 / sqrt(5) = 2.5747
    assert sjf[1] == "-0.60 ± 2.57"  # around 0: no star
    assert sjf[2] == "-0.30 ± 0.20* |"  # ANTT 0.3 lower on average (0.1 to 0.5): excludes 0


def test_render_counts_the_verdicts():
    cl = scheduling_claims(rows(BETTER), [GRID], SCHEDULERS)
    md = render(cl, n_seeds=5)
    assert md.startswith("## Paper claims")
    # Dysta's margins are the same at both rates (ties on every seed): "the gain grows" is undecided
    gain = claim(cl, "Fig. 15, Multi-AttNN", "grows")
    assert gain.verdict == UNDECIDED and dict(gain.parts) == {"violation": "tie", "ANTT": "tie"}
    assert len(cl) == 8
    assert "Summary: 7 hold, 0 do not hold, 1 not significant." in md
    assert "(5 seeds)" in md


def test_trace_claims_on_a_constructed_pack():
    """Table 2 against the paper's figures (within a factor of 2), Fig. 9 against a correlation of 0.7."""
    rng = np.random.default_rng(0)
    base = rng.uniform(0.5, 1.5, size=(40, 1))
    correlated = np.clip(0.3 * base * np.ones((40, 6)) + 0.001 * rng.standard_normal((40, 6)), 0, 1)
    independent = rng.uniform(0.1, 0.5, size=(40, 6))
    bert = h.model_pattern("bert/sanger/0.1", np.ones((40, 6)) * 1e-3, rho=correlated)
    gpt2 = h.model_pattern("gpt2/sanger/0.1", np.ones((40, 6)) * 1e-3, rho=independent)
    pack = h.pack(bert, gpt2, scenario="attnn")
    fig9 = claim(trace_claims(pack), "Fig. 9", "highly correlated")
    assert dict(fig9.parts) == {"bert/sanger/0.1": HOLDS, "gpt2/sanger/0.1": FAILS}
    assert fig9.verdict == FAILS


@pytest.mark.parametrize("name", ["measured-v2"])
def test_trace_claims_on_the_shipped_pack(name):
    cl = trace_claims(resolve_pack(name))
    assert [c.where for c in cl] == ["Table 2", "Table 4", "Sec. 5.1, Table 4", "Sec. 5.1, Table 4", "Fig. 9"]
    # measured-v2 (docs/statistics.md): the fitted alpha predicts better than none on every model-pattern
    assert cl[3].verdict == HOLDS and "better on 15 of 15" in cl[3].measured
