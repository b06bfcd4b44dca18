"""The point-cloud versions of the four families: one training loop, shapes, learning, the
cache and clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from topolib import ModelCache
from topolib.datasets.point_clouds import circle_points
from topolib.models import PointChartAutoencoder, PointDDPM, PointGAN, PointVAE
from topolib.training import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MODELS = {
    "vae": lambda: PointVAE(latent_dim=2, ambient_dim=2, hidden=(32, 32), sigma=0.1),
    "gan": lambda: PointGAN(latent_dim=2, ambient_dim=2, hidden=(64, 64)),
    "cae": lambda: PointChartAutoencoder(n_charts=3, chart_dim=1, ambient_dim=2, hidden=32,
                                         warmup_steps=20),
    "ddpm": lambda: PointDDPM(ambient_dim=2, width=64, depth=2, ema_decay=0.99),
}


@pytest.fixture(scope="module")
def points() -> np.ndarray:
    return circle_points(512, seed=0)


def radial_error(x: torch.Tensor) -> float:
    """Median distance of points ``(n, 2)`` to the unit circle."""
    return float((x.norm(dim=1) - 1).abs().median())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shapes_and_interface(name, points):
    model = MODELS[name]()
    assert model.ambient_dim == 2 and model.image_size == 0
    train(model, points, TrainConfig(epochs=2, batch_size=64), progress=False)
    x = torch.from_numpy(points[:6]).float()
    assert model.sample(7, generator=0).shape == (7, 2)
    assert model.interpolate_many(x[:3], x[3:], n_steps=5, invert_steps=5).shape == (3, 5, 2)
    assert model.interpolate(x[0], x[1], n_steps=4, invert_steps=5).shape == (4, 2)
    assert torch.equal(model.sample(5, generator=3), model.sample(5, generator=3))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_bad_input_names_the_argument(name, points):
    model = MODELS[name]()
    with pytest.raises(ValueError, match=r"data must have shape \(n, 2\)"):
        train(model, np.zeros((10, 3)), TrainConfig(epochs=1), progress=False)
    with pytest.raises(ValueError, match="data must be finite"):
        train(model, np.full((10, 2), np.nan), TrainConfig(epochs=1), progress=False)
    with pytest.raises(ValueError, match=r"x_a must have shape \(n, 2\)"):
        model.interpolate_many(torch.zeros(2, 1, 8, 8), torch.zeros(2, 2))
    with pytest.raises(TypeError, match="x must be a torch.Tensor or numpy array"):
        model.reconstruct([[0.0, 1.0]])


def test_constructor_errors():
    with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
        PointVAE(sigma=0)
    with pytest.raises(ValueError, match="hidden must be a non-empty list"):
        PointGAN(hidden=())
    with pytest.raises(ValueError, match="ambient_dim must be"):
        PointDDPM(ambient_dim=0)
    with pytest.raises(ValueError, match="scale must be a finite number > 0"):
        PointDDPM(scale=-1.0)


@pytest.mark.parametrize(("name", "epochs", "batch_size", "lr", "within"), [
    # A VAE with a 2-d latent covers the circle's inside too (the prior has no hole): blurrier.
    ("vae", 40, 64, 3e-3, 0.35), ("gan", 100, 32, 1e-3, 0.15), ("cae", 40, 64, 3e-3, 0.1),
    ("ddpm", 150, 32, 3e-3, 0.15)])
def test_each_family_learns_the_circle(name, epochs, batch_size, lr, within, points):
    model = MODELS[name]()
    before = radial_error(model.sample(400, generator=1))
    result = train(model, points, TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr,
                                              seed=0), progress=False)
    after = radial_error(model.sample(400, generator=1))
    assert after < within and after < 0.5 * before, (before, after)
    if name != "gan":  # a GAN's two losses do not measure progress
        loss = result.history["loss"]
        assert np.mean(loss[-5:]) < np.mean(loss[:5])


def test_point_models_go_through_the_cache(tmp_path, points):
    cache = ModelCache(tmp_path)
    config = TrainConfig(epochs=3, batch_size=128, seed=0)
    data = {"dataset": "circle points", "n": len(points), "seed": 0}
    first = train(MODELS["vae"](), points, config, cache=cache, name="pvae", data_config=data,
                  progress=False)
    again = train(MODELS["vae"](), points, config, cache=cache, name="pvae", data_config=data,
                  progress=False)
    assert again.from_cache and not first.from_cache
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="data_config says n=9 but data has 512 points"):
        train(MODELS["vae"](), points, config, cache=cache, name="pvae",
              data_config={**data, "n": 9}, progress=False)
