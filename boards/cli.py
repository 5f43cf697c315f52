"""Command line of the board targets: ``dysta board build|sim|run`` (also ``python -m boards``).

``dysta board`` is registered under the ``dysta.commands`` entry points by :func:`add_board_command`.
The gateware and the board definitions are imported when a command runs; without them the
command says which extra to install.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from dysta_sw.cliargs import bounded_int, output_dir

from .client import LinkError

__all__ = ["add_board_command", "add_commands", "main"]


BAUD = bounded_int(300, 12_000_000, "a baud rate")


def _config_options(p):
    p.add_argument("board", choices=("ulx3s", "icebreaker", "zcu104"))
    p.add_argument("--depth", type=int, default=None, help="request table depth (default: the board's)")
    p.add_argument("--fmt", choices=("fp16", "bf16", "fp32"), default=None)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--shared", dest="shared", action="store_true", default=None)
    g.add_argument("--separate", dest="shared", action="store_false")
    p.add_argument("--requests", type=bounded_int(1, 4096, "a number of requests"), default=None,
                   help="requests in the NPU stand-in's ROM")


def _overrides(a) -> dict:
    return {"depth": a.depth, "fmt": a.fmt, "shared": a.shared, "requests": a.requests}


def cmd_build(a) -> int:
    from .build import build

    out = output_dir(f"build-{a.board}" if a.out is None else a.out, "--out")  # --out "" is refused, not the default
    clock = "auto" if a.clock == "auto" else _clock(a.clock)
    res = build(a.board, str(out), baud=a.baud, clock_mhz=clock, allow_timing_fail=a.allow_timing_fail,
                **_overrides(a))
    print(json.dumps(res, indent=1))
    return 0


def _clock(text: str) -> float:
    try:
        mhz = float(text)
    except ValueError:
        mhz = -1.0
    if not (mhz > 0 and math.isfinite(mhz)):
        raise ValueError(f"--clock {text!r}: give a frequency in MHz (e.g. --clock 100) or auto")
    return mhz


def _check_run(a, run) -> int:
    print(f"{len(run.accepts)} requests, {len(run.dispatches)} dispatches, {len(run.dones)} finished; "
          f"status {run.status}")
    if run.identical:
        print("decisions IDENTICAL to the golden model")
        return 0
    print(f"{run.mismatches} MISMATCHES with the golden model; first: {run.first_mismatch}")
    return 1


def cmd_sim(a) -> int:
    """The board top-level in Amaranth's simulator (no hardware): slow, minutes for 16 requests."""
    from dysta_sw.hwsched import SchedModel

    from .build import BOARDS, workload_for
    from .client import HostClient
    from .link import HostLink
    from .simlink import SimTransport

    w = workload_for(a.board, **_overrides(a))
    link = HostLink(w.params, w.jobs, divisor=4, queue_depth=BOARDS[a.board].queue_depth)
    client = HostClient(SimTransport(link), depth=link.dut.depth, time_bits=link.dut.time_bits)
    client.program(w.luts.writes())
    return _check_run(a, client.run(w.jobs, SchedModel(w.luts, link.dut.timing)))


def cmd_run(a) -> int:
    """The shipped workload on a real board over ``--port``."""
    from dysta_hw.sched import DystaScheduler
    from dysta_sw.hwsched import SchedModel

    from .build import workload_for
    from .client import HostClient, SerialTransport

    if "://" not in a.port and not os.path.exists(a.port):  # pyserial also opens URLs (socket://, rfc2217://)
        raise ValueError(f"--port {a.port!r}: no such serial port; give the board's port, e.g. /dev/ttyUSB0 "
                         "(python -m serial.tools.list_ports lists them)")
    w = workload_for(a.board, **_overrides(a))
    dut = DystaScheduler(**w.params)
    client = HostClient(SerialTransport(a.port, a.baud), depth=dut.depth, time_bits=dut.time_bits)
    client.program(w.luts.writes())
    return _check_run(a, client.run(w.jobs, SchedModel(w.luts, dut.timing)))


def _guard(cmd):
    """Bad names, impossible parameters and a missing extra as the CLI's input errors, not tracebacks."""
    def run(a):
        from dysta_sw.errors import DystaInputError

        try:
            return cmd(a)
        except (ValueError, LinkError) as e:
            from dysta_hw.cli import flag_names

            raise DystaInputError(flag_names(str(e))) from None
        except OSError as e:  # pyserial's SerialException is an OSError: the port could not be opened
            if getattr(a, "port", None) is None:
                raise
            raise DystaInputError(f"--port {a.port}: cannot open the serial port ({e}); check the cable, the port "
                                  "name and its permissions") from None
        except RuntimeError as e:  # a failed build (BuildError), a missed clock (TimingError): the message says why
            if type(e).__name__ not in ("TimingError", "BuildError"):
                raise
            raise DystaInputError(str(e)) from None
        except ImportError as e:
            raise DystaInputError(f"this command needs the board extra ({e}); install it with "
                                  "`pip install -e '.[board]'`") from None
    return run


def add_commands(sub) -> None:
    """Register ``build``, ``sim`` and ``run`` on ``sub``."""
    b = sub.add_parser("build", help="build a board's bitstream (ulx3s, icebreaker) or Vivado plan (zcu104)")
    _config_options(b)
    b.add_argument("--out", default=None, help="build directory (default build-BOARD)")
    b.add_argument("--baud", type=BAUD, default=115200)
    b.add_argument("--clock", default="auto", metavar="MHZ|auto",
                   help="the scheduler's clock from the board's PLL; auto (default): the fastest of the board's "
                   "clocks that nextpnr says meets timing (with 20 %% margin on the iCEBreaker)")
    b.add_argument("--allow-timing-fail", action="store_true",
                   help="write the bitstream even when nextpnr says the clock is missed")
    b.set_defaults(func=_guard(cmd_build))
    s = sub.add_parser("sim", help="run the shipped workload on the simulated board top-level")
    _config_options(s)
    s.set_defaults(func=_guard(cmd_sim))
    r = sub.add_parser("run", help="run the shipped workload on a board over a serial port")
    _config_options(r)
    r.add_argument("--port", required=True, help="serial port of the board, e.g. /dev/ttyUSB0")
    r.add_argument("--baud", type=BAUD, default=115200)
    r.set_defaults(func=_guard(cmd_run))


def add_board_command(sub) -> None:
    """``dysta board build|sim|run`` on the ``dysta`` sub-parsers."""
    b = sub.add_parser("board", help="board targets: build a bitstream, run the board in simulation or for real",
                       description="The scheduler on a board with a UART host link (docs/boards.md).")
    add_commands(b.add_subparsers(dest="board_cmd", required=True))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m boards", description="Dysta board targets")
    sub = p.add_subparsers(dest="cmd", required=True)
    add_commands(sub)
    a = p.parse_args(argv)
    from dysta_sw.errors import DystaInputError

    try:
        return a.func(a)
    except (DystaInputError, RuntimeError) as e:
        print(f"python -m boards: error: {e}", file=sys.stderr)
        return 2
