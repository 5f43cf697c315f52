# amaranth: UnusedElaboratable=no
"""The floating-point units in Amaranth's simulator, bit for bit against the golden model.

The golden model is itself checked against SoftFloat (test_fp_golden.py). To keep the Python
simulator fast, vectors and expected results live in ROMs inside the simulated design: a counter
feeds one vector per cycle (with random bubbles), and a checker compares ``o.valid`` and
``o.payload`` with the expectation ``latency`` cycles later, counting mismatches. The testbench
only waits for the end and reads the counters, so each test runs 20k vectors per format, mode
and pipeline setting.
"""

import itertools

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module, Signal, Value
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from dysta_hw.fp import FPAdd, FPClamp0, FPFromInt, FPMin, FPMul
from dysta_hw.fp._base import _spread
from dysta_sw import fp
from dysta_sw.fp import FP16
from fp_cases import FORMATS, conformance_pairs, int_cases, special_operands

N_VECTORS = 20000


class _Bench(Elaboratable):
    """Streams ROM vectors through ``unit`` and counts mismatches against ROM expectations."""

    def __init__(self, unit, inputs, valid, expected):
        self.unit, self.inputs, self.valid, self.expected = unit, inputs, valid, expected
        self.errors = Signal(32)
        self.first = Signal(32)
        self.got = Signal(Value.cast(unit.o.payload).shape())
        self.got_valid = Signal()

    def elaborate(self, platform):
        m = Module()
        u = self.unit
        m.submodules.unit = u
        n, lat = len(self.inputs), u.latency
        ip, op = Value.cast(u.i.payload), Value.cast(u.o.payload)
        m.submodules.rin = rin = Memory(shape=len(ip) + 1, depth=n, init=[
            (int(x) << 1) | int(v) for x, v in zip(self.inputs, self.valid)])
        m.submodules.rexp = rexp = Memory(shape=len(op) + 1, depth=n, init=[
            (int(x) << 1) | int(v) for x, v in zip(self.expected, self.valid)])
        t = Signal(range(n + lat + 2))
        m.d.sync += t.eq(t + 1)
        rd_in = rin.read_port(domain="comb")
        rd_exp = rexp.read_port(domain="comb")
        m.d.comb += [rd_in.addr.eq(t), ip.eq(rd_in.data[1:]), u.i.valid.eq(rd_in.data[0] & (t < n)),
                     rd_exp.addr.eq(t - lat)]
        checking = (t >= lat) & (t < n + lat)
        want_valid = rd_exp.data[0]
        wrong = checking & ((u.o.valid != want_valid) | (want_valid & (op != rd_exp.data[1:])))
        with m.If(wrong):
            m.d.sync += self.errors.eq(self.errors + 1)
            with m.If(self.errors == 0):
                m.d.sync += [self.first.eq(t - lat), self.got.eq(op), self.got_valid.eq(u.o.valid)]
        return m


def simulate(unit, inputs, expected, seed=0):
    """Run the vectors; return (mismatches, index of the first, its output, its valid)."""
    rng = np.random.default_rng(seed)
    valid = rng.random(len(inputs)) > 0.1  # bubbles: valid must travel with the data
    bench = _Bench(unit, inputs, valid, expected)
    sim = Simulator(bench)
    sim.add_clock(1e-6)
    result = {}

    async def testbench(ctx):
        await ctx.tick().repeat(len(inputs) + unit.latency + 1)
        result.update(errors=ctx.get(bench.errors), first=ctx.get(bench.first),
                      got=ctx.get(bench.got), got_valid=ctx.get(bench.got_valid))

    sim.add_testbench(testbench)
    sim.run()
    return result


def _pick(a, b, n, seed):
    idx = np.random.default_rng(seed).permutation(len(a))[:n]
    return a[idx], b[idx]


def _pack(*fields):
    """Python ints packing (value, width) columns LSB first."""
    out = [0] * len(fields[0][0])
    shift = 0
    for values, width in fields:
        for i, v in enumerate(values.tolist()):
            out[i] |= (int(v) & ((1 << width) - 1)) << shift
        shift += width
    return out


def _check(unit, inputs, expected, describe):
    r = simulate(unit, inputs, list(map(int, expected)))
    assert r["errors"] == 0, (
        f"{r['errors']} mismatches; first at vector {r['first']}: {describe(r['first'])}, "
        f"got {r['got']:#x} (valid {r['got_valid']})")


def _ids(x):
    return x.name if isinstance(x, fp.Format) else str(x)


#: FP16 in the default run; BF16 and FP32 (the same circuits at other widths, which the scheduler's
#: equivalence tests also exercise) in tier `hw`.
UNIT_FORMATS = [f if f.name == "fp16" else pytest.param(f, marks=pytest.mark.hw, id=f.name) for f in FORMATS]


# Each unit at 0 stages and at its full internal pipeline depth, a register at every cut point
# (those in tier `hw`; test_any_depth_keeps_latency_and_results checks a sample of depths of every
# unit in the default run).
FULL = pytest.param("full", marks=pytest.mark.hw)


