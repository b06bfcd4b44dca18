"""Tests of the point-cloud twins in topolib.datasets.point_clouds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from topolib.datasets import (
    POINT_CLOUD_BETTI,
    POINT_CLOUDS,
    circle_points,
    klein_points,
    sphere_points,
    stratified_points,
    torus_points,
)
from topolib.datasets.point_clouds import klein_area_element

N = 20_000
DIMENSION = {"circle": 2, "sphere": 3, "torus": 3, "klein": 4, "stratified": 3}


def residual(name: str, x: np.ndarray) -> np.ndarray:
    """Distance-like residual of the implicit equation(s) of each surface (default radii)."""
    if name in ("circle", "sphere"):
        return np.linalg.norm(x, axis=1) - 1.0
    if name == "torus":
        return np.hypot(np.hypot(x[:, 0], x[:, 1]) - 2.0, x[:, 2]) - 1.0
    if name == "klein":
        ring = np.hypot(x[:, 0], x[:, 1])
        half_u = np.arctan2(x[:, 1], x[:, 0]) / 2
        # (x3, x4) is parallel to (cos u/2, sin u/2), and (ring - R, |(x3, x4)|) is on a circle.
        across = x[:, 2] * np.sin(half_u) - x[:, 3] * np.cos(half_u)
        on_tube = np.hypot(ring - 2.0, np.hypot(x[:, 2], x[:, 3])) - 1.0
        return np.abs(across) + np.abs(on_tube)
    if name == "stratified":
        sphere = np.abs(np.linalg.norm(x, axis=1) - 1.0)
        tube = np.abs(x[:, 0] ** 2 + x[:, 1] ** 2 - x[:, 2] ** 2 - 0.25)
        tube = np.where(np.abs(x[:, 2]) <= math.sqrt(0.375) + 1e-12, tube, np.inf)
        return np.minimum(sphere, tube)
    raise KeyError(name)


def uniform_pvalue(values: np.ndarray, low: float, high: float, bins: int = 40) -> float:
    counts, _ = np.histogram(values, bins=bins, range=(low, high))
    return stats.chisquare(counts).pvalue


def density_pvalue(values: np.ndarray, edges: np.ndarray, cdf) -> float:
    """Chi-square p-value of ``values`` against the distribution with the given CDF."""
    counts, _ = np.histogram(values, bins=edges)
    expected = np.diff(cdf(edges)) * len(values)
    return stats.chisquare(counts, expected * counts.sum() / expected.sum()).pvalue


@pytest.mark.parametrize("name", sorted(POINT_CLOUDS))
def test_shapes_determinism_and_surface(name):
    sampler = POINT_CLOUDS[name]
    x = sampler(500, seed=1)
    assert x.shape == (500, DIMENSION[name]) and x.dtype == np.float64
    np.testing.assert_array_equal(x, sampler(500, seed=1))
    assert not np.allclose(x, sampler(500, seed=2))
    assert np.abs(residual(name, x)).max() < 1e-9
    noisy = sampler(2000, seed=1, noise=0.05)
    spread = np.std(residual(name, noisy))
    assert 0.02 < spread < 0.1  # the noise is there, at about the requested scale


@pytest.mark.parametrize("name", sorted(POINT_CLOUDS))
def test_bad_arguments(name):
    sampler = POINT_CLOUDS[name]
    with pytest.raises(ValueError, match="noise"):
        sampler(10, seed=0, noise=-0.1)
    with pytest.raises(TypeError, match="noise"):
        sampler(10, seed=0, noise=float("nan"))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        sampler(0, seed=0)
    with pytest.raises(TypeError, match="n must be a positive integer"):
        sampler(2.0, seed=0)
    with pytest.raises(ValueError, match="seed"):
        sampler(10, seed=-2)


def test_bad_radii():
    with pytest.raises(ValueError, match="r must be smaller than R"):
        torus_points(10, 0, R=1.0, r=2.0)
    with pytest.raises(ValueError, match="radius"):
        circle_points(10, 0, radius=0.0)
    with pytest.raises(ValueError, match="a must be in"):
        stratified_points(10, 0, a=1.5)


def test_betti_table():
    assert set(POINT_CLOUD_BETTI) == set(POINT_CLOUDS)
    assert POINT_CLOUD_BETTI["klein"] == {2: (1, 2, 1), 3: (1, 1, 0)}
    assert POINT_CLOUD_BETTI["stratified"] == {2: (1, 1, 2), 3: (1, 1, 2)}
    assert POINT_CLOUD_BETTI["torus"][3] == (1, 2, 1)


def test_circle_and_sphere_are_uniform():
    x = circle_points(N, seed=3)
    assert uniform_pvalue(np.arctan2(x[:, 1], x[:, 0]), -math.pi, math.pi) > 1e-3
    s = sphere_points(N, seed=3)
    assert uniform_pvalue(s[:, 2], -1, 1) > 1e-3  # Archimedes: z is uniform
    assert uniform_pvalue(np.arctan2(s[:, 1], s[:, 0]), -math.pi, math.pi) > 1e-3


def test_torus_is_area_uniform():
    R, r = 2.0, 1.0  # noqa: N806
    x = torus_points(N, seed=4, R=R, r=r)
    assert uniform_pvalue(np.arctan2(x[:, 1], x[:, 0]), -math.pi, math.pi) > 1e-3
    v = np.mod(np.arctan2(x[:, 2], np.hypot(x[:, 0], x[:, 1]) - R), 2 * math.pi)
    # area element r (R + r cos v): CDF of v is (R v + r sin v) / (2 pi R)
    edges = np.linspace(0, 2 * math.pi, 41)
    assert density_pvalue(v, edges, lambda t: (R * t + r * np.sin(t)) / (2 * math.pi * R)) > 1e-3
    # the naive (uniform v) sampler would fail the same test
    naive = np.random.default_rng(0).uniform(0, 2 * math.pi, N)
    assert (
        density_pvalue(naive, edges, lambda t: (R * t + r * np.sin(t)) / (2 * math.pi * R)) < 1e-6
    )


def test_klein_is_area_uniform():
    x = klein_points(N, seed=5)
    assert uniform_pvalue(np.arctan2(x[:, 1], x[:, 0]), -math.pi, math.pi) > 1e-3
    abs_v = np.arccos(np.clip(np.hypot(x[:, 0], x[:, 1]) - 2.0, -1, 1))  # |v| in [0, pi]
    # the area element depends on v only, evenly in v: the CDF of |v| is its running integral
    grid = np.linspace(0.0, math.pi, 4001)
    density = klein_area_element(grid)
    running = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * np.diff(grid))])

    def cdf(t):
        return np.interp(t, grid, running / running[-1])

    edges = np.linspace(0, math.pi, 41)
    assert density_pvalue(abs_v, edges, cdf) > 1e-3
    # the flat-parameter sampler (uniform v) would fail the same test
    naive = np.random.default_rng(0).uniform(0, math.pi, N)
    assert density_pvalue(naive, edges, cdf) < 1e-6


def test_stratified_pieces_have_area_weights():
    a = 0.5
    height = math.sqrt((1 - a * a) / 2)
    x = stratified_points(N, seed=6, a=a)
    on_sphere = np.abs(np.linalg.norm(x, axis=1) - 1.0) < 1e-9
    tube_area = (
        2
        * math.pi
        * 2
        * np.trapezoid(
            np.sqrt(a * a + 2 * np.linspace(0, height, 10_001) ** 2), np.linspace(0, height, 10_001)
        )
    )
    share = 4 * math.pi / (4 * math.pi + tube_area)
    assert stats.binomtest(int(on_sphere.sum()), N, share).pvalue > 1e-3
    assert uniform_pvalue(x[on_sphere, 2], -1, 1) > 1e-3
    # tube heights have density proportional to sqrt(a^2 + 2 z^2)
    z = x[~on_sphere, 2]
    assert np.abs(z).max() <= height + 1e-12
    grid = np.linspace(-height, height, 2001)
    cumulative = np.concatenate(
        [[0], np.cumsum(np.sqrt(a * a + 2 * ((grid[1:] + grid[:-1]) / 2) ** 2) * np.diff(grid))]
    )
    edges = np.linspace(-height, height, 21)
    assert density_pvalue(z, edges, lambda t: np.interp(t, grid, cumulative)) > 1e-3


def test_tiny_stratified_samples_work_whichever_stratum_they_land_on():
    from topolib.datasets.point_clouds import stratified_points

    for seed in range(8):  # some seeds put the single point on the sphere, some on the tube
        assert stratified_points(1, seed).shape == (1, 3)
