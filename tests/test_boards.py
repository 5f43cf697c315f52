# amaranth: UnusedElaboratable=no
"""The board's host link: UART, framing, and the host client against the simulated board top-level.

The workloads are small (Amaranth's simulator runs the board at ~2k cycles/s; a byte is 40
cycles): the trace-pack workload of the shipped builds runs in ``nox -s boards``.
"""

from dataclasses import replace

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module
from amaranth.sim import Simulator

from boards.client import HostClient, LinkError
from boards.link import HostLink
from boards.protocol import Decoder, Event, encode_lut, encode_request
from boards.simlink import SimTransport
from boards.uart import UARTRx, UARTTx, divisor_for
from dysta_hw.sched.sim import Job, Layer
from dysta_sw import fp
from dysta_sw.hwmodel import HwConfig
from dysta_sw.hwsched import SchedLuts, SchedModel, Timing

PARAMS = {"depth": 8, "fmt": "fp16", "shared": True, "lanes": 4, "n_mp": 2, "max_layers": 3, "time_shift": 0}


def small_workload(rng, n=10):
    """Two model-patterns of 2 and 3 layers, ``n`` requests (more than the table holds); the
    first request's layers are long, so the others fill the table while it runs (a request
    takes 480 cycles to cross the link)."""
    cfg = HwConfig(fmt="fp16", mode="ieee", clock_hz=1e5, time_shift=0, time_bits=48, depth=8)
    luts = SchedLuts.empty(cfg, 2, 3)
    for m, nl in enumerate((2, 3)):
        luts.layers[m] = nl
        rem = np.append(np.cumsum(rng.uniform(5, 40, nl)[::-1])[::-1], 0.0)
        luts.R[m, :nl + 1] = fp.from_float(rem, "fp16")
        luts.inv_rhobar[m, :nl + 1] = fp.from_float(rng.uniform(1, 4, nl + 1), "fp16")
        luts.inv_shape[m, :nl + 1] = fp.from_float(np.full(nl + 1, 1 / 8), "fp16")
        luts.inv_tiso[m] = fp.from_float(rng.uniform(0.01, 0.1), "fp16")
    luts.eta = int(fp.from_float(0.5, "fp16"))
    jobs = []
    for i in range(n):
        mp = int(rng.integers(0, 2))
        layers = tuple(Layer(2500 if i == 0 else int(rng.integers(30, 150)), (int(rng.integers(0, 5)),) * 2)
                       for _ in range(int(luts.layers[mp])))
        jobs.append(Job(0, i, mp, int(rng.integers(50, 2000)), layers))
    return luts, jobs


def test_uart_loopback():
    tx, rx = UARTTx(5), UARTRx(5)
    sent = [0x00, 0xFF, 0x55, 0xA3, 0x01, 0x80]
    got = []

    class Top(Elaboratable):
        def elaborate(self, platform):
            m = Module()
            m.submodules.tx, m.submodules.rx = tx, rx
            m.d.comb += rx.rx.eq(tx.tx)
            return m

    async def bench(ctx):
        for b in sent:
            ctx.set(tx.data.valid, 1)
            ctx.set(tx.data.payload, b)
            await ctx.tick().until(tx.data.ready)
        ctx.set(tx.data.valid, 0)
        for _ in range(200):
            _, _, valid, data = await ctx.tick().sample(rx.data.valid, rx.data.payload)
            if valid:
                got.append(data)

    async def watch(ctx):
        async for _, _, valid, data, err in ctx.tick().sample(rx.data.valid, rx.data.payload, rx.framing_error):
            assert not err
            if valid:
                got.append(data)

    sim = Simulator(Top())
    sim.add_clock(1e-6)
    sim.add_testbench(watch, background=True)
    sim.add_testbench(bench)
    sim.run()
    assert got[:len(sent)] == sent


def test_divisor():
    assert divisor_for(25e6, 115200) == 217
    with pytest.raises(ValueError, match="lower baud rate"):
        divisor_for(12e6, 5_000_000)


def test_frames():
    assert encode_lut(1, 2, 3, 0xDEADBEEF) == bytes([0x4C, 1, 2, 3, 0xEF, 0xBE, 0xAD, 0xDE])
    assert len(encode_request(300, 1, 1000, 0x3C00)) == 12
    with pytest.raises(ValueError, match="tag=70000"):
        encode_request(70000, 0, 0, 0)
    d = Decoder()
    frame = bytes([ord("D"), 5, 0, 2]) + (123456).to_bytes(6, "little")
    assert d.feed(frame[:4]) == []
    assert d.feed(frame[4:]) == [Event("D", cycle=123456, tag=5, layer=2)]
    with pytest.raises(ValueError, match="out of step"):
        d.feed(b"\x00")


