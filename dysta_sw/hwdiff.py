"""What a hardware scheduler did against the golden model's replay of it: the one comparison of a
run (Amaranth or Verilator simulation, hardware in the loop, a board over its UART link) with
:class:`dysta_sw.hwsched.Replay`.

The scheduler's own inputs (acceptances, layer-done cycles and counts) are replayed by
:class:`~dysta_sw.hwsched.SchedModel`; then every compute-unit result (where the run records
them), the retired tags in order, and every dispatch with its cycle must be identical.
"""

from __future__ import annotations

__all__ = ["diff"]


def diff(replay, *, dispatches, dones, evaluations=None, cycles: bool = True, who: str = "gateware") -> list[str]:
    """Every difference between a run and ``replay`` (a :class:`~dysta_sw.hwsched.Replay` of its
    inputs), as sentences naming the first item that differs in each kind; empty when identical.

    Parameters
    ----------
    dispatches : iterable of (cycle, tag, mp, layer)
        The run's dispatches in order; ``mp`` is ``None`` where the run does not report it (a board).
    dones : iterable of (cycle, tag)
        The run's retirements in order (only the tags are compared).
    evaluations : iterable of (cycle, mode, slot, tag, gamma, score), optional
        The compute unit's results (mode 0 = A, 1 = B), where the run records them.
    cycles : bool
        Compare the dispatch cycles too (not when the run's host held ``done`` back, which the
        model's timing does not know of).
    who : str
        What ran, for the sentences (``gateware``, ``board``).
    """
    out: list[str] = []
    if evaluations is not None:
        got = [tuple(e[1:]) for e in evaluations]
        want = [(int(e.mode == "B"), e.slot, e.tag, e.gamma, e.score) for e in replay.evaluations]
        out += [f"evaluation {k}: {who} (mode, slot, tag, gamma, score) {a}, model {b}"
                for k, (a, b) in enumerate(zip(got, want)) if a != b]
        if len(got) != len(want):
            out.append(f"{len(got)} evaluations by the {who}, {len(want)} by the model")
    retired = [t for _, t in dones]
    if retired != list(replay.dones):
        out.append(f"retired tags differ: {who} {retired[:8]}..., model {list(replay.dones)[:8]}...")
    dispatches = list(dispatches)
    for k, ((c, t, m, l), d) in enumerate(zip(dispatches, replay.decisions)):
        # what the run reports of a dispatch, and the model's decision seen the same way
        got = (c if cycles else None, t, m, l)
        want = (d.cycle if cycles else None, d.tag, d.mp if m is not None else None, d.layer)
        if got != want:
            out.append(f"dispatch {k}: {who} (cycle, tag, mp, layer) {got}, model {want}")
    if len(dispatches) != len(replay.decisions):
        out.append(f"{len(dispatches)} dispatches by the {who}, {len(replay.decisions)} by the model")
    return out
