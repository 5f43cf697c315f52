"""Developer sessions: ``nox -s tests``, the heavy test tiers ``tests-<tier>``, ``lint``, ``bench``,
``reproduce``, ``formal`` and the slow sweeps.

Sessions reuse one virtualenv each (``nox -r`` to skip reinstalling). Every test session runs in
an environment with the test extra; ``nox --no-venv --no-install -s tests-hw`` runs one in the
current environment instead (no new virtualenv of ~2 GB per session).
"""

import os

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True

#: The heavy test tiers (pytest markers, pyproject.toml): left out of the README's test command,
#: each run by ``nox -s tests-<tier>``. A test belongs to at most one tier.
TIERS = {
    "slow": "long end-to-end runs: the whole `dysta reproduce --quick` report with HIL and synthesis, "
            "local Dask clusters, the speed benchmark, the compiled engine from an empty JIT cache",
    "hw": "long gateware simulations: random equivalence workloads, depth 512, Verilator cross-simulation",
    "synth": "Yosys and nextpnr: synthesis and place-and-route of FP units and the scheduler",
    "formal": "SymbiYosys + Boolector: bounded checks, the k-induction proof, the cover, the mutants",
    "profiling": "PyTorch: the shipped measured pack's rows profiled again from their seeds",
    "boards": "the host client against the simulated board top-level, board builds",
}


def _pytest(session, *args):
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "-n", "auto", *args, *session.posargs)


@nox.session
def tests(session):
    """The README's test command: every test outside the heavy tiers (<= 10 minutes on 2 cores)."""
    _pytest(session, "-m", "not heavy")


def _tier_session(tier: str, doc: str):
    def run(session):
        _pytest(session, "-m", tier)

    run.__doc__ = f"Test tier `{tier}`: {doc}."
    run.__name__ = f"tests_{tier}"
    return nox.session(name=f"tests-{tier}")(run)


for _tier, _doc in TIERS.items():
    _tier_session(_tier, _doc)


@nox.session(name="tests-all")
def tests_all(session):
    """Every test of every tier (not SparseML's, see `nox -s sparseml`)."""
    _pytest(session, "-m", "not sparseml")


@nox.session
def lint(session):
    """ruff over the whole project, and the import contract of the layers (import-linter)."""
    session.install("-e", ".[lint]")
    session.run("ruff", "check", ".")
    session.run("lint-imports")


@nox.session
def bench(session):
    """Engine speed: cold/warm JIT start, decisions per second per scheduler against a minimal-loop
    bound, and the wall time of the whole reproduce (quick and full, empty JIT cache) by section."""
    session.install("-e", ".[hw,synth]")  # the report's hardware sections are part of what is timed
    session.run("dysta", "bench", "--speed", *session.posargs)


@nox.session(name="cluster-scaling")
def cluster_scaling(session):
    """A 100-seed Table 5 grid on local processes and on a 1- and 2-worker Dask cluster on
    127.0.0.1 (benchmarks/cluster_scaling.py; docs/cluster.md)."""
    session.install("-e", ".[cluster]")
    session.run("python", "benchmarks/cluster_scaling.py", *session.posargs)


@nox.session
def reproduce(session):
    """The main job: the paper's grid on the shipped traces, report in ``reproduce-out/``."""
    session.install("-e", ".")
    session.run("dysta", "reproduce", "--out", "reproduce-out", *session.posargs)


@nox.session(name="fp-exhaustive")
def fp_exhaustive(session):
    """All 2**32 FP16 pairs of add and mul through Verilator vs the golden model (not in CI, ~15 min)."""
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/fp_exhaustive.py", "--mode", "both", "--jobs", "2", *session.posargs)


@nox.session(name="fp-synth")
def fp_synth(session):
    """Yosys xcup/ECP5 resources and nextpnr-ecp5 Fmax of every FP unit."""
    session.install("-e", ".[test,synth]")
    session.run("python", "benchmarks/fp_synth.py", *session.posargs)


@nox.session(name="fp-fmax")
def fp_fmax(session):
    """Standalone ECP5 timing of the FP units: nextpnr Fmax, resources and critical path per depth."""
    session.install("-e", ".[test,synth]")
    session.run("python", "benchmarks/fp_fmax.py", *session.posargs)


@nox.session(name="fp-speed")
def fp_speed(session):
    """Golden-model speed: FP operations per second on one core."""
    session.install("-e", ".")
    session.run("python", "benchmarks/fp_speed.py", *session.posargs)


@nox.session(name="hw-random")
def hw_random(session):
    """The gateware against the golden model on many more random workloads than CI runs
    (12 configurations x DYSTA_HW_SEEDS, default here 40: 480 workloads), and hardware in the loop
    on both scenarios. About 20 minutes on 2 cores."""
    session.install("-e", ".[test]")
    seeds = os.environ.get("DYSTA_HW_SEEDS", "40")
    session.run("python", "-m", "pytest", "-n", "auto", "tests/test_hw_sched.py", "-k", "equivalence",
                *session.posargs, env={"DYSTA_HW_SEEDS": seeds})
    for scenario in ("attnn", "cnn"):
        for unit in ("--shared", "--separate"):
            session.run("dysta", "hil", "--scenario", scenario, unit, "--requests", "200")


