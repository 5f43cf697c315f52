"""Flat numpy tables of one scenario, laid out for the engine's vectorised gathers.

Every model-pattern ``m`` of a scenario gets an index. Its per-sample rows of true latency and
density are stored back to back in ``lat``/``rho``; ``sample_base[m] + s * L[m] + l`` is the
flat index of (sample ``s``, layer ``l``). Its look-up tables (what a scheduler may know) are
stored back to back too, ``lut_base[m] + l`` indexing layer ``l`` with one extra trailing entry
so that ``Rbar[L] = 0`` can be read after the last layer:

- ``rbar`` / ``lbar`` / ``rhobar``: pattern-aware LUTs from the calibration split (from every
  sample with ``all_samples``, as the published artifact builds them: the ``reference`` profile);
- ``rbar_model`` / ``lbar_model``: pattern-unaware LUTs, the mean over all patterns of the model
  (``all_samples``: over all samples of the model, so a pattern weighs as many samples as it has);
- ``rem_true``: true remaining latency of a sample from layer ``l`` (oracle only);

and per model-pattern the predictor's slope alpha fitted on the calibration split
(:meth:`ScenarioTables.gamma_alpha`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .errors import DystaInputError
from .trace import ModelPattern, TracePack
from .tracestats import fit_alpha


@dataclass(eq=False)
class ScenarioTables:
    """Look-up tables and true traces of one scenario, as flat arrays."""

    scenario: str
    names: list[str]
    models: list[str]
    model_of: np.ndarray  #: model index of each model-pattern
    n_layers: np.ndarray
    n_samples: np.ndarray
    sample_base: np.ndarray
    lut_base: np.ndarray
    tiso_base: np.ndarray  #: flat index of sample 0 in ``tiso``
    lat: np.ndarray
    rho: np.ndarray
    rem_true: np.ndarray  #: sum of true latency from layer l to the end, per (sample, layer)
    tiso: np.ndarray  #: true isolated latency of every (model-pattern, sample)
    rbar: np.ndarray
    lbar: np.ndarray
    rhobar: np.ndarray
    rbar_model: np.ndarray
    lbar_model: np.ndarray
    tiso_est: np.ndarray  #: per model-pattern ``Rbar[0]``
    tiso_est_model: np.ndarray  #: per model-pattern, its model's mean ``Rbar[0]`` over patterns
    tbar_model: np.ndarray  #: per model-pattern, its model's mean true isolated latency (for SLOs)
    shape: np.ndarray  #: output size per (model-pattern, layer), at ``lut_base``
    #: :meth:`TracePack.capacity` of the scenario: Dysta's score counts time at the paper's scale
    capacity: float = 1.0
    #: the scenario's model-patterns, in index order (for :meth:`gamma_alpha`)
    model_patterns: list = field(default_factory=list, repr=False)
    _alpha: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, pack: TracePack, scenario: str, *, all_samples: bool = False) -> ScenarioTables:
        mps: list[ModelPattern] = pack.scenario(scenario)
        if all_samples:  # the look-up tables from every sample, as the published artifact builds them
            mps = [replace(mp, calib=np.ones(mp.n_samples, bool)) for mp in mps]
        names = [mp.name for mp in mps]
        models = list(dict.fromkeys(mp.model for mp in mps))
        model_of = np.array([models.index(mp.model) for mp in mps])
        n_layers = np.array([mp.n_layers for mp in mps])
        n_samples = np.array([mp.n_samples for mp in mps])
        sizes = n_layers * n_samples
        sample_base = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        lut_base = np.concatenate([[0], np.cumsum(n_layers + 1)[:-1]])
        tiso_base = np.concatenate([[0], np.cumsum(n_samples)[:-1]])
        lat = np.concatenate([mp.lat.ravel() for mp in mps])
        rho = np.concatenate([mp.rho.ravel() for mp in mps])
        rem_true = np.concatenate([np.cumsum(mp.lat[:, ::-1], axis=1)[:, ::-1].ravel() for mp in mps])
        tiso = np.concatenate([mp.tiso for mp in mps])

        # Each LUT row has L + 1 entries; the extra one is read after a request's last layer.
        lut = np.concatenate
        rbar = np.concatenate([mp.rbar for mp in mps])
        lbar = lut([np.append(mp.lbar, 0.0) for mp in mps])
        rhobar = lut([np.append(mp.rhobar, 1.0) for mp in mps])
        by_model = {}
        for mp in mps:
            by_model.setdefault(mp.model, []).append(mp)
        lbar_m = {}
        tbar_m = {}
        for model, group in by_model.items():
            if len({g.n_layers for g in group}) != 1:
                raise DystaInputError(
                    f"trace pack {pack.name!r}: model {model!r} has patterns with different layer "
                    "counts; the per-model look-up table needs one layer structure per model")
            weights = [g.n_samples for g in group] if all_samples else None
            lbar_m[model] = np.average([g.lbar for g in group], axis=0, weights=weights)
            tbar_m[model] = float(np.mean(np.concatenate([g.tiso for g in group])))
        lbar_model = lut([np.append(lbar_m[mp.model], 0.0) for mp in mps])
        rbar_model = np.concatenate([np.append(np.cumsum(lbar_m[mp.model][::-1])[::-1], 0.0) for mp in mps])
        tiso_est = np.array([mp.tiso_est for mp in mps])
        tiso_est_model = np.array([float(np.sum(lbar_m[mp.model])) for mp in mps])
        tbar_model = np.array([tbar_m[mp.model] for mp in mps])
        shape = lut([np.append(mp.shape, 1) for mp in mps]).astype(np.int64)
        return cls(scenario=scenario, names=names, models=models, model_of=model_of, n_layers=n_layers,
                   n_samples=n_samples, sample_base=sample_base, lut_base=lut_base, tiso_base=tiso_base,
                   lat=lat, rho=rho, rem_true=rem_true, tiso=tiso, rbar=rbar, lbar=lbar, rhobar=rhobar,
                   rbar_model=rbar_model, lbar_model=lbar_model, tiso_est=tiso_est,
                   tiso_est_model=tiso_est_model, tbar_model=tbar_model, shape=shape,
                   capacity=pack.capacity(scenario), model_patterns=mps)

    def gamma_alpha(self, kind: str, n: int = 3) -> np.ndarray:
        """The predictor's slope alpha per model-pattern, fitted on the calibration split for
        predictor ``kind`` (window ``n`` for last-n): :func:`dysta_sw.tracestats.fit_alpha`."""
        key = (kind, n if kind == "last-n" else 0)
        if key not in self._alpha:
            self._alpha[key] = np.array([fit_alpha(mp, kind, n) for mp in self.model_patterns], np.float64)
        return self._alpha[key]

    def index(self, name: str) -> int:
        """Index of model-pattern ``name``."""
        return self.names.index(name)
