"""Interpolation audit: geodesics pass; the long way round, cross-fades and jumps do not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from topolib.datasets.registry import get_dataset
from topolib.metrics.interpolation import (
    JUMP_RATIO_MAX,
    LENGTH_RATIO_MAX,
    audit_path,
    geodesic_path_images,
    linear_pixel_path,
)
from topolib.metrics.projection import project


@pytest.mark.parametrize(
    ("name", "a", "b"),
    [
        ("circle", [0.3], [2.0]),
        ("torus", [0.2, 6.0], [2.5, 1.0]),
        ("sphere", [1.0, 0.0, 0.0], [0.0, 0.6, 0.8]),
        ("klein", [0.3, 0.4], [2.9, 2.0]),
        ("projective", [0.0, 0.6, 0.8], [0.6, 0.0, 0.8]),
        ("two_circles", [1.0, 0.5], [1.0, 4.0]),
        ("disk", [-0.3, -0.3], [0.4, 0.2]),
    ],
)
def test_geodesic_path_is_valid(name, a, b):
    ds = get_dataset(name)
    ends = np.array([a, b], dtype=float)
    images = geodesic_path_images(ds, ends[0], ends[1], m=12)
    assert images.shape == (12, 32, 32)
    assert np.allclose(images, ds.render(ds.geodesic(ends[0], ends[1], 12)))
    audit = audit_path(images, ds, endpoints_params=ends)
    assert audit.valid, audit.reasons
    assert audit.reasons == ()
    assert audit.length_ratio == pytest.approx(1.0, abs=0.01)
    assert audit.jump_ratio == pytest.approx(1.0, abs=0.05)
    assert audit.off_manifold_fraction == 0.0
    assert audit.endpoint_error < 1e-2
    assert audit.geodesic == pytest.approx(ds.distance(ends[0], ends[1])[0])


@pytest.mark.parametrize("d", [0.5, 1.5, 2.2])  # (2 pi - d) / d = 11.6, 3.2, 1.9
def test_long_way_round_the_circle(d):
    ds = get_dataset("circle")
    theta = np.linspace(0.4, 0.4 + d - 2 * math.pi, 24)[:, None]  # the other way round
    audit = audit_path(ds.render(theta), ds)
    assert audit.geodesic == pytest.approx(d, abs=1e-3)
    assert audit.length_ratio == pytest.approx((2 * math.pi - d) / d, rel=1e-2)
    assert audit.jump_ratio == pytest.approx(1.0, abs=0.05)  # uniformly paced: not a jump
    assert not audit.valid
    assert any("long way round" in r for r in audit.reasons)
    assert not any("jump" in r for r in audit.reasons)


def test_slightly_longer_path_is_still_valid():
    ds = get_dataset("circle")
    # it goes back and forth three times (a detour of ~35%), within LENGTH_RATIO_MAX
    t = np.linspace(0, 1, 30)
    theta = (0.5 + 2.0 * t + 0.2 * np.sin(6 * math.pi * t))[:, None]
    audit = audit_path(ds.render(theta), ds)
    assert 1.25 < audit.length_ratio < LENGTH_RATIO_MAX
    assert audit.valid, audit.reasons


def test_pixel_cross_fade_is_off_the_manifold():
    ds = get_dataset("torus")
    a, b = np.array([0.5, 0.5]), np.array([3.5, 3.0])
    renders = ds.render(np.stack([a, b]))
    fade = linear_pixel_path(renders[0], renders[1], m=16)
    assert fade.shape == (16, 32, 32)
    assert np.allclose(fade[0], renders[0]) and np.allclose(fade[-1], renders[1])
    audit = audit_path(fade, ds, endpoints_params=np.stack([a, b]))
    assert not audit.valid
    assert audit.off_manifold_fraction > 0.5
    assert audit.off_manifold[0] == audit.off_manifold[-1] == np.False_
    assert any("off the manifold" in r for r in audit.reasons)


def test_jump_is_detected_where_it_happens():
    ds = get_dataset("torus")
    first = np.linspace([0.5, 0.5], [1.0, 1.0], 8)
    second = np.linspace([4.0, 4.0], [4.5, 4.5], 8)
    audit = audit_path(ds.render(np.concatenate([first, second])), ds)
    assert list(audit.jumps) == [7]
    assert audit.jump_ratio > JUMP_RATIO_MAX
    assert audit.max_jump == pytest.approx(ds.distance(first[-1], second[0])[0], abs=1e-3)
    assert any("jump" in r for r in audit.reasons)
    assert not audit.valid


def test_cross_fade_on_the_circle_jumps_midway():
    ds = get_dataset("circle")
    renders = ds.render(np.array([[0.3], [2.8]]))
    audit = audit_path(linear_pixel_path(renders[0], renders[1], 15), ds)
    assert len(audit.jumps) == 1 and 4 <= audit.jumps[0] <= 10
    assert not audit.valid


def test_path_between_components_is_invalid():
    ds = get_dataset("two_circles")
    params = np.array([[0.0, 1.0], [0.0, 1.2], [1.0, 1.4], [1.0, 1.6]])
    audit = audit_path(ds.render(params), ds)
    assert math.isinf(audit.geodesic) and math.isinf(audit.length)
    assert list(audit.jumps) == [1]
    assert not audit.valid
    assert any("different components" in r for r in audit.reasons)


def test_precomputed_projection_is_used():
    ds = get_dataset("circle")
    images = geodesic_path_images(ds, np.array([0.1]), np.array([1.1]), 8)
    proj = project(images, ds)
    assert audit_path(images, ds, projection=proj).projection is proj


def test_bad_inputs_raise():
    ds = get_dataset("circle")
    images = geodesic_path_images(ds, np.array([0.1]), np.array([1.1]), 8)
    with pytest.raises(ValueError, match="at least 2"):
        audit_path(images[:1], ds)
    with pytest.raises(ValueError, match="path_images"):
        audit_path(images[:, :, :20], ds)
    with pytest.raises(ValueError, match="path_images contains NaN"):
        audit_path(np.full_like(images, np.nan), ds)
    with pytest.raises(ValueError, match="endpoints_params"):
        audit_path(images, ds, endpoints_params=np.zeros((3, 1)))
    with pytest.raises(ValueError, match="one row per path image"):
        audit_path(images, ds, projection=project(images[:4], ds))
    with pytest.raises(ValueError, match="unknown dataset"):
        audit_path(images, "mobius")
    with pytest.raises(ValueError, match="same shape"):
        linear_pixel_path(images[0], np.zeros((16, 16)))
    with pytest.raises(ValueError, match="img_a"):
        linear_pixel_path(np.zeros(5), images[0])
    with pytest.raises(ValueError, match="m must be"):
        linear_pixel_path(images[0], images[1], m=1)
    with pytest.raises(ValueError, match="m must be"):
        geodesic_path_images(ds, np.array([0.1]), np.array([1.1]), m=0)
    with pytest.raises(ValueError, match="different components"):
        geodesic_path_images("two_circles", np.array([0.0, 1.0]), np.array([1.0, 1.0]))


def test_path_and_sample_plots():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from topolib.plotting.coverage import plot_path_audit
    from topolib.plotting.samples import plot_image_grid, plot_walk

    ds = get_dataset("torus")
    first = np.linspace([0.5, 0.5], [1.0, 1.0], 6)
    second = np.linspace([4.0, 4.0], [4.5, 4.5], 6)
    images = ds.render(np.concatenate([first, second]))
    ax = plot_path_audit(audit_path(images, ds))
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(dashed) == 1  # the one jump
    assert ax.get_title().startswith("invalid")
    circle = get_dataset("circle")
    walk = geodesic_path_images(circle, np.array([0.0]), np.array([2.0]), 8)
    assert plot_path_audit(audit_path(walk, circle)).get_title().startswith("valid")
    fig = plot_image_grid(images, nrow=3, titles=[str(i) for i in range(12)])
    (ax,) = fig.axes  # one mosaic: 3 rows of 4 tiles of 32 pixels, gaps (10 rows for titles)
    assert ax.images[0].get_array().shape == (3 * 43 - 1, 4 * 33 - 1)
    assert [t.get_text() for t in ax.texts] == [str(i) for i in range(12)]
    np.testing.assert_allclose(ax.images[0].get_array()[53:85, 33:65], images[5], atol=1e-6)
    assert len(plot_walk(walk).axes) == 8
    with pytest.raises(ValueError, match="titles"):
        plot_image_grid(images, titles=["a"])
    with pytest.raises(ValueError, match="nrow"):
        plot_image_grid(images, nrow=0)
    flagged = plot_image_grid(images, nrow=3, flagged=np.arange(12) % 5 == 0)
    frames = flagged.axes[0].patches
    assert [(p.get_x() + 0.5, p.get_y() + 0.5) for p in frames] == [(0, 0), (33, 33), (66, 66)]
    with pytest.raises(ValueError, match="flagged"):
        plot_image_grid(images, flagged=[True])
    titled = plot_image_grid(images, nrow=3, title="twelve renders")
    assert titled._suptitle.get_text() == "twelve renders"
    assert titled.axes[0].get_position().y1 < 0.95  # the title has a band of its own
    plt.close("all")


def test_interpolation_figure_pairs_the_model_path_with_the_geodesic():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from topolib.plotting import plot_interpolation

    circle = get_dataset("circle")
    ends = np.array([[0.5], [2.5]])
    fade = linear_pixel_path(*circle.render(ends), m=8)
    fig = plot_interpolation(fade, audit_path(fade, circle), ends)
    images_ax = fig.axes[0]
    assert images_ax.images[0].get_array().shape == (2 * 33 - 1, 8 * 33 - 1)  # truth + model
    np.testing.assert_allclose(images_ax.images[0].get_array()[:32, :32], circle.render(ends)[0],
                               atol=1e-6)
    assert fig._suptitle.get_text().startswith("invalid: ")  # a cross-fade leaves the circle
    assert len(images_ax.patches) > 0  # its middle frames are framed red
    two = get_dataset("two_circles")
    ends = np.array([[0.0, 1.0], [1.0, 1.0]])
    fade = linear_pixel_path(*two.render(ends), m=6)
    fig = plot_interpolation(fade, audit_path(fade, two), ends, title="across")
    assert fig.axes[0].images[0].get_array().shape == (32, 6 * 33 - 1)  # no geodesic row
    assert fig._suptitle.get_text() == "across"
    assert "different components" in fig.axes[1].get_title()  # not "length/geodesic nan"
    with pytest.raises(ValueError, match="endpoints"):
        plot_interpolation(fade, audit_path(fade, two), np.zeros(2))
    with pytest.raises(ValueError, match="frames"):
        plot_interpolation(fade[:3], audit_path(fade, two), ends)
    with pytest.raises(TypeError, match="audit"):
        plot_interpolation(fade, None, ends)
    plt.close("all")
