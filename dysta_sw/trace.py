"""Trace packs: per (sample, layer) latency and density of sparse models on an accelerator.

A *model-pattern* is one model sparsified with one pattern at one rate, named
``model/pattern/rate`` (e.g. ``resnet50/channel/0.5``). Its trace holds, for every input
sample ``s`` and layer ``l``, the layer latency ``lat[s, l]`` (seconds on the target
accelerator) and the density ``rho[s, l]`` the hardware monitor would count, plus each
layer's output size ``shape[l]`` (elements). A *trace pack* groups model-patterns into
scenarios (``attnn``, ``cnn``).

File format ``dysta-trace-pack v1`` (gzip-compressed when the name ends in ``.gz``)::

    # dysta-trace-pack v1
    # meta: {"name": ..., "synthetic": ..., "model_patterns": {...}, "scenarios": {...}}
    model_pattern,sample,layer,latency_s,density,output_size,split
    bert/sanger/0.002,0,0,0.00121,0.31,49152,calib
    ...

One CSV row per (model-pattern, sample, layer); layers of a sample are listed in order
``0..L-1``; ``split`` is ``calib`` (used for the scheduler's look-up tables) or ``test``.
The JSON metadata line records the provenance of every model-pattern. See the README.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import json
import os
import zlib
from array import array
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from .errors import DystaInputError, check_interrupt

MAGIC = "# dysta-trace-pack"
VERSION = 1
COLUMNS = ("model_pattern", "sample", "layer", "latency_s", "density", "output_size", "split")
#: The range of a layer's latency a pack may hold, in seconds: a femtosecond to about 30 years, so
#: that a model's sum of layers, a workload's span and their ratios stay well inside float64.
MIN_LATENCY_S, MAX_LATENCY_S = 1e-15, 1e9
SPLITS = ("calib", "test")


@dataclass(eq=False)
class ModelPattern:
    """The trace of one model-pattern and the statistics the schedulers derive from it.

    Attributes
    ----------
    name : str
        ``model/pattern/rate``.
    lat : ndarray, shape (S, L)
        True latency of every (sample, layer), seconds.
    rho : ndarray, shape (S, L)
        True density (fraction of non-zeros) of every (sample, layer) output.
    shape : ndarray, shape (L,)
        Output size of every layer, elements.
    calib : ndarray of bool, shape (S,)
        Samples of the calibration split; the look-up tables are built from these only.
    meta : dict
        Provenance: accelerator, clock, how the trace was produced.
    """

    name: str
    lat: np.ndarray
    rho: np.ndarray
    shape: np.ndarray
    calib: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def model(self) -> str:
        return self.name.split("/")[0]

    @property
    def pattern(self) -> str:
        return "/".join(self.name.split("/")[1:])

    @property
    def n_samples(self) -> int:
        return self.lat.shape[0]

    @property
    def n_layers(self) -> int:
        return self.lat.shape[1]

    @cached_property
    def lbar(self) -> np.ndarray:
        """Mean latency per layer over the calibration split."""
        return self.lat[self.calib].mean(axis=0)

    @cached_property
    def rbar(self) -> np.ndarray:
        """Remaining-latency suffix sums ``Rbar[l] = sum_{j>=l} Lbar[j]``, with ``Rbar[L] = 0``."""
        return np.append(np.cumsum(self.lbar[::-1])[::-1], 0.0)

    @cached_property
    def rhobar(self) -> np.ndarray:
        """Mean density per layer over the calibration split."""
        return self.rho[self.calib].mean(axis=0)

    @property
    def tiso_est(self) -> float:
        """Estimated isolated latency ``Rbar[0]``."""
        return float(self.rbar[0])

    @cached_property
    def tiso(self) -> np.ndarray:
        """True isolated latency of every sample."""
        return self.lat.sum(axis=1)


#: Mean isolated latency (seconds) of a request of each scenario at the paper's scale: the
#: computational capacity for which the paper set its arrival rates and its Dysta weights (Sanger
#: at 1 GHz, Eyeriss-V2 at 200 MHz on the authors' traces; synthetic-v1 is generated at this scale).
#: At :data:`PAPER_RATES` these give offered loads of 0.81 and 1.08 (AttNN), 0.80 and 1.06 (CNN).
PAPER_SCALE_S = {"attnn": 0.027, "cnn": 0.265}
#: The paper's arrival rates (requests/s) at that scale: Table 5's, and the heavier one of Figs. 12 and 14.
PAPER_RATES = {"attnn": (30.0, 40.0), "cnn": (3.0, 4.0)}


def round_sig(x: float, digits: int = 3) -> float:
    """``x`` rounded to ``digits`` significant digits."""
    return float(f"{x:.{digits - 1}e}")


@dataclass(eq=False)
class TracePack:
    """Model-patterns grouped into scenarios, with the pack's provenance.

    Attributes
    ----------
    name : str
        Pack name, e.g. ``synthetic-v1``.
    meta : dict
        Pack metadata; ``meta["synthetic"]`` is true for generated (not measured) traces.
    model_patterns : dict of str to ModelPattern
    scenarios : dict of str to list of str
        Scenario name to the model-pattern names it draws requests from.
    source : str
        Where the pack was loaded from (for error messages and reports).
    """

    name: str
    meta: dict
    model_patterns: dict[str, ModelPattern]
    scenarios: dict[str, list[str]]
    source: str = "<memory>"

    @property
    def synthetic(self) -> bool:
        return bool(self.meta.get("synthetic", False))

    def scenario(self, name: str) -> list[ModelPattern]:
        """The model-patterns of scenario ``name``."""
        if name not in self.scenarios:
            known = ", ".join(sorted(self.scenarios))
            raise DystaInputError(
                f"trace pack {self.name!r} has no scenario {name!r}; choose one of: {known}")
        return [self.model_patterns[n] for n in self.scenarios[name]]

    def mean_tiso(self, scenario: str) -> float:
        """Mean isolated latency of a request of ``scenario`` (model-pattern drawn uniformly, then a
        sample), seconds."""
        return float(np.mean([mp.tiso.mean() for mp in self.scenario(scenario)]))

    def capacity(self, scenario: str) -> float:
        """How many times faster than at the paper's scale (:data:`PAPER_SCALE_S`) the requests of
        ``scenario`` run on this pack's accelerator, to 3 significant digits (1 for synthetic-v1).

        Arrival rates and the time unit of Dysta's score follow it, so that a pack profiled on a
        faster or slower accelerator is benchmarked at the paper's offered load: the paper set its
        rates "given the computational capacity" of its accelerators (Sec. 6.2). A scenario with no
        paper scale has capacity 1."""
        ref = PAPER_SCALE_S.get(scenario)
        return 1.0 if ref is None else round_sig(ref / self.mean_tiso(scenario))

    def paper_rate(self, scenario: str, rate: float | None = None) -> float:
        """The paper's arrival ``rate`` (requests/s at its scale; default Table 5's) on this pack:
        ``rate * capacity``, to 3 significant digits. A scenario the paper has no rate for gets
        Table 5's offered load, 0.8."""
        if rate is None:
            rate = PAPER_RATES[scenario][0] if scenario in PAPER_RATES else 0.8 / self.mean_tiso(scenario)
        return round_sig(rate * self.capacity(scenario))

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of the pack's content, recorded in workloads and results."""
        h = hashlib.sha256()
        for name in sorted(self.model_patterns):
            mp = self.model_patterns[name]
            h.update(name.encode())
            for a in (mp.lat, mp.rho, mp.shape, mp.calib):
                h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()[:16]

    def provenance(self) -> str:
        """One line saying what the traces are, for reports."""
        kind = "SYNTHETIC (generated, not measured)" if self.synthetic else "measured"
        return f"{self.name} [{kind}] fingerprint {self.fingerprint}: {self.meta.get('description', '')}"


