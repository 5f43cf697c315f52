"""Exhaustive FP16 check: every one of the 2**32 input pairs of add and mul, Verilator vs golden.

The Verilated adder and multiplier (combinational, both fed the same pair) enumerate the pairs
themselves; each worker streams the results of its share of the pairs through the golden model
(``dysta_sw.fp``) and counts mismatches. The golden model is checked on the same pairs against
an independent reference, numpy's float16 arithmetic (correctly rounded; NaN made canonical, and
in lean mode subnormal operands and results flushed). Prints the first mismatches, the counts
(expected 0) and the run time. Documented in docs/fp.md; not part of CI (about 10 minutes per mode on two
cores).

    python benchmarks/fp_exhaustive.py [--mode ieee|lean|both] [--jobs 2] [--bits 32]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dysta_hw.fp import FPAdd, FPMul  # noqa: E402
from dysta_hw.fp.verilator import Bundle, build  # noqa: E402
from dysta_sw import fp  # noqa: E402

CHUNK = 1 << 22


def _bundle(mode: str) -> Bundle:
    return Bundle({"add": FPAdd(fmt="fp16", mode=mode), "mul": FPMul(fmt="fp16", mode=mode)},
                  shared=("a", "b"))


def _numpy_ref(op, a, b, mode):
    """numpy float16 result as patterns: canonical NaN; lean flushes subnormals in and out."""
    def flush(x):
        return np.where((x & 0x7C00) == 0, x & 0x8000, x) if mode == "lean" else x
    x = flush(a).astype(np.uint16).view(np.float16)
    y = flush(b).astype(np.uint16).view(np.float16)
    with np.errstate(all="ignore"):
        r = (x + y if op == "add" else x * y).view(np.uint16).astype(np.int64)
    return np.where((r & 0x7FFF) > 0x7C00, 0x7E00, flush(r))


def _worker(args):
    mode, cache, start, count = args
    bundle = _bundle(mode)
    model = build(bundle, cache)
    bad, bad_ref, examples, done = 0, 0, [], start
    for recs in model.count(start, count, CHUNK):
        out = bundle.unpack(recs)
        idx = np.arange(done, done + len(recs), dtype=np.int64)
        done += len(recs)
        a, b = idx & 0xFFFF, idx >> 16
        for op, golden in (("add", fp.add), ("mul", fp.mul)):
            want = golden(a, b, fp.FP16, mode)
            bad_ref += np.count_nonzero(want != _numpy_ref(op, a, b, mode))
            wrong = np.nonzero(out[(op, "x")] != want)[0]
            bad += len(wrong)
            for i in wrong[:max(0, 5 - len(examples))]:
                examples.append((op, int(a[i]), int(b[i]), int(out[(op, "x")][i]), int(want[i])))
    return bad, bad_ref, examples, count


def run(mode: str, jobs: int, bits: int, cache: str) -> int:
    total = 1 << bits
    build(_bundle(mode), cache)  # compile once before the workers start
    parts = 64 if bits >= 26 else jobs
    step = total // parts
    tasks = [(mode, cache, k * step, step if k < parts - 1 else total - k * step) for k in range(parts)]
    t0 = time.perf_counter()
    bad, bad_ref, examples, done, shown = 0, 0, [], 0, 0.0
    with mp.Pool(jobs) as pool:
        for b, r, ex, n in pool.imap_unordered(_worker, tasks):
            bad, bad_ref, done = bad + b, bad_ref + r, done + n
            examples += ex
            if time.perf_counter() - shown > 30 or done == total:
                shown = time.perf_counter()
                rate = done / (shown - t0)
                print(f"  {mode}: {done / total:6.1%} of {total:,} pairs, {bad} mismatches, "
                      f"{rate / 1e6:.1f}M pairs/s", flush=True)
    dt = time.perf_counter() - t0
    for op, a, b, got, want in examples[:10]:
        print(f"  mismatch {op}({a:#06x}, {b:#06x}): verilator {got:#06x}, golden {want:#06x}")
    print(f"fp16 {mode}: {total:,} pairs x (add, mul): {bad} Verilator/golden mismatches, "
          f"{bad_ref} golden/numpy-float16 mismatches, in {dt:.0f} s")
    return bad + bad_ref


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["ieee", "lean", "both"], default="both")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--bits", type=int, default=32,
                    help="check the first 2**bits pairs only (default 32: all of them)")
    args = ap.parse_args(argv)
    if not 1 <= args.bits <= 32:
        ap.error(f"--bits must be from 1 to 32, not {args.bits}")
    if args.jobs < 1:
        ap.error(f"--jobs must be >= 1, not {args.jobs}")
    modes = ["ieee", "lean"] if args.mode == "both" else [args.mode]
    with tempfile.TemporaryDirectory(prefix="dysta-fp-") as cache:
        bad = sum(run(mode, args.jobs, args.bits, cache) for mode in modes)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
