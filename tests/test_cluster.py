"""Sweeps on a real Dask cluster on 127.0.0.1: a ``dask scheduler`` and ``dask worker`` processes.

The results, their order, the files and the printed table must equal a local run's, and a worker
killed in the middle of a sweep must lose nothing (the scheduler runs its tasks again).
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import helpers
from dysta_sw import cluster, sweep
from dysta_sw.cli import main
from dysta_sw.errors import DystaInputError
from dysta_sw.policies import POLICY_NAMES
from dysta_sw.trace import resolve_pack

distributed = helpers.require_module("distributed", "pip install -e '.[cluster]'")

DASK = str(Path(sys.executable).with_name("dask"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalCluster:
    """A scheduler and ``workers`` worker processes (one thread each), started as a user would."""

    def __init__(self, workers: int, tmp: Path):
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs = []
        self.log = log = open(tmp / f"dask-{self.port}.log", "w")
        self.procs.append(subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                                            "--no-dashboard"], stdout=log, stderr=subprocess.STDOUT))
        self.procs.append(subprocess.Popen([DASK, "worker", self.address, "--nworkers", str(workers), "--nthreads",
                                            "1", "--no-dashboard", "--local-directory", str(tmp)],
                                           stdout=log, stderr=subprocess.STDOUT))
        self.client = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                self.client = distributed.Client(self.address, timeout="5s", set_as_default=False)
                self.client.wait_for_workers(workers, timeout=60)
                return
            except (OSError, TimeoutError):
                time.sleep(0.5)
        self.close()
        raise RuntimeError(f"the Dask cluster at {self.address} did not start; see {log.name}")

    def worker_pids(self) -> dict:
        return self.client.run(os.getpid)

    def close(self):
        if self.client is not None:
            self.client.close()
        for p in reversed(self.procs):  # stop what this test started, by process id
            p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.log.close()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    c = LocalCluster(2, tmp_path_factory.mktemp("dask"))
    yield c
    c.close()


def _sweeps(seeds, requests, schedulers=POLICY_NAMES):
    pack = resolve_pack(None)
    return [sweep.grid(s, [pack.paper_rate(s)], [10.0, 50.0], schedulers, seeds=tuple(range(seeds)),
                       n_requests=requests) for s in ("attnn", "cnn")]


@pytest.mark.slow
def test_sweep_on_cluster_equals_local_run(dask_cluster):
    sweeps = _sweeps(seeds=6, requests=300)
    local = sweep.run(sweeps, jobs=1, progress=False)
    remote = sweep.run(sweeps, cluster=dask_cluster.address, progress=False)
    assert len(local.rows) == 2 * 2 * 6 * len(POLICY_NAMES)
    assert remote.rows == local.rows  # every value, in the same order
    assert remote.decisions == local.decisions
    # the tasks ran on both workers
    assert len(dask_cluster.client.run(lambda: sorted(sweep._TABLES))) == 2


@pytest.mark.slow
def test_cli_files_and_table_equal_local_run(dask_cluster, tmp_path, capsys):
    args = ["bench", "--scenario", "attnn", "cnn", "--seeds", "3", "--requests", "200", "--slo", "10", "25"]
    assert main([*args, "--runs-csv", str(tmp_path / "local.csv"), "--jobs", "2"]) == 0
    local_out = capsys.readouterr().out
    assert main([*args, "--runs-csv", str(tmp_path / "remote.csv"), "--cluster", dask_cluster.address]) == 0
    remote_out = capsys.readouterr().out
    assert remote_out == local_out
    assert (tmp_path / "remote.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()


@pytest.mark.slow
def test_environment_variable_selects_the_cluster(dask_cluster, monkeypatch):
    sweeps = _sweeps(seeds=2, requests=100, schedulers=("fcfs", "dysta"))
    monkeypatch.delenv(cluster.ENV, raising=False)
    local = sweep.run(sweeps, jobs=1, progress=False)
    monkeypatch.setenv(cluster.ENV, dask_cluster.address)
    with distributed.get_task_stream(client=dask_cluster.client) as stream:
        remote = sweep.run(sweeps, progress=False)
    assert remote.rows == local.rows
    assert len(stream.data) >= 2  # the tasks did run on the cluster


@pytest.mark.slow
def test_worker_killed_mid_sweep_loses_no_result(tmp_path):
    """SIGKILL one worker process while tasks are running: the nanny restarts it, the scheduler
    runs its tasks again, and every row is there and equal to a local run's."""
    sweeps = _sweeps(seeds=24, requests=1000, schedulers=("dysta-hw-bf16", "dysta-hw-fp16", "sdrm3"))
    local = sweep.run(sweeps, jobs=1, progress=False)
    c = LocalCluster(2, tmp_path)
    try:
        pids = c.worker_pids()
        victim_addr, victim = sorted(pids.items())[0]
        state = {}

        def kill_when_busy():
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and "killed" not in state:
                done = c.client.run_on_scheduler(
                    lambda dask_scheduler: sum(ts.state == "memory" for ts in dask_scheduler.tasks.values()))
                busy = c.client.processing().get(victim_addr, ())
                if done >= 2 and busy:
                    os.kill(victim, signal.SIGKILL)
                    state["killed"] = done
                time.sleep(0.01)

        killer = threading.Thread(target=kill_when_busy)
        killer.start()
        remote = sweep.run(sweeps, cluster=c.address, progress=False)
        killer.join()
        assert "killed" in state, "the sweep ended before a worker could be killed"
        n_tasks = len([t for sw in sweeps for t in sweep._tasks(sw, 2)])
        assert state["killed"] < n_tasks  # killed mid-sweep, not after
        assert remote.rows == local.rows
        assert victim not in c.worker_pids().values()  # it really died (and was replaced)
    finally:
        c.close()


