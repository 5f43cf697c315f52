# amaranth: UnusedElaboratable=no
"""The board's host link: UART, framing, and the host client against the simulated board top-level.

The workloads are small (Amaranth's simulator runs the board at ~2k cycles/s; a byte is 40
cycles): the trace-pack workload of the shipped builds runs in ``nox -s boards``. The link's
fault handling is checked in ``tests/test_link_faults.py``.
"""

from dataclasses import replace

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module
from amaranth.sim import Simulator

from boards.client import HostClient, LinkError
from boards.link import HostLink
from boards.protocol import (
    BOARD_PAYLOAD,
    Event,
    FrameDecoder,
    encode_frame,
    lut_command,
    parse_board_frame,
    request_command,
)
from boards.simlink import SimTransport
from boards.uart import UARTRx, UARTTx, divisor_for
from boards.workload import SMALL_PARAMS as PARAMS
from boards.workload import small_workload
from dysta_sw.hwsched import SchedModel, Timing


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
    kind, payload = lut_command(1, 2, 3, 0xDEADBEEF)
    assert (kind, payload) == (ord("L"), bytes([1, 2, 3, 0xEF, 0xBE, 0xAD, 0xDE]))
    assert len(request_command(300, 1, 1000, 0x3C00)[1]) == 11
    with pytest.raises(ValueError, match="tag=70000"):
        request_command(70000, 0, 0, 0)
    d = FrameDecoder(BOARD_PAYLOAD)
    payload = bytes([5, 0, 2]) + (123456).to_bytes(6, "little")
    wire = encode_frame(ord("D"), 7, 3, payload)
    assert d.feed(wire[:4]) == []
    (f,) = d.feed(wire[4:])
    assert (f.kind, f.seq, f.ack) == (ord("D"), 7, 3)
    assert parse_board_frame(f) == Event("D", cycle=123456, tag=5, layer=2)
    # stray bytes before a frame spoil that frame (dropped, counted), not the next
    assert d.feed(b"\x00\x13" + wire) == [] and d.bad == 1
    assert d.feed(wire) == [f] and d.bad == 1
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
    client = HostClient(t, depth=PARAMS["depth"])
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
    assert not (run.status.damaged or run.status.bad_opcode or run.status.bad_field)
    assert run.status.rx_bad == run.status.timeouts == 0 and client.link.resends == 0  # a clean line
    if queue_depth == 2:
        assert run.status.stalled > 0  # the core did stop for the UART
    # the table filled: a request was accepted only after a retirement
    first_done = min(c for c, _ in run.dones)
    assert sum(a.cycle < first_done for a in run.accepts) == PARAMS["depth"]


def test_bad_commands_are_refused_and_flagged():
    """Commands with a right CRC that the board cannot execute: answered with an E event (in the
    event sequence, so it cannot be lost), flagged in the status, executed never."""
    rng = np.random.default_rng(1)
    luts, jobs = small_workload(rng, n=1)
    link = HostLink(PARAMS, jobs, divisor=4)
    t = SimTransport(link, step=500)
    client = HostClient(t, depth=PARAMS["depth"])
    arq = client.link
    t.write(encode_frame(ord("?"), 0, 0))  # an unknown kind
    assert arq.next_event() == Event("E", tag=ord("?"))
    # model-pattern 5 of a scheduler built for 2: refused, not aliased to 1
    arq.send(*request_command(0, 5, 100, 0))
    assert arq.next_event() == Event("E", tag=ord("R"))
    # a LUT layer wider than the port: refused; in the port's range but past max_layers: the LUT bank flags it
    arq.send(*lut_command(0, 0, 200, 0))
    assert arq.next_event() == Event("E", tag=ord("L"))
    st = client.status()
    assert st.bad_opcode and st.bad_field and not st.lut_error and st.count == 0 and st.dispatches == 0
    assert not st.damaged and st.rx_bad == 0
    arq.send(*lut_command(5, 0, 0, 0))  # a model-pattern of 0 layers
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


def test_a_refused_request_is_reported_not_waited_for():
    """A request for a model-pattern whose layers were never written is taken and refused by the
    scheduler (no F ever comes): the client says so instead of waiting for ever."""
    rng = np.random.default_rng(1)
    _luts, jobs = small_workload(rng, n=1)
    link = HostLink(PARAMS, jobs, divisor=4)
    client = HostClient(SimTransport(link, step=500), depth=PARAMS["depth"], idle_reads=20)
    with pytest.raises(LinkError, match="refused a request"):
        client.run(jobs)  # no LUTs programmed
