"""Diffusion models: schedule, loss, samplers, inversion, interpolation, cache, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from topolib import ModelCache
from topolib.experiments import fit
from topolib.metrics.memorisation import memorisation, nearest_training_distances
from topolib.models import DDPM, PointDDPM
from topolib.models.blocks import TimeMLP, UNet, sinusoidal_embedding
from topolib.models.diffusion import Diffusion, cosine_schedule, slerp
from topolib.training import TrainConfig, train


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ------------------------------------------------------------------ schedule


def test_cosine_schedule_matches_closed_form():
    T, s = 1000, 0.008
    betas, abar = cosine_schedule(T, s)
    assert betas.shape == abar.shape == (T,)
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    for t in (0, 1, 10, 250, 500, 900, 990):
        assert abar[t].item() == pytest.approx(f(t + 1) / f(0), rel=1e-9)
    assert torch.allclose(abar, torch.cumprod(1 - betas, 0))
    assert bool((betas > 0).all()) and bool((betas <= 0.999).all())
    assert bool((abar[1:] < abar[:-1]).all())  # strictly less signal at every step
    assert abar[0].item() > 0.9999 and abar[-1].item() < 1e-6
    assert abar[T // 2 - 1].item() == pytest.approx(0.5, abs=0.01)  # half signal near T/2


def test_noisy_has_unit_variance_and_timesteps():
    d = Diffusion(TimeMLP(2, 8, 1), T=100)
    x0 = torch.randn(20000, 2, generator=torch.Generator().manual_seed(0))
    eps = torch.randn(20000, 2, generator=torch.Generator().manual_seed(1))
    t = torch.full((20000,), 60)
    xt = d.noisy(x0, t, eps)
    assert xt.var().item() == pytest.approx(1.0, abs=0.03)  # variance preserving
    a = d.abar[60]
    assert torch.allclose(xt, a.sqrt() * x0 + (1 - a).sqrt() * eps)
    times = d.timesteps(5)
    assert times[0] == 0 and times[-1] == d.t_start and bool((times.diff() > 0).all())
    assert d.abar[d.t_start] >= 1e-4 > d.abar[d.t_start + 1]  # the last time with signal
    with pytest.raises(ValueError, match="steps must be at most"):
        d.timesteps(d.t_start + 2)


def test_sinusoidal_embedding():
    e = sinusoidal_embedding(torch.tensor([0, 3]), 8)
    assert e.shape == (2, 8)
    assert torch.allclose(e[0], torch.tensor([1.0] * 4 + [0.0] * 4))
    assert e[1, 0].item() == pytest.approx(math.cos(3.0))
    with pytest.raises(ValueError, match="dim must be even"):
        sinusoidal_embedding(torch.tensor([1]), 7)


def test_unet_shapes_and_errors():
    net = UNet(16, channels=8, levels=3)
    out = net(torch.rand(3, 1, 16, 16), torch.tensor([0, 10, 999]))
    assert out.shape == (3, 1, 16, 16)
    with pytest.raises(ValueError, match="levels"):
        UNet(8, channels=8, levels=3)


# ------------------------------------------------------------------ image model


def test_loss_is_noise_mse_and_training_updates_ema():
    model = DDPM(size=8, channels=8, levels=2)
    x = torch.rand(16, 1, 8, 8)
    loss = model.loss(x, torch.Generator().manual_seed(0))["loss"]
    assert loss.ndim == 0 and 0.3 < loss.item() < 5.0  # an untrained net predicts ~N(0,1)-ish
    # the same generator state gives the same loss (all noise from the generator)
    again = model.loss(x, torch.Generator().manual_seed(0))["loss"]
    assert loss.item() == pytest.approx(again.item())
    before = [p.clone() for p in model.diffusion.ema.parameters()]
    opt = model.configure_optimizers()
    model.training_step(x, opt, torch.Generator().manual_seed(0))
    assert int(model.diffusion.ema_updates) == 1
    assert any(not torch.equal(a, b) for a, b in zip(before, model.diffusion.ema.parameters(),
                                                     strict=True))


def test_sampling_shapes_range_and_determinism():
    model = DDPM(size=8, channels=8, levels=2).eval()
    a = model.sample(5, generator=3, steps=4)
    assert a.shape == (5, 1, 8, 8) and float(a.min()) >= 0 and float(a.max()) <= 1
    assert torch.equal(a, model.sample(5, generator=3, steps=4))  # DDIM: same seed, same images
    assert not torch.equal(a, model.sample(5, generator=4, steps=4))
    b = model.sample(5, generator=3, sampler="ddpm", steps=4)
    assert b.shape == (5, 1, 8, 8)
    assert torch.equal(b, model.sample(5, generator=3, sampler="ddpm", steps=4))
    assert not torch.equal(a, b)  # the ancestral sampler adds noise at every step
    # DDIM from a given noise is the decoder
    z = torch.randn(5, 64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(model.decode(z, steps=4), model.decode(z, steps=4))
    # batching does not change DDIM samples
    assert torch.allclose(a, model.sample(5, generator=3, steps=4, batch_size=2), atol=1e-6)


def test_decode_and_invert_work_in_batches():
    model = DDPM(size=8, channels=8, levels=2).eval()
    z = torch.randn(7, 64, generator=torch.Generator().manual_seed(1))
    seen = []
    model.diffusion.ema.register_forward_pre_hook(lambda _, args: seen.append(len(args[0])))
    images = model.decode(z, steps=3, batch_size=3)
    assert seen == [3] * 3 + [3] * 3 + [1] * 3  # each chunk through the three steps, never 7
    assert torch.allclose(images, model.decode(z, steps=3), atol=1e-4)  # float rounding only
    seen.clear()
    codes = model.invert(images, steps=3, batch_size=4)
    assert seen == [4] * 3 + [3] * 3 and codes.shape == (7, 64)
    assert torch.allclose(codes, model.invert(images, steps=3), atol=1e-5)
    with pytest.raises(ValueError, match="batch_size"):
        model.decode(z, steps=3, batch_size=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.invert(images, steps=3, batch_size=-1)


def test_bad_input_errors():
    model = DDPM(size=8, channels=8, levels=2)
    with pytest.raises(ValueError, match="sampler must be one of"):
        model.sample(2, sampler="euler")
    with pytest.raises(ValueError, match="steps must be at most"):
        model.sample(2, steps=2000)
    with pytest.raises(ValueError, match="n must be"):
        model.sample(0)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 1, 8, 8\)"):
        model.invert(torch.rand(2, 1, 16, 16))
    with pytest.raises(ValueError, match=r"z must have shape \(n, 64\)"):
        model.decode(torch.rand(2, 10))
    with pytest.raises(ValueError, match="n_steps must be an integer >= 2"):
        model.interpolate_many(torch.rand(1, 8, 8), torch.rand(1, 8, 8), n_steps=1)
    with pytest.raises(ValueError, match="same number of images"):
        model.interpolate_many(torch.rand(2, 8, 8), torch.rand(1, 8, 8))
    with pytest.raises(ValueError, match="size must be a power of two"):
        DDPM(size=12)
    with pytest.raises(ValueError, match="ema_decay"):
        DDPM(size=8, levels=2, ema_decay=1.5)
    with pytest.raises(ValueError, match="needs a generator"):
        model.diffusion.sample_loop(torch.zeros(1, 1, 8, 8), 2, eta=1.0)


@pytest.fixture(scope="module")
def trained_circle(tmp_path_factory):
    """A tiny DDPM trained on 8x8 clock hands, through the cache (one thread: a module
    fixture runs before the function-scoped thread fixture)."""
    torch.set_num_threads(1)
    cache = ModelCache(tmp_path_factory.mktemp("cache"))
    config = TrainConfig(epochs=8, batch_size=32, lr=3e-3, seed=0)
    model = DDPM(size=8, channels=16, levels=2)
    result = fit(model, "circle", 512, config, seed=0, cache=cache, progress=False)
    return result, cache, config


def test_model_learns_and_cache_reloads(trained_circle):
    result, cache, config = trained_circle
    loss = result.history["loss"]
    assert loss[-1] < 0.6 * loss[0]
    again = fit(DDPM(size=8, channels=16, levels=2), "circle", 512, config,
                seed=0, cache=cache, progress=False)
    assert again.from_cache
    assert torch.equal(result.model.sample(4, 1, steps=5), again.model.sample(4, 1, steps=5))


class _GaussianOracle(torch.nn.Module):
    """The exact noise predictor for data N(0, s^2 I): E[eps | x_t] in closed form."""

    def __init__(self, s: float, abar: torch.Tensor):
        super().__init__()
        self.s, self.abar = s, abar

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = self.abar[t].view(-1, *([1] * (x.ndim - 1)))
        return (1 - a).sqrt() * x / (a * self.s**2 + 1 - a)


def test_samplers_and_inversion_with_the_exact_denoiser():
    d = Diffusion(torch.nn.Identity(), T=1000)
    d.ema = _GaussianOracle(0.5, d.abar)
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(4000, 4, generator=g)
    # both samplers turn N(0, I) into N(0, 0.25 I) as the steps grow
    assert d.sample_loop(noise, 200, 0.0, clip=False).std().item() == pytest.approx(0.5, abs=0.02)
    assert d.sample_loop(noise, 200, 1.0, g, clip=False).std().item() == pytest.approx(0.5,
                                                                                    abs=0.02)
    x0 = 0.5 * torch.randn(2000, 4, generator=g)
    z = d.invert(x0, 100)
    assert z.std().item() == pytest.approx(1.0, abs=0.03)  # inverted data look like noise
    back = d.sample_loop(z, 100, 0.0, clip=False)
    assert (back - x0).pow(2).mean().sqrt().item() < 0.03  # and decode back to the data


def test_ddim_inversion_round_trip(trained_circle):
    model = trained_circle[0].model
    from topolib.datasets import get_dataset
    from topolib.seeding import numpy_rng

    x, _ = get_dataset("circle").sample(6, numpy_rng(5, "test"), 8)
    x = torch.from_numpy(x)[:, None]
    z = model.invert(x, steps=50)
    assert z.shape == (6, 64)
    back = model.decode(z, steps=50)
    err = (back - x).pow(2).flatten(1).mean(1).sqrt()
    other = (model.sample(6, 9, steps=50) - x).pow(2).flatten(1).mean(1).sqrt()
    assert err.mean() < 0.5 * other.mean()  # the trip back lands nearer than a random sample
    paths = model.interpolate_many(x[:3], x[3:], n_steps=5, invert_steps=50)
    assert paths.shape == (3, 5, 1, 8, 8)
    assert torch.allclose(paths[:, 0], back[:3], atol=1e-4)  # the path starts at the trip back
    assert torch.allclose(paths[:, -1], back[3:], atol=1e-4)


def test_slerp_keeps_norm_and_ends():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 256, generator=g), torch.randn(4, 256, generator=g)
    path = slerp(a, b, torch.linspace(0, 1, 7))
    assert path.shape == (4, 7, 256)
    assert torch.allclose(path[:, 0], a, atol=1e-5) and torch.allclose(path[:, -1], b, atol=1e-5)
    norms = path.norm(dim=2)
    assert float((norms.min(1).values / a.norm(dim=1).minimum(b.norm(dim=1))).min()) > 0.9
    assert torch.allclose(slerp(a, a, torch.tensor([0.5]))[:, 0], a, atol=1e-5)


# ------------------------------------------------------------------ points and memorisation


def test_point_ddpm_learns_a_circle():
    rng = np.random.default_rng(0)
    theta = rng.uniform(0, 2 * np.pi, 2000)
    points = torch.tensor(np.stack([np.cos(theta), np.sin(theta)], 1), dtype=torch.float32)
    model = PointDDPM(ambient_dim=2, width=64, depth=2, ema_decay=0.99)
    losses = train(model, points, TrainConfig(epochs=125, batch_size=256, lr=3e-3),
                   progress=False).history["loss"]
    assert np.mean(losses[-10:]) < 0.8 * losses[0]
    samples = model.sample(500, 1, steps=50)
    assert samples.shape == (500, 2)
    noise = torch.randn(500, 2, generator=torch.Generator().manual_seed(1))
    off = float((samples.norm(dim=1) - 1).abs().median())
    assert off < 0.3 and off < 0.6 * float((noise.norm(dim=1) - 1).abs().median())
    z = model.invert(points[:4], steps=50)
    assert model.interpolate_many(points[:2], points[2:4], n_steps=4).shape == (2, 4, 2)
    assert z.shape == (4, 2)


def test_memorisation_calibration():
    rng = np.random.default_rng(0)
    train = rng.random((50, 8, 8)).astype(np.float32)
    copies = train[:20] + 1e-3
    fresh = rng.random((40, 8, 8)).astype(np.float32)
    d = nearest_training_distances(copies, train)
    assert d.shape == (20, 2) and bool((d[:, 0] <= d[:, 1]).all())
    m = memorisation(copies, train, fresh)
    assert m.flagged("samples")[0] == 1.0 and m.flagged("heldout")[0] == 0.0
    assert m.closer_than_real()[0] == 1.0 and m.median_ratio()[0] < 0.05
    honest = memorisation(rng.random((40, 8, 8)), train, fresh)
    assert honest.closer_than_real()[1] < 0.1 < honest.median_ratio()[0]
    with pytest.raises(ValueError, match="train must hold at least 2"):
        nearest_training_distances(copies, train[:1])


# ------------------------------------------------------------------ the chapter's measurements


def test_sample_metrics_on_real_renders():
    from topolib.datasets import get_dataset
    from topolib.diffusion_study import sample_metrics
    from topolib.seeding import numpy_rng

    x, _ = get_dataset("circle").sample(300, numpy_rng(0, "test"), 16)
    row = sample_metrics(x, "circle", seed=0, n_landmarks=80)
    assert row["off-manifold"] == 0.0 and row["off low"] == 0.0 and 0 < row["off high"] < 0.02
    assert row["Betti (Z/2)"] == row["Betti near the manifold"] == row["expected"] == (1, 1)
    assert row["median distance"] < 1e-3
    from topolib.metrics import report_card

    card = report_card(x, "circle", seed=0, n_landmarks=80)
    assert sample_metrics(x, "circle", seed=0, n_landmarks=80, card=card) == row
    with pytest.raises(ValueError, match="card grades 300 samples"):
        sample_metrics(x[:10], "circle", seed=0, card=card)


def test_fit_with_curve_is_cached(tmp_path):
    from topolib.diffusion_study import fit_with_curve, sampling_curve

    cache = ModelCache(tmp_path)
    config = TrainConfig(epochs=2, batch_size=64, seed=0)
    kwargs = {"seed": 0, "cache": cache, "every": 1, "n_eval": 30, "sample_steps": 3,
              "n_landmarks": 20}
    result, curve = fit_with_curve(DDPM(size=8, channels=8, levels=2), "circle", 128, config,
                                   **kwargs)
    assert list(curve["epoch"]) == [1, 2] and list(curve["optimizer steps"]) == [2, 4]
    again, curve2 = fit_with_curve(DDPM(size=8, channels=8, levels=2), "circle", 128, config,
                                   **kwargs)
    assert again.from_cache
    pd_testing = pytest.importorskip("pandas.testing")
    pd_testing.assert_frame_equal(curve, curve2)
    costs = sampling_curve(again.model, "circle", [2, 4], n=30, seed=0, n_landmarks=20)
    assert list(costs["steps"]) == [2, 4] and bool((costs["images/s"] > 0).all())


def test_instruments_work_at_16x16():
    """The chapter grades 16x16 samples: the projection must still tell renders from defects."""
    from topolib.datasets import get_dataset
    from topolib.datasets.failures import off_manifold_images
    from topolib.metrics import project
    from topolib.seeding import numpy_rng

    ds = get_dataset("circle")
    params = ds.sample_params(60, numpy_rng(0, "test"))
    assert not project(ds.render(params, 16), ds).off_manifold().any()
    for kind in ("blend", "blob", "noise"):
        assert project(off_manifold_images(ds, params, kind, 0, 16), ds).off_manifold().all()


def test_gpu_profile_size_runs():
    """The gpu profile trains at 64x64: one step and one sample at that size, tiny width."""
    model = DDPM(size=64, channels=8)
    opt = model.configure_optimizers()
    losses = model.training_step(torch.rand(2, 1, 64, 64), opt, torch.Generator().manual_seed(0))
    assert torch.isfinite(losses["loss"])
    assert model.sample(1, 0, steps=2).shape == (1, 1, 64, 64)


def test_evaluate_cached_grades_the_stored_samples(tmp_path):
    from topolib.diffusion_study import cached_arrays, evaluate_cached

    cache = ModelCache(tmp_path)
    config = TrainConfig(epochs=1, batch_size=64, seed=0)
    result = fit(DDPM(size=8, channels=8, levels=2), "circle", 64, config, seed=0, cache=cache,
                 progress=False)
    kwargs = {"n_samples": 20, "n_pairs": 2, "seed": 0, "invert_steps": 3, "n_landmarks": 10,
              "path_steps": 4}
    result.model.sample_steps = 3
    first = evaluate_cached(result, "circle", cache=cache, **kwargs)
    again = evaluate_cached(result, "circle", cache=cache, **kwargs)
    assert np.array_equal(first.samples, again.samples)
    assert np.array_equal(first.paths, again.paths)
    assert first.card.table["value"].astype(str).tolist() == \
        again.card.table["value"].astype(str).tolist()
    calls = []
    compute = lambda: calls.append(1) or {"x": np.arange(3.0)}  # noqa: E731
    for _ in range(2):
        assert cached_arrays(cache, "x", {"k": 1}, compute)["x"].tolist() == [0.0, 1.0, 2.0]
    assert len(calls) == 1


def test_cached_metrics(tmp_path):
    from topolib.diffusion_study import cached_metrics

    cache, calls = ModelCache(tmp_path), []
    row = {"Betti (Z/2)": (1, 1), "off-manifold": 0.5, "Betti near the manifold": None}
    for _ in range(2):
        assert cached_metrics(cache, "m", {"k": 1}, lambda: calls.append(1) or row) == row
    assert len(calls) == 1
