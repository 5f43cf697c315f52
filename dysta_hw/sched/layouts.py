"""Payload layouts of the scheduler's streams and tables."""

from __future__ import annotations

from amaranth.lib import data
from amaranth.utils import bits_for, ceil_log2

__all__ = ["Widths", "request_layout", "lut_write_layout", "dispatch_layout", "entry_layout", "trace_layout",
           "times_const"]


class Widths:
    """Field widths derived from the scheduler's parameters."""

    def __init__(self, *, depth, fmt_width, n_mp, max_layers, tag_bits, time_bits):
        self.depth = depth
        self.w = fmt_width
        self.slot = max(1, ceil_log2(depth))
        self.mp = max(1, ceil_log2(n_mp))
        self.layer = bits_for(max_layers)
        self.tag = tag_bits
        self.time = time_bits
        #: rows of a per-layer LUT per model-pattern, and the width of a LUT row number
        self.stride = max_layers + 1
        self.row = max(1, ceil_log2(n_mp * self.stride))
        self.value = max(fmt_width, self.layer)


def request_layout(wd: Widths):
    """A host request: ``tag``, model-pattern ``mp``, absolute ``deadline`` (cycles of the
    ``time``-bit counter, wrapped)."""
    return data.StructLayout({"tag": wd.tag, "mp": wd.mp, "deadline": wd.time})


def lut_write_layout(wd: Widths):
    """A LUT write: ``table`` (:class:`dysta_sw.hwsched.Table`), ``mp``, ``layer``, ``value``."""
    return data.StructLayout({"table": 3, "mp": wd.mp, "layer": wd.layer, "value": wd.value})


def dispatch_layout(wd: Widths):
    """A dispatch to the NPU: request ``tag``, its ``mp`` and the ``layer`` to run."""
    return data.StructLayout({"tag": wd.tag, "mp": wd.mp, "layer": wd.layer})


def entry_layout(wd: Widths):
    """A request-table entry as read back."""
    return data.StructLayout({"tag": wd.tag, "mp": wd.mp, "deadline": wd.time, "next": wd.layer,
                              "row": wd.row, "last": wd.time, "gamma": wd.w})


def times_const(value, k: int):
    """``value * k`` for a constant ``k`` as a sum of shifted copies (a few adders, no multiplier:
    synthesis would otherwise map it to a DSP block and its slow clock-to-output)."""
    terms = [value << i for i in range(k.bit_length()) if k >> i & 1]
    out = terms[0] if terms else value * 0
    for t in terms[1:]:
        out = out + t
    return out


def trace_layout(wd: Widths):
    """A debug record of one evaluation: ``mode`` 0 = A (gamma of the layer that ran), 1 = B."""
    return data.StructLayout({"mode": 1, "slot": wd.slot, "tag": wd.tag, "gamma": wd.w, "score": wd.w})


