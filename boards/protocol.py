"""The host link's framing (UART, 8N1): SLIP frames with a CRC-16, sequence numbers and acknowledgements.

Every frame, in both directions, is ``kind seq ack payload crc`` (``crc`` the CRC-16/CCITT-FALSE
of everything before it, big-endian, so that the CRC over the whole frame is 0), SLIP-escaped
(RFC 1055: ``0xC0`` becomes ``0xDB 0xDC``, ``0xDB`` becomes ``0xDB 0xDD``) and ended by ``END``
(``0xC0``). A frame whose CRC, length (fixed per kind) or escaping is wrong, or in which the UART
saw a stop-bit (framing) error, is dropped by the receiver; so is an empty frame (``END END``:
frames carry no leading ``END``, so nothing on a clean line makes one; it means the content of a
whole frame was lost). The sequence numbers make the sender
send it again (go-back-N), so nothing is lost and nothing is delivered twice or out of order.

Host to board (``seq`` numbers the commands that do something; ``ack`` is the sequence number of
the next event the host expects, acknowledging every earlier one):

=========  ========  ==================================================================
kind       payload   fields (little-endian)
=========  ========  ==================================================================
``L`` 0x4C  7        LUT write: ``table`` u8, ``mp`` u8, ``layer`` u8, ``value`` u32
``R`` 0x52  11       request: ``tag`` u16, ``mp`` u8, ``rel_deadline`` u32 (cycles after
                     acceptance), ``score0`` u32 (reserved: the scheduler takes no static score)
``S`` 0x53  0        status request (not a command: ``seq`` counts the host's ``S`` and ``K``
                     frames, mod 256; the board counts a gap in it as a lost frame)
``K`` 0x4B  0        acknowledgement only (``seq`` as for ``S``)
=========  ========  ==================================================================

Board to host (``seq`` numbers the events; ``ack`` is the sequence number of the next command the
board expects; ``cycle`` is the scheduler's cycle counter, 48 bits):

=========  ========  ==================================================================
``A`` 0x41  8        request accepted: ``tag`` u16, ``cycle`` u48
``D`` 0x44  9        dispatch to the NPU: ``tag`` u16, ``layer`` u8, ``cycle`` u48
``L`` 0x4C  10       layer done: ``nnz`` u32 (non-zeros the monitor saw), ``cycle`` u48
``F`` 0x46  8        request finished (``done``): ``tag`` u16, ``cycle`` u48
``E`` 0x45  1        a command refused: the unknown kind, or ``L``/``R`` whose field did not
                     fit (not executed)
``S`` 0x53  25       status (not sequenced; ``seq`` is the next event's number): ``now`` u48,
                     ``count`` u16 (requests in the table), ``flags`` u8 (bit 0 LUT write
                     out of range, bit 1 deciding, bit 2 a damaged frame was received, bit 3
                     an unknown kind, bit 4 a command refused: a field wider than the
                     scheduler's port, bit 5 the scheduler refused a request: its
                     model-pattern has no layers written), ``dispatches`` u32, ``dones`` u32, ``stalled`` u32
                     (cycles the scheduler stood still waiting for the link), ``rx_bad`` u16
                     (damaged frames dropped, and ``S``/``K`` frames found missing), ``timeouts``
                     u16 (times the board sent its unacknowledged events again)
=========  ========  ==================================================================

The board keeps every event until the host acknowledges it (a window of
:attr:`boards.link.HostLink.window` events); when no acknowledgement comes for its timeout it sends
them again from the oldest. The host sends its unacknowledged commands again when the board's
acknowledgement does not move (:mod:`boards.arq`). The board executes a command only if its
``seq`` is the one it expects, so a command sent twice runs once.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["END", "ESC", "HOST_PAYLOAD", "BOARD_PAYLOAD", "EVENT_KINDS", "crc16", "slip_encode", "encode_frame",
           "lut_command", "request_command", "Frame", "FrameDecoder", "Event", "Status", "parse_board_frame",
           "check_params", "frame_bytes"]

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD

#: Payload bytes of each kind of frame the host sends.
HOST_PAYLOAD = {ord("L"): 7, ord("R"): 11, ord("S"): 0, ord("K"): 0}
#: Payload bytes of each kind of frame the board sends.
BOARD_PAYLOAD = {ord("A"): 8, ord("D"): 9, ord("L"): 10, ord("F"): 8, ord("E"): 1, ord("S"): 25}
#: The board's sequenced frames (events); ``S`` is not one.
EVENT_KINDS = "ADLFE"
#: Bytes of a frame before its payload (kind, seq, ack) and after it (CRC).
HEADER, TRAILER = 3, 2


def check_params(*, tag_bits: int, n_mp: int, max_layers: int, time_bits: int, fmt_width: int) -> None:
    """The scheduler parameters the frame fields can carry; a clear error otherwise."""
    for what, ok, fix in (("tag_bits", tag_bits <= 16, "at most 16"), ("n_mp", n_mp <= 256, "at most 256"),
                          ("max_layers", max_layers <= 255, "at most 255"), ("time_bits", time_bits <= 48,
                                                                              "at most 48"),
                          ("fmt", fmt_width <= 32, "fp16, bf16 or fp32")):
        if not ok:
            raise ValueError(f"the host link carries {what} {fix}")


def _crc_table() -> list[int]:
    table = []
    for b in range(256):
        c = b << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else c << 1
        table.append(c & 0xFFFF)
    return table


_CRC_TABLE = _crc_table()


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF, no reflection, no final XOR);
    ``crc16(b"123456789") == 0x29B1``. The CRC of a frame followed by its CRC (big-endian) is 0."""
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[(crc >> 8) ^ b]
    return crc


