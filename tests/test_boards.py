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
@pytest.mark.parametrize("queue_depth", [1, 2, 16], ids=["queues-of-1", "queues-of-2", "queues-of-16"])
def test_host_client_runs_a_workload_like_the_golden_model(queue_depth):
    """The client programs the LUTs, submits 10 requests into a table of 8 (back-pressure), reads
    every event back: the dispatches and retirements are those the golden model computes from
    the board's own acceptance and layer-done cycles. Queues of 2 stop the core often (the UART
    drains slower than events come), queues of 1 after every event: nothing may be lost."""
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
    if queue_depth <= 2:
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
def test_ulx3s_bitstream_builds_at_the_fastest_clock_that_meets_timing(tmp_path, ecp5_flow):
    """The shipped ULX3S-85F build (depth 64, FP16, shared) goes through Yosys, nextpnr-ecp5 and
    ecppack at the fastest of its clocks (from the PLL) that nextpnr says meets timing."""
    from boards.build import BOARDS, build

    res = build("ulx3s", tmp_path / "ulx3s")
    bit = tmp_path / "ulx3s" / "dysta.bit"
    assert res["bitstream"] == str(bit) and bit.stat().st_size > 100_000
    assert res["timing_met"] and res["fmax_mhz"] >= res["clock_mhz"] in BOARDS["ulx3s"].clocks_mhz
    # every faster clock of the set was missed by the build that tried it, or lies above its Fmax
    faster = [c for c in BOARDS["ulx3s"].clocks_mhz if c > res["clock_mhz"]]
    assert all(c > min(f for _, f in res["tries"]) for c in faster)
    # nextpnr's target for the scheduler's clock is the PLL's frequency
    assert any(f"PASS at {res['clock_mhz']:.2f} MHz" in line for line in res["report"] if "Max frequency" in line)


def test_pll_settings_make_the_clock_within_the_primitives_ranges():
    from boards.clocking import ecp5_pll, ice40_pll, mmcm_e4

    for mhz in (50, 100, 125, 150, 200):  # multiples of the ULX3S' 25 MHz: exact
        s = ecp5_pll(25e6, mhz * 1e6)
        p = s.params
        assert s.fout_hz == mhz * 1e6 == 25e6 / p["CLKI_DIV"] * p["CLKFB_DIV"]
        assert 400e6 <= s.fvco_hz == s.fout_hz * p["CLKOP_DIV"] <= 800e6 and p["CLKOP_CPHASE"] == p["CLKOP_DIV"] // 2
    for mhz in (18, 24, 30, 36, 48):
        s = ice40_pll(12e6, mhz * 1e6)
        p = s.params
        assert s.fout_hz == mhz * 1e6 == 12e6 * (p["DIVF"] + 1) / (p["DIVR"] + 1) / 2 ** p["DIVQ"]
        assert 533e6 <= s.fvco_hz <= 1066e6 and 1 <= p["FILTER_RANGE"] <= 6
    s = mmcm_e4(125e6, 200e6)  # the ZCU104: 125 MHz in, 200 MHz out, VCO 800-1600 MHz
    assert s.fout_hz == 200e6 and 800e6 <= s.fvco_hz <= 1600e6
    assert 125e6 / s.params["DIVCLK_DIVIDE"] * s.params["CLKFBOUT_MULT_F"] / s.params["CLKOUT0_DIVIDE_F"] == 200e6
    with pytest.raises(ValueError, match="16 to 275 MHz"):
        ice40_pll(12e6, 10e6)  # the iCE40 PLL makes no less than 16 MHz


def test_a_near_miss_is_placed_again_with_the_next_seed():
    """A build that misses its clock by less than SEED_SLACK is placed and routed again with the next
    nextpnr seed (until one meets or the seeds run out); a clear miss or a pass is not."""
    from boards.build import SEEDS, _seeded

    def runs(fmaxes):
        seen = []

        def run(seed):
            seen.append(seed)
            return fmaxes[len(seen) - 1]
        return run, seen

    run, seen = runs([97.9, 100.5, 99.0])
    assert _seeded("ulx3s", 100, run) == 100.5 and seen == [1, 2]
    run, seen = runs([97.0, 98.0, 99.0])
    assert _seeded("ulx3s", 100, run) == 99.0 and seen == list(SEEDS)
    run, seen = runs([80.0])
    assert _seeded("ulx3s", 100, run) == 80.0 and seen == [1]
    run, seen = runs([101.0])
    assert _seeded("ulx3s", 100, run) == 101.0 and seen == [1]
    # the iCEBreaker's margin counts: 3.5 MHz at 3 MHz misses 3.6 by less than 5 %
    run, seen = runs([3.5, 3.7])
    assert _seeded("icebreaker", 3, run) == 3.7 and seen == [1, 2]


def test_the_clock_is_chosen_by_nextpnr_fmax():
    """:func:`choose_clock` jumps to the fastest clock the first Fmax allows and steps down
    while a build misses, with the board's margin (iCEBreaker 20 %)."""
    from boards.build import choose_clock

    fmax_at = {200: 120.0, 175: 118.0, 150: 116.0, 125: 112.0, 100: 104.0, 75: 90.0}
    tried = []

    def try_clock(c):
        tried.append(c)
        return fmax_at.get(c, 80.0)

    # 120 MHz at the 200 MHz target allows 125 MHz with the probe's slack (10 %): missed there
    # (112), then the fastest clock 112 MHz allows, met
    assert choose_clock("ulx3s", try_clock) == (100, 104.0, [(200, 120.0), (125, 112.0), (100, 104.0)])
    assert tried == [200, 125, 100]
    # a probe a little short of a clock: that clock is tried (nextpnr does better at a lower target)
    assert choose_clock("ulx3s", {200: 95.2, 100: 100.8}.get) == (100, 100.8, [(200, 95.2), (100, 100.8)])
    # a build at the allowed clock that misses: one step down, then met
    fmax_at[100] = 99.0
    assert choose_clock("ulx3s", lambda c: fmax_at.get(c, 80.0))[:2] == (75, 90.0)
    # iCEBreaker: Fmax 30 MHz allows 24 MHz (30 / 24 = 1.25) but not 30 or 36 (margin 20 %)
    assert choose_clock("icebreaker", lambda c: 30.0)[0] == 24
    # 13 MHz: below 12 MHz + 20 %, the board clock divided by two (6 MHz) is the fastest that meets
    assert choose_clock("icebreaker", lambda c: 13.0) == (6, 13.0, [(48, 13.0), (6, 13.0)])
    # nothing meets: the slowest clock, with its Fmax below the margin
    assert choose_clock("icebreaker", lambda c: 6.8)[0] == 3  # the shipped build: 6.8 MHz, below 6 MHz + 20 %
    assert choose_clock("icebreaker", lambda c: 3.5) == (3, 3.5, [(48, 3.5), (3, 3.5)])


@pytest.fixture(scope="module")
def zcu104_plan(tmp_path_factory):
    """The ZCU104 plan (written once for this module): the summary and its directory."""
    from boards.build import build

    out = tmp_path_factory.mktemp("zcu104")
    return build("zcu104", out), out


def test_zcu104_plan_is_written_not_run(zcu104_plan):
    res, out = zcu104_plan
    f = {n: (out / n).read_text() for n in ("dysta.tcl", "dysta.xdc", "dysta.v")}
    tcl, xdc, v = f["dysta.tcl"], f["dysta.xdc"], f["dysta.v"]
    assert res["plan"].endswith("build_dysta.sh") and "bitstream" not in res and res["clock_mhz"] == 200
    assert "xczu7ev-ffvc1156-2-e" in tcl and "synth_design" in tcl
    assert "LOC F23" in xdc and "-period 8.0" in xdc
    # the 125 MHz LVDS clock drives an MMCM (VCO 1000 MHz) whose 200 MHz output, through a BUFG,
    # is the scheduler's clock; Vivado derives that clock from the input's 8 ns constraint
    mmcm = v[v.index("MMCME4_BASE #("):]
    mmcm = mmcm[:mmcm.index(");")]
    assert ".CLKFBOUT_MULT_F(8.0)" in mmcm and ".CLKOUT0_DIVIDE_F(5.0)" in mmcm and ".CLKIN1_PERIOD(8.0)" in mmcm
    assert "DIVCLK_DIVIDE(32'd1)" in mmcm and "BUFG" in v
    # the slack check sits after routing and before the bitstream
    assert tcl.index("route_design") < tcl.index("get_property SLACK") < tcl.index("write_bitstream")


def _tcl():
    try:
        import tkinter

        return tkinter.Tcl()
    except Exception as e:  # no _tkinter (Debian: python3-tk) or no Tcl library
        import helpers

        helpers.missing(f"a Tcl interpreter (Python's tkinter) is needed to run the Vivado script: {e}")


@pytest.mark.parametrize("wns, whs, written", [(0.12, 0.03, True), (-0.25, 0.03, False), (0.4, -0.01, False),
                                               (None, None, False)])
