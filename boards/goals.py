"""The board goals of ``dysta synth --goals`` (a ``dysta.synth_goals`` plug-in, see
:mod:`dysta_hw.goals`): the ULX3S at >= 100 MHz from its PLL, timing met; the iCEBreaker with at
least 20 % timing margin. Both are nextpnr's verdict on the shipped build at the clock the build
chooses (:func:`boards.build.timing`, cached)."""

from __future__ import annotations

__all__ = ["board_goals", "ULX3S_MHZ", "ICEBREAKER_MARGIN"]

ULX3S_MHZ = 100.0
ICEBREAKER_MARGIN = 0.20


def board_goals(ctx) -> list[dict]:
    """Rows of :func:`dysta_hw.goals.goal_row` for the ULX3S and the iCEBreaker builds."""
    from dysta_hw.goals import goal_row, path_note

    from .build import BOARDS, timing

    rows = []
    for board, what, target in (("ulx3s", "ULX3S-85F clock from its PLL (EHXPLLL), timing met (nextpnr)",
                                 f">= {ULX3S_MHZ:g} MHz"),
                                ("icebreaker", "iCEBreaker (UP5K) timing margin, Fmax / clock - 1 (nextpnr)",
                                 f">= {ICEBREAKER_MARGIN:.0%}")):
        b = BOARDS[board]
        cfg = f"depth {b.depth}, {b.fmt}, {', '.join(f'{k}={v}' for k, v in b.sched.items())}"
        try:
            t = timing(board, use_cache=ctx.use_cache, cache_only=getattr(ctx, "cache_only", False))
        except Exception as e:  # a failed build is a row, not the end of the table
            rows.append(goal_row(what, target, None, None, f"not measured: {e}"))
            continue
        clk, fmax = t["clock_mhz"], t["fmax_mhz"]
        fm = "no Fmax" if fmax is None else f"Fmax {fmax:.1f} MHz"
        tries = ", ".join(f"{c:g} MHz: {'-' if f is None else f'{f:.1f}'}" for c, f in t["tries"])
        note = f"{cfg}; builds tried (clock: Fmax) {tries}"
        if not t["met"] or (board == "ulx3s" and clk < ULX3S_MHZ):
            note += "; " + path_note(t.get("critical_path"))
        if board == "ulx3s":
            met = t["met"] and clk >= ULX3S_MHZ
            rows.append(goal_row(what, target, f"{clk:g} MHz ({fm})", met, note))
        else:
            m = t["margin"]
            rows.append(goal_row(what, target, f"{'-' if m is None else f'{m:+.0%}'} at {clk:g} MHz ({fm})",
                                 m is not None and m >= ICEBREAKER_MARGIN, note))
    return rows
