"""Eyeriss-V2 sparse CNN accelerator models: per-layer cycles from activation and weight masks.

Two cost models live here; a trace pack records which one produced it (``accelerator_model`` in
each model-pattern's metadata, ``cost_model`` in the pack's):

- ``ours`` (:class:`EyerissV2`, this docstring): an analytical model with a busy-PE mapping and
  DRAM traffic, re-derived from the Eyeriss-V2 paper.
- ``artifact`` (:class:`EyerissV2Artifact`, :func:`artifact_cycles`): the cost model of the
  paper's published simulator (SamsungLabs/Sparse-Multi-DNN-Scheduling,
  ``hw_simulator/cnn_eyerissv2/hw_eyerissv2.py``), re-implemented from its formulas: 4 cycles per
  valid MAC plus activation and weight address-check cycles, spread over the 192 PEs.

Our model (``ours``)
--------------------

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

The published artifact's model (``artifact``)
---------------------------------------------

The artifact's simulator charges a Conv2d/Linear layer (batch of one, input non-zero mask ``A``
of shape ``(C, H, W)``, weight mask ``Wm`` of shape ``(O, C/g, R, S)``; a Linear layer is a 1x1
convolution on a 1x1 map) with

    cycles = floor((4 * V + act_check + weight_check) / 192)

- ``V``, the valid MACs, is the sum of ``conv2d(A, Wm, padding='same', stride=1, groups=g)``: the
  artifact ignores the layer's stride and padding (a strided layer is counted at its input
  resolution, so its valid MACs are about ``stride**2`` times the real ones). 4 cycles per valid
  MAC: load the weight, compute, write back (the artifact cites the Chisel Eyeriss-V2 model it
  follows).
- The mapping (Eyeriss-V2 paper, Table II; :func:`artifact_mapping`) sets, with the output width
  ``E`` taken equal to the input width ``W``:
  ``C0 = C`` if ``C <= 3`` else ``min(pow2floor(16 // R), C)``;
  ``F0 = min(pow2floor(60000 // (E * R * C0 * 8)), E)`` (three 2.5 KB activation buffers, in bits);
  ``M0 = min(32, O/g)``; ``C1 = 8``, ``F1 = 4``, ``S1 = min(3, S)``, ``M1 = 2``, each reduced to
  ``int(dimension / inner)`` when the array dimension exceeds the layer;
  ``M2 = ceil((O/g) / (M0 M1))``, ``F2 = ceil(E / (F0 F1))``, ``C2 = ceil(C / (C0 C1))``,
  ``S2 = ceil(S / S1)``.
- ``act_check = M1 F1 C1 S1 M2 F2 C2 S2 E F0``: every activation address is read once, even for
  an all-zero column.
- ``weight_check = 2 (M1 S1 M2 S2) N``: two more cycles per non-empty column, where ``N`` counts
  the (channel, row) pairs whose window of ``R`` consecutive input rows (inside a block of ``F0``
  rows; rows padded with zeros to ``F2 F1 F0``) holds a non-zero activation.

Latency = cycles / 200 MHz. No DRAM time, no set-up cost. Two details of the artifact are kept
as they are: the valid MACs at stride 1, and the integer truncation. Where the artifact would
stop (its assertion that ``C = C2 C1 C0``, or ``60000 // (E R C0 8) = 0``), this implementation
pads the channels with zeros and takes ``F0 = 1``; none of the benchmark's layers needs either.
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


# ----------------------------------------------------------------------------- the artifact's model

@dataclass(frozen=True)
class EyerissV2Artifact:
    """Constants of the published artifact's Eyeriss-V2 cost model (module docstring)."""

    clusters: tuple[int, int] = (8, 2)
    cluster_pes: tuple[int, int] = (3, 4)
    clock_hz: float = 200e6
    cycles_per_valid_mac: int = 4
    iact_spad_rows: int = 16
    iact_glb_bits: int = 3 * 2500 * 8
    iact_bits: int = 8
    m0: int = 32
    weight_check_cycles: int = 2

    @property
    def pes(self) -> int:
        return self.clusters[0] * self.clusters[1] * self.cluster_pes[0] * self.cluster_pes[1]

    def describe(self) -> dict:
        """The constants, for trace metadata."""
        return {"name": "eyeriss-v2 cost model of the published artifact (profiling.eyeriss, artifact)",
                "cost_model": "artifact",
                "source": "SamsungLabs/Sparse-Multi-DNN-Scheduling hw_simulator/cnn_eyerissv2/hw_eyerissv2.py",
                "pes": self.pes, **asdict(self)}


