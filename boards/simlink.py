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

import numpy as np
from amaranth.hdl import Elaboratable, Module, Mux, Signal
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.sim import Simulator

from .arq import LinkError
from .linkmodel import FAULT_KINDS, CampaignResult, Fault
from .uart import UARTRx, UARTTx

__all__ = ["SimTransport", "FaultBench", "VerilatorTransport", "fault_bench", "BACKENDS", "default_backend"]

#: Simulators of :func:`fault_bench`: Verilator (the bench compiled, :class:`VerilatorTransport`)
#: or Amaranth's simulator (:class:`SimTransport`, no compiler needed, about 1000 times slower).
BACKENDS = ("verilator", "amaranth")

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


class _Injector(Elaboratable):
    """Damages one serial line in gateware: counts the bytes that start on ``src`` (a start bit
    once the previous byte is nearly over) and, on the byte numbered ``index`` of the fault
    armed last (``arm`` with ``index``, ``kind``: an index into
    :data:`~boards.linkmodel.FAULT_KINDS`, ``arg``), makes the fault on ``dst``: a data bit
    inverted (flip, bit ``arg``), the stop bit inverted (stop), the line held idle for that byte
    (drop) or for ``arg`` byte times (truncate). The same faults as :class:`SimTransport` makes."""

    def __init__(self, divisor: int):
        self.divisor = divisor
        self.src, self.dst = Signal(init=1), Signal(init=1)
        self.arm, self.index, self.kind, self.arg = Signal(), Signal(32), Signal(2), Signal(8)
        self.count, self.armed, self.busy = Signal(32), Signal(), Signal()

    def elaborate(self, platform):
        m = Module()
        div = self.divisor
        byte = 10 * div
        gap = Signal(range(byte))  # cycles until a start bit may begin
        index, kind, arg = Signal(32), Signal(2), Signal(8)
        wait, left, idle = Signal(range(10 * div + 1)), Signal(range(255 * byte + 1)), Signal()
        start, length, idle_now = Signal.like(wait), Signal.like(left), Signal()
        with m.Switch(kind):
            for i, k in enumerate(FAULT_KINDS):
                with m.Case(i):
                    if k == "flip":
                        m.d.comb += [start.eq((1 + arg[:3]) * div), length.eq(div)]
                    elif k == "stop":
                        m.d.comb += [start.eq(9 * div), length.eq(div)]
                    elif k == "drop":
                        m.d.comb += [length.eq(byte), idle_now.eq(1)]
                    else:
                        m.d.comb += [length.eq(arg * byte), idle_now.eq(1)]
        detect = (gap == 0) & ~self.src
        hit = detect & self.armed & (self.count == index)
        active = (wait == 0) & (left != 0)
        with m.If(gap != 0):
            m.d.sync += gap.eq(gap - 1)
        with m.If(detect):
            m.d.sync += [self.count.eq(self.count + 1), gap.eq(byte - 3)]
        with m.If(hit):
            m.d.sync += [self.armed.eq(0), idle.eq(idle_now)]
            with m.If(start == 0):  # from this cycle on
                m.d.sync += [wait.eq(0), left.eq(length - 1)]
            with m.Else():
                m.d.sync += [wait.eq(start - 1), left.eq(length)]
        with m.Elif(wait != 0):
            m.d.sync += wait.eq(wait - 1)
        with m.Elif(left != 0):
            m.d.sync += left.eq(left - 1)
        with m.If(self.arm):
            m.d.sync += [self.armed.eq(1), index.eq(self.index), kind.eq(self.kind), arg.eq(self.arg)]
        force = active | (hit & (start == 0))
        m.d.comb += [self.dst.eq(Mux(force, Mux(active, idle, idle_now) | ~self.src, self.src)),
                     self.busy.eq((wait != 0) | (left != 0))]
        return m


