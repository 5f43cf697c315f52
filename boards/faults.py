"""Fault campaigns on the host link: damage bytes on the line, count what was detected and that
no wrong event was ever delivered (``python -m boards.faults``, ``nox -s link-faults``).

Two benches run the real host side (:class:`boards.arq.ArqLink`):

- ``model``: against :class:`boards.linkmodel.BoardLinkModel`, the board's link logic in Python,
  thousands of faults a minute;
- ``sim``: against the gateware (:class:`boards.link.HostLink`), the faults made on the serial
  lines themselves (a bit inverted, a stop bit pulled low, a byte or a run of bytes replaced by an
  idle line): compiled by Verilator with the host's UART and the fault injectors in gateware too
  (:class:`boards.simlink.VerilatorTransport`, 10,000 faults in minutes), or in Amaranth's
  simulator where Verilator is missing (:class:`boards.simlink.SimTransport`, minutes per 100).

Each fault is injected alone, at a random byte of a random direction while traffic flows; the
bench then lets the link settle (every command acknowledged, every event delivered and
acknowledged). A fault counts as *detected* when a receiver (the board's or the host's) dropped a
damaged frame after it; as *recovered* when the link settled by itself. Every delivered event is
compared with what the board produced: a *wrong event* is one that differs, is missing, repeated
or out of order. The commands the board executed are
compared with those the host sent, in order, each once.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from dysta_sw.tools import MissingTool

from .arq import ArqLink, LinkError
from .linkmodel import FAULT_KINDS, BoardLinkModel, CampaignResult, Fault, ModelCore, ModelTransport
from .protocol import Frame, lut_command, parse_board_frame, request_command

__all__ = ["CampaignResult", "model_campaign", "sim_campaign", "main"]


def _fault(rng: random.Random, kind: str, to: str, at: int) -> Fault:
    arg = rng.randrange(8) if kind == "flip" else rng.randint(2, 12) if kind == "truncate" else 0
    return Fault(to, at, kind, arg)


def model_campaign(faults: int, seed: int = 0, *, window: int = 16, timeout: int = 80, depth: int = 8,
                   settle_reads: int = 2000, quiet_reads: int = 4) -> CampaignResult:
    """``faults`` faults (the kinds in turn) against the Python model of the board's link."""
    rng = random.Random(seed)
    core = ModelCore(seed)
    board = BoardLinkModel(core, window=window, timeout=timeout)
    t = ModelTransport(board)
    host = ArqLink(t, window=8)
    res = CampaignResult("model")
    sent: list = []
    state = {"tag": 0, "inflight": 0, "delivered": 0}
    t0, cpu0 = time.perf_counter(), time.process_time()

    def drive(submit: bool) -> None:
        if submit:
            while state["inflight"] < depth:
                cmd = request_command(state["tag"] & 0xFFFF, 0, 1000, 0)
                host.send(*cmd)
                sent.append(cmd)
                state["tag"] += 1
                state["inflight"] += 1
            if rng.random() < 0.05:
                cmd = lut_command(rng.randrange(4), rng.randrange(4), rng.randrange(8), rng.randrange(1 << 32))
                host.send(*cmd)
                sent.append(cmd)
            if rng.random() < 0.02:
                host.ask_status()
        host.pump()
        host.statuses.clear()
        while host.events:
            ev = host.events.popleft()
            i = state["delivered"]
            if i >= len(core.emitted) or ev != parse_board_frame(Frame(*core.emitted[i][:1], 0, 0,
                                                                          core.emitted[i][1])):
                res.wrong_events += 1
            state["delivered"] += 1
            if ev.kind == "F":
                state["inflight"] -= 1

    def settled() -> bool:
        return (not host.unacked and not host.queue and state["delivered"] == len(core.emitted)
                and board.base == board.wr and not board.queue)

    def signs() -> int:
        return host.decoder.bad + host.decoder.unknown + board.rx_bad

    for j in range(faults):
        kind = FAULT_KINDS[j % len(FAULT_KINDS)]
        to = rng.choice(("board", "host"))
        f = _fault(rng, kind, to, t.count[to] + rng.randint(1, 60))
        t.inject(f)
        before = signs()
        for _ in range(settle_reads):
            if (f.to, f.index) not in t.faults and not t.cut[f.to]:
                break
            drive(submit=True)
        for _ in range(settle_reads):
            if settled():
                break
            drive(submit=False)
        for _ in range(quiet_reads):  # a damaged frame that carried no event ends later
            if signs() > before:
                break
            drive(submit=False)
        res.injected += 1
        res.by_kind[kind][0] += 1
        if signs() > before:
            res.detected += 1
            res.by_kind[kind][1] += 1
        if settled():
            res.recovered += 1
    res.wrong_commands = sum(a != b for a, b in zip(core.commands, sent)) + abs(len(core.commands) - len(sent))
    res.events, res.commands = state["delivered"], len(core.commands)
    res.rejected = host.decoder.bad + host.decoder.unknown + board.rx_bad
    res.discarded, res.timeouts, res.resends = host.discarded, board.timeouts, host.resends
    res.seconds, res.cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return res


