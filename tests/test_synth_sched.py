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
            fake("xcup", 512, "fp16", "shared", 700, 420, 2), fake("xcup", 512, "fp32", "separate", 2200, 1100, 8)]
    norm = {(r["depth"], r["design"]): r for r in synthreport.normalised_rows(rows)}
    assert norm[(64, "Opt_FP16")] == {"target": "xcup", "depth": 64, "design": "Opt_FP16", "lut": 0.25, "ff": 0.4,
                                      "dsp": 0.25}
    assert norm[(64, "Non_Opt_FP32")]["lut"] == 1.0
    t6 = synthreport.table6_rows(rows[1])
    assert t6[1]["LUTs"] == 510 and t6[2]["LUTs"] == 99_168 + 510 and t6[3]["DSPs"] == f"{100 * 2 / 194:.2f} %"
    goals = {g["goal"]: g for g in synthreport.goal_rows(rows)}
    assert goals["xcup, depth 64, fp16, shared: LUTs <= 553 (paper Table 6)"]["met"]
    assert goals["xcup, fp16, shared: LUTs(depth 512) / LUTs(depth 64) <= 1.3"]["measured"] == 1.4
    assert not goals["xcup, fp16, shared: LUTs(depth 512) / LUTs(depth 64) <= 1.3"]["met"]
    png = synthreport.plot_fig16(rows, tmp_path / "f.png")
    assert png.stat().st_size > 5000