def test_zcu104_script_stops_on_negative_slack(zcu104_plan, wns, whs, written):
    """The generated Vivado script run in Tcl with every Vivado command stubbed: the worst routed
    path's slack decides whether ``write_bitstream`` runs or the script stops with an error (no
    constrained path at all stops it too)."""
    import tkinter

    out = zcu104_plan[1]
    tcl = _tcl()
    paths = "" if wns is None else "if {[lsearch $args -hold] >= 0} {return hold_path} {return setup_path}"
    tcl.eval(f"""
        set ::calls {{}}
        proc unknown {{args}} {{ lappend ::calls [lindex $args 0]; return {{}} }}
        proc get_timing_paths {{args}} {{ {paths} }}
        proc get_property {{prop obj}} {{
            lappend ::calls "get_property $prop"
            if {{$obj eq "setup_path"}} {{ return {wns} }}
            if {{$obj eq "hold_path"}} {{ return {whs} }}
            return {{}}
        }}
        cd {{{out}}}
    """)
    if written:
        tcl.eval("source dysta.tcl")
    else:
        with pytest.raises(tkinter.TclError, match="no bitstream written"):
            tcl.eval("source dysta.tcl")
    calls = tcl.eval("set ::calls").split()
    assert "route_design" in calls and "opt_design" in calls
    assert ("write_bitstream" in calls) == written


def test_board_names_and_parameters_are_checked(capsys):
    from dysta_sw.cli import main

    assert main(["board", "build", "ulx3s", "--depth", "48"]) == 2
    assert "power of two" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["board", "build", "arty"])


def test_a_build_that_does_not_fit_is_an_error_line(tmp_path, monkeypatch, capsys):
    """nextpnr stopping on a design larger than the FPGA ends as ``dysta board build: error:``
    naming its error line, what to do and where the logs are, exit 2: not a traceback."""
    import subprocess
    from pathlib import Path

    from boards import build as board_build
    from dysta_sw.cli import main

    class Plan:  # the build script as nextpnr-ice40 leaves it when the logic cells run out
        files = {"build_dysta.sh": "nextpnr-ice40 ..."}

        def execute_local(self, out, env):
            Path(out).mkdir(parents=True, exist_ok=True)
            Path(out, "dysta.tim").write_text("ERROR: Unable to place cell 'link.x_LC', no BELs remaining to "
                                              "implement cell type 'ICESTORM_LC'\n")
            raise subprocess.CalledProcessError(125, ["sh", "build_dysta.sh"])

    monkeypatch.setattr(board_build, "_plan", lambda board, top, out, seed=1: Plan())
    out = tmp_path / "build"
    assert main(["board", "build", "icebreaker", "--clock", "12", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dysta board build: error: the icebreaker build failed") and "Traceback" not in err
    assert "no BELs remaining" in err and "larger than the FPGA" in err and str(out) in err


def test_a_refused_request_is_reported_not_waited_for():
    """A request for a model-pattern whose layers were never written is taken and refused by the
    scheduler (no F ever comes): the client says so instead of waiting for ever."""
    rng = np.random.default_rng(1)
    _luts, jobs = small_workload(rng, n=1)
    link = HostLink(PARAMS, jobs, divisor=4)
    client = HostClient(SimTransport(link, step=500), depth=PARAMS["depth"], idle_reads=20)
    with pytest.raises(LinkError, match="refused a request"):
        client.run(jobs)  # no LUTs programmed


def test_board_goals_from_nextpnr_results(monkeypatch):
    """The board rows of ``dysta synth --goals``: the ULX3S is met only at >= 100 MHz with timing
    met, the iCEBreaker only with Fmax >= 1.2 x its clock; a failed build is a row saying so."""
    from boards import build, goals
    from dysta_hw.goals import GoalContext

    results = {"ulx3s": {"clock_mhz": 40.0, "fmax_mhz": 41.6, "met": True, "margin": 0.04,
                         "tries": [(200, 41.6), (40, 41.6)], "critical_path": None},
               "icebreaker": {"clock_mhz": 6.0, "fmax_mhz": 13.1, "met": True, "margin": 13.1 / 6 - 1,
                              "tries": [(48, 13.0), (6, 13.1)]}}
    monkeypatch.setattr(build, "timing", lambda board, use_cache, cache_only: results[board])
    ulx, ice = goals.board_goals(GoalContext())
    assert ulx["measured"] == "40 MHz (Fmax 41.6 MHz)" and ulx["met"] == "NO" and ulx["target"] == ">= 100 MHz"
    assert ice["measured"] == "+118% at 6 MHz (Fmax 13.1 MHz)" and ice["met"] == "yes"
    results["ulx3s"].update(clock_mhz=125.0, fmax_mhz=131.0)
    results["icebreaker"].update(clock_mhz=24.0, fmax_mhz=27.0, margin=27 / 24 - 1, met=False)
    ulx, ice = goals.board_goals(GoalContext())
    assert ulx["met"] == "yes" and ice["met"] == "NO" and "+12%" in ice["measured"]

    def broken(board, use_cache, cache_only):
        raise RuntimeError("nextpnr crashed")

    monkeypatch.setattr(build, "timing", broken)
    assert all(r["met"] == "n/a" and "nextpnr crashed" in r["note"] for r in goals.board_goals(GoalContext()))
