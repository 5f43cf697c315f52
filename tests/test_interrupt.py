"""Ctrl-C ends a command with one line and exit status 130: never a traceback, never swallowed,
and no worker process outlives the command. A real ``dysta`` process gets SIGINT while its
modules load, while its worker processes run (``--jobs 2``, the signal sent to the whole process
group as a terminal does, or to the parent alone), and while ``reproduce`` writes a report."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

DYSTA = [sys.executable, "-c", "import sys; from dysta_sw.entry import main; sys.exit(main())"]
#: Long enough that the run is still going when the signal comes, on a slow machine.
BENCH = ["bench", "--scenario", "attnn", "cnn", "--seeds", "40", "--requests", "1000", "--jobs", "2"]


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _start(args, cwd):
    return subprocess.Popen([*DYSTA, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, cwd=cwd)


def _wait_for_workers(p, n=2, timeout=120.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = _children(p.pid)
        if len(kids) >= n:
            time.sleep(0.3)  # let them start their units
            return kids
        if p.poll() is not None:
            break
        time.sleep(0.05)
    p.kill()
    pytest.fail(f"no worker processes appeared: {p.communicate()[1][-500:]}")


pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")


def _interrupted(p, command):
    out, err = p.communicate(timeout=60)
    assert "Traceback" not in err, err[-2000:]
    assert p.returncode == 130, (p.returncode, err[-500:])
    assert err.strip().splitlines()[-1] == f"{command}: interrupted"
    return out


def test_while_the_modules_load(tmp_path):
    p = _start(BENCH, tmp_path)
    time.sleep(0.4)
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert "Traceback" not in err, err[-2000:]
    # 130 from our handler; or the interpreter itself had not started its own (killed by the signal)
    assert p.returncode in (130, -signal.SIGINT), (p.returncode, err[-500:])
    assert out == ""


def test_while_workers_run_ctrl_c_from_the_terminal(tmp_path):
    p = _start(BENCH, tmp_path)
    kids = _wait_for_workers(p)
    os.killpg(p.pid, signal.SIGINT)
    assert _interrupted(p, "dysta bench") == ""
    time.sleep(0.2)
    assert not [k for k in kids if _alive(k)]


def test_while_workers_run_sigint_to_the_parent_alone(tmp_path):
    p = _start(BENCH, tmp_path)
    kids = _wait_for_workers(p)
    os.kill(p.pid, signal.SIGINT)
    _interrupted(p, "dysta bench")
    time.sleep(0.2)
    assert not [k for k in kids if _alive(k)]  # the parent stopped its workers


def test_reproduce_interrupted_leaves_no_report_and_no_lock(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.md").write_text("an older run's report\n")
    (out / "runs.csv").write_text("old\n")
    (out / "notes.txt").write_text("the user's own file\n")
    p = _start(["reproduce", "--out", str(out), "--quick", "--seeds", "4", "--requests", "1000", "--jobs", "2"],
               tmp_path)
    _wait_for_workers(p)
    os.killpg(p.pid, signal.SIGINT)
    _interrupted(p, "dysta reproduce")
    left = sorted(f.name for f in out.iterdir())
    assert left == ["notes.txt"]  # no old report beside new files, no lock, no staging directory


def _ctrl_c_turned_into_import_error(*args, **kwargs):
    """What a C extension does with a Ctrl-C that arrives while it initialises (matplotlib's
    ``ft2font``: ``ImportError: initialization failed``)."""
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the handler runs here
    except KeyboardInterrupt as e:
        raise ImportError("initialization failed") from e
    raise AssertionError("SIGINT was not delivered")


def test_a_ctrl_c_that_a_library_turned_into_its_own_error_is_still_an_interrupt(tmp_path, monkeypatch,
                                                                                  capsys):
    from dysta_sw import cli
    monkeypatch.setattr(cli.paper, "reproduce", _ctrl_c_turned_into_import_error)
    code = cli.main(["reproduce", "--out", str(tmp_path / "r"), "--quick"])
    err = capsys.readouterr().err
    assert code == 130 and err.strip().splitlines()[-1] == "dysta reproduce: interrupted", err


def test_the_same_error_without_a_ctrl_c_is_a_bug_and_propagates(tmp_path, monkeypatch):
    from dysta_sw import cli

    def broken(*args, **kwargs):
        raise ImportError("initialization failed")
    monkeypatch.setattr(cli.paper, "reproduce", broken)
    with pytest.raises(ImportError, match="initialization failed"):
        cli.main(["reproduce", "--out", str(tmp_path / "r"), "--quick"])
