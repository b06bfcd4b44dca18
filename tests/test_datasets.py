"""Tests of the image manifolds in topolib.datasets (no persistent homology here)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.spatial.distance import cdist

from topolib.datasets import DATASET_NAMES, ImageManifold, ManifoldImages, get_dataset
from topolib.seeding import numpy_rng

EXPECTED_BETTI = {
    "circle": {2: (1, 1, 0), 3: (1, 1, 0)},
    "torus": {2: (1, 2, 1), 3: (1, 2, 1)},
    "sphere": {2: (1, 0, 1), 3: (1, 0, 1)},
    "klein": {2: (1, 2, 1), 3: (1, 1, 0)},
    "projective": {2: (1, 1, 1), 3: (1, 0, 0)},
    "two_circles": {2: (2, 2, 0), 3: (2, 2, 0)},
    "disk": {2: (1, 0, 0), 3: (1, 0, 0)},
}
#: Riemannian volume of each manifold in its own metric (for lattice spacing checks).
VOLUME = {
    "circle": 2 * math.pi,
    "torus": 4 * math.pi**2,
    "sphere": 4 * math.pi,
    "klein": 2 * math.pi**2,
    "projective": 2 * math.pi,
    "two_circles": 4 * math.pi,
    "disk": 0.9**2,
}


@pytest.fixture(params=DATASET_NAMES, scope="module")
def manifold(request) -> ImageManifold:
    return get_dataset(request.param)


def image_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm((a - b).reshape(len(a), -1), axis=1)


def other_representatives(m: ImageManifold, p: np.ndarray, seed: int = 0) -> np.ndarray:
    """Parameters that name the same manifold points as ``p`` in a different way."""
    rng = np.random.default_rng(seed)
    turns = 2 * math.pi * rng.integers(-2, 3, size=p.shape)
    if m.name in ("circle", "torus"):
        return p + turns
    if m.name == "two_circles":
        return p + np.stack([np.zeros(len(p)), turns[:, 1]], axis=1)
    if m.name == "sphere":
        return p * rng.uniform(0.5, 3.0, size=(len(p), 1))
    if m.name == "projective":
        return p * rng.choice([-2.0, -0.5, 0.7, 3.0], size=(len(p), 1))
    if m.name == "klein":
        glide = rng.integers(0, 2, size=len(p)).astype(bool)
        theta = np.where(glide, p[:, 0] + math.pi, p[:, 0])
        phi = np.where(glide, math.pi - p[:, 1], p[:, 1])
        return np.stack([theta, phi], axis=1) + turns
    return p.copy()  # disk: every point has a single name


def tangent_direction(m: ImageManifold, p: np.ndarray, seed: int) -> np.ndarray:
    """Random unit directions in parameter space that move along the manifold."""
    v = np.random.default_rng(seed).standard_normal(p.shape)
    if m.name == "two_circles":
        v[:, 0] = 0.0
    if m.name in ("sphere", "projective"):
        v -= np.sum(v * p, axis=1, keepdims=True) * p
    return v / np.linalg.norm(v, axis=1, keepdims=True)


# ---------------------------------------------------------------------- registry


def test_registry_names_and_metadata():
    assert set(DATASET_NAMES) == set(EXPECTED_BETTI)
    for name in DATASET_NAMES:
        m = get_dataset(name)
        assert isinstance(m, ImageManifold) and m.name == name
        assert m.betti == EXPECTED_BETTI[name]
        assert all(len(b) == 3 for b in m.betti.values())
        assert isinstance(m.description, str) and len(m.description) > 20
        assert 1 <= m.intrinsic_dim <= m.param_dim
    assert get_dataset(get_dataset("torus")).name == "torus"


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="torus") as info:
        get_dataset("doughnut")
    assert "doughnut" in str(info.value)
    with pytest.raises(TypeError, match="name"):
        get_dataset(3)


# ---------------------------------------------------------------------- rendering


def test_shapes_dtype_range(manifold):
    images, params = manifold.sample(64, seed=0)
    assert images.shape == (64, 32, 32) and images.dtype == np.float32
    assert params.shape == (64, manifold.param_dim) and params.dtype == np.float64
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert images.max() > 0.5  # something is drawn
    assert image_distance(images[:32], images[32:]).min() > 0.1  # and it varies
    for size in (8, 17, 48):
        assert manifold.render(params[:3], size=size).shape == (3, size, size)
    assert manifold.render(params[:0]).shape == (0, 32, 32)


def test_determinism(manifold):
    a_images, a_params = manifold.sample(16, seed=3)
    b_images, b_params = manifold.sample(16, seed=3)
    np.testing.assert_array_equal(a_images, b_images)
    np.testing.assert_array_equal(a_params, b_params)
    c_params = manifold.sample_params(16, seed=4)
    assert not np.allclose(a_params, c_params)
    # A Generator is used as is: equal generators give equal draws, and it is consumed.
    np.testing.assert_array_equal(
        manifold.sample_params(16, numpy_rng(5)), manifold.sample_params(16, numpy_rng(5))
    )
    rng = numpy_rng(5)
    assert not np.array_equal(manifold.sample_params(16, rng), manifold.sample_params(16, rng))


def test_chunking_does_not_change_images(manifold):
    params = manifold.sample_params(37, seed=1)
    whole = manifold.render(params)
    chunked = get_dataset(manifold.name)
    chunked.chunk_size = 5
    # BLAS may block a matrix product differently for another batch size: 1-ulp changes.
    np.testing.assert_allclose(chunked.render(params), whole, atol=1e-6, rtol=0)


def test_numpy_and_torch_agree(manifold):
    params = manifold.sample_params(64, seed=2)
    images = manifold.render(params)
    for dtype in (torch.float64, torch.float32):
        for grad in (False, True):
            out = manifold.render_torch(torch.tensor(params, dtype=dtype, requires_grad=grad))
            assert out.dtype == dtype and out.shape == (64, 32, 32)
            np.testing.assert_allclose(out.detach().numpy(), images, atol=1e-5, rtol=0)


def test_gradients_flow(manifold):
    params = torch.tensor(manifold.sample_params(8, seed=3), requires_grad=True)
    weights = torch.from_numpy(np.random.default_rng(0).standard_normal((8, 32, 32)))
    (manifold.render_torch(params) * weights).sum().backward()
    grad = params.grad
    assert torch.isfinite(grad).all()
    assert (grad.abs().sum(dim=1) > 1e-6).all()  # every image depends on its parameters


def test_gradient_matches_finite_difference(manifold):
    params = torch.tensor(manifold.sample_params(4, seed=4), requires_grad=True)
    direction = torch.from_numpy(tangent_direction(manifold, params.detach().numpy(), 1))
    weights = torch.from_numpy(np.random.default_rng(1).standard_normal((4, 32, 32)))

    def loss(p):
        return (manifold.render_torch(p) * weights).sum()

    loss(params).backward()
    analytic = float((params.grad * direction).sum())
    h = 1e-6
    with torch.no_grad():
        numeric = float(loss(params + h * direction) - loss(params - h * direction)) / (2 * h)
    assert analytic == pytest.approx(numeric, rel=1e-4, abs=1e-6)


def test_continuity_is_linear_in_step(manifold):
    params = manifold.sample_params(120, seed=5)
    if manifold.name == "disk":  # stay inside the box
        params *= 0.9
    direction = tangent_direction(manifold, params, seed=6)
    ratios = []
    for eps in (1e-2, 1e-3):
        moved = params + eps * direction
        step = image_distance(manifold.render(params), manifold.render(moved))
        ratios.append(step.max() / eps)
    # Lipschitz with a moderate constant, and the worst-case image change shrinks like eps.
    assert ratios[0] < 60
    assert ratios[1] == pytest.approx(ratios[0], rel=0.2)


def test_injective_far_points_give_far_images(manifold):
    a = manifold.sample_params(600, seed=7)
    b = manifold.sample_params(600, seed=8)
    rng = np.random.default_rng(9)
    near = a[:200] + 0.05 * tangent_direction(manifold, a[:200], 10) * rng.uniform(size=(200, 1))
    a = np.concatenate([a, a[:200]])
    b = np.concatenate([b, manifold.canonical(near)])
    intrinsic = manifold.distance(a, b)
    images = image_distance(manifold.render(a), manifold.render(b))
    # L2 distance of 32x32 images, per unit of intrinsic distance: observed >= 3.2.
    assert np.all(images >= 1.0 * np.minimum(intrinsic, 0.5))


def test_identified_points_give_identical_images(manifold):
    params = manifold.sample_params(50, seed=11)
    others = other_representatives(manifold, params)
    np.testing.assert_allclose(manifold.render(others), manifold.render(params), atol=1e-4)


def test_far_wrapped_angles_keep_full_precision():
    torus = get_dataset("torus")
    params = torus.sample_params(20, seed=0)
    far = params + 2 * math.pi * 1000
    np.testing.assert_allclose(torus.render(far), torus.render(params), atol=1e-5)
    exact = torus.render_torch(torch.from_numpy(far)).numpy()
    np.testing.assert_allclose(torus.render(far), exact, atol=1e-5)


def test_two_circles_blends_between_the_hands():
    two = get_dataset("two_circles")
    theta = np.full(5, 0.7)
    thin = two.render(np.stack([np.zeros(5), theta], 1))
    thick = two.render(np.stack([np.ones(5), theta], 1))
    blend = two.render(np.stack([np.linspace(0, 1, 5), theta], 1))  # off the manifold
    np.testing.assert_allclose(blend[0], thin[0], atol=1e-6)
    np.testing.assert_allclose(blend[-1], thick[0], atol=1e-6)
    steps = image_distance(blend[:-1], blend[1:])
    assert np.all(steps > 0.1) and steps.max() < image_distance(thin[:1], thick[:1])[0]


def test_special_pairs():
    circle = get_dataset("circle")
    theta = np.linspace(0, 2 * math.pi, 12, endpoint=False)[:, None]
    opposite = image_distance(circle.render(theta), circle.render(theta + math.pi))
    assert opposite.min() > 5.0  # the hand points the other way: far apart

    sphere = get_dataset("sphere")
    u = sphere.sample_params(50, seed=0)
    assert image_distance(sphere.render(u), sphere.render(-u)).min() > 3.0

    projective = get_dataset("projective")
    np.testing.assert_allclose(projective.render(-u), projective.render(u), atol=1e-6)
    tilted = projective.canonical(u + 0.1 * tangent_direction(projective, u, 1))
    assert image_distance(projective.render(u), projective.render(tilted)).min() > 0.3

    klein = get_dataset("klein")
    p = klein.sample_params(50, seed=0)
    glide = np.stack([p[:, 0] + math.pi, math.pi - p[:, 1]], axis=1)
    np.testing.assert_allclose(klein.render(glide), klein.render(p), atol=1e-5)
    for not_identified in (
        np.stack([p[:, 0] + math.pi, p[:, 1]], axis=1),  # turned round, phi not reflected
        np.stack([p[:, 0], math.pi - p[:, 1]], axis=1),  # reflected, not turned
        p + [0.0, 0.1],
        p + [0.1, 0.0],
    ):
        far = klein.distance(p, not_identified) > 0.05
        gap = image_distance(klein.render(p), klein.render(not_identified))
        assert gap[far].min() > 0.1

    two = get_dataset("two_circles")
    theta = np.linspace(0, 2 * math.pi, 24, endpoint=False)
    thin = np.stack([np.zeros(24), theta], axis=1)
    thick = np.stack([np.ones(24), theta], axis=1)
    gaps = cdist(two.render(thin).reshape(24, -1), two.render(thick).reshape(24, -1))
    assert gaps.min() > 3.0  # the two hands never look alike


# ---------------------------------------------------------------------- geometry


def test_canonical_is_idempotent_and_keeps_the_image(manifold):
    params = manifold.sample_params(200, seed=12)
    others = other_representatives(manifold, params, seed=1)
    canon = manifold.canonical(others)
    np.testing.assert_allclose(canon, params, atol=1e-9)
    np.testing.assert_allclose(manifold.canonical(canon), canon, atol=1e-12)
    np.testing.assert_allclose(manifold.render(canon), manifold.render(others), atol=1e-4)
    np.testing.assert_allclose(manifold.distance(others, params), 0.0, atol=1e-7)


def test_canonical_wraps_into_the_fundamental_domain():
    np.testing.assert_allclose(
        get_dataset("circle").canonical([[-0.5], [7.0]]), [[2 * math.pi - 0.5], [7.0 - 2 * math.pi]]
    )
    np.testing.assert_allclose(
        get_dataset("klein").canonical([[math.pi + 0.25, 1.0]]), [[0.25, math.pi - 1.0]]
    )
    np.testing.assert_allclose(
        get_dataset("projective").canonical([[0.0, 0.0, -2.0]]), [[0.0, 0.0, 1.0]]
    )
    np.testing.assert_allclose(get_dataset("disk").canonical([[3.0, -3.0]]), [[0.45, -0.45]])
    np.testing.assert_allclose(
        get_dataset("two_circles").canonical([[0.8, -1.0]]), [[1.0, 2 * math.pi - 1.0]]
    )


def test_retract_torch_returns_to_the_manifold():
    sphere = get_dataset("sphere")
    u = sphere.retract_torch(torch.tensor([[3.0, 4.0, 0.0]]))
    torch.testing.assert_close(u, torch.tensor([[0.6, 0.8, 0.0]]))
    disk = get_dataset("disk")
    torch.testing.assert_close(
        disk.retract_torch(torch.tensor([[1.0, 0.1]])), torch.tensor([[0.45, 0.1]])
    )
    two = get_dataset("two_circles")
    torch.testing.assert_close(
        two.retract_torch(torch.tensor([[0.7, 1.0]])), torch.tensor([[1.0, 1.0]])
    )
    klein = get_dataset("klein")
    p = torch.tensor([[0.3, 0.2]])
    torch.testing.assert_close(klein.retract_torch(p), p)


def test_distance_metric_properties(manifold):
    a, b, c = (manifold.sample_params(400, seed=s) for s in (13, 14, 15))
    d_ab = manifold.distance(a, b)
    assert d_ab.shape == (400,)
    np.testing.assert_allclose(d_ab, manifold.distance(b, a), atol=1e-12)
    np.testing.assert_allclose(manifold.distance(a, a), 0.0, atol=1e-7)
    finite = np.isfinite(d_ab)
    assert np.all(d_ab[finite] >= 0)
    d_ac, d_bc = manifold.distance(a, c), manifold.distance(b, c)
    assert np.all(d_ac <= d_ab + d_bc + 1e-9)
    # a single point broadcasts against many
    np.testing.assert_allclose(
        manifold.distance(a[0], b), manifold.distance(a[:1].repeat(400, 0), b)
    )


def test_distance_known_values():
    pi = math.pi
    cases = [
        ("circle", [0.1], [0.1 + pi], pi),
        ("circle", [0.1], [2 * pi - 0.1], 0.2),
        ("torus", [0.0, 0.0], [pi, pi], pi * math.sqrt(2)),
        ("torus", [0.1, 6.2], [6.2, 0.1], math.hypot(2 * pi - 6.1, 2 * pi - 6.1)),
        ("sphere", [0, 0, 1], [0, 0, -1], pi),
        ("sphere", [0, 0, 1], [1, 0, 0], pi / 2),
        ("projective", [0, 0, 1], [0, 0, -1], 0.0),
        ("projective", [0, 0, 1], [1, 0, 0], pi / 2),
        ("projective", [0, 0, 1], [math.sin(3.0), 0, math.cos(3.0)], pi - 3.0),
        ("klein", [0.0, 0.3], [pi - 0.1, pi - 0.1], math.hypot(0.1, 0.2)),
        ("klein", [0.2, 1.0], [0.2 + pi, pi - 1.0], 0.0),
        ("two_circles", [0, 0.1], [0, 0.1 + pi], pi),
        ("two_circles", [0, 0.1], [1, 0.1], math.inf),
        ("disk", [0.0, 0.0], [0.3, 0.4], 0.5),
    ]
    for name, a, b, expected in cases:
        assert get_dataset(name).distance(a, b)[0] == pytest.approx(expected, abs=1e-9), name


def test_geodesic_length_equals_distance(manifold):
    a = manifold.sample_params(8, seed=16)
    b = manifold.sample_params(8, seed=17)
    if manifold.name == "two_circles":
        b[:, 0] = a[:, 0]
    for start, stop in zip(a, b, strict=True):
        path = manifold.geodesic(start, stop, n_steps=65)
        assert path.shape == (65, manifold.param_dim)
        np.testing.assert_allclose(manifold.canonical(path), path, atol=1e-12)
        steps = manifold.distance(path[:-1], path[1:])
        total = manifold.distance(start, stop)[0]
        assert steps.sum() == pytest.approx(total, rel=1e-6, abs=1e-9)
        np.testing.assert_allclose(steps, total / 64, atol=1e-7)  # constant speed
        assert manifold.distance(path[0], start)[0] == pytest.approx(0.0, abs=1e-7)
        assert manifold.distance(path[-1], stop)[0] == pytest.approx(0.0, abs=1e-7)


def test_geodesic_takes_the_short_way_round():
    circle = get_dataset("circle")
    path = circle.geodesic([0.1], [2 * math.pi - 0.1], n_steps=5)
    np.testing.assert_allclose(
        path[:, 0], np.mod([0.1, 0.05, 0.0, -0.05, -0.1], 2 * math.pi), atol=1e-12
    )
    two = get_dataset("two_circles")
    with pytest.raises(ValueError, match="component"):
        two.geodesic([0.0, 1.0], [1.0, 1.0])


def test_param_bank_is_a_dense_deterministic_lattice(manifold):
    n = 600
    bank = manifold.param_bank(n)
    np.testing.assert_array_equal(bank, manifold.param_bank(n))
    assert 0.7 * n <= len(bank) <= 1.3 * n
    assert bank.shape[1] == manifold.param_dim
    np.testing.assert_allclose(manifold.canonical(bank), bank, atol=1e-12)
    queries = manifold.sample_params(150, seed=18)
    nearest = np.array(
        [manifold.distance(np.broadcast_to(q, bank.shape), bank).min() for q in queries]
    )
    spacing = (VOLUME[manifold.name] / len(bank)) ** (1.0 / manifold.intrinsic_dim)
    assert nearest.max() <= 1.0 * spacing


def test_sample_params_are_uniform(manifold):
    coords = manifold.coverage_coords(manifold.sample_params(20_000, seed=19))
    assert coords.shape == (20_000, manifold.intrinsic_dim)
    assert coords.min() >= 0.0 and coords.max() < 1.0
    bins = 40 if manifold.intrinsic_dim == 1 else 8
    counts, _ = np.histogramdd(coords, bins=bins, range=[(0, 1)] * manifold.intrinsic_dim)
    assert stats.chisquare(counts.ravel()).pvalue > 1e-3


def test_uniformity_check_detects_a_biased_sampler():
    sphere = get_dataset("sphere")
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(0, 2 * math.pi, 20_000), rng.uniform(-math.pi / 2, math.pi / 2, 20_000)
    naive = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], 1)
    counts, _ = np.histogramdd(sphere.coverage_coords(naive), bins=8, range=[(0, 1)] * 2)
    assert stats.chisquare(counts.ravel()).pvalue < 1e-6


def test_coverage_coords_of_the_lattice_are_spread_out(manifold):
    coords = manifold.coverage_coords(manifold.param_bank(2000))
    bins = 20 if manifold.intrinsic_dim == 1 else 5
    counts, _ = np.histogramdd(coords, bins=bins, range=[(0, 1)] * manifold.intrinsic_dim)
    assert counts.min() >= 0.7 * counts.mean()


# ---------------------------------------------------------------------- errors


def test_bad_params_raise_with_the_argument_name(manifold):
    d = manifold.param_dim
    with pytest.raises(ValueError, match=rf"params must have shape \(n, {d}\).*got \(5, {d + 1}\)"):
        manifold.render(np.zeros((5, d + 1)))
    with pytest.raises(ValueError, match="params must have shape"):
        manifold.render(np.zeros(d))
    bad = manifold.sample_params(3, seed=0)
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="params must be finite"):
        manifold.render(bad)
    bad[1, 0] = np.inf
    with pytest.raises(ValueError, match="params must be finite"):
        manifold.render_torch(torch.from_numpy(bad))
    with pytest.raises(ValueError, match="params must be finite"):
        manifold.canonical(bad)
    with pytest.raises(TypeError, match="params"):
        manifold.render([["a"] * d])
    with pytest.raises(TypeError, match="torch.Tensor"):
        manifold.render_torch(np.zeros((2, d)))
    with pytest.raises(ValueError, match="params must have shape"):
        manifold.render_torch(torch.zeros(2, d + 1))


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda m: m.sample_params(0, 0), ValueError, "n must be a positive integer"),
        (lambda m: m.sample_params(-3, 0), ValueError, "n must be a positive integer"),
        (lambda m: m.sample_params(2.5, 0), TypeError, "n must be a positive integer"),
        (lambda m: m.sample_params(True, 0), TypeError, "n must be a positive integer"),
        (lambda m: m.sample_params(3, -1), ValueError, "seed"),
        (lambda m: m.sample(3, 0, size=4), ValueError, "size must be an integer >= 8"),
        (lambda m: m.render(m.sample_params(2, 0), size=32.0), TypeError, "size"),
        (lambda m: m.param_bank(0), ValueError, "n must be"),
        (
            lambda m: m.geodesic(m.sample_params(1, 0)[0], m.sample_params(1, 1)[0], 1),
            ValueError,
            "n_steps",
        ),
        (
            lambda m: m.geodesic(m.sample_params(2, 0), m.sample_params(2, 1)),
            ValueError,
            "a must have shape",
        ),
        (
            lambda m: m.distance(m.sample_params(2, 0), m.sample_params(3, 1)),
            ValueError,
            "same number of rows",
        ),
        (
            lambda m: m.distance(np.zeros((2, m.param_dim + 1)), m.sample_params(2, 1)),
            ValueError,
            "a must have shape",
        ),
    ],
)
def test_bad_arguments_raise(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(get_dataset("torus"))


def test_zero_axis_is_rejected():
    with pytest.raises(ValueError, match="non-zero"):
        get_dataset("sphere").canonical(np.zeros((1, 3)))


# ---------------------------------------------------------------------- torch dataset


def test_manifold_images_dataset():
    data = ManifoldImages("torus", n=20, seed=4, size=16)
    images, params = get_dataset("torus").sample(20, 4, size=16)
    assert len(data) == 20
    image, param = data[3]
    assert image.shape == (1, 16, 16) and image.dtype == torch.float32
    assert param.shape == (2,) and param.dtype == torch.float32
    np.testing.assert_array_equal(image[0].numpy(), images[3])
    np.testing.assert_allclose(param.numpy(), params[3], rtol=1e-6)
    batch_images, batch_params = next(iter(torch.utils.data.DataLoader(data, batch_size=8)))
    assert batch_images.shape == (8, 1, 16, 16) and batch_params.shape == (8, 2)
    assert len(ManifoldImages(get_dataset("disk"), n=5, seed=0)) == 5
    with pytest.raises(ValueError, match="unknown dataset"):
        ManifoldImages("nope", n=5, seed=0)
