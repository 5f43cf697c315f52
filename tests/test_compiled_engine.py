"""The compiled engine against the readable numpy engine, decision for decision.

Both engines read every policy formula from ``dysta_sw.formulas``; what these tests check
is everything else: admission, wake-ups, the queue, PREMA's tokens and threshold, Planaria's and
SDRM3's expired deadlines, the predictors' windows, the hardware policies' cycles and quanta,
preemption counts and ties. At every step the compiled engine must pick the same request, and
every start, finish, gamma and counter must be the same float.
"""

import os
import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import helpers as h
from dysta_sw import workload as wl
from dysta_sw.compiled import engine as compiled
from dysta_sw.engine import PROFILES
from dysta_sw.engine import simulate as reference
from dysta_sw.hwmodel import HW_POLICY_NAMES
from dysta_sw.policies import POLICY_NAMES, PREDICTORS, Options, make_policy
from dysta_sw.tables import ScenarioTables
from dysta_sw.trace import resolve_pack

ALL = POLICY_NAMES + HW_POLICY_NAMES
#: the reference profile's behaviours on the paper's admission (a <= t), static score and predictor
MIXED = replace(PROFILES["paper"], name="mixed", clock_rewind=True, prema_reaccumulate=True, prema_first_seen=True,
                prema_gamma_token=True, prema_stale_gamma=True, scan_selection=True, penalty_capacity=False)


def _value(discrete, lo, hi):
    """A value from a few round numbers (so scores tie) or anywhere in [lo, hi]."""
    return st.one_of(st.sampled_from(discrete), st.floats(lo, hi, allow_nan=False, allow_infinity=False))


@st.composite
def cases(draw):
    n_mp = draw(st.integers(1, 3))
    # model-patterns share a model (and its layer count) or not, so per-model averages differ
    # from the pattern-aware look-up tables
    model_layers = [draw(st.integers(1, 5)) for _ in range(2)]
    mps = []
    for k in range(n_mp):
        model = draw(st.integers(0, 1))
        n_layers = model_layers[model]
        n_samples = draw(st.integers(1, 3))
        lat = [[draw(_value([5e-4, 1e-3, 2e-3], 1e-5, 1e-2)) for _ in range(n_layers)] for _ in range(n_samples)]
        rho = [[draw(_value([0.0, 0.5, 1.0], 1e-6, 1.0)) for _ in range(n_layers)] for _ in range(n_samples)]
        shape = [draw(st.integers(1, 70000)) for _ in range(n_layers)]
        mps.append(h.model_pattern(f"m{model}/p{k}/0.5", lat, rho, shape=shape))
    capacity = draw(st.sampled_from([1.0, 8.0, 100.0]))
    tab = h.tables(*mps, capacity=capacity)
    n = draw(st.integers(1, 40))
    gaps = [draw(_value([0.0, 0.0, 1e-3], 0.0, 6e-3)) for _ in range(n)]
    mp = np.array([draw(st.integers(0, n_mp - 1)) for _ in range(n)])
    sample = np.array([draw(st.integers(0, tab.n_samples[m] - 1)) for m in mp])
    priority = np.array([draw(st.sampled_from([1, 3, 9])) for _ in range(n)])
    w = h.workload(tab, np.cumsum(gaps), mp, sample, priority)
    slo = draw(st.sampled_from([0.1, 0.5, 1.0, 2.0, 10.0]))
    options = Options(beta=draw(_value([0.01], 0.0, 1.0)), eta=draw(_value([0.01], 0.0, 1.0)),
                      alpha=draw(_value([1.0], 0.0, 4.0)), predictor=draw(st.sampled_from(PREDICTORS)),
                      last_n=draw(st.integers(1, 5)), gamma_scale=draw(st.sampled_from([1.0, 0.5, 3.0])),
                      predictor_alpha=draw(st.sampled_from(["fitted", "1"])))
    return tab, w, w.deadlines(slo), options


