"""An output directory held by one run at a time, never showing a half-finished or stale run
(dysta_sw.outputs.RunDirectory, used by ``dysta reproduce --out``)."""

import json
import os
import socket
import subprocess

import pytest

import helpers
from dysta_sw.cli import main
from dysta_sw.errors import DystaInputError
from dysta_sw.outputs import LOCK, MANIFEST, RunDirectory


@pytest.fixture
def live_pid():
    p = subprocess.Popen(["sleep", "60"])
    yield p.pid
    p.kill()
    p.wait()


@pytest.fixture
def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def _lock(d, pid, host=None):
    d.mkdir(exist_ok=True)
    (d / LOCK).write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(), "started": 0}))


def test_a_live_runs_lock_refuses_a_second_run(tmp_path, live_pid):
    _lock(tmp_path, live_pid)
    with pytest.raises(DystaInputError, match=f"another run \\(pid {live_pid}\\).*{LOCK}.*--force"):
        with RunDirectory(tmp_path):
            pass
    assert json.loads((tmp_path / LOCK).read_text())["pid"] == live_pid  # left to its owner


def test_force_takes_a_live_lock_and_a_dead_runs_lock_is_taken_over(tmp_path, live_pid, dead_pid):
    _lock(tmp_path, live_pid)
    with RunDirectory(tmp_path, force=True):
        assert json.loads((tmp_path / LOCK).read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK).exists()  # released
    _lock(tmp_path, dead_pid)
    with RunDirectory(tmp_path):
        assert json.loads((tmp_path / LOCK).read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK).exists()


def test_another_hosts_lock_is_live(tmp_path, dead_pid):
    _lock(tmp_path, dead_pid, host="elsewhere")  # its pid means nothing here
    with pytest.raises(DystaInputError, match="on elsewhere"):
        with RunDirectory(tmp_path):
            pass


def test_reproduce_refuses_a_held_directory(tmp_path, live_pid, capsys):
    _lock(tmp_path / "r", live_pid)
    assert main(["reproduce", "--out", str(tmp_path / "r"), "--quick", "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dysta reproduce: error: --out") and LOCK in err and "--force" in err


def test_synth_holds_its_out_directory(tmp_path, live_pid, capsys, monkeypatch):
    """``dysta synth --out DIR`` takes DIR's lock before synthesizing (a live run's lock refuses at
    once, ``--force`` takes it) and holds it until its files are in place."""
    helpers.require_module("amaranth", "pip install -e '.[hw]'")
    from dysta_hw import synth

    held, free = tmp_path / "held", tmp_path / "free"
    _lock(held, live_pid)
    run = {"dir": None, "holders": []}

    def fake_synthesis(target, **params):  # no Yosys: the lock is what is tested
        run["holders"].append(json.loads((run["dir"] / LOCK).read_text())["pid"])
        return {"target": target, "depth": params["depth"], "fmt": params["fmt"], "mode": "ieee", "unit": "shared",
                "lut": 1234, "srl": 0, "lutram": 0, "ff": 567, "dsp": 1, "bram": 0, "ram_kb": 0, "fits": True,
                "message": "", "fmax_mhz": None, "tools": {"yosys": "none"}, "cached": False}

    monkeypatch.setattr(synth, "synth_scheduler", fake_synthesis)
    run["dir"] = held
    assert main(["synth", "--out", str(held), "--depth", "8"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dysta synth: error: --out") and LOCK in err and "--force" in err
    assert run["holders"] == [] and not (held / "synth.json").exists()  # refused before synthesizing
    run["dir"] = free
    assert main(["synth", "--out", str(free), "--depth", "8"]) == 0
    assert run["holders"] == [os.getpid()] and not (free / LOCK).exists()  # held during the run, then released
    assert json.loads((free / "synth.json").read_text())[0]["lut"] == 1234 and (free / "synth.md").exists()
    run["dir"] = held
    assert main(["synth", "--out", str(held), "--depth", "8", "--force"]) == 0
    assert run["holders"][-1] == os.getpid() and (held / "synth.md").exists()


def test_the_previous_runs_outputs_go_first_and_the_report_comes_last(tmp_path):
    (tmp_path / "report.md").write_text("old report")
    (tmp_path / "old.png").write_text("old figure")
    (tmp_path / "notes.txt").write_text("kept")
    (tmp_path / MANIFEST).write_text(json.dumps(["report.md", "old.png"]))
    with RunDirectory(tmp_path) as rd:
        # the old run's files are gone as soon as the new run holds the directory
        assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["notes.txt"]
        (rd.stage / "runs.csv").write_text("new")
        (rd.stage / "report.md").write_text("new report")
        order = []
        real = os.replace

        def replace(src, dst):
            order.append(os.path.basename(dst))
            real(src, dst)

        os.replace = replace
        try:
            rd.commit()
        finally:
            os.replace = real
    assert order[-1] == "report.md" and "runs.csv" in order
    assert (tmp_path / "report.md").read_text() == "new report"
    assert json.loads((tmp_path / MANIFEST).read_text()) == ["report.md", "runs.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST, "notes.txt", "report.md", "runs.csv"]


def test_an_unfinished_run_leaves_neither_report_nor_partial_files(tmp_path):
    (tmp_path / "report.md").write_text("old report")
    (tmp_path / "runs.csv").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with RunDirectory(tmp_path) as rd:
            (rd.stage / "runs.csv").write_text("new, never committed")
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == []
