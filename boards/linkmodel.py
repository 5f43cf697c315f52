"""A byte-level Python model of the board's link logic (:class:`boards.link.HostLink`), for fault
campaigns far longer than Amaranth's simulator can run.

:class:`BoardLinkModel` follows the gateware's rules one for one: the same frames (the decoder
of :mod:`boards.protocol`), the command sequence number it expects, the window of
unacknowledged events, the timeout that sends them again from the oldest, the status frame it
answers a status request with first. Time is counted in byte times of the line (one byte each way
per step) instead of clock cycles. The scheduler is replaced by :class:`ModelCore`, which answers
every request with a made-up but checkable run of events.

:class:`ModelTransport` carries bytes between :class:`boards.arq.ArqLink` and the model, and
damages the bytes a :class:`Fault` names on the way.
"""

from __future__ import annotations

import random
import struct
from collections import deque
from dataclasses import dataclass, field

from .protocol import HOST_PAYLOAD, encode_frame

__all__ = ["BoardLinkModel", "ModelCore", "ModelTransport", "Fault", "FAULT_KINDS", "CampaignResult"]

#: What a fault does to the byte it hits: ``flip`` one data bit; ``drop`` the byte; ``stop`` a low
#: stop bit (the receiving UART drops the byte and flags a framing error; the host's serial port
#: just loses it); ``truncate`` the byte and the ``n - 1`` after it (the line goes quiet).
FAULT_KINDS = ("flip", "drop", "stop", "truncate")


@dataclass(frozen=True)
class Fault:
    """``kind`` on the ``index``-th byte (counted from 0) that goes ``to`` ``"board"`` or ``"host"``;
    ``arg``: the bit flipped, or the bytes a truncation removes."""

    to: str
    index: int
    kind: str
    arg: int = 0


class ModelCore:
    """The scheduler's place in the model: each request runs ``1 + tag % 3`` layers at once and
    its events (A, then D and L per layer, then F) carry a cycle that grows by a random step."""

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)
        self.cycle = 0
        self.emitted: list[tuple[int, bytes]] = []  # every event, in order
        self.commands: list[tuple[int, bytes]] = []  # every command executed, in order

    def _stamp(self) -> bytes:
        self.cycle += self.rng.randint(1, 5000)
        return (self.cycle & ((1 << 48) - 1)).to_bytes(6, "little")

    def execute(self, kind: int, payload: bytes) -> list[tuple[int, bytes]]:
        self.commands.append((kind, payload))
        if kind != ord("R"):
            return []
        tag = int.from_bytes(payload[0:2], "little")
        ev = [(ord("A"), payload[0:2] + self._stamp())]
        for layer in range(1 + tag % 3):
            ev.append((ord("D"), payload[0:2] + bytes([layer]) + self._stamp()))
            ev.append((ord("L"), struct.pack("<I", self.rng.randrange(1 << 32)) + self._stamp()))
        ev.append((ord("F"), payload[0:2] + self._stamp()))
        self.emitted += ev
        return ev


class BoardLinkModel:
    """The board's link logic; ``window`` and ``timeout`` (in byte times) as the gateware's."""

    def __init__(self, core: ModelCore, *, window: int = 16, timeout: int = 80):
        from .protocol import FrameDecoder

        self.core = core
        self.window, self.timeout = window, timeout
        self.rx = FrameDecoder(HOST_PAYLOAD)
        self.cmd_exp = 0  # the next command's sequence number (8 bits)
        self.base = self.send = self.wr = 0  # oldest unacknowledged event, next to send, next to write
        self.ring: dict[int, tuple[int, bytes]] = {}
        self.queue: deque = deque()  # the event queues in front of the window
        self.status_pending = False
        self.after_status = False  # the last frame out was a status: an event waiting goes next
        self.tx: deque = deque()
        self.timer = 0
        self.timeouts = 0
        self.control_exp = 0  # the next S or K frame's number (8 bits)
        self.lost = 0  # S and K frames found missing

    @property
    def rx_bad(self) -> int:
        return self.rx.bad + self.lost

    def receive(self, byte: int, framing_error: bool = False) -> None:
        """A byte from the host's UART (none when ``framing_error``: the UART dropped it)."""
        if framing_error:
            self.rx.damage()
            return
        for f in self.rx.feed(bytes([byte])):
            n = (f.ack - self.base) & 0xFF
            if n <= self.wr - self.base and n:
                self.base += n
                self.send = max(self.send, self.base)
                self.timer = 0
            if f.kind in (ord("S"), ord("K")):
                self.lost += f.seq != self.control_exp
                self.control_exp = (f.seq + 1) & 0xFF
            if f.kind == ord("S"):
                self.status_pending = True
            elif f.kind in (ord("L"), ord("R")) and f.seq == self.cmd_exp:
                self.cmd_exp = (self.cmd_exp + 1) & 0xFF
                self.queue.extend(self.core.execute(f.kind, f.payload))

    def _status(self) -> bytes:
        p = bytes(6 + 2 + 1 + 12) + struct.pack("<HH", min(self.rx_bad, 0xFFFF), min(self.timeouts, 0xFFFF))
        return encode_frame(ord("S"), self.wr, self.cmd_exp, p)

    def step(self) -> int | None:
        """One byte time: an event into the window, and the next byte onto the line (or None)."""
        if self.queue and self.wr - self.base < self.window:
            self.ring[self.wr] = self.queue.popleft()
            self.wr += 1
        if not self.tx:
            if self.status_pending and not (self.after_status and self.send < self.wr):
                self.status_pending, self.after_status = False, True
                self.tx.extend(self._status())
                self.timer = 0
            elif self.send < self.wr:
                kind, payload = self.ring[self.send]
                self.tx.extend(encode_frame(kind, self.send, self.cmd_exp, payload))
                self.send += 1
                self.after_status = False
                self.timer = 0
            elif self.base != self.wr:
                self.timer += 1
                if self.timer >= self.timeout:
                    self.send, self.timer = self.base, 0
                    self.timeouts += 1
        return self.tx.popleft() if self.tx else None


