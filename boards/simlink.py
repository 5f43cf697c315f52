"""The board top-level in Amaranth's simulator, behind a transport the host client can use.

The simulated host has a UART of its own in gateware, wired to the board's ``rx``/``tx`` pins,
so the client's bytes cross the same serial line as on a real board (at ``divisor`` cycles per
bit instead of a real baud rate, which changes nothing but the pace). Faults
(:class:`boards.linkmodel.Fault`) are made on the lines themselves: a data bit inverted, the stop
bit pulled low, the line held idle for a byte or for a run of bytes.
"""

from __future__ import annotations

import random
import time

from amaranth.hdl import Elaboratable, Module, Mux, Signal
from amaranth.sim import Simulator

from .linkmodel import FAULT_KINDS, CampaignResult, Fault
from .uart import UARTRx, UARTTx

__all__ = ["SimTransport", "fault_bench"]

_PASS, _INVERT, _IDLE = 0, 1, 2


class _Bench(Elaboratable):
    def __init__(self, link):
        self.link = link
        self.host_tx = UARTTx(link.divisor)
        self.host_rx = UARTRx(link.divisor)
        #: what each line does to its bits: pass, invert, or idle (high)
        self.mode = {"board": Signal(2), "host": Signal(2)}

    def elaborate(self, platform):
        m = Module()
        m.submodules.link, m.submodules.host_tx, m.submodules.host_rx = self.link, self.host_tx, self.host_rx
        for line, src, dst in (("board", self.host_tx.tx, self.link.rx), ("host", self.link.tx, self.host_rx.rx)):
            mode = self.mode[line]
            m.d.comb += dst.eq(Mux(mode == _IDLE, 1, src ^ (mode == _INVERT)))
        return m


class SimTransport:
    """``write``/``read`` bytes to a simulated :class:`boards.link.HostLink`; each ``read``
    advances the simulation by ``step`` cycles. ``cycles`` counts the simulated clock cycles;
    ``count`` the bytes that started on each line (``"board"``: host to board; ``"host"``)."""

    def __init__(self, link, *, step: int = 2000, vcd: str | None = None):
        self.bench = _Bench(link)
        self.link = link
        self.step = step
        self.bytes_per_read = step / (10 * link.divisor)
        self.out = bytearray()
        self.got = bytearray()
        self.cycles = 0
        self.count = {"board": 0, "host": 0}
        self.faults: dict[tuple[str, int], Fault] = {}
        self.watch = {k: 0 for k in link.monitor}
        self.produced: list[int] = []  # every event the board put in its window (kind, then payload)
        self.sim = Simulator(self.bench)
        self.sim.add_clock(1e-6)
        self.sim.add_testbench(self._host, background=True)
        self._vcd = self.sim.write_vcd(vcd) if vcd else None
        if self._vcd:
            self._vcd.__enter__()

    def inject(self, fault: Fault) -> None:
        """Damage the ``fault.index``-th byte to start on line ``fault.to``."""
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; choose from {FAULT_KINDS}")
        self.faults[(fault.to, fault.index)] = fault

    def pending(self, fault: Fault) -> bool:
        """The fault has not been made yet, or is still being made."""
        return (fault.to, fault.index) in self.faults or self._forcing[fault.to][1] > self._now

    async def _host(self, ctx):
        tx, rx = self.bench.host_tx, self.bench.host_rx
        div = self.link.divisor
        byte_time = 10 * div
        free = {"board": 0, "host": 0}  # the cycle from which a start bit may begin on each line
        self._forcing = {"board": (0, 0, _PASS), "host": (0, 0, _PASS)}  # (from, to, mode)
        self._now = 0
        mon = self.link.monitor
        names = list(mon)
        async for _clk, _rst, rx_valid, rx_data, tx_ready, src_b, src_h, *watched in ctx.tick().sample(
                rx.data.valid, rx.data.payload, tx.data.ready, tx.tx, self.link.tx, *mon.values()):
            now = self._now = self._now + 1
            for line, level in (("board", src_b), ("host", src_h)):
                if now >= free[line] and not level:  # a start bit on the undamaged line
                    f = self.faults.pop((line, self.count[line]), None)
                    self.count[line] += 1
                    free[line] = now + byte_time - 2
                    if f is not None:
                        if f.kind == "flip":
                            self._forcing[line] = (now + (1 + f.arg) * div, now + (2 + f.arg) * div, _INVERT)
                        elif f.kind == "stop":
                            self._forcing[line] = (now + 9 * div, now + 10 * div, _INVERT)
                        else:
                            n = f.arg if f.kind == "truncate" else 1
                            self._forcing[line] = (now, now + n * byte_time, _IDLE)
                start, end, mode = self._forcing[line]
                ctx.set(self.bench.mode[line], mode if start <= now < end else _PASS)
            values = dict(zip(names, watched))
            if values["event"]:
                self.produced.append(values["data"])
            self.watch = values
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


