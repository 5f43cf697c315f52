"""Every goal of the hardware scheduler (issue 13), measured: ECP5-85F Fmax of both units
(nextpnr, >= 200 MHz), xcup LUTs and DSPs of the lean and IEEE designs (Yosys estimate: lean <=
553 LUTs and <= 3 DSPs, IEEE <= 900 LUTs), the decision latency of both units (<= N + 24 cycles),
LUTs at depth 512 over depth 64 (<= 1.2 for every configuration), the ULX3S clock from its PLL
(>= 100 MHz, timing met) and the iCEBreaker's timing margin (>= 20 %). Prints measured / goal /
met (the same table as ``dysta synth --goals``).

    python benchmarks/synth_goals.py [--jobs 2] [--no-sim] [--no-cache] [--check]
    python benchmarks/synth_goals.py --docs docs/synth.md [--depths 64,512]

``--docs`` also runs the xcup sweep (``dysta synth --sweep``: the depths given x FP16/BF16/FP32 x
shared/separate, plus the lean FP16 designs) and rewrites the generated blocks of that Markdown
file (``<!-- BEGIN generated: NAME -->`` ... ``<!-- END generated: NAME -->``: the sweep, Fig. 16's
normalised table, Table 6 and the goals) and the Fig. 16 plot beside it (``img/fig16_resources.png``):
``nox -s synth-docs`` regenerates docs/synth.md in one command. Results come from the synthesis
and board caches ($DYSTA_CACHE_DIR) when present; a cold run takes an hour or more on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dysta_hw import goals, synth, synthreport  # noqa: E402
from dysta_sw.report.tables import rows_table, write_text  # noqa: E402


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with the generated block ``name`` replaced by ``body``; a ValueError when the
    file has no such block (the markers are part of the hand-written page)."""
    pat = re.compile(rf"(<!-- BEGIN generated: {re.escape(name)} -->\n).*?(<!-- END generated: {re.escape(name)} -->)",
                     re.S)
    if not pat.search(text):
        raise ValueError(f"no generated block {name!r}: add <!-- BEGIN generated: {name} --> and "
                         f"<!-- END generated: {name} --> lines where it goes")
    return pat.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text, count=1)


def regenerate(doc: Path, results: list[dict], goal_rows: list[dict]) -> list[Path]:
    """Rewrite ``doc``'s generated blocks and its Fig. 16 image from a sweep and the goal table."""
    tools = sorted({v for r in results for v in r["tools"].values()})
    norm = synthreport.normalised_rows(results)
    t6 = synthreport.table6_results(results)
    blocks = {
        "measured": f"Measured {datetime.date.today().isoformat()} with {', '.join(tools)} "
                    f"(`nox -s synth-docs`; {len(results)} xcup designs).",
        "sweep": rows_table(synthreport.resource_rows(results), markdown=True),
        "fig16": rows_table(norm, markdown=True) if norm else "(no FP32 separate design in the sweep)",
        "table6": rows_table(synthreport.table6_rows(t6), markdown=True) if t6 else "(no depth 64 FP16 shared design)",
        "goals": goals.goals_markdown(goal_rows),
    }
    text = doc.read_text()
    for name, body in blocks.items():
        text = replace_block(text, name, body + "\n")
    write_text(doc, text)
    img = doc.parent / "img" / "fig16_resources.png"
    img.parent.mkdir(parents=True, exist_ok=True)
    tmp = img.with_name(img.stem + ".tmp.png")
    if synthreport.plot_fig16(results, tmp, target="xcup") is None:  # no FP32 separate design to normalise to
        return [doc]
    tmp.replace(img)
    return [doc, img]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=2, help="syntheses at once (default 2)")
    ap.add_argument("--no-sim", action="store_true", help="decision latency from the timing model only")
    ap.add_argument("--no-cache", action="store_true", help="synthesize and build again")
    ap.add_argument("--check", action="store_true", help="exit status 1 unless every goal is met")
    ap.add_argument("--cached", action="store_true", help="cached results only: no synthesis, no place and route")
    ap.add_argument("--docs", type=Path, default=None, metavar="FILE.md",
                    help="also run the sweep and rewrite this file's generated blocks and its Fig. 16")
    ap.add_argument("--depths", default="64,512", help="with --docs: sweep depths (default 64,512, Fig. 16's)")
    a = ap.parse_args(argv)
    progress = sys.stderr.isatty()
    depths = None
    if a.docs is not None:
        if not a.docs.exists():
            ap.error(f"--docs {a.docs}: no such file")
        try:
            depths = [int(d) for d in a.depths.split(",") if d]
        except ValueError:
            ap.error(f"--depths {a.depths!r}: give depths separated by commas, e.g. 8,64,512")
        bad = [d for d in depths if d not in synth.SWEEP_DEPTHS]
        if bad or not depths:
            ap.error(f"--depths {a.depths!r}: choose from {', '.join(map(str, synth.SWEEP_DEPTHS))}")
    ctx = goals.GoalContext(jobs=a.jobs, use_cache=not a.no_cache, progress=progress, simulate=not a.no_sim,
                            cache_only=a.cached)
    rows = goals.goal_table(ctx)  # first: it synthesizes most of the sweep's designs too
    print(rows_table(rows), flush=True)
    results = None
    if depths is not None:
        results = synth.sweep("xcup", depths=depths, jobs=a.jobs, progress=progress, use_cache=not a.no_cache,
                              cache_only=a.cached)
    if results is not None:
        for r in results:
            r.pop("cells", None)
        written = regenerate(a.docs, results, rows)
        print("wrote " + ", ".join(map(str, written)), file=sys.stderr)
    return 1 if a.check and any(r["met"] != "yes" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