class ModelTransport:
    """Connects :class:`boards.arq.ArqLink` to a :class:`BoardLinkModel`: each ``read`` runs ``step``
    byte times, and the faults in ``faults`` (added with :meth:`inject`) damage their bytes."""

    def __init__(self, board: BoardLinkModel, *, step: int = 25):
        self.board = board
        self.step = step
        self.bytes_per_read = step
        self.to_board: deque = deque()
        self.count = {"board": 0, "host": 0}  # bytes that went each way (faults count by these)
        self.faults: dict[tuple[str, int], Fault] = {}
        self.cut = {"board": 0, "host": 0}  # bytes still to remove for a truncation

    def inject(self, fault: Fault) -> None:
        self.faults[(fault.to, fault.index)] = fault

    def write(self, data: bytes) -> None:
        self.to_board.extend(data)

    def _damage(self, to: str, b: int) -> tuple[int | None, bool]:
        """The byte as it arrives (None: lost) and whether the receiver saw a framing error."""
        i = self.count[to]
        self.count[to] += 1
        f = self.faults.pop((to, i), None)
        if f is not None:
            if f.kind == "flip":
                return b ^ (1 << f.arg), False
            if f.kind == "stop":
                return None, to == "board"
            if f.kind == "truncate":
                self.cut[to] = f.arg
        if self.cut[to]:
            self.cut[to] -= 1
            return None, False
        if f is not None and f.kind == "drop":
            return None, False
        return b, False

    def read(self) -> bytes:
        got = bytearray()
        for _ in range(self.step):
            if self.to_board:
                b, fe = self._damage("board", self.to_board.popleft())
                if b is not None or fe:
                    self.board.receive(b if b is not None else 0, framing_error=fe)
            out = self.board.step()
            if out is not None:
                b, _ = self._damage("host", out)
                if b is not None:
                    got.append(b)
        return bytes(got)


@dataclass
class CampaignResult:
    """What a campaign counted."""

    bench: str
    injected: int = 0
    detected: int = 0
    recovered: int = 0
    wrong_events: int = 0
    wrong_commands: int = 0
    events: int = 0
    commands: int = 0
    rejected: int = 0  #: damaged frames the two receivers dropped
    discarded: int = 0  #: whole frames the host dropped as out of order (repeats)
    timeouts: int = 0  #: times the board sent its unacknowledged events again
    resends: int = 0  #: times the host sent its unacknowledged commands again
    seconds: float = 0.0  #: wall time
    cpu: float | None = None  #: CPU time, the simulator's processes included (when measured)
    by_kind: dict = field(default_factory=lambda: {k: [0, 0] for k in FAULT_KINDS})  #: kind -> [injected, detected]

    @property
    def ok(self) -> bool:
        """No wrong event, no wrong command, every fault detected (a receiver dropped a damaged
        frame after it) and the link recovered by itself after every fault."""
        return (self.wrong_events == 0 and self.wrong_commands == 0 and self.recovered == self.injected
                and self.detected == self.injected)

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{k} {n}/{d}" for k, (n, d) in self.by_kind.items())
        return [f"bench {self.bench}: faults injected {self.injected}, detected {self.detected}, "
                f"recoveries {self.recovered}, wrong events delivered {self.wrong_events}, "
                f"wrong commands executed {self.wrong_commands}",
                f"  by kind (injected/detected): {kinds}",
                f"  frames dropped as damaged {self.rejected}, repeats discarded {self.discarded}, board "
                f"timeouts {self.timeouts}, host resends {self.resends}",
                f"  events delivered {self.events}, commands executed {self.commands}, {self.seconds:.1f} s"
                + (f" wall, {self.cpu:.1f} s CPU" if self.cpu is not None else "")]