def _pow2floor(x: int) -> int:
    return 1 << (int(x).bit_length() - 1)


def artifact_mapping(c: int, w: int, o_per_group: float, r: int, s: int,
                     hw: EyerissV2Artifact = EyerissV2Artifact()) -> dict:
    """The artifact's mapping of a layer: input channels ``c``, input width ``w`` (= ``E``), output
    channels per group ``o_per_group``, kernel ``r x s`` (module docstring)."""
    c0 = c if c <= 3 else min(_pow2floor(max(hw.iact_spad_rows // r, 1)), c)
    e = w
    f0 = hw.iact_glb_bits // (e * r * c0 * hw.iact_bits)
    f0 = min(_pow2floor(f0), e) if f0 >= 1 else 1
    m0 = hw.m0 if o_per_group > hw.m0 else o_per_group
    rows, cols = hw.clusters
    pe_rows, pe_cols = hw.cluster_pes
    c1 = rows if rows * c0 <= c else int(c / c0)
    f1 = pe_cols if pe_cols * f0 <= w else int(w / f0)
    s1 = pe_rows if s >= pe_rows else s
    m1 = cols if cols * m0 <= o_per_group else int(o_per_group / m0)
    return {"C0": c0, "C1": c1, "C2": math.ceil(c / (c0 * c1)), "F0": f0, "F1": f1,
            "F2": math.ceil(w / (f0 * f1)), "M0": m0, "M1": m1, "M2": math.ceil(o_per_group / (m0 * m1)),
            "S1": s1, "S2": math.ceil(s / s1), "R": r, "E": e}


def artifact_valid_macs(act_mask, w_mask, groups: int = 1):
    """The artifact's valid MACs per sample (B,): ``conv2d(A, Wm, padding='same', stride=1)`` summed,
    and the stride-1 output map (B, O, H, W) it was summed from (for the real layer's count)."""
    full = F.conv2d(act_mask, w_mask, padding="same", groups=groups)
    return full.flatten(1).sum(1, dtype=torch.float64), full


def artifact_cycles(act_mask, w_mask, groups: int = 1, valid=None,
                    hw: EyerissV2Artifact = EyerissV2Artifact()):
    """Cycles per sample (B,) of a layer on the artifact's model (module docstring).

    ``act_mask``: (B, C, H, W) 0/1 float (a Linear layer's (B, C) input is taken as (B, C, 1, 1));
    ``w_mask``: (O, C/g, R, S) (a Linear layer's (O, C) weight as (O, C, 1, 1)); ``valid``: the
    valid MACs if already computed (:func:`artifact_valid_macs`).
    """
    if act_mask.dim() == 2:
        act_mask = act_mask[:, :, None, None]
    if w_mask.dim() == 2:
        w_mask = w_mask[:, :, None, None]
    b, c, h, w = act_mask.shape
    o, _, r, s = w_mask.shape
    if valid is None:
        valid = artifact_valid_macs(act_mask, w_mask, groups)[0]
    m = artifact_mapping(c, w, o / groups, r, s, hw)
    act_check = (m["M1"] * m["F1"] * m["C1"] * m["S1"] * m["M2"] * m["F2"] * m["C2"] * m["S2"]
                 * m["E"] * m["F0"])
    # Non-empty windows of R consecutive rows (inside blocks of F0 rows) per channel.
    p = m["F2"] * m["F1"] * m["F0"]
    rows = act_mask.sum(-1, dtype=torch.float64)  # (B, C, H)
    pc = m["C2"] * m["C1"] * m["C0"]
    rows = F.pad(rows, (0, max(p - h, 0), 0, max(pc - c, 0)))[:, :, :p] if (p > h or pc > c) else rows[:, :, :p]
    blocks = rows.reshape(b, rows.shape[1], -1, m["F0"])
    win = blocks.clone()
    for k in range(1, r):
        win[..., :-k] += blocks[..., k:]
    nonempty = (win != 0).flatten(1).sum(1).to(torch.float64)
    weight_check = hw.weight_check_cycles * (m["M1"] * m["S1"] * m["M2"] * m["S2"]) * nonempty
    total = hw.cycles_per_valid_mac * valid.to(torch.float64) + act_check + weight_check
    return torch.floor(total / hw.pes)