# ----------------------------------------------------------------------------- writing

def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary name beside ``path``, then rename it to ``path``: a reader (or an
    interrupted run) never sees a half-written file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as e:  # name the file asked for, not the temporary one
        raise DystaInputError(f"cannot write {str(path)!r}: {e.strerror or e}; write elsewhere") from None
    finally:
        tmp.unlink(missing_ok=True)


def save_pack(pack: TracePack, path: str | Path) -> None:
    """Write ``pack`` in the ``dysta-trace-pack v1`` format (gzip if the name ends in ``.gz``), to a
    temporary name then renamed."""
    path = Path(path)
    meta = dict(pack.meta)
    meta["name"] = pack.name
    meta["scenarios"] = pack.scenarios
    meta["model_patterns"] = {n: mp.meta for n, mp in pack.model_patterns.items()}
    buf = io.StringIO()
    buf.write(f"{MAGIC} v{VERSION}\n")
    buf.write("# meta: " + json.dumps(meta, sort_keys=True) + "\n")
    buf.write(",".join(COLUMNS) + "\n")
    for name, mp in pack.model_patterns.items():
        lat, rho, shape = mp.lat.tolist(), mp.rho.tolist(), mp.shape.tolist()
        for s in range(mp.n_samples):
            split = "calib" if mp.calib[s] else "test"
            for layer in range(mp.n_layers):
                buf.write(f"{name},{s},{layer},{lat[s][layer]!r},{rho[s][layer]!r},"
                          f"{shape[layer]},{split}\n")
    data = buf.getvalue().encode()
    if path.suffix == ".gz":
        # mtime=0 keeps regenerated packs byte-identical.
        data = gzip.compress(data, mtime=0)
    write_atomic(path, data)