@pytest.mark.boards
@pytest.mark.parametrize("queue_depth", [2, 16], ids=["queues-of-2", "queues-of-16"])
def test_host_client_runs_a_workload_like_the_golden_model(queue_depth):
    """The client programs the LUTs, submits 10 requests into a table of 8 (back-pressure), reads
    every event back: the dispatches and retirements are those the golden model computes from
    the board's own acceptance and layer-done cycles. Queues of 2 stop the core often (the UART
    drains slower than events come): nothing may be lost."""
    rng = np.random.default_rng(7)
    luts, jobs = small_workload(rng)
    link = HostLink(PARAMS, jobs, divisor=4, queue_depth=queue_depth)
    t = SimTransport(link, step=1000)
    client = HostClient(t)
    st = client.program(luts.writes())
    assert not st.lut_error and st.count == 0
    run = client.run(jobs, SchedModel(luts, Timing.of(shared=True)))
    assert run.identical, run.first_mismatch
    # the check can fail: the same events with two dispatches swapped
    tampered = replace(run, dispatches=sorted(run.dispatches))
    (c0, t0, l0), (c1, t1, l1) = tampered.dispatches[3:5]
    tampered.dispatches[3:5] = [(c0, t1, l1), (c1, t0, l0)]
    HostClient.compare(tampered, SchedModel(luts, Timing.of(shared=True)))
    assert tampered.mismatches == 2 and "dispatch 3" in tampered.first_mismatch
    n_layers = sum(len(j.layers) for j in jobs)
    assert len(run.dispatches) == n_layers == run.status.dispatches
    assert sorted(t for _, t in run.dones) == list(range(len(jobs))) and run.status.dones == len(jobs)
    assert not (run.status.rx_overflow or run.status.bad_opcode or run.status.bad_field)
    if queue_depth == 2:
        assert run.status.stalled > 0  # the core did stop for the UART
    # the table filled: a request was accepted only after a retirement
    first_done = min(c for c, _ in run.dones)
    assert sum(a.cycle < first_done for a in run.accepts) == PARAMS["depth"]


def test_bad_commands_are_refused_and_flagged():
    rng = np.random.default_rng(1)
    luts, jobs = small_workload(rng, n=1)
    link = HostLink(PARAMS, jobs, divisor=4)
    t = SimTransport(link, step=500)
    client = HostClient(t)
    t.write(b"?")
    assert client._next(Event) == Event("E", tag=ord("?"))
    # model-pattern 5 of a scheduler built for 2: refused, not aliased to 1
    t.write(encode_request(0, 5, 100, 0))
    assert client._next(Event) == Event("E", tag=ord("R"))
    # a LUT layer wider than the port: refused; in the port's range but past max_layers: the LUT bank flags it
    t.write(encode_lut(0, 0, 200, 0))
    assert client._next(Event) == Event("E", tag=ord("L"))
    st = client.status()
    assert st.bad_opcode and st.bad_field and not st.lut_error and st.count == 0
    t.write(encode_lut(5, 0, 0, 0))  # a model-pattern of 0 layers
    with pytest.raises(LinkError, match="refused a LUT write"):
        client.program([])


@pytest.mark.boards
def test_ulx3s_bitstream_builds(tmp_path, ecp5_flow):
    """The shipped ULX3S-85F build (depth 64, FP16, shared) goes through Yosys, nextpnr-ecp5 and
    ecppack, and meets its 25 MHz clock."""
    from boards.build import build

    res = build("ulx3s", tmp_path / "ulx3s")
    bit = tmp_path / "ulx3s" / "dysta.bit"
    assert res["bitstream"] == str(bit) and bit.stat().st_size > 100_000
    fmax = [line for line in res["report"] if "Max frequency" in line]
    assert fmax and "PASS at 25.00 MHz" in fmax[-1]  # after routing (the first line is nextpnr's estimate)


def test_zcu104_plan_is_written_not_run(tmp_path):
    from boards.build import build

    res = build("zcu104", tmp_path / "zcu104")
    tcl = (tmp_path / "zcu104" / "dysta.tcl").read_text()
    xdc = (tmp_path / "zcu104" / "dysta.xdc").read_text()
    assert res["plan"].endswith("build_dysta.sh") and "bitstream" not in res
    assert "xczu7ev-ffvc1156-2-e" in tcl and "synth_design" in tcl
    assert "LOC F23" in xdc and "-period 8.0" in xdc


def test_board_names_and_parameters_are_checked(capsys):
    from dysta_sw.cli import main

    assert main(["board", "build", "ulx3s", "--depth", "48"]) == 2
    assert "power of two" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["board", "build", "arty"])