class FaultBench(Elaboratable):
    """:class:`~boards.link.HostLink` with the host's UART, a byte queue in front of it, and an
    :class:`_Injector` on each line, behind packed ports for :mod:`dysta_hw.fp.verilator`'s batch
    driver (``vin``: a byte to send, a fault to arm; ``vout``: what the host's UART received,
    the events entering the board's window, the injectors' and the link's state). An output
    record is flagged (kept) in the cycles a byte arrives or an event enters the window."""

    IN = (("tx_valid", 1), ("arm", 1), ("arm_host", 1), ("arm_kind", 2), ("tx_byte", 8), ("arm_arg", 8),
          ("arm_index", 32))
    OUT = (("keep", 1), ("rx_valid", 1), ("event", 1), ("armed_board", 1), ("armed_host", 1), ("busy_board", 1),
           ("busy_host", 1), ("pending", 1), ("rx_byte", 8), ("data", 88), ("level", 8), ("count_board", 32),
           ("count_host", 32), ("unacked", 8), ("rx_bad", 16), ("timeouts", 16))

    def __init__(self, link, *, fifo_depth: int = 64):
        self.link, self.fifo_depth = link, fifo_depth
        self.in_fields, self.in_bytes = _layout(self.IN)
        self.out_fields, self.out_bytes = _layout(self.OUT)
        self.vin, self.vout = Signal(8 * self.in_bytes, name="vin"), Signal(8 * self.out_bytes, name="vout")

    def elaborate(self, platform):
        m = Module()
        link = self.link
        m.submodules.link = link
        m.submodules.host_tx = tx = UARTTx(link.divisor)
        m.submodules.host_rx = rx = UARTRx(link.divisor)
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=8, depth=self.fifo_depth)
        m.submodules.inj_board = ib = _Injector(link.divisor)
        m.submodules.inj_host = ih = _Injector(link.divisor)
        i = {name: self.vin[off:off + w] for name, (off, w) in self.in_fields.items()}
        m.d.comb += [fifo.w_en.eq(i["tx_valid"]), fifo.w_data.eq(i["tx_byte"]),
                     tx.data.valid.eq(fifo.r_rdy), tx.data.payload.eq(fifo.r_data), fifo.r_en.eq(tx.data.ready),
                     ib.src.eq(tx.tx), link.rx.eq(ib.dst), ih.src.eq(link.tx), rx.rx.eq(ih.dst)]
        for inj, host in ((ib, 0), (ih, 1)):
            m.d.comb += [inj.arm.eq(i["arm"] & (i["arm_host"] == host)), inj.index.eq(i["arm_index"]),
                         inj.kind.eq(i["arm_kind"]), inj.arg.eq(i["arm_arg"])]
        mon = link.monitor
        o = {"keep": rx.data.valid | mon["event"], "rx_valid": rx.data.valid, "event": mon["event"],
             "armed_board": ib.armed, "armed_host": ih.armed, "busy_board": ib.busy, "busy_host": ih.busy,
             "pending": mon["pending"], "rx_byte": rx.data.payload, "data": mon["data"], "level": fifo.level,
             "count_board": ib.count, "count_host": ih.count, "unacked": mon["unacked"], "rx_bad": mon["rx_bad"],
             "timeouts": mon["timeouts"]}
        for name, (off, w) in self.out_fields.items():
            m.d.comb += self.vout[off:off + w].eq(o[name])
        return m

    def pack_in(self, **values) -> bytes:
        """One input record (fields not given are 0)."""
        word = 0
        for name, v in values.items():
            off, w = self.in_fields[name]
            word |= (int(v) & ((1 << w) - 1)) << off
        return word.to_bytes(self.in_bytes, "little")

    def unpack_out(self, rec) -> dict:
        """The fields of one output record."""
        word = int.from_bytes(bytes(rec), "little")
        return {name: (word >> off) & ((1 << w) - 1) for name, (off, w) in self.out_fields.items()}


