"""Oracle decoders: uniform pushforward, exact renders, inverses, report cards, forced failures."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from topolib.datasets import get_dataset
from topolib.experiments import evaluate
from topolib.metrics.interpolation import audit_path
from topolib.metrics.projection import project
from topolib.models import GenerativeModel
from topolib.models.oracle import (
    ORACLES,
    Z_MAX,
    OracleDecoder,
    SphereOracle,
    TwoCirclesOracle,
    oracle_decoder,
)
from topolib.training import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE = 32


def normal(n: int, d: int, seed: int = 0) -> torch.Tensor:
    return torch.randn((n, d), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    ("name", "options"),
    [("circle", {}), ("circle", {"winding": 3}), ("torus", {}), ("sphere", {}),
     ("sphere", {"pole": (1.0, -2.0, 0.5)}), ("disk", {}), ("klein", {}), ("projective", {})],
)
def test_pushforward_of_the_prior_is_uniform(name, options):
    """The coverage chart is measure-preserving, so each coordinate must be U(0, 1)."""
    model = oracle_decoder(name, SIZE, **options)
    ds = get_dataset(name)
    params = model.latent_to_params(normal(4000, model.latent_dim)).double().numpy()
    coords = ds.coverage_coords(params)
    for i in range(coords.shape[1]):
        assert stats.kstest(coords[:, i], "uniform").pvalue > 1e-3, (name, i)


def test_recovered_angles_of_circle_samples_are_uniform():
    images = oracle_decoder("circle", SIZE).sample(400, generator=1)
    projection = project(images, "circle")
    assert projection.distance.max() < 1e-3  # every sample is an exact render
    assert stats.kstest(projection.coords[:, 0], "uniform").pvalue > 1e-3


@pytest.mark.parametrize("name", list(ORACLES))
def test_decode_equals_the_dataset_render(name):
    model = oracle_decoder(name, SIZE)
    assert isinstance(model, GenerativeModel) and model.n_parameters() == 0
    z = normal(64, model.latent_dim, seed=2)
    images = model.decode(z)
    assert images.shape == (64, 1, SIZE, SIZE)
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    expected = get_dataset(name).render(model.latent_to_params(z).numpy(), SIZE)
    np.testing.assert_allclose(images[:, 0].numpy(), expected, atol=1e-5)
    assert model.sample(5, generator=0).shape == (5, 1, SIZE, SIZE)
    torch.testing.assert_close(model.sample(5, generator=3), model.sample(5, generator=3))


def away_from_tear(name: str, z: torch.Tensor) -> torch.Tensor:
    """Codes where the encoder inverts the decoder: inside the chosen sheet / section."""
    if name == "klein":  # the encoder picks theta < pi, i.e. z_1 < 0
        return z[z[:, 0] < -0.05]
    if name == "projective":  # the encoder picks the hemisphere around -pole
        return z[z.norm(dim=1) < 0.95 * math.sqrt(2 * math.log(2))]
    if name == "two_circles":  # not on the bridge
        return z[z[:, 0].abs() > 0.1]
    return z


@pytest.mark.parametrize("name", list(ORACLES))
def test_encode_inverts_decode_away_from_the_tear(name):
    model = oracle_decoder(name, SIZE)
    z = away_from_tear(name, normal(128, model.latent_dim, seed=4).clamp(-2.0, 2.0))
    torch.testing.assert_close(model.encode(model.decode(z)), z, atol=1e-3, rtol=0)
    torch.testing.assert_close(model.invert(model.decode(z)), model.encode(model.decode(z)))


def test_extra_latent_coordinates_are_ignored_and_encoded_as_zero():
    model = oracle_decoder("circle", SIZE, latent_dim=3)
    z = normal(16, 3).clamp(-2, 2)
    torch.testing.assert_close(model.decode(z), model.decode(z * torch.tensor([1.0, 0, 0])))
    codes = model.encode(model.decode(z))
    assert torch.all(codes[:, 1:] == 0)


def test_sphere_pole_is_clipped_at_z_max():
    model = SphereOracle(SIZE, pole=(0.0, 1.0, 0.0))
    codes = model.params_to_latent(np.array([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0]]))
    assert np.linalg.norm(codes[0]) <= Z_MAX and np.all(np.isfinite(codes))
    np.testing.assert_allclose(codes[1], 0.0, atol=1e-12)  # the antipode is the origin


def test_generation_checks_pass_and_interpolation_is_graded():
    """Exact uniform samples pass every generation check (1,000 samples: the homology check
    is unreliable on a few hundred true renders too); the paths are graded."""
    for name in ("circle", "sphere", "torus"):
        ev = evaluate(oracle_decoder(name, SIZE), name, n_samples=1000, n_pairs=8, seed=0)
        card = ev.card
        for check in ("betti_z2", "betti_z3", "off_manifold", "coverage", "holes", "density"):
            assert card.check(check)["passed"], (name, check, card.check(check)["value"])
        assert ev.reconstruction_off == 0.0
        assert len(ev.audits) == 8


def tear_paths(name: str) -> tuple[np.ndarray, np.ndarray]:
    """End-point parameters of pairs straddling the tear and of pairs that do not."""
    if name == "circle":
        return np.array([[[0.3], [TWO_PI - 0.3]]]), np.array([[[1.0], [2.0]]])
    if name == "torus":
        return (np.array([[[0.3, 2.0], [TWO_PI - 0.3, 2.5]]]),
                np.array([[[1.0, 2.0], [2.0, 2.5]]]))
    # sphere, pole +z: two points 0.3 rad from the pole on opposite sides, and two near -z
    s, c = math.sin(0.3), math.cos(0.3)
    return (np.array([[[s, 0.0, c], [-s, 0.0, c]]]), np.array([[[s, 0.0, -c], [-s, 0.0, -c]]]))


TWO_PI = 2 * math.pi


@pytest.mark.parametrize("name", ["circle", "torus", "sphere"])
def test_straight_latent_lines_across_the_tear_go_the_long_way(name):
    model, ds = oracle_decoder(name, SIZE), get_dataset(name)
    for ends, valid in zip(tear_paths(name), (False, True), strict=True):
        images = torch.from_numpy(ds.render(ends.reshape(-1, ds.param_dim), SIZE))
        path = model.interpolate_many(images[0::2], images[1::2], n_steps=12)[0]
        audit = audit_path(path, ds, endpoints_params=ends[0])
        assert audit.valid is valid, (name, audit.reasons)
        if not valid:
            assert "long way" in audit.failures and "off manifold" not in audit.failures


def test_two_circles_bridge_mass():
    for bridge in (0.02, 0.1):
        model = TwoCirclesOracle(SIZE, bridge=bridge)
        assert model.bridge_mass() == pytest.approx(bridge, abs=1e-9)
        params = model.latent_to_params(normal(20000, 1, seed=5))
        on_bridge = ((params[:, 0] > 0) & (params[:, 0] < 1)).double().mean().item()
        assert abs(on_bridge - bridge) < 4 * math.sqrt(bridge * (1 - bridge) / 20000)
        assert ((params[:, 0] == 0).double().mean().item()
                == pytest.approx((1 - bridge) / 2, abs=0.015))
        # the trade-off: the bound at the decoder's own Lipschitz bound is its bridge mass
        assert model.min_bridge_mass(model.lipschitz_lower_bound()) == pytest.approx(bridge)
    small, large = TwoCirclesOracle(SIZE, bridge=0.01), TwoCirclesOracle(SIZE, bridge=0.1)
    assert small.lipschitz_lower_bound() > 5 * large.lipschitz_lower_bound()


def test_two_circles_bridge_images_are_off_the_manifold():
    model = TwoCirclesOracle(SIZE, bridge=0.1)
    lo, hi = model.bridge_interval()
    z = torch.linspace(lo, hi, 9)[1:-1, None]
    assert project(model.decode(z), "two_circles").off_manifold().mean() > 0.5
    two = TwoCirclesOracle(SIZE, latent_dim=2)
    z2 = normal(8, 2).clamp(-2, 2)
    z2[:, 0] = torch.tensor([-1.0, 1.0]).repeat(4)
    np.testing.assert_allclose(two.encode(two.decode(z2))[:, 1], z2[:, 1], atol=1e-3)


def test_config_round_trip_and_device():
    for name in ORACLES:
        model = oracle_decoder(name, 16)
        config = model.config()
        assert config["class"] == type(model).__name__
        for source in (type(model), OracleDecoder):
            rebuilt = source.from_config(config)
            assert type(rebuilt) is type(model) and rebuilt.config() == config
        assert model.device == torch.device("cpu")
    with pytest.raises(ValueError, match="not a SphereOracle"):
        SphereOracle.from_config(oracle_decoder("circle").config())


def test_oracles_are_not_trained():
    model = oracle_decoder("circle", SIZE)
    with pytest.raises(RuntimeError, match="not trained"):
        model.configure_optimizers()
    with pytest.raises(RuntimeError, match="not trained"):
        model.training_step(torch.zeros(2, 1, SIZE, SIZE), {}, torch.Generator())
    with pytest.raises(RuntimeError, match="not trained"):
        train(model, np.zeros((8, SIZE, SIZE), np.float32), TrainConfig(epochs=1),
              progress=False)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: oracle_decoder("circle", SIZE, latent_dim=0), ValueError, "latent_dim"),
        (lambda: oracle_decoder("sphere", SIZE, latent_dim=1), ValueError, "latent_dim"),
        (lambda: oracle_decoder("nope"), ValueError, "unknown dataset"),
        (lambda: oracle_decoder(3), TypeError, "dataset name"),
        (lambda: oracle_decoder("circle", 4), ValueError, "size"),
        (lambda: oracle_decoder("circle", winding=0), ValueError, "winding"),
        (lambda: oracle_decoder("torus", winding=1.5), ValueError, "winding"),
        (lambda: oracle_decoder("sphere", pole=(0, 0, 0)), ValueError, "pole"),
        (lambda: oracle_decoder("two_circles", bridge=0.0), ValueError, "bridge"),
        (lambda: oracle_decoder("two_circles", bridge=1.0), ValueError, "bridge"),
        (lambda: oracle_decoder("circle", bridge=0.1), TypeError, "bridge"),
        (lambda: oracle_decoder("circle").decode(torch.zeros(3, 2)), ValueError, "z must"),
        (lambda: oracle_decoder("circle").encode(torch.zeros(3, 1, 8, 8)), ValueError, "x must"),
        (lambda: oracle_decoder("circle").sample(0), ValueError, "n must"),
        (lambda: TwoCirclesOracle().min_bridge_mass(0.0), ValueError, "lipschitz"),
    ],
)
def test_bad_input_raises(call, error, match):
    with pytest.raises(error, match=match):
        call()
