"""Profile model-patterns and assemble the measured trace pack (``dysta-trace-pack v1``).

:func:`profile_cnn` and :func:`profile_attention` each return a :class:`dysta_sw.trace.ModelPattern`
with full provenance in its ``meta``; :func:`build_pack` profiles the benchmark's two scenarios
(paper Table 3) into a :class:`dysta_sw.trace.TracePack`:

- ``attnn``: ``bert/sanger/0.002`` (trained MiniLM), ``bart/sanger/0.2``, ``gpt2/sanger/0.002``
  (random weights), on standard-library docstrings;
- ``cnn``: resnet50, vgg16, mobilenet, ssd x ``random/0.5``, ``nm2:4/0.5``, ``channel/0.5`` (random
  weights), on scikit-image photographs, a quarter of them low-light variants.

Calibration/test split: a seeded permutation puts half the samples of every model-pattern in
``calib`` (for CNNs, half of the normal and half of the low-light samples). Everything is seeded
(model initialisation, crops, noise, text choice), so a regeneration with the same arguments and
library versions gives the same pack.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np

from dysta_sw.trace import ModelPattern, TracePack

from . import cnn, eyeriss, inputs, pruning, require_torch, sanger
from .profiler import AttentionProfiler, CNNProfiler
from .transformer import GEOMETRIES, SANGER_THRESHOLDS, build_transformer, tokenizer

torch = require_torch()

CNN_RESOLUTION = 160
MAX_LEN = 256
LOW_LIGHT_FRACTION = 0.25
CNN_PATTERNS = (("random", 0.5), ("nm2:4", 0.5), ("channel", 0.5))
ATTNN_MODELS = ("bert", "bart", "gpt2")


def versions(sparseml: bool = False) -> dict:
    """Library versions recorded in the provenance (SparseML's too with ``sparseml``)."""
    import skimage

    out = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
           "scikit-image": skimage.__version__}
    try:
        import transformers
        out["transformers"] = transformers.__version__
    except ImportError:
        pass
    if sparseml:
        from importlib.metadata import version

        out["sparseml"] = version("sparseml")
    return out


