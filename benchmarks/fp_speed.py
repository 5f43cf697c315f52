"""Speed of the floating-point golden model on one core, in operations per second.

The golden model must keep up with Verilator when checking hardware: at least 10 million FP16
operations per second. Prints ops/s per operation, format and mode on random bit patterns, for
the numpy golden model and, beside it, the compiled kernels the engine uses per decision
(dysta_sw.compiled.fp, the same bits; their JIT compilation is done before timing).

    python benchmarks/fp_speed.py [--n 4000000] [--formats fp16,bf16,fp32]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from dysta_sw import fp  # noqa: E402
from dysta_sw.compiled import fp as cfp  # noqa: E402

TARGET = 10e6  # FP16 operations per second


def _rate(fn, n: int, repeat: int = 3) -> float:
    fn()  # warm up
    best = min(_timed(fn) for _ in range(repeat))
    return n / best


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4_000_000, help="operations per measurement")
    ap.add_argument("--formats", default="fp16,bf16,fp32")
    args = ap.parse_args(argv)
    if args.n < 1:
        ap.error(f"--n must be >= 1, not {args.n}")
    fmts = [fp.get_format(f) for f in args.formats.split(",")]
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    rng = np.random.default_rng(0)
    worst16 = float("inf")
    print(f"{'op':<9} {'fmt':<5} {'mode':<5} {'Mops/s':>8} {'compiled':>9}")
    for fmt in fmts:
        a = rng.integers(0, 1 << fmt.width, args.n).astype(fmt.dtype)
        b = rng.integers(0, 1 << fmt.width, args.n).astype(fmt.dtype)
        ints = rng.integers(-(1 << 31), 1 << 31, args.n)
        for mode in fp.MODES:
            ops = {
                "add": partial(fp.add, a, b, fmt, mode),
                "sub": partial(fp.sub, a, b, fmt, mode),
                "mul": partial(fp.mul, a, b, fmt, mode),
                "from_int": partial(fp.from_int, ints, 32, True, fmt, mode),
                "lt_total": partial(fp.lt_total, a, b, fmt, mode),
                "minimum": partial(fp.minimum, a, b, fmt, mode),
                "clamp0": partial(fp.clamp0, a, fmt, mode),
            }
            compiled = {
                "add": partial(cfp.add_array, a, b, fmt, mode),
                "sub": partial(cfp.sub_array, a, b, fmt, mode),
                "mul": partial(cfp.mul_array, a, b, fmt, mode),
                "from_int": partial(cfp.from_int_array, ints, 32, True, fmt, mode),
                "lt_total": partial(cfp.lt_total_array, a, b, fmt, mode),
                "clamp0": partial(cfp.clamp0_array, a, fmt, mode),
            }
            for name, fn in ops.items():
                r = _rate(fn, args.n)
                if fmt == fp.FP16:
                    worst16 = min(worst16, r)
                c = f"{_rate(compiled[name], args.n) / 1e6:9.1f}" if name in compiled else f"{'-':>9}"
                print(f"{name:<9} {fmt.name:<5} {mode:<5} {r / 1e6:8.1f} {c}", flush=True)
    if fp.FP16 in fmts:
        verdict = "meets" if worst16 >= TARGET else "MISSES"
        print(f"slowest FP16 operation: {worst16 / 1e6:.1f}M ops/s on one core ({verdict} the 10M target)")
        return 0 if worst16 >= TARGET else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
