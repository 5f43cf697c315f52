"""The dysta command line: outputs, replay, reports and error messages."""

import json

import pytest

from dysta_sw.cli import main


def run(capsys, *args):
    try:
        code = main(list(args))
    except SystemExit as e:  # argparse's own errors (a bad number, an unknown choice)
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_bench_json_rows(capsys):
    code, out, _ = run(capsys, "bench", "--scenario", "attnn", "cnn", "--rate", "30", "--slo", "10", "50",
                       "--scheduler", "fcfs", "dysta", "--seeds", "2", "--requests", "60", "--format", "json",
                       "--jobs", "1")
    assert code == 0
    rows = json.loads(out)
    # cnn rows use the same rate given; 2 scenarios x 2 SLOs x 2 schedulers.
    assert len(rows) == 8
    for r in rows:
        for k in ("scenario", "rate", "slo", "scheduler", "antt", "violation_rate", "stp", "p99_turnaround_s",
                  "per_model", "profile"):
            assert k in r
        assert r["seeds"] == 2 and r["profile"] == "paper" and r["antt"] >= 1.0
        assert 0.0 <= r["violation_rate"] <= 1.0
    # A looser SLO never raises the violation rate of a deadline-unaware scheduler (same finishes).
    by = {(r["scenario"], r["slo"], r["scheduler"]): r for r in rows}
    assert by[("attnn", 50.0, "fcfs")]["violation_rate"] <= by[("attnn", 10.0, "fcfs")]["violation_rate"]
    assert by[("attnn", 50.0, "fcfs")]["antt"] == by[("attnn", 10.0, "fcfs")]["antt"]


def test_bench_json_is_strict_json_with_one_seed(capsys):
    """One seed: the confidence intervals are unbounded, written as null (JSON has no Infinity)."""
    code, out, _ = run(capsys, "bench", "--rate", "30", "--scheduler", "fcfs", "--seeds", "1", "--requests", "30",
                       "--format", "json", "--jobs", "1")

    def refuse(name):
        raise AssertionError(f"{name} in the JSON output")

    rows = json.loads(out, parse_constant=refuse)
    assert code == 0 and rows[0]["antt_ci"] is None and rows[0]["violation_rate_ci"] is None
    assert rows[0]["antt"] >= 1.0


def test_bench_table_and_csv(capsys):
    code, out, _ = run(capsys, "bench", "--rate", "30", "--scheduler", "sjf", "planaria", "--seeds", "1",
                       "--requests", "40", "--jobs", "1")
    assert code == 0 and "viol.%" in out and "planaria" in out and "measured-v2 [measured]" in out
    code, out, _ = run(capsys, "bench", "--rate", "30", "--scheduler", "sjf", "--seeds", "1", "--requests", "40",
                       "--format", "csv", "--jobs", "1")
    header = out.splitlines()[0].split(",")
    assert code == 0 and header[:4] == ["scenario", "rate", "slo", "scheduler"] and len(out.splitlines()) == 2


def test_workload_export_and_replay_match_generated(tmp_path, capsys):
    f = tmp_path / "w.csv"
    code, out, _ = run(capsys, "workload", "export", "--scenario", "cnn", "--rate", "3", "--seed", "0",
                       "--requests", "40", "-o", str(f))
    assert code == 0 and f.exists()
    common = ["--slo", "10", "--scheduler", "dysta", "prema", "--format", "json", "--jobs", "1"]
    _, replay, _ = run(capsys, "bench", "--workload", str(f), *common)
    _, gen, _ = run(capsys, "bench", "--scenario", "cnn", "--rate", "3", "--seeds", "1", "--requests", "40",
                    *common)
    a, b = json.loads(replay), json.loads(gen)
    assert [(r["scheduler"], r["antt"], r["violation_rate"]) for r in a] == \
           [(r["scheduler"], r["antt"], r["violation_rate"]) for r in b]