def split(n: int, seed: int, groups=None) -> np.ndarray:
    """Seeded calibration mask: half of every group (default: one group) is ``calib``."""
    groups = np.zeros(n, int) if groups is None else np.asarray(groups)
    rng = np.random.default_rng([seed, 7])
    calib = np.zeros(n, bool)
    for gval in np.unique(groups):
        idx = np.flatnonzero(groups == gval)
        calib[rng.permutation(idx)[: max(1, len(idx) // 2)]] = True
    return calib


def _progress(total, desc, enabled):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="sample", disable=not enabled, leave=False)


def profile_cnn(model: str, pattern: str | None, rate: float | None, n_samples: int, *,
                resolution: int = CNN_RESOLUTION, seed: int = 0, batch_size: int = 8,
                low_light_fraction: float = LOW_LIGHT_FRACTION, progress: bool = False,
                hw: eyeriss.EyerissV2 | None = None, recipe: str | None = None) -> ModelPattern:
    """Profile CNN ``model`` pruned with ``pattern`` at ``rate`` on ``n_samples`` images, or
    with a SparseML ``recipe`` file (then ``pattern``/``rate`` are ``None``; the model-pattern is
    named ``model/recipe-<stem>/<pruned fraction of the layers it pruned>``)."""
    hw = hw or eyeriss.EyerissV2()
    if recipe is None:
        pruning.check_pattern(pattern, rate)
        if pattern == "sanger":
            raise ValueError("the sanger pattern is for attention models (bert, bart, gpt2)")
    elif pattern is not None or rate is not None:
        raise ValueError("give either a SparseML recipe or a pattern and rate, not both")
    t0 = time.time()
    torch.manual_seed(seed)
    net = cnn.build_cnn(model, seed=seed)
    if recipe is None:
        pruned = pruning.sparsify(net, pattern, rate)
        how = f"torch.nn.utils.prune {pattern} at rate {rate:g} (profiling.pruning); stem and output layers dense"
    else:
        from . import recipe as rc

        pruned = rc.apply_recipe(net, recipe)
        total = sum(m.weight.numel() for m in pruned.values())
        rate = round(sum(int((m.weight == 0).sum()) for m in pruned.values()) / total, 2) if total else 0.0
        pattern = rc.recipe_name(recipe)
        how = (f"SparseML recipe {Path(recipe).name} applied in one shot (profiling.recipe); "
               f"{len(pruned)} layers pruned, {rate:g} of their weights zero")
    cnn.calibrate_bn(net, inputs.calibration_images(resolution))
    images, info = inputs.image_samples(n_samples, resolution, seed=seed, low_light_fraction=low_light_fraction)
    prof = CNNProfiler(net, hw)
    lat, rho, shape, names, eff = [], [], None, None, []
    with _progress(n_samples, f"{model}/{pattern}/{rate:g}", progress) as bar:
        for i in range(0, n_samples, batch_size):
            la, rh, shape, names, ef = prof.run(images[i:i + batch_size])
            lat.append(la)
            rho.append(rh)
            eff.append(ef)
            bar.update(len(la))
    prof.remove()
    lat, rho = np.concatenate(lat), np.concatenate(rho)
    dark = np.array([d["low_light"] for d in info])
    weights = {n: (float((m.weight != 0).float().mean()) if n in pruned else 1.0)
               for n, m in prof.layers.items()}
    meta = {
        "model": model, "pattern": pattern, "rate": rate, "layers": names,
        "accelerator": "eyeriss-v2-style sparse CNN accelerator (192 PEs)", "clock_hz": hw.clock_hz,
        "accelerator_model": hw.describe(),
        "weights": "RANDOM: deterministic He-normal init, seeded BatchNorm shifts, BatchNorm statistics "
                   "calibrated on real photographs (profiling.cnn); no pretrained weights ship offline",
        "sparsity": {"weights": how,
                     "weight_density": [round(weights[n], 6) for n in names],
                     "dynamic": "ReLU activation zeros (measured)"},
        "inputs": {"kind": "scikit-image photographs, random crops/flips, low-light sensor model "
                           "(profiling.inputs)", "resolution": resolution, "seed": seed,
                   "low_light_samples": int(dark.sum()), "photos": list(inputs.PHOTOS),
                   "samples": info},
        "mean_effectual_macs": float(np.concatenate(eff).sum(1).mean()),
        "granularity": "one trace layer per Conv2d/Linear, execution order",
        "provenance": "measured: profiling.pack.profile_cnn (PyTorch forward hooks -> profiling.eyeriss)",
        "versions": versions(sparseml=recipe is not None), "profile_seconds": round(time.time() - t0, 1),
        "split": "seeded half of normal and half of low-light samples are calib",
    }
    return ModelPattern(name=f"{model}/{pattern}/{rate:g}", lat=np.round(lat, 12), rho=np.round(rho, 6),
                        shape=shape, calib=split(n_samples, seed, dark), meta=meta)


def profile_attention(model: str, n_samples: int, *, threshold: float | None = None, seed: int = 0,
                      max_len: int = MAX_LEN, progress: bool = False,
                      hw: sanger.Sanger | None = None) -> ModelPattern:
    """Profile attention ``model`` with Sanger thresholding on ``n_samples`` docstrings."""
    hw = hw or sanger.Sanger()
    if model not in GEOMETRIES:
        raise ValueError(f"unknown attention model {model!r}; choose one of {', '.join(GEOMETRIES)}")
    threshold = SANGER_THRESHOLDS[model] if threshold is None else threshold
    t0 = time.time()
    net = build_transformer(model, threshold=threshold, seed=seed)
    tok = tokenizer()
    texts = inputs.text_samples(n_samples, seed=seed)
    prof = AttentionProfiler(net, max_len, hw)
    lat, rho, lengths = [], [], []
    with _progress(n_samples, f"{model}/sanger/{threshold:g}", progress) as bar:
        for _, text in texts:
            ids = tok([text], return_tensors="pt", truncation=True, max_length=max_len)["input_ids"]
            la, rh, shape, names = prof.run(ids)
            lat.append(la)
            rho.append(rh)
            lengths.append(int(ids.shape[1]))
            bar.update(1)
    prof.remove()
    g = net.g
    meta = {
        "model": model, "pattern": "sanger", "rate": threshold, "layers": names,
        "geometry": {"encoder_layers": g.layers, "decoder_layers": g.decoder_layers, "d": g.d, "heads": g.heads,
                     "d_ff": g.d_ff, "pre_ln": g.pre_ln, "causal": g.causal},
        "accelerator": "sanger-style sparse attention accelerator (64x64 PEs)", "clock_hz": hw.clock_hz,
        "accelerator_model": hw.describe(),
        "weights": (f"TRAINED: {g.trained} (all-MiniLM-L6-v2, BERT architecture)" if g.trained else
                    "RANDOM: deterministic N(0, 0.02) init with logit-calibrated Q/K (profiling.transformer); "
                    "no trained weights of this model ship offline"),
        "sparsity": {"dynamic": f"Sanger-style attention pruning, 4-bit predicted probabilities > {threshold:g}",
                     "weights": "dense"},
        "inputs": {"kind": "Python standard-library docstrings, WordPiece (MiniLM) tokens", "seed": seed,
                   "max_len": max_len, "seq_lengths": lengths, "docstrings": [q for q, _ in texts]},
        "granularity": "one trace layer per transformer block (attention + FFN), execution order",
        "provenance": "measured: profiling.pack.profile_attention (PyTorch forward hooks -> profiling.sanger)",
        "versions": versions(), "profile_seconds": round(time.time() - t0, 1),
        "split": "seeded half of the samples are calib",
    }
    return ModelPattern(name=f"{model}/sanger/{threshold:g}", lat=np.round(np.array(lat), 12),
                        rho=np.round(np.array(rho), 10), shape=shape, calib=split(n_samples, seed), meta=meta)


def _profile_unit(unit) -> tuple[str, ModelPattern]:
    """One model-pattern of :func:`build_pack`: ``(scenario, model, pattern, rate, n_samples, seed,
    resolution)``. Module level, so that cluster workers import it by name."""
    scenario, model, pattern, rate, n_samples, seed, resolution = unit
    if scenario == "attnn":
        return scenario, profile_attention(model, n_samples, seed=seed)
    return scenario, profile_cnn(model, pattern, rate, n_samples, resolution=resolution, seed=seed)


def build_pack(n_samples: int = 128, *, seed: int = 2023, name: str = "measured-v1",
               resolution: int = CNN_RESOLUTION, cnn_models=cnn.CNN_NAMES, attnn_models=ATTNN_MODELS,
               progress: bool = True, cluster: str | None = None) -> TracePack:
    """Profile both scenarios into one pack (see the module docstring). Each model-pattern is one
    unit of :func:`dysta_sw.cluster.map_units`: here one after another, or on the Dask ``cluster``
    at that address (or ``$DYSTA_CLUSTER``), whose workers need the profiling extra; the pack is
    the same (every unit is seeded)."""
    from dysta_sw.cluster import map_units

    t0 = time.time()
    mps: dict[str, ModelPattern] = {}
    scenarios: dict[str, list[str]] = {"attnn": [], "cnn": []}
    units = [("attnn", m, "sanger", None, n_samples, seed, resolution) for m in attnn_models]
    units += [("cnn", m, pattern, rate, n_samples, seed, resolution)
              for m in cnn_models for pattern, rate in CNN_PATTERNS]
    for scenario, mp in map_units(_profile_unit, units, jobs=1, cluster=cluster, progress=progress,
                                  desc="profiling", unit="model-pattern"):
        mps[mp.name] = mp
        scenarios[scenario].append(mp.name)
    meta = {
        "synthetic": False,
        "description": ("MEASURED with PyTorch hooks on accelerator models (profiling/): real inputs "
                        "(scikit-image photographs + low-light variants; stdlib docstrings); BERT is the "
                        "trained MiniLM, BART/GPT-2 and all CNNs have random weights (see each meta)"),
        "generator": {"module": "profiling.pack.build_pack", "seed": seed, "n_samples": n_samples,
                      "cnn_resolution": resolution, "seconds": round(time.time() - t0, 1)},
        "versions": versions(),
    }
    return TracePack(name=name, meta=meta, model_patterns=mps, scenarios=scenarios)
