"""The SparseML recipe path (profiling.recipe): run by ``nox -s sparseml``, SparseML's own pinned
environment (tier ``sparseml``, which no other session or CI selects). Without SparseML the
module is skipped, unless ``DYSTA_REQUIRE_SPARSEML`` is set, as the nox session sets it, so a
broken SparseML install fails instead of skipping."""

import os
from pathlib import Path

import numpy as np
import pytest

import helpers

pytestmark = pytest.mark.sparseml

helpers.require_module("sparseml", "SparseML lives in its own environment: nox -s sparseml",
                       required=bool(os.environ.get("DYSTA_REQUIRE_SPARSEML")))

from profiling import cnn, pack, recipe  # noqa: E402

RECIPE = Path(__file__).parent.parent / "profiling" / "recipes" / "gmp-0.5.yaml"


def test_recipe_prunes_every_layer_to_its_final_sparsity():
    net = cnn.build_cnn("resnet50", seed=0)
    convs = {n: m for n, m in net.named_modules() if m.__class__.__name__ in ("Conv2d", "Linear")}
    original = {n: m.weight.detach().abs().clone() for n, m in convs.items()}
    pruned = recipe.apply_recipe(net, RECIPE)
    assert set(pruned) == set(convs)  # __ALL_PRUNABLE__: every Conv2d and Linear
    for n, m in convs.items():
        zero = m.weight.detach() == 0
        assert abs(float(zero.float().mean()) - 0.5) < 0.01, n
        # magnitude pruning: no pruned weight was larger than a kept one
        assert float(original[n][zero].max()) <= float(original[n][~zero].min()), n
    # the weights stay plain tensors after finalising (no SparseML hooks left on the forward pass)
    w = convs["layer1.0.a.0"].weight.detach().clone()
    net.eval()(cnn.torch.rand(1, 3, 32, 32))
    assert cnn.torch.equal(w, convs["layer1.0.a.0"].weight)


def test_profile_with_a_recipe_records_it():
    mp = pack.profile_cnn("mobilenet", None, None, 3, resolution=32, seed=1, recipe=str(RECIPE))
    assert mp.name == "mobilenet/recipe-gmp-0.5/0.5"
    assert np.all(mp.lat > 0) and mp.n_samples == 3
    assert "SparseML recipe gmp-0.5.yaml" in mp.meta["sparsity"]["weights"]
    assert mp.meta["versions"]["sparseml"].startswith("1.8")
    dens = mp.meta["sparsity"]["weight_density"]
    assert all(abs(d - 0.5) < 0.02 for d in dens)


def test_bad_recipe_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("modifiers:\n  - !NoSuchModifier\n    x: 1\n")
    with pytest.raises(ValueError, match="bad.yaml"):
        recipe.apply_recipe(cnn.build_cnn("mobilenet", seed=0), bad)
