"""Scaling of a sweep: local processes against a Dask cluster of 1 and 2 workers on this machine.

The workload is the Table 5 grid with many seeds (default 100): both scenarios, every scheduler
of the registry, SLO 10, 1000 requests, at the pack's Table 5 rate. Each configuration runs the
grid ``--repeat`` times, interleaved with the others so that other load on the machine hits them
alike, and the best wall time is kept. The Dask clusters are real ``dask scheduler`` and
``dask worker`` processes on 127.0.0.1 (one thread per worker); their start, the client's
connection and the workers' first task (loading the compiled kernels) are timed apart.

    python benchmarks/cluster_scaling.py [--seeds 100] [--repeat 3]

(``nox -s cluster-scaling``.) Needs the cluster extra.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from dysta_sw import cluster, sweep
from dysta_sw.policies import POLICY_NAMES
from dysta_sw.trace import resolve_pack


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DaskProcesses:
    """``dask scheduler`` and ``dask worker --nworkers N --nthreads 1`` on 127.0.0.1."""

    def __init__(self, workers: int):
        from distributed import Client
        dask = str(Path(sys.executable).with_name("dask"))
        port = _free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        t0 = time.perf_counter()
        self.procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                        "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        self.procs.append(subprocess.Popen([dask, "worker", self.address, "--nworkers", str(workers), "--nthreads",
                                            "1", "--no-dashboard"], stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL))
        while True:
            try:
                with Client(self.address, timeout="5s", set_as_default=False) as c:
                    c.wait_for_workers(workers, timeout=120)
                break
            except (OSError, TimeoutError):
                time.sleep(0.3)
        self.start_s = time.perf_counter() - t0

    def close(self):
        for p in reversed(self.procs):
            p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            p.wait(timeout=60)


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _cluster_cpu(address: str) -> float:
    """CPU seconds so far of a Dask cluster's scheduler and worker processes (nannies excluded)."""
    from distributed import Client

    def cpu():
        import os
        t = os.times()
        return t.user + t.system

    with Client(address, timeout="10s", set_as_default=False) as c:
        return sum(c.run(cpu).values()) + c.run_on_scheduler(cpu)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    pack = resolve_pack(None)
    sweeps = [sweep.grid(s, [pack.paper_rate(s)], [10.0], POLICY_NAMES, seeds=tuple(range(a.seeds)),
                         n_requests=a.requests) for s in ("attnn", "cnn")]
    print(f"{a.seeds}-seed Table 5 grid ({len(POLICY_NAMES)} schedulers x 2 scenarios x {a.seeds} seeds, "
          f"{a.requests} requests); {os.cpu_count()} cores, load average {os.getloadavg()}")
    sweep.warm(sweeps)
    ref = sweep.run(sweeps, jobs=1, progress=False)
    print(f"  {len(ref.rows)} runs, {ref.decisions:,} decisions")
    best: dict = {}
    cpu_best: dict = {}
    clusters = {}
    try:
        for n in (1, 2):
            c = DaskProcesses(n)
            clusters[n] = c
            t0 = time.perf_counter()
            with cluster.session(c.address):
                connect = time.perf_counter() - t0
                t0 = time.perf_counter()
                sweep.run([sweep.grid("attnn", [pack.paper_rate("attnn")], [10.0], ("fcfs",), seeds=(0,),
                                      n_requests=10)], progress=False)
                first = time.perf_counter() - t0
            print(f"  dask, {n} worker(s): cluster start {c.start_s:.1f} s, client connection {connect:.2f} s, "
                  f"first task (workers load the compiled kernels) {first:.2f} s")
        configs = [("local processes, --jobs 1", {"jobs": 1}), ("local processes, --jobs 2", {"jobs": 2}),
                   ("dask, 1 worker", {"cluster": clusters[1].address}),
                   ("dask, 2 workers", {"cluster": clusters[2].address})]
        for _ in range(a.repeat):
            for label, kw in configs:
                remote = kw.get("cluster")
                c0 = _cpu() + (_cluster_cpu(remote) if remote else 0.0)
                with cluster.session(remote):
                    t0 = time.perf_counter()
                    res = sweep.run(sweeps, progress=False, jobs=kw.get("jobs"))
                    wall = time.perf_counter() - t0
                cpu = _cpu() + (_cluster_cpu(remote) if remote else 0.0) - c0
                assert res.rows == ref.rows, f"{label}: results differ from the local run"
                best[label] = min(best.get(label, float("inf")), wall)
                cpu_best[label] = min(cpu_best.get(label, float("inf")), cpu)
    finally:
        for c in clusters.values():
            c.close()
    base = best["local processes, --jobs 2"]
    print(f"best of {a.repeat} (connection excluded; every configuration gave the same rows); CPU is every "
          "process's (this one, its pool workers, the scheduler and the workers), independent of other load:")
    cpu_base = cpu_best["local processes, --jobs 2"]
    for label, _ in configs:
        print(f"  {label:28s} wall {best[label]:7.2f} s ({best[label] / base:5.2f}x local --jobs 2)  "
              f"CPU {cpu_best[label]:7.2f} s ({cpu_best[label] / cpu_base:5.2f}x)  "
              f"{ref.decisions / best[label] / 1e6:6.1f} M decisions/s")
    print(f"  dask 1 -> 2 workers: {best['dask, 1 worker'] / best['dask, 2 workers']:.2f}x faster; "
          f"local 1 -> 2 processes: {best['local processes, --jobs 1'] / base:.2f}x faster")
    print(f"load average at the end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