def test_reference_profile_recorded(capsys):
    _, out, _ = run(capsys, "bench", "--rate", "30", "--scheduler", "dysta", "--seeds", "1", "--requests", "30",
                    "--profile", "reference", "--format", "json", "--jobs", "1")
    assert json.loads(out)[0]["profile"] == "reference"


@pytest.mark.parametrize("args, message", [
    (["bench", "--scheduler", "nosuch"], "unknown scheduler 'nosuch'"),
    (["bench", "--rate", "-3"], "argument --rate: expected a positive finite number"),
    (["bench", "--slo", "0"], "argument --slo: expected a positive finite number"),
    (["bench", "--traces", "nopack"], "unknown trace pack 'nopack'"),
    (["bench", "--workload", "missing.csv"], "does not exist"),
    (["bench", "--beta", "-1"], "argument --beta: expected a finite number >= 0"),
    (["traces", "validate", "missing.csv"], "does not exist"),
])
def test_errors_name_the_input(capsys, args, message):
    extra = ["--requests", "10", "--seeds", "1"] if args[0] == "bench" and "--workload" not in args else []
    code, out, err = run(capsys, *args, *extra)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_zero_requests_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["bench", "--requests", "0"])
    assert e.value.code == 2
    assert "argument --requests: expected a number of requests from 1 to" in capsys.readouterr().err


def test_traces_commands(tmp_path, capsys):
    code, out, _ = run(capsys, "traces", "list")
    assert code == 0 and "measured-v2 (default)" in out and "measured-v1: " in out
    assert "synthetic-v1: " in out and "SYNTHETIC" in out
    code, out, _ = run(capsys, "traces", "show")
    assert code == 0 and "resnet50/channel/0.5" in out and "[measured]" in out
    code, out, _ = run(capsys, "traces", "show", "synthetic-v1")
    assert code == 0 and "SYNTHETIC" in out and "the paper's scale" in out and "Table 5 rate 30 requests/s" in out
    f = tmp_path / "p.csv.gz"
    code, out, _ = run(capsys, "traces", "generate", "-o", str(f), "--samples", "4", "--name", "tiny")
    assert code == 0
    code, out, _ = run(capsys, "traces", "validate", str(f))
    assert code == 0 and "OK" in out and "'tiny'" in out
    # A bench on the generated pack works and says which pack it used.
    code, out, _ = run(capsys, "bench", "--traces", str(f), "--scheduler", "sjf", "--seeds", "1", "--requests",
                       "20", "--jobs", "1")
    assert code == 0 and "tiny" in out