def assert_same_run(ref, got):
    np.testing.assert_array_equal(got.log[:, :2], ref.log[:, :2])  # request and layer of every step
    np.testing.assert_array_equal(got.log, ref.log)  # start and end times
    np.testing.assert_array_equal(got.gamma_log, ref.gamma_log)
    np.testing.assert_array_equal(got.finish, ref.finish)
    assert (got.preemptions, got.decisions) == (ref.preemptions, ref.decisions)


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=cases(), profile=st.sampled_from(["paper", "reference", MIXED]))
def test_same_decisions_as_reference_engine(name, case, profile):
    tab, w, d, options = case
    ref = reference(tab, [w], [d], make_policy(name, options), profile, record=True)[0]
    got = compiled.simulate(tab, [w], [d], make_policy(name, options), profile, record=True)[0]
    assert_same_run(ref, got)
    # the queue the policy saw at each step: the unfinished requests that arrived by the step's
    # start; in the reference profile, those that arrived strictly before it, except at a
    # wake-up (queue empty), which sees only the next request (starting at its arrival, which may
    # be before the previous step's end: the clock rewinds)
    admitted, done = 0, np.zeros(len(w), bool)
    for k, (s, seen) in enumerate(zip(got.log[:, 2], got.extra["queue"])):
        if profile is MIXED:
            break
        if profile == "paper":
            assert seen == int(((w.arrival <= s) & (got.finish > s)).sum())
        elif done[:admitted].all():
            assert seen == 1 and s == w.arrival[admitted]
            admitted += 1
        else:
            admitted = max(admitted, int((w.arrival < s).sum()))
            assert seen == int((~done[:admitted]).sum())
        req = int(got.log[k, 0])
        done[req] = got.log[k, 1] == tab.n_layers[w.mp[req]] - 1


@settings(max_examples=300, deadline=None)
@given(v=st.lists(st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.5, np.inf, -np.inf, np.nan]) | st.floats(), min_size=1,
                  max_size=40), extra=st.integers(0, 3))
