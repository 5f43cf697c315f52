"""The host link's framing (UART, 8N1): what the host sends and what the board answers.

Every frame is an opcode byte followed by fixed-width little-endian fields; no escaping, no
checksums (the link is a short USB-serial cable). Host to board:

=========  ======  ==================================================================
opcode     bytes   fields
=========  ======  ==================================================================
``L`` 0x4C  8      LUT write: ``table`` u8, ``mp`` u8, ``layer`` u8, ``value`` u32
``R`` 0x52  12     request: ``tag`` u16, ``mp`` u8, ``rel_deadline`` u32 (cycles after
                   acceptance), ``score0`` u32 (reserved: the scheduler takes no static score)
``S`` 0x53  1      status request
=========  ======  ==================================================================

Board to host (``cycle`` is the scheduler's cycle counter, 48 bits):

=========  ======  ==================================================================
``A`` 0x41  9      request accepted: ``tag`` u16, ``cycle`` u48
``D`` 0x44  10     dispatch to the NPU: ``tag`` u16, ``layer`` u8, ``cycle`` u48
``L`` 0x4C  11     layer done: ``nnz`` u32 (non-zeros the monitor saw), ``cycle`` u48
``F`` 0x46  9      request finished (``done``): ``tag`` u16, ``cycle`` u48
``S`` 0x53  22     status: ``now`` u48, ``count`` u16 (requests in the table), ``flags`` u8
                   (bit 0 LUT write out of range, bit 1 deciding, bit 2 receive overflow,
                   bit 3 unknown opcode seen, bit 4 a command refused: a field wider than
                   the scheduler's port), ``dispatches`` u32, ``dones`` u32, ``stalled`` u32
                   (cycles the scheduler stood still waiting for the UART to drain events)
``E`` 0x45  2      a command refused: the unknown opcode, or ``L``/``R`` whose field did
                   not fit (not executed)
=========  ======  ==================================================================

Nothing is lost on the way out: when an event queue of the board is full, the scheduler and
the NPU stand-in stop (their clock enable drops, so their cycle counter stops too) until the
UART has drained it. On the way in the UART has no flow control: the board buffers
:data:`RX_BUFFER` bytes, the host keeps fewer than that outstanding (a request is answered by
its ``A``, a status request by ``S``), and an overflow is flagged in the status, never silent.
Requests wait in the board while the request table is full (back-pressure, not loss).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["RX_BUFFER", "CMD_LEN", "EVENT_LEN", "encode_lut", "encode_request", "encode_status", "Decoder",
           "Event", "Status", "check_params"]

#: Bytes the board's receive buffer holds.
RX_BUFFER = 256

CMD_LEN = {ord("L"): 8, ord("R"): 12, ord("S"): 1}
EVENT_LEN = {ord("A"): 9, ord("D"): 10, ord("L"): 11, ord("F"): 9, ord("S"): 22, ord("E"): 2}


def check_params(*, tag_bits: int, n_mp: int, max_layers: int, time_bits: int, fmt_width: int) -> None:
    """The scheduler parameters the frame fields can carry; a clear error otherwise."""
    for what, ok, fix in (("tag_bits", tag_bits <= 16, "at most 16"), ("n_mp", n_mp <= 256, "at most 256"),
                          ("max_layers", max_layers <= 255, "at most 255"), ("time_bits", time_bits <= 48,
                                                                              "at most 48"),
                          ("fmt", fmt_width <= 32, "fp16, bf16 or fp32")):
        if not ok:
            raise ValueError(f"the host link carries {what} {fix}")


def _u(value: int, bits: int, what: str) -> int:
    if not 0 <= value < 1 << bits:
        raise ValueError(f"{what}={value!r} does not fit the frame's {bits}-bit field")
    return value


def encode_lut(table: int, mp: int, layer: int, value: int) -> bytes:
    return struct.pack("<BBBBI", ord("L"), _u(table, 8, "table"), _u(mp, 8, "mp"), _u(layer, 8, "layer"),
                       _u(value, 32, "value"))


def encode_request(tag: int, mp: int, rel_deadline: int, score0: int) -> bytes:
    return struct.pack("<BHBII", ord("R"), _u(tag, 16, "tag"), _u(mp, 8, "mp"),
                       _u(rel_deadline, 32, "rel_deadline"), _u(score0, 32, "score0"))


def encode_status() -> bytes:
    return b"S"


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
    now: int
    count: int
    lut_error: bool
    busy: bool
    rx_overflow: bool
    bad_opcode: bool
    bad_field: bool
    dispatches: int
    dones: int
    stalled: int


def _u48(b: bytes) -> int:
    return int.from_bytes(b[:6], "little")


class Decoder:
    """Turns the board's byte stream into :class:`Event` and :class:`Status` objects."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data: bytes) -> list:
        self.buf += data
        out = []
        while self.buf:
            op = self.buf[0]
            n = EVENT_LEN.get(op)
            if n is None:
                raise ValueError(f"the board sent an unknown frame byte 0x{op:02x}: the link is out of step "
                                 "(wrong baud rate, or a board built with another protocol)")
            if len(self.buf) < n:
                break
            f, self.buf = bytes(self.buf[:n]), self.buf[n:]
            kind = chr(op)
            if kind in "AF":
                out.append(Event(kind, tag=int.from_bytes(f[1:3], "little"), cycle=_u48(f[3:])))
            elif kind == "D":
                out.append(Event(kind, tag=int.from_bytes(f[1:3], "little"), layer=f[3], cycle=_u48(f[4:])))
            elif kind == "L":
                out.append(Event(kind, nnz=int.from_bytes(f[1:5], "little"), cycle=_u48(f[5:])))
            elif kind == "E":
                out.append(Event(kind, tag=f[1]))
            else:
                flags = f[9]
                out.append(Status(now=_u48(f[1:7]), count=int.from_bytes(f[7:9], "little"), lut_error=bool(flags & 1),
                                  busy=bool(flags & 2), rx_overflow=bool(flags & 4), bad_opcode=bool(flags & 8),
                                  bad_field=bool(flags & 16),
                                  dispatches=int.from_bytes(f[10:14], "little"),
                                  dones=int.from_bytes(f[14:18], "little"),
                                  stalled=int.from_bytes(f[18:22], "little")))
        return out
