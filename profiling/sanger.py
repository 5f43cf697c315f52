"""Sanger-style sparse attention accelerator model: per-block cycles from the attention masks.

The paper evaluates attention models on Sanger (Lu et al., MICRO 2021) with its open-source
simulator (Section 3.3.2), which we cannot run offline; this module is our documented analytical
model of the same design. Every constant is a field of :class:`Sanger`.

Array: 64x64 PEs (4096 MACs/cycle) at 1 GHz, output-stationary for dense matrix products and
reconfigured for the sparse attention products.

Dense products (Q/K/V, output and cross-attention projections, the FFN). An ``(n x k) @ (k x m)``
product is tiled into 64x64 output tiles, each accumulating over ``k`` cycles, plus one
pipeline fill/drain of ``fill`` = 128 cycles:

    dense(n, k, m) = ceil(n / 64) * ceil(m / 64) * k + fill

so short sequences under-use the array, as on the real design.

Prediction. Sanger predicts the attention mask from 4-bit quantised Q and K (dense ``n x n``
product per head) on the same array with ``pred_pack`` = 4 low-bit MACs per PE per cycle:
``dense(n_q, d_head, n_k) / pred_pack``.

Sparse attention (pack and split, Sanger Section 4). For every head the mask rows (non-zero
counts ``r_i``) are split into sub-rows of at most 64 non-zeros, then packed in row order into
64-slot rows (next-fit: a sub-row starts a new packed row when it does not fit). The 64 PE rows
take 64 packed rows at a time, each PE one non-zero (i, j); ``S = Q K^T`` on the mask and
``S V`` each take ``d_head`` cycles per wave of 64 packed rows, and the masked softmax takes
``ceil(nnz / 64)`` cycles on a 64-lane unit:

    attention_head = 2 * ceil(packed_rows / 64) * d_head + ceil(nnz / 64)

The load balance, ``nnz / (64 * packed_rows)``, is what packing buys; it is recorded.

Element-wise work (LayerNorm, GELU, residual adds) runs on a 64-lane vector unit:
``ceil(n * (4 d + d_ff) / 64)`` cycles per block.

A transformer block (one trace layer) sums its products, prediction, attention and element-wise
cycles; a decoder block adds its cross-attention (queries from the decoder, keys/values from
the encoder output). Latency = cycles / ``clock_hz``. Each input's real sequence length enters
every term.

The published artifact's formula (for comparison)
-------------------------------------------------

The paper's artifact (SamsungLabs/Sparse-Multi-DNN-Scheduling, ``dysta_scheduler/bench_sanger_v3.py``
and ``utils.py``) turns each attention module's logged statistics into a latency with a closed
formula, re-implemented in :func:`artifact_latency`: with ``s`` the module's kept fraction over the
real extent (Sanger's ``overall-sparsity``), ``b`` Sanger's logged load balance (``50%-skip``:
64-wide row vectors split into segments of 32, all-zero vectors skipped; :func:`artifact_load_balance`)
and ``L`` a fixed sequence length (the artifact's default ``--seq_len`` 512, which its scripts keep),

    rows   = s / b / 0.25 * L
    linear = 6 L 768^2 / 2048 GOPS              (Q, K, V projections on 64 x 16 PEs)
    proj   = 2 L 768^2 / (2048 GOPS / s * b)
    attn   = rows / 64 * ((768 + 64) + (rows + 64)) * (L / 64) cycles at 1 GHz

The dense work is charged at ``L`` whatever the input's length and the FFN is not counted, so
that formula's latency follows ``s`` (shorter inputs, denser maps, are slower), while this
module's follows the real length. :func:`artifact_latency` is recorded beside each measured
model-pattern (``artifact_formula`` in its metadata) and quoted in docs/profiling.md; the traces'
latencies are this module's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Sanger:
    """Constants of the Sanger-style model (see the module docstring)."""

    rows: int = 64
    cols: int = 64
    clock_hz: float = 1e9
    fill: int = 128
    pred_pack: int = 4
    vector_lanes: int = 64

    def describe(self) -> dict:
        """The constants, for trace metadata."""
        return {"name": "sanger-style sparse attention model (profiling.sanger)", **asdict(self)}


def dense_cycles(n: int, k: int, m: int, hw: Sanger = Sanger()) -> int:
    """Cycles of a dense ``(n x k) @ (k x m)`` product on the array."""
    return math.ceil(n / hw.rows) * math.ceil(m / hw.cols) * k + hw.fill


def packed_rows(row_nnz, width: int = 64) -> int:
    """Packed rows after Sanger's split (sub-rows of <= ``width``) and next-fit pack in row order."""
    rows, free = 0, 0
    for r in np.asarray(row_nnz).tolist():
        r = int(r)
        while r > 0:
            piece = min(r, width)
            if piece > free:
                rows += 1
                free = width
            free -= piece
            r -= piece
    return rows


