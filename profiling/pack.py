"""Profile model-patterns and assemble the measured trace pack (``dysta-trace-pack v1``).

:func:`profile_cnn` and :func:`profile_attention` each return a :class:`dysta_sw.trace.ModelPattern`
with full provenance in its ``meta`` (including the ``profile`` recipe :func:`regenerate` profiles
it again from); :func:`build_pack` profiles the benchmark's two scenarios (paper Table 3) into a
:class:`dysta_sw.trace.TracePack`, as :data:`PACKS` describes each shipped pack:

- ``measured-v2`` (the default): ``attnn``: ``bert/sanger/0.002`` (BERT-base geometry, SQuAD-like
  inputs up to 384 tokens), ``bart/sanger/0.01`` (Sanger's BART threshold) and
  ``gpt2/sanger/0.002`` (GLUE-like sentence pairs up to 128 tokens), density over the real
  extent; ``cnn``: resnet50, vgg16, mobilenet at 224 px and ssd at 300 px x ``random/0.5``,
  ``nm2:4/0.5``, ``channel/0.5``, on the published artifact's Eyeriss-V2 cost model.
- ``measured-v1``: the trained MiniLM as ``bert``, BART at the paper's threshold 0.2, GPT-2, on
  docstrings, density over the padded extent; CNNs at 128 px on our Eyeriss-V2 model.

All weights but MiniLM's are random; CNN inputs are scikit-image photographs, a quarter of them
low-light variants.

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
#: Eyeriss-V2 cost models (:mod:`profiling.eyeriss`): ours and the published artifact's.
COST_MODELS = ("ours", "artifact")
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


def cnn_hw(cost_model: str):
    """The Eyeriss-V2 cost model named ``cost_model`` (:data:`COST_MODELS`)."""
    if cost_model not in COST_MODELS:
        raise ValueError(f"unknown Eyeriss-V2 cost model {cost_model!r}; choose one of {', '.join(COST_MODELS)}")
    return eyeriss.EyerissV2Artifact() if cost_model == "artifact" else eyeriss.EyerissV2()


def profile_cnn(model: str, pattern: str | None, rate: float | None, n_samples: int, *,
                resolution: int = CNN_RESOLUTION, seed: int = 0, batch_size: int = 8,
                low_light_fraction: float = LOW_LIGHT_FRACTION, progress: bool = False,
                hw: eyeriss.EyerissV2 | eyeriss.EyerissV2Artifact | None = None,
                recipe: str | None = None) -> ModelPattern:
    """Profile CNN ``model`` pruned with ``pattern`` at ``rate`` on ``n_samples`` images, or
    with a SparseML ``recipe`` file (then ``pattern``/``rate`` are ``None``; the model-pattern is
    named ``model/recipe-<stem>/<pruned fraction of the layers it pruned>``). ``hw`` is the
    Eyeriss-V2 cost model (ours by default, :func:`cnn_hw`)."""
    hw = hw or eyeriss.EyerissV2()
    cost_model = "artifact" if isinstance(hw, eyeriss.EyerissV2Artifact) else "ours"
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
    lat, rho, eff = np.concatenate(lat), np.concatenate(rho), np.concatenate(eff)
    dark = np.array([d["low_light"] for d in info])
    convs = [k for k, n in enumerate(names) if isinstance(prof.layers[n], torch.nn.Conv2d)]
    dense = np.array([prof.dense_macs[n] for n in names], np.float64)
    first = convs[1:7]
    weights = {n: (float((m.weight != 0).float().mean()) if n in pruned else 1.0)
               for n, m in prof.layers.items()}
    meta = {
        "model": model, "pattern": pattern, "rate": rate, "layers": names,
        "accelerator": "eyeriss-v2-style sparse CNN accelerator (192 PEs)", "clock_hz": hw.clock_hz,
        "accelerator_model": hw.describe(), "cost_model": cost_model,
        "weights": "RANDOM: deterministic He-normal init, seeded BatchNorm shifts, BatchNorm statistics "
                   "calibrated on real photographs (profiling.cnn); no pretrained weights ship offline",
        "sparsity": {"weights": how,
                     "weight_density": [round(weights[n], 6) for n in names],
                     "dynamic": "ReLU activation zeros (measured)"},
        "inputs": {"kind": "scikit-image photographs, random crops/flips, low-light sensor model "
                           "(profiling.inputs)", "resolution": resolution, "seed": seed,
                   "low_light_samples": int(dark.sum()), "photos": list(inputs.PHOTOS),
                   "samples": info},
        "mean_effectual_macs": float(eff.sum(1).mean()),
        "valid_macs": {
            "definition": "valid MACs of the real layer (non-zero activation x non-zero weight, its stride "
                          "and padding) over its dense MACs, Conv2d layers only, as the artifact's "
                          "dataset_sparsity/draw_boxplot.py counts them (Table 2, Fig. 3)",
            "network_fraction": [round(float(x), 6) for x in eff[:, convs].sum(1) / dense[convs].sum()],
            "fig3_layers": first,
            "fig3_conv_index": list(range(1, 1 + len(first))),
            "fig3_mac_sparsity": np.round(1.0 - eff[:, first] / dense[first], 6).tolist(),
        },
        "profile": {"model": model, "pattern": pattern if recipe is None else None,
                    "rate": rate if recipe is None else None, "recipe": None if recipe is None else Path(recipe).name,
                    "resolution": resolution, "seed": seed, "cost_model": cost_model,
                    "low_light_fraction": low_light_fraction},
        "granularity": "one trace layer per Conv2d/Linear, execution order",
        "provenance": "measured: profiling.pack.profile_cnn (PyTorch forward hooks -> profiling.eyeriss)",
        "versions": versions(sparseml=recipe is not None), "profile_seconds": round(time.time() - t0, 1),
        "split": "seeded half of normal and half of low-light samples are calib",
    }
    return ModelPattern(name=f"{model}/{pattern}/{rate:g}", lat=np.round(lat, 12), rho=np.round(rho, 6),
                        shape=shape, calib=split(n_samples, seed, dark), meta=meta)


def _encode(tok, sample, kind: str, max_len: int):
    """Token ids (1, n) of one text sample of input ``kind`` (:data:`TEXT_INPUTS`)."""
    if kind == "squad":
        return tok([sample["question"]], [sample["context"]], return_tensors="pt", truncation="only_second",
                   max_length=max_len)["input_ids"]
    if kind == "glue":
        return tok([sample["a"]], [sample["b"]], return_tensors="pt", truncation=True,
                   max_length=max_len)["input_ids"]
    return tok([sample[1]], return_tensors="pt", truncation=True, max_length=max_len)["input_ids"]


TEXT_INPUTS = {
    "docstrings": "Python standard-library docstrings, WordPiece (MiniLM) tokens",
    "squad": "SQuAD-like [CLS] question [SEP] context [SEP] built from standard-library docstrings "
             "(profiling.inputs.squad_samples), context truncated to max_len, WordPiece (MiniLM) tokens",
    "glue": "GLUE-like (MRPC-style) sentence pairs [CLS] a [SEP] b [SEP] from standard-library docstrings "
            "(profiling.inputs.glue_samples), WordPiece (MiniLM) tokens",
}


def profile_attention(model: str, n_samples: int, *, threshold: float | None = None, seed: int = 0,
                      max_len: int = MAX_LEN, progress: bool = False, hw: sanger.Sanger | None = None,
                      text: str = "docstrings", extent: str = "padded", name: str | None = None,
                      cost_model: str = "ours") -> ModelPattern:
    """Profile attention ``model`` (a :data:`GEOMETRIES` key) with Sanger thresholding on
    ``n_samples`` texts of kind ``text`` (:data:`TEXT_INPUTS`), the density counted over ``extent``
    (:class:`AttentionProfiler`). The model-pattern is named ``<name or model>/sanger/<threshold>``.
    ``cost_model`` ``"ours"`` takes each block's latency from :mod:`profiling.sanger`'s model,
    ``"artifact"`` from the published artifact's formula on the same masks
    (:func:`profiling.sanger.artifact_latency`). The defaults are ``measured-v1``'s; ``measured-v2``
    uses :data:`PACKS`."""
    hw = hw or sanger.Sanger()
    if cost_model not in COST_MODELS:
        raise ValueError(f"unknown Sanger cost model {cost_model!r}; choose one of {', '.join(COST_MODELS)}")
    if model not in GEOMETRIES:
        raise ValueError(f"unknown attention model {model!r}; choose one of {', '.join(GEOMETRIES)}")
    if text not in TEXT_INPUTS:
        raise ValueError(f"unknown text inputs {text!r}; choose one of {', '.join(TEXT_INPUTS)}")
    threshold = SANGER_THRESHOLDS[model] if threshold is None else threshold
    t0 = time.time()
    net = build_transformer(model, threshold=threshold, seed=seed)
    tok = tokenizer()
    if text == "squad":
        samples = inputs.squad_samples(n_samples, seed=seed)
        described = [d["source"] for d in samples]
    elif text == "glue":
        samples = inputs.glue_samples(n_samples, seed=seed)
        described = [d["source"] for d in samples]
    else:
        samples = inputs.text_samples(n_samples, seed=seed)
        described = [q for q, _ in samples]
    prof = AttentionProfiler(net, max_len, hw, extent=extent)
    lat, rho, lengths, artifact = [], [], [], []
    label = name or model
    with _progress(n_samples, f"{label}/sanger/{threshold:g}", progress) as bar:
        for sample in samples:
            ids = _encode(tok, sample, text, max_len)
            la, rh, shape, names = prof.run(ids)
            lat.append(la if cost_model == "ours" else prof.last_artifact)
            rho.append(rh)
            artifact.append(float(prof.last_artifact.sum()))
            lengths.append(int(ids.shape[1]))
            bar.update(1)
    prof.remove()
    g = net.g
    meta = {
        "model": label, "pattern": "sanger", "rate": threshold, "layers": names,
        "geometry": {"name": g.name, "encoder_layers": g.layers, "decoder_layers": g.decoder_layers, "d": g.d,
                     "heads": g.heads, "d_ff": g.d_ff, "pre_ln": g.pre_ln, "causal": g.causal},
        "accelerator": "sanger-style sparse attention accelerator (64x64 PEs)", "clock_hz": hw.clock_hz,
        "accelerator_model": (hw.describe() if cost_model == "ours" else
                              {"name": "sanger latency formula of the published artifact (profiling.sanger, artifact)",
                               "source": "SamsungLabs/Sparse-Multi-DNN-Scheduling dysta_scheduler/bench_sanger_v3.py",
                               "seq_len": sanger.ARTIFACT_SEQ_LEN}),
        "cost_model": cost_model,
        "weights": (f"TRAINED: {g.trained} (all-MiniLM-L6-v2, BERT architecture)" if g.trained else
                    "RANDOM: deterministic N(0, 0.02) init with logit-calibrated Q/K (profiling.transformer); "
                    "no trained weights of this model ship offline"),
        "sparsity": {"dynamic": f"Sanger-style attention pruning, 4-bit predicted probabilities > {threshold:g}",
                     "weights": "dense",
                     "density": ("kept attention entries over the real n_q x n_k extent (Sanger's overall-sparsity)"
                                 if extent == "real" else
                                 "kept attention entries over the padded heads x max_len^2 extent")},
        "inputs": {"kind": TEXT_INPUTS[text], "text": text, "seed": seed, "max_len": max_len,
                   "seq_lengths": lengths, "docstrings": described},
        "artifact_formula": {
            "definition": "the artifact's Sanger latency formula (profiling.sanger.artifact_latency) on the same "
                          f"masks, summed over the attention modules, at its default length {sanger.ARTIFACT_SEQ_LEN}",
            "seq_len": sanger.ARTIFACT_SEQ_LEN, "mean_request_s": round(float(np.mean(artifact)), 9),
            "request_s": [round(x, 9) for x in artifact]},
        "profile": {"model": model, "name": label, "threshold": threshold, "text": text, "extent": extent,
                    "max_len": max_len, "seed": seed, "cost_model": cost_model},
        "granularity": "one trace layer per transformer block (attention + FFN), execution order",
        "provenance": "measured: profiling.pack.profile_attention (PyTorch forward hooks -> profiling.sanger)",
        "versions": versions(), "profile_seconds": round(time.time() - t0, 1),
        "split": "seeded half of the samples are calib",
    }
    return ModelPattern(name=f"{label}/sanger/{threshold:g}", lat=np.round(np.array(lat), 12),
                        rho=np.round(np.array(rho), 10), shape=shape, calib=split(n_samples, seed), meta=meta)


#: What each measured pack is made of. ``attnn``: (model, name, threshold, text inputs, max_len);
#: ``cnn``: resolution per model, the weight-sparsity patterns, the Eyeriss-V2 cost model.
PACKS = {
    "measured-v1": {
        "attnn": (("bert", "bert", 0.002, "docstrings", 256), ("bart", "bart", 0.2, "docstrings", 256),
                  ("gpt2", "gpt2", 0.002, "docstrings", 256)),
        "extent": "padded", "resolution": {m: 128 for m in cnn.CNN_NAMES}, "cost_model": "ours",
        "attnn_cost_model": "ours",
        "description": ("MEASURED with PyTorch hooks on accelerator models (profiling/): real inputs "
                        "(scikit-image photographs + low-light variants; stdlib docstrings); BERT is the "
                        "trained MiniLM, BART/GPT-2 and all CNNs have random weights (see each meta)"),
    },
    "measured-v2": {
        "attnn": (("bert-base", "bert", 0.002, "squad", 384), ("bart", "bart", 0.01, "glue", 128),
                  ("gpt2", "gpt2", 0.002, "glue", 128)),
        "extent": "real", "resolution": {"resnet50": 224, "vgg16": 224, "mobilenet": 224, "ssd": 300},
        "cost_model": "artifact", "attnn_cost_model": "ours",
        "description": ("MEASURED with PyTorch hooks (profiling/) at the paper's model sizes: BERT-base on SQuAD-like "
                        "question+context (<= 384 tokens), BART (Sanger's threshold 0.01) and GPT-2 on GLUE-like "
                        "sentence pairs (<= 128 tokens), attention density over the real extent, on our Sanger "
                        "model; CNNs at 224 px (SSD 300) on the published artifact's Eyeriss-V2 cost model. "
                        "All weights random (no trained BERT-base/BART/GPT-2/CNN ships offline); inputs are "
                        "real photographs (plus low-light variants) and standard-library prose (see each meta)"),
    },
}


def regenerate(meta: dict, n_samples: int, progress: bool = False) -> ModelPattern:
    """Profile a model-pattern again from the ``profile`` recipe in its metadata."""
    r = meta["profile"]
    if "threshold" in r:
        return profile_attention(r["model"], n_samples, threshold=r["threshold"], seed=r["seed"],
                                 max_len=r["max_len"], text=r["text"], extent=r["extent"], name=r["name"],
                                 cost_model=r["cost_model"], progress=progress)
    return profile_cnn(r["model"], r["pattern"], r["rate"], n_samples, resolution=r["resolution"], seed=r["seed"],
                       hw=cnn_hw(r["cost_model"]), low_light_fraction=r["low_light_fraction"], progress=progress)


def _profile_unit(unit) -> tuple[str, ModelPattern]:
    """One model-pattern of :func:`build_pack`: ``(scenario, keyword arguments)``. Module level, so
    that cluster workers import it by name."""
    scenario, kw = unit
    kw = dict(kw)
    if scenario == "attnn":
        return scenario, profile_attention(kw.pop("model"), kw.pop("n_samples"), **kw)
    hw = cnn_hw(kw.pop("cost_model"))
    return scenario, profile_cnn(kw.pop("model"), kw.pop("pattern"), kw.pop("rate"), kw.pop("n_samples"), hw=hw, **kw)


def build_pack(n_samples: int = 100, *, seed: int = 2023, name: str = "measured-v2",
               cnn_models=cnn.CNN_NAMES, attnn_models=None, progress: bool = True, out_name: str | None = None,
               cost_model: str | None = None, attnn_cost_model: str | None = None, resolution: int | None = None,
               cluster: str | None = None) -> TracePack:
    """Profile both scenarios of pack ``name`` (:data:`PACKS`) into one pack (named ``out_name``,
    default ``name``). ``attnn_models`` (names, e.g. ``("bert",)``) and ``cnn_models`` select a part
    of it; ``cost_model`` / ``attnn_cost_model`` override the spec's CNN / attention cost models,
    ``resolution`` its CNN input sizes (small test packs). Each model-pattern is one unit of
    :func:`dysta_sw.cluster.map_units`: here one after another, or on the Dask ``cluster`` at that
    address (or ``$DYSTA_CLUSTER``), whose workers need the profiling extra; the pack is the same
    (every unit is seeded)."""
    if name not in PACKS:
        raise ValueError(f"unknown measured pack {name!r}; choose one of {', '.join(PACKS)}")
    spec = dict(PACKS[name])
    spec["cost_model"] = cost_model or spec["cost_model"]
    spec["attnn_cost_model"] = attnn_cost_model or spec["attnn_cost_model"]
    from dysta_sw.cluster import map_units

    t0 = time.time()
    mps: dict[str, ModelPattern] = {}
    scenarios: dict[str, list[str]] = {"attnn": [], "cnn": []}
    units = [("attnn", dict(model=model, n_samples=n_samples, threshold=threshold, seed=seed, max_len=max_len,
                            text=text, extent=spec["extent"], name=label, cost_model=spec["attnn_cost_model"]))
             for model, label, threshold, text, max_len in spec["attnn"]
             if attnn_models is None or label in attnn_models]
    units += [("cnn", dict(model=m, pattern=pattern, rate=rate, n_samples=n_samples,
                           resolution=resolution or spec["resolution"][m], seed=seed, cost_model=spec["cost_model"]))
              for m in cnn_models for pattern, rate in CNN_PATTERNS]
    for scenario, mp in map_units(_profile_unit, units, jobs=1, cluster=cluster, progress=progress,
                                  desc="profiling", unit="model-pattern"):
        mps[mp.name] = mp
        scenarios[scenario].append(mp.name)
    meta = {
        "synthetic": False,
        "description": spec["description"],
        "cost_model": {"cnn": spec["cost_model"], "attnn": spec["attnn_cost_model"]},
        "generator": {"module": "profiling.pack.build_pack", "pack": name, "seed": seed, "n_samples": n_samples,
                      "cnn_resolution": spec["resolution"], "attention_density": spec["extent"],
                      "seconds": round(time.time() - t0, 1)},
        "versions": versions(),
    }
    return TracePack(name=out_name or name, meta=meta, model_patterns=mps, scenarios=scenarios)
