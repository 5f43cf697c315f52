"""``dysta bench --speed`` runs and prints every figure (the figures themselves are not asserted)."""

import numpy as np
import pytest

from dysta_sw import speed
from dysta_sw.hwmodel import HW_POLICY_NAMES
from dysta_sw.policies import POLICY_NAMES


def test_bound_loop_counts_decisions():
    q = np.array([1, 3, 7, 2], np.int64)
    # By hand: each decision picks the first least of the first q slot values and adds 1 to it;
    # the result sums the winners' new values. Pass 1: slots 0, 1, 2, 0 win -> 1 + 1 + 1 + 2;
    # pass 2: slots 0, 1, 3, 1 win -> 3 + 2 + 1 + 3.
    assert speed._bound_loop(q, 2) == 14.0
    assert speed.bound(q, min_seconds=0.01) > 0


@pytest.mark.slow
def test_speed_benchmark_prints_every_scheduler():
    lines = []
    assert speed.run_benchmark(seeds=1, requests=60, reproduce=False, out=lines.append) == 0
    text = "\n".join(lines)
    assert "cold start (empty cache, fresh process)" in text and "warm start" in text
    for scenario in ("attnn", "cnn"):
        for name in POLICY_NAMES + HW_POLICY_NAMES:
            row = [ln for ln in lines if ln.split()[:2] == [scenario, name]]
            assert len(row) == 1, (scenario, name)
            decisions, mean_q, wall, cpu, bound, share = row[0].split()[2:]
            assert int(decisions) > 0 and float(cpu) > 0 and float(bound) > 0 and share.endswith("%")
    assert "slowest of the Table 5 schedulers" in text and "readable numpy engine" in text


def test_reproduce_sections_are_timed(tmp_path, monkeypatch):
    """The timed ``reproduce`` of the benchmark labels the grid and the figures it ran, and each
    plug-in section times itself (here the trace statistics only), and nothing else."""
    from dysta_sw.report import grid, paper, sections

    for name in ["run_grid", *[n for n in vars(paper) if n.startswith("plot_")]]:
        monkeypatch.setattr(paper, name, getattr(paper, name))  # restored after the test
    times, cpu = {}, {}
    speed._time_report(times, cpu)
    paper.reproduce(grid.Config(quick=True, seeds=1, requests=30, sections=("trace-stats",)), tmp_path, jobs=1)
    assert set(times) == {"scheduling grid (Table 5, Figs. 12-15), compiling the engine (JIT)", "figures 12-15"}
    assert set(cpu) == set(times) and all(t > 0 for t in times.values())
    assert list(sections.timings) == ["trace-stats"]
    wall, sec_cpu, where = sections.timings["trace-stats"]
    assert wall > 0 and sec_cpu > 0 and where == ""  # --jobs 1: in this process
    assert "## Benchmark traces" in (tmp_path / "report.md").read_text()