def test_bad_cluster_addresses(monkeypatch, capsys):
    monkeypatch.delenv(cluster.ENV, raising=False)
    with pytest.raises(DystaInputError, match="tcp://host:8786"):
        cluster.resolve("localhost:8786")
    monkeypatch.setenv(cluster.ENV, "nonsense")
    with pytest.raises(DystaInputError, match="DYSTA_CLUSTER"):
        cluster.resolve(None)
    monkeypatch.delenv(cluster.ENV)
    port = _free_port()  # nothing listens there
    assert main(["bench", "--seeds", "1", "--requests", "10", "--cluster", f"tcp://127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dysta bench: error: cannot reach the Dask scheduler") and "dask scheduler" in err


def test_without_address_nothing_imports_dask(monkeypatch):
    monkeypatch.delenv(cluster.ENV, raising=False)
    code = ("import sys; from dysta_sw import sweep; from dysta_sw.trace import resolve_pack; "
            "p = resolve_pack(None); "
            "sweep.run([sweep.grid('attnn', [p.paper_rate('attnn')], [10.0], ('fcfs',), seeds=(0,), n_requests=20)], "
            "jobs=1, progress=False); print('distributed' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.slow
def test_synthesis_sweep_on_cluster(dask_cluster, yosys):
    """``dysta synth --sweep`` units on the cluster give the local rows (the tools' results are
    cached per machine; ``cached`` is the only field that may differ)."""
    helpers.require_module("amaranth", "pip install -e '.[hw]'")
    from dysta_hw import synth
    kw = {"depths": (8,), "fmts": ("fp16", "bf16"), "units": (True,), "progress": False}
    local = synth.sweep("xcup", **kw)
    remote = synth.sweep("xcup", cluster=dask_cluster.address, **kw)
    strip = [{k: v for k, v in r.items() if k != "cached"} for r in local]
    assert [{k: v for k, v in r.items() if k != "cached"} for r in remote] == strip
    # every format in IEEE mode, and the lean FP16 point (the paper's Table 6) beside it
    lean = [(8, "fp16", "lean")] if synth.lean_available() else []
    assert [(r["depth"], r["fmt"], r["mode"]) for r in remote] == [(8, "fp16", "ieee"), *lean, (8, "bf16", "ieee")]


@pytest.mark.slow
def test_pack_build_on_cluster(dask_cluster):
    """The profiling pack build's model-patterns run as cluster tasks and give the local traces."""
    helpers.require_module("torch", "pip install -e '.[profiling]'")
    from profiling import pack
    kw = {"seed": 3, "resolution": 32, "cnn_models": ("mobilenet",), "attnn_models": (), "progress": False}
    local = pack.build_pack(2, **kw)
    remote = pack.build_pack(2, cluster=dask_cluster.address, **kw)
    assert list(remote.model_patterns) == list(local.model_patterns) == [
        "mobilenet/random/0.5", "mobilenet/nm2:4/0.5", "mobilenet/channel/0.5"]
    assert remote.scenarios == local.scenarios
    for name, mp in local.model_patterns.items():
        other = remote.model_patterns[name]
        for field in ("lat", "rho", "shape", "calib"):
            np.testing.assert_array_equal(getattr(other, field), getattr(mp, field))
