"""The host side of the link: program a workload into a board, run it, check it against the golden model.

A *transport* has ``write(data: bytes)`` and ``read() -> bytes`` (what has arrived, possibly
nothing, after waiting a little). :class:`SerialTransport` talks to a real board through
pyserial; :class:`boards.simlink.SimTransport` to the simulated board top-level.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dysta_sw.hwdiff import diff
from dysta_sw.hwsched import Accept, LayerDone, SchedModel

from .protocol import RX_BUFFER, Decoder, Event, Status, encode_lut, encode_request, encode_status

__all__ = ["HostClient", "BoardRun", "LinkError", "SerialTransport"]


class LinkError(RuntimeError):
    """The board did not answer, or refused a command."""


@dataclass
class BoardRun:
    """What a run of jobs on the board produced, and the golden model's verdict."""

    accepts: list = field(default_factory=list)  #: :class:`~dysta_sw.hwsched.Accept`
    layer_dones: list = field(default_factory=list)  #: :class:`~dysta_sw.hwsched.LayerDone`
    dispatches: list = field(default_factory=list)  #: (cycle, tag, layer)
    dones: list = field(default_factory=list)  #: (cycle, tag)
    status: Status | None = None  #: the board's status after the run
    mismatches: int = 0  #: dispatches and retirements that differ from the golden model's
    first_mismatch: str | None = None

    @property
    def identical(self) -> bool:
        return self.mismatches == 0


class HostClient:
    """Drives a board running :class:`boards.link.HostLink` over ``transport``.

    ``time_bits``: the width of the board scheduler's cycle counter (its deadlines wrap there);
    ``idle_reads``: how many empty reads in a row mean the board stopped answering.
    """

    def __init__(self, transport, *, time_bits: int = 48, idle_reads: int = 200):
        self.t = transport
        self.time_mask = (1 << time_bits) - 1  # the board's deadlines are ``now + rel`` in time_bits bits
        self.idle_reads = idle_reads
        self.decoder = Decoder()
        self.pending: list = []

    def _next(self, want=None):
        """The next frame (of type ``want`` if given, keeping the others in order)."""
        idle = 0
        while True:
            for i, f in enumerate(self.pending):
                if want is None or isinstance(f, want):
                    return self.pending.pop(i)
            data = self.t.read()
            if data:
                idle = 0
                self.pending += self.decoder.feed(data)
            else:
                idle += 1
                if idle > self.idle_reads:
                    raise LinkError("the board stopped answering (check the cable, the port and the baud rate)")

    def status(self) -> Status:
        """Ask for and return the board's :class:`Status` (every earlier command has then been read)."""
        self.t.write(encode_status())
        st = self._next(Status)
        if st.rx_overflow:
            raise LinkError("the board's receive buffer overflowed: commands were lost (host sent too fast)")
        return st

    def program(self, lut_writes) -> Status:
        """Write the LUTs (``(table, mp, layer, value)`` tuples), a buffer's worth at a time."""
        writes = [encode_lut(*w) for w in lut_writes]
        per = (RX_BUFFER - 1) // len(writes[0]) if writes else 1
        st = None
        for i in range(0, len(writes), per):
            self.t.write(b"".join(writes[i:i + per]))
            st = self.status()
        st = st or self.status()
        if st.lut_error or st.bad_field:
            raise LinkError("the board refused a LUT write (out of the range it was built for)")
        return st

    def run(self, jobs, model: SchedModel | None = None) -> BoardRun:
        """Submit ``jobs`` (:class:`dysta_hw.sched.sim.Job`; ``deadline - arrival`` is sent as the
        relative deadline) in order, with at most a receive buffer of bytes outstanding; collect
        every event until each request has finished; compare with ``model``'s replay if given."""
        jobs = list(jobs)
        by_tag = {j.tag: j for j in jobs}
        out = BoardRun()
        rel = {j.tag: max(0, j.deadline - j.arrival) for j in jobs}
        frames = [encode_request(j.tag, j.mp, rel[j.tag], 0) for j in jobs]
        sent = acked = 0
        per = len(frames[0]) if frames else 1
        while len(out.dones) < len(jobs):
            while sent < len(frames) and (sent - acked + 1) * per < RX_BUFFER:
                self.t.write(frames[sent])
                sent += 1
            ev = self._next(Event)
            if ev.kind == "A":
                j = by_tag[ev.tag]
                out.accepts.append(Accept(ev.cycle, ev.tag, j.mp, (ev.cycle + rel[ev.tag]) & self.time_mask))
                acked += 1
            elif ev.kind == "D":
                out.dispatches.append((ev.cycle, ev.tag, ev.layer))
            elif ev.kind == "L":
                out.layer_dones.append(LayerDone(ev.cycle, ev.nnz))
            elif ev.kind == "F":
                out.dones.append((ev.cycle, ev.tag))
            else:
                raise LinkError(f"the board refused a command ({chr(ev.tag)!r}): a field out of its range")
        out.status = self.status()
        if model is not None:
            self.compare(out, model)
        return out

    @staticmethod
    def compare(out: BoardRun, model: SchedModel) -> None:
        """Replay the board's inputs (acceptances, layer-dones) in ``model``; count differing
        dispatches (cycle, tag, layer) and retirements (:func:`dysta_sw.hwdiff.diff`)."""
        rep = model.run(sorted(out.accepts, key=lambda a: a.cycle), sorted(out.layer_dones, key=lambda d: d.cycle))
        diffs = diff(rep, dispatches=[(c, t, None, layer) for c, t, layer in sorted(out.dispatches)],
                     dones=sorted(out.dones), who="board")
        out.mismatches, out.first_mismatch = len(diffs), (diffs[0] if diffs else None)


class SerialTransport:
    """A serial port (pyserial, ``pip install pyserial``) at ``baud``."""

    def __init__(self, port: str, baud: int = 115200, timeout: float = 0.05):
        try:
            import serial
        except ImportError:
            raise LinkError("talking to a board needs pyserial: pip install pyserial") from None
        self.port = serial.Serial(port, baud, timeout=timeout)

    def write(self, data: bytes) -> None:
        self.port.write(data)

    def read(self) -> bytes:
        return self.port.read(4096)