# ----------------------------------------------------------------------------- reading

class _Lines:
    """The lines of a text file (gzip-compressed or not), read as they are needed; decoding and
    decompression errors become :class:`DystaInputError` naming the file and the line."""

    def __init__(self, path: Path):
        self.path = path
        self.gz = False
        try:
            with open(path, "rb") as f:
                gz = f.read(2) == b"\x1f\x8b"
            raw = gzip.open(path, "rb") if gz else open(path, "rb")  # noqa: SIM115 (closed by close())
        except OSError as e:
            raise DystaInputError(f"{path}: cannot be read ({e.strerror or e}); give a readable trace or "
                                  "workload file") from None
        self._f = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        self.gz = gz
        self.line = 0

    def _fail(self, e: Exception):
        if isinstance(e, UnicodeDecodeError):
            raise DystaInputError(f"{self.path}, line {self.line + 1}: not UTF-8 text ({e.reason}); is this a "
                                  "dysta file?") from None
        if isinstance(e, OSError) and not isinstance(e, (EOFError, zlib.error, gzip.BadGzipFile)) and not self.gz:
            raise DystaInputError(f"{self.path}: cannot be read after line {self.line} ({e.strerror or e}); "
                                  "give a readable trace or workload file") from None
        raise DystaInputError(f"{self.path}: corrupt or truncated gzip data after line {self.line} ({e}); "
                              "regenerate or re-download the file") from None

    def readline(self) -> str:
        try:
            text = self._f.readline()
        except (UnicodeDecodeError, OSError, EOFError, zlib.error) as e:
            self._fail(e)
        self.line += 1
        return text

    def __iter__(self):
        return self

    def __next__(self) -> str:
        text = self.readline()
        if not text:
            raise StopIteration
        return text

    def blocks(self, size: int = 1 << 20):
        """The rest of the file as lists of whole lines (without their ends); ``self.line`` is the
        number of the line before each list's first."""
        tail = ""
        while True:
            try:
                text = self._f.read(size)
            except (UnicodeDecodeError, OSError, EOFError, zlib.error) as e:
                self._fail(e)
            if not text:
                break
            text = tail + text
            cut = text.rfind("\n")
            if cut < 0:
                tail = text
                continue
            tail = text[cut + 1:]
            block = text[:cut]
            if "\r" in block:
                block = block.replace("\r", "")
            lines = block.split("\n")
            yield lines
            self.line += len(lines)
        if tail.strip():
            yield [tail.rstrip("\r")]
            self.line += 1

    def close(self):
        self._f.close()


