"""Persistent homology, the Betti rule, landmarks, bootstrap, distances and diagram plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy.sparse.csgraph import minimum_spanning_tree  # noqa: E402
from scipy.spatial.distance import cdist  # noqa: E402

from topolib.datasets import point_clouds as pc  # noqa: E402
from topolib.metrics import (  # noqa: E402
    BootstrapResult,
    PersistenceResult,
    betti_from_diagram,
    bootstrap_betti,
    diagram_distance,
    farthest_point_sampling,
    landmark_spacing,
    pca_project,
    persistent_homology,
    sample_set_distance,
    stable_range,
)
from topolib.plotting import plot_barcode, plot_diagram, plot_diagrams_by_field  # noqa: E402
from topolib.seeding import numpy_rng  # noqa: E402

INF = np.inf


def two_circles(n: int, seed: int) -> np.ndarray:
    """Two disjoint circles of different radii (composed from the circle sampler)."""
    a = pc.circle_points(n // 2, numpy_rng(seed, "a"))
    b = pc.circle_points(n - n // 2, numpy_rng(seed, "b"), radius=0.7) + np.array([3.0, 0.0])
    return np.concatenate([a, b])


def disk_noise(n: int, seed: int) -> np.ndarray:
    """Points uniform in the unit disk: no loop at all."""
    rng = numpy_rng(seed, "disk")
    r, t = np.sqrt(rng.uniform(size=n)), rng.uniform(0, 2 * np.pi, size=n)
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)


# --------------------------------------------------------------------------- known clouds

# (name, sampler, n points, n landmarks, expected {2: betti, 3: betti})
CLOUDS = [
    ("circle", lambda n, s: pc.circle_points(n, s), 500, 100, pc.POINT_CLOUD_BETTI["circle"]),
    ("sphere", lambda n, s: pc.sphere_points(n, s), 1000, 200, pc.POINT_CLOUD_BETTI["sphere"]),
    ("torus", lambda n, s: pc.torus_points(n, s), 2000, 250, pc.POINT_CLOUD_BETTI["torus"]),
    ("klein", lambda n, s: pc.klein_points(n, s), 2000, 250, pc.POINT_CLOUD_BETTI["klein"]),
    ("two_circles", two_circles, 600, 150, {2: (2, 2, 0), 3: (2, 2, 0)}),
    # The stratified space has a thin chamber between tube and sphere: it needs finer
    # landmarks than a surface (at 450 landmarks the reading window is [1.9, 2.7] spacings).
    (
        "stratified",
        lambda n, s: pc.stratified_points(n, s),
        5000,
        600,
        pc.POINT_CLOUD_BETTI["stratified"],
    ),
]


@pytest.mark.parametrize("name,sampler,n,m,expected", CLOUDS, ids=[c[0] for c in CLOUDS])
def test_betti_numbers_of_known_point_clouds(name, sampler, n, m, expected):
    X = sampler(n, 0)
    result = persistent_homology(X, maxdim=2, coeffs=(2, 3), n_landmarks=m, seed=0)
    assert result.betti == {2: tuple(expected[2]), 3: tuple(expected[3])}, result.summary()
    low, high = result.stable_range()
    assert low < result.reading < high


def test_klein_bottle_differs_between_fields():
    result = persistent_homology(pc.klein_points(2000, 1), n_landmarks=250, seed=1)
    assert result.betti[2] == (1, 2, 1)
    assert result.betti[3] == (1, 1, 0)


@pytest.mark.parametrize("noise", [0.05])
def test_noisy_clouds_keep_their_betti_numbers(noise):
    circle = persistent_homology(pc.circle_points(500, 2, noise=noise), n_landmarks=100, seed=2)
    torus = persistent_homology(pc.torus_points(2000, 2, noise=noise), n_landmarks=250, seed=2)
    assert circle.betti[2] == (1, 1, 0)
    assert torus.betti[2] == torus.betti[3] == (1, 2, 1)


def test_result_fields_and_infinite_bars():
    X = pc.circle_points(300, 0)
    r = persistent_homology(X, maxdim=2, coeffs=(2, 3), n_landmarks=80, seed=0)
    assert isinstance(r, PersistenceResult)
    assert r.coeffs == (2, 3) and r.maxdim == 2 and r.n_points == 300 and r.n_features == 2
    assert r.n_landmarks == 80 and r.landmarks.shape == (80,)
    for p in (2, 3):
        assert len(r.diagrams[p]) == 3
        for d in r.diagrams[p]:
            assert d.ndim == 2 and d.shape[1] == 2 and np.all(d[:, 1] >= d[:, 0])
        h0 = r.diagrams[p][0]
        assert np.sum(~np.isfinite(h0[:, 1])) == 1  # exactly one essential class
        assert np.all(np.isfinite(r.diagrams[p][1]))  # H1 is computed in full
    finite = r.diagram(0, 2, finite=True)
    assert np.all(np.isfinite(finite)) and finite[:, 1].max() == pytest.approx(r.death_cap)
    assert r.death_cap > r.diagram(1, 2)[:, 1].max()
    mst = minimum_spanning_tree(cdist(X[r.landmarks], X[r.landmarks])).data
    assert r.scale == pytest.approx(np.quantile(mst, 0.9))  # 90% of the MST edge lengths
    assert r.scale == landmark_spacing(r.diagrams[3][0])
    assert r.reading_scale == pytest.approx(2.5 * r.scale)
    assert r.max_scale == pytest.approx(3.5 * r.scale)
    assert "Z/2" in r.summary() and "(1, 1, 0)" in r.summary()
    rows = r.to_rows()
    assert [row["field"] for row in rows] == ["Z/2", "Z/3"]
    assert (rows[0]["b0"], rows[0]["b1"], rows[0]["b2"]) == (1, 1, 0)
    assert "PersistenceResult" in repr(r)


def test_maxdim_and_single_field():
    X = pc.circle_points(300, 0)
    r = persistent_homology(X, maxdim=1, coeffs=5, n_landmarks=60)
    assert r.coeffs == (5,) and r.betti == {5: (1, 1)} and len(r.diagrams[5]) == 2
    r0 = persistent_homology(two_circles(200, 0), maxdim=0, coeffs=(2,), n_landmarks=50)
    assert r0.betti == {2: (2,)}


def test_without_landmarks_uses_every_point():
    # An evenly spread set (the rule is calibrated on greedy landmarks; a small i.i.d. sample
    # has gaps about log(n) times the typical one, so pass n_landmarks even for small sets).
    dense = pc.circle_points(2000, 3)
    X = dense[farthest_point_sampling(dense, 100, seed=0).indices]
    r = persistent_homology(X, maxdim=1, n_landmarks=None)
    assert r.n_landmarks == 100 and r.covering_radius == 0.0
    assert np.array_equal(r.landmarks, np.arange(100))
    assert r.betti[2] == (1, 1)


def test_images_are_flattened():
    rng = numpy_rng(0, "images")
    theta = rng.uniform(0, 2 * np.pi, 300)
    grid = np.linspace(-1, 1, 12)
    xx, yy = np.meshgrid(grid, grid)
    images = np.exp(
        -(
            (xx[None] - 0.6 * np.cos(theta)[:, None, None]) ** 2
            + (yy[None] - 0.6 * np.sin(theta)[:, None, None]) ** 2
        )
        / 0.1
    ).astype(np.float32)
    r = persistent_homology(images, maxdim=1, n_landmarks=100)
    assert r.n_features == 144 and r.betti[2] == (1, 1)


def test_determinism_and_seed():
    X = pc.sphere_points(600, 4)
    a = persistent_homology(X, n_landmarks=120, seed=7)
    b = persistent_homology(X, n_landmarks=120, seed=7)
    c = persistent_homology(X, n_landmarks=120, seed=8)
    assert np.array_equal(a.landmarks, b.landmarks)
    for p in (2, 3):
        for da, db in zip(a.diagrams[p], b.diagrams[p], strict=True):
            assert np.array_equal(da, db)
    assert a.betti == b.betti == c.betti == {2: (1, 0, 1), 3: (1, 0, 1)}
    assert not np.array_equal(a.landmarks, c.landmarks)


# --------------------------------------------------------------------------- Betti rule


def _toy_diagram() -> list[np.ndarray]:
    h0 = np.array([[0, INF], [0, 0.5], [0, 10.0]])
    h1 = np.array([[1, 5.0], [1, 2.0], [3, 10.0], [2.4, 2.6]])
    h2 = np.zeros((0, 2))
    return [h0, h1, h2]


def test_betti_rule_on_a_toy_diagram():
    # t* = 2.5, floor 0.5: H0 infinite + the bar dying at 10; H1 only [1, 5]:
    # [1, 2] dies before t*, [3, 10] is born after it, [2.4, 2.6] is too short.
    assert betti_from_diagram(_toy_diagram(), 1.0) == (2, 1, 0)
    assert betti_from_diagram(_toy_diagram(), 1.0, min_persistence=0.1) == (2, 2, 0)
    assert betti_from_diagram(_toy_diagram(), 1.0, reading=1.5) == (2, 2, 0)
    assert betti_from_diagram(_toy_diagram(), 1.0, reading=4.0) == (2, 2, 0)
    assert betti_from_diagram(_toy_diagram(), 1.0, reading=20.0) == (1, 0, 0)


def test_betti_rule_is_scale_free():
    scaled = [7.0 * d for d in _toy_diagram()]
    assert betti_from_diagram(scaled, 7.0) == betti_from_diagram(_toy_diagram(), 1.0)


def test_stable_range_of_a_toy_diagram():
    # b1 = 1 holds for readings in [2, 3): [1, 2] has died at 2 and [3, 10] is born at 3.
    assert stable_range([_toy_diagram()], 1.0) == (2.0, 3.0)


def test_betti_rule_errors():
    with pytest.raises(ValueError, match="scale"):
        betti_from_diagram(_toy_diagram(), 0.0)
    with pytest.raises(TypeError, match="scale"):
        betti_from_diagram(_toy_diagram(), "1")
    with pytest.raises(ValueError, match="NaN"):
        betti_from_diagram([np.array([[0.0, np.nan]])], 1.0)
    with pytest.raises(ValueError, match="reading"):
        betti_from_diagram(_toy_diagram(), 1.0, reading=0.0)
    with pytest.raises(ValueError, match="identical"):
        landmark_spacing(np.array([[0.0, INF], [0.0, 0.0], [0.0, 0.0]]))


def test_landmark_spacing_ignores_duplicates():
    h0 = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 2.0], [0.0, INF]])
    assert landmark_spacing(h0, quantile=1.0) == pytest.approx(2.0)
    assert landmark_spacing(h0, quantile=0.5) == pytest.approx(1.5)
    X = pc.circle_points(150, 0)
    with_twins = np.concatenate([X, X[:20]])
    a = persistent_homology(X, maxdim=1, n_landmarks=None)
    b = persistent_homology(with_twins, maxdim=1, n_landmarks=None)
    assert a.scale == pytest.approx(b.scale) and a.betti == b.betti
    assert betti_from_diagram(a.diagrams[2], None) == betti_from_diagram(a.diagrams[2], a.scale)


# --------------------------------------------------------------------------- landmarks


def test_landmarks_are_farthest_points():
    X = numpy_rng(0, "fps").normal(size=(300, 5))
    lm = farthest_point_sampling(X, 40, seed=3)
    assert len(np.unique(lm.indices)) == 40
    for k in range(1, 40):
        d = cdist(X, X[lm.indices[:k]]).min(axis=1)
        assert d[lm.indices[k]] == pytest.approx(d.max(), rel=1e-5)
        assert lm.radii[k - 1] == pytest.approx(d.max(), rel=1e-5)
    cover = cdist(X, X[lm.indices]).min(axis=1).max()
    assert lm.covering_radius == pytest.approx(cover, rel=1e-9)
    assert np.all(np.diff(lm.radii) <= 1e-9)


def test_covering_radius_decreases_with_more_landmarks():
    X = pc.sphere_points(2000, 1)
    radii = [farthest_point_sampling(X, m, seed=0).covering_radius for m in (25, 50, 100, 200)]
    assert all(a > b for a, b in zip(radii, radii[1:], strict=False))
    small, large = farthest_point_sampling(X, 50, 0), farthest_point_sampling(X, 200, 0)
    assert np.array_equal(large.indices[:50], small.indices)  # greedy: a prefix


def test_first_landmark_is_seeded():
    X = numpy_rng(1, "fps").normal(size=(500, 3))
    first = [farthest_point_sampling(X, 5, seed=s).indices[0] for s in range(6)]
    assert first == [farthest_point_sampling(X, 5, seed=s).indices[0] for s in range(6)]
    assert first[0] == numpy_rng(0, "landmarks").integers(500)
    assert len(set(first)) > 1
    gen = numpy_rng(11, "mine")
    assert farthest_point_sampling(X, 5, seed=gen).indices.shape == (5,)


def test_landmarks_in_high_dimension_match_exact_distances():
    X = numpy_rng(2, "fps").random((400, 300)).astype(np.float32)
    lm = farthest_point_sampling(X, 30, seed=0)
    cover = cdist(X.astype(np.float64), X[lm.indices].astype(np.float64)).min(axis=1).max()
    assert lm.covering_radius == pytest.approx(cover, rel=1e-9)
    with pytest.warns(RuntimeWarning, match="do not resolve"):  # i.i.d. noise: no structure
        result = persistent_homology(X, maxdim=1, n_landmarks=30, seed=0)
    assert np.array_equal(result.landmarks, lm.indices)


# --------------------------------------------------------------------------- PCA


def test_pca_option_preserves_results():
    rng = numpy_rng(5, "embed")
    Q, _ = np.linalg.qr(rng.normal(size=(20, 20)))
    X2 = pc.torus_points(2000, 5)
    X = X2 @ Q[:3] + 1e-3 * rng.normal(size=(2000, 20))
    plain = persistent_homology(X, n_landmarks=250, seed=0)
    reduced = persistent_homology(X, n_landmarks=250, seed=0, pca_dim=3)
    assert plain.betti == reduced.betti == {2: (1, 2, 1), 3: (1, 2, 1)}
    assert reduced.n_features == 3 and reduced.pca_dim == 3
    assert diagram_distance(plain, plain, 1) == 0.0
    assert abs(plain.scale - reduced.scale) < 0.02 * plain.scale


def test_pca_project_is_deterministic_and_centred():
    X = numpy_rng(3, "pca").normal(size=(50, 8)) * np.arange(1, 9)
    Y = pca_project(X, 3)
    assert Y.shape == (50, 3)
    assert np.allclose(Y.mean(axis=0), 0.0)
    assert np.array_equal(Y, pca_project(X, 3))
    assert np.all(np.diff(Y.var(axis=0)) <= 0)  # components by decreasing variance
    wide = numpy_rng(4, "pca").normal(size=(6, 40))  # fewer points than features
    assert pca_project(wide, 4).shape == (6, 4)
    Z = pca_project(wide, 5)  # 6 centred points span 5 dimensions: distances are kept
    assert np.allclose(cdist(Z, Z), cdist(wide, wide))


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_shapes_and_confidence_on_a_clean_circle():
    X = pc.circle_points(400, 0)
    boot = bootstrap_betti(X, n_boot=6, maxdim=1, n_landmarks=80, seed=0)
    assert isinstance(boot, BootstrapResult)
    assert boot.samples[2].shape == boot.samples[3].shape == (6, 2)
    assert boot.mode(2) == boot.mode(3) == (1, 1)
    assert boot.confidence(2) == 1.0
    assert boot.frequencies(3, 1) == {1: 1.0}
    assert boot.interval(2, 1) == (1, 1)
    assert len(boot.to_rows()) == 4
    assert "mode (1, 1)" in boot.summary()


def test_bootstrap_subsample_and_determinism():
    X = two_circles(400, 1)
    a = bootstrap_betti(
        X, 4, maxdim=1, coeffs=2, n_landmarks=60, method="subsample", fraction=0.6, seed=3
    )
    b = bootstrap_betti(
        X, 4, maxdim=1, coeffs=2, n_landmarks=60, method="subsample", fraction=0.6, seed=3
    )
    assert np.array_equal(a.samples[2], b.samples[2])
    assert a.mode(2) == (2, 2) and a.fraction == 0.6
    freq = a.frequencies(2, 0)
    assert sum(freq.values()) == pytest.approx(1.0)


def test_bootstrap_sees_uncertainty():
    # 60 noisy points on a circle: too few for a confident answer every time.
    X = pc.circle_points(60, 0, noise=0.25)
    boot = bootstrap_betti(X, 8, maxdim=1, coeffs=2, seed=0)
    assert boot.samples[2].shape == (8, 2)
    assert 0.0 < boot.confidence(2) <= 1.0


# --------------------------------------------------------------------------- distances


@pytest.mark.parametrize("metric", ["bottleneck", "wasserstein"])
def test_diagram_distance(metric):
    settings = dict(maxdim=1, coeffs=2, n_landmarks=100, seed=0)
    circle = persistent_homology(pc.circle_points(500, 0), **settings)
    same = persistent_homology(pc.circle_points(500, 0), **settings)
    other = persistent_homology(pc.circle_points(500, 1), **settings)
    disk = persistent_homology(disk_noise(500, 0), **settings)
    for dim in (0, 1):
        assert diagram_distance(circle, same, dim, metric=metric) == 0.0
    near = diagram_distance(circle, other, 1, metric=metric)
    far = diagram_distance(circle, disk, 1, metric=metric)
    assert 0 < near < far / 3
    assert far == pytest.approx(diagram_distance(disk, circle, 1, metric=metric))


def test_diagram_distance_noise_floor_and_h2():
    settings = dict(n_landmarks=150, seed=0)
    a = persistent_homology(pc.sphere_points(800, 0), **settings)
    b = persistent_homology(pc.sphere_points(800, 1), **settings)
    full = diagram_distance(a, b, 1)
    floor = 0.05
    assert abs(diagram_distance(a, b, 1, min_persistence=floor) - full) <= floor / 2 + 1e-12
    assert diagram_distance(a, b, 2) >= 0.0
    assert diagram_distance(a, b, 2, coeff=3, metric="wasserstein") >= 0.0


def test_sample_set_distance():
    X, Y = pc.circle_points(400, 0), disk_noise(400, 0)
    d = sample_set_distance(X, Y, maxdim=1, n_landmarks=80)
    assert set(d) == {0, 1} and d[1] > 0.3
    assert sample_set_distance(X, X, dims=1, maxdim=1, n_landmarks=80) == {1: 0.0}


# --------------------------------------------------------------------------- errors


def test_input_errors():
    good = pc.circle_points(50, 0)
    with pytest.raises(ValueError, match="empty"):
        persistent_homology(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        persistent_homology(np.array([[0.0, 1.0], [np.nan, 0.0], [1, 1], [2, 2]]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        persistent_homology(np.array([[0.0, 1.0], [np.inf, 0.0], [1, 1], [2, 2]]))
    with pytest.raises(ValueError, match="shape"):
        persistent_homology(np.arange(10.0))
    with pytest.raises(TypeError, match="numeric"):
        persistent_homology(np.array([["a", "b"], ["c", "d"]]))
    with pytest.warns(RuntimeWarning, match="identical"):  # a collapsed set: one point
        point = persistent_homology(np.ones((10, 2)), maxdim=1)
    assert point.betti == {2: (1, 0), 3: (1, 0)} and np.isinf(point.diagrams[2][0][0, 1])
    with pytest.raises(ValueError, match="seed"):
        persistent_homology(good, seed=-1)


@pytest.mark.parametrize("maxdim", [3, -1, 1.5, True, "2"])
def test_maxdim_errors(maxdim):
    with pytest.raises(ValueError, match="maxdim must be 0, 1 or 2"):
        persistent_homology(pc.circle_points(50, 0), maxdim=maxdim)


@pytest.mark.parametrize("coeffs", [4, 1, 0, (2, 9), (2.0,)])
def test_coeff_errors(coeffs):
    with pytest.raises(ValueError, match="prime"):
        persistent_homology(pc.circle_points(50, 0), coeffs=coeffs)


@pytest.mark.parametrize("coeffs", ["2", (), None])
def test_coeff_type_errors(coeffs):
    with pytest.raises(TypeError, match="coeffs"):
        persistent_homology(pc.circle_points(50, 0), coeffs=coeffs)


def test_landmark_and_size_errors():
    X = pc.circle_points(50, 0)
    with pytest.raises(ValueError, match=r"at least maxdim \+ 2 = 4"):
        persistent_homology(X, maxdim=2, n_landmarks=3)
    with pytest.raises(ValueError, match=r"larger than the number of points in X \(50\)"):
        persistent_homology(X, n_landmarks=51)
    with pytest.raises(TypeError, match="n_landmarks"):
        persistent_homology(X, n_landmarks=20.0)
    with pytest.raises(ValueError, match="needs at least 4 points"):
        persistent_homology(X[:3], maxdim=2)
    with pytest.raises(ValueError, match="pca_dim"):
        persistent_homology(X, pca_dim=2)
    with pytest.raises(ValueError, match="pca_dim"):
        persistent_homology(X, pca_dim=0)
    with pytest.raises(TypeError, match="pca_dim"):
        persistent_homology(X, pca_dim=1.0)
    with pytest.raises(ValueError, match="max_scale"):
        persistent_homology(X, max_scale=2.0)


def test_unresolved_data_warns():
    X = numpy_rng(0, "iid").normal(size=(40, 400))  # all distances alike: no structure
    with pytest.warns(RuntimeWarning, match="do not resolve"):
        result = persistent_homology(X, maxdim=1, n_landmarks=20)
    assert result.betti[2] == (1, 0)


def test_distance_errors():
    X = pc.circle_points(100, 0)
    a = persistent_homology(X, maxdim=1, coeffs=2, n_landmarks=40)
    b = persistent_homology(X, maxdim=1, coeffs=2, n_landmarks=50)
    c = persistent_homology(X, maxdim=2, coeffs=2, n_landmarks=40)
    d = persistent_homology(X, maxdim=1, coeffs=2, n_landmarks=40, pca_dim=1)
    with pytest.raises(ValueError, match="metric"):
        diagram_distance(a, a, 1, metric="hausdorff")
    with pytest.raises(ValueError, match="metric"):
        sample_set_distance(X, X, metric="l2")
    for other in (b, c, d):
        with pytest.raises(ValueError, match="different settings"):
            diagram_distance(a, other, 1)
    with pytest.raises(ValueError, match="coeff"):
        diagram_distance(a, a, 1, coeff=3)
    with pytest.raises(ValueError, match="dim"):
        diagram_distance(a, a, 2)
    with pytest.raises(TypeError, match="PersistenceResult"):
        diagram_distance(a, X, 1)
    with pytest.raises(ValueError, match="min_persistence"):
        diagram_distance(a, a, 1, min_persistence=-1.0)
    with pytest.raises(ValueError, match="same number of features"):
        sample_set_distance(X, np.zeros((10, 3)))


def test_bootstrap_errors():
    X = pc.circle_points(60, 0)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_betti(X, 0)
    with pytest.raises(ValueError, match="method"):
        bootstrap_betti(X, 2, method="jackknife")
    with pytest.raises(ValueError, match="fraction"):
        bootstrap_betti(X, 2, fraction=1.5)
    with pytest.raises(ValueError, match="fraction"):
        bootstrap_betti(X, 2, method="subsample")
    with pytest.raises(ValueError, match="replicate size"):
        bootstrap_betti(X, 2, method="subsample", fraction=0.5, n_landmarks=40)
    boot = bootstrap_betti(X, 2, maxdim=1, coeffs=2, n_landmarks=30)
    with pytest.raises(ValueError, match="coeff"):
        boot.mode(3)
    with pytest.raises(ValueError, match="dim"):
        boot.frequencies(2, 2)
    with pytest.raises(ValueError, match="level"):
        boot.interval(2, 1, level=0)


# --------------------------------------------------------------------------- plots


@pytest.fixture(scope="module")
def klein_result() -> PersistenceResult:
    return persistent_homology(pc.klein_points(2000, 0), n_landmarks=250, seed=0)


def test_plot_diagram(klein_result):
    ax = plot_diagram(klein_result, coeff=3)
    assert "Z}/3" in ax.get_title() and str(klein_result.betti[3]) in ax.get_title()
    assert len(ax.collections) == 3  # one scatter per dimension
    assert len(ax.patches) == 1  # the band the rule counts
    labels = ax.get_legend_handles_labels()[1]
    assert any(label.startswith("counted") for label in labels)
    plt.close(ax.figure)


def test_plot_barcode(klein_result):
    fig, ax = plt.subplots()
    out = plot_barcode(klein_result, coeff=2, ax=ax, max_bars=10)
    assert out is ax
    assert sum(len(c.get_segments()) for c in ax.collections) <= 30
    assert any("shorter" in t.get_text() for t in ax.get_yticklabels())
    plt.close(fig)


def test_plot_diagrams_by_field(klein_result):
    fig = plot_diagrams_by_field(klein_result)
    assert len(fig.axes) == 2
    titles = [a.get_title() for a in fig.axes]
    assert "(1, 2, 1)" in titles[0] and "(1, 1, 0)" in titles[1]
    plt.close(fig)
    with pytest.raises(TypeError, match="PersistenceResult"):
        plot_diagram("not a result")
    with pytest.raises(ValueError, match="coeff"):
        plot_diagram(klein_result, coeff=5)


def test_betti_curve_reads_the_rule_at_every_scale():
    from topolib.metrics import READING_SCALE, betti_curve, betti_from_diagram

    diagram = np.array([[0.0, 5.0], [1.0, 1.2], [3.0, 4.0], [0.5, np.inf]])
    scales = np.array([0.0, 1.1, 2.5, 3.5, 6.0])
    counts = betti_curve(diagram, 1.0, scales)
    # the short bar (0.2 < floor 0.5) never counts; the late bar counts from 3 to 4
    assert counts.tolist() == [1, 2, 2, 3, 1]
    assert counts[2] == betti_from_diagram([diagram], 1.0, reading=READING_SCALE)[0]


def test_plot_betti_curve_draws_a_step_and_the_reading_line():
    import matplotlib.pyplot as plt

    from topolib.plotting import plot_betti_curve

    result = persistent_homology(pc.circle_points(300, seed=0), maxdim=1, n_landmarks=80)
    ax = plot_betti_curve(result, dim=1, label="circle")
    assert len(ax.lines) == 2 and ax.get_xlabel().startswith("reading scale")
    plt.close(ax.figure)
