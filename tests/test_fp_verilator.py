# amaranth: UnusedElaboratable=no
"""Cross-simulation: the generated Verilog of every FP16 unit under Verilator vs the golden model.

One Verilated bundle holds every unit (both modes, combinational and with a register at every cut
point, the multiplier also in the fabric); each unit gets
its own stream of a million random vectors (with bubbles), led by the conformance cases, and every
output is compared with :mod:`dysta_sw.fp`. Without Verilator the test is skipped with the reason,
or fails under CI=true (.ci/run installs it).
"""

import numpy as np
import pytest

from dysta_hw.fp import FPAdd, FPClamp0, FPFromInt, FPMin, FPMul
from dysta_hw.fp.verilator import Bundle, build
from dysta_sw import fp
from dysta_sw.fp import FP16
from fp_cases import conformance_pairs, int_cases

N = 1_000_000


def _full(unit_class, **kw):
    """``unit_class(**kw)`` with a register slice at each of its cut points."""
    return unit_class(stages=unit_class(**kw).cut_points, **kw)


def _units():
    units = {}
    for mode in fp.MODES:
        units[f"add_{mode}"] = FPAdd(fmt=FP16, mode=mode)
        units[f"addp_{mode}"] = _full(FPAdd, fmt=FP16, mode=mode)
        units[f"mul_{mode}"] = FPMul(fmt=FP16, mode=mode)
        units[f"mulp_{mode}"] = _full(FPMul, fmt=FP16, mode=mode)
        units[f"mulf_{mode}"] = _full(FPMul, fmt=FP16, mode=mode, dsp=False)
        units[f"min_{mode}"] = FPMin(fmt=FP16, mode=mode, stages=0 if mode == "ieee" else 4)
        units[f"clamp0_{mode}"] = FPClamp0(fmt=FP16, mode=mode, stages=0 if mode == "ieee" else 2)
    units["i32"] = _full(FPFromInt, width=32, signed=True, fmt=FP16)
    units["u24"] = _full(FPFromInt, width=24, fmt=FP16)
    units["u16"] = FPFromInt(width=16, fmt=FP16)
    return units


@pytest.fixture(scope="session")
def model(tmp_path_factory, verilator):
    return build(Bundle(_units()), tmp_path_factory.mktemp("verilator"))


def _pairs(op, rng):
    a, b = conformance_pairs(FP16, op, seed=1, n_random=1000)
    r = rng.integers(0, 1 << 16, (2, N - len(a)))
    return np.concatenate([a, r[0]]), np.concatenate([b, r[1]])


def test_fp16_units_match_golden_model(model):
    rng = np.random.default_rng(2024)
    units = model.bundle.units
    inputs, expect = {}, {}
    for name, unit in units.items():
        mode = unit.mode
        valid = rng.random(N) > 0.05
        inputs[(name, "valid")] = valid
        if name.startswith(("add", "mul")):
            a, b = _pairs("mul" if name.startswith("mul") else "add", rng)
            inputs[(name, "a")], inputs[(name, "b")] = a, b
            if name.startswith("add"):
                sub = rng.integers(0, 2, N)
                inputs[(name, "sub")] = sub
                want = np.where(sub == 1, fp.sub(a, b, FP16, mode), fp.add(a, b, FP16, mode))
            else:
                want = fp.mul(a, b, FP16, mode)
            expect[name] = {"x": want}
        elif name.startswith("min"):
            a, b = rng.integers(0, 1 << 16, (2, N))
            inputs[(name, "a")], inputs[(name, "b")] = a, b
            expect[name] = {"min": fp.minimum(a, b, FP16, mode), "lt": fp.lt_total(a, b, FP16, mode)}
        elif name.startswith("clamp0"):
            x = rng.integers(0, 1 << 16, N)
            inputs[(name, "x")] = x
            expect[name] = {"x": fp.clamp0(x, FP16, mode)}
        else:
            width, signed = unit.width, unit.signed
            fixed = int_cases(FP16, width, signed, n_random=0)
            lo, hi = (-(1 << (width - 1)), 1 << (width - 1)) if signed else (0, 1 << width)
            # random values of every bit length, after the corner cases
            length = rng.integers(0, width + 1, N - len(fixed))
            rand = rng.integers(lo, hi, N - len(fixed), dtype=np.int64) >> (width - length)
            x = np.concatenate([fixed, rand])
            inputs[(name, "x")] = x
            expect[name] = {"x": fp.from_int(x, width, signed, FP16)}
    out = model.run(inputs)
    for name, unit in units.items():
        lat = unit.latency
        valid = np.asarray(inputs[(name, "valid")], bool)
        got_valid = out[(name, "valid")].astype(bool)
        assert not got_valid[:lat].any()
        assert np.array_equal(got_valid[lat:], valid[:N - lat]), f"{name}: valid does not travel with the data"
        for field, want in expect[name].items():
            got = out[(name, field)][lat:].astype(np.int64)
            want = np.asarray(want, np.int64)[:N - lat]
            wrong = np.nonzero(valid[:N - lat] & (got != want))[0]
            assert len(wrong) == 0, (
                f"{name}.{field}: {len(wrong)} mismatches, first at vector {wrong[0]}: "
                f"inputs {[(k[1], hex(int(v[wrong[0]]))) for k, v in inputs.items() if k[0] == name]}, "
                f"verilator {got[wrong[0]]:#x}, golden {want[wrong[0]]:#x}")
        assert valid[:N - lat].sum() > 0.9 * N
