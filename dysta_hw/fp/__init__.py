"""Floating-point units of the scheduler's compute unit (Amaranth 0.5).

Each unit is a :class:`amaranth.lib.wiring.Component` parameterised by number format
(``fmt``: FP16, BF16, FP32 or any :class:`dysta_sw.fp.Format`), mode (``"ieee"``: subnormals
and round-to-nearest-even; ``"lean"``: subnormals flushed to zero on input and output) and
pipeline depth (``stages`` register slices, 0 = combinational; ``latency == stages``). Ports
are :mod:`amaranth.lib.stream` streams without back-pressure (``always_ready``): ``i`` takes one
operand set per cycle, ``o`` delivers the result ``latency`` cycles later, ``valid`` travelling
alongside. Every unit is bit-exact with the golden model :mod:`dysta_sw.fp`, which documents
the arithmetic (canonical NaN, lean-mode flushing, total order).

==================  ==============================  ==========================================
unit                ``i.payload``                   ``o.payload``
==================  ==============================  ==========================================
:class:`FPAdd`      ``a``, ``b``: W; ``sub``: 1     W: ``a + b`` or ``a - b``
:class:`FPMul`      ``a``, ``b``: W                 W: ``a * b``
:class:`FPFromInt`  ``signed/unsigned(width)``      W: the integer, rounded
:class:`FPMin`      ``a``, ``b``: W                 ``min``: W, ``lt``: 1 (``a < b``)
:class:`FPClamp0`   W                               W: ``max(x, +0)``
==================  ==============================  ==========================================
"""

from dysta_sw.fp import BF16, FP16, FP32, Format

from .add import FPAdd
from .compare import FPClamp0, FPMin
from .convert import FPFromInt
from .mul import FPMul

__all__ = ["FPAdd", "FPMul", "FPFromInt", "FPMin", "FPClamp0", "Format", "FP16", "BF16", "FP32"]
