"""Synthetic trace packs: generated stand-ins for measured traces, always labelled as such.

The generator draws, for every model-pattern, per-(sample, layer) activation densities from a
one-factor model: each sample has a latent "input difficulty" ``z_s`` shared by all its layers
and each layer adds its own noise,

    x[s, l] = c * z_s + sqrt(1 - c^2) * e[s, l],        z_s, e[s, l] ~ N(0, 1)
    rho[s, l] = clip(rhom[l] * (1 + spread * x[s, l]), 0.005, 1)

so ``c`` (``correlation``) sets the inter-layer correlation of sparsity (the paper's Fig. 9)
and ``spread`` the per-sample sparsity spread (Figs. 2-3). Latency follows the density
through a fixed part (dense work, mapping overheads) and a sparsity-proportional part:

    lat[s, l] = base[l] * (fixed + (1 - fixed) * rho[s, l] / rhom[l])

with ``base`` a per-model layer profile scaled so the mean isolated latency matches the
model's ``latency_scale`` times the pattern's latency factor. A fraction of CNN samples is
"low-light": their latent factor is shifted down, giving sparser activations (paper Fig. 3).
The shapes follow the paper's Table 3 (layer counts of the real networks; latencies in the
range of Sanger at 1 GHz for attention models and Eyeriss-V2 at 200 MHz for CNNs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from .errors import DystaInputError
from .trace import ModelPattern, TracePack


@dataclass(frozen=True)
class ModelSpec:
    """Shape of one synthetic model."""

    name: str
    n_layers: int
    latency_scale: float  #: mean isolated latency of the model, seconds
    fixed: float  #: fraction of a layer's latency that does not depend on sparsity
    density: float  #: mean activation density
    spread: float  #: relative per-sample density spread
    correlation: float  #: inter-layer correlation of density
    output_size: int  #: output elements of the first layer
    accelerator: str
    clock_hz: float


@dataclass(frozen=True)
class PatternSpec:
    """A weight-sparsity pattern's effect on a synthetic model."""

    pattern: str
    rate: float
    latency_factor: float  #: multiplies the model's latency scale
    spread_factor: float  #: multiplies the model's density spread


SANGER = ("sanger-style sparse attention accelerator (64x64 PEs)", 1e9)
EYERISS = ("eyeriss-v2-style sparse CNN accelerator (192 PEs)", 200e6)

ATTNN_MODELS = (
    ModelSpec("bert", 12, 0.017, 0.35, 0.30, 0.35, 0.85, 128 * 768, *SANGER),
    ModelSpec("bart", 12, 0.029, 0.35, 0.20, 0.35, 0.80, 128 * 768, *SANGER),
    ModelSpec("gpt2", 12, 0.035, 0.35, 0.30, 0.30, 0.85, 128 * 768, *SANGER),
)
ATTNN_PATTERNS = {
    "bert": (PatternSpec("sanger", 0.002, 1.0, 1.0),),
    "bart": (PatternSpec("sanger", 0.2, 1.0, 1.0),),
    "gpt2": (PatternSpec("sanger", 0.002, 1.0, 1.0),),
}
CNN_MODELS = (
    ModelSpec("resnet50", 54, 0.26, 0.20, 0.45, 0.25, 0.75, 112 * 112 * 64, *EYERISS),
    ModelSpec("vgg16", 16, 0.52, 0.20, 0.40, 0.25, 0.75, 224 * 224 * 64, *EYERISS),
    ModelSpec("mobilenet", 28, 0.05, 0.25, 0.50, 0.20, 0.70, 112 * 112 * 32, *EYERISS),
    ModelSpec("ssd", 46, 0.23, 0.20, 0.45, 0.25, 0.75, 150 * 150 * 64, *EYERISS),
)
CNN_PATTERN_SPECS = (
    PatternSpec("random", 0.5, 1.10, 1.00),
    PatternSpec("nm2:4", 0.5, 1.00, 0.80),
    PatternSpec("channel", 0.5, 0.90, 0.60),
)
LOW_LIGHT_FRACTION = 0.3
LOW_LIGHT_SHIFT = -1.2


