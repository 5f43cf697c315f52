# amaranth: UnusedElaboratable=no
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
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dysta_hw.fp import FPAdd, FPClamp0, FPFromInt, FPMin, FPMul  # noqa: E402
from dysta_hw.synth import synthesize  # noqa: E402
from dysta_sw.fp import FORMATS  # noqa: E402

# unit name -> (constructor, pipeline depths to report: 0 and "full", a register at every cut point)
UNITS = {
    "add": (lambda **kw: FPAdd(**kw), (0, "full")),
    "mul": (lambda **kw: FPMul(**kw), (0, "full")),
    "mul_fabric": (lambda **kw: FPMul(dsp=False, **kw), (0, "full")),
    "from_int32": (lambda **kw: FPFromInt(width=32, signed=True, **kw), (0, "full")),
    "min": (lambda **kw: FPMin(**kw), (0, "full")),
    "clamp0": (lambda **kw: FPClamp0(**kw), (0, "full")),
}


def measure(make_unit, fmax: bool) -> dict:
    """Resource counts on xcup and ECP5 (and ECP5 Fmax) of one unit, through :mod:`dysta_hw.synth`."""
    x = synthesize(make_unit(), "xcup")
    e = synthesize(make_unit(), "ecp5", pnr=fmax)
    res = {"lut": x["lut"], "ff": x["ff"], "dsp": x["dsp"], "carry": x["carry"], "lut4": e["lut"],
           "mult18": e["dsp"]}
    if fmax:
        res["fmax"] = e["fmax_mhz"]
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
        if st == "full":
            st = UNITS[u][0](fmt=f, mode=mode).cut_points
        return (u, f, mode, st), measure(lambda: UNITS[u][0](fmt=f, mode=mode, stages=st), not args.no_fmax)

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
