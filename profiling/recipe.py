"""SparseML recipes as a sparsification path of the profiler (``dysta profile --recipe FILE``).

A SparseML recipe (YAML, e.g. a ``!GMPruningModifier`` or ``!ConstantPruningModifier`` list) is
applied to a CNN in one shot with ``ScheduledModifierManager.apply``: every modifier is brought to
its final state (a gradual-magnitude pruning modifier prunes each of its ``params`` to
``final_sparsity`` by magnitude) and the manager is finalised, leaving plain zeros in the weights.
The profiler then proceeds as for the built-in patterns of :mod:`profiling.pruning`.

SparseML is end-of-life and only installs pinned in its own environment (Python < 3.12,
``torch==2.13.0 'sparseml[torch]==1.8.0' 'sparsezoo<1.9' 'setuptools>=77.0.3,<81'``); ``nox -s
sparseml`` builds it and runs ``tests/test_sparseml.py``. Nothing else in the project imports it.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

from . import require_torch

torch = require_torch()
nn = torch.nn

INSTALL = ("SparseML is not installed; it needs its own pinned environment: "
           "pip install torch==2.13.0 'sparseml[torch]==1.8.0' 'sparsezoo<1.9' 'setuptools>=77.0.3,<81' "
           "on Python < 3.12 (or run: nox -s sparseml)")


def load_manager(recipe: str | Path):
    """A ``ScheduledModifierManager`` from a recipe file; errors name the file and the fix."""
    path = Path(recipe)
    if not path.is_file():
        raise ValueError(f"recipe {str(recipe)!r} does not exist; give a SparseML recipe YAML file")
    os.environ.setdefault("NM_DISABLE_ANALYTICS", "1")
    try:
        with warnings.catch_warnings():  # SparseML 1.8 imports pkg_resources and imghdr, both deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            from sparseml.pytorch.optim import ScheduledModifierManager
    except ImportError:
        raise ValueError(INSTALL) from None
    try:
        return ScheduledModifierManager.from_yaml(str(path))
    except Exception as e:  # SparseML raises bare ValueError/KeyError/yaml errors for bad recipes
        raise ValueError(f"recipe {str(recipe)!r} is not a SparseML recipe SparseML can load: {e}") from None


def apply_recipe(model: nn.Module, recipe: str | Path) -> dict[str, nn.Module]:
    """Sparsify ``model`` in place with a SparseML recipe, in one shot; return the Conv2d/Linear
    layers whose weights it pruned (the same contract as :func:`profiling.pruning.sparsify`)."""
    manager = load_manager(recipe)
    before = {n: int((m.weight == 0).sum()) for n, m in model.named_modules()
              if isinstance(m, nn.Conv2d | nn.Linear)}
    from sparseml.pytorch.utils import LoggerManager

    # SparseML's modifier logger opens sparse_logs/<time>.log in the working directory unless its
    # Python logger already has a file handler: give it one that writes nowhere.
    quiet = logging.getLogger("sparseml.pytorch.utils.logger")
    if not any(isinstance(h, logging.FileHandler) for h in quiet.handlers):
        quiet.addHandler(logging.FileHandler(os.devnull, delay=True))
    try:
        manager.apply(model, loggers=LoggerManager(log_python=False))
    except Exception as e:  # e.g. a params regex that matches no layer of this model
        raise ValueError(f"recipe {str(recipe)!r} does not apply to this model: {e}") from None
    mods = dict(model.named_modules())
    return {n: mods[n] for n, zeros in before.items() if int((mods[n].weight == 0).sum()) > zeros}


def recipe_name(recipe: str | Path) -> str:
    """The pattern name of a recipe in model-pattern names: ``recipe-<file name without .yaml>``."""
    name = Path(recipe).name
    for suffix in (".yaml", ".yml", ".md"):
        name = name.removesuffix(suffix)
    return "recipe-" + "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
