"""Throughput of the board's host link, before (protocol v1: bare frames) and after (SLIP, CRC-16,
sequence numbers and acknowledgements), in events per second at the board's baud rate.

Two figures for each protocol:

- *line rate*: what the line can carry at ``--baud`` (8N1: 10 bits a byte) for this workload's
  mix of events, from the bytes each event takes on the wire (v1: the fixed frame sizes of its
  table; v2: the frames as sent, escapes included);
- *measured*: the simulated board (Amaranth, ``small_workload`` of tests/test_boards.py: 10
  requests, event queues of 2 so that the UART is the bottleneck) from the first request to the
  last event, in simulated cycles converted to seconds at ``--baud`` (a bit is ``divisor``
  cycles). v1's measured figure was taken with this method on the v1 gateware (commit 97e66f8,
  the last with protocol v1): that gateware no longer exists in the tree.

    python benchmarks/link_throughput.py [--baud 115200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from boards.client import HostClient  # noqa: E402
from boards.link import HostLink  # noqa: E402
from boards.simlink import SimTransport  # noqa: E402
from boards.workload import SMALL_PARAMS, small_workload  # noqa: E402
from dysta_sw.hwsched import SchedModel, Timing  # noqa: E402

#: Protocol v1's frame sizes (opcode and fields, nothing else).
V1_BYTES = {"A": 9, "D": 10, "L": 11, "F": 9}
#: v1 measured with this benchmark's method at commit 97e66f8: events and simulated cycles.
V1_MEASURED = {"events": 70, "cycles": 32000, "board_bytes": 705}
DIVISOR = 4


class _Counting:
    """A transport that counts the bytes each way."""

    def __init__(self, inner):
        self.inner, self.up, self.down = inner, 0, 0
        self.bytes_per_read = inner.bytes_per_read

    def write(self, data):
        self.up += len(data)
        self.inner.write(data)

    def read(self):
        data = self.inner.read()
        self.down += len(data)
        return data


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--baud", type=int, default=115200)
    a = p.parse_args(argv)
    if a.baud <= 0:
        print("link_throughput.py: error: --baud must be positive", file=sys.stderr)
        return 2
    byte_s = a.baud / 10
    luts, jobs = small_workload(np.random.default_rng(7))
    link = HostLink(SMALL_PARAMS, jobs, divisor=DIVISOR, queue_depth=2)
    sim = SimTransport(link, step=1000)
    t = _Counting(sim)
    client = HostClient(t, depth=SMALL_PARAMS["depth"])
    client.link.t = t
    client.program(luts.writes())
    up0, down0, cyc0 = t.up, t.down, sim.cycles
    wall = time.perf_counter()
    run = client.run(jobs, SchedModel(luts, Timing.of(shared=True)))
    wall = time.perf_counter() - wall
    kinds = ["A"] * len(run.accepts) + ["D"] * len(run.dispatches) + ["L"] * len(run.layer_dones) + ["F"] * len(
        run.dones)
    n = len(kinds)
    # the run's bytes end with the final status frame: not an event
    status_bytes = 3 + 25 + 2 + 1
    v2_bytes = t.down - down0 - status_bytes
    v1_bytes = sum(V1_BYTES[k] for k in kinds)
    cycles = sim.cycles - cyc0
    per_s = DIVISOR * a.baud  # simulated cycles per second at this baud rate
    print(f"workload: {len(jobs)} requests, {n} events (A {kinds.count('A')}, D {kinds.count('D')}, "
          f"L {kinds.count('L')}, F {kinds.count('F')}); identical to the golden model: {run.identical}")
    print(f"link at {a.baud} baud, 8N1: {byte_s:.0f} bytes/s each way")
    print(f"{'protocol':<26}{'bytes/event':>12}{'line rate ev/s':>16}{'measured ev/s':>15}")
    v1_meas = V1_MEASURED["events"] / (V1_MEASURED["cycles"] / per_s)
    print(f"{'v1 bare frames (before)':<26}{v1_bytes / n:>12.2f}{byte_s * n / v1_bytes:>16.0f}{v1_meas:>15.0f}")
    v2_meas = n / (cycles / per_s)
    print(f"{'v2 SLIP+CRC+ARQ (after)':<26}{v2_bytes / n:>12.2f}{byte_s * n / v2_bytes:>16.0f}{v2_meas:>15.0f}")
    print(f"after/before: line rate {v1_bytes / v2_bytes:.2f}x, measured {v2_meas / v1_meas:.2f}x; "
          f"host to board during the run: {t.up - up0} bytes (requests and acknowledgements); "
          f"board stalled {run.status.stalled} of {cycles} cycles; simulation {wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