def attention_cycles(mask, d_head: int, hw: Sanger = Sanger()) -> tuple[int, float]:
    """Cycles and load balance of the sparse attention of all heads.

    ``mask``: boolean array (heads, n_q, n_k) of the kept attention entries.
    """
    mask = np.asarray(mask, bool)
    heads, n_q, n_k = mask.shape
    cycles = 0
    nnz_all, slots = 0, 0
    for h in range(heads):
        row_nnz = mask[h].sum(1)
        pr = packed_rows(row_nnz, hw.cols)
        nnz = int(row_nnz.sum())
        cycles += 2 * math.ceil(pr / hw.rows) * d_head + math.ceil(nnz / hw.vector_lanes)
        cycles += math.ceil(dense_cycles(n_q, d_head, n_k, hw) / hw.pred_pack)
        nnz_all += nnz
        slots += pr * hw.cols
    return cycles, (nnz_all / slots if slots else 1.0)


def block_cycles(n: int, d: int, d_ff: int, heads: int, self_mask, cross_mask=None, n_enc: int | None = None,
                 hw: Sanger = Sanger()) -> dict:
    """Cycles of one transformer block on a length-``n`` input (see the module docstring).

    Returns ``{"cycles", "dense", "attention", "balance"}``.
    """
    dh = d // heads
    dense = dense_cycles(n, d, 3 * d, hw) + dense_cycles(n, d, d, hw)
    dense += dense_cycles(n, d, d_ff, hw) + dense_cycles(n, d_ff, d, hw)
    att, bal = attention_cycles(self_mask, dh, hw)
    elem = math.ceil(n * (4 * d + d_ff) / hw.vector_lanes)
    if cross_mask is not None:
        dense += dense_cycles(n, d, d, hw) + dense_cycles(n_enc, d, 2 * d, hw) + dense_cycles(n, d, d, hw)
        catt, cbal = attention_cycles(cross_mask, dh, hw)
        bal = (bal + cbal) / 2
        att += catt
        elem += math.ceil(n * d / hw.vector_lanes)
    return {"cycles": dense + att + elem, "dense": dense, "attention": att, "balance": bal}


#: The artifact formula's constants (bench_sanger_v3.py): width, MACs/cycle x 2, default length.
ARTIFACT_WIDTH = 768
ARTIFACT_GOPS = 64 * 16 * 2
ARTIFACT_SEQ_LEN = 512


def artifact_load_balance(mask, n_valid_q: int, n_valid_k: int, pad_len: int, ports: int = 64,
                          pes: int = 32) -> float:
    """Sanger's logged load balance (``50%-skip``) of a module's kept mask (heads, n_q, n_k) padded
    to ``pad_len``: the row vectors of ``ports`` entries that touch the valid area and hold a kept
    entry are split into segments of ``pes``; the balance is kept entries / (``pes`` x segments)."""
    mask = np.asarray(mask, bool)[:, :n_valid_q, :n_valid_k]
    heads = mask.shape[0]
    padded = np.zeros((heads, n_valid_q, pad_len), bool)
    padded[:, :, :n_valid_k] = mask
    nnz = padded.reshape(heads, n_valid_q, pad_len // ports, ports).sum(-1)
    nnz = nnz[..., : -(-n_valid_k // ports)]
    nnz = nnz[nnz > 0]
    return float(nnz.sum() / pes / np.ceil(nnz / pes).sum()) if nnz.size else 1.0


def artifact_latency(s: float, b: float, seq_len: int = ARTIFACT_SEQ_LEN) -> float:
    """Seconds of one attention module on the artifact's formula (module docstring)."""
    rows = s / b / 0.25 * seq_len
    linear = seq_len * ARTIFACT_WIDTH ** 2 * 2 * 3 / 1e9 / ARTIFACT_GOPS
    proj = seq_len * ARTIFACT_WIDTH ** 2 * 2 / 1e9 / (ARTIFACT_GOPS / s * b)
    attn = rows / 64 * ((ARTIFACT_WIDTH + 64) + (rows + 64)) * (seq_len / 64)
    return linear + attn / 1e9 + proj