def test_reproduce_writes_report(tmp_path, capsys, monkeypatch):
    """The paper's tables and figures, the hardware-arithmetic and trace-statistics sections; the
    hardware-in-the-loop and synthesis sections are left out here (the slow test below has them)."""
    from dysta_sw.report import grid, paper

    cfg = grid.Config(quick=True, seeds=2, requests=40, sections=("paper-claims", "hw-arithmetic", "trace-stats"))
    path = paper.reproduce(cfg, tmp_path, jobs=1)
    md = path.read_text()
    # the load calibration, the intervals over seeds and the paired differences, the claims
    assert "## Load calibration" in md and "by `--load fcfs`: the rate at which FCFS misses" in md
    assert "±" in md[md.index("## Table 5"):md.index("### Paired differences")]
    assert "| Dysta minus |" in md
    claims = (tmp_path / "claims.md").read_text()
    assert claims.startswith("## Paper claims") and claims in md
    assert "| Table 5, Multi-AttNN |" in claims and "| Fig. 9 |" in claims
    for section in ("Table 5", "Fig. 12", "Fig. 13", "Fig. 14", "Fig. 15", "Trace provenance", "measured-v2 [measured]",
                    "Hardware arithmetic", "dysta-hw-fp16", "Table 4: RMSE", "Table 2"):
        assert section in md
    assert "Hardware in the loop" not in md and "Fig. 16" not in md
    # measured-v2's capacities (README): AttNN 9.72x faster, CNN 0.959, i.e. 1/0.959 = 1.04x slower
    assert "9.72x faster than the paper's scale" in md and "1.04x slower than the paper's scale" in md
    assert "0.959x faster" not in md
    # the trace statistics as the artifact computes them: Table 2 of the valid fraction, Fig. 3 of
    # the first six layers after the stem, Fig. 9 with its summary table
    traces = md[md.index("## Benchmark traces"):]
    assert "| resnet50/random/0.5 |" in traces and "| valid-MAC fraction |" in traces
    assert "| kept attention fraction |" in traces
    assert "first six layers after the stem" in traces
    assert "| model-pattern | mean layer-pair correlation | corr(mean density, isolated latency) |" in traces
    # the sections in order: the paper's, then the plug-ins' by their order
    heads = [line for line in md.splitlines() if line.startswith("## ")]
    assert heads.index("## Per-model breakdown (Table 5 setting)") < heads.index("## Paper claims") < heads.index(
        "## Hardware arithmetic: Dysta in FP16 / BF16 / FP32 vs float64") < heads.index(
        "## Benchmark traces: dynamic sparsity (paper Figs. 2, 3, 4, 9; Tables 2, 4)") < heads.index("## Configuration")
    for png in ("fig12_tradeoff.png", "fig13_breakdown.png", "fig14_slo_sweep.png", "fig15_rate_sweep.png",
                "fig02_latency_spread.png", "fig03_activation_sparsity.png", "fig04_valid_macs.png",
                "fig09_layer_correlation.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    runs = (tmp_path / "runs.csv").read_text().splitlines()
    assert runs[0].startswith("scenario,rate,slo,scheduler,seed")
    # 2 scenarios x their grid points x 12 schedulers x 2 seeds
    n_points = sum(len(g.points()) for g in cfg.grids)
    assert len(runs) == 1 + 12 * n_points * 2
    assert not list(tmp_path.glob(".*.tmp"))  # written to temporary names, then renamed


@pytest.mark.slow
def test_reproduce_command_writes_the_whole_report(tmp_path, capsys, monkeypatch, yosys):
    """`dysta reproduce --quick`: every section, the gateware scheduling a workload in the loop and
    the scheduler synthesized by Yosys included."""
    monkeypatch.setenv("DYSTA_CACHE_DIR", str(tmp_path / "cache"))
    code, out, _ = run(capsys, "reproduce", "--quick", "--seeds", "1", "--requests", "40", "--out",
                       str(tmp_path), "--jobs", "1")
    assert code == 0 and out.startswith("## Paper claims")  # the claims are printed, then the report's path
    assert out.rstrip().splitlines()[-1].startswith(f"wrote {tmp_path / 'report.md'}")
    md = (tmp_path / "report.md").read_text()
    for section in ("Table 5", "Fig. 12", "Fig. 13", "Fig. 14", "Fig. 15", "Trace provenance", "measured-v2 [measured]",
                    "Hardware arithmetic", "dysta-hw-fp16"):
        assert section in md
    assert "Table 4: RMSE" in md and "Table 2" in md
    # the gateware scheduled a workload and agreed with the golden model
    hil = md[md.index("## Hardware in the loop"):]
    assert "**identical** to the golden model" in hil and "mismatches" not in hil
    assert "| gateware fp16 |" in hil and "### Decision latency" in hil
    # the scheduler synthesized: Table 6 against Eyeriss-V2, the goals
    res = md[md.index("## Fig. 16 and Table 6"):]
    assert "| Eyeriss-V2 (published) | 99168 | 194 | 140.0 |" in res
    assert "Dysta scheduler (xcup, depth 64, fp16 lean, shared)" in res
    assert "| xcup LUTs, depth 64, fp16 lean, shared | <= 553 |" in res
    assert "Dysta scheduler (xcup, depth 64, fp16 ieee, shared)" in res
