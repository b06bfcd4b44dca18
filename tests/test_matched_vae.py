"""The topology-matched VAE: latent distributions, geodesics, quotient features, training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import kl_divergence

from topolib import ModelCache
from topolib.experiments import fit
from topolib.metrics import project
from topolib.models import GenerativeModel, MatchedVAE, encoder_winding
from topolib.models.latent_spaces import (
    LATENT_SPACES,
    get_latent_space,
    klein_features,
    power_spherical,
    seeded_rsample,
    slerp,
    sphere_log_area,
    uniform_prior,
    veronese,
)
from topolib.training import TrainConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DIMS = {"circle": 2, "torus": 4, "sphere": 3, "two_circles": 3, "projective": 3, "klein": 4}


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def on_space(space, z: torch.Tensor, tol: float = 1e-5) -> bool:
    """Every factor a unit vector, and the sign coordinate (two components) in {-1, +1}."""
    ok = all(bool(((f.norm(dim=-1) - 1).abs() < tol).all()) for f in space.split(z))
    if space.components > 1:
        ok = ok and bool((z[..., 0].abs() == 1).all())
    return ok


# ---------------------------------------------------------------------- the latent spaces


@pytest.mark.parametrize("name", list(LATENT_SPACES))
def test_prior_samples_lie_on_the_space(name):
    space = get_latent_space(name)
    assert space.latent_dim == DIMS[name]
    z = space.sample(500, gen())
    assert z.shape == (500, DIMS[name]) and on_space(space, z)
    assert torch.equal(z, space.sample(500, gen()))  # seeded
    # uniform: every coordinate has mean ~0
    assert z.mean(0).abs().max() < 0.15


def test_prior_log_density_is_minus_log_area():
    assert sphere_log_area(2) == pytest.approx(math.log(2 * math.pi))
    assert sphere_log_area(3) == pytest.approx(math.log(4 * math.pi))
    for d in (2, 3):
        value = uniform_prior(d).log_prob(torch.zeros(1, d))
        assert float(value) == pytest.approx(-sphere_log_area(d), rel=1e-6)
    torus = get_latent_space("torus")
    assert float(torus.log_prior(torus.sample(3, gen()))[0]) == pytest.approx(
        -2 * math.log(2 * math.pi))
    two = get_latent_space("two_circles")
    assert two.log_area() == pytest.approx(math.log(2) + math.log(2 * math.pi))


def test_power_spherical_density_integrates_to_one():
    loc2 = torch.tensor([math.cos(0.3), math.sin(0.3)], dtype=torch.float64)
    # a midpoint grid that misses the antipode (where log1p(mu.z) rounds below -1)
    theta = 0.3 + (torch.arange(20000, dtype=torch.float64) + 0.5) * (2 * math.pi / 20000)
    circle = torch.stack([theta.cos(), theta.sin()], 1)
    for kappa in (0.5, 5.0, 50.0):
        p = power_spherical(loc2, torch.tensor(kappa, dtype=torch.float64))
        mass = p.log_prob(circle).exp().mean() * 2 * math.pi
        assert float(mass) == pytest.approx(1.0, abs=1e-4)
        # the closed form: C (1 + mu.z)^kappa with C = 1 / (2^(a+b) pi^b B(a, b)) in d = 2
        a, b = 0.5 + kappa, 0.5
        log_c = -((a + b) * math.log(2) + b * math.log(math.pi) + math.lgamma(a) + math.lgamma(b)
                  - math.lgamma(a + b) - math.lgamma(b))
        assert float(p.log_prob(loc2)) == pytest.approx(log_c + kappa * math.log(2))
    # S^2: the density depends on the polar angle only, so integrate over it
    loc3 = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    polar = torch.linspace(0, math.pi, 20001, dtype=torch.float64)[:-1]
    pts = torch.stack([polar.sin(), torch.zeros_like(polar), polar.cos()], 1)
    p = power_spherical(loc3, torch.tensor(7.0, dtype=torch.float64))
    mass = torch.trapezoid(p.log_prob(pts).exp() * 2 * math.pi * polar.sin(), polar)
    assert float(mass) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("d", [2, 3])
def test_kl_to_uniform_matches_monte_carlo(d):
    loc = torch.nn.functional.normalize(torch.ones(3, d), dim=-1)
    kappa = torch.tensor([0.5, 4.0, 40.0])
    q = power_spherical(loc, kappa)
    closed = kl_divergence(q, uniform_prior(d))
    z = seeded_rsample(power_spherical(loc.expand(20000, 3, d), kappa.expand(20000, 3)), gen())
    assert on_space(get_latent_space("circle" if d == 2 else "sphere"), z.reshape(-1, d), 1e-4)
    mc = (q.log_prob(z) + sphere_log_area(d)).mean(0)
    assert torch.allclose(closed, mc, rtol=0.03, atol=0.01)
    assert (closed > 0).all()


def test_seeded_rsample_is_reproducible_and_leaves_global_state():
    q = power_spherical(torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([3.0]))
    state = torch.get_rng_state()
    a, b = seeded_rsample(q, gen(1)), seeded_rsample(q, gen(1))
    assert torch.equal(a, b) and torch.equal(state, torch.get_rng_state())
    assert not torch.equal(a, seeded_rsample(q, gen(2)))


# ---------------------------------------------------------------------- geodesics


def test_slerp_constant_speed_on_a_great_circle():
    a = torch.nn.functional.normalize(torch.tensor([[1.0, 2.0, -1.0], [0.0, 0.0, 1.0]]), dim=1)
    b = torch.nn.functional.normalize(torch.tensor([[-1.0, 0.5, 2.0], [0.0, 0.0, -1.0]]), dim=1)
    t = torch.linspace(0, 1, 11)
    path = slerp(a, b, t)
    assert torch.allclose(path[:, 0], a, atol=1e-6) and torch.allclose(path[:, -1], b, atol=1e-5)
    assert torch.allclose(path.norm(dim=-1), torch.ones(2, 11), atol=1e-6)
    steps = torch.arccos((path[:, 1:] * path[:, :-1]).sum(-1).clamp(-1, 1))
    total = torch.arccos((a * b).sum(-1).clamp(-1, 1))
    assert torch.allclose(steps, (total / 10)[:, None].expand(2, 10), atol=1e-3)
    # in the plane of a and b (a great circle); the antipodal pair still gives a half circle
    normal = torch.linalg.cross(a[0], b[0])
    assert (path[0] @ normal).abs().max() < 1e-5
    assert float(total[1]) == pytest.approx(math.pi)


def test_torus_geodesic_takes_the_shorter_arc_per_angle():
    space = get_latent_space("torus")

    def code(u, v):
        return torch.tensor([[math.cos(u), math.sin(u), math.cos(v), math.sin(v)]])

    path = space.geodesic(code(0.1, 3.0), code(2 * math.pi - 0.1, -3.0), 5)[0]
    u = torch.atan2(path[:, 1], path[:, 0])
    v = torch.atan2(path[:, 3], path[:, 2])
    assert u.abs().max() <= 0.1 + 1e-5  # through u = 0, not round the long way
    assert (v.abs() >= 3.0 - 1e-5).all()  # through v = pi


def test_quotient_geodesics_use_the_nearer_lift():
    proj = get_latent_space("projective")
    a = torch.tensor([[0.0, 0.0, 1.0]])
    b = torch.nn.functional.normalize(torch.tensor([[0.1, 0.0, -1.0]]), dim=1)
    path = proj.geodesic(a, b, 9)[0]
    assert (path[:, 2] > 0.9).all()  # stays near the pole: it goes to -b, the same point
    klein = get_latent_space("klein")
    z = klein.sample(20, gen())
    twin = klein.twin(z)
    path = klein.geodesic(z, twin, 6)  # a point and its twin: the same point, a constant path
    feats = klein_features(path.reshape(-1, 4)).reshape(20, 6, 5)
    assert torch.allclose(feats, feats[:, :1].expand(-1, 6, -1), atol=1e-5)


def test_two_circles_geodesic_jumps_once_in_the_middle():
    space = get_latent_space("two_circles")
    a = torch.tensor([[-1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    b = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, -1.0]])
    path = space.geodesic(a, b, 8)
    assert torch.equal(path[0, :, 0], torch.tensor([-1.0] * 4 + [1.0] * 4))
    assert (path[1, :, 0] == 1).all()  # same circle: no jump
    assert on_space(space, path.reshape(-1, 3))
    assert torch.allclose(path[:, -1], b, atol=1e-6)


# ---------------------------------------------------------------------- quotient features


def test_veronese_and_klein_features_are_invariant_and_not_constant():
    v = get_latent_space("sphere").sample(200, gen())
    assert torch.allclose(veronese(v), veronese(-v))
    assert veronese(v).std(0).min() > 0.05
    # one-to-one on RP^2: distinct lines give distinct features
    w = torch.nn.functional.normalize(v + 0.3 * get_latent_space("sphere").sample(200, gen(1)))
    same_line = (v * w).sum(1).abs() > 1 - 1e-6
    assert ((veronese(v) - veronese(w)).norm(dim=1)[~same_line] > 1e-4).all()
    klein = get_latent_space("klein")
    z = klein.sample(200, gen())
    assert torch.allclose(klein_features(z), klein_features(klein.twin(z)), atol=1e-6)
    assert klein_features(z).std(0).min() > 0.1
    # the twin is a different point of the torus cover: the identification is not trivial
    assert (z - klein.twin(z)).norm(dim=1).min() > 0.1


@pytest.mark.parametrize("name", ["projective", "klein"])
def test_decoder_is_a_map_on_the_quotient(name):
    model = MatchedVAE(name, size=16, channels=4)
    z = model.space.sample(6, gen())
    assert torch.allclose(model.decode(z), model.decode(model.space.twin(z)), atol=1e-6)
    assert not torch.allclose(model.decode(z[:1]), model.decode(z[1:2]), atol=1e-4)


# ---------------------------------------------------------------------- the model


@pytest.mark.parametrize("name", list(LATENT_SPACES))
def test_model_shapes_and_codes_on_the_space(name):
    model = MatchedVAE(name, size=16, channels=4)
    assert isinstance(model, GenerativeModel) and model.latent_dim == DIMS[name]
    x = model.sample(5, generator=0)
    assert x.shape == (5, 1, 16, 16) and 0 <= float(x.min()) and float(x.max()) <= 1
    assert torch.equal(x, model.sample(5, generator=0))
    z = model.encode(x)
    assert z.shape == (5, DIMS[name]) and on_space(model.space, z)
    # decode maps any real codes onto the space first
    assert torch.allclose(model.decode(3.0 * z), model.decode(z), atol=1e-6)
    paths = model.interpolate_many(x[:2], x[2:4], n_steps=5)
    assert paths.shape == (2, 5, 1, 16, 16)
    assert torch.allclose(paths[:, 0], model.decode(z[:2]), atol=1e-5)
    losses = model.loss(x, gen())
    assert {"loss", "recon", "kl"} <= set(losses) and float(losses["kl"].detach()) >= 0
    assert ("balance" in losses) == (name == "two_circles")


def test_two_circles_loss_sums_the_component_exactly():
    model = MatchedVAE("two_circles", size=16, channels=4)
    x = model.sample(4, generator=0)
    with torch.no_grad():
        post = model.posterior(x)
        loss = model.loss(x, gen())
    q_k = post.logits.softmax(1)
    assert post.locs[0].shape == (4, 2, 2) and torch.allclose(q_k.sum(1), torch.ones(4))
    # KL = KL(q(k) || uniform) + sum_k q(k) KL(q(z | k) || uniform), recomputed by hand
    kl_z = kl_divergence(post.distributions()[0], uniform_prior(2))
    expected = (q_k * (q_k.log() + math.log(2)) + q_k * kl_z).sum(1).mean()
    assert float(loss["kl"]) == pytest.approx(float(expected), rel=1e-5)
    # the balance term: KL of the batch's mean q(k | x) to uniform, added with its weight
    q_mean = q_k.mean(0)
    balance = float((q_mean * (q_mean.log() + math.log(2))).sum())
    assert float(loss["balance"]) == pytest.approx(balance, rel=1e-4, abs=1e-7)
    assert float(loss["loss"]) == pytest.approx(float(loss["recon"] + loss["kl"]), rel=1e-6)
    weighted = MatchedVAE("two_circles", size=16, channels=4, balance=5.0)
    with torch.no_grad():
        wl = weighted.loss(x, gen())
    assert float(wl["loss"]) == pytest.approx(
        float(wl["recon"] + wl["kl"] + 5.0 * wl["balance"]), rel=1e-6)


def test_config_round_trip_and_cache(tmp_path):
    model = MatchedVAE("sphere", size=16, channels=4, beta=0.5, seed=3)
    config = model.config()
    assert config == {"class": "MatchedVAE", "latent": "sphere", "size": 16, "channels": 4,
                      "beta": 0.5, "seed": 3, "balance": 0.0, "assign": 0.0}
    clone = MatchedVAE.from_config(config)
    assert clone.config() == config
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), clone.parameters(),
                                                 strict=True))
    cache = ModelCache(tmp_path / "cache")
    cfg = TrainConfig(epochs=1, batch_size=32)
    first = fit(model, "sphere", 64, cfg, seed=0, cache=cache, progress=False)
    again = fit(MatchedVAE.from_config(config), "sphere", 64, cfg, seed=0, cache=cache,
                progress=False)
    assert not first.from_cache and again.from_cache
    x = model.sample(3, generator=1)
    assert torch.allclose(first.model.decode(first.model.encode(x)),
                          again.model.decode(again.model.encode(x)))
    other = fit(MatchedVAE("projective", size=16, channels=4, beta=0.5, seed=3), "sphere",
                64, cfg, seed=0, cache=cache, progress=False)
    assert not other.from_cache


def test_training_lowers_the_loss_on_the_circle():
    result = fit(MatchedVAE("circle", size=16, channels=8), "circle", 512,
                 TrainConfig(epochs=4, batch_size=32, lr=2e-3), seed=0, progress=False)
    loss = result.history["loss"]
    assert loss[-1] < 0.8 * loss[0]
    assert np.isfinite(loss).all() and result.history["kl"][-1] > 0


def test_bad_input_gives_clear_errors():
    with pytest.raises(ValueError, match="latent must be one of 'circle', 'torus'"):
        MatchedVAE("cylinder")
    model = MatchedVAE("torus", size=16, channels=4)
    with pytest.raises(ValueError, match=r"z must have shape \(n, 4\)"):
        model.decode(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"x must have shape \(n, 1, 16, 16\)"):
        model.encode(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="n_steps"):
        model.interpolate_many(torch.zeros(1, 16, 16), torch.zeros(1, 16, 16), n_steps=1)
    with pytest.raises(ValueError, match="beta"):
        MatchedVAE("circle", beta=-1.0)
    with pytest.raises(ValueError, match="balance must be a finite number >= 0"):
        MatchedVAE("two_circles", balance=-1.0)


class ExactTorusEncoder(MatchedVAE):
    """A torus-latent model whose encoder reads the true angles (by projection), with the
    factors permuted and mirrored as asked: a known homotopy class."""

    def __init__(self, order=(0, 1), signs=(1.0, 1.0)) -> None:
        super().__init__("torus", size=32, channels=4)
        self.order, self.signs = order, signs

    def encode(self, x):
        theta = torch.from_numpy(project(x, "torus").params).float()
        theta = theta[:, list(self.order)] * torch.tensor(self.signs)
        return torch.stack([theta[:, 0].cos(), theta[:, 0].sin(), theta[:, 1].cos(),
                            theta[:, 1].sin()], 1)


def test_encoder_winding_reads_the_homotopy_class():
    assert encoder_winding(ExactTorusEncoder(), "torus", 48).tolist() == [[1, 0], [0, 1]]
    swapped = ExactTorusEncoder(order=(1, 0), signs=(-1.0, 1.0))
    assert encoder_winding(swapped, "torus", 48).tolist() == [[0, 1], [-1, 0]]
    untrained = encoder_winding(MatchedVAE("torus", size=16, channels=4), "torus", 24)
    assert untrained.shape == (2, 2) and untrained.dtype.kind == "i"
    with pytest.raises(ValueError, match="no circle factor"):
        encoder_winding(MatchedVAE("sphere", size=16, channels=4), "circle")
    with pytest.raises(ValueError, match="no angle parameters"):
        encoder_winding(MatchedVAE("circle", size=16, channels=4), "sphere")