def generate_model_pattern(rng: np.random.Generator, model: ModelSpec, pattern: PatternSpec,
                           n_samples: int, low_light: bool) -> ModelPattern:
    """Draw one synthetic model-pattern trace."""
    n_l = model.n_layers
    # Layer profile and mean densities are properties of the model, shared by its patterns
    # only in shape: drawn from a generator seeded by the model name.
    prof_rng = np.random.default_rng(abs(hash_name(model.name)))
    base = prof_rng.lognormal(0.0, 0.5, n_l)
    rhom = np.clip(model.density * prof_rng.lognormal(0.0, 0.25, n_l), 0.02, 0.95)
    shape = np.maximum(1, (model.output_size * 0.5 ** (4 * np.arange(n_l) / n_l))).astype(np.int64)

    z = rng.standard_normal(n_samples)
    dark = np.zeros(n_samples, bool)
    if low_light:
        dark = rng.random(n_samples) < LOW_LIGHT_FRACTION
        z = z + LOW_LIGHT_SHIFT * dark
    c = model.correlation
    e = rng.standard_normal((n_samples, n_l))
    x = c * z[:, None] + np.sqrt(1 - c * c) * e
    spread = model.spread * pattern.spread_factor
    rho = np.clip(rhom * (1 + spread * x), 0.005, 1.0)
    rel = model.fixed + (1 - model.fixed) * rho / rhom
    target = model.latency_scale * pattern.latency_factor
    base = base * target / (base * rel.mean(axis=0)).sum()
    lat = base * rel
    calib = np.zeros(n_samples, bool)
    calib[rng.permutation(n_samples)[: n_samples // 2]] = True
    name = f"{model.name}/{pattern.pattern}/{pattern.rate:g}"
    meta = {
        "model": model.name, "pattern": pattern.pattern, "rate": pattern.rate,
        "accelerator": model.accelerator, "clock_hz": model.clock_hz,
        "provenance": "synthetic: dysta_sw.synthetic one-factor density model, not measured",
        "generator": {"model": asdict(model), "pattern": asdict(pattern),
                      "low_light_samples": int(dark.sum())},
    }
    return ModelPattern(name=name, lat=_round_latency(lat), rho=np.round(rho, 6), shape=shape,
                        calib=calib, meta=meta)


def _round_latency(lat: np.ndarray) -> np.ndarray:
    """Latencies rounded for the CSV: to 12 decimals (the shipped packs' rounding, at least six
    significant digits from a microsecond up), below a microsecond to nine significant digits
    (12 decimals would round a latency scaled down far enough to zero)."""
    out = np.round(lat, 12)
    small = lat < 1e-6
    out[small] = [float(f"{v:.9g}") for v in lat[small]]
    return out


def hash_name(name: str) -> int:
    """A stable (process-independent) integer hash of a string."""
    h = 1469598103934665603
    for ch in name.encode():
        h = ((h ^ ch) * 1099511628211) % (1 << 63)
    return h


def generate_pack(n_samples: int = 128, seed: int = 2023, name: str = "synthetic-v1", *,
                  latency_scale: float = 1.0, spread_scale: float = 1.0,
                  correlation: float | None = None, n_layers: int | None = None) -> TracePack:
    """Generate the synthetic pack for both scenarios (multi-AttNN and multi-CNN).

    Parameters
    ----------
    n_samples : int
        Samples per model-pattern (half of them form the calibration split).
    seed : int
        The defaults (128 samples, seed 2023) give the shipped ``synthetic-v1`` pack.
    latency_scale : float
        Multiplies every model's mean isolated latency.
    spread_scale : float
        Multiplies every model's per-sample density spread.
    correlation : float, optional
        Overrides every model's inter-layer density correlation (0 to 1).
    n_layers : int, optional
        Overrides every model's layer count.
    """
    if n_samples < 2:
        raise DystaInputError(f"--samples must be >= 2 (one calibration, one test sample), not {n_samples}")
    if latency_scale <= 0 or spread_scale < 0:
        raise DystaInputError("latency scale must be > 0 and spread scale >= 0")
    if correlation is not None and not 0 <= correlation <= 1:
        raise DystaInputError(f"correlation must lie in [0, 1], not {correlation}")
    if n_layers is not None and n_layers < 1:
        raise DystaInputError(f"layer count must be >= 1, not {n_layers}")

    def adjust(m: ModelSpec) -> ModelSpec:
        return replace(m, latency_scale=m.latency_scale * latency_scale, spread=m.spread * spread_scale,
                       correlation=m.correlation if correlation is None else correlation,
                       n_layers=m.n_layers if n_layers is None else n_layers)

    rng = np.random.default_rng(seed)
    mps: dict[str, ModelPattern] = {}
    scenarios: dict[str, list[str]] = {"attnn": [], "cnn": []}
    for model in map(adjust, ATTNN_MODELS):
        for pattern in ATTNN_PATTERNS[model.name]:
            mp = generate_model_pattern(rng, model, pattern, n_samples, low_light=False)
            mps[mp.name] = mp
            scenarios["attnn"].append(mp.name)
    for model in map(adjust, CNN_MODELS):
        for pattern in CNN_PATTERN_SPECS:
            mp = generate_model_pattern(rng, model, pattern, n_samples, low_light=True)
            mps[mp.name] = mp
            scenarios["cnn"].append(mp.name)
    meta = {
        "synthetic": True,
        "description": ("SYNTHETIC traces shaped after the paper's Table 3 (layer counts of the real "
                        "networks, latencies of Sanger/Eyeriss-V2 scale); not measured on any model"),
        "generator": {"module": "dysta_sw.synthetic", "seed": seed, "n_samples": n_samples,
                      "latency_scale": latency_scale, "spread_scale": spread_scale,
                      "correlation": correlation, "n_layers": n_layers},
    }
    return TracePack(name=name, meta=meta, model_patterns=mps, scenarios=scenarios)
