"""Real inputs that ship offline: scikit-image's photographs and the standard library's docstrings.

Images (:func:`image_samples`). The base set is every real photograph in ``skimage.data`` that
loads without the network (:data:`PHOTOS`; grey ones are replicated to three channels). Sample
``i`` of ``n`` is drawn from a generator seeded with ``(seed, i)``: a base photo (cycled), a random
square crop covering 50-100 % of the shorter side, a horizontal flip with probability 1/2, then a
bilinear resize to ``resolution`` and ImageNet normalisation. The last ``round(n *
low_light_fraction)`` samples are **low-light variants** emulating ExDark/DarkFace captures (paper
Section 2.3.3, Fig. 3): the photo is taken back to linear light, dimmed, recaptured by a noisy
sensor with a limited auto-exposure gain, and re-encoded,

    lin = x ** 2.2 * k                                 k ~ U(0.02, 0.15) (scene light level)
    electrons ~ Poisson(lin * full_well)               full_well ~ U(500, 3000) (shot noise)
    y = clip(gain * (electrons / full_well + N(0, sigma_read^2)), 0, 1)
                                                       gain ~ U(1, 4), sigma_read ~ U(0.001, 0.005)
    y = round(255 * y ** (1 / 2.2)) / 255              (gamma encoding, 8-bit quantisation)

so dark images have low signal, visible noise and clipped (zero) pixels, as real low-light photos.

Text (:func:`text_samples`). Real English prose: the docstrings of public functions and classes
of a fixed list of standard-library modules (:data:`TEXT_MODULES`), de-indented and whitespace-
normalised, kept when at least ``min_words`` long, ordered by qualified name, shuffled with the
seed. Their natural lengths vary (one-line summaries to multi-paragraph docs), giving varied
sequence lengths; tokenised lengths are truncated at ``max_len`` tokens (``measured-v1``).

Task-shaped text (``measured-v2``), built from the same docstrings:

- :func:`squad_samples`, SQuAD-like question answering (BERT; paper Table 3, the artifact's
  ``bert_squad_384``): a context made of consecutive docstrings (same module, in name order, from
  a seeded start) cut at a target length drawn from a log-normal with median
  :data:`SQUAD_CONTEXT_WORDS` words and sigma :data:`SQUAD_CONTEXT_SIGMA` (SQuAD v1.1 paragraphs:
  about 120 words on average, from a few dozen to several hundred), and a question of 4 to 14 words
  taken from one of its sentences (``What does <name> ...?``, SQuAD questions average ~10 words).
  Encoded as the pair ``[CLS] question [SEP] context [SEP]`` truncated to 384 tokens by cutting the
  context, as SQuAD's evaluation (``max_seq_length 384``) does.
- :func:`glue_samples`, GLUE-like sentence pairs (GPT-2 and BART: the artifact's ``*_glue_128``
  traces, Sanger's GLUE default task MRPC): two consecutive sentences of 6 to 40 words of one
  docstring, encoded as ``[CLS] a [SEP] b [SEP]``, truncated to 128 tokens.
"""

from __future__ import annotations

import importlib
import inspect
import re
import warnings

import numpy as np

from . import require_torch

torch = require_torch()

#: Real photographs of ``skimage.data`` that load offline (checked on scikit-image 0.26).
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "motorcycle_right",
          "hubble_deep_field", "camera", "moon", "clock", "coins", "brick", "grass", "gravel", "page", "text",
          "immunohistochemistry", "retina", "cell")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LOW_LIGHT = {"k": (0.02, 0.15), "full_well": (500.0, 3000.0), "gain": (1.0, 4.0), "sigma_read": (0.001, 0.005)}

TEXT_MODULES = ("argparse", "collections", "json", "pathlib", "functools", "itertools", "textwrap", "string",
                "re", "os", "shutil", "subprocess", "logging", "datetime", "calendar", "csv", "random",
                "statistics", "decimal", "fractions", "heapq", "bisect", "difflib", "inspect", "typing",
                "dataclasses", "enum", "threading", "queue", "socket", "urllib.parse", "email.message",
                "http.client", "zipfile", "tarfile", "gzip", "tempfile", "glob", "fnmatch", "pickle", "copy",
                "pprint", "unittest", "doctest", "contextlib", "abc", "io", "codecs", "locale", "gettext",
                "sqlite3", "xml.dom.minidom", "html.parser", "configparser", "hashlib", "hmac", "secrets",
                "uuid", "base64", "struct", "array", "weakref", "types", "operator", "math", "cmath", "time",
                "sched", "selectors", "asyncio", "concurrent.futures", "multiprocessing", "ast", "dis",
                "tokenize", "traceback", "warnings", "timeit", "trace", "cProfile", "pdb", "zlib", "lzma")


def load_photo(name: str) -> np.ndarray:
    """A scikit-image photograph as float32 RGB in [0, 1], shape (H, W, 3)."""
    import skimage.data as data

    if name.startswith("motorcycle_"):
        left, right, _ = data.stereo_motorcycle()
        img = left if name.endswith("left") else right
    else:
        img = getattr(data, name)()
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.stack([img] * 3, -1)
    img = img[..., :3]
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255.0
    img = img.astype(np.float32)
    return (img - img.min()) / max(float(img.max() - img.min()), 1e-6)


