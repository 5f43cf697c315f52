"""Forward hooks that turn every layer's masks into (latency, density) on an accelerator model.

CNNs (:class:`CNNProfiler`): one trace layer per Conv2d/Linear, in execution order. A hook on the
layer reads its input activation (non-zero mask), its weight mask and geometry and computes the
effectual-MAC compute cycles on :mod:`profiling.eyeriss`; a hook on the module whose output the
accelerator writes back (the ReLU after the layer, see :meth:`profiling.cnn.ProfiledCNN.links`)
counts the output's non-zeros. The trace density ``rho[s, l]`` is that output's non-zero
fraction (what the accelerator's sparsity monitor counts while compressing the output); the
layer's latency combines compute and DRAM traffic on our model, or is the artifact's
valid-MAC and address-check count (:class:`profiling.eyeriss.EyerissV2Artifact`). ``shape[l]`` is
the output's element count. The profiler also returns each layer's valid MACs of the real layer
(stride and padding as defined), from which the artifact's Table 2 and Fig. 3 are computed.

Attention models (:class:`AttentionProfiler`): one trace layer per transformer block (attention +
FFN, plus cross-attention in a decoder block), in execution order. A hook on the block reads the
Sanger masks its attention modules kept and the real sequence length, and computes cycles on
:mod:`profiling.sanger`. The monitor counts the attention mask Sanger's prediction stage emits.
``shape[l] = heads * max_len**2`` per attention module of the block (two in a decoder block:
self- and cross-attention) is the mask buffer it scans. ``rho[s, l]`` is, by default
(``extent="real"``, ``measured-v2``), the kept entries over the real extent ``heads * n_q * n_k``
(summed over the block's modules), as Sanger logs its ``overall-sparsity``: a property of the
attention map, not of the input's length. ``measured-v1`` used ``extent="padded"``, the kept
entries over ``shape[l]``, where padding counts as pruned: that density grows with the real
length, like the latency, so every layer's density tracked the length and the layers correlated
trivially (Fig. 9's 1.00).

Both profilers also log the name of every Conv2d/Linear/attention module each time it runs
(``calls``), which the tests compare with an independent global hook.
"""

from __future__ import annotations

import numpy as np

from . import eyeriss, require_torch, sanger

torch = require_torch()
nn = torch.nn
F = torch.nn.functional


