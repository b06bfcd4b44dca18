"""Models: shapes, determinism, input checks, and that short training moves samples to the data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from topolib.datasets import get_dataset
from topolib.models import GAN, MLP, VAE, ConvDecoder, ConvEncoder, GenerativeModel
from topolib.seeding import torch_generator
from topolib.training import TrainConfig, train

SMALL = {"latent_dim": 2, "channels": 8}
MODELS = [VAE, GAN]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def circle():
    """Training images, and a dense bank of true renders of the circle manifold."""
    ds = get_dataset("circle")
    images, _ = ds.sample(1024, seed=0, size=32)
    bank = torch.from_numpy(ds.render(ds.param_bank(720), 32)).flatten(1)
    return torch.from_numpy(images), bank


def manifold_distance(samples: torch.Tensor, bank: torch.Tensor) -> float:
    """Mean distance of samples to their nearest true render (a proxy for off-manifold)."""
    return torch.cdist(samples.flatten(1), bank).min(dim=1).values.mean().item()


def blank_distance(bank: torch.Tensor) -> float:
    """Distance of an all-black image to the manifold: a model that only learned the
    background gets this far, so trained samples must beat it."""
    return manifold_distance(torch.zeros(1, 1, 32, 32), bank)


# ---------------------------------------------------------------------- shapes


@pytest.mark.parametrize("cls", MODELS)
def test_shapes_32(cls):
    model = cls(latent_dim=3, channels=8)
    assert isinstance(model, GenerativeModel) and model.latent_dim == 3
    x = model.sample(5, generator=0)
    assert x.shape == (5, 1, 32, 32) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0 and not x.requires_grad
    z = model.invert(x, steps=3, generator=0)
    assert z.shape == (5, 3)
    assert model.decode(z).shape == (5, 1, 32, 32)
    assert model.reconstruct(x, steps=3).shape == (5, 1, 32, 32)
    path = model.interpolate(x[0], x[1], n_steps=7, generator=0, invert_steps=20)
    assert path.shape == (7, 1, 32, 32)
    # a (n, S, S) batch and numpy input are accepted
    assert model.invert(x[:, 0].numpy(), steps=2).shape == (5, 3)


def test_vae_encode_and_size_64():
    model = VAE(latent_dim=4, size=64, channels=8)
    x = model.sample(3, generator=1)
    assert x.shape == (3, 1, 64, 64)
    assert model.encode(x).shape == (3, 4)
    mu, logvar = model.posterior(x)
    assert mu.shape == logvar.shape == (3, 4)
    assert model.interpolate(x[0, 0], x[2], n_steps=4).shape == (4, 1, 64, 64)


def test_gan_size_64_and_encode():
    model = GAN(latent_dim=2, size=64, channels=4)
    x = model.sample(2, generator=0)
    assert x.shape == (2, 1, 64, 64)
    assert model.D(x).shape == (2, 1)


def test_interpolation_endpoints_are_the_decoded_codes():
    model = VAE(**SMALL)
    x = model.sample(2, generator=3)
    path = model.interpolate(x[0], x[1], n_steps=5)
    ends = model.decode(model.encode(x)).detach()
    torch.testing.assert_close(path[[0, -1]], ends)


def test_blocks_shapes():
    assert ConvEncoder(32, 6, channels=8)(torch.zeros(2, 1, 32, 32)).shape == (2, 6)
    assert ConvEncoder(16, 1, channels=8, spectral=True)(torch.zeros(2, 1, 16, 16)).shape == (2, 1)
    assert ConvDecoder(3, 64, channels=4)(torch.zeros(2, 3)).shape == (2, 1, 64, 64)
    assert MLP(3, 2, hidden=(16, 16))(torch.zeros(5, 3)).shape == (5, 2)


@pytest.mark.parametrize("cls", MODELS)
def test_parameter_counts_at_the_cpu_size(cls):
    """The default width stays inside the CPU budget of ~100k-500k parameters."""
    assert 100_000 <= cls(latent_dim=2).n_parameters() <= 500_000


# ---------------------------------------------------------------------- determinism


@pytest.mark.parametrize("cls", MODELS)
def test_same_seed_same_weights_and_samples(cls):
    a, b, c = cls(**SMALL, seed=1), cls(**SMALL, seed=1), cls(**SMALL, seed=2)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    assert not torch.equal(a.state_dict()["D.net.0.parametrizations.weight.original"]
                           if cls is GAN else a.encoder.net[0].weight,
                           c.state_dict()["D.net.0.parametrizations.weight.original"]
                           if cls is GAN else c.encoder.net[0].weight)
    assert torch.equal(a.sample(4, generator=5), b.sample(4, generator=5))
    assert torch.equal(a.sample(4, generator=torch_generator(5, "s")),
                       b.sample(4, generator=torch_generator(5, "s")))
    assert not torch.equal(a.sample(4, generator=5), a.sample(4, generator=6))


def test_global_random_state_untouched():
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002 - checking global state
    model = GAN(**SMALL)
    model.sample(3, generator=0)
    model.invert(model.sample(2), steps=2)
    VAE(**SMALL).sample(3)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002


def test_from_config_rebuilds_the_same_model():
    model = VAE(latent_dim=3, channels=8, beta=0.5, seed=4)
    twin = VAE.from_config(model.config())
    assert twin.config() == model.config()
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                  twin.state_dict().values(), strict=True))
    with pytest.raises(ValueError, match="describes a VAE"):
        GAN.from_config(model.config())


# ---------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize("bad", [0, -2])
def test_bad_latent_dim(cls, bad):
    with pytest.raises(ValueError, match="latent_dim must be a positive integer"):
        cls(latent_dim=bad)


@pytest.mark.parametrize("cls", MODELS)
def test_bad_constructor_arguments(cls):
    with pytest.raises(TypeError, match="latent_dim"):
        cls(latent_dim=2.5)
    with pytest.raises(ValueError, match="size must be a power of two"):
        cls(size=30)
    with pytest.raises(ValueError, match="channels"):
        cls(channels=0)
    with pytest.raises(ValueError, match="seed"):
        cls(seed=-1)
    if cls is VAE:
        with pytest.raises(ValueError, match="beta"):
            VAE(beta=-1.0)


@pytest.mark.parametrize("cls", MODELS)
def test_bad_images_and_latents(cls):
    model = cls(**SMALL)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 1, 32, 32\).*\(2, 1, 28, 28\)"):
        model.invert(torch.zeros(2, 1, 28, 28), steps=1)
    with pytest.raises(ValueError, match="x must have shape"):
        model.invert(torch.zeros(2, 3, 32, 32), steps=1)
    with pytest.raises(TypeError, match="x must be a torch.Tensor or numpy array"):
        model.invert([[0.0]], steps=1)
    with pytest.raises(ValueError, match=r"z must have shape \(n, 2\); got \(4, 3\)"):
        model.decode(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        model.sample(0)
    x = model.sample(2)
    with pytest.raises(ValueError, match="x_a must be a single image"):
        model.interpolate(x, x[0], invert_steps=1)
    with pytest.raises(ValueError, match="x_b must have shape"):
        model.interpolate(x[0], torch.zeros(1, 1, 16, 16), invert_steps=1)
    with pytest.raises(ValueError, match="n_steps must be an integer >= 2"):
        model.interpolate(x[0], x[1], n_steps=1)


def test_gan_invert_checks_its_arguments():
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        GAN(**SMALL).invert(torch.zeros(1, 1, 32, 32), steps=0)


# ---------------------------------------------------------------------- learning


def test_vae_elbo_falls_and_samples_approach_the_manifold(circle):
    images, bank = circle
    model = VAE(**SMALL)
    before = manifold_distance(model.sample(200, generator=1), bank)
    result = train(model, images, TrainConfig(epochs=6, batch_size=32, lr=2e-3), progress=False)
    loss = result.history["loss"]
    assert set(result.history) == {"loss", "recon", "kl"} and len(loss) == 6
    assert loss[-1] < 0.6 * loss[0]
    after = manifold_distance(model.sample(200, generator=1), bank)
    # measured over five seeds: after / before 0.17-0.28, after / blank 0.39-0.64
    assert after < 0.5 * before
    assert after < 0.8 * blank_distance(bank)


def test_gan_samples_approach_the_manifold(circle):
    images, bank = circle
    model = GAN(**SMALL)
    untrained = model.sample(200, generator=1)
    result = train(model, images, TrainConfig(epochs=10, batch_size=32), progress=False)
    assert set(result.history) == {"loss_d", "loss_g", "d_real", "d_fake"}
    trained = model.sample(200, generator=1)
    # G starts dark (its output bias is -3), so an untrained G is nearly the blank image;
    # measured over four seeds: after / untrained 0.67-0.79, after / blank 0.64-0.75,
    # mean-image ratio 0.54-0.90
    after = manifold_distance(trained, bank)
    assert after < 0.88 * manifold_distance(untrained, bank)
    assert after < 0.85 * blank_distance(bank)
    # pixel statistics: the mean generated image moves towards the mean training image
    target = images.mean(0)
    assert (trained.mean(0)[0] - target).norm() < 0.95 * (untrained.mean(0)[0] - target).norm()


def test_gan_decoding_does_not_depend_on_the_batch():
    """Batch norm in G runs on running statistics outside training: one code, one image."""
    model = GAN(**SMALL).train()
    z = torch.randn(8, 2, generator=torch_generator(0, "z"))
    torch.testing.assert_close(model.decode(z)[:1], model.decode(z[:1]))
    assert model.training and model.G.training  # the mode is restored


def test_gan_inversion_recovers_a_generated_latent():
    model = GAN(latent_dim=2, channels=8, seed=3)
    z_true = torch.randn(6, 2, generator=torch_generator(0, "z"))
    x = model.decode(z_true).detach()
    z_hat = model.invert(x, steps=150, generator=1)
    err = (model.decode(z_hat).detach() - x).pow(2).flatten(1).mean(1)
    z_rand = torch.randn(6, 2, generator=torch_generator(1, "z"))
    err_rand = (model.decode(z_rand).detach() - x).pow(2).flatten(1).mean(1)
    assert float(err.mean()) < 0.05 * float(err_rand.mean())
    assert torch.equal(z_hat, model.invert(x, steps=150, generator=1))  # seeded


@pytest.mark.parametrize("cls", MODELS)
def test_interpolate_many_matches_single_pairs(cls):
    model = cls(latent_dim=2, channels=8)
    x = model.sample(6, generator=1)
    many = model.interpolate_many(x[:3], x[3:], n_steps=5, generator=0, invert_steps=5)
    assert many.shape == (3, 5, 1, 32, 32)
    if cls is VAE:  # deterministic inversion: the batch equals pair by pair
        for k in range(3):
            torch.testing.assert_close(many[k], model.interpolate(x[k], x[3 + k], n_steps=5))
    with pytest.raises(ValueError, match="same number of images"):
        model.interpolate_many(x[:3], x[3:5], invert_steps=1)
