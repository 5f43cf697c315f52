"""The formulas of :mod:`dysta_sw.formulas`, compiled for scalars (used by the compiled engine)."""

from .. import formulas
from ._jit import jit

remaining_sparse = jit(formulas.remaining_sparse)
density_ratio = jit(formulas.density_ratio)
gamma_mean = jit(formulas.gamma_mean)
gamma_calibrated = jit(formulas.gamma_calibrated)
prema_waited = jit(formulas.prema_waited)
prema_gain = jit(formulas.prema_gain)
prema_gain_scaled = jit(formulas.prema_gain_scaled)
prema_threshold = jit(formulas.prema_threshold)
planaria_score = jit(formulas.planaria_score)
planaria_ratio = jit(formulas.planaria_ratio)
sdrm3_mapscore = jit(formulas.sdrm3_mapscore)
scan_replaces = jit(formulas.scan_replaces)
dysta_static = jit(formulas.dysta_static)
dysta_dynamic = jit(formulas.dysta_dynamic)
