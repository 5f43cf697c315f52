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

import csv
import gzip
import hashlib
import io
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from .errors import DystaInputError

MAGIC = "# dysta-trace-pack"
VERSION = 1
COLUMNS = ("model_pattern", "sample", "layer", "latency_s", "density", "output_size", "split")
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

def save_pack(pack: TracePack, path: str | Path) -> None:
    """Write ``pack`` in the ``dysta-trace-pack v1`` format (gzip if the name ends in ``.gz``)."""
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
    path.write_bytes(data)


# ----------------------------------------------------------------------------- reading

def _open_text(path: Path) -> io.TextIOBase:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise DystaInputError(f"{path}: corrupt gzip data ({e}); regenerate or re-download the file") from e
    try:
        return io.StringIO(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise DystaInputError(f"{path}: not a UTF-8 text file ({e}); is this a dysta trace pack?") from e


def read_header(lines, path, magic: str, version: int) -> dict:
    """Parse the two comment lines (magic/version and JSON metadata) shared by dysta files."""
    first = lines.readline().rstrip("\n")
    if not first.startswith(magic):
        raise DystaInputError(
            f"{path}, line 1: expected '{magic} v{version}', found {first[:60]!r}; "
            f"this is not a {magic[2:]} file")
    got = first[len(magic):].strip()
    if got != f"v{version}":
        raise DystaInputError(
            f"{path}, line 1: format version {got!r} is not supported (this dysta reads v{version}); "
            "upgrade dysta or regenerate the file")
    second = lines.readline().rstrip("\n")
    if not second.startswith("# meta: "):
        raise DystaInputError(f"{path}, line 2: expected '# meta: {{json}}', found {second[:60]!r}")
    try:
        meta = json.loads(second[len("# meta: "):])
    except json.JSONDecodeError as e:
        raise DystaInputError(f"{path}, line 2: metadata is not valid JSON ({e})") from e
    if not isinstance(meta, dict):
        raise DystaInputError(f"{path}, line 2: metadata must be a JSON object")
    return meta


def read_rows(lines, path, columns: tuple[str, ...]):
    """Read the CSV header (line 3) and return the rows with their file line numbers."""
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise DystaInputError(f"{path}, line 3: missing the column header {','.join(columns)}") from None
    if tuple(h.strip() for h in header) != columns:
        raise DystaInputError(
            f"{path}, line 3: columns are {','.join(header)!r}, expected {','.join(columns)!r}")
    rows = []
    for i, row in enumerate(reader):
        if not row:
            continue
        if len(row) != len(columns):
            raise DystaInputError(
                f"{path}, line {i + 4}: {len(row)} fields, expected {len(columns)} ({','.join(columns)})")
        rows.append((i + 4, row))
    if not rows:
        raise DystaInputError(f"{path}: the file has a header but no data rows")
    return rows


def parse_column(rows, path, col: int, name: str, kind):
    """Convert column ``col`` of ``rows`` to ``kind`` (int or float), naming the first bad row."""
    out = []
    for line, row in rows:
        try:
            out.append(kind(row[col]))
        except ValueError:
            raise DystaInputError(
                f"{path}, line {line}: {name} {row[col]!r} is not a{'n integer' if kind is int else ' number'}"
            ) from None
    return np.array(out, dtype=np.int64 if kind is int else np.float64)


def load_pack(path: str | Path) -> TracePack:
    """Load and validate a trace pack file.

    Raises
    ------
    DystaInputError
        Naming the file, the line and the fix, for any malformed content.
    """
    path = Path(path)
    if not path.is_file():
        raise DystaInputError(f"trace pack {str(path)!r} does not exist; run 'dysta traces list' "
                              "to see the shipped packs")
    lines = _open_text(path)
    meta = read_header(lines, path, MAGIC, VERSION)
    for key in ("name", "model_patterns", "scenarios"):
        if key not in meta:
            raise DystaInputError(f"{path}, line 2: metadata lacks the key {key!r}")
    rows = read_rows(lines, path, COLUMNS)
    lineno = np.array([r[0] for r in rows])
    names = np.array([r[1][0] for r in rows])
    sample = parse_column(rows, path, 1, "sample", int)
    layer = parse_column(rows, path, 2, "layer", int)
    lat = parse_column(rows, path, 3, "latency_s", float)
    rho = parse_column(rows, path, 4, "density", float)
    size = parse_column(rows, path, 5, "output_size", int)
    split = np.array([r[1][6] for r in rows])

    def fail(mask, what):
        bad = np.flatnonzero(mask)
        if bad.size:
            raise DystaInputError(f"{path}, line {lineno[bad[0]]}: {what}")

    fail(~np.isfinite(lat) | (lat <= 0), "latency_s must be a positive finite number of seconds")
    fail(~np.isfinite(rho) | (rho < 0) | (rho > 1), "density must lie in [0, 1]")
    fail(size <= 0, "output_size must be a positive number of elements")
    fail(~np.isin(split, SPLITS), "split must be 'calib' or 'test'")
    fail(sample < 0, "sample must be >= 0")

    mps = {}
    declared = meta["model_patterns"]
    for name in dict.fromkeys(names.tolist()):
        sel = np.flatnonzero(names == name)
        if name not in declared:
            fail(names == name, f"model-pattern {name!r} is not declared in the metadata (line 2)")
        if name.count("/") < 2:
            fail(names == name, f"model-pattern {name!r} must be named model/pattern/rate")
        s, lay = sample[sel], layer[sel]
        # Rows of one sample are contiguous and list layers 0..L-1 in order.
        starts = np.flatnonzero(lay == 0)
        if starts.size == 0 or starts[0] != 0:
            fail(names == name, f"{name}: the first row of a sample must be layer 0")
        n_layers = np.diff(np.append(starts, sel.size))
        if np.any(n_layers != n_layers[0]):
            k = int(np.flatnonzero(n_layers != n_layers[0])[0])
            raise DystaInputError(
                f"{path}, line {lineno[sel[starts[k]]]}: {name} sample {s[starts[k]]} has "
                f"{n_layers[k]} layers but the first sample has {n_layers[0]}; every sample of a "
                "model-pattern must list the same layers")
        n_l = int(n_layers[0])
        expect = np.tile(np.arange(n_l), starts.size)
        bad = lay != expect
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise DystaInputError(
                f"{path}, line {lineno[sel[k]]}: {name} layer index {lay[k]} out of order "
                f"(expected {expect[k]}); layers must be listed 0..{n_l - 1} for each sample")
        s2 = s.reshape(-1, n_l)
        if np.any(s2 != s2[:, :1]):
            k = int(np.flatnonzero((s2 != s2[:, :1]).ravel())[0])
            raise DystaInputError(f"{path}, line {lineno[sel[k]]}: {name} sample index changes within "
                                  "a sample's layers")
        if not np.array_equal(s2[:, 0], np.arange(s2.shape[0])):
            k = int(np.flatnonzero(s2[:, 0] != np.arange(s2.shape[0]))[0])
            raise DystaInputError(
                f"{path}, line {lineno[sel[k * n_l]]}: {name} sample {s2[k, 0]} where {k} was "
                "expected; samples must be numbered 0, 1, 2, ... without gaps")
        shp = size[sel].reshape(-1, n_l)
        if np.any(shp != shp[0]):
            k = int(np.flatnonzero((shp != shp[0]).ravel())[0])
            raise DystaInputError(f"{path}, line {lineno[sel[k]]}: {name} output_size of a layer must "
                                  "be the same for every sample")
        spl = split[sel].reshape(-1, n_l)
        if np.any(spl != spl[:, :1]):
            k = int(np.flatnonzero((spl != spl[:, :1]).ravel())[0])
            raise DystaInputError(f"{path}, line {lineno[sel[k]]}: {name} split changes within a sample")
        calib = spl[:, 0] == "calib"
        if not calib.any():
            raise DystaInputError(f"{path}: {name} has no 'calib' sample; the look-up tables need at "
                                  "least one calibration sample")
        mps[name] = ModelPattern(name=name, lat=lat[sel].reshape(-1, n_l), rho=rho[sel].reshape(-1, n_l),
                                 shape=shp[0].copy(), calib=calib, meta=declared[name])
    scenarios = meta["scenarios"]
    for sc, members in scenarios.items():
        for m in members:
            if m not in mps:
                raise DystaInputError(f"{path}, line 2: scenario {sc!r} names model-pattern {m!r}, "
                                      "which has no rows in the file")
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