def slip_encode(raw: bytes) -> bytes:
    """``raw`` with ``END`` and ``ESC`` escaped, followed by ``END``."""
    return raw.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


def encode_frame(kind: int, seq: int, ack: int, payload: bytes = b"") -> bytes:
    """One frame on the wire: header, payload, CRC, SLIP-escaped and ended."""
    raw = bytes([kind, seq & 0xFF, ack & 0xFF]) + payload
    return slip_encode(raw + crc16(raw).to_bytes(2, "big"))


def frame_bytes(kind: int, payload_len: int) -> int:
    """Bytes of a frame of ``kind`` on the wire, not counting escapes."""
    return HEADER + payload_len + TRAILER + 1


def _u(value: int, bits: int, what: str) -> int:
    if not 0 <= value < 1 << bits:
        raise ValueError(f"{what}={value!r} does not fit the frame's {bits}-bit field")
    return value


def lut_command(table: int, mp: int, layer: int, value: int) -> tuple[int, bytes]:
    """The ``L`` command (kind, payload) writing ``value`` at ``(table, mp, layer)``."""
    return ord("L"), struct.pack("<BBBI", _u(table, 8, "table"), _u(mp, 8, "mp"), _u(layer, 8, "layer"),
                                 _u(value, 32, "value"))


def request_command(tag: int, mp: int, rel_deadline: int, score0: int) -> tuple[int, bytes]:
    """The ``R`` command (kind, payload) submitting a request."""
    return ord("R"), struct.pack("<HBII", _u(tag, 16, "tag"), _u(mp, 8, "mp"), _u(rel_deadline, 32, "rel_deadline"),
                                 _u(score0, 32, "score0"))


@dataclass(frozen=True)
class Frame:
    """A frame that arrived whole: its CRC, length and escaping were right."""

    kind: int
    seq: int
    ack: int
    payload: bytes


class FrameDecoder:
    """Splits a byte stream at ``END``, undoes the escaping and keeps the frames whose CRC and
    length (``lengths``: payload bytes per kind) are right. ``bad`` counts the frames dropped;
    ``unknown`` the frames with a right CRC but a kind not in ``lengths`` (also dropped).
    ``check_crc`` (an attribute) set to False takes every CRC as right: only for the fault
    campaign's check that it sees what a missing check would let through."""

    def __init__(self, lengths: dict[int, int]):
        self.check_crc = True
        self.lengths = dict(lengths)
        self.max_len = HEADER + max(self.lengths.values()) + TRAILER
        self.buf = bytearray()
        self.esc = self.broken = False
        self.bad = self.unknown = 0

    def damage(self) -> None:
        """The byte source saw a damaged byte (a UART framing error): drop the frame in progress."""
        self.broken = True

    def feed(self, data: bytes) -> list[Frame]:
        out = []
        for b in data:
            if b == END:
                f = self._end()
                if f is not None:
                    out.append(f)
            elif self.esc:
                self.esc = False
                if b == ESC_END:
                    self._push(END)
                elif b == ESC_ESC:
                    self._push(ESC)
                else:
                    self.broken = True
            elif b == ESC:
                self.esc = True
            else:
                self._push(b)
        return out

    def _push(self, b: int) -> None:
        if len(self.buf) <= self.max_len:  # one past the longest frame is enough to refuse it
            self.buf.append(b)

    def _end(self) -> Frame | None:
        raw, broken, esc = bytes(self.buf), self.broken, self.esc
        self.buf.clear()
        self.esc = self.broken = False
        # an empty frame (END END) is dropped as damaged too: frames carry only a trailing END, so
        # it means the content of a whole frame was lost
        if broken or esc or len(raw) < HEADER + TRAILER or (self.check_crc and crc16(raw) != 0):
            self.bad += 1
            return None
        n = self.lengths.get(raw[0])
        if n is None:
            self.unknown += 1
            return None
        if len(raw) != HEADER + n + TRAILER:
            self.bad += 1
            return None
        return Frame(raw[0], raw[1], raw[2], raw[HEADER:-TRAILER])


@dataclass(frozen=True)
class Event:
    """An event frame: ``kind`` one of ``A D L F E``; unused fields are 0."""

    kind: str
    cycle: int = 0
    tag: int = 0
    layer: int = 0
    nnz: int = 0


@dataclass(frozen=True)
class Status:
    """The board's status frame (see the module's table)."""

    now: int
    count: int
    lut_error: bool
    busy: bool
    damaged: bool
    bad_opcode: bool
    bad_field: bool
    req_refused: bool
    dispatches: int
    dones: int
    stalled: int
    rx_bad: int
    timeouts: int


def _le(b: bytes) -> int:
    return int.from_bytes(b, "little")


def parse_board_frame(f: Frame) -> Event | Status:
    """The :class:`Event` or :class:`Status` a board frame carries."""
    p, kind = f.payload, chr(f.kind)
    if kind in "AF":
        return Event(kind, tag=_le(p[0:2]), cycle=_le(p[2:8]))
    if kind == "D":
        return Event(kind, tag=_le(p[0:2]), layer=p[2], cycle=_le(p[3:9]))
    if kind == "L":
        return Event(kind, nnz=_le(p[0:4]), cycle=_le(p[4:10]))
    if kind == "E":
        return Event(kind, tag=p[0])
    flags = p[8]
    return Status(now=_le(p[0:6]), count=_le(p[6:8]), lut_error=bool(flags & 1), busy=bool(flags & 2),
                  damaged=bool(flags & 4), bad_opcode=bool(flags & 8), bad_field=bool(flags & 16),
                  req_refused=bool(flags & 32),
                  dispatches=_le(p[9:13]), dones=_le(p[13:17]), stalled=_le(p[17:21]), rx_bad=_le(p[21:23]),
                  timeouts=_le(p[23:25]))