@contextlib.contextmanager
def text_lines(path: str | Path):
    """The lines of ``path`` (gzip or plain UTF-8 text), streamed; see :class:`_Lines`."""
    f = _Lines(Path(path))
    try:
        yield f
    finally:
        f.close()


def _open_text(path: Path) -> io.TextIOBase:
    """The whole text of a (small) dysta file: for reading its header alone, use :func:`text_lines`."""
    with text_lines(path) as lines:
        return io.StringIO("".join(lines))


def read_header(lines, path, magic: str, version: int) -> dict:
    """Parse the two comment lines (magic/version and JSON metadata) shared by dysta files."""
    first = lines.readline().rstrip("\r\n")
    if not first.startswith(magic):
        raise DystaInputError(
            f"{path}, line 1: expected '{magic} v{version}', found {first[:60]!r}; "
            f"this is not a {magic[2:]} file")
    got = first[len(magic):].strip()
    if got != f"v{version}":
        raise DystaInputError(
            f"{path}, line 1: format version {got!r} is not supported (this dysta reads v{version}); "
            "upgrade dysta or regenerate the file")
    second = lines.readline().rstrip("\r\n")
    if not second.startswith("# meta: "):
        raise DystaInputError(f"{path}, line 2: expected '# meta: {{json}}', found {second[:60]!r}")
    try:
        meta = json.loads(second[len("# meta: "):])
    except (json.JSONDecodeError, RecursionError) as e:
        raise DystaInputError(f"{path}, line 2: metadata is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise DystaInputError(f"{path}, line 2: metadata must be a JSON object {{...}}, not {type(meta).__name__}")
    return meta


def read_rows(lines, path, columns: tuple[str, ...]):
    """Read the CSV header (line 3) and return the rows with their file line numbers."""
    reader = _reader(lines, path, columns)
    rows = []
    for row in reader:
        if not row:
            continue
        if len(row) != len(columns):
            raise DystaInputError(
                f"{path}, line {reader.line_num + 2}: {len(row)} fields, expected {len(columns)} "
                f"({','.join(columns)})")
        rows.append((reader.line_num + 2, row))
    if not rows:
        raise DystaInputError(f"{path}: the file has a header but no data rows")
    return rows


def _reader(lines, path, columns):
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise DystaInputError(f"{path}, line 3: missing the column header {','.join(columns)}") from None
    except csv.Error as e:
        raise DystaInputError(f"{path}, line 3: {e}") from None
    if tuple(h.strip() for h in header) != columns:
        raise DystaInputError(
            f"{path}, line 3: columns are {','.join(header)!r}, expected {','.join(columns)!r}")
    return _CsvRows(reader, path)


class _CsvRows:
    """A csv reader whose syntax errors name the file and line."""

    def __init__(self, reader, path):
        self._r, self._path = reader, path

    @property
    def line_num(self) -> int:
        return self._r.line_num

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._r)
        except csv.Error as e:
            raise DystaInputError(f"{self._path}, line {self._r.line_num + 2}: {e}") from None


_INT64 = (-(2 ** 63), 2 ** 63 - 1)


def _convert(values, path, lines, name: str, kind) -> np.ndarray:
    """``values`` (strings) as int64 or float64; the first bad one named with its line."""
    try:
        return np.asarray(values).astype(np.int64 if kind is int else np.float64)
    except (ValueError, OverflowError):
        pass
    for v, line in zip(values, lines):
        try:
            x = kind(v)
        except ValueError:
            raise DystaInputError(
                f"{path}, line {line}: {name} {v!r} is not a{'n integer' if kind is int else ' number'}") from None
        if kind is int and not _INT64[0] <= x <= _INT64[1]:
            raise DystaInputError(f"{path}, line {line}: {name} {v} is too large (the largest is {_INT64[1]:,})")
    raise DystaInputError(f"{path}: column {name} could not be read")  # not reached: one value failed above


