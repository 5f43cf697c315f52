"""Peak memory of loading (validating) a large trace pack: the goal is under twice the file's size.

    python benchmarks/trace_memory.py [--mb 200] [--keep FILE] [--compare REV]

Generates a synthetic pack of about ``--mb`` megabytes (uncompressed CSV; more samples per
model-pattern than synthetic-v1), then loads it with :func:`dysta_sw.trace.load_pack` in a fresh
process and prints the file size, the process's memory after its imports, its peak resident
memory (``VmHWM``) and the load time. ``--compare REV`` also loads it with the ``trace.py`` of a git
revision (e.g. ``--compare 97e66f8``, the loader before streaming).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
import numpy  # noqa: F401
from {module} import load_pack
base = status("VmRSS")
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
t0, c0 = time.perf_counter(), cpu()
pack = load_pack(sys.argv[2])
dt, dc = time.perf_counter() - t0, cpu() - c0
rows = sum(mp.n_samples * mp.n_layers for mp in pack.model_patterns.values())
print(json.dumps({{"base": base, "peak": status("VmHWM"), "seconds": dt, "cpu": dc, "rows": rows,
                  "fingerprint": pack.fingerprint}}))
"""


def make_pack(path: Path, mb: float) -> None:
    from dysta_sw.synthetic import generate_pack
    from dysta_sw.trace import save_pack

    probe = Path(tempfile.mkdtemp()) / "probe.csv"
    save_pack(generate_pack(16, 7, "memory-probe"), probe)
    per_sample = probe.stat().st_size / 16
    probe.unlink()
    samples = max(2, int(mb * 1e6 / per_sample))
    save_pack(generate_pack(samples, 7, "memory-benchmark"), path)


def measure(path: Path, root: Path, module: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD.format(module=module), str(root), str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def old_loader(rev: str, where: Path) -> Path:
    """The ``trace.py`` (and ``errors.py``) of git revision ``rev`` as package ``oldtrace`` in ``where``."""
    pkg = where / "oldtrace"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name in ("trace.py", "errors.py"):
        text = subprocess.run(["git", "show", f"{rev}:dysta_sw/{name}"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout
        (pkg / name).write_text(text)
    return where


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=200.0, help="size of the generated pack in MB (default 200)")
    ap.add_argument("--keep", default=None, help="write the pack here (and reuse it if it exists)")
    ap.add_argument("--compare", default=None, metavar="REV", help="also measure the loader of this git revision")
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="dysta-trace-memory-"))
    path = Path(a.keep) if a.keep else tmp / "big.csv"
    if not path.exists():
        t0 = time.perf_counter()
        make_pack(path, a.mb)
        print(f"generated {path} in {time.perf_counter() - t0:.0f} s")
    size = path.stat().st_size
    runs = [("streaming loader (this tree)", ROOT, "dysta_sw.trace")]
    if a.compare:
        runs.append((f"loader of {a.compare}", old_loader(a.compare, tmp), "oldtrace.trace"))
    print(f"pack: {size / 1e6:.1f} MB, ", end="", flush=True)
    for label, root, module in runs:
        r = measure(path, root, module)
        print(f"{r['rows']:,} rows\n{label}: peak RSS {r['peak'] / 1e6:.0f} MB ({r['peak'] / size:.2f}x the file), "
              f"{(r['peak'] - r['base']) / 1e6:.0f} MB above the {r['base'] / 1e6:.0f} MB after imports, "
              f"load {r['seconds']:.1f} s wall, {r['cpu']:.1f} s CPU, fingerprint {r['fingerprint']}", flush=True)
    shutil.rmtree(tmp, ignore_errors=True)  # the generated pack too, unless --keep put it elsewhere
    return 0


if __name__ == "__main__":
    sys.exit(main())
