"""Argument helpers shared by the ``dysta`` commands, the core's and the plug-ins' alike."""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import tempfile
from pathlib import Path

from .errors import DystaInputError
from .outputs import json_text
from .policies import PREDICTOR_ALPHAS, PREDICTORS, Options
from .report.tables import text_table
from .trace import DEFAULT_PACK

__all__ = ["positive_int", "bounded_int", "seed", "positive_float", "finite_float", "nonnegative_float",
           "bounded_float", "unit_float", "add_traces", "add_cluster", "add_policy_options", "options_from_args",
           "print_rows", "output_file", "output_dir", "distinct", "shown", "cluster_address", "MAX_JOBS"]

#: Largest ``--jobs``: more processes than this is a typo, not a machine.
MAX_JOBS = 4096


def bounded_int(lo: int, hi: int | None = None, what: str = "an integer"):
    """An argparse ``type`` accepting integers from ``lo`` to ``hi`` (no upper bound when ``None``)."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if v < lo or (hi is not None and v > hi):
            rng = f"from {lo:,} to {hi:,}" if hi is not None else f">= {lo:,}"
            raise argparse.ArgumentTypeError(f"expected {what} {rng}, got {text}")
        return v
    parse.__name__ = "integer"  # argparse names the type in "invalid integer value"
    return parse


def positive_int(text: str) -> int:
    """An argparse ``type`` accepting integers >= 1."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


#: ``--seed``: numpy seeds are integers >= 0 (kept below 2**63 so that files record them exactly).
seed = bounded_int(0, 2 ** 63 - 1, "a seed, an integer")


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def positive_float(text: str) -> float:
    """An argparse ``type`` accepting finite numbers > 0."""
    v = _float(text)
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return v


def finite_float(text: str) -> float:
    """An argparse ``type`` accepting finite numbers (no nan or inf)."""
    v = _float(text)
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return v


def nonnegative_float(text: str) -> float:
    """An argparse ``type`` accepting finite numbers >= 0."""
    v = _float(text)
    if not (math.isfinite(v) and v >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return v


def bounded_float(lo: float, hi: float, what: str = "a number"):
    """An argparse ``type`` accepting numbers from ``lo`` to ``hi``."""
    def parse(text: str) -> float:
        v = _float(text)
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"expected {what} from {lo:g} to {hi:g}, got {text}")
        return v
    parse.__name__ = "number"
    return parse


def unit_float(text: str) -> float:
    """An argparse ``type`` accepting numbers from 0 to 1."""
    v = _float(text)
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text}")
    return v


def distinct(option: str, values) -> list:
    """``values`` unchanged, or an error naming ``option`` and the value listed twice."""
    values = list(values or [])
    seen = set()
    for v in values:
        if v in seen:
            raise DystaInputError(f"{option} lists {v!r} twice; give each value once")
        seen.add(v)
    return values


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def shown(path: str) -> str:
    """``path`` as a message shows it: as typed, or quoted with escapes when it holds a newline, a
    control character or bytes that are not text (the message stays one line)."""
    return path if path.isprintable() else repr(path)


def _link_target(p: Path, option: str, path: str, what: str) -> Path:
    """The file or directory the symbolic link ``p`` points to; an error for a dangling link or a loop."""
    try:
        return p.resolve(strict=True)
    except (OSError, RuntimeError):
        raise DystaInputError(f"{option} {shown(path)}: a symbolic link to nothing (its target is missing, or the "
                              f"links form a loop); remove the link or give another {what} name") from None


def _not_an_input(out: Path, option: str, path: str, inputs) -> None:
    """Refuse an output that is one of the command's input files (writing it would replace the input)."""
    for in_option, in_path in inputs:
        if not in_path:
            continue
        try:
            same = out.exists() and os.path.samefile(out, in_path)
        except OSError:
            same = False
        if same:
            raise DystaInputError(f"{option} {shown(path)} is also the input {in_option} {shown(str(in_path))}: "
                                  "writing it would replace the input; give another file name")


