"""The iCEBreaker fit: logic cells, block RAMs and DSPs of candidate board configurations.

Each candidate is the real board top-level (``boards.build.BoardTop``: the host link with its
SLIP + CRC framing, the NPU stand-in, the UART) at the oscillator's 12 MHz, synthesized as
``dysta board build icebreaker`` does (Yosys ``synth_ice40 -dsp``) and packed by nextpnr-ice40
(``--pack-only``: the logic cells nextpnr would place; a design over 100 % stops there, so the
count is printed even when it does not fit). docs/boards.md ("Measured builds") has the table.

    python benchmarks/board_fit.py                # every candidate (about a minute each)
    python benchmarks/board_fit.py --only queues  # the candidates whose label contains "queues"
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from boards.build import BOARDS, YOWASP, BoardTop, workload_for
from dysta_sw import tools

#: The shipped options first, then every parameter the fit can trade (label, scheduler overrides,
#: event queue entries).
NARROW = {"trace": False, "stages": 0, "depth": 16, "time_bits": 20, "tag_bits": 4}
CANDIDATES = [
    ("shipped", {}, None),
    ("no trace port", {"trace": False}, None),
    ("no trace, stages 1", {"trace": False, "stages": 1}, None),
    ("no trace, stages 0", {"trace": False, "stages": 0}, None),
    ("no trace, stages 0, separate units", {"trace": False, "stages": 0, "shared": False}, None),
    ("no trace, stages 0, FP16 lean", {"trace": False, "stages": 0, "fmt": "fp16"}, None),
    ("no trace, stages 0, dsp=False", {"trace": False, "stages": 0, "dsp": False}, None),
    ("no trace, stages 0, depth 16", {"trace": False, "stages": 0, "depth": 16}, None),
    ("narrow: stages 0, depth 16, 20-bit time, 4-bit tags", NARROW, None),
    ("narrow, 24-bit time", {**NARROW, "time_bits": 24}, None),
    ("narrow, 8-bit tags", {**NARROW, "tag_bits": 8}, None),
    ("narrow, stages 1", {**NARROW, "stages": 1}, None),
    ("narrow, stages 2", {**NARROW, "stages": 2}, None),
    ("narrow, event queues of 1", NARROW, 1),
    ("narrow, event queues of 1, add=1", {**NARROW, "stages": {"cvt": 0, "mul": 0, "add": 1, "clamp": 0}}, 1),
    ("smallest: depth 8, 18-bit time, 3-bit tags, queues of 1", {**NARROW, "depth": 8, "time_bits": 18,
                                                                  "tag_bits": 3}, 1),
]


def measure(overrides: dict, queue_depth: int | None, work: Path) -> dict:
    """``{"lc", "ram", "dsp"}`` (used / available) of one candidate, built in ``work``."""
    b = BOARDS["icebreaker"]
    w = workload_for("icebreaker", **overrides)
    top = BoardTop(w.params, w.jobs, queue_depth=b.queue_depth if queue_depth is None else queue_depth,
                   family=b.family)
    plan = b.make().build(top, name="dysta", build_dir=str(work), do_build=False, synth_opts=b.synth_opts)
    plan.extract(str(work))
    env = tools.tool_env(YOWASP)
    subprocess.run([env["YOSYS"], "-q", "-l", "dysta.rpt", "dysta.ys"], cwd=work, check=True, env=env)
    proc = subprocess.run([env["NEXTPNR_ICE40"], "--pack-only", "--up5k", "--package", "sg48", "--json",
                           "dysta.json", "--pcf", "dysta.pcf"], cwd=work, env=env, capture_output=True, text=True)
    found = {k: re.search(rf"{k}:\s+(\d+)/\s*(\d+)", proc.stderr) for k in ("ICESTORM_LC", "ICESTORM_RAM",
                                                                            "ICESTORM_DSP")}
    if not all(found.values()):
        raise RuntimeError(f"nextpnr printed no utilisation:\n{proc.stderr[-2000:]}")
    return {name: (int(m.group(1)), int(m.group(2))) for name, m in zip(("lc", "ram", "dsp"), found.values())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="only the candidates whose label contains this text")
    a = ap.parse_args(argv)
    rows = [c for c in CANDIDATES if a.only in c[0]]
    if not rows:
        ap.error(f"--only {a.only!r}: no candidate's label contains it")
    print(f"{'candidate':58s} {'LCs':>12s} {'RAM':>6s} {'DSP':>4s}")
    for label, ov, q in rows:
        with tempfile.TemporaryDirectory(prefix="dysta-fit-") as tmp:
            r = measure(ov, q, Path(tmp))
        lc, ram, dsp = r["lc"], r["ram"], r["dsp"]
        print(f"{label:58s} {lc[0]:5d} ({lc[0] / lc[1]:4.0%}) {ram[0]:3d}/{ram[1]} {dsp[0]}/{dsp[1]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
