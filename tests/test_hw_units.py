# amaranth: UnusedElaboratable=no
"""The scheduler's parts alone: request table, LUT bank, monitor, compute unit.

The compute unit is checked on random and special bit patterns against dysta_sw.hwmodel
(HwLuts.gamma / HwLuts.score), in both the shared and the separate variant.
"""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from dysta_hw.sched import ComputeUnit, LutBank, Monitor, RequestTable
from dysta_hw.sched.layouts import Widths
from dysta_sw import fp
from dysta_sw.hwmodel import DIFF_BITS, HwConfig, HwLuts
from dysta_sw.hwsched import Table


def simulate(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


# ---------------------------------------------------------------------------------------------
# request table


def test_request_table_full_and_retire():
    depth = 8
    wd = Widths(depth=depth, fmt_width=16, n_mp=4, max_layers=8, tag_bits=8, time_bits=48)
    dut = RequestTable(widths=wd, one=0x3C00)
    seen = {}

    async def read(ctx, slot):  # docs/hw.md: registered reads, data two cycles after the address
        ctx.set(dut.rd_addr, slot)
        await ctx.tick()
        ctx.set(dut.rd_addr, (slot + 3) % depth)  # the next address does not disturb it
        await ctx.tick()
        r = ctx.get(dut.rd)
        assert r.row == r.mp * 9 + r.next  # the LUT row of the next layer (max_layers 8)
        return r.tag, r.mp, r.deadline, r.next, r.last, r.gamma

    async def bench(ctx):
        ctx.set(dut.accept, 1)
        ctx.set(dut.push.valid, 1)
        for i in range(depth + 3):  # three more than fit: they wait
            ctx.set(dut.push.payload, {"tag": 10 + i, "mp": i % 4, "deadline": 1000 + i})
            ctx.set(dut.now, 500 + i)
            if ctx.get(dut.push.ready):
                seen[i] = True
            await ctx.tick()
        assert ctx.get(dut.full) and ctx.get(dut.count) == depth
        assert not ctx.get(dut.push.ready)
        assert sorted(seen) == list(range(depth)), "exactly depth requests accepted, in order"
        ctx.set(dut.push.valid, 0)
        for s in range(depth):
            assert await read(ctx, s) == (10 + s, s % 4, 1000 + s, 0, 500 + s, 0x3C00)
        # a mode-A write-back: read in the next cycle, it is there
        ctx.set(dut.upd.valid, 1)
        ctx.set(dut.upd.payload, {"slot": 2, "next": 3, "row": 2 * 9 + 3, "last": 9999, "gamma": 0x1234})
        await ctx.tick()
        ctx.set(dut.upd.valid, 0)
        assert (await read(ctx, 2))[3:6] == (3, 9999, 0x1234)
        # retire slot 2: the last entry (slot 7) moves into it; busy for two cycles, no push
        ctx.set(dut.retire.valid, 1)
        ctx.set(dut.retire.payload, 2)
        await ctx.tick()
        ctx.set(dut.retire.valid, 0)
        ctx.set(dut.push.valid, 1)
        for _ in range(2):
            assert ctx.get(dut.busy) and not ctx.get(dut.push.ready)
            await ctx.tick()
        ctx.set(dut.push.valid, 0)
        assert not ctx.get(dut.busy) and ctx.get(dut.count) == depth - 1
        assert await read(ctx, 2) == (17, 3, 1007, 0, 507, 0x3C00)
        # retiring the last slot moves nothing
        ctx.set(dut.retire.valid, 1)
        ctx.set(dut.retire.payload, depth - 2)
        await ctx.tick()
        ctx.set(dut.retire.valid, 0)
        await ctx.tick().repeat(2)
        assert not ctx.get(dut.busy) and ctx.get(dut.count) == depth - 2
        assert await read(ctx, depth - 3) == (10 + depth - 3, (depth - 3) % 4, 1000 + depth - 3, 0,
                                              500 + depth - 3, 0x3C00)
        # room again: the next push lands in slot count
        ctx.set(dut.push.valid, 1)
        ctx.set(dut.push.payload, {"tag": 99, "mp": 1, "deadline": 5})
        assert ctx.get(dut.push.ready)
        await ctx.tick()
        ctx.set(dut.push.valid, 0)
        assert (await read(ctx, depth - 2))[0] == 99
        # accept low: no push even with room
        ctx.set(dut.accept, 0)
        ctx.set(dut.push.valid, 1)
        assert not ctx.get(dut.push.ready)

    simulate(dut, bench)


# ---------------------------------------------------------------------------------------------
# LUT bank


def test_lut_bank_writes_and_range_checks():
    n_mp, max_layers, depth = 3, 5, 8
    wd = Widths(depth=depth, fmt_width=16, n_mp=n_mp, max_layers=max_layers, tag_bits=8, time_bits=48)
    dut = LutBank(widths=wd, n_mp=n_mp, max_layers=max_layers, depth=depth, fmt="fp16", mode="ieee")

    async def write(ctx, table, mp, layer, value):
        ctx.set(dut.w.valid, 1)
        ctx.set(dut.w.payload, {"table": table, "mp": mp, "layer": layer, "value": value})
        assert ctx.get(dut.w.ready)
        await ctx.tick()
        ctx.set(dut.w.valid, 0)
        return ctx.get(dut.error)

    async def read_layer(ctx, mp, layer):  # docs/hw.md: data three cycles after the address
        ctx.set(dut.mp, mp)
        ctx.set(dut.row, mp * (max_layers + 1) + layer)
        await ctx.tick()
        ctx.set(dut.mp, (mp + 1) % n_mp)  # later addresses do not disturb it
        await ctx.tick().repeat(2)
        return (ctx.get(dut.R), ctx.get(dut.inv_rhobar), ctx.get(dut.inv_shape), ctx.get(dut.count_shift),
                ctx.get(dut.inv_tiso), ctx.get(dut.layers))

    async def bench(ctx):
        ctx.set(dut.w_en, 1)
        for mp in range(n_mp):
            for layer in range(max_layers + 1):
                v = 100 * mp + layer
                for t in (Table.R, Table.INV_RHOBAR, Table.INV_SHAPE):
                    assert not await write(ctx, t, mp, layer, v + 1000 * t)
                assert not await write(ctx, Table.COUNT_SHIFT, mp, layer, (mp + layer) % 32)
            assert not await write(ctx, Table.INV_TISO, mp, 0, 7 + mp)
            assert not await write(ctx, Table.LAYERS, mp, 0, max_layers - mp)
        assert not await write(ctx, Table.ETA, 0, 0, 0x3800)
        await ctx.tick()  # (writes are registered)
        assert ctx.get(dut.eta) == 0x3800
        # requests may name the programmed model-patterns only
        for mp, ok in [(0, 1), (n_mp - 1, 1), (n_mp, 0), ((1 << wd.mp) - 1, 0)]:
            ctx.set(dut.chk_mp, mp)
            assert ctx.get(dut.chk_ok) == ok, mp

        def snapshot():
            return [read_layer(ctx, mp, layer) for mp in range(n_mp) for layer in range(max_layers + 1)]

        before = [await c for c in snapshot()]
        assert before[1 * (max_layers + 1) + 2] == (102, 1102, 2102, 3, 8, max_layers - 1)
        # every kind of out-of-range write: rejected, flagged, nothing aliased
        for bad in [(Table.R, n_mp, 0, 1), (Table.R, 0, max_layers + 1, 1), (Table.INV_SHAPE, 0, 7, 1),
                    (Table.COUNT_SHIFT, 0, 0, 32), (Table.LAYERS, 0, 0, 0), (Table.LAYERS, 0, 0, max_layers + 1),
                    (Table.INV_TISO, n_mp, 0, 1), (7, 0, 0, 1)]:
            ctx.set(dut.error, 0)  # (the sticky flag is a register: clear it to test each write)
            assert await write(ctx, *bad), f"write {bad} not flagged"
        after = [await c for c in snapshot()]
        assert after == before
        # inv_q ROM
        for n in range(1, depth + 1):
            ctx.set(dut.n, n)
            await ctx.tick().repeat(3)
            assert ctx.get(dut.inv_q) == int(fp.from_float(1.0 / n, "fp16"))
        # writes disabled: not ready
        ctx.set(dut.w_en, 0)
        ctx.set(dut.w.valid, 1)
        assert not ctx.get(dut.w.ready)

    simulate(dut, bench)


# ---------------------------------------------------------------------------------------------
# monitor


@pytest.mark.parametrize("lanes", [1, 8])
def test_monitor_popcount(lanes):
    """docs/hw.md: ``count`` holds the non-zeros of the beats since the last clear, up to two
    cycles ago (a beat in a clear's cycle is not counted)."""
    rng = np.random.default_rng(lanes)
    dut = Monitor(lanes=lanes, value_width=12)

    async def bench(ctx):
        incs = []  # non-zeros counted per cycle (0 for a clear's beat)
        cleared = 0  # index of the cycle after the last clear
        for k in range(300):
            clear = k % 97 == 96
            ctx.set(dut.clear, clear)
            vals = [int(v) for v in rng.integers(0, 4096, lanes) * (rng.random(lanes) < 0.5)]
            valid = bool(rng.random() < 0.8)
            ctx.set(dut.data.valid, valid)
            ctx.set(dut.data.payload, vals)
            # the count now: the beats of cycles cleared .. k - 2
            assert ctx.get(dut.count) == sum(incs[cleared:max(cleared, k - 1)]), k
            incs.append(0 if clear or not valid else sum(v != 0 for v in vals))
            if clear:
                cleared = k + 1
            await ctx.tick()

    simulate(dut, bench)


def test_monitor_bad_parameters():
    with pytest.raises(ValueError, match="lanes"):
        Monitor(lanes=0)
    with pytest.raises(ValueError, match="value_width"):
        Monitor(value_width=65)


# ---------------------------------------------------------------------------------------------
# compute unit


def special_patterns(f):
    one = int(fp.from_float(1.0, f))
    return np.array([0, f.sign_bit, f.inf, f.inf | f.sign_bit, f.nan, one, one | f.sign_bit, 1, f.min_normal,
                     f.inf - 1, (f.inf - 1) | f.sign_bit], f.dtype)


def random_patterns(rng, f, n):
    """Mostly moderate positive values, some random bits, some specials."""
    x = fp.from_float(rng.uniform(-3, 3, n) * 10.0 ** rng.integers(-3, 4, n), f)
    bits = rng.integers(0, 1 << f.width, n).astype(f.dtype)
    sp = special_patterns(f)[rng.integers(0, len(special_patterns(f)), n)]
    pick = rng.random(n)
    return np.where(pick < 0.6, x, np.where(pick < 0.85, bits, sp)).astype(f.dtype)


# FP16 and a deep BF16 lean unit in the default run; the other formats and modes in tier `hw`
# (the scheduler's equivalence tests cover every format in the default run too).
@pytest.mark.parametrize("fmt,mode,stages", [
    ("fp16", "ieee", None), ("bf16", "lean", 3),
    *(pytest.param(*p, marks=pytest.mark.hw) for p in [("bf16", "ieee", None), ("fp32", "ieee", None),
                                                        ("fp16", "lean", None), ("fp16", "ieee", 0)])])
@pytest.mark.parametrize("shared", [True, False])
def test_compute_unit(fmt, mode, stages, shared):
    n, tb = 400, 48
    db = DIFF_BITS
    rng = np.random.default_rng([len(fmt), len(mode), int(shared)])
    f = fp.get_format(fmt)
    dut = ComputeUnit(fmt=fmt, mode=mode, shared=shared, stages=stages, meta_shape=16)
    # HwLuts with one LUT row per vector; time_shift 0 so that dt = deadline - now and wt = now - last
    cfg = HwConfig(fmt=fmt, mode=mode, time_shift=0, time_bits=tb, depth=512)
    luts = HwLuts(cfg=cfg, R=random_patterns(rng, f, n), inv_rhobar=random_patterns(rng, f, n),
                  inv_shape=random_patterns(rng, f, n), count_shift=np.zeros(n, np.int64),
                  inv_tiso=random_patterns(rng, f, n), inv_q=random_patterns(rng, f, n), eta=0)
    gamma_in = random_patterns(rng, f, n)
    eta = random_patterns(rng, f, n)
    # the time differences as the controller presents them: in quanta, saturated to DIFF_BITS
    mag = 2 ** rng.uniform(0, db - 1, n)
    dt = np.clip(np.rint(mag * rng.choice([-1, 1], n)), -(1 << db - 1), (1 << db - 1) - 1).astype(np.int64)
    wt = np.rint(2 ** rng.uniform(0, db, n) - 1).astype(np.int64)
    dt[:4], wt[:4] = [0, -1, (1 << db - 1) - 1, -(1 << db - 1)], [0, 1, (1 << db) - 1, 3]
    idx = np.arange(n)
    want_b = np.array([int(HwLuts(**{**luts.__dict__, "eta": int(eta[i])}).score(
        gamma_in[i:i + 1], idx[i:i + 1], idx[i:i + 1], dt[i:i + 1], -wt[i:i + 1], np.zeros(1, np.int64),
        idx[i:i + 1])[0]) for i in range(n)])
    counts = rng.integers(0, 1 << 16, n)
    counts[:3] = [0, 1, (1 << 16) - 1]
    want_a = luts.gamma(counts, idx).astype(np.int64)
    got_a, got_b = {}, {}

    async def bench(ctx):
        for i in range(n):  # mode A, one every ii cycles
            ctx.set(dut.a.valid, 1)
            ctx.set(dut.a.payload, {"count": int(counts[i]), "inv_shape": int(luts.inv_shape[i]),
                                    "inv_rhobar": int(luts.inv_rhobar[i])})
            await ctx.tick()
            ctx.set(dut.a.valid, 0)
            for _ in range(dut.sched_a.ii - 1):
                await ctx.tick()
        await ctx.tick().repeat(dut.latency_a + 1)
        for i in range(n):  # mode B, one every ii cycles
            ctx.set(dut.b.valid, 1)
            ctx.set(dut.b.payload, {"gamma": int(gamma_in[i]), "R": int(luts.R[i]), "dt": int(dt[i]),
                                    "wt": int(wt[i]), "inv_tiso": int(luts.inv_tiso[i]),
                                    "inv_q": int(luts.inv_q[i]), "eta": int(eta[i]), "meta": i})
            await ctx.tick()
            ctx.set(dut.b.valid, 0)
            for _ in range(dut.ii - 1):
                await ctx.tick()
        await ctx.tick().repeat(dut.latency_b + 1)

    async def collect(ctx):
        k = 0
        async for _, _, av, ap, bv, bp in ctx.tick().sample(dut.a_out.valid, dut.a_out.payload,
                                                            dut.b_out.valid, dut.b_out.payload):
            if av:
                got_a[len(got_a)] = ap
            if bv:
                got_b[bp.meta] = bp.score
            k += 1

    top = Module()  # a sync domain even when the unit is purely combinational (stages=0)
    top.submodules.cu = dut
    tick = Signal()
    top.d.sync += tick.eq(~tick)
    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.add_testbench(collect, background=True)
    sim.run()
    assert [got_a[i] for i in range(n)] == list(want_a)
    bad = [(i, got_b.get(i), int(want_b[i])) for i in range(n) if got_b.get(i) != want_b[i]]
    assert not bad, f"{len(bad)} scores differ, first (index, gateware, model): {bad[0]}"


def test_monitor_saturates():
    dut = Monitor(lanes=4, value_width=8)
    top = 2**32 - 1  # docs/hw.md: a saturating 32-bit count

    async def bench(ctx):
        ctx.set(dut.count, top - 5)  # start near the top instead of counting 2**32 beats
        ctx.set(dut.data.valid, 1)
        ctx.set(dut.data.payload, [1, 2, 3, 4])
        await ctx.tick()
        assert ctx.get(dut.count) == top - 5  # the beat is registered first
        await ctx.tick()
        assert ctx.get(dut.count) == top - 1
        await ctx.tick()
        assert ctx.get(dut.count) == top
        await ctx.tick()
        assert ctx.get(dut.count) == top

    simulate(dut, bench)