def _real_valid_macs(act, wm, geo, full):
    """Valid MACs per sample of the real layer (its stride and padding), from the stride-1 'same'
    map ``full`` when the layer's padding is 'same' (then the strided output is a subsampling of
    it), else by a second convolution."""
    kh, kw = wm.shape[2:]
    (sh, sw), (ph, pw), (dh, dw) = geo["stride"], geo["padding"], geo["dilation"]
    if (dh, dw) == (1, 1) and kh % 2 and kw % 2 and (ph, pw) == ((kh - 1) // 2, (kw - 1) // 2):
        sub = full[:, :, ::sh, ::sw]
    else:
        sub = F.conv2d(act, wm, stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=geo["groups"])
    return sub.flatten(1).sum(1, dtype=torch.float64)


class CNNProfiler:
    """Hooks on a :class:`profiling.cnn.ProfiledCNN` (or any model of Conv2d/Linear layers).

    Parameters
    ----------
    model : nn.Module
        Pruned or dense; its weights must not change while profiling.
    hw : EyerissV2 or EyerissV2Artifact
        Accelerator cost model and constants: ours (default) or the published artifact's
        (see :mod:`profiling.eyeriss`).
    """

    def __init__(self, model: nn.Module, hw: eyeriss.EyerissV2 | None = None):
        self.model, self.hw = model, hw or eyeriss.EyerissV2()
        mods = dict(model.named_modules())
        links = model.links() if hasattr(model, "links") else {}
        self.layers = {n: m for n, m in mods.items() if isinstance(m, nn.Conv2d | nn.Linear)}
        self.calls: list[str] = []
        self._handles = []
        self._wmask = {n: (m.weight != 0).to(torch.float32) for n, m in self.layers.items()}
        self._batch: dict[str, dict] = {}
        self.dense_macs: dict[str, int] = {}  # per layer, filled by the first forward pass
        for name, layer in self.layers.items():
            post = links.get(name, (None, name))[1]
            self._handles.append(layer.register_forward_hook(self._layer_hook(name)))
            self._handles.append(mods[post].register_forward_hook(self._post_hook(name)))

    def _layer_hook(self, name):
        def hook(module, args, output):
            self.calls.append(name)
            x = args[0]
            act = (x != 0).to(torch.float32)
            wm = self._wmask[name]
            geo = eyeriss.conv_geometry(module)
            if isinstance(module, nn.Linear):
                act = act.reshape(act.shape[0], -1, 1, 1)
                wm = wm[:, :, None, None]
            row = {"in_nnz": act.flatten(1).sum(1).double(), "in_total": act[0].numel(),
                   "w_nnz": float(wm.sum()), "w_total": wm.numel(),
                   "out_total": output[0].numel(), "dense_macs": eyeriss.dense_macs(wm.shape, output.shape[2:])}
            if isinstance(self.hw, eyeriss.EyerissV2Artifact):
                valid, full = eyeriss.artifact_valid_macs(act, wm, geo["groups"])
                row["cycles"] = eyeriss.artifact_cycles(act, wm, geo["groups"], valid, self.hw)
                row["eff_macs"] = _real_valid_macs(act, wm, geo, full)
            else:
                work = eyeriss.unit_work(act, wm, **geo)
                row["compute"] = eyeriss.compute_cycles(work, self.hw)
                row["eff_macs"] = work.flatten(1).sum(1).double()
            self.dense_macs[name] = row["dense_macs"]
            self._batch[name] = row
        return hook

    def _post_hook(self, name):
        def hook(module, args, output):
            self._batch.setdefault(name, {})["out_nnz"] = (output != 0).flatten(1).sum(1).double()
        return hook

    def run(self, images):
        """Profile a batch; returns ``(lat (B, L) seconds, rho (B, L), shape (L,), names, eff_macs (B, L))``."""
        self._batch.clear()
        start = len(self.calls)
        with torch.no_grad():
            self.model(images)
        order = self.calls[start:]
        if len(order) != len(set(order)) or set(order) != set(self.layers):
            raise RuntimeError("every Conv2d/Linear must run exactly once per forward pass to be profiled "
                               f"(ran: {len(order)} calls for {len(self.layers)} layers)")
        lat, rho, shape, eff = [], [], [], []
        for name in order:
            r = self._batch[name]
            if "cycles" in r:
                lat.append(r["cycles"] / self.hw.clock_hz)
            else:
                mem = eyeriss.memory_cycles(r["in_nnz"], r["in_total"], r["w_nnz"], r["w_total"],
                                            r["out_nnz"], r["out_total"], self.hw)
                lat.append(eyeriss.layer_cycles(r["compute"], mem, self.hw) / self.hw.clock_hz)
            rho.append(r["out_nnz"] / r["out_total"])
            shape.append(r["out_total"])
            eff.append(r["eff_macs"])
        return (torch.stack(lat, 1).numpy(), torch.stack(rho, 1).numpy(), np.array(shape, np.int64), order,
                torch.stack(eff, 1).numpy())

    def remove(self):
        """Detach the hooks."""
        for h in self._handles:
            h.remove()


class AttentionProfiler:
    """Hooks on a :class:`profiling.transformer.Transformer` (batch of one sequence per forward).

    ``extent``: what the density is counted over (module docstring): ``"real"`` (the kept
    fraction of the real ``n_q x n_k`` extent, as Sanger logs it; ``measured-v2``) or ``"padded"``
    (over ``max_len**2``; ``measured-v1``).
    """

    EXTENTS = ("real", "padded")

    def __init__(self, model, max_len: int, hw: sanger.Sanger | None = None, extent: str = "real"):
        from .transformer import SangerAttention

        if extent not in self.EXTENTS:
            raise ValueError(f"density extent must be one of {', '.join(self.EXTENTS)}, not {extent!r}")
        self.model, self.hw, self.max_len, self.extent = model, hw or sanger.Sanger(), max_len, extent
        self.blocks = model.trace_blocks()
        self.calls: list[str] = []
        self._handles = []
        self._rows: dict[str, tuple[float, float, float]] = {}
        for name, m in model.named_modules():
            if isinstance(m, nn.Linear | SangerAttention):
                self._handles.append(m.register_forward_hook(self._log(name)))
        for name, blk in self.blocks:
            self._handles.append(blk.register_forward_hook(self._block_hook(name)))

    def _log(self, name):
        def hook(module, args, output):
            self.calls.append(name)
        return hook

    def _block_hook(self, name):
        def hook(block, args, output):
            g = self.model.g
            n = args[0].shape[1]
            if args[0].shape[0] != 1:
                raise ValueError("the attention profiler takes one sequence per forward pass")
            self_mask = block.attn.last_mask[0].numpy()
            cross = block.cross.last_mask[0].numpy() if block.cross is not None else None
            n_enc = cross.shape[-1] if cross is not None else None
            c = sanger.block_cycles(n, g.d, g.d_ff, g.heads, self_mask, cross, n_enc, self.hw)
            kept = self_mask.sum() + (cross.sum() if cross is not None else 0)
            if self.extent == "real":
                size = self_mask.size + (cross.size if cross is not None else 0)
            else:
                size = self._mask_size(block)
            self._rows[name] = (c["cycles"] / self.hw.clock_hz, float(kept) / size,
                                sum(self._artifact(m) for m in (self_mask, cross) if m is not None))
        return hook

    def _artifact(self, mask) -> float:
        """The artifact formula's seconds for one attention module (:func:`profiling.sanger.artifact_latency`)."""
        heads, n_q, n_k = mask.shape
        pad = -(-max(self.max_len, n_q, n_k) // 64) * 64
        s = float(mask.sum()) / mask.size
        return sanger.artifact_latency(s, sanger.artifact_load_balance(mask, n_q, n_k, pad))

    def _mask_size(self, block) -> int:
        """Entries of the block's attention masks at the padded length (the monitor's ``shape``)."""
        return self.model.g.heads * self.max_len ** 2 * (1 if block.cross is None else 2)

    def run(self, ids):
        """Profile one token sequence (1, n); returns ``(lat (L,), rho (L,), shape (L,), names)``.
        ``self.last_artifact`` holds the artifact formula's seconds per block of that sequence."""
        if ids.shape[1] > self.max_len:
            raise ValueError(f"sequence of {ids.shape[1]} tokens exceeds max_len {self.max_len}")
        self._rows.clear()
        with torch.no_grad():
            self.model(ids)
        names = [n for n, _ in self.blocks]
        lat = np.array([self._rows[n][0] for n in names])
        rho = np.array([self._rows[n][1] for n in names])
        self.last_artifact = np.array([self._rows[n][2] for n in names])
        shape = np.array([self._mask_size(blk) for _, blk in self.blocks], np.int64)
        return lat, rho, shape, names

    def remove(self):
        """Detach the hooks."""
        for h in self._handles:
            h.remove()