def parse_column(rows, path, col: int, name: str, kind):
    """Convert column ``col`` of ``rows`` to ``kind`` (int or float), naming the first bad row."""
    return _convert([r[col] for _, r in rows], path, [ln for ln, _ in rows], name, kind)


def _check_pack_meta(meta: dict, path) -> None:
    """The types of a pack's metadata, naming the key and the fix."""
    where = f"{path}, line 2"
    for key in ("name", "model_patterns", "scenarios"):
        if key not in meta:
            raise DystaInputError(f"{where}: metadata lacks the key {key!r}")
    if not isinstance(meta["name"], str) or not meta["name"].strip():
        raise DystaInputError(f"{where}: metadata \"name\" must be a non-empty string, not {json.dumps(meta['name'])}")
    mps = meta["model_patterns"]
    if not isinstance(mps, dict):
        raise DystaInputError(f"{where}: metadata \"model_patterns\" must be an object mapping each model-pattern "
                              f"to its provenance {{\"bert/sanger/0.002\": {{...}}}}, not a {type(mps).__name__}")
    for name, m in mps.items():
        if not isinstance(m, dict):
            raise DystaInputError(f"{where}: metadata of model-pattern {name!r} must be an object {{...}}, not "
                                  f"{json.dumps(m)[:40]}")
    scen = meta["scenarios"]
    if not isinstance(scen, dict) or not scen:
        raise DystaInputError(f"{where}: metadata \"scenarios\" must be a non-empty object mapping each scenario to "
                              f"its model-patterns {{\"attnn\": [...]}}, not {json.dumps(scen)[:40]}")
    for sc, members in scen.items():
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise DystaInputError(f"{where}: scenario {sc!r} must list its model-patterns' names [\"...\", ...], "
                                  f"not {json.dumps(members)[:40]}")
        if not members:
            raise DystaInputError(f"{where}: scenario {sc!r} lists no model-pattern; give it at least one or "
                                  "remove it")
        twice = [m for m in dict.fromkeys(members) if members.count(m) > 1]
        if twice:
            raise DystaInputError(f"{where}: scenario {sc!r} lists model-pattern {twice[0]!r} twice (it would "
                                  "draw twice as many requests); list each model-pattern once")
        for m in members:
            if m not in mps:
                raise DystaInputError(f"{where}: scenario {sc!r} names model-pattern {m!r}, which is not declared "
                                      "in \"model_patterns\"; declare it or remove it from the scenario")
    for key, kind in (("synthetic", bool), ("description", str)):
        if key in meta and not isinstance(meta[key], kind):
            want = "true or false" if kind is bool else "a string"
            raise DystaInputError(f"{where}: metadata \"{key}\" must be {want}, not {json.dumps(meta[key])[:40]}")


