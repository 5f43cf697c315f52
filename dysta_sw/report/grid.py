"""The paper's experiment grid: Table 5 and Figures 12 to 15 (``dysta reproduce``).

The grid, per scenario (multi-AttNN / multi-CNN):

- Table 5 and Fig. 13: rate 30 / 3 requests/s at SLO multiplier 10, every scheduler;
- Fig. 12 (trade-off): rates 30 and 40 / 3 and 4 at SLO 10;
- Fig. 14 (SLO sweep): SLO 10, 25, 50, 75, 100, 150 at rates 30 and 40 / 3 and 4;
- Fig. 15 (rate sweep): rates 10 to 40 step 5 / 2 to 6 step 1 at SLO 10;

20 seeds (:data:`SEEDS`) and 1000 requests per run. ``quick`` keeps every figure with fewer
points, 5 seeds and 300 requests.

The rates are the paper's times a factor per scenario that the load calibration sets
(``Config.load``, :mod:`dysta_sw.load`): by default (``fcfs``) the factor at which FCFS misses the
paper's FCFS share of deadlines at Table 5's point; ``paper-scale`` is the pack's capacity
(:meth:`dysta_sw.trace.TracePack.capacity`, 1 for synthetic-v1): the paper's offered load at an
assumed time scale of its traces; a number is a target utilisation at Table 5's rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..load import Calibration, calibrate
from ..policies import POLICY_NAMES, Options
from ..sweep import Sweep, SweepResult, run
from ..trace import resolve_pack, round_sig

__all__ = ["ScenarioGrid", "FULL", "QUICK", "Config", "run_grid", "capacity_note"]


@dataclass(frozen=True)
class ScenarioGrid:
    """One scenario's points at the paper's scale: the Table 5 rate and a higher one, the rates
    of the rate sweep and the SLO multipliers of the SLO sweep."""

    scenario: str
    label: str
    main_rate: float
    high_rate: float
    rates: tuple[float, ...]
    slos: tuple[float, ...]
    main_slo: float = 10.0

    def on(self, pack) -> ScenarioGrid:
        """This grid for ``pack``: every rate times the pack's capacity (:meth:`TracePack.paper_rate`),
        i.e. at the offered loads the paper's rates give at its scale."""
        return replace(self, main_rate=pack.paper_rate(self.scenario, self.main_rate),
                       high_rate=pack.paper_rate(self.scenario, self.high_rate),
                       rates=tuple(pack.paper_rate(self.scenario, r) for r in self.rates))

    def scaled(self, factor: float) -> ScenarioGrid:
        """This grid with every rate times ``factor``, to 3 significant digits."""
        return replace(self, main_rate=round_sig(self.main_rate * factor),
                       high_rate=round_sig(self.high_rate * factor),
                       rates=tuple(round_sig(r * factor) for r in self.rates))

    def points(self) -> tuple[tuple[float, float], ...]:
        """Every (rate, SLO multiplier) the figures need, once each."""
        pts = [(r, self.main_slo) for r in self.rates]
        pts += [(r, m) for r in (self.main_rate, self.high_rate) for m in self.slos]
        return tuple(dict.fromkeys(pts))


FULL = (
    ScenarioGrid("attnn", "Multi-AttNN", 30.0, 40.0, (10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0),
                 (10.0, 25.0, 50.0, 75.0, 100.0, 150.0)),
    ScenarioGrid("cnn", "Multi-CNN", 3.0, 4.0, (2.0, 3.0, 4.0, 5.0, 6.0), (10.0, 25.0, 50.0, 75.0, 100.0, 150.0)),
)
QUICK = (
    ScenarioGrid("attnn", "Multi-AttNN", 30.0, 40.0, (10.0, 20.0, 30.0, 40.0), (10.0, 50.0, 150.0)),
    ScenarioGrid("cnn", "Multi-CNN", 3.0, 4.0, (2.0, 3.0, 4.0, 6.0), (10.0, 50.0, 150.0)),
)


#: Seeds of the full grid: with 20, Dysta's paired differences against the best of the paper's
#: baselines at Table 5's point exclude 0 or are within +/- 0.5 pp (docs/statistics.md: from 10
#: seeds on the verdicts stop changing; 5, the paper's count, leaves AttNN's ANTT undecided).
SEEDS = 20
#: Seeds of ``--quick``: enough for a t interval (t(0.975, 4) = 2.78; 2 seeds give 12.7).
QUICK_SEEDS = 5


@dataclass
class Config:
    """What ``dysta reproduce`` runs. ``sections``: the names of the plug-in report sections to
    render (``dysta.report_sections``), ``None`` for every registered one. ``load``: how the rates
    are set (:mod:`dysta_sw.load`: ``fcfs``, ``paper-scale`` or a target utilisation)."""

    quick: bool = False
    seeds: int | None = None
    requests: int | None = None
    profile: str = "paper"
    traces: str | None = None
    options: Options = field(default_factory=Options)
    schedulers: tuple[str, ...] = POLICY_NAMES
    sections: tuple[str, ...] | None = None
    load: str = "fcfs"

    def calibration(self, scenario: str) -> Calibration:
        """The load calibration of ``scenario`` on this run's seeds and request count."""
        return calibrate(resolve_pack(self.traces), scenario, self.load, n_requests=self.n_requests)

    @property
    def grids(self) -> tuple[ScenarioGrid, ...]:
        """The grid at the paper's rates times each scenario's load factor (:meth:`calibration`)."""
        pack = resolve_pack(self.traces)
        out = []
        for g in (QUICK if self.quick else FULL):
            cal = self.calibration(g.scenario)
            out.append(g.on(pack) if cal.method == "paper-scale" else g.scaled(cal.factor))
        return tuple(out)

    @property
    def n_seeds(self) -> int:
        return self.seeds or (QUICK_SEEDS if self.quick else SEEDS)

    @property
    def n_requests(self) -> int:
        return self.requests or (300 if self.quick else 1000)

    def sweeps(self) -> list[Sweep]:
        return [Sweep(g.scenario, g.points(), self.schedulers, seeds=tuple(range(self.n_seeds)),
                      n_requests=self.n_requests, profile=self.profile, options=self.options,
                      traces=self.traces) for g in self.grids]


def run_grid(cfg: Config, jobs: int | None = None, progress: bool | None = None) -> SweepResult:
    """Run every sweep of ``cfg``'s grid."""
    return run(cfg.sweeps(), jobs=jobs, progress=progress)


def capacity_note(pack, scenario: str) -> str:
    """One sentence on how the pack's time scale relates to the paper's (faster or slower)."""
    cap, tiso = pack.capacity(scenario), pack.mean_tiso(scenario)
    load = pack.paper_rate(scenario) * tiso
    if cap == 1.0:
        return f"mean isolated latency {1e3 * tiso:.3g} ms, the paper's scale (offered load {load:.2f})"
    # a capacity below 1 is a slower accelerator: "1.04x slower", never "0.959x faster"
    pace = f"{cap:g}x faster than" if cap > 1.0 else f"{1.0 / cap:.3g}x slower than"
    return (f"mean isolated latency {1e3 * tiso:.3g} ms, {pace} the paper's "
            f"scale, so the paper's rates are multiplied by {cap:g} (Table 5 offered load {load:.2f}) and Dysta's "
            f"penalty term counts time at the paper's scale")
