"""A plain 8N1 UART: transmitter and receiver with byte streams, ``divisor`` clock cycles per bit."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTTx", "UARTRx", "divisor_for"]


def divisor_for(clk_hz: float, baud: int) -> int:
    """Clock cycles per bit; an error if the rate is off by more than 2 % (8N1 tolerates ~4 %)."""
    if baud <= 0 or clk_hz <= 0:
        raise ValueError(f"clock {clk_hz!r} Hz and baud rate {baud!r} must be positive")
    div = round(clk_hz / baud)
    if div < 4 or abs(clk_hz / div - baud) > 0.02 * baud:
        raise ValueError(f"{baud} baud cannot be made from a {clk_hz:g} Hz clock (divisor {clk_hz / baud:.2f}); "
                         "choose a lower baud rate")
    return div


class UARTTx(wiring.Component):
    """Sends each byte of ``data`` on ``tx`` (idle high, start bit, 8 data bits LSB first, stop bit)."""

    def __init__(self, divisor: int):
        if divisor < 2:
            raise ValueError(f"divisor must be at least 2, not {divisor!r}")
        self.divisor = divisor
        super().__init__({"data": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        shreg = Signal(10, init=0x3FF)
        bits = Signal(range(11))
        timer = Signal(range(self.divisor))
        m.d.comb += [self.tx.eq(shreg[0]), self.data.ready.eq(bits == 0)]
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += [shreg.eq(Cat(0, self.data.payload, 1)), bits.eq(10), timer.eq(self.divisor - 1)]
        with m.Elif(bits != 0):
            with m.If(timer == 0):
                m.d.sync += [shreg.eq(Cat(shreg[1:], 1)), bits.eq(bits - 1), timer.eq(self.divisor - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m


class UARTRx(wiring.Component):
    """Receives bytes from ``rx`` (synchronised here); each is on ``data`` for one cycle (no
    back-pressure: buffer it). ``framing_error`` pulses for a byte whose stop bit was low (dropped)."""

    def __init__(self, divisor: int):
        if divisor < 4:
            raise ValueError(f"divisor must be at least 4, not {divisor!r}")
        self.divisor = divisor
        super().__init__({"rx": In(1, init=1), "data": Out(stream.Signature(8, always_ready=True)),
                          "framing_error": Out(1)})

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(self.divisor))
        bits = Signal(range(10))
        shreg = Signal(8)
        m.d.sync += [self.data.valid.eq(0), self.framing_error.eq(0)]
        m.d.comb += self.data.payload.eq(shreg)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += timer.eq(self.divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):  # the middle of the start bit: still low, or a glitch
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(rx):
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += [timer.eq(self.divisor - 1), bits.eq(8)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [shreg.eq(Cat(shreg[1:], rx)), bits.eq(bits - 1), timer.eq(self.divisor - 1)]
                    with m.If(bits == 1):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [self.data.valid.eq(rx), self.framing_error.eq(~rx)]
                    m.next = "IDLE"
        return m
