"""The board top-level in Amaranth's simulator, behind a transport the host client can use.

The simulated host has a UART of its own in gateware, wired to the board's ``rx``/``tx`` pins,
so the client's bytes cross the same serial line as on a real board (at ``divisor`` cycles per
bit instead of a real baud rate, which changes nothing but the pace).
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module
from amaranth.sim import Simulator

from .uart import UARTRx, UARTTx

__all__ = ["SimTransport"]


class _Bench(Elaboratable):
    def __init__(self, link):
        self.link = link
        self.host_tx = UARTTx(link.divisor)
        self.host_rx = UARTRx(link.divisor)

    def elaborate(self, platform):
        m = Module()
        m.submodules.link, m.submodules.host_tx, m.submodules.host_rx = self.link, self.host_tx, self.host_rx
        m.d.comb += [self.link.rx.eq(self.host_tx.tx), self.host_rx.rx.eq(self.link.tx)]
        return m


class SimTransport:
    """``write``/``read`` bytes to a simulated :class:`boards.link.HostLink`; each ``read``
    advances the simulation by ``step`` cycles. ``cycles`` counts the simulated clock cycles."""

    def __init__(self, link, *, step: int = 2000, vcd: str | None = None):
        self.bench = _Bench(link)
        self.step = step
        self.out = bytearray()
        self.got = bytearray()
        self.cycles = 0
        self.sim = Simulator(self.bench)
        self.sim.add_clock(1e-6)
        self.sim.add_testbench(self._host, background=True)
        self._vcd = self.sim.write_vcd(vcd) if vcd else None
        if self._vcd:
            self._vcd.__enter__()

    async def _host(self, ctx):
        tx, rx = self.bench.host_tx, self.bench.host_rx
        async for _clk, _rst, rx_valid, rx_data, tx_ready in ctx.tick().sample(
                rx.data.valid, rx.data.payload, tx.data.ready):
            if rx_valid:
                self.got.append(rx_data)
            if tx_ready and ctx.get(tx.data.valid):
                self.out.pop(0)
            ctx.set(tx.data.valid, bool(self.out))
            if self.out:
                ctx.set(tx.data.payload, self.out[0])

    def write(self, data: bytes) -> None:
        self.out += data

    def read(self) -> bytes:
        self.cycles += self.step
        self.sim.run_until(self.cycles * 1e-6)
        data, self.got = bytes(self.got), bytearray()
        return data

    def close(self) -> None:
        if self._vcd:
            self._vcd.__exit__(None, None, None)
            self._vcd = None
