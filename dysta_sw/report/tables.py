"""Tables of results: the paper's Table 5 layout (Markdown and terminal), the per-model
breakdown, any list of flat rows as a text or Markdown table, and the CSV files of a run."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

__all__ = ["index", "table5", "text_table", "rows_table", "per_model_table", "TIDY_KEYS", "MEAN_KEYS",
           "write_csv", "write_text"]

#: Columns of a tidy row (one per run).
TIDY_KEYS = ("scenario", "rate", "slo", "scheduler", "seed", "profile", "requests", "antt", "violation_rate",
             "stp", "p50_turnaround_s", "p95_turnaround_s", "p99_turnaround_s", "makespan_s", "preemptions",
             "decisions", "pack", "synthetic")
#: Columns of a row of means over seeds.
MEAN_KEYS = ("scenario", "rate", "slo", "scheduler", "profile", "seeds", "requests", "antt", "antt_std",
             "antt_ci", "violation_rate", "violation_rate_std", "violation_rate_ci", "stp", "p50_turnaround_s",
             "p95_turnaround_s", "p99_turnaround_s", "makespan_s", "preemptions", "decisions", "pack", "synthetic")


def index(means: list[dict]) -> dict:
    """Rows of means keyed ``(scenario, rate, slo, scheduler)``."""
    return {(m["scenario"], m["rate"], m["slo"], m["scheduler"]): m for m in means}


def table5(means: list[dict], points: list[tuple[str, str, float, float]], schedulers, ci: bool = False) -> str:
    """Markdown table in the paper's Table 5 layout: schedulers down, (violation, ANTT) per point;
    ``ci`` adds each mean's 95 % interval half-width over seeds (``mean ± half``)."""
    idx = index(means)
    head = "| Scheduler | " + " | ".join(f"{lab} viol. (%) | {lab} ANTT" for lab, *_ in points) + " |"
    sep = "|---|" + "---:|---:|" * len(points)
    lines = [head, sep]
    best = {}
    for lab, scen, rate, slo in points:
        vals = [idx[(scen, rate, slo, s)] for s in schedulers if (scen, rate, slo, s) in idx]
        best[lab] = (min(v["violation_rate"] for v in vals), min(v["antt"] for v in vals)) if vals else (None, None)
    for s in schedulers:
        cells = []
        for lab, scen, rate, slo in points:
            m = idx.get((scen, rate, slo, s))
            if m is None:
                cells += ["-", "-"]
                continue
            v, a = 100 * m["violation_rate"], m["antt"]
            bv, ba = best[lab]
            tv = f"**{v:.2f}**" if m["violation_rate"] == bv else f"{v:.2f}"
            ta = f"**{a:.2f}**" if m["antt"] == ba else f"{a:.2f}"
            if ci and "antt_ci" in m and math.isfinite(m["antt_ci"]):
                tv += f" ± {100 * m['violation_rate_ci']:.2f}"
                ta += f" ± {m['antt_ci']:.2f}"
            cells += [tv, ta]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def text_table(means: list[dict]) -> str:
    """Plain-text Table 5 layout for the terminal: schedulers down, one column pair per point."""
    points = list(dict.fromkeys((m["scenario"], m["rate"], m["slo"]) for m in means))
    scheds = list(dict.fromkeys(m["scheduler"] for m in means))
    idx = index(means)
    labels = [f"{s} r={r:g} M={m:g}" for s, r, m in points]
    w = max(12, max(len(s) for s in scheds) + 2)
    colw = max(22, max(len(lab) for lab in labels) + 2)
    out = [" " * w + "".join(f"{lab:>{colw}}" for lab in labels),
           f"{'scheduler':<{w}}" + "".join(f"{'viol.%':>{colw // 2}}{'ANTT':>{colw - colw // 2}}" for _ in labels)]
    for s in scheds:
        row = f"{s:<{w}}"
        for p in points:
            m = idx.get((*p, s))
            row += (f"{100 * m['violation_rate']:>{colw // 2}.2f}{m['antt']:>{colw - colw // 2}.3f}" if m
                    else f"{'-':>{colw // 2}}{'-':>{colw - colw // 2}}")
        out.append(row)
    return "\n".join(out)


def rows_table(rows: list[dict], markdown: bool = False) -> str:
    """Any list of flat dicts as an aligned plain-text table, or a Markdown table."""
    if not rows:
        return ""
    keys = list(rows[0])
    cells = [[("-" if r.get(k) is None else str(r.get(k))) for k in keys] for r in rows]
    if markdown:
        right = ["---:" if all(isinstance(r.get(k), (int, float)) for r in rows) else "---" for k in keys]
        return "\n".join(["| " + " | ".join(keys) + " |", "|" + "|".join(right) + "|",
                          *("| " + " | ".join(c) + " |" for c in cells)])
    w = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    return "\n".join(["  ".join(k.rjust(w[i]) for i, k in enumerate(keys)),
                      *("  ".join(c[i].rjust(w[i]) for i in range(len(keys))) for c in cells)])


def per_model_table(means: list[dict], scen: str, rate: float, slo: float, schedulers) -> str:
    """Markdown: ANTT and violation rate per model of one point, schedulers down."""
    idx = index(means)
    rows = [idx[(scen, rate, slo, s)] for s in schedulers if (scen, rate, slo, s) in idx]
    if not rows:
        return ""
    models = list(rows[0]["per_model"])
    lines = ["| Scheduler | " + " | ".join(f"{m} ANTT | {m} viol. (%)" for m in models) + " |",
             "|---|" + "---:|---:|" * len(models)]
    for r in rows:
        cells = []
        for m in models:
            pm = r["per_model"].get(m)
            cells += [f"{pm['antt']:.2f}", f"{100 * pm['violation_rate']:.2f}"] if pm else ["-", "-"]
        lines.append(f"| {r['scheduler']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_text(path, text: str) -> None:
    """Write ``text`` to a temporary name beside ``path``, then rename it to ``path``."""
    path = Path(path)
    tmp = _temporary(path)
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_csv(rows: list[dict], keys, path) -> None:
    """``rows`` as CSV with columns ``keys`` (others ignored), written to a temporary name and renamed."""
    path = Path(path)
    tmp = _temporary(path)
    try:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(keys), extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
