"""Persistent homology recovers the Betti numbers of every image dataset at the cpu profile.

2000 images of 32 x 32 pixels, 350 greedy landmarks, H0-H2 over Z/2 and Z/3, the default
pipeline (no PCA) and the one Betti rule of ``topolib.metrics.betti``: no per-dataset setting.
"""

from __future__ import annotations

import pytest

from topolib import get_profile
from topolib.datasets import DATASET_NAMES, get_dataset
from topolib.metrics import persistent_homology

PROFILE = get_profile("cpu")


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_image_dataset_betti_numbers(name):
    dataset = get_dataset(name)
    images, _ = dataset.sample(PROFILE.n_samples, seed=0, size=PROFILE.image_size)
    result = persistent_homology(
        images, maxdim=2, coeffs=(2, 3), n_landmarks=PROFILE.n_landmarks, seed=0
    )
    expected = {p: tuple(dataset.betti[p]) for p in (2, 3)}
    assert result.betti == expected, (
        f"{name}: found {result.betti}, expected {expected}\n{result.summary()}"
    )
