# amaranth: UnusedElaboratable=no
"""Board clocks: the ``sync`` domain from the board's oscillator through the FPGA's PLL.

One function per PLL computes its divider settings for a wanted frequency (the searches of
Project Trellis' ``ecppll`` and IceStorm's ``icepll``, and the MMCM equation of Xilinx UG572),
and :class:`PllDomain` instantiates the PLL on a platform and drives ``sync`` from it, held in
reset until the PLL has locked:

- ECP5 (ULX3S): ``EHXPLLL``; PFD 3.125-400 MHz, VCO 400-800 MHz, output 10-400 MHz.
- iCE40 (iCEBreaker): ``SB_PLL40_PAD`` on the clock pad; PFD 10-133 MHz, VCO 533-1066 MHz,
  output 16-275 MHz (below 16 MHz the board clock is used directly).
- UltraScale+ (ZCU104): ``MMCME4_BASE`` with a ``BUFG``; PFD 10-500 MHz, VCO 800-1600 MHz (-2
  speed grade).

Below what a PLL makes (the iCE40's 16 MHz), :class:`DividedDomain` divides the board clock by
an integer in the fabric and puts the result on a global buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

__all__ = ["PllSetting", "ecp5_pll", "ice40_pll", "mmcm_e4", "PllDomain", "DividedDomain"]


@dataclass(frozen=True)
class PllSetting:
    """A PLL's dividers: ``fin_hz`` and ``fout_hz`` (the frequency it makes, which may differ a
    little from the one asked), ``fvco_hz`` and the primitive's parameters ``params``."""

    kind: str
    fin_hz: float
    fout_hz: float
    fvco_hz: float
    params: dict


def _check(kind: str, fout_hz: float, lo: float, hi: float):
    if not lo <= fout_hz <= hi:
        raise ValueError(f"the {kind} cannot make {fout_hz / 1e6:g} MHz: its output is {lo / 1e6:g} to "
                         f"{hi / 1e6:g} MHz; choose a clock in that range")