def output_file(path: str, option: str, inputs=()) -> Path:
    """Check, before any work, that ``path`` (given as ``option``) can be written as a file: not empty,
    not a directory, not a device or pipe (renaming the output onto it would replace it), not one of
    ``inputs`` (pairs of an option and the file it names), in an existing directory we may write in.
    Returns it as a :class:`Path` (a symbolic link's target: the file the link points to is written)."""
    if not path or not path.strip():
        raise DystaInputError(f"{option} is empty; give a file name")
    p = Path(path)
    if p.is_symlink():
        p = _link_target(p, option, path, "file")
    if p.is_dir():
        raise DystaInputError(f"{option} {shown(path)}: is a directory; give a file name (e.g. "
                              f"{shown(str(p / 'out.csv'))})")
    if p.exists() and not p.is_file():
        raise DystaInputError(f"{option} {shown(path)}: is a device or pipe, not a regular file (the output is "
                              "written beside it and renamed onto it, which would replace it); give a file name")
    parent = p.parent
    if not parent.exists():
        raise DystaInputError(f"{option} {shown(path)}: the directory {str(parent)!r} does not exist; create it "
                              f"first (mkdir -p {shown(str(parent))}) or write elsewhere")
    if not parent.is_dir():
        raise DystaInputError(f"{option} {shown(path)}: {str(_first_file(parent))!r} is a file, not a directory; "
                              "give a path inside a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DystaInputError(f"{option} {shown(path)}: cannot write in the directory {str(parent)!r} (permission "
                              "denied); write elsewhere")
    try:  # what the permission bits do not say (a read-only or virtual file system, a full disk)
        tempfile.TemporaryFile(dir=parent).close()
    except OSError as e:
        raise DystaInputError(f"{option} {shown(path)}: cannot create a file in the directory {str(parent)!r} "
                              f"({e.strerror or e}); write elsewhere") from None
    _not_an_input(p, option, path, inputs)
    return p


def _first_file(path: Path) -> Path:
    """The first component of ``path`` that exists and is not a directory."""
    for p in reversed([path, *path.parents]):
        if p.exists() and not p.is_dir():
            return p
    return path


def output_dir(path: str, option: str) -> Path:
    """Check, before any work, that ``path`` (given as ``option``) can be an output directory: not empty,
    not a file, not a dangling symbolic link, and creatable (its nearest existing ancestor a directory
    we may write in)."""
    if not path or not path.strip():
        raise DystaInputError(f"{option} is empty; give a directory name (e.g. {option} dysta-report)")
    p = Path(path)
    if p.is_symlink():
        _link_target(p, option, path, "directory")
    if p.exists() and not p.is_dir():
        raise DystaInputError(f"{option} {shown(path)}: is a file, not a directory; give a directory name")
    base = _nearest_existing(p)
    if not base.is_dir():
        raise DystaInputError(f"{option} {shown(path)}: {str(_first_file(p))!r} is a file, not a directory; give "
                              "a path inside a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise DystaInputError(f"{option} {shown(path)}: cannot write in {str(base)!r} (permission denied); write "
                              "elsewhere")
    return p


def add_traces(p: argparse.ArgumentParser) -> None:
    """``--traces PACK``: a shipped pack name or a file (default: the shipped default pack)."""
    p.add_argument("--traces", metavar="PACK", default=None,
                   help=f"trace pack: a shipped pack name or a file path (default: {DEFAULT_PACK})")


def add_cluster(p: argparse.ArgumentParser, help: str | None = None) -> None:
    """``--cluster ADDRESS``: the Dask scheduler to run on (read by :mod:`dysta_sw.cluster`; without it,
    ``$DYSTA_CLUSTER``, else this machine). ``help`` says what runs there, for a command's own wording."""
    p.add_argument("--cluster", metavar="ADDRESS", default=None,
                   help=help or "run on the Dask cluster whose scheduler is at ADDRESS, e.g. tcp://host:8786 "
                   "(default: $DYSTA_CLUSTER, else local processes; needs the cluster extra; see docs/cluster.md)")


#: The cluster address's environment variable (read by :mod:`dysta_sw.cluster` too).
CLUSTER_ENV = "DYSTA_CLUSTER"


def cluster_address(flag: str | None) -> str | None:
    """The Dask scheduler address a command will use, ``--cluster`` else ``$DYSTA_CLUSTER`` (``None``:
    this machine), checked before any work: an empty ``--cluster``, or a ``tcp://`` (``tls``, ``ws``,
    ``wss``, ``ucx``) address without a host or with a port that is not a number from 1 to 65535, is
    refused naming where it came from (Dask would otherwise fail deep inside, after a timeout)."""
    if flag is not None and not flag.strip():
        raise DystaInputError("--cluster is empty; give the Dask scheduler's address, e.g. tcp://host:8786, or "
                              "leave out --cluster to run on this machine")
    address = flag or os.environ.get(CLUSTER_ENV) or None
    if address is None:
        return None
    source = "--cluster" if flag else CLUSTER_ENV
    scheme, sep, _ = address.partition("://")
    if sep and scheme in ("tcp", "tls", "ws", "wss", "ucx"):
        from urllib.parse import urlsplit

        u = urlsplit(address)
        try:
            port = u.port
        except ValueError:
            port = 0
        problem = ("has no host" if not u.hostname else
                   "has a port that is not a number from 1 to 65535" if port == 0 or u.netloc.endswith(":") else
                   "has a path, which a scheduler address does not" if u.path not in ("", "/") or u.query else None)
        if problem:
            raise DystaInputError(f"cluster address {shown(address)} (from {source}) {problem}; give one like "
                                  f"{scheme}://host:8786")
    return address


def add_policy_options(p: argparse.ArgumentParser) -> None:
    """The policy options ``--beta --eta --alpha --predictor --last-n --predictor-alpha`` (read by
    :func:`options_from_args`)."""
    g = p.add_argument_group("policy options")
    g.add_argument("--beta", type=nonnegative_float, default=0.01,
                   help="Dysta static-score slack weight (default 0.01)")
    g.add_argument("--eta", type=nonnegative_float, default=0.01, help="Dysta dynamic-score weight (default 0.01)")
    g.add_argument("--alpha", type=nonnegative_float, default=1.0, help="SDRM3 fairness weight (default 1)")
    g.add_argument("--predictor", choices=PREDICTORS, default="last-one",
                   help="sparse latency predictor (default last-one; the reference profile forces average-all)")
    g.add_argument("--last-n", type=bounded_int(1, 1024, "a window of layers"), default=3,
                   help="window of the last-n predictor (default 3)")
    g.add_argument("--predictor-alpha", choices=PREDICTOR_ALPHAS, default="fitted",
                   help="the predictor's slope alpha (paper Sec. 5.1): fitted per model-pattern on the "
                   "calibration split (default), or 1 (gamma as measured; the reference profile forces 1)")


def options_from_args(a: argparse.Namespace) -> Options:
    """The :class:`~dysta_sw.policies.Options` of :func:`add_policy_options`'s arguments."""
    return Options(beta=a.beta, eta=a.eta, alpha=a.alpha, predictor=a.predictor, last_n=a.last_n,
                   predictor_alpha=getattr(a, "predictor_alpha", "fitted"))


def print_rows(rows: list[dict], fmt: str, keys) -> None:
    """Rows of means as JSON, CSV (columns ``keys``) or the terminal's Table 5 layout."""
    if fmt == "json":
        print(json_text(rows, indent=1))
    elif fmt == "csv":
        w = csv.DictWriter(sys.stdout, fieldnames=list(keys), extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    else:
        print(text_table(rows))