def test_argmin_of_a_scan_is_numpys(v, extra):
    """The scans' argmin (first NaN, else first least; ties, signed zeros, infinities) is numpy's,
    on the first ``q`` entries of a longer row."""
    row = np.array(v + [-np.inf] * extra)  # entries past q must not count
    assert compiled._argmin(row, len(v)) == int(np.argmin(np.array(v)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=cases(), profile=st.sampled_from(["paper", replace(PROFILES["reference"], clock_rewind=False)]))
def test_fcfs_finish_is_the_engines_fcfs(case, profile):
    """The load calibration's FCFS (no kernel of the engine needed) gives the engines' finish times,
    bit for bit, in every profile without the clock rewind (strict admission included)."""
    tab, w, d, options = case
    ref = reference(tab, [w], [d], make_policy("fcfs", options), profile)[0]
    np.testing.assert_array_equal(compiled.fcfs_finish(tab, w), ref.finish)


def test_fcfs_finish_on_the_shipped_pack():
    """Deep queues and idle gaps: every request of a Table 5 workload at two loads."""
    pack = resolve_pack(None)
    tab = ScenarioTables.build(pack, "cnn")
    for rate in (0.5, 8.0):
        w = wl.generate(tab, pack.paper_rate("cnn", rate), 300, 1, pack)
        got = compiled.simulate(tab, [w], [w.deadlines(10.0)], make_policy("fcfs"), "paper")[0]
        np.testing.assert_array_equal(compiled.fcfs_finish(tab, w), got.finish)
        assert (w.arrival[1:] > got.finish[:-1]).any() and (w.arrival[1:] < got.finish[:-1]).any()


@pytest.mark.parametrize("scenario", ["attnn", "cnn"])
def test_same_decisions_on_the_shipped_pack(scenario):
    """Table 5 workloads (queues as deep as the paper's offered load makes them), every policy."""
    pack = resolve_pack(None)
    tab = ScenarioTables.build(pack, scenario)
    w = wl.generate(tab, pack.paper_rate(scenario, 40.0 if scenario == "attnn" else 4.0), 250, 3, pack)
    d = w.deadlines(10.0)
    for profile in ("paper", "reference"):
        for name in ALL:
            ref = reference(tab, [w], [d], make_policy(name), profile, record=True)[0]
            got = compiled.simulate(tab, [w], [d], make_policy(name), profile, record=True)[0]
            assert_same_run(ref, got)
    assert got.extra["queue"].max() >= 4  # the queues are not trivial


def test_several_workloads_and_read_only_arrays():
    """Runs are independent; read-only inputs (as a cluster worker deserializes them) neither change
    a result nor compile the kernel a second time."""
    pack = resolve_pack(None)
    tab = ScenarioTables.build(pack, "attnn")
    works = [wl.generate(tab, pack.paper_rate("attnn"), 200, s, pack) for s in range(3)]
    dls = [w.deadlines(25.0) for w in works]
    ref = reference(tab, works, dls, make_policy("dysta"))
    for w in works:
        for a in (w.arrival, w.mp, w.sample, w.priority):
            a.flags.writeable = False
    for arr in (tab.lat, tab.rho, tab.rbar):
        arr.flags.writeable = False
    got = compiled.simulate(tab, works, dls, make_policy("dysta"))
    for r, g in zip(ref, got):
        np.testing.assert_array_equal(r.finish, g.finish)
    assert len(compiled.run_sw.signatures) == 1


def test_bad_input():
    tab = h.tables(h.model_pattern("m/p/0.5", [[1.0]]))
    w = h.workload(tab, [0.0], [0])
    with pytest.raises(ValueError, match="one deadline array"):
        compiled.simulate(tab, [w], [], make_policy("fcfs"))
    assert compiled.simulate(tab, [], [], make_policy("fcfs")) == []
    from dysta_sw.errors import DystaInputError
    with pytest.raises(DystaInputError, match="at least one request"):
        compiled.simulate(tab, [h.workload(tab, [], [])], [np.array([])], make_policy("fcfs"))
    with pytest.raises(DystaInputError, match="profile"):
        compiled.simulate(tab, [w], [w.deadlines(1.0)], make_policy("fcfs"), "fast")


def test_unknown_policy_is_not_supported():
    from dysta_sw.policies import Policy

    class Mine(Policy):
        name = "mine"

    assert not compiled.supports(Mine())
    assert all(compiled.supports(make_policy(n)) for n in ALL)


@pytest.mark.slow
def test_kernel_is_cached_on_disk(tmp_path):
    """A second process loads the compiled kernel from the cache directory instead of compiling it."""
    script = textwrap.dedent("""
        import json
        from dysta_sw.compiled import _jit, engine
        engine.warm()
        kernels = (engine.run_sw, engine.run_hw)
        print(json.dumps({"dir": str(_jit.cache_dir()),
                          "hits": sum(sum(k.stats.cache_hits.values()) for k in kernels),
                          "misses": sum(sum(k.stats.cache_misses.values()) for k in kernels)}))
    """)
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    import json
    first = json.loads(subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                                      check=True).stdout)
    second = json.loads(subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                                       check=True).stdout)
    assert first["dir"].startswith(str(tmp_path / "numba" / "dysta"))
    assert (first["hits"], first["misses"]) == (0, 2)
    assert (second["hits"], second["misses"]) == (2, 0)
    assert list((tmp_path / "numba").rglob("*.nbi"))