def _depth(unit_class, stages, **kw):
    """``unit_class(**kw)`` with ``stages`` register slices, or one at each cut point ("full")."""
    if stages == "full":
        stages = unit_class(**kw).cut_points
    return unit_class(stages=stages, **kw)


@pytest.mark.parametrize("fmt", UNIT_FORMATS, ids=_ids)
@pytest.mark.parametrize("mode", fp.MODES)
@pytest.mark.parametrize("stages", [0, FULL])
def test_add_sub(fmt, mode, stages):
    a, b = conformance_pairs(fmt, "add", n_random=8000)
    a, b = _pick(a, b, N_VECTORS, 1)
    sub = np.random.default_rng(2).integers(0, 2, len(a))
    want = np.where(sub == 1, fp.sub(a, b, fmt, mode), fp.add(a, b, fmt, mode))
    w = fmt.width
    _check(_depth(FPAdd, stages, fmt=fmt, mode=mode), _pack((a, w), (b, w), (sub, 1)), want,
           lambda i: f"{'sub' if sub[i] else 'add'}({a[i]:#x}, {b[i]:#x}) = {int(want[i]):#x}")


@pytest.mark.parametrize("fmt", UNIT_FORMATS, ids=_ids)
@pytest.mark.parametrize("mode", fp.MODES)
@pytest.mark.parametrize("stages,dsp", [(0, True), pytest.param(0, False, marks=pytest.mark.hw),
                                        pytest.param("full", True, marks=pytest.mark.hw),
                                        pytest.param("full", False, marks=pytest.mark.hw)])
def test_mul(fmt, mode, stages, dsp):
    a, b = conformance_pairs(fmt, "mul", n_random=8000)
    a, b = _pick(a, b, N_VECTORS, 3)
    want = fp.mul(a, b, fmt, mode)
    w = fmt.width
    _check(_depth(FPMul, stages, fmt=fmt, mode=mode, dsp=dsp), _pack((a, w), (b, w)), want,
           lambda i: f"mul({a[i]:#x}, {b[i]:#x}) = {int(want[i]):#x}")


@pytest.mark.parametrize("fmt", UNIT_FORMATS, ids=_ids)
@pytest.mark.parametrize("width,signed", [(32, True), (16, False), pytest.param(24, False, marks=pytest.mark.hw),
                                          pytest.param(49, True, marks=pytest.mark.hw)])
@pytest.mark.parametrize("stages", [0, FULL])
def test_from_int(fmt, width, signed, stages):
    x = int_cases(fmt, width, signed, n_random=N_VECTORS)
    x = x[np.random.default_rng(4).permutation(len(x))[:N_VECTORS]]
    mode = "lean" if stages else "ieee"  # the same circuit in both modes: alternate them
    want = fp.from_int(x, width, signed, fmt, mode)
    _check(_depth(FPFromInt, stages, width=width, signed=signed, fmt=fmt, mode=mode),
           _pack((x, width)), want, lambda i: f"from_int({x[i]}) = {int(want[i]):#x}")


def _compare_vectors(fmt, seed):
    s = special_operands(fmt)
    a, b = (v.ravel() for v in np.meshgrid(s, s))
    rng = np.random.default_rng(seed)
    r = rng.integers(0, 1 << fmt.width, (2, N_VECTORS))
    return _pick(np.concatenate([a, r[0]]), np.concatenate([b, r[1]]), N_VECTORS, seed)


@pytest.mark.parametrize("fmt", UNIT_FORMATS, ids=_ids)
@pytest.mark.parametrize("mode", fp.MODES)
@pytest.mark.parametrize("stages", [0, FULL])
def test_min(fmt, mode, stages):
    a, b = _compare_vectors(fmt, 5)
    lt = fp.lt_total(a, b, fmt, mode).astype(np.int64)
    mn = fp.minimum(a, b, fmt, mode).astype(np.int64)
    w = fmt.width
    want = mn | (lt << w)  # StructLayout {min, lt}
    _check(_depth(FPMin, stages, fmt=fmt, mode=mode), _pack((a, w), (b, w)), want,
           lambda i: f"min/lt({a[i]:#x}, {b[i]:#x}) = {mn[i]:#x}/{lt[i]}")


@pytest.mark.parametrize("fmt", UNIT_FORMATS, ids=_ids)
@pytest.mark.parametrize("mode", fp.MODES)
@pytest.mark.parametrize("stages", [0, FULL])
def test_clamp0(fmt, mode, stages):
    a, _ = _compare_vectors(fmt, 6)
    want = fp.clamp0(a, fmt, mode)
    _check(_depth(FPClamp0, stages, fmt=fmt, mode=mode), _pack((a, fmt.width)), want,
           lambda i: f"clamp0({a[i]:#x}) = {int(want[i]):#x}")


# -- pipeline contract -----------------------------------------------------------------------