def ecp5_pll(fin_hz: float, fout_hz: float) -> PllSetting:
    """``EHXPLLL`` dividers for ``fout_hz`` from ``fin_hz`` (the closest reachable; feedback
    from CLKOP, as ``ecppll`` writes it)."""
    _check("ECP5 EHXPLLL", fout_hz, 10e6, 400e6)
    best = None
    for ref in range(1, 129):
        fpfd = fin_hz / ref
        if not 3.125e6 <= fpfd <= 400e6:
            continue
        for fb in range(1, 81):
            for out in range(1, 129):
                fvco = fpfd * fb * out
                if not 400e6 <= fvco <= 800e6:
                    continue
                err = abs(fpfd * fb - fout_hz)
                if best is None or err < best[0]:
                    best = (err, ref, fb, out, fvco)
    _, ref, fb, out, fvco = best
    return PllSetting("EHXPLLL", fin_hz, fin_hz / ref * fb, fvco,
                      {"CLKI_DIV": ref, "CLKFB_DIV": fb, "CLKOP_DIV": out, "CLKOP_CPHASE": out // 2})


def ice40_pll(fin_hz: float, fout_hz: float) -> PllSetting:
    """``SB_PLL40_PAD`` dividers (simple feedback) for ``fout_hz`` from ``fin_hz``."""
    _check("iCE40 PLL", fout_hz, 16e6, 275e6)
    best = None
    for divr in range(16):
        fpfd = fin_hz / (divr + 1)
        if not 10e6 <= fpfd <= 133e6:
            continue
        for divf in range(128):
            fvco = fpfd * (divf + 1)
            if not 533e6 <= fvco <= 1066e6:
                continue
            for divq in range(1, 7):
                err = abs(fvco / 2 ** divq - fout_hz)
                if best is None or err < best[0]:
                    best = (err, divr, divf, divq, fvco, fpfd)
    _, divr, divf, divq, fvco, fpfd = best
    filt = next(i for i, hi in enumerate((17e6, 26e6, 44e6, 66e6, 101e6, float("inf")), 1) if fpfd < hi)
    return PllSetting("SB_PLL40_PAD", fin_hz, fvco / 2 ** divq, fvco,
                      {"DIVR": divr, "DIVF": divf, "DIVQ": divq, "FILTER_RANGE": filt})


def mmcm_e4(fin_hz: float, fout_hz: float) -> PllSetting:
    """``MMCME4_BASE`` settings (integer multiply and divide) for ``fout_hz`` from ``fin_hz``."""
    _check("UltraScale+ MMCM", fout_hz, 6.25e6, 775e6)
    best = None
    for div in range(1, 107):
        fpfd = fin_hz / div
        if not 10e6 <= fpfd <= 500e6:
            continue
        for mult in range(2, 129):
            fvco = fpfd * mult
            if not 800e6 <= fvco <= 1600e6:
                continue
            out = max(1, min(128, round(fvco / fout_hz)))
            err = abs(fvco / out - fout_hz)
            if best is None or err < best[0] - 1e-6:
                best = (err, div, mult, out, fvco)
    _, div, mult, out, fvco = best
    return PllSetting("MMCME4_BASE", fin_hz, fvco / out, fvco,
                      {"DIVCLK_DIVIDE": div, "CLKFBOUT_MULT_F": float(mult), "CLKOUT0_DIVIDE_F": float(out),
                       "CLKIN1_PERIOD": round(1e9 / fin_hz, 3)})


class PllDomain(Elaboratable):
    """An elaboratable that drives the ``sync`` domain (:attr:`domain`) at ``fout_hz`` from the platform's default
    clock through the FPGA's PLL (``kind``: ``ecp5``, ``ice40`` or ``xcup``), in reset until the
    PLL locks. The place-and-route tool constrains the output clock: nextpnr by its ``--freq``
    (:mod:`boards.build` passes the frequency :attr:`setting` makes), Vivado by deriving the MMCM's
    output clock from its input's constraint."""

    def __init__(self, kind: str, fin_hz: float, fout_hz: float):
        make = {"ecp5": ecp5_pll, "ice40": ice40_pll, "xcup": mmcm_e4}.get(kind)
        if make is None:
            raise ValueError(f"no PLL for FPGA family {kind!r}; choose ecp5, ice40 or xcup")
        self.kind = kind
        self.setting = make(fin_hz, fout_hz)
        #: The domain it drives; the parent adds it (``m.domains.sync = pll.domain``), so that every
        #: user of ``sync`` sits below the module that defines it.
        self.domain = ClockDomain("sync")

    @property
    def frequency(self) -> float:
        """The ``sync`` frequency in Hz."""
        return self.setting.fout_hz

    def elaborate(self, platform):
        m = Module()
        locked, p = Signal(), self.setting.params
        clk_port = platform.request(platform.default_clk, dir="-")
        fin, fout = self.setting.fin_hz / 1e6, self.setting.fout_hz / 1e6
        if self.kind == "ecp5":
            m.submodules.clk_buf = buf = io.Buffer("i", clk_port)
            clkop = Signal()
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=f"{fin:g}", a_FREQUENCY_PIN_CLKOP=f"{fout:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
                p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
                p_CLKI_DIV=p["CLKI_DIV"], p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=p["CLKOP_DIV"],
                p_CLKOP_CPHASE=p["CLKOP_CPHASE"], p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
                p_CLKFB_DIV=p["CLKFB_DIV"],
                i_RST=0, i_STDBY=0, i_CLKI=buf.i, o_CLKOP=clkop, i_CLKFB=clkop, i_PHASESEL0=0, i_PHASESEL1=0,
                i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0, o_LOCK=locked)
            m.d.comb += ClockSignal("sync").eq(clkop)
        elif self.kind == "ice40":
            # The PAD variant takes the clock pin itself (no input buffer in between).
            m.submodules.pll = Instance(
                "SB_PLL40_PAD",
                p_FEEDBACK_PATH="SIMPLE", p_DIVR=p["DIVR"], p_DIVF=p["DIVF"], p_DIVQ=p["DIVQ"],
                p_FILTER_RANGE=p["FILTER_RANGE"],
                i_PACKAGEPIN=clk_port.io, i_RESETB=1, i_BYPASS=0, o_PLLOUTGLOBAL=ClockSignal("sync"),
                o_LOCK=locked)
        else:
            m.submodules.clk_buf = buf = io.Buffer("i", clk_port)
            fb, clkout = Signal(), Signal()
            m.submodules.mmcm = Instance(
                "MMCME4_BASE",
                p_CLKIN1_PERIOD=p["CLKIN1_PERIOD"], p_DIVCLK_DIVIDE=p["DIVCLK_DIVIDE"],
                p_CLKFBOUT_MULT_F=p["CLKFBOUT_MULT_F"], p_CLKOUT0_DIVIDE_F=p["CLKOUT0_DIVIDE_F"],
                i_CLKIN1=buf.i, i_CLKFBIN=fb, o_CLKFBOUT=fb, o_CLKOUT0=clkout, i_RST=0, i_PWRDWN=0,
                o_LOCKED=locked)
            m.submodules.bufg = Instance("BUFG", i_I=clkout, o_O=ClockSignal("sync"))
        m.submodules.rst_sync = ResetSynchronizer(~locked, domain="sync")
        return m


class DividedDomain(Elaboratable):
    """Drives the ``sync`` domain (:attr:`domain`) at the board clock divided by ``divisor`` (an
    iCE40 below its PLL's 16 MHz): a counter on the board clock, its top bit on a global buffer
    (``SB_GB``), and ``sync`` in reset for its first 256 cycles (the iCE40's block RAMs read zero
    for a few microseconds after configuration)."""

    def __init__(self, fin_hz: float, divisor: int):
        if not isinstance(divisor, int) or divisor < 2 or divisor & (divisor - 1):
            raise ValueError(f"the clock divisor must be a power of two >= 2, not {divisor!r}")
        self.fin_hz, self.divisor = fin_hz, divisor
        self.domain = ClockDomain("sync")

    @property
    def frequency(self) -> float:
        """The ``sync`` frequency in Hz."""
        return self.fin_hz / self.divisor

    def elaborate(self, platform):
        m = Module()
        m.domains.board = ClockDomain("board", local=True, reset_less=True)
        clk_port = platform.request(platform.default_clk, dir="-")
        m.submodules.clk_buf = buf = io.Buffer("i", clk_port)
        m.d.comb += ClockSignal("board").eq(buf.i)
        div = Signal(self.divisor.bit_length() - 1)
        m.d.board += div.eq(div + 1)
        m.submodules.gb = Instance("SB_GB", i_USER_SIGNAL_TO_GLOBAL_BUFFER=div[-1],
                                   o_GLOBAL_BUFFER_OUTPUT=ClockSignal("sync"))
        startup = Signal(8)
        ready = Signal()
        m.d.board += ready.eq(startup.all())
        with m.If(~ready):
            m.d.board += startup.eq(startup + 1)
        m.submodules.rst_sync = ResetSynchronizer(~ready, domain="sync")
        return m
