"""The host side of the link's sequence numbers: commands sent again until acknowledged, events
delivered once and in order (go-back-N in both directions; the frames are in :mod:`boards.protocol`).

A *transport* has ``write(data: bytes)``, ``read() -> bytes`` (what has arrived, possibly nothing,
after waiting a little) and ``bytes_per_read`` (how many bytes the line carries during one read).
"""

from __future__ import annotations

from collections import deque

from .protocol import BOARD_PAYLOAD, Event, FrameDecoder, Status, encode_frame, parse_board_frame

__all__ = ["ArqLink", "LinkError"]

_K, _S = ord("K"), ord("S")


class LinkError(RuntimeError):
    """The board did not answer, or refused a command."""


class ArqLink:
    """Sends commands to a board and receives its events over ``transport``.

    ``window``: commands sent but not yet acknowledged, at most; ``reply_reads``: reads to wait,
    after the line has carried what was sent, for the board's answer before asking again;
    ``idle_reads``: reads without a new event or acknowledgement that mean the board stopped
    answering.

    Counters: ``resends`` (times the unacknowledged commands were sent again), ``discarded``
    (events that arrived whole but out of order: a repeat, or after a lost one), and the
    decoder's ``bad`` (damaged frames dropped).
    """

    def __init__(self, transport, *, window: int = 16, reply_reads: int = 4, idle_reads: int = 200):
        if not 1 <= window <= 64:
            raise ValueError(f"window must be 1 .. 64 commands, not {window!r}")
        self.t = transport
        self.window, self.reply_reads, self.idle_reads = window, reply_reads, idle_reads
        self.per_read = max(1.0, float(getattr(transport, "bytes_per_read", 64)))
        self.decoder = FrameDecoder(BOARD_PAYLOAD)
        self.queue: deque = deque()  # commands not sent yet
        self.unacked: deque = deque()  # (kind, payload) of the commands from ``cmd_base`` on
        self.cmd_base = 0  # number of the oldest unacknowledged command
        self.ev_next = 0  # number of the next event expected
        self.ack_sent = -1
        self.events: deque = deque()  # delivered, in order
        self.statuses: deque = deque()
        self.reads = 0
        self.line_free = 0.0  # the read by which the line has carried everything written
        self.deadline = None  # the read by which an acknowledgement should have come
        self.probed = False
        self.idle = 0
        self.asked = False  # a status was asked for and has not come yet
        self.resends = self.discarded = 0
        self.controls = 0  # S and K frames sent: their ``seq``, so that the board sees one go missing

    # -- sending -------------------------------------------------------------------------------
    def _write(self, frame: bytes) -> None:
        self.t.write(frame)
        self.line_free = max(self.line_free, self.reads) + len(frame) / self.per_read

    def _frame(self, kind: int, seq: int, payload: bytes = b"") -> None:
        self.ack_sent = self.ev_next
        self._write(encode_frame(kind, seq, self.ev_next, payload))

    def _control(self, kind: int) -> None:
        """An ``S`` or ``K`` frame, numbered apart from the commands."""
        self._frame(kind, self.controls & 0xFF)
        self.controls += 1

    def _arm(self) -> None:
        self.deadline = self.line_free + self.reply_reads

    def send(self, kind: int, payload: bytes) -> None:
        """Queue a command (:func:`boards.protocol.lut_command`, :func:`~boards.protocol.request_command`)."""
        self.queue.append((kind, payload))
        self._fill()

    def _fill(self) -> None:
        sent = False
        while self.queue and len(self.unacked) < self.window:
            kind, payload = self.queue.popleft()
            self._frame(kind, self.cmd_base + len(self.unacked), payload)
            self.unacked.append((kind, payload))
            sent = True
        if sent:
            self._arm()

    def ask_status(self) -> None:
        """Send a status request (the board answers with a status frame carrying its acknowledgement)."""
        self.asked = True
        self._control(_S)

    # -- receiving -----------------------------------------------------------------------------
    def pump(self) -> None:
        """Read once; deliver new events and statuses; acknowledge; send again what was lost."""
        self.reads += 1
        data = self.t.read()
        repeat = progress = False
        for f in self.decoder.feed(data):
            n = (f.ack - self.cmd_base) & 0xFF
            if 0 < n <= len(self.unacked):
                for _ in range(n):
                    self.unacked.popleft()
                self.cmd_base += n
                self.probed = False
                self._arm()
                progress = True
            if f.kind == _S:
                st = parse_board_frame(f)
                if st.req_refused:
                    raise LinkError("the board's scheduler refused a request (a model-pattern whose layers were "
                                    "never written): program the LUTs of every model-pattern the jobs use")
                self.statuses.append(st)
                progress |= self.asked  # the answer to a status request (not to the idle probe)
                self.asked = False
            elif f.seq == self.ev_next & 0xFF:
                self.events.append(parse_board_frame(f))
                self.ev_next += 1
                progress = True
            else:
                self.discarded += 1
                repeat = True
        # no event and no acknowledgement for a while: ask for a status (which also shows a refused
        # request), then give up
        self.idle = 0 if progress else self.idle + 1
        if self.idle == self.idle_reads // 2:
            self._control(_S)  # the probe: its answer alone is no progress
        elif self.idle > self.idle_reads:
            raise LinkError("the board stopped answering (check the cable, the port and the baud rate)")
        if self.unacked and self.deadline is not None and self.reads > self.deadline:
            if not self.probed:
                self.ask_status()  # maybe only the acknowledgement was lost
                self.probed = True
            else:
                self.resends += 1
                for i, (kind, payload) in enumerate(self.unacked):
                    self._frame(kind, self.cmd_base + i, payload)
                self.probed = False
            self._arm()
        self._fill()
        if repeat or self.ack_sent != self.ev_next:
            self._control(_K)

    def next_event(self) -> Event:
        """The next event, in order, each once."""
        while not self.events:
            self.pump()
        return self.events.popleft()

    def flush(self) -> None:
        """Wait until the board has acknowledged every command."""
        if self.queue or self.unacked:
            self.ask_status()  # its answer carries the acknowledgement, without waiting for a timeout
        while self.queue or self.unacked:
            self.pump()

    def status(self) -> Status:
        """The board's status, asked for now (every command sent before has been acknowledged)."""
        self.flush()
        self.statuses.clear()
        self.ask_status()
        deadline = self.line_free + self.reply_reads + 1
        while not self.statuses:
            self.pump()
            if self.reads > deadline:
                self.ask_status()
                deadline = self.line_free + self.reply_reads + 1
        return self.statuses.pop()
