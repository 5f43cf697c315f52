"""A sweep's rows, their order, the means and the printed table do not depend on --jobs."""

from dysta_sw import sweep
from dysta_sw.cli import main
from dysta_sw.policies import POLICY_NAMES
from dysta_sw.report.tables import text_table
from dysta_sw.trace import resolve_pack


def _sweeps():
    pack = resolve_pack(None)
    return [sweep.grid(s, [pack.paper_rate(s), pack.paper_rate(s, 4.0 if s == "cnn" else 40.0)], [10.0, 50.0],
                       POLICY_NAMES[::-1], seeds=(0, 1, 2), n_requests=150) for s in ("cnn", "attnn")]


def test_rows_are_the_same_in_the_same_order_for_any_jobs():
    one = sweep.run(_sweeps(), jobs=1, progress=False)
    two = sweep.run(_sweeps(), jobs=2, progress=False)
    assert two.rows == one.rows
    assert two.means() == one.means()
    assert two.decisions == one.decisions
    # the order is scenario as given, scheduler as listed, then rate, multiplier and seed
    keys = [(r["scenario"], r["scheduler"], r["rate"], r["slo"], r["seed"]) for r in one.rows]
    rank = {(sw.scenario, name): (k, j) for k, sw in enumerate(_sweeps()) for j, name in enumerate(sw.schedulers)}
    assert keys == sorted(keys, key=lambda k: (rank[k[:2]], *k[2:]))
    assert [r["scheduler"] for r in one.means()][:2] == [POLICY_NAMES[-1], POLICY_NAMES[-1]]
    assert text_table(two.means()) == text_table(one.means())


def test_bench_output_and_files_do_not_depend_on_jobs(tmp_path, capsys):
    args = ["bench", "--scenario", "cnn", "attnn", "--seeds", "2", "--requests", "120", "--slo", "10", "50",
            "--format", "csv"]
    assert main([*args, "--jobs", "1", "--runs-csv", str(tmp_path / "a.csv")]) == 0
    first = capsys.readouterr().out
    assert main([*args, "--jobs", "2", "--runs-csv", str(tmp_path / "b.csv")]) == 0
    assert capsys.readouterr().out == first
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_bench_table_and_json_do_not_depend_on_jobs(capsys):
    args = ["bench", "--scenario", "attnn", "cnn", "--seeds", "2", "--requests", "80", "--slo", "10", "25"]
    for fmt in ("table", "json"):
        assert main([*args, "--format", fmt, "--jobs", "1"]) == 0
        first = capsys.readouterr().out
        assert main([*args, "--format", fmt, "--jobs", "2"]) == 0
        assert capsys.readouterr().out == first


def test_reproduce_files_do_not_depend_on_jobs(tmp_path):
    """runs.csv, means.csv, means.json and the report (but for its timings) are the same bytes."""
    from dysta_sw.report import grid, paper

    cfg = grid.Config(quick=True, seeds=2, requests=60, schedulers=("fcfs", "sjf", "prema", "dysta"), sections=())
    a = paper.reproduce(cfg, tmp_path / "a", jobs=1, progress=False).parent
    b = paper.reproduce(cfg, tmp_path / "b", jobs=2, progress=False).parent
    for name in ("runs.csv", "means.csv", "means.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name

    def report(d):
        return [line for line in (d / "report.md").read_text().splitlines() if "(report total" not in line]
    assert report(a) == report(b)
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