class VerilatorTransport:
    """:class:`SimTransport`'s interface over the :class:`FaultBench` of ``link`` compiled by
    Verilator (:func:`dysta_hw.fp.verilator.build` with the batch driver, cached in
    ``cache`` (default :func:`dysta_sw.tools.cache_dir` ``("verilator")``): the host's UART, the
    faults on the lines and the board are all gateware; each ``read`` runs ``step`` cycles. A fault
    waits in a queue until its line's injector is free."""

    def __init__(self, link, *, step: int = 2000, cache=None):
        from dysta_hw.fp.verilator import BATCH_HARNESS, build
        from dysta_sw import tools

        self.bench = FaultBench(link)
        self.link = link
        self.step = step
        self.bytes_per_read = step / (10 * link.divisor)
        self.model = build(self.bench, cache or tools.cache_dir("verilator"), harness=BATCH_HARNESS)
        self.out = bytearray()
        self.got = bytearray()
        self.cycles = 0
        self.count = {"board": 0, "host": 0}
        self.queued: dict[str, list[Fault]] = {"board": [], "host": []}
        self.slot: dict[str, Fault | None] = {"board": None, "host": None}
        self.busy = {"board": False, "host": False}
        self.watch = {"unacked": 0, "pending": 0, "rx_bad": 0, "timeouts": 0}
        self.produced: list[int] = []
        self.level = 0
        fields = self.bench.out_fields
        self._rx = fields["rx_byte"][0] // 8
        self._data = (fields["data"][0] // 8, (fields["data"][0] + fields["data"][1]) // 8)
        self._bit = {k: 1 << fields[k][0] for k in ("rx_valid", "event")}

    def inject(self, fault: Fault) -> None:
        """Damage the ``fault.index``-th byte to start on line ``fault.to``."""
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; choose from {FAULT_KINDS}")
        if fault.kind == "truncate" and not 1 <= fault.arg <= 255 or fault.kind == "flip" and not 0 <= fault.arg < 8:
            raise ValueError(f"fault argument {fault.arg} out of range for {fault.kind}")
        self.queued[fault.to].append(fault)
        self.queued[fault.to].sort(key=lambda f: f.index)

    def pending(self, fault: Fault) -> bool:
        """The fault has not been made yet, or is still being made."""
        return fault in self.queued[fault.to] or (self.slot[fault.to] is fault and self.busy[fault.to])

    def write(self, data: bytes) -> None:
        self.out += data

    def read(self) -> bytes:
        rows: list[dict] = []
        for line in ("board", "host"):
            q = self.queued[line]
            if q and not self.busy[line]:
                f = self.slot[line] = q.pop(0)
                self.busy[line] = True
                rows.append({"arm": 1, "arm_host": line == "host", "arm_kind": FAULT_KINDS.index(f.kind),
                             "arm_arg": f.arg, "arm_index": f.index})
        n = min(len(self.out), self.bench.fifo_depth - self.level)  # what the byte queue has room for
        for i in range(n):
            if i == len(rows):
                rows.append({})
            rows[i].update(tx_valid=1, tx_byte=self.out[i])
        del self.out[:n]
        data = np.frombuffer(b"".join(self.bench.pack_in(**r) for r in rows), np.uint8).reshape(-1, self.bench.in_bytes)
        flagged, last = self.model.run(data, self.step)
        self.cycles += max(self.step, len(rows))
        if len(flagged):
            b0 = flagged[:, 0]
            self.got += flagged[(b0 & self._bit["rx_valid"]) != 0, self._rx].tobytes()
            lo, hi = self._data
            for row in flagged[(b0 & self._bit["event"]) != 0, lo:hi]:
                self.produced.append(int.from_bytes(row.tobytes(), "little"))
        st = self.bench.unpack_out(last)
        self.level = st["level"]
        for line in ("board", "host"):
            self.count[line] = st[f"count_{line}"]
            self.busy[line] = bool(st[f"armed_{line}"] or st[f"busy_{line}"])
        self.watch = {k: st[k] for k in self.watch}
        data, self.got = bytes(self.got), bytearray()
        return data

    def close(self) -> None:
        self.model.close()


def _layout(fields) -> tuple[dict, int]:
    """``{name: (bit offset, width)}`` and the record's bytes: the one-bit fields at the start
    share bytes (``keep`` is bit 0 of byte 0, the batch driver's flag), the others start on a byte."""
    out, bit = {}, 0
    for name, w in fields:
        if w > 1 and bit % 8:
            bit += 8 - bit % 8
        out[name] = (bit, w)
        bit += w
    return out, (bit + 7) // 8


def default_backend() -> str:
    """``verilator`` where Verilator is installed (:func:`dysta_hw.hil.default_backend`), else ``amaranth``."""
    from dysta_hw.hil import default_backend as hil_default

    return hil_default()


def fault_bench(faults: int, seed: int = 0, *, requests: int | None = None, step: int = 500, divisor: int = 4,
                settle_reads: int = 400, quiet_reads: int = 150, progress=None, backend: str | None = None,
                check_crc: bool = True, cache=None):
    """``faults`` faults (the kinds in turn, on a random line) on the simulated board running
    :func:`boards.workload.small_workload`; a :class:`boards.faults.CampaignResult`. The events
    the host receives are compared with those the board put in its window, and the run with the
    golden model's replay (a mismatch counts as a wrong event). ``progress(result)`` is called
    after each fault. After the link settles, the campaign watches up to ``quiet_reads`` more reads
    for the receiver that drops the damaged frame.

    ``backend``: ``verilator`` (:class:`VerilatorTransport`, the default where Verilator is
    installed) or ``amaranth`` (:class:`SimTransport`). ``check_crc=False`` makes both receivers
    (the board's :class:`~boards.frames.FrameRx` and the host's decoder) take every CRC as right:
    only to show that the campaign sees the wrong events that would get through."""
    from .link import HostLink
    from .workload import SMALL_PARAMS, small_workload

    backend = backend or default_backend()
    if backend not in BACKENDS:
        raise ValueError(f"unknown simulation backend {backend!r}; choose from {', '.join(BACKENDS)}")
    t0 = time.perf_counter()
    rng = random.Random(seed)
    n = requests if requests is not None else max(4, faults // 3)
    luts, jobs = small_workload(np.random.default_rng(seed), n, long_first=200)
    link = HostLink(SMALL_PARAMS, jobs, divisor=divisor, queue_depth=4, check_crc=check_crc)
    cpu0 = _cpu()
    t = VerilatorTransport(link, step=step, cache=cache) if backend == "verilator" else SimTransport(link, step=step)
    try:
        res = _campaign(t, luts, jobs, faults, rng, settle_reads, quiet_reads, progress, check_crc, t0,
                        f"sim ({backend})")
    finally:
        t.close()
    res.seconds, res.cpu = time.perf_counter() - t0, _cpu() - cpu0
    return res


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the Verilated bench, its build)."""
    import resource

    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def _campaign(t, luts, jobs, faults, rng, settle_reads, quiet_reads, progress, check_crc, t0, name):
    from dysta_sw.hwsched import Accept, LayerDone, SchedModel, Timing

    from .client import BoardRun, HostClient
    from .protocol import BOARD_PAYLOAD, Frame, parse_board_frame, request_command
    from .workload import SMALL_PARAMS

    client = HostClient(t, depth=SMALL_PARAMS["depth"])
    arq = client.link
    arq.decoder.check_crc = check_crc
    client.program(luts.writes())
    res = CampaignResult(name)
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
                if ev.tag in by_tag:  # (a wrong event may name no request)
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
        # a damaged frame that lost its END is dropped only when the next frame ends it: on a quiet
        # line, the answer to the host's idle probe (after idle_reads // 2 = 100 reads)
        for _ in range(quiet_reads):
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
    # the rest of the workload, then the whole run against the golden model's replay; wrong events
    # let through (with the CRC check off) may leave it unfinished or impossible to replay
    idle = 0  # reads without a new event: the run is stuck after settle_reads * 10 of them
    while not len(out.dones) >= st["sent"] == len(jobs):
        if idle == settle_reads * 10:
            res.wrong_events += 1
            break
        seen = st["delivered"]
        drive(submit=True)
        idle = 0 if st["delivered"] > seen else idle + 1
    try:
        status = client.status()
    except LinkError:
        status = None
    try:
        HostClient.compare(out, SchedModel(luts, Timing.of(shared=True)))
        res.wrong_events += out.mismatches
    except (AssertionError, KeyError, IndexError, ValueError):
        res.wrong_events += 1
    tags = sorted(a.tag for a in out.accepts)
    res.wrong_commands = int(tags != list(range(len(jobs)))) + int(status is None or status.dones != len(jobs))
    res.events, res.commands = st["delivered"], len(jobs)
    res.rejected = arq.decoder.bad + arq.decoder.unknown + t.watch["rx_bad"]
    res.discarded, res.timeouts, res.resends = arq.discarded, t.watch["timeouts"], arq.resends
    res.seconds = time.perf_counter() - t0
    return res