def darken(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """The low-light sensor model of the module docstring; returns the image and its parameters."""
    p = {key: float(rng.uniform(*lim)) for key, lim in LOW_LIGHT.items()}
    lin = img.astype(np.float64) ** 2.2 * p["k"]
    e = rng.poisson(lin * p["full_well"]) / p["full_well"] + rng.normal(0.0, p["sigma_read"], lin.shape)
    y = np.clip(p["gain"] * e, 0.0, 1.0) ** (1 / 2.2)
    y = np.round(y * 255.0) / 255.0
    return y.astype(np.float32), p


def image_samples(n: int, resolution: int, seed: int = 0, low_light_fraction: float = 0.25):
    """``n`` normalised image tensors (n, 3, R, R) and one description dict per sample."""
    if n < 1 or resolution < 32:
        raise ValueError(f"need n >= 1 and resolution >= 32, got n={n}, resolution={resolution}")
    photos = {name: load_photo(name) for name in PHOTOS}
    n_dark = int(round(n * low_light_fraction))
    out = np.empty((n, 3, resolution, resolution), np.float32)
    info = []
    names = list(PHOTOS)
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        name = names[i % len(names)]
        img = photos[name]
        h, w, _ = img.shape
        side = int(min(h, w) * rng.uniform(0.5, 1.0))
        y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = img[y0:y0 + side, x0:x0 + side]
        flip = bool(rng.random() < 0.5)
        if flip:
            crop = crop[:, ::-1]
        t = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None]
        t = torch.nn.functional.interpolate(t, size=(resolution, resolution), mode="bilinear",
                                            align_corners=False, antialias=True)[0].clamp(0, 1).numpy()
        d = {"photo": name, "crop": [y0, x0, side], "flip": flip, "low_light": i >= n - n_dark}
        if d["low_light"]:
            t, p = darken(t, rng)
            d["low_light_params"] = {k: round(v, 4) for k, v in p.items()}
        out[i] = t
        info.append(d)
    mean = np.array(IMAGENET_MEAN, np.float32)[:, None, None]
    std = np.array(IMAGENET_STD, np.float32)[:, None, None]
    return torch.from_numpy((out - mean) / std), info


def calibration_images(resolution: int, n: int = 32, seed: int = 12345):
    """Normal-light images for BatchNorm calibration (a stream independent of the profiled samples)."""
    return image_samples(n, resolution, seed=seed, low_light_fraction=0.0)[0]


def docstrings(min_words: int = 12) -> list[tuple[str, str]]:
    """``(qualified name, text)`` of the standard-library docstrings, sorted by name."""
    with warnings.catch_warnings():  # reading deprecated attributes (e.g. typing.io) warns
        warnings.simplefilter("ignore", DeprecationWarning)
        return _docstrings(min_words)


def _docstrings(min_words: int) -> list[tuple[str, str]]:
    seen, out = set(), []
    for modname in TEXT_MODULES:
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            continue
        objs = [(modname, mod)]
        for attr in sorted(dir(mod)):
            if attr.startswith("_"):
                continue
            obj = getattr(mod, attr, None)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                objs.append((f"{modname}.{attr}", obj))
        for qual, obj in objs:
            doc = inspect.getdoc(obj)
            if not doc:
                continue
            text = " ".join(doc.split())
            if len(text.split()) < min_words or text in seen:
                continue
            seen.add(text)
            out.append((qual, text))
    return sorted(out)


def text_samples(n: int, seed: int = 0, min_words: int = 12) -> list[tuple[str, str]]:
    """``n`` docstrings drawn without replacement (seeded) from :func:`docstrings`."""
    docs = docstrings(min_words)
    if n > len(docs):
        raise ValueError(f"asked for {n} text samples but only {len(docs)} docstrings qualify")
    order = np.random.default_rng(seed).permutation(len(docs))[:n]
    return [docs[i] for i in order]


#: SQuAD-like context length: median words and log-normal sigma (see the module docstring).
SQUAD_CONTEXT_WORDS = 90
SQUAD_CONTEXT_SIGMA = 0.45
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _sentences(text: str) -> list[str]:
    return [x for x in _SENTENCE.split(text) if x]


def squad_samples(n: int, seed: int = 0) -> list[dict]:
    """``n`` SQuAD-like (question, context) pairs from the docstrings (module docstring); each a dict
    with ``question``, ``context``, ``source`` (first qualified name) and ``context_words``."""
    docs = docstrings()
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, 11, i])
        target = max(20, int(round(SQUAD_CONTEXT_WORDS * np.exp(rng.normal(0.0, SQUAD_CONTEXT_SIGMA)))))
        start = int(rng.integers(len(docs)))
        words, names, k = [], [], start
        while len(words) < target:
            qual, text = docs[k % len(docs)]
            words += text.split()
            names.append(qual)
            k += 1
        context = " ".join(words[:target])
        sents = [x.split() for x in _sentences(context) if len(x.split()) >= 4]
        sent = sents[int(rng.integers(len(sents)))] if sents else context.split()
        q_len = int(rng.integers(4, 15))
        name = names[0].split(".")[-1]
        words_q = [sent[0].lower(), *sent[1:q_len]]
        question = f"What does {name} {' '.join(words_q).rstrip('.,;:')}?"
        out.append({"question": question, "context": context, "source": names[0], "context_words": target})
    return out


def glue_samples(n: int, seed: int = 0, min_words: int = 6, max_words: int = 40) -> list[dict]:
    """``n`` GLUE-like sentence pairs (module docstring): dicts with ``a``, ``b`` and ``source``,
    drawn without replacement (seeded) from the pairs of consecutive sentences of a docstring."""
    pairs = []
    for qual, text in docstrings():
        sents = [x for x in _sentences(text) if min_words <= len(x.split()) <= max_words]
        pairs += [(qual, a, b) for a, b in zip(sents, sents[1:])]
    if n > len(pairs):
        raise ValueError(f"asked for {n} sentence pairs but only {len(pairs)} qualify")
    order = np.random.default_rng([seed, 13]).permutation(len(pairs))[:n]
    return [{"a": pairs[i][1], "b": pairs[i][2], "source": pairs[i][0]} for i in order]
