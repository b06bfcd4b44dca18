"""Projection onto the known manifold, off-manifold detection, coverage and density."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from topolib.datasets.failures import (
    collapsed,
    intact,
    off_manifold_images,
    pushed_off,
    torus_with_hole,
)
from topolib.datasets.registry import DATASET_NAMES, get_dataset
from topolib.metrics.coverage import coverage_map, on_manifold_coverage
from topolib.metrics.projection import (
    _BANK_CACHE,
    OFF_MANIFOLD_THRESHOLD,
    off_manifold_rate,
    project,
    render_bank,
)


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_exact_renders_project_back(name):
    ds = get_dataset(name)
    images, params = ds.sample(150, seed=3, size=32)
    result = project(images, ds)
    assert result.params.shape == params.shape
    assert np.allclose(ds.canonical(result.params), result.params)
    # Intrinsic distance is blind to the identifications (u ~ -u, the Klein glide, ...).
    assert ds.distance(result.params, params).max() < 1e-2
    assert result.distance.max() < 1e-3
    assert result.coords.shape == (150, ds.intrinsic_dim)
    assert off_manifold_rate(result) == 0.0


@pytest.mark.parametrize("name", ["klein", "projective"])
def test_identified_parameters_give_the_canonical_point(name):
    ds = get_dataset(name)
    params = ds.sample_params(50, seed=1)
    twin = params.copy()
    if name == "klein":  # (theta + pi, pi - phi) ~ (theta, phi)
        twin = np.stack([params[:, 0] + np.pi, np.pi - params[:, 1]], axis=1)
    else:
        twin = -params
    result = project(ds.render(twin, 32), ds)
    assert np.abs(result.params - ds.canonical(params)).max() < 1e-2


def test_refinement_beats_the_bank_alone():
    ds = get_dataset("torus")
    images, params = ds.sample(300, seed=4)
    bank_only = project(images, ds, refine_steps=0)
    refined = project(images, ds)
    assert np.all(refined.distance <= bank_only.distance + 1e-6)
    assert np.median(ds.distance(bank_only.params, params)) > 0.01  # lattice spacing ~0.1
    assert np.median(ds.distance(refined.params, params)) < 1e-3
    assert np.allclose(refined.bank_distance, bank_only.distance, atol=1e-6)


@pytest.mark.parametrize("name", ["circle", "torus", "sphere"])
@pytest.mark.parametrize("noise", [0.01, 0.03])
def test_residual_measures_the_noise_level(name, noise):
    ds = get_dataset(name)
    images, params = ds.sample(200, seed=5)
    rng = np.random.default_rng(0)
    noisy = images + rng.normal(0.0, noise, images.shape).astype(np.float32)
    result = project(noisy, ds)
    assert np.median(result.distance) == pytest.approx(noise, rel=0.1)
    assert ds.distance(result.params, params).max() < 0.1
    assert off_manifold_rate(result) == 0.0  # the threshold keeps mild noise on


@pytest.mark.parametrize("name", ["circle", "torus", "two_circles", "sphere"])
@pytest.mark.parametrize("kind", ["blend", "blob", "noise"])
def test_off_manifold_images_are_flagged(name, kind):
    ds = get_dataset(name)
    images = off_manifold_images(ds, ds.sample_params(100, seed=6), kind, seed=0)
    assert off_manifold_rate(project(images, ds)) > 0.95


def test_pure_noise_is_far_off():
    images = np.random.default_rng(1).uniform(0, 1, (20, 32, 32))
    result = project(images, "torus")
    assert result.distance.min() > 8 * OFF_MANIFOLD_THRESHOLD


def test_threshold_changes_the_rate():
    images = pushed_off("circle", 200, seed=0).images
    result = project(images, "circle")
    assert off_manifold_rate(result, threshold=0.01) >= off_manifold_rate(result) > 0.25
    assert off_manifold_rate(result, threshold=1.0) == 0.0


def test_accepts_channels_tensors_and_other_sizes():
    ds = get_dataset("circle")
    images, params = ds.sample(20, seed=2, size=24)
    a = project(images[:, None], ds)
    b = project(torch.from_numpy(images), ds)
    assert a.size == 24
    assert np.allclose(a.params, b.params)
    assert ds.distance(a.params, params).max() < 1e-2


def test_bank_is_cached():
    first = render_bank("circle", 16, 256)
    assert render_bank("circle", 16, 256) is first
    assert (get_dataset("circle").__class__, "circle", 16, 256) in _BANK_CACHE


@pytest.mark.parametrize(
    ("images", "match"),
    [
        (np.zeros((5, 32)), "images must have shape"),
        (np.zeros((5, 32, 30)), "square"),
        (np.zeros((0, 32, 32)), "empty"),
        (np.zeros((5, 4, 4)), "at least 8x8"),
        (np.full((2, 32, 32), np.nan), "NaN"),
        (np.zeros((5, 3, 32, 32)), "images must have shape"),
    ],
)
def test_bad_images_raise(images, match):
    with pytest.raises(ValueError, match=match):
        project(images, "circle")


def test_bad_arguments_raise():
    images = np.zeros((3, 32, 32), dtype=np.float32)
    with pytest.raises(TypeError, match="images"):
        project(np.array([["a"] * 3] * 3), "circle")
    with pytest.raises(ValueError, match="unknown dataset name 'donut'"):
        project(images, "donut")
    with pytest.raises(ValueError, match="refine_steps"):
        project(images, "circle", refine_steps=-1)
    with pytest.raises(ValueError, match="bank_size"):
        project(images, "circle", bank_size=0)
    result = project(images, "circle")
    with pytest.raises(ValueError, match="threshold"):
        off_manifold_rate(result, threshold=-0.1)
    with pytest.raises(TypeError, match="projection"):
        off_manifold_rate(images)


# ---------------------------------------------------------------------------- coverage


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_uniform_samples_cover_without_holes(name):
    ds = get_dataset(name)
    cov = coverage_map(ds.coverage_coords(ds.sample_params(2000, seed=11)), ds)
    assert cov.expected >= 5
    assert cov.coverage > 0.97
    assert cov.holes == ()
    assert cov.hole_fraction == 0.0
    assert cov.tv_excess < 0.03
    assert cov.tv == pytest.approx(cov.tv_uniform, abs=0.03)


def test_torus_patch_shows_a_hole_in_the_right_place():
    sample = torus_with_hole(2000, seed=0, centre=(0.3, 0.7), width=0.3)
    cov = coverage_map(project(sample.images, "torus"), "torus")
    assert len(cov.holes) == 1
    hole = cov.holes[0]
    assert hole.centre == pytest.approx((0.3, 0.7), abs=0.04)
    assert 0.06 < hole.fraction < 0.13  # the 9% patch, at the resolution of the cells
    assert hole.count <= 0.02 * hole.expected
    assert cov.coverage < 0.95


def test_hole_across_the_seam_is_one_region():
    ds = get_dataset("torus")
    coords = ds.coverage_coords(ds.sample_params(4000, seed=2))
    seam = (np.abs((coords[:, 0] + 0.5) % 1.0 - 0.5) < 0.15) & (np.abs(coords[:, 1] - 0.5) < 0.15)
    cov = coverage_map(coords[~seam][:2000], ds)
    assert len(cov.holes) == 1
    assert min(cov.holes[0].centre[0], 1 - cov.holes[0].centre[0]) < 0.04


def test_a_polar_hole_counts_once():
    # Two wedges of the polar cap, at opposite longitudes, touch only at the pole: one hole.
    ds = get_dataset("sphere")
    coords = ds.coverage_coords(ds.sample_params(6000, seed=3))
    wedges = (coords[:, 1] > 0.9) & (coords[:, 0] % 0.5 < 0.25)
    cov = coverage_map(coords[~wedges][:2000], ds)
    assert len(cov.holes) == 1
    assert cov.holes[0].fraction == pytest.approx(0.05, abs=0.01)


def test_torn_circle_has_a_hole():
    ds = get_dataset("circle")
    coords = ds.coverage_coords(ds.sample_params(3000, seed=0))
    cov = coverage_map(coords[(coords[:, 0] >= 0.2) | (coords[:, 0] < 0.1)][:2000], ds)
    assert len(cov.holes) == 1
    assert cov.hole_fraction == pytest.approx(0.1, abs=0.02)
    assert cov.holes[0].centre[0] == pytest.approx(0.15, abs=0.02)


def test_density_tv_small_for_uniform_large_for_collapsed():
    uniform = intact("torus", 2000, seed=1)
    squashed = collapsed("torus", 2000, seed=1)
    cov_u = coverage_map(get_dataset("torus").coverage_coords(uniform.params), "torus")
    cov_c = coverage_map(project(squashed.images, "torus"), "torus")
    assert cov_u.tv_excess < 0.03 and cov_u.chi2_pvalue > 1e-3
    assert cov_c.tv > 0.8 and cov_c.tv_excess > 0.6 and cov_c.chi2_pvalue < 1e-10
    assert cov_c.coverage < 0.2


def test_two_circles_component_mass():
    ds = get_dataset("two_circles")
    params = ds.sample_params(2000, seed=0)
    cov = coverage_map(ds.coverage_coords(params), ds)
    assert cov.component_mass == pytest.approx((0.5, 0.5), abs=0.04)
    one = coverage_map(ds.coverage_coords(params[params[:, 0] == 0]), ds)
    assert one.component_mass == (1.0, 0.0)
    assert one.hole_fraction == pytest.approx(0.5, abs=0.02)


def test_off_manifold_junk_does_not_count_as_coverage():
    ds = get_dataset("circle")
    half = ds.render(np.linspace(0.0, np.pi, 300, endpoint=False)[:, None])  # one half turn
    anywhere = ds.sample_params(300, seed=1)
    junk = off_manifold_images(ds, anywhere, "noise", seed=0)  # projects all round the circle
    projection = project(np.concatenate([half, junk]), ds)
    assert on_manifold_coverage(projection).hole_fraction == pytest.approx(0.5, abs=0.05)
    assert coverage_map(projection, ds).hole_fraction < 0.4  # junk fills the missing half
    nothing_on = project(junk[:50], ds)  # too few on the manifold: all samples are used
    assert on_manifold_coverage(nothing_on).n == 50
    with pytest.raises(TypeError, match="projection"):
        on_manifold_coverage(half)


def test_coverage_bad_inputs():
    with pytest.raises(ValueError, match="shape"):
        coverage_map(np.zeros((10, 1)), "torus")
    with pytest.raises(ValueError, match="empty"):
        coverage_map(np.zeros((0, 2)), "torus")
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        coverage_map(np.full((10, 2), 1.5), "torus")
    with pytest.raises(ValueError, match="grid"):
        coverage_map(np.zeros((10, 2)), "klein", grid=5)


def test_coverage_plots_draw_holes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from topolib.plotting.coverage import plot_coverage, plot_density, plot_residuals

    ds = get_dataset("torus")
    sample = torus_with_hole(1000, seed=1)
    cov = coverage_map(ds.coverage_coords(sample.params), ds)
    from matplotlib.collections import LineCollection

    ax = plot_coverage(cov)
    outlines = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert cov.n_holes == 1 and len(outlines) == 1
    # a square hole of k x k cells has 4 k boundary edges
    assert len(outlines[0].get_segments()) >= 4 * np.sqrt(cov.hole_mask.sum()) - 4
    assert plot_density(cov).get_ylabel() == "density / uniform"
    two = get_dataset("two_circles")
    cov1 = coverage_map(two.coverage_coords(two.sample_params(500, seed=0)), two)
    assert "component 1" in " ".join(t.get_text() for t in plot_coverage(cov1).texts)
    plot_residuals(np.array([0.0, 0.01, 0.2]))
    with pytest.raises(TypeError, match="coverage"):
        plot_coverage(np.zeros((3, 3)))
    plt.close("all")
