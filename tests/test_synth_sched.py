# amaranth: UnusedElaboratable=no
"""`dysta synth` on the scheduler: one small configuration per target, the cache, the report helpers."""

import json

import pytest

from dysta_hw import synthreport
from dysta_sw.cli import main


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DYSTA_CACHE_DIR", str(tmp_path / "cache"))


def synth(capsys, *args):
    assert main(["synth", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.synth
def test_xcup_depth_8_and_the_cache(capsys, yosys):
    r = synth(capsys, "--target", "xcup", "--depth", "8", "--fmt", "fp16", "--shared")
    # the FP16 significand product fits one DSP48E2; the table and LUTs are memories, not logic
    assert r["target"] == "xcup" and r["unit"] == "shared" and r["depth"] == 8
    assert 1 <= r["dsp"] <= 3 and r["lut"] > 300 and r["ff"] > 100 and r["lutram"] + r["bram"] > 0
    assert not r["cached"]
    again = synth(capsys, "--target", "xcup", "--depth", "8", "--fmt", "fp16", "--shared")
    assert again["cached"] and again["lut"] == r["lut"]
    # the separate units take more DSPs than the shared datapath
    sep = synth(capsys, "--target", "xcup", "--depth", "8", "--fmt", "fp16", "--separate")
    assert sep["dsp"] > r["dsp"]


@pytest.mark.synth
def test_ecp5_depth_8_reports_fmax_against_the_target(capsys, nextpnr):
    r = synth(capsys, "--target", "ecp5", "--depth", "8", "--fmt", "fp16", "--freq", "400")
    assert r["fits"] and 5 < r["fmax_mhz"] < 400
    assert r["timing_met"] is False and "missed" in r["message"]


@pytest.mark.synth
def test_ice40_depth_8(capsys, yosys):
    r = synth(capsys, "--target", "ice40", "--depth", "8", "--fmt", "bf16", "--no-pnr")
    assert r["target"] == "ice40" and r["lut"] > 300 and "fmax_mhz" not in r


def test_bad_synth_input(capsys):
    assert main(["synth", "--depth", "100"]) == 2
    assert "power of two" in capsys.readouterr().err
    assert main(["synth", "--sweep", "--depths", "8,9"]) == 2
    assert "--depths" in capsys.readouterr().err


def fake(target, depth, fmt, unit, lut, ff, dsp, **kw):
    return {"target": target, "depth": depth, "fmt": fmt, "unit": unit, "lut": lut, "lutram": 10, "ff": ff,
            "dsp": dsp, "bram": 1, "ram_kb": 4.5, **kw}


def test_report_helpers_normalise_table6_goals_and_plot(tmp_path):
    rows = [fake("xcup", 64, "fp32", "separate", 2000, 1000, 8), fake("xcup", 64, "fp16", "shared", 500, 400, 2),
            fake("xcup", 512, "fp16", "shared", 700, 420, 2), fake("xcup", 512, "fp32", "separate", 2200, 1100, 8),
            fake("xcup", 64, "fp16", "shared", 450, 380, 2, mode="lean"),
            fake("xcup", 512, "fp16", "shared", 530, 390, 2, mode="lean")]
    norm = {(r["depth"], r["design"]): r for r in synthreport.normalised_rows(rows)}
    assert norm[(64, "Opt_FP16")] == {"target": "xcup", "depth": 64, "design": "Opt_FP16", "lut": 0.25, "ff": 0.4,
                                      "dsp": 0.25}
    assert norm[(64, "Non_Opt_FP32")]["lut"] == 1.0 and norm[(64, "Opt_FP16_lean")]["lut"] == 0.225
    # Table 6: the lean design first, then the IEEE one, each with its sum and overhead
    t6 = synthreport.table6_rows(synthreport.table6_results(rows))
    assert [r["LUTs"] for r in t6[1:7:3]] == [460, 510] and t6[5]["LUTs"] == 99_168 + 510
    assert t6[3]["DSPs"] == f"{100 * 2 / 194:.2f} %" and "lean" in t6[1]["module"]
    goals = {g["goal"]: g for g in synthreport.goal_rows(rows)}
    assert goals["xcup LUTs, depth 64, fp16 lean, shared"]["met"] == "yes"
    assert goals["xcup LUTs, depth 64, fp16 ieee, shared"]["met"] == "yes"  # 500 <= 900
    ratio = goals["xcup LUTs, depth 512 / depth 64, fp16 ieee shared"]
    assert ratio["measured"] == "1.400" and ratio["met"] == "NO" and ratio["target"] == "<= 1.2"
    assert goals["xcup LUTs, depth 512 / depth 64, fp16 lean shared"]["measured"] == "1.178"
    assert goals["xcup LUTs, depth 512 / depth 64, fp16 lean shared"]["met"] == "yes"
    png = synthreport.plot_fig16(rows, tmp_path / "f.png")
    assert png.stat().st_size > 5000


def test_shift_register_luts_count_as_logic_not_ram():
    """SRL16E/SRLC32E are LUTs used as delay lines: counted in ``lut`` (and ``srl``), not in
    ``lutram`` and not in the RAM kilobytes; LUT-RAM stays storage."""
    from dysta_hw.synth import ram_kb, resource_counts

    cells = {"LUT3": 100, "LUT6": 50, "INV": 2, "SRL16E": 7, "SRLC32E": 3, "RAM64M": 2, "RAM32X1D": 4,
             "FDRE": 300, "DSP48E2": 1, "RAMB36E2": 1, "RAMB18E2": 1}
    r = resource_counts("xcup", cells)
    assert r["lut"] == 100 + 50 + 2 + 7 + 3 and r["srl"] == 10
    assert r["lutram"] == 2 * 4 + 4 * 2 and r["ff"] == 300 and r["bram"] == 1.5
    assert ram_kb({"target": "xcup", **r}) == (1.5 * 4608 + 16 * 8) / 1024
    # a cached result is recounted from its cells when it is read
    assert resource_counts("xcup", {"SRL16E": 1})["lutram"] == 0


def test_goal_table_collects_providers_and_reports_failures():
    from dysta_hw.goals import GoalContext, goal_row, goal_table

    def ok(ctx):
        assert ctx.jobs == 3
        return [goal_row("a", "<= 1", 2, False), goal_row("b", ">= 1", 2, True)]

    def broken(ctx):
        raise RuntimeError("nextpnr crashed")

    rows = goal_table(GoalContext(jobs=3), providers=[("ok", ok), ("broken", broken)])
    assert [(r["goal"], r["met"]) for r in rows] == [("a", "NO"), ("b", "yes"), ("goals of broken", "n/a")]
    assert "nextpnr crashed" in rows[2]["note"]


def test_decision_latency_goal_from_the_timing_model():
    """The latency goal reads the design's own timing model at every queue length: the row's
    formula is the model's, and it is met exactly when every N stays within N + 24."""
    from dysta_hw.goals import latency_goal
    from dysta_hw.sched import DystaScheduler

    for shared in (True, False):
        t = DystaScheduler(depth=8, shared=shared).timing
        plain = [t.decision(n, retired=False) for n in range(1, 9)]
        worst = [max(t.decision(n, retired=r) for r in (False, True)) for n in range(1, 9)]
        row = latency_goal(shared, simulate=False, depth=8)
        slope, base = plain[-1] - plain[-2], plain[-1] - 8 * (plain[-1] - plain[-2])
        assert row["measured"].startswith(f"{'' if slope == 1 else slope}N + {base} (model")
        assert row["met"] == ("yes" if all(c <= n + 24 for n, c in enumerate(worst, 1)) else "NO")


def test_sweep_configs_add_the_lean_point():
    from dysta_hw import synth

    cfgs = synth.sweep_configs((64,), ("fp16", "fp32"), (True,))
    lean = synth.lean_available()
    assert cfgs == [(64, "fp16", True, "ieee")] + ([(64, "fp16", True, "lean")] if lean else []) + \
        [(64, "fp32", True, "ieee")]
    assert synth.sweep_configs((8,), ("bf16",), (False,), modes=("lean",)) == [(8, "bf16", False, "lean")]


NEXTPNR_LOG = """\
Info: Max frequency for clock '$glbnet$clk': 25.10 MHz (FAIL at 200.00 MHz)
Info: Critical path report for clock '$glbnet$clk' (posedge -> posedge):
Info:       type curr  total name
Info:   clk-to-q  0.52  0.52 Source design.luts.mem_R.0.0_DP16KD_DOA0
Info:    routing  1.20  1.72 Net design.luts.rdata[3] (10,11) -> (12,13)
Info:                          Sink design.cu.u_mul.prod_MULT18X18D_A3
Info:      logic  4.10  5.82 Source design.cu.u_mul.prod_MULT18X18D_P7
Info:    routing  2.00 39.84 Net design.cu.u_rnd.x[7] (12,13) -> (14,15)
Info:                          Sink design.cu.u_rnd.r_TRELLIS_FF_Q.DI
Info:      setup  0.00 39.84 Source design.cu.u_rnd.r_TRELLIS_FF_Q.DI
Info: 12.1 ns logic, 27.7 ns routing

Info: Critical path report for clock 'uart_clk' (posedge -> posedge):
Info:   clk-to-q  0.52  0.52 Source uart.tx_TRELLIS_FF_Q.Q
Info:      setup  0.10  3.00 Sink uart.rx_TRELLIS_FF_Q.DI
Info: 1.0 ns logic, 2.0 ns routing

Info: Critical path report for cross-domain path 'posedge a' -> 'posedge b':
Info:   clk-to-q  0.52  90.00 Source a.x.Q
Info: 1.0 ns logic, 89.0 ns routing
"""


def test_critical_path_of_the_slowest_clock():
    """The critical path the goal table quotes when Fmax misses: the slowest clock's (cross-domain
    paths left out), from its first source to its last sink, with the nets in between."""
    from dysta_hw.goals import path_note
    from dysta_hw.synth import critical_path

    p = critical_path(NEXTPNR_LOG)
    assert p["clock"] == "$glbnet$clk" and p["ns"] == 39.84 and (p["logic_ns"], p["routing_ns"]) == (12.1, 27.7)
    assert p["source"] == "design.luts.mem_R.0.0_DP16KD_DOA0" and p["sink"] == "design.cu.u_rnd.r_TRELLIS_FF_Q.DI"
    assert p["nets"] == ["design.luts.rdata[3]", "design.cu.u_rnd.x[7]"]
    assert path_note(p) == ("critical path 39.8 ns (12.1 logic, 27.7 routing) from design.luts.mem_R to "
                            "design.cu.u_rnd through 2 nets")
    assert critical_path("Info: no timing here") is None
