"""The mistakes students make get clear errors naming the argument (or, for a collapsed model,
a failing report card instead of an exception)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import topolib
from topolib.datasets import get_dataset
from topolib.datasets.point_clouds import sphere_points
from topolib.metrics import project, report_card
from topolib.metrics.point_report import point_report_card
from topolib.models import VAE, PointVAE
from topolib.provenance import stamp, stamp_figure
from topolib.seeding import torch_generator

pytestmark = pytest.mark.usefixtures("one_torch_thread")
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")


@pytest.fixture(scope="module")
def circle_images() -> np.ndarray:
    return get_dataset("circle").sample(60, 0, 32)[0]


def test_numpy_float64_into_models_is_cast(circle_images):
    model = VAE(latent_dim=2, size=32, channels=8)
    x64 = circle_images[:4].astype(np.float64)
    assert torch.equal(model.encode(x64), model.encode(x64.astype(np.float32)))
    assert model.decode(np.zeros((3, 2))).dtype == torch.float32
    assert PointVAE(2, 3).encode(sphere_points(5, 0)).shape == (5, 2)


def test_nan_or_inf_into_models_is_refused(circle_images):
    model = VAE(latent_dim=2, size=32, channels=8)
    bad = circle_images[:2].copy()
    bad[0, 3, 3] = np.nan
    with pytest.raises(ValueError, match="x must be finite; it contains NaN or inf"):
        model.encode(bad)
    with pytest.raises(ValueError, match="z must be finite"):
        model.decode(torch.tensor([[0.0, float("inf")]]))
    with pytest.raises(ValueError, match="x must be finite"):
        PointVAE(2, 3).encode(np.full((2, 3), np.nan))


def test_images_scaled_to_255_are_refused_by_the_metrics(circle_images):
    with pytest.raises(ValueError, match=r"divide images stored as 0\.\.255 by 255"):
        project(circle_images * 255, "circle")
    with pytest.raises(ValueError, match=r"samples has pixel values up to 2\d\d"):
        report_card(circle_images * 255, "circle")
    project(np.clip(circle_images * 1.2, 0, 1.2), "circle")  # a small overshoot is graded


@pytest.mark.parametrize("name", ["sphere", "projective"])
def test_a_zero_axis_is_refused(name):
    with pytest.raises(ValueError, match="params must be non-zero vectors"):
        get_dataset(name).render(np.zeros((1, 3)), 32)


@NO_CUDA
def test_a_device_that_is_not_here_is_named():
    with pytest.raises(ValueError, match="CUDA is not available"):
        topolib.get_device("cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        torch_generator(0, "x", "cuda")


def test_a_device_name_that_is_not_a_device():
    with pytest.raises(ValueError, match="must be a torch device"):
        topolib.get_device("tpu")
    with pytest.raises(ValueError, match="device must be a torch device"):
        torch_generator(0, "x", "tpu")


def test_wrong_kinds_to_the_chapter_and_provenance_helpers():
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        topolib.start_chapter(seed="a")
    chapter = topolib.start_chapter(seed=0)
    with pytest.raises(TypeError, match="stream must be a non-empty string"):
        chapter.rng(3)
    with pytest.raises(TypeError, match="stream must be a non-empty string"):
        chapter.torch_generator("")
    with pytest.raises(TypeError, match="profile must be a topolib Profile"):
        stamp("cpu", 0, "cpu")
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        stamp(chapter.profile, -1, "cpu")
    fig = plt.figure()
    try:
        with pytest.raises(TypeError, match="fig must be a matplotlib Figure"):
            stamp_figure("figure", "text")
        with pytest.raises(TypeError, match="text must be a string"):
            stamp_figure(fig, 3)
    finally:
        plt.close(fig)


def test_a_collapsed_model_gets_a_failing_card_not_an_exception(circle_images):
    same = np.repeat(circle_images[:1], 60, axis=0)  # every sample the same image
    card = report_card(same, "circle")
    assert not card.passed
    assert "all points are identical" in card.check("betti_z2")["note"]
    assert {"betti_z2", "betti_z3", "coverage"} <= set(card.failed_checks)
    assert card.check("betti_z2")["value"] == (1, 0)
    points = np.repeat(sphere_points(1, 0), 200, axis=0)
    assert not point_report_card(points, "sphere").passed