def fault_bench(faults: int, seed: int = 0, *, requests: int | None = None, step: int = 500, divisor: int = 4,
                settle_reads: int = 400, quiet_reads: int = 6, progress=None):
    """``faults`` faults (the kinds in turn, on a random line) on the simulated board running
    :func:`boards.workload.small_workload`; a :class:`boards.faults.CampaignResult`. The events
    the host receives are compared with those the board put in its window, and the run with the
    golden model's replay (a mismatch counts as a wrong event). ``progress(result)`` is called
    after each fault."""
    import numpy as np

    from dysta_sw.hwsched import Accept, LayerDone, SchedModel, Timing

    from .client import BoardRun, HostClient
    from .link import HostLink
    from .protocol import BOARD_PAYLOAD, Frame, parse_board_frame, request_command
    from .workload import SMALL_PARAMS, small_workload

    t0 = time.perf_counter()
    rng = random.Random(seed)
    n = requests if requests is not None else max(4, faults // 3)
    luts, jobs = small_workload(np.random.default_rng(seed), n, long_first=200)
    link = HostLink(SMALL_PARAMS, jobs, divisor=divisor, queue_depth=4)
    t = SimTransport(link, step=step)
    client = HostClient(t, depth=SMALL_PARAMS["depth"])
    arq = client.link
    client.program(luts.writes())
    res = CampaignResult("sim")
    out = BoardRun()
    by_tag = {j.tag: j for j in jobs}
    rel = {j.tag: max(0, j.deadline - j.arrival) for j in jobs}
    st = {"sent": 0, "unfinished": 0, "delivered": 0}

    def expected(i: int):
        word = t.produced[i]
        kind = word & 0xFF
        payload = (word >> 8).to_bytes(10, "little")[:BOARD_PAYLOAD[kind]]
        return parse_board_frame(Frame(kind, 0, 0, payload))

    def drive(submit: bool) -> None:
        if submit:
            while st["sent"] < len(jobs) and st["unfinished"] < client.depth:
                j = jobs[st["sent"]]
                arq.send(*request_command(j.tag, j.mp, rel[j.tag], 0))
                st["sent"] += 1
                st["unfinished"] += 1
            if st["sent"] == len(jobs) and not arq.events:
                arq.ask_status()  # traffic on both lines once the workload has run out
        arq.pump()
        arq.statuses.clear()
        while arq.events:
            ev = arq.events.popleft()
            i = st["delivered"]
            st["delivered"] += 1
            if i >= len(t.produced) or ev != expected(i):
                res.wrong_events += 1
            if ev.kind == "A":
                out.accepts.append(Accept(ev.cycle, ev.tag, by_tag[ev.tag].mp,
                                          (ev.cycle + rel[ev.tag]) & client.time_mask))
            elif ev.kind == "D":
                out.dispatches.append((ev.cycle, ev.tag, ev.layer))
            elif ev.kind == "L":
                out.layer_dones.append(LayerDone(ev.cycle, ev.nnz))
            elif ev.kind == "F":
                out.dones.append((ev.cycle, ev.tag))
                st["unfinished"] -= 1

    def settled() -> bool:
        w = t.watch
        return (not arq.unacked and not arq.queue and st["delivered"] == len(t.produced) and not w["unacked"]
                and not w["pending"])

    def signs() -> int:
        return arq.decoder.bad + arq.decoder.unknown + t.watch["rx_bad"]

    for j in range(faults):
        kind = FAULT_KINDS[j % len(FAULT_KINDS)]
        to = rng.choice(("board", "host"))
        arg = rng.randrange(8) if kind == "flip" else rng.randint(2, 12) if kind == "truncate" else 0
        f = Fault(to, t.count[to] + rng.randint(1, 30), kind, arg)
        t.inject(f)
        before = signs()
        for _ in range(settle_reads):
            if not t.pending(f):
                break
            drive(submit=True)
        for _ in range(settle_reads):
            if settled():
                break
            drive(submit=False)
        for _ in range(quiet_reads):  # a damaged frame that carried no event ends later
            if signs() > before:
                break
            drive(submit=False)
        res.injected += 1
        res.by_kind[kind][0] += 1
        if signs() > before:
            res.detected += 1
            res.by_kind[kind][1] += 1
        if settled():
            res.recovered += 1
        if progress is not None:
            progress(res)
    while len(out.dones) < st["sent"] or st["sent"] < len(jobs):
        drive(submit=True)
    status = client.status()
    HostClient.compare(out, SchedModel(luts, Timing.of(shared=True)))
    res.wrong_events += out.mismatches
    tags = sorted(a.tag for a in out.accepts)
    res.wrong_commands = int(tags != list(range(len(jobs)))) + int(status.dones != len(jobs))
    res.events, res.commands = st["delivered"], len(jobs)
    res.rejected = arq.decoder.bad + arq.decoder.unknown + t.watch["rx_bad"]
    res.discarded, res.timeouts, res.resends = arq.discarded, t.watch["timeouts"], arq.resends
    res.seconds = time.perf_counter() - t0
    return res