def _sample_vectors(kind, mode, n=600):
    """``(make_unit(stages), inputs, expected)`` for a short FP16 run of one unit kind."""
    if kind in ("add", "mul", "mul_fabric"):
        op = "add" if kind == "add" else "mul"
        a, b = _pick(*conformance_pairs(FP16, op, n_random=300), n, 8)
        if kind == "add":
            sub = np.random.default_rng(9).integers(0, 2, len(a))
            want = np.where(sub == 1, fp.sub(a, b, FP16, mode), fp.add(a, b, FP16, mode))
            return lambda st: FPAdd(mode=mode, stages=st), _pack((a, 16), (b, 16), (sub, 1)), want
        return (lambda st: FPMul(mode=mode, stages=st, dsp=kind == "mul"), _pack((a, 16), (b, 16)),
                fp.mul(a, b, FP16, mode))
    if kind == "from_int":
        x = int_cases(FP16, 24, True, n_random=n)
        x = x[np.random.default_rng(10).permutation(len(x))[:n]]
        return (lambda st: FPFromInt(width=24, signed=True, mode=mode, stages=st), _pack((x, 24)),
                fp.from_int(x, 24, True, FP16, mode))
    a, b = _compare_vectors(FP16, 11)
    a, b = a[:n], b[:n]
    if kind == "min":
        want = fp.minimum(a, b, FP16, mode).astype(np.int64) | (fp.lt_total(a, b, FP16, mode).astype(np.int64) << 16)
        return lambda st: FPMin(mode=mode, stages=st), _pack((a, 16), (b, 16)), want
    return lambda st: FPClamp0(mode=mode, stages=st), _pack((a, 16),), fp.clamp0(a, FP16, mode)


@pytest.mark.parametrize("kind,mode", [("add", "ieee"), ("add", "lean"), ("mul", "ieee"), ("mul_fabric", "lean"),
                                       ("mul_fabric", "ieee"), ("from_int", "ieee"), ("min", "lean"),
                                       ("clamp0", "lean")])
def test_any_depth_keeps_latency_and_results(kind, mode):
    """A register at the output only, at every cut point, and one more: latency == stages, the
    same results (tier `hw` checks every depth in between)."""
    make, inputs, want = _sample_vectors(kind, mode)
    cuts = make(0).cut_points
    for stages in sorted({1, cuts, cuts + 1}):
        unit = make(stages)
        assert unit.latency == stages
        _check(unit, inputs, want, lambda i, st=stages: f"{kind} {mode} stages={st} vector {i}")


@pytest.mark.hw
@pytest.mark.parametrize("kind,mode", [("add", "ieee"), ("mul", "ieee"), ("mul_fabric", "lean"), ("from_int", "ieee"),
                                       ("min", "lean")])
def test_every_depth_keeps_latency_and_results(kind, mode):
    make, inputs, want = _sample_vectors(kind, mode)
    for stages in range(2, make(0).cut_points):
        _check(make(stages), inputs, want, lambda i, st=stages: f"{kind} {mode} stages={st} vector {i}")


def _heaviest(counts, weights):
    """The heaviest run of segments between registers that ``counts`` places."""
    runs, run = [], 0.0
    for c, w in zip(counts, weights):
        run += w
        if c:
            runs.append(run)
            run = 0.0
    return max(runs)


def test_register_placement():
    assert _spread(0, [3, 4, 4, 3]) == [0, 0, 0, 0]
    assert _spread(1, [3, 4, 4, 3]) == [0, 0, 0, 1]  # a registered output first
    assert _spread(2, [3, 4, 4, 3]) == [0, 1, 0, 1]
    assert _spread(4, [3, 4, 4, 3]) == [1, 1, 1, 1]
    assert _spread(6, [3, 4, 4, 3]) == [1, 1, 1, 3]  # beyond one per cut point: at the output
    assert _spread(3, [1]) == [3]
    assert _spread(2, [1, 1, 1, 5, 1]) == [0, 0, 1, 0, 1]
    # the heaviest stage is the least any placement achieves (all placements, by brute force)
    rng = np.random.default_rng(12)
    for _ in range(40):
        weights = list(rng.integers(1, 8, rng.integers(2, 9)) / 2)
        n = len(weights)
        for stages in range(1, n + 1):
            counts = _spread(stages, weights)
            assert sum(counts) == stages and counts[-1] >= 1 and max(counts[:-1], default=0) <= 1
            best = min(_heaviest([1 if k in cut or k == n - 1 else 0 for k in range(n)], weights)
                       for cut in itertools.combinations(range(n - 1), stages - 1))
            assert _heaviest(counts, weights) == best


def test_bad_parameters_raise_value_error():
    with pytest.raises(ValueError, match="stages=-1"):
        FPAdd(stages=-1)
    with pytest.raises(ValueError, match="fmt='fp64'"):
        FPMul(fmt="fp64")
    with pytest.raises(ValueError, match="mode='ftz'"):
        FPMin(mode="ftz")
    with pytest.raises(ValueError, match="width=0"):
        FPFromInt(width=0)
    with pytest.raises(ValueError, match="stages=1.5"):
        FPClamp0(stages=1.5)
