"""``python -m dysta_hw.formal``: every property of the scheduler, bounded and by k-induction.

Run by ``nox -s formal``. For each unit (shared and separate): the cover of the assumptions,
every property by BMC to ``--bmc`` steps and by k-induction to ``--prove`` steps, and every
mutant, which must FAIL. Prints one row per task as it ends, then the whole table (markdown);
exit status 1 if a BMC or cover fails or a mutant is missed. A k-induction that does not close
within its steps is reported as UNKNOWN (the property then stands bounded only).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from dysta_sw.report.tables import rows_table

from . import MUTANTS, PROPERTIES
from .run import check


def tasks(units, bmc: int, prove: int):
    """(unit, label, prop, mode, steps, mutant) of a full run."""
    for unit in units:
        yield unit, "reach (cover)", "reach", "cover", bmc, None
        for prop in PROPERTIES:
            yield unit, prop, prop, "bmc", bmc, None
            if prove:
                yield unit, prop, prop, "prove", prove, None
        for mutant, prop in MUTANTS.items():
            yield unit, f"{prop}, mutant {mutant}", prop, "bmc", bmc, mutant


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m dysta_hw.formal", description=__doc__.splitlines()[0])
    p.add_argument("--depth", type=int, default=8, help="request table depth of the checked scheduler (default 8)")
    p.add_argument("--fmt", default="fp16", choices=("fp16", "bf16", "fp32"))
    p.add_argument("--unit", choices=("shared", "separate", "both"), default="both")
    p.add_argument("--bmc", type=int, default=60,
                   help="BMC steps (default 60: past the longest decision of the shared unit at depth 8)")
    p.add_argument("--prove", type=int, default=8, help="k-induction steps (default 8; 0 skips)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per task (then UNKNOWN)")
    p.add_argument("--jobs", type=int, default=2, help="tasks run at once")
    p.add_argument("--workdir", default=None, help="keep the SymbiYosys directories here (traces of FAILs)")
    a = p.parse_args(argv)
    if a.bmc < 1 or a.prove < 0 or a.jobs < 1:
        p.error("--bmc and --jobs must be at least 1, --prove at least 0")
    work = a.workdir or tempfile.mkdtemp(prefix="dysta-formal-")
    units = ("shared", "separate") if a.unit == "both" else (a.unit,)

    def one(task):
        unit, label, prop, mode, steps, mutant = task
        r = check(prop, mode=mode, steps=steps, workdir=f"{work}/{unit}", mutant=mutant, timeout=a.timeout,
                  depth=a.depth, fmt=a.fmt, shared=unit == "shared")
        if mutant:
            ok = r.status == "FAIL"
            status = "FAIL (expected)" if ok else f"{r.status} (mutant missed)"
        else:
            ok = r.passed or (mode == "prove" and r.status == "UNKNOWN")
            status = r.status
        row = {"unit": unit, "check": label, "mode": mode, "steps": steps, "status": status,
               "seconds": round(r.seconds, 1)}
        print(rows_table([row]), flush=True)
        return row, ok

    with ThreadPoolExecutor(a.jobs) as ex:
        results = list(ex.map(one, tasks(units, a.bmc, a.prove)))
    print(rows_table([row for row, _ in results], markdown=True))
    print(f"SymbiYosys directories: {work}")
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
