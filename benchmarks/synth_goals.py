"""The scheduler's resource goals, measured: depth 64, FP16, shared unit on xcup (paper Table 6:
<= 553 LUTs, <= 3 DSPs), its Fmax on ECP5-85F (>= 200 MHz), and LUTs at depth 512 within 1.3x
of depth 64 (the table in RAM, not logic).

    python benchmarks/synth_goals.py [--freq 200]

Results come from the synthesis cache ($DYSTA_CACHE_DIR/synth) when present; a cold run takes a
few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dysta_hw.synth import synth_scheduler  # noqa: E402
from dysta_hw.synthreport import goal_rows, resource_rows  # noqa: E402
from dysta_sw.report.tables import rows_table  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--freq", type=float, default=200.0, help="ECP5 frequency target in MHz (default 200)")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    runs = [("xcup", 64), ("xcup", 512), ("ecp5", 64)]
    with ThreadPoolExecutor(a.jobs) as ex:
        results = list(ex.map(lambda c: synth_scheduler(c[0], depth=c[1], fmt="fp16", shared=True,
                                                        freq_mhz=a.freq), runs))
    print(rows_table(resource_rows(results)))
    print()
    print(rows_table(goal_rows(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
