"""The link's framing in gateware: SLIP frames with a CRC-16 (:mod:`boards.protocol` has the format).

:class:`FrameTx` turns one raw frame (kind, seq, ack, payload) into escaped bytes with the CRC and
``END``; :class:`FrameRx` reassembles frames from received bytes and reports each one whose CRC,
length and escaping are right, or that it dropped a damaged one (also when the UART flagged a
framing error in it, when the frame stopped arriving for ``timeout`` cycles, or when it is
empty: ``END END``, a frame whose content was lost).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .protocol import END, ESC, ESC_END, ESC_ESC, HEADER, TRAILER

__all__ = ["crc16_next", "FrameTx", "FrameRx"]


def crc16_next(crc, byte):
    """CRC-16/CCITT-FALSE register after ``byte`` (polynomial 0x1021, most significant bit first)."""
    c = [crc[i] for i in range(16)]
    for i in range(8):
        fb = c[15] ^ byte[7 - i]
        c = [fb] + c[:15]
        c[5] = c[5] ^ fb
        c[12] = c[12] ^ fb
    return Cat(*c)


class FrameTx(wiring.Component):
    """Sends a frame: ``frame.payload.data`` holds its ``length`` raw bytes (kind, seq, ack, payload;
    first byte lowest), out on ``byte`` escaped, followed by the CRC (big-endian) and ``END``."""

    def __init__(self, *, max_raw: int):
        self.max_raw = max_raw
        layout = data.StructLayout({"data": 8 * max_raw, "length": range(max_raw + 1)})
        super().__init__({"frame": In(stream.Signature(layout)), "byte": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        # data registers without a reset: each is loaded before it is used, and on an iCE40 a
        # register with both a reset and an enable costs a LUT per bit for the enable
        shreg = Signal(8 * self.max_raw, reset_less=True)
        left = Signal(range(self.max_raw + TRAILER + 2))  # raw bytes, CRC bytes and END still to send
        crc = Signal(16)
        esc = Signal()
        m.d.comb += self.frame.ready.eq(left == 0)
        load, advance = Signal(), Signal()  # the shift register's two writes, one enable
        m.d.comb += load.eq(self.frame.valid & self.frame.ready)
        with m.If(load | advance):
            m.d.sync += shreg.eq(Mux(load, self.frame.payload.data, shreg >> 8))
        with m.If(load):
            m.d.sync += [left.eq(self.frame.payload.length + TRAILER + 1), crc.eq(0xFFFF), esc.eq(0)]
        raw = Signal(8)
        with m.If(left > TRAILER + 1):
            m.d.comb += raw.eq(shreg[:8])
        with m.Elif(left == TRAILER + 1):
            m.d.comb += raw.eq(crc[8:])
        with m.Elif(left == TRAILER):
            m.d.comb += raw.eq(crc[:8])
        with m.Else():
            m.d.comb += raw.eq(END)
        special = (left > 1) & ((raw == END) | (raw == ESC))
        m.d.comb += [self.byte.valid.eq(left != 0),
                     self.byte.payload.eq(Mux(esc, Mux(raw == END, ESC_END, ESC_ESC), Mux(special, ESC, raw)))]
        with m.If(self.byte.valid & self.byte.ready):
            with m.If(special & ~esc):
                m.d.sync += esc.eq(1)
            with m.Else():
                m.d.sync += [esc.eq(0), left.eq(left - 1)]
                with m.If(left > TRAILER + 1):
                    m.d.comb += advance.eq(1)
                    m.d.sync += crc.eq(crc16_next(crc, raw))
        return m


class FrameRx(wiring.Component):
    """Reassembles frames from ``byte`` (a UART's received bytes) and ``framing_error``.

    ``lengths`` gives the payload bytes of each known kind. In the cycle a frame ends (``END``):
    ``valid`` if its CRC, length and escaping are right and no byte of it was lost, with ``kind``,
    ``seq``, ``ack`` and ``payload`` (the payload's first byte lowest); ``unknown`` instead when the
    CRC is right but the kind is not known; ``bad`` when it was damaged (dropped). A frame left
    unfinished for ``timeout`` cycles is dropped too (``bad``). ``check_crc=False`` takes every
    CRC as right: only for the fault campaign's check that it sees what that would let through.
    """

    def __init__(self, *, lengths: dict[int, int], timeout: int, check_crc: bool = True):
        if timeout < 1:
            raise ValueError(f"timeout must be at least 1 cycle, not {timeout!r}")
        self.lengths, self.timeout, self.check_crc = dict(lengths), timeout, check_crc
        self.max_payload = max(self.lengths.values())
        self.max_len = HEADER + self.max_payload + TRAILER
        super().__init__({
            "byte": In(stream.Signature(8, always_ready=True)),
            "framing_error": In(1),
            "valid": Out(1), "unknown": Out(1), "bad": Out(1),
            "kind": Out(8), "seq": Out(8), "ack": Out(8), "payload": Out(8 * self.max_payload),
        })

    def elaborate(self, platform):
        m = Module()
        n = Signal(range(self.max_len + 2))  # bytes of the frame so far, held at one past the longest
        # its last bytes; a new one enters at the top (no reset: read only up to the frame's length)
        buf = Signal(8 * self.max_len, reset_less=True)
        crc = Signal(16, init=0xFFFF)
        esc, broken = Signal(), Signal()
        timer = Signal(range(self.timeout + 1))
        kind, seq, ack = Signal(8), Signal(8), Signal(8)
        m.d.comb += [self.kind.eq(kind), self.seq.eq(seq), self.ack.eq(ack)]

        # the payload, by kind: a frame of payload length P ends with P bytes and the CRC
        known = Signal()
        length_ok = Signal()
        for k, p in self.lengths.items():
            with m.If(kind == k):
                m.d.comb += [known.eq(1), length_ok.eq(n == HEADER + p + TRAILER)]
                if p:
                    top = 8 * (self.max_len - TRAILER)
                    m.d.comb += self.payload.eq(buf[top - 8 * p:top])

        b = self.byte.payload
        push = Signal()
        value = Signal(8)
        restart = [n.eq(0), crc.eq(0xFFFF), esc.eq(0), broken.eq(0), timer.eq(0)]
        with m.If(self.byte.valid):
            m.d.sync += timer.eq(0)
            with m.If(b == END):
                m.d.sync += restart
                # an empty frame (END END) is damage too: frames carry only a trailing END, so it
                # means the content of a whole frame was lost
                crc_ok = (crc == 0) if self.check_crc else 1
                good = ~broken & ~esc & (n >= HEADER + TRAILER) & (n <= self.max_len) & crc_ok
                with m.If(good & known & length_ok):
                    m.d.comb += self.valid.eq(1)
                with m.Elif(good & ~known):
                    m.d.comb += self.unknown.eq(1)
                with m.Else():
                    m.d.comb += self.bad.eq(1)
            with m.Elif(esc):
                m.d.sync += esc.eq(0)
                with m.If((b == ESC_END) | (b == ESC_ESC)):
                    m.d.comb += [push.eq(1), value.eq(Mux(b == ESC_END, END, ESC))]
                with m.Else():
                    m.d.sync += broken.eq(1)
            with m.Elif(b == ESC):
                m.d.sync += esc.eq(1)
            with m.Else():
                m.d.comb += [push.eq(1), value.eq(b)]
        with m.Elif((n != 0) | esc | broken):
            with m.If(timer == self.timeout):
                m.d.sync += restart
                m.d.comb += self.bad.eq(1)
            with m.Else():
                m.d.sync += timer.eq(timer + 1)
        with m.If(self.framing_error):
            m.d.sync += broken.eq(1)
        with m.If(push):
            m.d.sync += [crc.eq(crc16_next(crc, value)), buf.eq(Cat(buf[8:], value))]
            with m.If(n <= self.max_len):
                m.d.sync += n.eq(n + 1)
            with m.Switch(n):
                with m.Case(0):
                    m.d.sync += kind.eq(value)
                with m.Case(1):
                    m.d.sync += seq.eq(value)
                with m.Case(2):
                    m.d.sync += ack.eq(value)
        return m

