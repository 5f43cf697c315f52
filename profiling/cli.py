"""Command line of the profiler: ``dysta profile`` (one model-pattern) and ``python -m profiling pack``.

``dysta profile --model M --pattern P --rate R --samples N --out FILE`` profiles one model-pattern
and writes a one-model-pattern ``dysta-trace-pack v1`` (scenario ``attnn`` or ``cnn``). It is
registered under the ``dysta.commands`` entry points by :func:`add_profile_command`; the import
of torch happens only when the command runs, so ``dysta`` works without the profiling extra.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

from dysta_sw.cliargs import bounded_int, output_file, seed
from dysta_sw.errors import DystaInputError

from . import parse_nm

ATTENTION_MODELS = ("bert", "bert-base", "bart", "gpt2")
CNN_MODELS = ("resnet50", "vgg16", "mobilenet", "ssd")


def add_profile_command(subparsers) -> argparse.ArgumentParser:
    """Add ``profile`` to a ``dysta`` sub-parser set; the command calls :func:`cmd_profile`."""
    p = subparsers.add_parser(
        "profile", help="profile a sparse model on real inputs into a trace pack (needs the profiling extra)",
        description="Sparsify a model, run real inputs with PyTorch hooks and write per-(sample, layer) "
                    "latency/density on an accelerator model (Eyeriss-V2-style for CNNs, Sanger-style "
                    "for attention models) as a dysta-trace-pack v1 file.")
    p.add_argument("--model", required=True, choices=ATTENTION_MODELS + CNN_MODELS)
    p.add_argument("--pattern",
                   help="CNNs: random, nm2:4, nm1:4, channel, dense; attention models: sanger")
    p.add_argument("--rate", type=float,
                   help="CNNs: fraction of weights pruned (nmN:M fixes it at 1-N/M); sanger: the threshold "
                        "(paper: 0.002 BERT/GPT-2, 0.2 BART)")
    p.add_argument("--recipe", metavar="YAML",
                   help="CNNs: sparsify with a SparseML recipe instead of --pattern/--rate (needs SparseML "
                        "1.8.0 in its own environment, see docs/profiling.md; example: "
                        "profiling/recipes/gmp-0.5.yaml)")
    p.add_argument("--samples", type=bounded_int(2, 100_000, "a number of samples"), default=128,
                   help="input samples (default 128, at least 2; half form the calib split)")
    p.add_argument("--out", required=True, help="output file (.csv.gz for a compressed pack)")
    p.add_argument("--seed", type=seed, default=2023, help="seed of weights, inputs and split (default 2023)")
    p.add_argument("--resolution", type=bounded_int(32, 2048, "an input resolution in pixels"), default=None,
                   help="CNN input resolution (default 160)")
    p.add_argument("--max-len", type=bounded_int(8, 4096, "a number of tokens"), default=None,
                   help="attention models: max tokens per text (default 256)")
    p.add_argument("--inputs", choices=("docstrings", "squad", "glue"), default=None,
                   help="attention models: docstrings (measured-v1), SQuAD-like question+context or GLUE-like "
                        "sentence pairs (measured-v2); default docstrings")
    p.add_argument("--extent", choices=("real", "padded"), default=None,
                   help="attention models: count the density over the real n x n extent (Sanger's overall-sparsity, "
                        "default) or over the padded max_len^2 (measured-v1)")
    p.add_argument("--cost-model", choices=("ours", "artifact"), default="ours",
                   help="accelerator cost model: ours (default) or the published artifact's (Eyeriss-V2: 4 cycles "
                        "per valid MAC + address checks; Sanger: its latency formula); see docs/profiling.md")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_profile)
    return p


def _save(tp, out: str) -> None:
    """Write a pack to a temporary name beside ``out`` and rename it (same compression)."""
    from dysta_sw.trace import save_pack

    save_pack(tp, out)  # itself written to a temporary name and renamed


#: Options of one kind of model, and their defaults (``None`` in the parser, so that the other kind can
#: tell they were given: a CNN does not read ``--max-len``, an attention model not ``--resolution``).
CNN_DEFAULTS = {"resolution": 160}
ATTENTION_DEFAULTS = {"max_len": 256, "inputs": "docstrings", "extent": "real"}


def _check(a) -> None:
    """Every argument of ``dysta profile``, before torch is imported and any model is built."""
    a.out = str(output_file(a.out, "--out", [("--recipe", a.recipe)]))
    attention = a.model in ATTENTION_MODELS
    own, other = (ATTENTION_DEFAULTS, CNN_DEFAULTS) if attention else (CNN_DEFAULTS, ATTENTION_DEFAULTS)
    extra = [f"--{k.replace('_', '-')}" for k in other if getattr(a, k, None) is not None]
    if extra:
        kind = "the CNNs" if attention else f"the attention models ({', '.join(ATTENTION_MODELS)})"
        raise DystaInputError(f"{', '.join(extra)} {'are' if len(extra) > 1 else 'is'} for {kind}, not {a.model}; "
                              f"drop {'them' if len(extra) > 1 else 'it'}")
    for k, v in {**CNN_DEFAULTS, **ATTENTION_DEFAULTS}.items():
        if getattr(a, k, None) is None:
            setattr(a, k, v)
    try:
        nm = parse_nm(a.pattern or "")
    except ValueError:
        raise DystaInputError(f"--pattern {a.pattern}: an N:M pattern needs 0 < N < M (e.g. nm2:4)") from None
    if nm and a.rate is None and a.recipe is None:  # nmN:M fixes the rate (profiling.pruning.check_pattern)
        a.rate = 1 - nm[0] / nm[1]
    if a.recipe is None and (a.pattern is None or a.rate is None):
        raise DystaInputError("give --pattern and --rate (or, for CNNs, --recipe FILE; an nmN:M pattern fixes "
                              "the rate)")
    if a.rate is not None and not math.isfinite(a.rate):
        raise DystaInputError(f"--rate must be a finite number, not {a.rate}")
    if a.model in ATTENTION_MODELS:
        if a.recipe is not None:
            raise DystaInputError(f"--recipe is for the CNNs; attention model {a.model} takes --pattern sanger")
        if a.pattern != "sanger":
            raise DystaInputError(f"attention model {a.model} takes --pattern sanger, not {a.pattern!r}")
        if not 0.0 < a.rate < 1.0:
            raise DystaInputError(f"--rate {a.rate:g}: Sanger's threshold on attention probabilities lies strictly "
                                  "between 0 and 1 (the paper: 0.002 BERT/GPT-2, 0.2 BART)")
    elif a.recipe is not None:
        if a.pattern is not None or a.rate is not None:
            raise DystaInputError("--recipe replaces --pattern and --rate; give one or the other")
        if not os.path.isfile(a.recipe):
            what = "is not a file" if os.path.exists(a.recipe) else "does not exist"
            raise DystaInputError(f"--recipe {a.recipe!r} {what}; give a SparseML recipe (YAML), e.g. "
                                  "profiling/recipes/gmp-0.5.yaml")
    elif a.pattern == "sanger":
        raise DystaInputError(f"the sanger pattern is for attention models ({', '.join(ATTENTION_MODELS)}), not "
                              f"{a.model}; choose random, nmN:M (e.g. nm2:4), channel or dense")
    elif not 0.0 <= a.rate < 1.0:
        raise DystaInputError(f"--rate {a.rate:g}: the fraction of weights pruned lies in [0, 1)")
    elif a.pattern == "dense" and a.rate != 0:
        raise DystaInputError(f"--pattern dense prunes no weights, so --rate {a.rate:g} would only be a wrong label "
                              "(the model-pattern's name records the rate); give --rate 0, or --pattern random")


def cmd_profile(a) -> int:
    """Run ``dysta profile``; returns the exit status (bad arguments raise :class:`DystaInputError`)."""
    _check(a)
    try:
        from dysta_sw.trace import TracePack

        from . import pack, pruning
    except ImportError as e:
        raise DystaInputError(f"this command needs the profiling extra ({e}); install it with "
                              "`pip install -e '.[profiling]'`") from None
    t0 = time.time()
    try:
        if a.model in ATTENTION_MODELS:
            mp = pack.profile_attention(a.model, a.samples, threshold=a.rate, seed=a.seed, max_len=a.max_len,
                                        text=a.inputs, extent=a.extent, cost_model=a.cost_model,
                                        progress=not a.no_progress)
            scenario = "attnn"
        elif a.recipe is not None:
            mp = pack.profile_cnn(a.model, None, None, a.samples, resolution=a.resolution, seed=a.seed,
                                  progress=not a.no_progress, recipe=a.recipe, hw=pack.cnn_hw(a.cost_model))
            scenario = "cnn"
        else:
            pruning.check_pattern(a.pattern, a.rate)
            mp = pack.profile_cnn(a.model, a.pattern, a.rate, a.samples, resolution=a.resolution, seed=a.seed,
                                  progress=not a.no_progress, hw=pack.cnn_hw(a.cost_model))
            scenario = "cnn"
    except ValueError as e:
        if isinstance(e, DystaInputError):
            raise
        raise DystaInputError(str(e)) from None
    name = f"profile-{mp.name.replace('/', '-')}"
    if a.cost_model != "ours":
        name += f"-{a.cost_model}"
    tp = TracePack(name=name, meta={"synthetic": False, "description": f"measured profile of {mp.name}",
                                    "versions": pack.versions()},
                   model_patterns={mp.name: mp}, scenarios={scenario: [mp.name]})
    _save(tp, a.out)
    print(f"{mp.name}: {mp.n_samples} samples x {mp.n_layers} layers, mean isolated latency "
          f"{mp.tiso.mean() * 1e3:.3f} ms, mean density {mp.rho.mean():.3f} -> {a.out} "
          f"({time.time() - t0:.1f} s)")
    return 0


def main(argv=None) -> int:
    """``python -m profiling pack|profile``: build the shipped pack, or profile one model-pattern."""
    ap = argparse.ArgumentParser(prog="python -m profiling")
    sub = ap.add_subparsers(dest="cmd", required=True)
    add_profile_command(sub)
    pk = sub.add_parser("pack", help="profile both scenarios into a measured pack (profiling.pack.PACKS)")
    pk.add_argument("--out", required=True)
    pk.add_argument("--name", default="measured-v2", choices=("measured-v1", "measured-v2"),
                    help="which pack's recipe (default measured-v2)")
    pk.add_argument("--samples", type=int, default=100)
    pk.add_argument("--seed", type=int, default=2023)
    pk.add_argument("--only", nargs="+", metavar="MODEL",
                    help="profile only these models (e.g. bert resnet50), for a partial pack")
    pk.add_argument("--cost-model", choices=("ours", "artifact"), help="override the CNNs' Eyeriss-V2 cost model")
    pk.add_argument("--attnn-cost-model", choices=("ours", "artifact"),
                    help="override the attention models' Sanger cost model")
    pk.add_argument("--cluster", metavar="ADDRESS", default=None,
                    help="profile the model-patterns on the Dask cluster at ADDRESS, e.g. tcp://host:8786 "
                         "(default: $DYSTA_CLUSTER, else here, one after another; see docs/cluster.md)")
    a = ap.parse_args(argv)
    if a.cmd == "profile":
        try:
            return cmd_profile(a)
        except DystaInputError as e:
            print(f"python -m profiling profile: error: {e}", file=sys.stderr)
            return 2
    from . import cnn, pack

    t0 = time.time()

    only = set(a.only) if a.only else None
    try:
        tp = pack.build_pack(a.samples, seed=a.seed, name=a.name,
                             cnn_models=[m for m in cnn.CNN_NAMES if only is None or m in only],
                             attnn_models=None if only is None else only,
                             cost_model=a.cost_model, attnn_cost_model=a.attnn_cost_model, cluster=a.cluster)
    except DystaInputError as e:
        print(f"python -m profiling pack: error: {e}", file=sys.stderr)
        return 2
    _save(tp, a.out)
    print(f"{a.name}: {len(tp.model_patterns)} model-patterns -> {a.out} in {time.time() - t0:.0f} s")
    return 0
