# amaranth: UnusedElaboratable=no
"""The open-flow synthesis reports on small FP units (one configuration per target)."""

import pytest

from dysta_hw.fp import FPAdd, FPClamp0, FPMul
from dysta_hw.synth import synthesize


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DYSTA_CACHE_DIR", str(tmp_path))


@pytest.mark.synth
@pytest.mark.smoke
def test_xcup_counts_and_cache(yosys):
    # One output register: 16 payload bits + valid; the FP16 significand product fits one DSP48E2.
    r = synthesize(FPMul(fmt="fp16", stages=1), "xcup")
    assert r["dsp"] == 1 and r["ff"] == 17 and r["lut"] > 50 and r["bram"] == 0
    assert not r["cached"]
    again = synthesize(FPMul(fmt="fp16", stages=1), "xcup")
    assert again["cached"] and {k: again[k] for k in ("lut", "ff", "dsp")} == {k: r[k] for k in ("lut", "ff", "dsp")}
    # A different design is a different cache entry.
    assert not synthesize(FPMul(fmt="fp16", stages=0), "xcup")["cached"]


@pytest.mark.synth
def test_ecp5_place_and_route_reports_fmax_and_a_missed_target(nextpnr):
    r = synthesize(FPAdd(fmt="fp16", stages=4), "ecp5", freq_mhz=400)
    # The combinational adder alone would need no flip-flops; four stages of registers need some.
    assert r["ff"] > 40 and r["lut"] > 100
    assert r["fits"] and 20 < r["fmax_mhz"] < 400
    assert r["timing_met"] is False and "missed" in r["message"]


@pytest.mark.synth
@pytest.mark.smoke
def test_ice40_fits_a_small_unit(nextpnr):
    r = synthesize(FPClamp0(fmt="fp16"), "ice40")
    assert r["fits"] and r["fmax_mhz"] > 0 and r["dsp"] == 0


def test_bad_target():
    with pytest.raises(ValueError, match="unknown synthesis target"):
        synthesize(FPClamp0(fmt="fp16"), "virtex2")