def _declared_counts(meta: dict, mp_meta: dict):
    """(what, samples) and (what, layers) the metadata declares for one model-pattern, where it does."""
    samples, layers = [], []
    gen = meta.get("generator")
    if isinstance(gen, dict) and _is_int(gen.get("n_samples")):
        samples.append(("the pack's generator.n_samples", gen["n_samples"]))
    for key in ("n_samples", "samples"):
        if _is_int(mp_meta.get(key)):
            samples.append((key, mp_meta[key]))
    inputs = mp_meta.get("inputs")
    if isinstance(inputs, dict) and _is_int(inputs.get("samples")):
        samples.append(("inputs.samples", inputs["samples"]))
    if _is_int(mp_meta.get("n_layers")):
        layers.append(("n_layers", mp_meta["n_layers"]))
    if isinstance(mp_meta.get("layers"), list):
        layers.append(("its list of layer names", len(mp_meta["layers"])))
    return samples, layers


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _read_columns(lines: _Lines, path):
    """The rows of a pack as compact columns, parsed a block of lines at a time: memory grows by
    about 60 bytes per row (the file's text is never held whole)."""
    _reader(lines, path, COLUMNS)  # the header line
    codes: dict[str, int] = {}
    mp, sample, layer, size, line_no = (array("q") for _ in range(5))
    lat, rho = array("d"), array("d")
    split = bytearray()
    n_cols = len(COLUMNS)
    for block in lines.blocks():
        first = lines.line + 1  # file line of block[0]
        nums = np.arange(first, first + len(block))
        if "" in block:  # blank lines are allowed (and skipped)
            keep = [i for i, ln in enumerate(block) if ln.strip()]
            block, nums = [block[i] for i in keep], nums[keep]
            if not block:
                continue
        if any('"' in ln for ln in block):  # quoted fields: the csv module's parser
            fields = list(csv.reader(block))
        else:
            fields = [ln.split(",") for ln in block]
        widths = np.fromiter(map(len, fields), dtype=np.int64, count=len(fields))
        bad = np.flatnonzero(widths != n_cols)
        if bad.size:
            k = int(bad[0])
            raise DystaInputError(f"{path}, line {nums[k]}: {widths[k]} fields, expected {n_cols} "
                                  f"({','.join(COLUMNS)})")
        cols = list(zip(*fields))
        del fields
        line_list = nums.tolist()
        names, inverse = np.unique(np.asarray(cols[0]), return_inverse=True)
        local = np.array([codes.setdefault(str(n), len(codes)) for n in names], dtype=np.int64)
        mp.frombytes(local[inverse.ravel()].tobytes())
        sample.frombytes(_convert(cols[1], path, line_list, "sample", int).tobytes())
        layer.frombytes(_convert(cols[2], path, line_list, "layer", int).tobytes())
        lat.frombytes(_convert(cols[3], path, line_list, "latency_s", float).tobytes())
        rho.frombytes(_convert(cols[4], path, line_list, "density", float).tobytes())
        size.frombytes(_convert(cols[5], path, line_list, "output_size", int).tobytes())
        spl = np.asarray(cols[6])
        calib = spl == "calib"
        wrong = np.flatnonzero(~calib & (spl != "test"))
        if wrong.size:
            k = int(wrong[0])
            raise DystaInputError(f"{path}, line {line_list[k]}: split must be 'calib' or 'test', not {str(spl[k])!r}")
        split.extend(calib.astype(np.uint8).tobytes())
        line_no.frombytes(nums.astype(np.int64).tobytes())
        check_interrupt()
    if not len(mp):
        raise DystaInputError(f"{path}: the file has a header but no data rows")
    arr = {k: np.frombuffer(v, dtype=np.int64) for k, v in
           (("mp", mp), ("sample", sample), ("layer", layer), ("size", size), ("line", line_no))}
    arr["lat"] = np.frombuffer(lat, dtype=np.float64)
    arr["rho"] = np.frombuffer(rho, dtype=np.float64)
    arr["calib"] = np.frombuffer(bytes(split), dtype=np.uint8).astype(bool)
    return list(codes), arr