def sim_campaign(faults: int, seed: int = 0, **kw) -> CampaignResult:
    """``faults`` faults on the serial lines of the gateware, simulated by Verilator or Amaranth's
    simulator (``backend``; see :func:`boards.simlink.fault_bench`); about 20 progress lines on stderr."""
    from .simlink import fault_bench

    every = max(10, faults // 20)

    def progress(res: CampaignResult) -> None:
        if res.injected % every == 0:
            print(f"  sim: {res.injected}/{faults} faults, {res.detected} detected, {res.recovered} recovered, "
                  f"{res.wrong_events} wrong events", file=sys.stderr, flush=True)

    return fault_bench(faults, seed, progress=progress, **kw)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m boards.faults", description=__doc__.split("\n\n")[0])
    p.add_argument("--faults", type=int, default=10_000, help="faults against the Python model of the board")
    p.add_argument("--sim-faults", type=int, default=None,
                   help="faults against the simulated gateware (default 10,000 under Verilator, 200 under Amaranth)")
    p.add_argument("--sim-backend", choices=("verilator", "amaranth"), default=None,
                   help="simulator of the gateware (default: verilator where it is installed, else amaranth)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.sim_backend is None:
        from .simlink import default_backend

        a.sim_backend = default_backend()
    if a.sim_faults is None:
        a.sim_faults = 10_000 if a.sim_backend == "verilator" else 200
    if a.faults < 0 or a.sim_faults < 0:
        print("python -m boards.faults: error: --faults and --sim-faults must be >= 0", file=sys.stderr)
        return 2
    results = []
    try:
        if a.sim_faults and a.sim_backend == "verilator":
            from dysta_hw.fp.verilator import verilator_path

            verilator_path()  # before the model's campaign, not after it
        if a.faults:
            results.append(model_campaign(a.faults, a.seed))
            print("\n".join(results[-1].lines()), flush=True)
        if a.sim_faults:
            results.append(sim_campaign(a.sim_faults, a.seed, backend=a.sim_backend))
            print("\n".join(results[-1].lines()), flush=True)
    except LinkError as e:
        print(f"python -m boards.faults: the link did not recover: {e}", file=sys.stderr)
        return 1
    except MissingTool as e:
        print(f"python -m boards.faults: error: --sim-backend verilator: {e}; or choose --sim-backend amaranth",
              file=sys.stderr)
        return 2
    total = sum(r.injected for r in results)
    print(f"total: faults injected {total}, detected {sum(r.detected for r in results)}, "
          f"wrong events delivered {sum(r.wrong_events for r in results)}, "
          f"wrong commands executed {sum(r.wrong_commands for r in results)}, "
          f"recoveries {sum(r.recovered for r in results)}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
