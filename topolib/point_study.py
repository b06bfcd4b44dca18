"""The four families on point clouds in R^2 and R^3, with the teaser chapter's recipes.

>>> from topolib.point_study import fit_points, point_samples
>>> result = fit_points("DDPM", "stratified", n=4000, seed=0, cache=ModelCache())
>>> samples = point_samples(result.model, "DDPM", 4000, seed=0)     # (4000, 3)

Every model is the point version of its family (:class:`~topolib.models.PointVAE`,
:class:`~topolib.models.PointGAN`, :class:`~topolib.models.PointChartAutoencoder`,
:class:`~topolib.models.PointDDPM`), trained by :func:`topolib.training.train` on
``POINT_CLOUDS[dataset](n, seed)``: a seed draws both the training sample and the initial
weights, so an interval over seeds includes both sources of variation.

A recipe fixes the number of *optimizer steps*, not of epochs, so the twins (1,000-2,000
points) and the stratified set (4,000) get the same training. The recipes were chosen on seed
0 of the stratified set, the chapter's subject, at a few seconds per model on one CPU thread;
the chapter says so, and its intervals come from the other seeds as well.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from topolib.cache import ModelCache
from topolib.datasets.point_clouds import POINT_CLOUDS
from topolib.metrics.point_distance import DIMENSIONS
from topolib.metrics.point_report import INTRINSIC_DIM  # the VAE/GAN latent, the CAE chart dim
from topolib.models import (
    GenerativeModel,
    PointChartAutoencoder,
    PointDDPM,
    PointGAN,
    PointVAE,
)
from topolib.models.blocks import check_positive_int
from topolib.seeding import check_seed, torch_generator
from topolib.training import TrainConfig, TrainResult, train

__all__ = ["AMBIENT_DIM", "FAMILIES", "INTRINSIC_DIM", "N_CHARTS", "RECIPES", "Recipe", "fit_points",
           "point_model", "point_samples"]

#: The four families, in the order of the book's chapters.
FAMILIES = ("VAE", "GAN", "CAE", "DDPM")
#: Dimension of the space each set lives in (the point instruments' table).
AMBIENT_DIM = DIMENSIONS
#: Charts offered to the CAE: twice what each twin needs (circle 2, sphere 2, torus 3 by the
#: chart-count argument of the CAE chapter) and, on the stratified set, 12: enough for its
#: six smooth pieces with room to spare (see the chapter's exercise).
N_CHARTS = {"circle": 4, "sphere": 6, "torus": 8, "stratified": 12}


@dataclass(frozen=True)
class Recipe:
    """How one family is built, trained and sampled.

    Attributes
    ----------
    build : ``(dataset, ambient_dim, seed) -> model``.
    steps : optimizer steps (epochs are derived from the sample size).
    batch_size, lr : as in :class:`~topolib.training.TrainConfig`.
    sample : keyword arguments of the model's ``sample``.
    """

    build: Callable[[str, int, int], GenerativeModel]
    steps: int
    batch_size: int
    lr: float
    sample: dict[str, Any] = field(default_factory=dict)


RECIPES: dict[str, Recipe] = {
    # Gaussian likelihood of standard deviation 0.05: the off-set tolerance of the card.
    "VAE": Recipe(lambda ds, dim, seed: PointVAE(INTRINSIC_DIM[ds], dim, (128, 128),
                                                 sigma=0.05, seed=seed),
                  steps=2000, batch_size=128, lr=2e-3),
    "GAN": Recipe(lambda ds, dim, seed: PointGAN(INTRINSIC_DIM[ds], dim, (128, 128), seed=seed),
                  steps=2500, batch_size=64, lr=1e-3),
    "CAE": Recipe(lambda ds, dim, seed: PointChartAutoencoder(
        N_CHARTS[ds], INTRINSIC_DIM[ds], dim, hidden=64, warmup_steps=200, seed=seed),
                  steps=650, batch_size=256, lr=3e-3),
    # scale 4: the set (in the unit ball) spans about 4 noise units; scales 1, 2, 3 and 4
    # put 32%, 21%, 6% and 2% of seed 0's samples off the stratified set.
    "DDPM": Recipe(lambda ds, dim, seed: PointDDPM(dim, 128, 2, scale=4.0, seed=seed),
                   steps=2400, batch_size=512, lr=3e-3,
                   sample={"sampler": "ddpm", "steps": 100}),
}


def _check_family(family: object) -> str:
    if family not in RECIPES:
        raise ValueError(f"family must be one of {FAMILIES}; got {family!r}")
    return str(family)


def _check_dataset(dataset: object) -> str:
    if dataset not in INTRINSIC_DIM:
        raise ValueError(f"dataset must be one of {tuple(INTRINSIC_DIM)}; got {dataset!r}")
    return str(dataset)


def point_model(family: str, dataset: str, seed: int = 0) -> GenerativeModel:
    """A freshly built point model of ``family`` for ``dataset``'s ambient space."""
    family, dataset = _check_family(family), _check_dataset(dataset)
    return RECIPES[family].build(dataset, AMBIENT_DIM[dataset], check_seed(seed))


def fit_points(
    family: str,
    dataset: str,
    n: int,
    seed: int = 0,
    *,
    cache: ModelCache | None = None,
    budget: float = 1.0,
    device: str | torch.device | None = None,
) -> TrainResult:
    """Train ``family`` on ``n`` exact points of ``dataset`` (or load it from ``cache``).

    Parameters
    ----------
    family : one of :data:`FAMILIES`.
    dataset : ``"circle"``, ``"sphere"``, ``"torus"`` or ``"stratified"``.
    n : number of training points.
    seed : seed of the training sample, the initial weights and the shuffling.
    cache : model cache (keyed by the full model, data and training configuration).
    budget : fraction of the recipe's optimizer steps (the ``fast`` profile uses less).
    device : where to train.
    """
    family, dataset = _check_family(family), _check_dataset(dataset)
    n, seed = check_positive_int(n, "n"), check_seed(seed)
    if not (isinstance(budget, (int, float)) and 0 < budget <= 1):
        raise ValueError(f"budget must be a number in (0, 1]; got {budget!r}")
    recipe = RECIPES[family]
    steps = max(1, round(recipe.steps * budget))
    epochs = math.ceil(steps / math.ceil(n / recipe.batch_size))
    config = TrainConfig(epochs=epochs, batch_size=recipe.batch_size, lr=recipe.lr, seed=seed)
    points = POINT_CLOUDS[dataset](n, seed).astype(np.float32)
    data_config = {"dataset": f"{dataset} points", "n": n, "seed": seed}
    result = train(point_model(family, dataset, seed), points, config, cache=cache,
                   name=f"point_{family.lower()}_{dataset}", data_config=data_config,
                   device=device, progress=False)
    if isinstance(result.model, PointChartAutoencoder):  # chart shares from the final encoder
        result.model.refit_density(torch.from_numpy(points))
    return result


def point_samples(model: GenerativeModel, family: str, n: int, seed: int = 0) -> np.ndarray:
    """``n`` samples ``(n, D)`` of a trained point model, with its family's sampler settings."""
    family = _check_family(family)
    gen = torch_generator(check_seed(seed), f"topolib.point_study.sample.{family}", model.device)
    with torch.no_grad():
        return model.sample(check_positive_int(n, "n"), gen, **RECIPES[family].sample).cpu() \
            .numpy().astype(np.float64)