def load_pack(path: str | Path) -> TracePack:
    """Load and validate a trace pack file, streaming it (memory about 60 bytes per row).

    Checks every row (numbers, ranges, layer and sample order) and the metadata against the rows:
    its types, every declared model-pattern present once and in one block of rows, scenarios
    neither empty nor naming a model-pattern twice, and the sample and layer counts the metadata
    records (``generator.n_samples``, a model-pattern's ``layers`` names ...).

    Raises
    ------
    DystaInputError
        Naming the file, the line and the fix, for any malformed content.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise DystaInputError(f"trace pack {str(path)!r} {what}; run 'dysta traces list' to see the shipped packs")
    with text_lines(path) as lines:
        meta = read_header(lines, path, MAGIC, VERSION)
        _check_pack_meta(meta, path)
        names, col = _read_columns(lines, path)
    lineno = col["line"]
    code, sample, layer, lat, rho, size = col["mp"], col["sample"], col["layer"], col["lat"], col["rho"], col["size"]

    def fail(mask, what, offset=0):
        bad = np.flatnonzero(mask)
        if bad.size:
            raise DystaInputError(f"{path}, line {lineno[offset + bad[0]]}: {what}")

    fail(~np.isfinite(lat) | (lat <= 0), "latency_s must be a positive finite number of seconds")
    fail((lat < MIN_LATENCY_S) | (lat > MAX_LATENCY_S),
         f"latency_s must lie from {MIN_LATENCY_S:g} to {MAX_LATENCY_S:g} s (a layer's isolated latency; "
         "beyond that a run's clock and its sums lose float64's resolution or overflow): rescale the pack")
    fail(~np.isfinite(rho) | (rho < 0) | (rho > 1), "density must lie in [0, 1]")
    fail(size <= 0, "output_size must be a positive number of elements")
    fail(sample < 0, "sample must be >= 0")
    fail(layer < 0, "layer must be >= 0")

    # Each model-pattern's rows form one block: a second block is the model-pattern listed twice.
    starts = np.flatnonzero(np.append(True, code[1:] != code[:-1]))
    block_code = code[starts]
    if block_code.size != len(names):
        seen: set = set()
        for k, c in enumerate(block_code.tolist()):
            if c in seen:
                first = int(starts[int(np.flatnonzero(block_code == c)[0])])
                raise DystaInputError(
                    f"{path}, line {lineno[starts[k]]}: model-pattern {names[c]!r} is listed again (its rows "
                    f"began at line {lineno[first]}); a model-pattern's rows must be one block: remove the duplicate")
            seen.add(c)
    ends = np.append(starts[1:], code.size)
    declared = meta["model_patterns"]
    mps = {}
    for c, lo, hi in zip(block_code.tolist(), starts.tolist(), ends.tolist()):
        name = names[c]
        where = f"{path}, line {lineno[lo]}"
        if name not in declared:
            raise DystaInputError(f"{where}: model-pattern {name!r} is not declared in the metadata (line 2)")
        if name.count("/") < 2 or any(not part for part in name.split("/")):
            raise DystaInputError(f"{where}: model-pattern {name!r} must be named model/pattern/rate")
        s, lay = sample[lo:hi], layer[lo:hi]
        # Rows of one sample are contiguous and list layers 0..L-1 in order.
        first = np.flatnonzero(lay == 0)
        if first.size == 0 or first[0] != 0:
            raise DystaInputError(f"{where}: {name}: the first row of a sample must be layer 0")
        n_layers = np.diff(np.append(first, hi - lo))
        if np.any(n_layers != n_layers[0]):
            k = int(np.flatnonzero(n_layers != n_layers[0])[0])
            raise DystaInputError(
                f"{path}, line {lineno[lo + first[k]]}: {name} sample {s[first[k]]} has "
                f"{n_layers[k]} layers but the first sample has {n_layers[0]}; every sample of a "
                "model-pattern must list the same layers")
        n_l = int(n_layers[0])
        n_s = first.size
        expect = np.tile(np.arange(n_l), n_s)
        bad = np.flatnonzero(lay != expect)
        if bad.size:
            k = int(bad[0])
            raise DystaInputError(
                f"{path}, line {lineno[lo + k]}: {name} layer index {lay[k]} out of order (expected {expect[k]}); "
                f"layers must be listed 0..{n_l - 1} for each sample")
        s2 = s.reshape(n_s, n_l)
        fail((s2 != s2[:, :1]).ravel(), f"{name} sample index changes within a sample's layers", lo)
        bad = np.flatnonzero(s2[:, 0] != np.arange(n_s))
        if bad.size:
            k = int(bad[0])
            raise DystaInputError(
                f"{path}, line {lineno[lo + k * n_l]}: {name} sample {s2[k, 0]} where {k} was "
                "expected; samples must be numbered 0, 1, 2, ... without gaps")
        shp = size[lo:hi].reshape(n_s, n_l)
        fail((shp != shp[0]).ravel(), f"{name} output_size of a layer must be the same for every sample", lo)
        spl = col["calib"][lo:hi].reshape(n_s, n_l)
        fail((spl != spl[:, :1]).ravel(), f"{name} split changes within a sample", lo)
        calib = spl[:, 0].copy()
        if not calib.any():
            raise DystaInputError(f"{where}: {name} has no 'calib' sample; the look-up tables need at "
                                  "least one calibration sample")
        zero = np.flatnonzero(rho[lo:hi].reshape(n_s, n_l)[calib].max(axis=0) == 0)
        if zero.size:
            raise DystaInputError(f"{where}: {name} layer {int(zero[0])} has density 0 in every calibration sample; "
                                  "the sparse latency predictor divides by that mean density: give the layer a "
                                  "non-zero density in at least one calib sample")
        samples, layers = _declared_counts(meta, declared[name])
        for what, n in samples:
            if n != n_s:
                raise DystaInputError(f"{where}: {name} has {n_s} samples but {what} in the metadata says {n}; "
                                      "the file was cut or edited: regenerate it, or fix the metadata")
        for what, n in layers:
            if n != n_l:
                raise DystaInputError(f"{where}: {name} has {n_l} layers but {what} in the metadata says {n}; "
                                      "regenerate the file, or fix the metadata")
        lnames = declared[name].get("layers")
        if isinstance(lnames, list) and len(set(map(str, lnames))) != len(lnames):
            raise DystaInputError(f"{path}, line 2: {name}: its list of layer names names a layer twice")
        mps[name] = ModelPattern(name=name, lat=lat[lo:hi].reshape(n_s, n_l), rho=rho[lo:hi].reshape(n_s, n_l),
                                 shape=shp[0].copy(), calib=calib, meta=declared[name])
    missing = [n for n in declared if n not in mps]
    if missing:
        raise DystaInputError(f"{path}, line 2: the metadata declares model-pattern {missing[0]!r}, which has no "
                              "rows in the file; remove it from the metadata or add its rows")
    scenarios = meta["scenarios"]
    pack_meta = {k: v for k, v in meta.items() if k not in ("model_patterns", "scenarios", "name")}
    return TracePack(name=meta["name"], meta=pack_meta, model_patterns=mps, scenarios=scenarios,
                     source=str(path))


# ----------------------------------------------------------------------------- shipped packs

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_PACK = "measured-v2"


def shipped_packs() -> dict[str, Path]:
    """Names and paths of the trace packs that ship inside the package."""
    return {p.name.split(".")[0]: p for p in sorted(DATA_DIR.glob("*.csv.gz"))}


def resolve_pack(name_or_path: str | None) -> TracePack:
    """Load a shipped pack by name (default when ``None``) or any pack file by path."""
    if name_or_path is not None and not name_or_path.strip():
        raise DystaInputError(f"--traces is empty; give a shipped pack ({', '.join(shipped_packs())}) or a pack file")
    name_or_path = name_or_path or DEFAULT_PACK
    packs = shipped_packs()
    if name_or_path in packs:
        return _load_cached(str(packs[name_or_path]))
    p = Path(name_or_path)
    if p.is_file():
        return _load_cached(str(p.resolve()))
    raise DystaInputError(
        f"unknown trace pack {name_or_path!r}: give a file path or one of the shipped packs "
        f"({', '.join(packs) or 'none'})")


_CACHE: dict[str, TracePack] = {}


def _load_cached(path: str) -> TracePack:
    if path not in _CACHE:
        _CACHE[path] = load_pack(path)
    return _CACHE[path]
