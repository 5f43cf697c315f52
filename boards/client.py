"""The host side of the link: program a workload into a board, run it, check it against the golden model.

A *transport* has ``write(data: bytes)``, ``read() -> bytes`` (what has arrived, possibly
nothing, after waiting a little) and ``bytes_per_read``. :class:`SerialTransport` talks to a
real board through pyserial; :class:`boards.simlink.SimTransport` to the simulated board
top-level. Frames, CRCs, acknowledgements and retransmissions are :class:`boards.arq.ArqLink`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dysta_sw.hwdiff import diff
from dysta_sw.hwsched import Accept, LayerDone, SchedModel

from .arq import ArqLink, LinkError
from .protocol import Status, lut_command, request_command

__all__ = ["HostClient", "BoardRun", "LinkError", "SerialTransport"]


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

    ``depth``: the board scheduler's request table depth (the client keeps at most that many
    requests unfinished, so a request never waits in the link); ``time_bits``: the width of its
    cycle counter (its deadlines wrap there); ``link``: options of :class:`boards.arq.ArqLink`.
    """

    def __init__(self, transport, *, depth: int, time_bits: int = 48, **link):
        self.link = ArqLink(transport, **link)
        self.depth = depth
        self.time_mask = (1 << time_bits) - 1  # the board's deadlines are ``now + rel`` in time_bits bits

    def status(self) -> Status:
        """The board's :class:`Status`, after every command sent has been acknowledged."""
        return self.link.status()

    def _refused(self) -> None:
        for ev in self.link.events:
            if ev.kind == "E":
                raise LinkError(f"the board refused a command ({chr(ev.tag)!r}): a field out of its range")

    def program(self, lut_writes) -> Status:
        """Write the LUTs (``(table, mp, layer, value)`` tuples)."""
        for w in lut_writes:
            self.link.send(*lut_command(*w))
        st = self.status()
        self._refused()
        if st.lut_error or st.bad_field:
            raise LinkError("the board refused a LUT write (out of the range it was built for)")
        return st

    def run(self, jobs, model: SchedModel | None = None) -> BoardRun:
        """Submit ``jobs`` (:class:`dysta_hw.sched.sim.Job`; ``deadline - arrival`` is sent as the
        relative deadline) in order, at most ``depth`` unfinished; collect every event until each
        request has finished; compare with ``model``'s replay if given."""
        jobs = list(jobs)
        by_tag = {j.tag: j for j in jobs}
        out = BoardRun()
        rel = {j.tag: max(0, j.deadline - j.arrival) for j in jobs}
        sent = unfinished = 0
        while len(out.dones) < len(jobs):
            while sent < len(jobs) and unfinished < self.depth:
                j = jobs[sent]
                self.link.send(*request_command(j.tag, j.mp, rel[j.tag], 0))
                sent += 1
                unfinished += 1
            ev = self.link.next_event()
            if ev.kind == "A":
                j = by_tag[ev.tag]
                out.accepts.append(Accept(ev.cycle, ev.tag, j.mp, (ev.cycle + rel[ev.tag]) & self.time_mask))
            elif ev.kind == "D":
                out.dispatches.append((ev.cycle, ev.tag, ev.layer))
            elif ev.kind == "L":
                out.layer_dones.append(LayerDone(ev.cycle, ev.nnz))
            elif ev.kind == "F":
                out.dones.append((ev.cycle, ev.tag))
                unfinished -= 1
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
        try:
            self.port = serial.Serial(port, baud, timeout=timeout)
        except (serial.SerialException, OSError, ValueError) as e:
            raise LinkError(f"cannot open the serial port {port!r} ({e}); give the board's port with --port, "
                            "e.g. /dev/ttyUSB0") from None
        self.bytes_per_read = baud / 10 * timeout

    def write(self, data: bytes) -> None:
        self.port.write(data)

    def read(self) -> bytes:
        return self.port.read(4096)
