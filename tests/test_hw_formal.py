# amaranth: UnusedElaboratable=no
"""Formal checks of the scheduler (dysta_hw.formal) with yowasp-sby and Boolector.

Bounded model checks of every property on a depth-8 FP16 scheduler, the k-induction proof of
``full_not_ready``, a cover check that the environment assumptions leave the interesting states
reachable (so the checks are not vacuous), mutants of each check that must fail, and the bound
of ``bounded_decision`` against simulation. Longer bounds, both units: ``nox -s formal``.
"""

import pytest

from dysta_hw.formal import MUTANTS, PROPERTIES, Properties, small_scheduler, worst_decision
from dysta_hw.formal.run import check
from dysta_hw.sched.sim import Job, Layer, Table, run

# BMC steps on the separate units: a layer count is programmed (step 0) before a request is
# accepted; the table fills within 10 steps; 16 steps hold requests accepted, dispatched and
# retired; a rescoring decision of two requests ends by step ~28 (N + 20 cycles after a layer-done);
# 44 steps reach the longest decision (a full table, the running request retiring, 30 cycles),
# which the ``tight_bound`` mutant shows. The shared unit and longer bounds: ``nox -s formal``.
STEPS = {"full_not_ready": 12, "no_loss": 16, "min_score": 30, "bounded_decision": 44}


@pytest.mark.formal
@pytest.mark.parametrize("prop", [pytest.param(p, marks=pytest.mark.smoke) if p == "full_not_ready" else p
                                  for p in PROPERTIES])
def test_property_bmc(prop, tmp_path, formal_tools):
    r = check(prop, mode="bmc", steps=STEPS[prop], workdir=tmp_path, timeout=900, shared=False)
    assert r.status == "PASS", r.log


@pytest.mark.formal
@pytest.mark.parametrize("shared", [True, False], ids=["shared", "separate"])
def test_full_not_ready_proven(shared, tmp_path, formal_tools):
    """k-induction closes for full_not_ready: it holds in every reachable state, not only in the first
    steps."""
    r = check("full_not_ready", mode="prove", steps=2, workdir=tmp_path, timeout=600, shared=shared)
    assert r.status == "PASS", r.log


@pytest.mark.formal
@pytest.mark.parametrize("shared", [True, False], ids=["shared", "separate"])
def test_assumptions_not_vacuous(shared, tmp_path, formal_tools):
    """Under the same assumptions a done, a full table and a rescoring decision are reachable."""
    r = check("reach", mode="cover", steps=32, workdir=tmp_path, timeout=600, shared=shared)
    assert r.status == "PASS", r.log


@pytest.mark.formal
@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_mutants_fail(mutant, tmp_path, formal_tools):
    """Each check catches a deliberate mistake, with a counterexample trace."""
    prop = MUTANTS[mutant]
    r = check(prop, mode="bmc", steps=STEPS[prop], workdir=tmp_path, mutant=mutant, timeout=900, shared=False)
    assert r.status == "FAIL", r.log
    assert r.trace and r.trace.endswith(".vcd")


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "separate"])
def test_worst_decision_is_reached_in_simulation(shared):
    """The bound of ``bounded_decision`` is the longest decision a simulation shows: a full table,
    then the running request retiring with 7 left (separate units) or not (shared unit)."""
    dut = small_scheduler(shared=shared)
    writes = [(Table.R, 0, 0, 0), (Table.R, 0, 1, 0), (Table.R, 0, 2, 0), (Table.INV_TISO, 0, 0, 0),
              (Table.LAYERS, 0, 0, 2), (Table.ETA, 0, 0, 0)]
    # request 0 runs long layers while the other seven fill the table
    jobs = [Job(0, i, 0, 1000, (Layer(12), Layer(12)) if i == 0 else (Layer(2), Layer(2))) for i in range(8)]
    rec = run(dut, writes, jobs)
    dispatches = [c for c, *_ in rec.dispatches]
    gaps = [min(c for c in dispatches if c > ld.cycle) - ld.cycle for ld in rec.layer_dones[:-1]]
    assert max(gaps) == worst_decision(dut)


def test_bad_names():
    with pytest.raises(ValueError, match="unknown property"):
        Properties(small_scheduler(), "fast")
    with pytest.raises(ValueError, match="does not apply"):
        Properties(small_scheduler(), "no_loss", mutant="max_score")
    with pytest.raises(ValueError, match="mode"):
        check("no_loss", mode="sim", workdir=".")
