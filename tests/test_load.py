"""Load calibration (dysta_sw.load): how each scenario's rates are set."""

import pytest

import helpers as h
from dysta_sw import load
from dysta_sw.cli import main
from dysta_sw.errors import DystaInputError
from dysta_sw.report.grid import FULL, QUICK, Config
from dysta_sw.tables import ScenarioTables
from dysta_sw.trace import resolve_pack


def test_parse():
    assert load.parse("fcfs") == "fcfs" and load.parse("paper-scale") == "paper-scale"
    assert load.parse("0.80") == "0.8"
    for bad in ("fast", "0", "-1", "nan", "11"):
        with pytest.raises(DystaInputError, match="--load"):
            load.parse(bad)


def test_paper_scale_is_the_packs_capacity():
    p = resolve_pack("measured-v2")
    cal = load.calibrate(p, "attnn", "paper-scale")
    assert (cal.factor, cal.rate) == (9.72, 292.0)  # README: capacity 9.72, Table 5 rate 292/s
    cfg = Config(quick=True, load="paper-scale")
    assert cfg.grids == tuple(g.on(p) for g in QUICK)


def test_a_utilisation_sets_the_offered_load():
    # isolated latencies 2 ms and 4 ms (mean 3 ms) and 6 ms: a request takes 4.5 ms on average
    a = h.model_pattern("m/a/0", [[1e-3, 1e-3], [2e-3, 2e-3]])
    b = h.model_pattern("m/b/0", [[3e-3, 3e-3]])
    cal = load.calibrate(h.pack(a, b, scenario="attnn"), "attnn", "0.9")
    assert cal.rate == 200.0  # 0.9 / 4.5 ms
    assert cal.factor == pytest.approx(200.0 / 30.0)


@pytest.mark.parametrize("scenario", ["attnn", "cnn"])
def test_fcfs_misses_the_papers_share_of_deadlines(scenario):
    """On synthetic-v1 with 300 requests: FCFS at the calibrated rate misses the paper's 55.1 % / 23.1 %
    (to the rate's 3 significant digits), fewer 5 % below it and more 5 % above it."""
    p = resolve_pack("synthetic-v1")
    cal = load.calibrate(p, scenario, "fcfs", n_requests=300)
    target = load.PAPER_FCFS[scenario][0]
    tables = ScenarioTables.build(p, scenario)
    seeds = range(load.CALIBRATION_SEEDS)
    viol = load.fcfs_at(p, tables, cal.rate, seeds, 300)[0]
    assert viol == cal.fcfs_violation and viol == pytest.approx(target, abs=0.01)
    assert load.fcfs_at(p, tables, cal.rate * 0.95, seeds, 300)[0] < target
    assert load.fcfs_at(p, tables, cal.rate * 1.05, seeds, 300)[0] > target
    assert "FCFS there: " in load.describe(cal, p)


def test_fcfs_falls_back_when_it_cannot_miss_that_many():
    # 3 requests: FCFS cannot miss 55.1 % of the deadlines at SLO 10 (at most one of three)
    p = resolve_pack("synthetic-v1")
    cal = load.calibrate(p, "attnn", "fcfs", n_requests=3)
    assert cal.method == "paper-scale" and cal.rate == p.paper_rate("attnn")
    assert "fell back to `paper-scale`" in load.describe(cal, p)


def test_the_grid_follows_the_calibration():
    cfg = Config(traces="synthetic-v1", requests=300)
    for g, base in zip(cfg.grids, FULL):
        cal = cfg.calibration(g.scenario)
        assert g.main_rate == cal.rate
        assert g.rates == tuple(float(f"{r * cal.factor:.2e}") for r in base.rates)
        assert g.slos == base.slos


def test_bench_takes_load(capsys):
    assert main(["bench", "--traces", "synthetic-v1", "--scheduler", "fcfs", "--seeds", "1", "--requests", "50",
                 "--load", "0.5", "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("attnn,18.5,10.0,fcfs")  # 0.5 / 27 ms = 18.5/s
    with pytest.raises(SystemExit) as e:
        main(["bench", "--load", "fast"])
    assert e.value.code == 2
    assert "--load must be one of paper-scale, fcfs" in capsys.readouterr().err
