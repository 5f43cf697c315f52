"""Argument helpers shared by the ``dysta`` commands, the core's and the plug-ins' alike."""

from __future__ import annotations

import argparse
import csv
import json
import sys

from .policies import PREDICTORS, Options
from .report.tables import text_table
from .trace import DEFAULT_PACK

__all__ = ["positive_int", "add_traces", "add_cluster", "add_policy_options", "options_from_args", "print_rows"]


def positive_int(text: str) -> int:
    """An argparse ``type`` accepting integers >= 1."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


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


def add_policy_options(p: argparse.ArgumentParser) -> None:
    """The policy options ``--beta --eta --alpha --predictor --last-n`` (read by :func:`options_from_args`)."""
    g = p.add_argument_group("policy options")
    g.add_argument("--beta", type=float, default=0.01, help="Dysta static-score slack weight (default 0.01)")
    g.add_argument("--eta", type=float, default=0.01, help="Dysta dynamic-score weight (default 0.01)")
    g.add_argument("--alpha", type=float, default=1.0, help="SDRM3 fairness weight (default 1)")
    g.add_argument("--predictor", choices=PREDICTORS, default="last-one",
                   help="sparse latency predictor (default last-one; the reference profile forces average-all)")
    g.add_argument("--last-n", type=int, default=3, help="window of the last-n predictor (default 3)")


def options_from_args(a: argparse.Namespace) -> Options:
    """The :class:`~dysta_sw.policies.Options` of :func:`add_policy_options`'s arguments."""
    return Options(beta=a.beta, eta=a.eta, alpha=a.alpha, predictor=a.predictor, last_n=a.last_n)


def print_rows(rows: list[dict], fmt: str, keys) -> None:
    """Rows of means as JSON, CSV (columns ``keys``) or the terminal's Table 5 layout."""
    if fmt == "json":
        print(json.dumps(rows, indent=1))
    elif fmt == "csv":
        w = csv.DictWriter(sys.stdout, fieldnames=list(keys), extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    else:
        print(text_table(rows))
