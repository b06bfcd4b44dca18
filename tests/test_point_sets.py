"""Point-set instruments against sets with known answers: exact samples pass, damaged ones fail."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.spatial import cKDTree

from topolib.datasets.point_clouds import (
    POINT_CLOUD_BETTI,
    POINT_CLOUDS,
    stratified_points,
    torus_points,
)
from topolib.metrics import persistent_homology
from topolib.metrics.point_distance import (
    SPHERE,
    TUBE,
    circle_distance,
    junction_height,
    set_distance,
    sphere_distance,
    stratified_distance,
    torus_distance,
    tube_distance,
)
from topolib.metrics.point_report import (
    POINT_SIZES,
    POINT_THRESHOLDS,
    PointReportCard,
    default_landmarks,
    point_report_card,
    point_sizes,
    reference_points,
)
from topolib.metrics.point_sets import (
    junction_distance,
    local_dimension,
    off_set_share,
    set_coverage,
    strata_shares,
    true_tube_mass,
)
from topolib.seeding import numpy_rng

CPU = point_sizes("cpu")


def _box(n: int, dim: int, seed: int = 0, half: float = 1.6) -> np.ndarray:
    return numpy_rng(seed, "box").uniform(-half, half, size=(n, dim))


def _tube_surface(n: int, a: float = 0.5) -> np.ndarray:
    """A fine (z, angle) grid on the cut tube."""
    h = junction_height(a)
    m = int(math.sqrt(n))
    z, t = np.meshgrid(np.linspace(-h, h, m), np.linspace(0, 2 * math.pi, m, endpoint=False))
    rho = np.sqrt(a * a + z * z)
    return np.stack([rho * np.cos(t), rho * np.sin(t), z], axis=-1).reshape(-1, 3)


def _exact_sphere_part(X: np.ndarray) -> np.ndarray:
    """The points of an exact stratified sample that lie on the sphere (tube removed)."""
    return X[stratified_distance(X).sphere < 1e-9]


# --------------------------------------------------------------------------- distances


def test_simple_distances_match_brute_force():
    X2, X3 = _box(400, 2), _box(400, 3)
    t = np.linspace(0, 2 * math.pi, 200_000, endpoint=False)
    circle = np.stack([np.cos(t), np.sin(t)], axis=1)
    brute = cKDTree(circle).query(X2)[0]
    assert np.allclose(circle_distance(X2), brute, atol=1e-4)
    assert np.all(circle_distance(X2) <= brute + 1e-12)
    assert np.allclose(sphere_distance(X3), np.abs(np.linalg.norm(X3, axis=1) - 1))
    surface = torus_points(400_000, 0)
    d = torus_distance(X3 * 2)
    brute = cKDTree(surface).query(X3 * 2)[0]
    assert np.all(d <= brute + 1e-9) and np.all(brute - d < 0.03)
    assert np.allclose(torus_distance(torus_points(500, 1)), 0, atol=1e-9)


def test_tube_distance_is_exact():
    X = _box(3000, 3, seed=1, half=1.3)
    a = 0.5
    h = junction_height(a)
    # In the (rho, z) half-plane the tube is a curve: brute force over a fine sample of it.
    z = np.linspace(-h, h, 400_001)
    curve = np.stack([np.sqrt(a * a + z * z), z], axis=1)
    brute, idx = cKDTree(curve).query(np.stack([np.hypot(X[:, 0], X[:, 1]), X[:, 2]], axis=1))
    s = stratified_distance(X, a=a)
    assert np.all(np.abs(s.tube - brute) < 1e-6)
    assert np.allclose(s.tube_z, z[idx], atol=1e-3)
    assert np.abs(s.tube_z).max() <= h + 1e-12
    # And over a fine sample of the surface itself, in 3-D.
    surface = cKDTree(_tube_surface(1_000_000, a))
    d3 = surface.query(X[:500])[0]
    assert np.all(s.tube[:500] <= d3 + 1e-9) and np.all(d3 - s.tube[:500] < 0.01)
    assert np.allclose(tube_distance(X, a=a), s.tube)


def test_tube_parameter_is_passed_through():
    a = 0.3
    X = stratified_points(2000, 0, a=a)
    s = stratified_distance(X, a=a)
    assert s.distance.max() < 1e-9 and s.h == pytest.approx(junction_height(a))
    assert stratified_distance(X).distance.max() > 0.05  # the default tube is elsewhere
    assert strata_shares(X, a=a).off.value == 0
    assert true_tube_mass(a) != pytest.approx(true_tube_mass())


def test_stratified_labels_and_exact_samples():
    X = stratified_points(4000, 2)
    s = stratified_distance(X)
    assert s.distance.max() < 1e-9 and len(s) == 4000
    on_tube = s.label == TUBE
    assert on_tube.mean() == pytest.approx(true_tube_mass(), abs=0.03)
    rho = np.hypot(X[on_tube, 0], X[on_tube, 1])
    assert np.allclose(rho**2 - X[on_tube, 2] ** 2, 0.25, atol=1e-8)
    assert np.all(np.isin(s.label, (SPHERE, TUBE)))
    assert np.allclose(set_distance(X, "stratified"), s.distance)


# --------------------------------------------------------------------------- shares, coverage


def test_shares_of_exact_and_pushed_off_samples():
    X = stratified_points(4000, 0)
    shares = strata_shares(X)
    assert shares.off.value == 0
    assert abs(shares.tube_mass.value - shares.true_tube_mass) < 0.03
    assert abs(shares.junction.value - shares.true_junction) < 0.02
    assert "the truth is 30%" in shares.summary()
    assert set(shares.to_row()) >= {"tube_mass", "tube_mass_low", "tube_mass_high", "off_high"}
    assert off_set_share(stratified_points(4000, 0, noise=0.1), "stratified").value > 0.5
    assert off_set_share(1.2 * X, "stratified").value > 0.9
    assert off_set_share(stratified_points(4000, 0, noise=0.01), "stratified").value == 0
    for name in ("circle", "sphere", "torus"):
        Y = POINT_CLOUDS[name](1000, 0)
        assert off_set_share(Y, name).value == 0
        assert off_set_share(POINT_CLOUDS[name](1000, 0, noise=0.1), name).value > 0.5
    assert strata_shares(_exact_sphere_part(X)).tube_mass.value < 0.01


def test_coverage_of_exact_removed_and_collapsed_samples():
    X = stratified_points(4000, 3)
    cov = set_coverage(X, "stratified")
    assert set(cov) == {"sphere", "tube", "junction_top", "junction_bottom"}
    assert all(c.scaled > 0.97 for c in cov.values()), cov
    no_tube = set_coverage(_exact_sphere_part(X), "stratified")
    assert no_tube["sphere"].scaled > 0.97
    assert no_tube["tube"].scaled < 0.05 and no_tube["junction_top"].scaled < 0.05
    top = set_coverage(X[X[:, 2] > 0], "stratified")
    assert top["junction_bottom"].scaled == 0 and top["sphere"].scaled < 0.7
    for name in ("circle", "sphere", "torus"):
        Y = POINT_CLOUDS[name](CPU[name], 0)
        assert set_coverage(Y, name)[name].scaled > 0.97
        assert set_coverage(Y[Y[:, 0] > 0], name)[name].scaled < 0.6


def test_local_dimension_is_two_on_strata_and_higher_at_junctions():
    X = stratified_points(4000, 0)
    dims = local_dimension(X)
    dj = junction_distance(X)
    assert np.median(dims[dj > 0.3]) == 2 and np.mean(dims[dj > 0.3] > 2) < 0.02
    assert np.mean(dims[dj < 0.05]) > 2.6
    assert np.median(local_dimension(POINT_CLOUDS["circle"](1000, 0))) == 1
    assert np.median(local_dimension(torus_points(2000, 0))) == 2


# --------------------------------------------------------------------------- homology


@pytest.mark.parametrize("profile", ["fast", "cpu"])
def test_reference_stratified_set_reads_its_betti_numbers_at_every_seed(profile):
    # The acceptance criterion: the chamber between tube and sphere is thin; at the sizes of
    # POINT_SIZES the card's reference sample reads (1, 1, 2) over both fields at every seed.
    n = POINT_SIZES[profile]["stratified"]
    m = default_landmarks("stratified", n)
    for seed in range(5):
        r = persistent_homology(reference_points("stratified", n, seed), n_landmarks=m, seed=seed)
        assert r.betti == {2: (1, 1, 2), 3: (1, 1, 2)}, (profile, seed, r.summary())
        low, high = r.stable_range()
        assert low < 2.3 and high > 2.7, (profile, seed, low, high)


def test_sampler_stratified_set_reads_its_betti_numbers_at_every_seed():
    n = CPU["stratified"]
    for seed in range(5):
        r = persistent_homology(
            stratified_points(n, seed), n_landmarks=default_landmarks("stratified", n), seed=seed
        )
        assert r.betti == {2: (1, 1, 2), 3: (1, 1, 2)}, (seed, r.summary())


@pytest.mark.parametrize("name", ["circle", "sphere", "torus"])
def test_twins_read_their_betti_numbers_at_the_defaults(name):
    n = CPU[name]
    for seed in range(5):
        r = persistent_homology(
            POINT_CLOUDS[name](n, seed), n_landmarks=default_landmarks(name, n), seed=seed
        )
        assert r.betti == POINT_CLOUD_BETTI[name], (name, seed, r.summary())


# --------------------------------------------------------------------------- report card


@pytest.mark.parametrize("name", ["circle", "sphere", "torus", "stratified"])
def test_exact_samples_pass_every_check(name):
    card = point_report_card(POINT_CLOUDS[name](CPU[name], 1), name, seed=1)
    assert isinstance(card, PointReportCard)
    assert card.passed, card.table.to_string()
    assert max(card.diagram_distances.values()) <= POINT_THRESHOLDS["diagram_distance"].value
    row = card.to_row()
    assert row["passed"] and row["off"] == 0 and row["off_high"] > 0
    assert "all checks pass" in card._repr_html_()
    if name == "stratified":
        assert set(card.table["check"]) >= {
            "coverage_sphere",
            "coverage_tube",
            "coverage_junctions",
            "stratum_mass",
        }
        assert row["tube_mass_low"] < row["tube_mass"] < row["tube_mass_high"]
        assert abs(row["tube_mass"] - row["true_tube_mass"]) < 0.03


def test_pushed_off_samples_fail_the_off_set_check():
    X = stratified_points(CPU["stratified"], 0)
    card = point_report_card(1.2 * X, "stratified", seed=0)
    assert "off_set" in card.failed_checks
    card = point_report_card(POINT_CLOUDS["sphere"](2000, 0, noise=0.1), "sphere")
    assert "off_set" in card.failed_checks and "fails" in card._repr_html_()


def test_removed_tube_fails_betti_coverage_and_mass():
    X = _exact_sphere_part(stratified_points(CPU["stratified"], 0))
    card = point_report_card(X, "stratified", seed=0)
    failed = set(card.failed_checks)
    assert {"betti_z2", "betti_z3", "coverage_tube", "stratum_mass"} <= failed
    assert "off_set" not in failed and "coverage_sphere" not in failed


def test_collapsed_samples_fail_coverage():
    X = POINT_CLOUDS["sphere"](2000, 0)
    half = point_report_card(X[X[:, 2] > 0], "sphere")
    assert "coverage" in half.failed_checks and "off_set" not in half.failed_checks
    handful = np.repeat(X[:8], 250, axis=0)
    handful = handful + 1e-3 * numpy_rng(0, "jitter").standard_normal(handful.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        card = point_report_card(handful, "sphere")
    assert {"coverage", "betti_z2"} <= set(card.failed_checks)
    one = point_report_card(np.repeat(X[:1], 500, axis=0), "sphere")  # total collapse
    assert one.homology is None and {"coverage", "betti_z3"} <= set(one.failed_checks)
    assert one.to_row()["betti_z2"] == "" and one.to_row()["diagram_distance"] == np.inf


def test_bad_input_names_the_argument():
    X = stratified_points(200, 0)
    with pytest.raises(ValueError, match="samples must have shape"):
        point_report_card(X[:, :2], "stratified")
    with pytest.raises(ValueError, match="dataset must be one of"):
        point_report_card(X, "klein")
    with pytest.raises(ValueError, match="at least 50"):
        point_report_card(X[:20], "stratified")
    with pytest.raises(ValueError, match="n_landmarks"):
        point_report_card(X, "stratified", n_landmarks=500)
    with pytest.raises(ValueError, match="tol"):
        point_report_card(X, "stratified", tol=0)
    with pytest.raises(ValueError, match=r"X must have shape \(n, 3\)"):
        sphere_distance(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="a must be in"):
        stratified_distance(X, a=1.5)
    with pytest.raises(ValueError, match="k must"):
        local_dimension(X, k=2)
    with pytest.raises(ValueError, match="profile"):
        point_sizes("huge")
