"""The paper's claims, each decided on the measured results: holds, does not hold, not significant.

Every scheduling claim is decided by *paired* differences over seeds (Dysta minus a baseline on
the same request tables; :mod:`dysta_sw.stats`), at the 95 % level: a claim that Dysta is lower
holds when the whole interval of the difference is below 0, does not hold when it is above 0,
and is not significant otherwise. A comparison where both schedulers got exactly the same value
on every seed (typically 0 % violations at a loose SLO) is a *tie*: it neither supports nor
contradicts "lowest", and is counted apart. A claim made of several comparisons holds when every
comparison holds (ties aside), does not hold when any does not, and is not significant otherwise.

The trace claims (Table 2, Table 4, Fig. 9) are decided on the trace pack: Table 4's ranking by
paired differences of the relative RMSE over the pack's model-patterns, Fig. 9's "highly
correlated" by a bootstrap interval over samples of the mean layer-pair correlation against 0.7,
Table 2's ranges against the paper's figures (within a factor of 2).

:func:`paper_claims` makes the list, :func:`render` its Markdown; ``CLAIMS`` is the report
section (``paper-claims`` in ``dysta.report_sections``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..stats import FAILS, HOLDS, UNDECIDED, Interval, combine, mean_ci, paired_ci, verdict_below, verdict_within
from ..tracestats import (
    PREDICTOR_KINDS,
    by_model,
    density_correlation,
    fit_alpha,
    mean_off_diagonal,
    network_sparsity_range,
    predictor_rmse,
)
from .sections import Context, Section
from .tables import write_text

__all__ = ["Runs", "Claim", "paper_claims", "scheduling_claims", "trace_claims", "render", "paired_table",
           "TABLE5_BASELINES", "FIGURE_BASELINES", "TIE", "CLAIMS"]

#: The paper's Table 5 rows other than Dysta.
TABLE5_BASELINES = ("fcfs", "sjf", "sdrm3", "prema", "planaria")
#: The other schedulers of Figs. 12, 14 and 15: the baselines and their sparsity-aware variants.
FIGURE_BASELINES = ("fcfs", "sjf", "sjf-sparse", "prema", "prema-sparse", "planaria", "sdrm3", "sdrm3-sparse")
#: A paired comparison with the same value on every seed.
TIE = "tie"
#: The paper's Table 2 (relative range of network sparsity), for the models both have.
PAPER_TABLE2 = {"resnet50": 0.151, "vgg16": 0.218}
#: "Highly" correlated: the mean layer-pair Pearson correlation the Fig. 9 claim needs.
HIGH_CORRELATION = 0.7
#: "Similar" violation rates (Table 5's CNN claim against SJF: the paper's 2.0 % vs 3.4 %): within 2 points.
SIMILAR_VIOLATION = 0.02
#: "Perform similarly" (Table 4's last-one and average-all): relative RMSEs within 2 % of the mean
#: remaining latency.
SIMILAR_RMSE = 0.02


class Runs:
    """Per-seed results of a grid, keyed ``(scenario, rate, slo, scheduler)``, for paired statistics."""

    def __init__(self, rows: list[dict]):
        self._by: dict = {}
        for r in rows:
            self._by.setdefault((r["scenario"], r["rate"], r["slo"], r["scheduler"]), {})[r["seed"]] = r

    def has(self, scenario, rate, slo, scheduler) -> bool:
        return (scenario, rate, slo, scheduler) in self._by

    def seeds(self, scenario, rate, slo, scheduler) -> list:
        return sorted(self._by.get((scenario, rate, slo, scheduler), {}))

    def cell(self, scenario, rate, slo, scheduler, metric) -> Interval:
        """Mean of ``metric`` over seeds and its interval."""
        runs = self._by[(scenario, rate, slo, scheduler)]
        return mean_ci([runs[s][metric] for s in sorted(runs)])

    def values(self, scenario, rate, slo, scheduler, metric, seeds) -> np.ndarray:
        runs = self._by[(scenario, rate, slo, scheduler)]
        return np.array([runs[s][metric] for s in seeds], np.float64)

    def diff(self, scenario, rate, slo, a, b, metric) -> tuple[Interval, bool]:
        """Paired ``a - b`` of ``metric`` over the seeds both ran, and whether it is a tie (equal on
        every seed)."""
        seeds = sorted(set(self.seeds(scenario, rate, slo, a)) & set(self.seeds(scenario, rate, slo, b)))
        va = self.values(scenario, rate, slo, a, metric, seeds)
        vb = self.values(scenario, rate, slo, b, metric, seeds)
        return paired_ci(va, vb), bool(np.array_equal(va, vb))


@dataclass
class Claim:
    """One claim of the paper: where it is made, what it says, the verdict and the measured numbers."""

    where: str
    statement: str
    verdict: str
    measured: str
    parts: list = field(default_factory=list)  #: (label, verdict) of each comparison


def _below(runs: Runs, scen, rate, slo, a, b, metric) -> tuple[str, Interval]:
    ci, tie = runs.diff(scen, rate, slo, a, b, metric)
    return (TIE if tie else verdict_below(ci)), ci


def _combine(verdicts) -> str:
    """:func:`dysta_sw.stats.combine` with ties left out (all ties: not significant)."""
    real = [v for v in verdicts if v != TIE]
    return combine(real) if real else UNDECIDED


def _counts(parts) -> str:
    n = len(parts)
    c = {v: sum(1 for _, x in parts if x == v) for v in (HOLDS, UNDECIDED, FAILS, TIE)}
    text = f"{c[HOLDS]} of {n} comparisons hold, {c[UNDECIDED]} not significant, {c[FAILS]} do not hold"
    return text + (f", {c[TIE]} ties (equal on every seed)" if c[TIE] else "")


def _pp(ci: Interval) -> str:
    return f"{ci.text(100, 2)} pp"


def _lowest(runs: Runs, grid, rates, slos, baselines, target="dysta") -> tuple[list, list[str]]:
    """Parts of "``target`` has the lowest violation rate and ANTT" against each baseline at every
    (rate, slo), and the worst comparison of each metric (the largest upper end of the interval)."""
    parts, worst = [], {}
    for rate in rates:
        for slo in slos:
            for b in baselines:
                if not (runs.has(grid.scenario, rate, slo, target) and runs.has(grid.scenario, rate, slo, b)):
                    continue
                for metric in ("violation_rate", "antt"):
                    v, ci = _below(runs, grid.scenario, rate, slo, target, b, metric)
                    parts.append((f"{b} {metric} @ {rate:g}/s, SLO {slo:g}", v))
                    if v != TIE and (metric not in worst or ci.high > worst[metric][0].high):
                        worst[metric] = (ci, b, rate, slo)
    text = []
    for metric, label, show in (("violation_rate", "violation", _pp), ("antt", "ANTT", lambda c: c.text())):
        if metric in worst:
            ci, b, rate, slo = worst[metric]
            text.append(f"closest {label}: {target} - {b} = {show(ci)} at {rate:g}/s, SLO {slo:g}")
    return parts, text


def scheduling_claims(rows: list[dict], grids, schedulers) -> list[Claim]:
    """The claims of Table 5 and Figs. 12 to 15, decided on the per-seed rows of the grid."""
    runs = Runs(rows)
    out: list[Claim] = []
    have = set(schedulers)
    if "dysta" not in have:
        return out
    for g in grids:
        main, high, slo = g.main_rate, g.high_rate, g.main_slo
        # ---- Table 5: Dysta outperforms every scheduler of the table
        base = [b for b in TABLE5_BASELINES if b in have]
        parts, worst = _lowest(runs, g, [main], [slo], base)
        cells = []
        for b in base:
            dv = runs.diff(g.scenario, main, slo, "dysta", b, "violation_rate")[0]
            da = runs.diff(g.scenario, main, slo, "dysta", b, "antt")[0]
            cells.append(f"{b}: {_pp(dv)}, ANTT {da.text()}")
        out.append(Claim(f"Table 5, {g.label}",
                         f"Dysta has the lowest violation rate and the lowest ANTT ({', '.join(base)})",
                         _combine(v for _, v in parts), "Dysta - baseline: " + "; ".join(cells), parts))
        # ---- Table 5's quantitative comparisons
        if g.scenario == "attnn" and "planaria" in have:
            v1, dv = _below(runs, g.scenario, main, slo, "dysta", "planaria", "violation_rate")
            v2, da = _below(runs, g.scenario, main, slo, "dysta", "planaria", "antt")
            ratio = runs.cell(g.scenario, main, slo, "planaria", "antt").mean / runs.cell(
                g.scenario, main, slo, "dysta", "antt").mean
            out.append(Claim(f"Table 5, {g.label}",
                             "against Planaria, a lower violation rate (paper: -1.7 pp) and ANTT 3.4x lower",
                             _combine([v1, v2]), f"violation {_pp(dv)}; ANTT {da.text()}, Planaria/Dysta "
                             f"ANTT = {ratio:.2f}x", [("violation", v1), ("ANTT", v2)]))
        if g.scenario == "cnn" and "sjf" in have:
            dv, tie = runs.diff(g.scenario, main, slo, "dysta", "sjf", "violation_rate")
            v1 = HOLDS if tie else verdict_within(dv, SIMILAR_VIOLATION)
            v2, da = _below(runs, g.scenario, main, slo, "dysta", "sjf", "antt")
            ratio = runs.cell(g.scenario, main, slo, "sjf", "antt").mean / runs.cell(
                g.scenario, main, slo, "dysta", "antt").mean
            out.append(Claim(f"Table 5, {g.label}",
                             "against SJF, ANTT nearly 2x lower at a similar violation rate (within "
                             f"{100 * SIMILAR_VIOLATION:g} pp)", _combine([v1, v2]),
                             f"violation {_pp(dv)}; ANTT {da.text()}, SJF/Dysta ANTT = {ratio:.2f}x",
                             [("similar violation", v1), ("ANTT", v2)]))
        # ---- Fig. 12: lower-left corner at both rates, among the paper's schedulers, then beyond them
        parts, worst = _lowest(runs, g, [main, high], [slo], base)
        out.append(Claim(f"Fig. 12, {g.label}",
                         f"Dysta is at the lower left (lowest violation rate and ANTT) at {main:g} and {high:g}/s",
                         _combine(v for _, v in parts), f"{_counts(parts)}; " + "; ".join(worst), parts))
        extra = [b for b in FIGURE_BASELINES if b in have and b not in TABLE5_BASELINES]
        parts, worst = _lowest(runs, g, [main, high], [slo], extra)
        if parts:
            out.append(Claim(f"Fig. 12, {g.label} (not in the paper)",
                             f"the same against the baselines' sparsity-aware variants ({', '.join(extra)})",
                             _combine(v for _, v in parts), f"{_counts(parts)}; " + "; ".join(worst), parts))
        # ---- Fig. 13: static, then dynamic gains
        if {"prema", "dysta-nosparse"} <= have:
            v1, d1 = _below(runs, g.scenario, main, slo, "dysta-nosparse", "prema", "violation_rate")
            v2, d2 = _below(runs, g.scenario, main, slo, "dysta-nosparse", "prema", "antt")
            out.append(Claim(f"Fig. 13, {g.label}",
                             "the static level gains: Dysta w/o sparsity below PREMA in violation rate and ANTT",
                             _combine([v1, v2]), f"dysta-nosparse - prema: violation {_pp(d1)}, ANTT {d2.text()}",
                             [("violation", v1), ("ANTT", v2)]))
            v3, d3 = _below(runs, g.scenario, main, slo, "dysta", "dysta-nosparse", "antt")
            _, d4 = _below(runs, g.scenario, main, slo, "dysta", "dysta-nosparse", "violation_rate")
            out.append(Claim(f"Fig. 13, {g.label}",
                             "the dynamic level gains: Dysta's ANTT below Dysta w/o sparsity's",
                             _combine([v3]), f"dysta - dysta-nosparse: ANTT {d3.text()} (violation {_pp(d4)})",
                             [("ANTT", v3)]))
        # ---- Fig. 14 / 15: robustness
        base = [b for b in TABLE5_BASELINES if b in have]
        parts, worst = _lowest(runs, g, [main, high], g.slos, base)
        if parts:
            out.append(Claim(f"Fig. 14, {g.label}",
                             f"Dysta has the lowest violation rate and ANTT at every SLO multiplier "
                             f"({', '.join(f'{m:g}' for m in g.slos)}) at {main:g} and {high:g}/s",
                             _combine(v for _, v in parts), f"{_counts(parts)}; " + "; ".join(worst), parts))
        parts, worst = _lowest(runs, g, g.rates, [slo], base)
        if parts:
            out.append(Claim(f"Fig. 15, {g.label}",
                             f"Dysta has the lowest violation rate and ANTT at every rate "
                             f"({', '.join(f'{r:g}' for r in g.rates)}/s)",
                             _combine(v for _, v in parts), f"{_counts(parts)}; " + "; ".join(worst), parts))
        gain = _gain_grows(runs, g, base)
        if gain is not None:
            out.append(gain)
    return out


def _gain_grows(runs: Runs, g, base) -> Claim | None:
    """Fig. 15: "the gain becomes more prominent while increasing the arrival rate": Dysta's margin
    to the best baseline (by mean) is larger at the highest rate than at the lowest, per seed
    (common random numbers: a seed draws the same requests at every rate)."""
    lo, hi, slo = min(g.rates), max(g.rates), g.main_slo
    if not all(runs.has(g.scenario, r, slo, s) for r in (lo, hi) for s in ["dysta", *base]) or not base:
        return None
    parts, text = [], []
    for metric, label in (("violation_rate", "violation"), ("antt", "ANTT")):
        margins = []
        for rate in (lo, hi):
            best = min(base, key=lambda b: runs.cell(g.scenario, rate, slo, b, metric).mean)
            seeds = sorted(set(runs.seeds(g.scenario, rate, slo, best)) & set(runs.seeds(g.scenario, rate, slo,
                                                                                         "dysta")))
            margins.append((best, seeds, runs.values(g.scenario, rate, slo, best, metric, seeds)
                            - runs.values(g.scenario, rate, slo, "dysta", metric, seeds)))
        (b_lo, s_lo, m_lo), (b_hi, s_hi, m_hi) = margins
        common = sorted(set(s_lo) & set(s_hi))
        m_lo = m_lo[[s_lo.index(s) for s in common]]
        m_hi = m_hi[[s_hi.index(s) for s in common]]
        ci = paired_ci(m_lo, m_hi)  # low-rate margin minus high-rate margin: below 0 if the gain grows
        tie = bool(np.array_equal(m_lo, m_hi))
        parts.append((label, TIE if tie else verdict_below(ci)))
        scale = 100 if metric == "violation_rate" else 1
        unit = " pp" if scale == 100 else ""
        text.append(f"{label} margin to the best baseline {mean_ci(m_lo).text(scale)}{unit} ({b_lo}) at {lo:g}/s, "
                    f"{mean_ci(m_hi).text(scale)}{unit} ({b_hi}) at {hi:g}/s")
    return Claim(f"Fig. 15, {g.label}", "Dysta's gain over the best baseline grows with the arrival rate",
                 _combine(v for _, v in parts), "; ".join(text), parts)


def _bootstrap_mean_correlation(rho: np.ndarray, n_boot: int = 200, seed: int = 0) -> Interval:
    """The mean layer-pair correlation and the wider side of its percentile-bootstrap 95 % interval
    over samples (resampled with replacement, ``n_boot`` times, a fixed seed)."""
    rng = np.random.default_rng(seed)
    point = mean_off_diagonal(density_correlation(rho))
    boots = [mean_off_diagonal(density_correlation(rho[rng.integers(0, rho.shape[0], rho.shape[0])]))
             for _ in range(n_boot)]
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return Interval(point, float(max(point - lo, hi - point)), rho.shape[0])


def trace_claims(pack) -> list[Claim]:
    """The claims of Table 2, Table 4 and Fig. 9, decided on the trace pack."""
    out: list[Claim] = []
    # ---- Table 2
    parts, text = [], []
    for model, paper in PAPER_TABLE2.items():
        for mp in by_model(pack, model):
            r = network_sparsity_range(mp)
            v = HOLDS if paper / 2 <= r <= 2 * paper else FAILS
            parts.append((mp.name, v))
            text.append(f"{mp.name} {100 * r:.1f} % (paper {100 * paper:.1f} %)")
    if parts:
        out.append(Claim("Table 2", "the relative range of network sparsity is of the paper's size (ResNet-50 "
                         "15.1 %, VGG-16 21.8 %; within a factor of 2)", combine(v for _, v in parts),
                         "; ".join(text), parts))
    # ---- Table 4
    mps = [mp for mp in pack.model_patterns.values() if mp.n_layers > 1]
    if len(mps) >= 2:
        rel = {k: np.array([predictor_rmse(mp, k)[1] for mp in mps]) for k in (*PREDICTOR_KINDS, "none")}
        fitted = np.array([predictor_rmse(mp, "last-one", alpha=fit_alpha(mp, "last-one"))[1] for mp in mps])
        d1, d2 = paired_ci(rel["last-one"], rel["last-n"]), paired_ci(rel["average-all"], rel["last-n"])
        d3 = paired_ci(rel["last-one"], rel["average-all"])
        parts = [("last-one below last-n", verdict_below(d1)), ("average-all below last-n", verdict_below(d2)),
                 ("last-one similar to average-all", verdict_within(d3, SIMILAR_RMSE))]
        means = ", ".join(f"{k} {100 * rel[k].mean():.1f} %" for k in PREDICTOR_KINDS)
        out.append(Claim("Table 4", "last-one and average-all predict similarly and better than last-N",
                         combine(v for _, v in parts),
                         f"mean relative RMSE over {len(mps)} model-patterns: {means}; last-one - last-n "
                         f"{d1.text(100)} pp, average-all - last-n {d2.text(100)} pp, last-one - average-all "
                         f"{d3.text(100)} pp", parts))
        d4 = paired_ci(rel["last-one"], rel["none"])
        out.append(Claim("Sec. 5.1, Table 4", "the sparse latency predictor (last-one, alpha = 1) predicts the "
                         "remaining latency better than none (gamma = 1)", verdict_below(d4),
                         f"relative RMSE last-one {100 * rel['last-one'].mean():.1f} %, none "
                         f"{100 * rel['none'].mean():.1f} %, difference {d4.text(100)} pp; better on "
                         f"{int((rel['last-one'] < rel['none']).sum())} of {len(mps)} model-patterns"))
        d5 = paired_ci(fitted, rel["none"])
        out.append(Claim("Sec. 5.1, Table 4", "with alpha set per pattern (fitted on the calibration split), "
                         "the predictor beats none", verdict_below(d5),
                         f"relative RMSE last-one with fitted alpha {100 * fitted.mean():.1f} %, none "
                         f"{100 * rel['none'].mean():.1f} %, difference {d5.text(100)} pp; better on "
                         f"{int((fitted < rel['none']).sum())} of {len(mps)} model-patterns"))
    # ---- Fig. 9
    parts, text = [], []
    for name in pack.scenarios.get("attnn", []):
        mp = pack.model_patterns[name]
        if mp.model not in ("bert", "gpt2") or mp.n_layers < 2:
            continue
        ci = _bootstrap_mean_correlation(mp.rho)
        v = HOLDS if ci.low >= HIGH_CORRELATION else (FAILS if ci.high < HIGH_CORRELATION else UNDECIDED)
        parts.append((name, v))
        text.append(f"{name} {ci.text()}")
    if parts:
        out.append(Claim("Fig. 9", f"the sparsities of different layers of BERT and GPT-2 are highly correlated "
                         f"(mean layer-pair Pearson correlation >= {HIGH_CORRELATION:g})",
                         combine(v for _, v in parts), "; ".join(text) + " (bootstrap 95 % over samples)", parts))
    return out


def paper_claims(rows: list[dict], grids, schedulers, pack) -> list[Claim]:
    """Every claim: the scheduling claims on ``rows``, then the trace claims on ``pack``."""
    return scheduling_claims(rows, grids, schedulers) + trace_claims(pack)


def render(claims: list[Claim], note: str = "", n_seeds: int | None = None) -> str:
    """The claims as a Markdown section (``## Paper claims``) with a summary count."""
    c = {v: sum(1 for x in claims if x.verdict == v) for v in (HOLDS, UNDECIDED, FAILS)}
    md = [f"## Paper claims{note}", "",
          "Each claim of the paper decided on this run: **holds** when the 95 % Student-t interval of "
          "every paired difference over seeds (Dysta minus the baseline, same request tables) is on the "
          "claimed side of 0, **does not hold** when one is entirely on the other side, **not "
          "significant** otherwise" + (f" ({n_seeds} seeds)" if n_seeds else "") + ". Differences are "
          "given as mean ± half-width; violation rates in percentage points (pp).", "",
          f"Summary: {c[HOLDS]} hold, {c[FAILS]} do not hold, {c[UNDECIDED]} not significant.", "",
          "| where | claim | verdict | measured |", "|---|---|---|---|"]
    for cl in claims:
        md.append(f"| {cl.where} | {cl.statement} | **{cl.verdict}** | {cl.measured} |")
    md.append("")
    return "\n".join(md)


def paired_table(rows: list[dict], points, baselines, target: str = "dysta") -> str:
    """Markdown: ``target`` minus each baseline, violation (pp) and ANTT with their intervals, per point
    ``(label, scenario, rate, slo)``; a star marks an interval that excludes 0."""
    runs = Runs(rows)
    head = "| Dysta minus | " + " | ".join(f"{lab} viol. (pp) | {lab} ANTT" for lab, *_ in points) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(points)]
    for b in baselines:
        cells = []
        for _, scen, rate, slo in points:
            if not (runs.has(scen, rate, slo, target) and runs.has(scen, rate, slo, b)):
                cells += ["-", "-"]
                continue
            for metric, scale in (("violation_rate", 100), ("antt", 1)):
                ci, tie = runs.diff(scen, rate, slo, target, b, metric)
                star = "" if tie or not math.isfinite(ci.half) or ci.low <= 0 <= ci.high else "*"
                cells.append(ci.text(scale) + star)
        lines.append(f"| {b} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _render(ctx: Context) -> str:
    """The section; also written alone to ``claims.md`` (which ``dysta reproduce`` prints)."""
    if ctx.results is None:
        return "## Paper claims\n\nNot run: the claims need the grid's results (dysta reproduce).\n"
    md = render(paper_claims(ctx.results.rows, ctx.cfg.grids, ctx.cfg.schedulers, ctx.pack), ctx.note,
                ctx.cfg.n_seeds)
    write_text(ctx.out / CLAIMS_FILE, md)
    return md


#: The claims section alone, beside ``report.md``.
CLAIMS_FILE = "claims.md"


#: Registered as ``paper-claims`` in ``dysta.report_sections``.
CLAIMS = Section("Paper claims", 60, _render)
