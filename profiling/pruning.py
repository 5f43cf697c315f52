"""Weight sparsification with ``torch.nn.utils.prune`` (paper Section 3.2, Fig. 6).

Patterns (``pattern`` argument of :func:`sparsify`), each applied layer-wise to every prunable
Conv2d/Linear at the requested ``rate`` (fraction of weights set to zero):

- ``random``: point-wise magnitude pruning (``prune.l1_unstructured``): the ``rate`` fraction of
  smallest-magnitude weights of each layer. On randomly initialised weights the pruned positions
  are random, the paper's "random point-wise" pattern.
- ``nmN:M`` (e.g. ``nm2:4``, ``nm1:4``): N:M block pruning (:class:`NMStructured`): in every block
  of M consecutive input channels at one (output channel, kernel position), the N largest
  magnitudes survive. The rate is fixed by the pattern, ``1 - N/M``; a different ``rate`` is an
  error. Layers whose input channels per group are not a multiple of M (the RGB stem, depthwise
  convolutions) stay dense, as NVIDIA's ASP does.
- ``channel``: filter pruning (``prune.ln_structured``, L1 norm, ``dim=0``): the ``rate`` fraction of
  output channels with the smallest L1 norm are zeroed; the BatchNorm of a pruned filter is
  zeroed too (scale and shift), as removing the filter would do.
- ``dense``: no weight pruning (used for the attention models, whose sparsity is dynamic).

Prunable layers: every Conv2d/Linear except the model's stem (it sees the image) and its output
layers (classifier, detection heads), the usual rule of pruning recipes. The masks stay attached
(``weight_mask`` buffers) so the profiler and the tests can read them.
"""

from __future__ import annotations

from . import parse_nm, require_torch

torch = require_torch()
nn = torch.nn
import torch.nn.utils.prune as prune  # noqa: E402

PATTERNS = ("dense", "random", "nm2:4", "nm1:4", "channel")


def check_pattern(pattern: str, rate: float) -> None:
    """Raise ``ValueError`` unless ``pattern`` at ``rate`` is something :func:`sparsify` can do."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"sparsity rate must lie in [0, 1), not {rate}")
    nm = parse_nm(pattern)
    if nm is not None:
        want = 1 - nm[0] / nm[1]
        if abs(rate - want) > 1e-9:
            raise ValueError(f"pattern {pattern} fixes the rate at {want:g}; pass --rate {want:g}")
    elif pattern not in ("dense", "random", "channel", "sanger"):
        raise ValueError(f"unknown pattern {pattern!r}; choose random, nmN:M (e.g. nm2:4), channel, "
                         "or sanger (attention models)")


class NMStructured(prune.BasePruningMethod):
    """Keep the N largest magnitudes in every block of M consecutive input channels."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, n: int, m: int):
        self.n, self.m = n, m

    def compute_mask(self, t, default_mask):
        # Blocks run along dim 1 (input channels of a conv filter, input features of a linear layer).
        w = (t * default_mask).abs()
        c = w.shape[1]
        moved = w.movedim(1, -1)  # (..., C)
        blocks = moved.reshape(*moved.shape[:-1], c // self.m, self.m)
        keep = blocks.topk(self.n, dim=-1).indices
        mask = torch.zeros_like(blocks).scatter_(-1, keep, 1.0)
        return mask.reshape(moved.shape).movedim(-1, 1) * default_mask


def prunable_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Conv2d/Linear layers the pattern applies to (all but the stem and output layers)."""
    dense = model.dense_layers() if hasattr(model, "dense_layers") else set()
    return {n: m for n, m in model.named_modules()
            if isinstance(m, nn.Conv2d | nn.Linear) and n not in dense}


def sparsify(model: nn.Module, pattern: str, rate: float) -> dict[str, nn.Module]:
    """Prune ``model`` in place with ``pattern`` at ``rate``; return the layers that were pruned.

    Raises
    ------
    ValueError
        For an unknown pattern or a rate the pattern cannot give.
    """
    check_pattern(pattern, rate)
    if pattern in ("dense", "sanger") or rate == 0:
        return {}
    layers = prunable_layers(model)
    nm = parse_nm(pattern)
    links = model.links() if hasattr(model, "links") else {}
    mods = dict(model.named_modules())
    done = {}
    for name, m in layers.items():
        if pattern == "random":
            prune.l1_unstructured(m, "weight", amount=rate)
        elif nm is not None:
            if m.weight.shape[1] % nm[1]:
                continue
            NMStructured.apply(m, "weight", *nm)
        elif pattern == "channel":
            prune.ln_structured(m, "weight", amount=rate, n=1, dim=0)
            bn = links.get(name, (None, None))[0]
            if bn is not None:
                keep = m.weight_mask.flatten(1).amax(1)
                with torch.no_grad():
                    mods[bn].weight.mul_(keep)
                    mods[bn].bias.mul_(keep)
        done[name] = m
    return done


def weight_mask(layer: nn.Module):
    """The binary non-zero mask of a layer's (possibly pruned) weight."""
    return (layer.weight != 0).to(torch.float32)
