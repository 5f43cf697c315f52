"""Eyeriss-V2-style sparse CNN accelerator model: per-layer cycles from activation and weight masks.

The paper evaluates CNNs on a custom Python simulator of Eyeriss-V2 (Section 3.3.2; Section 6.1:
200 MHz, input-activation global buffer enlarged from 1.5 KB to 2.5 KB, other parameters as in
Chen et al., JETCAS 2019). This module is our documented re-derivation of such a model; it is
analytical (no cycle-level NoC simulation) and every constant is a field of :class:`EyerissV2`.

Array. 192 PEs as 8x2 clusters of 3x4 PEs (``clusters * cluster_pes``), clock 200 MHz. Sparse PEs
process compressed (CSC) activations and weights and spend cycles only on *effectual* MACs, pairs
of a non-zero input activation and a non-zero weight: ``macs_per_pe`` = 1 per cycle (Eyeriss-V2's
2-wide 8-bit SIMD is not modelled: a conservative choice).

Effectual MACs. For a Conv2d with input non-zero mask ``A[c, h, w]`` (zero padding counts as zero),
weight mask ``Wm[o, c', i, j]``, stride ``s``, dilation ``d``, padding ``p`` and ``g`` groups, the
effectual MACs of output channel ``o`` and output row ``y`` are

    work[o, y] = sum_{c', i, j} Wm[o, c', i, j] * S[c(o, c'), i, j, y]
    S[c, i, j, y] = sum_x A_pad[c, y*s + i*d, x*s + j*d]

(``c(o, c')`` the input channel of group ``o // (O/g)``); a Linear layer is a 1x1 convolution on
a 1x1 map. This is exact: it equals the sum over the output row of ``conv2d(A, Wm)``.

Mapping. Work units (output channel, output row), flattened channel-major, are mapped round-robin
onto the PEs by the static compiler mapping (it cannot see data-dependent sparsity), so the
compute time is set by the busiest PE:

    cycles_pe[p] = sum_{units u on p} work[u] / macs_per_pe + unit_overhead * units_on_p
    compute = max_p cycles_pe[p]

``unit_overhead`` (8 cycles) covers the per-unit pipeline fill, CSC pointer reads and the partial-sum
write-back. Load imbalance across PEs (unequal sparsity, fewer units than PEs) is thus captured.

Memory. Activations and weights move between DRAM and the on-chip buffers compressed: 8-bit value
plus 4-bit index, ``bytes_per_nnz`` = 1.5, or dense (1 byte per element) when that is smaller.
The input-activation global buffer holds ``glb_act_bytes`` = 16 clusters x 2.5 KB; when a
layer's compressed input does not fit, it is processed in ``T = ceil(input bytes / glb_act_bytes)``
tiles and the weights are streamed once per tile:

    dram_bytes = in_bytes + T * weight_bytes + out_bytes
    memory = dram_bytes / dram_bytes_per_cycle           (8 B/cycle = 1.6 GB/s at 200 MHz)

``out_bytes`` uses the density of the written-back output (after the fused ReLU).

Layer latency: ``cycles = max(compute, memory) + layer_setup`` (1000 cycles of configuration,
NoC set-up and pipeline drain), ``seconds = cycles / clock_hz``. Stride, padding, dilation and
groups of the real layer enter through ``S`` and the output size.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from . import require_torch

torch = require_torch()
F = torch.nn.functional


@dataclass(frozen=True)
class EyerissV2:
    """Constants of the Eyeriss-V2-style model (see the module docstring for their role)."""

    clusters: tuple[int, int] = (8, 2)
    cluster_pes: tuple[int, int] = (3, 4)
    clock_hz: float = 200e6
    macs_per_pe: int = 1
    unit_overhead: int = 8
    bytes_per_nnz: float = 1.5
    glb_act_bytes: int = 16 * 2560
    dram_bytes_per_cycle: float = 8.0
    layer_setup: int = 1000

    @property
    def pes(self) -> int:
        return self.clusters[0] * self.clusters[1] * self.cluster_pes[0] * self.cluster_pes[1]

    def describe(self) -> dict:
        """The constants, for trace metadata."""
        return {"name": "eyeriss-v2-style sparse CNN model (profiling.eyeriss)", "pes": self.pes, **asdict(self)}


def unit_work(act_mask, w_mask, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """Effectual MACs per (sample, output channel, output row): a tensor of shape (B, O, E).

    ``act_mask``: (B, C, H, W) 0/1 float; ``w_mask``: (O, C/groups, kh, kw) 0/1 float.
    """
    b, c, h, w = act_mask.shape
    o, cg, kh, kw = w_mask.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    a = F.pad(act_mask, (pw, pw, ph, ph))
    e = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    f = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    sums = [a[:, :, i * dh:i * dh + sh * (e - 1) + 1:sh, j * dw:j * dw + sw * (f - 1) + 1:sw].sum(-1)
            for i in range(kh) for j in range(kw)]
    s = torch.stack(sums, 2).reshape(b, groups, cg * kh * kw, e)
    wm = w_mask.reshape(groups, o // groups, cg * kh * kw)
    return torch.einsum("gok,bgke->bgoe", wm, s).reshape(b, o, e)


def compute_cycles(work, hw: EyerissV2 = EyerissV2()):
    """Busiest-PE cycles per sample for work units (B, O, E) mapped round-robin onto the PEs."""
    b = work.shape[0]
    flat = work.reshape(b, -1).to(torch.float64)
    n = flat.shape[1]
    pad = (-n) % hw.pes
    per_pe = F.pad(flat, (0, pad)).reshape(b, -1, hw.pes).sum(1)
    units = torch.full((hw.pes,), n // hw.pes, dtype=torch.float64)
    units[: n % hw.pes] += 1
    return (per_pe / hw.macs_per_pe + hw.unit_overhead * units).amax(1)


def _bytes(nnz, total, hw):
    return torch.minimum(nnz * hw.bytes_per_nnz, torch.as_tensor(float(total), dtype=torch.float64))


def memory_cycles(in_nnz, in_total, w_nnz, w_total, out_nnz, out_total, hw: EyerissV2 = EyerissV2()):
    """DRAM cycles per sample (see the module docstring); ``*_nnz`` are per-sample tensors or numbers."""
    in_b = _bytes(torch.as_tensor(in_nnz, dtype=torch.float64), in_total, hw)
    w_b = _bytes(torch.as_tensor(float(w_nnz), dtype=torch.float64), w_total, hw)
    out_b = _bytes(torch.as_tensor(out_nnz, dtype=torch.float64), out_total, hw)
    tiles = torch.clamp(torch.ceil(in_b / hw.glb_act_bytes), min=1)
    return (in_b + tiles * w_b + out_b) / hw.dram_bytes_per_cycle


def layer_cycles(compute, memory, hw: EyerissV2 = EyerissV2()):
    """Total cycles of a layer: the slower of compute and memory plus the set-up."""
    return torch.maximum(torch.as_tensor(compute), torch.as_tensor(memory)) + hw.layer_setup


def conv_geometry(layer) -> dict:
    """Stride, padding, dilation and groups of a Conv2d (Linear: a 1x1 convolution)."""
    if isinstance(layer, torch.nn.Conv2d):
        if isinstance(layer.padding, str):
            raise ValueError(f"string padding {layer.padding!r} is not supported; use explicit padding")
        return {"stride": tuple(layer.stride), "padding": tuple(layer.padding),
                "dilation": tuple(layer.dilation), "groups": layer.groups}
    return {"stride": (1, 1), "padding": (0, 0), "dilation": (1, 1), "groups": 1}


def dense_macs(w_shape, out_hw) -> int:
    """Dense MACs of a layer with weight shape (O, C/g, kh, kw) and output map size (E, F)."""
    return math.prod(w_shape) * math.prod(out_hw)