@pytest.mark.slow
def test_processes_wanting_a_kernel_at_once_compile_it_once(tmp_path):
    """Two processes that start compiling a kernel at the same moment (the report's background
    processes, a sweep's workers): one compiles it, the other waits and loads it from the cache."""
    script = textwrap.dedent("""
        import json, sys, time
        from dysta_sw.compiled import engine
        while time.time() < float(sys.argv[1]):  # start together
            time.sleep(0.01)
        t0 = time.perf_counter()
        engine.warm(False)
        k = engine.run_sw
        print(json.dumps({"hits": sum(k.stats.cache_hits.values()), "misses": sum(k.stats.cache_misses.values()),
                          "seconds": time.perf_counter() - t0}))
    """)
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "PYTHONPATH": os.pathsep.join(sys.path)}
    import json
    import time
    start = f"{time.time() + 3:.3f}"  # after both imported numba
    procs = [subprocess.Popen([sys.executable, "-c", script, start], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted((o["hits"], o["misses"]) for o in outs) == [(0, 1), (1, 0)]
    compiler, loader = sorted(outs, key=lambda o: o["hits"])
    assert loader["seconds"] >= 0.5 * compiler["seconds"]  # it waited for the compilation


def test_cache_directory_falls_back_when_not_writable(tmp_path, monkeypatch):
    """No writable NUMBA_CACHE_DIR: the next candidate is used (a read-only install never writes
    into the package)."""
    from dysta_sw.compiled import _jit
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocker / "numba"))
    monkeypatch.setenv("DYSTA_CACHE_DIR", str(tmp_path / "dysta"))
    assert _jit._find_cache_dir() == tmp_path / "dysta" / "numba" / _jit.source_stamp()
    monkeypatch.setenv("DYSTA_CACHE_DIR", str(blocker / "dysta"))
    monkeypatch.setattr(_jit.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    found = _jit._find_cache_dir()
    assert found.parent.parent == tmp_path / "tmp" and found.name == _jit.source_stamp()


@pytest.mark.parametrize("cfg", [dict(fmt="fp16"), dict(fmt="bf16", mode="lean", time_shift=6),
                                 dict(fmt="fp32", depth=8, time_bits=24)], ids=["fp16", "bf16-lean", "fp32-depth8"])
def test_hardware_policy_configurations(cfg):
    """Queues longer than the request table's 1/n look-up (depth), lean arithmetic, narrow time
    registers that saturate: the compiled dysta-hw policy follows the reference."""
    from dysta_sw.hwmodel import DystaHW, HwConfig
    tab = h.tables(h.model_pattern("a/p/0.5", [[1e-3, 2e-3, 5e-4], [2e-3, 1e-3, 1e-3]],
                                   [[0.2, 0.9, 0.5], [0.6, 0.1, 1.0]], shape=[100, 70000, 3]),
                   h.model_pattern("b/p/0.5", [[4e-3, 1e-4, 1e-4]], [[0.0, 1.0, 0.3]], shape=[8, 8, 9000]))
    rng = np.random.default_rng(5)
    n = 90  # all but a few arrive at once: the queue holds more than 64 requests
    w = h.workload(tab, np.sort(np.r_[np.zeros(80), rng.uniform(0, 0.05, 10)]), rng.integers(0, 2, n),
                   np.zeros(n, int), rng.choice([1, 3, 9], n))
    w.sample[:] = [rng.integers(0, tab.n_samples[m]) for m in w.mp]
    d = w.deadlines(3.0)
    policy = lambda: DystaHW(Options(), cfg=HwConfig(**cfg))  # noqa: E731
    ref = reference(tab, [w], [d], policy(), record=True)[0]
    got = compiled.simulate(tab, [w], [d], policy(), record=True)[0]
    assert_same_run(ref, got)
    assert got.extra["queue"].max() > 64


def test_the_two_kernels_share_no_compiled_code(tmp_path):
    """The kernel of every policy but dysta-hw compiles none of the hardware's FP arithmetic, and
    the dysta-hw kernel none of the other policies' formulas (numba prunes the branches on the
    argument that is None): each compiles alone, and a sweep without dysta-hw never compiles
    the FP functions. In a fresh process and cache (a kernel loaded from the cache compiles
    nothing it calls)."""
    script = textwrap.dedent("""
        import json
        from dysta_sw.compiled import engine, fp, hw, kernels
        fp_fns = [fp.add, fp.sub, fp.mul, fp.from_int, fp.key, fp.to_float, hw.gamma, hw.trem, hw.score_trem]
        formulas = [kernels.prema_gain, kernels.sdrm3_mapscore, kernels.planaria_score, kernels.dysta_dynamic,
                    kernels.density_ratio, kernels.gamma_mean]
        count = lambda fns: sum(len(f.signatures) for f in fns)
        engine.warm(False)
        after_sw = (count(fp_fns), count(formulas), engine.ready(False), engine.ready(True))
        engine.warm(True)
        after_hw = (count(fp_fns), count(formulas), engine.ready(False), engine.ready(True))
        print(json.dumps([after_sw, after_hw]))
    """)
    import json
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env).stdout
    after_sw, after_hw = json.loads(out.strip().splitlines()[-1])
    n_fp, n_formulas = 9, 6
    assert after_sw[0] == 0 and after_sw[1] >= n_formulas and after_sw[2:] == [True, False]
    # the FP functions now (one signature each), no formula again
    assert after_hw == [n_fp, after_sw[1], True, True]
