"""The report's independent sections and Figs. 12-15 render in processes of their own while the
grid runs (dysta_sw.report.sections.start, dysta_sw.cluster.Background): same report, same files."""

import os
import sys
import types
from importlib import metadata

import pytest

from dysta_sw import plugins
from dysta_sw.report import grid, paper, sections

CFG = dict(quick=True, seeds=1, requests=30)


@pytest.fixture
def pid_sections(monkeypatch):
    """Two plug-in sections that print the process they rendered in: one independent, one not;
    and one independent section that fails when ``DYSTA_TEST_FAIL`` is set."""
    mod = types.ModuleType("dysta_pid_sections")

    def fail(ctx):
        if os.environ.get("DYSTA_TEST_FAIL"):
            raise RuntimeError("the independent section failed")
        return "## Fails\n"
    mod.INDEPENDENT = sections.Section("Independent", 10, lambda ctx: f"## Independent\n\npid {os.getpid()}\n",
                                       independent=True)
    mod.MAIN = sections.Section("Main", 11, lambda ctx: f"## Main\n\npid {os.getpid()}\n")
    mod.FAILS = sections.Section("Fails", 12, fail, independent=True)
    monkeypatch.setitem(sys.modules, "dysta_pid_sections", mod)
    real = plugins.entry_points
    extra = [("pid-independent", "dysta_pid_sections:INDEPENDENT"), ("pid-main", "dysta_pid_sections:MAIN"),
             ("pid-fails", "dysta_pid_sections:FAILS")]

    def fake(group):
        found = real(group)
        if group == plugins.REPORT_SECTIONS:
            found += tuple(metadata.EntryPoint(n, v, group) for n, v in extra)
        return found
    monkeypatch.setattr(plugins, "entry_points", fake)
    return ("pid-independent", "pid-main", "pid-fails", "trace-stats")


def _pids(report: str) -> dict:
    out, title = {}, None
    for line in report.splitlines():
        if line.startswith("## "):
            title = line[3:]
        elif line.startswith("pid "):
            out[title] = int(line[4:])
    return out


@pytest.mark.parametrize("jobs", [1, 2])
def test_independent_sections_render_in_their_own_process(pid_sections, tmp_path, jobs):
    out = tmp_path / f"jobs{jobs}"
    paper.reproduce(grid.Config(**CFG, sections=pid_sections), out, jobs=jobs)
    report = (out / "report.md").read_text()
    pids = _pids(report)
    assert pids["Main"] == os.getpid()
    # --jobs 1 keeps everything here; otherwise the independent section rendered elsewhere
    assert (pids["Independent"] == os.getpid()) == (jobs == 1)
    # report order is the sections' order, wherever they rendered
    assert report.index("## Independent") < report.index("## Main") < report.index("## Fails") \
        < report.index("## Benchmark traces")
    where = {name: t[2] for name, t in sections.timings.items()}
    expect = "background" if jobs > 1 else ""
    assert where == {"pid-independent": expect, "pid-main": "", "pid-fails": expect, "trace-stats": expect}
    assert {p.name for p in out.glob("fig1*.png")} == {"fig12_tradeoff.png", "fig13_breakdown.png",
                                                       "fig14_slo_sweep.png", "fig15_rate_sweep.png"}
    assert bool(paper.figure_timing) == (jobs > 1)


def test_same_report_and_figures_wherever_they_rendered(tmp_path):
    runs = {}
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        paper.reproduce(grid.Config(**CFG, sections=("trace-stats",)), out, jobs=jobs)
        runs[jobs] = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix == ".png"}
        text = (out / "report.md").read_text().splitlines()
        runs[jobs]["report.md"] = [line for line in text if "report total" not in line]
    assert runs[1].keys() == runs[2].keys() and len(runs[1]) >= 9
    for name in runs[1]:
        assert runs[1][name] == runs[2][name], name


def test_a_failing_background_section_fails_the_run(pid_sections, tmp_path, monkeypatch):
    monkeypatch.setenv("DYSTA_TEST_FAIL", "1")
    with pytest.raises(RuntimeError, match="the independent section failed"):
        paper.reproduce(grid.Config(**CFG, sections=pid_sections), tmp_path / "out", jobs=2)
    assert not (tmp_path / "out" / "report.md").exists()