@nox.session
def formal(session):
    """Every formal property of the scheduler on both units, bounded to a full-table decision and
    by k-induction, plus the mutants that must fail (``python -m dysta_hw.formal``; a table of
    results and times). Hours on 2 cores; ``-- --help`` for the bounds."""
    session.install("-e", ".[hw,formal]")
    session.run("python", "-m", "dysta_hw.formal", *session.posargs)


@nox.session(name="synth-sweep")
def synth_sweep(session):
    """The scheduler's resources over depth 8..512 x FP16/BF16/FP32 x shared/separate (and the lean
    FP16 designs) on xcup (Yosys), with the Fig. 16-style plot and Table 6, into synth-sweep/; then
    every goal (benchmarks/synth_goals.py: ECP5 place and route, decision latency, board builds).
    Over an hour on 2 cores, cached."""
    session.install("-e", ".[hw,synth,board]")
    session.run("dysta", "synth", "--sweep", "--target", "xcup", "--out", "synth-sweep", *session.posargs)
    session.run("python", "benchmarks/synth_goals.py")


@nox.session(name="synth-ship")
def synth_ship(session):
    """Write dysta_hw/data/synth.json: the Yosys results of dysta reproduce's synthesis designs, shipped so
    that a fresh installation's report finds them instead of running Yosys (run after a gateware change)."""
    session.install("-e", ".[hw,synth]")
    session.run("python", "-c", "from dysta_hw.report import ship_synth; ship_synth()")


@nox.session(name="synth-docs")
def synth_docs(session):
    """Regenerate docs/synth.md's measured blocks (the xcup sweep at depths 64 and 512 with the
    lean designs, Fig. 16's normalised table and docs/img/fig16_resources.png, Table 6, and every
    goal measured) from the installed design, in one command. About an hour cold on 2 cores, cached;
    ``-- --depths 8,16,32,64,128,256,512`` for the whole sweep."""
    session.install("-e", ".[hw,synth,board]")
    session.run("python", "benchmarks/synth_goals.py", "--docs", "docs/synth.md", *session.posargs)


@nox.session
def boards(session):
    """Every board build (ULX3S and iCEBreaker bitstreams, the ZCU104 Vivado plan) and each
    board's shipped workload on its simulated top-level against the golden model (~15 min)."""
    session.install("-e", ".[board]")
    for board in ("ulx3s", "icebreaker", "zcu104"):
        session.run("dysta", "board", "build", board, "--out", f"build-{board}")
    for board in ("ulx3s", "icebreaker"):
        session.run("dysta", "board", "sim", board)


@nox.session(name="link-faults")
def link_faults(session):
    """The board link under injected faults (``python -m boards.faults``): 10,000 against the Python
    model of the board's link logic and 10,000 on the serial lines of the gateware itself (HostLink,
    the host's UART and the fault injectors compiled by Verilator); prints faults injected,
    detected, wrong events delivered (must be 0), wrong commands (0) and recoveries. About 4
    minutes on 2 cores. Without Verilator: ``-- --sim-backend amaranth --sim-faults 200``
    (Amaranth's simulator, about 8 minutes for 200)."""
    session.install("-e", ".[board]")
    session.run("python", "-m", "boards.faults", "--faults", "10000", "--sim-faults", "10000", *session.posargs)


@nox.session(name="link-throughput")
def link_throughput(session):
    """Events per second the board link carries at 115200 baud, protocol v1 (before) and v2 (SLIP,
    CRC, acknowledgements), on the simulated board (benchmarks/link_throughput.py; ~3 min)."""
    session.install("-e", ".[board]")
    session.run("python", "benchmarks/link_throughput.py", *session.posargs)


@nox.session(name="pack")
def measured_pack(session):
    """Regenerate the default measured trace pack ``measured-v2`` from scratch, deterministically from
    its seed (profiling/: BERT-base, BART, GPT-2 on task-shaped text; the CNNs at 224 px, SSD at 300,
    on the published artifact's Eyeriss-V2 cost model; 100 samples each). About 25 minutes of one
    idle core (SSD and VGG-16 take most of it). ``nox -s pack -- --name measured-v1 --out
    dysta_sw/data/measured-v1.csv.gz`` rebuilds the previous pack instead."""
    session.install("-e", ".[profiling]")
    args = session.posargs or ["--name", "measured-v2", "--out", "dysta_sw/data/measured-v2.csv.gz"]
    session.run("python", "-m", "profiling", "pack", "--samples", "100", *args, env={"HF_HUB_OFFLINE": "1"})


#: SparseML 1.8.0 only installs pinned, in its own environment (1.9.0 is an end-of-life stub).
SPARSEML_PINS = ("torch==2.13.0", "sparseml[torch]==1.8.0", "sparsezoo<1.9", "setuptools>=77.0.3,<81")


@nox.session(name="sparseml", python="3.11")
def sparseml_recipes(session):
    """The SparseML recipe path of profiling/ (``dysta profile --recipe``), in its own pinned
    environment: SparseML 1.8.0 needs Python < 3.12 and downgrades numpy to 1.26 (~1.5 GB). Not in CI."""
    session.install("-e", ".[profiling]", "pytest>=8", "pytest-xdist>=3")
    session.install(*SPARSEML_PINS)
    env = {"NM_DISABLE_ANALYTICS": "1", "HF_HUB_OFFLINE": "1", "DYSTA_REQUIRE_SPARSEML": "1"}
    session.run("python", "-m", "pytest", "-n", "0", "tests/test_sparseml.py", *session.posargs, env=env)
