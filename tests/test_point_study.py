"""The teaser chapter's point recipes: every family trains through the cache and samples."""

from __future__ import annotations

import pytest
import torch

from topolib import ModelCache
from topolib.point_study import FAMILIES, fit_points, point_model, point_samples

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("family", FAMILIES)
def test_each_recipe_trains_caches_and_samples(family, tmp_path):
    cache = ModelCache(tmp_path)
    first = fit_points(family, "circle", 300, seed=1, cache=cache, budget=0.02)
    again = fit_points(family, "circle", 300, seed=1, cache=cache, budget=0.02)
    assert again.from_cache and not first.from_cache
    samples = point_samples(again.model, family, 50, seed=2)
    assert samples.shape == (50, 2) and samples.dtype.name == "float64"
    assert (samples == point_samples(again.model, family, 50, seed=2)).all()


def test_models_live_in_the_right_space():
    for family in FAMILIES:
        model = point_model(family, "stratified", seed=0)
        assert model.ambient_dim == 3 and model.latent_dim in (2, 3)
    assert point_model("VAE", "circle").latent_dim == 1
    a, b = point_model("GAN", "torus", seed=0), point_model("GAN", "torus", seed=1)
    assert not torch.equal(a.G.net[0].weight, b.G.net[0].weight)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="family must be one of"):
        fit_points("Flow", "circle", 100)
    with pytest.raises(ValueError, match="dataset must be one of"):
        fit_points("VAE", "klein", 100)
    with pytest.raises(ValueError, match="budget must be a number in"):
        fit_points("VAE", "circle", 100, budget=2)
