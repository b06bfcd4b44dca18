"""Measurements of the diffusion chapter: sample quality against training and sampling cost.

>>> row = sample_metrics(samples, "circle", seed=0)          # one row of the chapter's tables
>>> result, curve = fit_with_curve(DDPM(), "circle", 5000, config, seed=0, cache=cache,
...                                every=4, n_eval=500)      # metrics after every 4 epochs
>>> sampling_curve(result.model, "circle", [5, 10, 25, 50], n=500, seed=0)

The training curve is measured while the model trains (a callback samples it every few
epochs) and stored in the model cache beside the model, so a rebuild reads it back.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from topolib.cache import ModelCache
from topolib.datasets.registry import get_dataset
from topolib.experiments import training_set
from topolib.metrics.memorisation import _wilson
from topolib.metrics.projection import as_images, project
from topolib.metrics.report import report_card
from topolib.models.blocks import check_positive_int
from topolib.models.diffusion import DDPM
from topolib.seeding import check_seed, torch_generator
from topolib.training import TrainConfig, TrainResult, cache_config, train

__all__ = ["fit_with_curve", "sample_metrics", "sampling_curve"]

CURVE_FILE = "curve.pt"


def sample_metrics(samples: object, dataset: str, *, seed: int,
                   n_landmarks: int | None = None) -> dict[str, Any]:
    """The report card's numbers for a set of samples, plus what the chapter adds.

    Returns
    -------
    dict with ``"Betti (Z/2)"`` of all samples, ``"Betti near the manifold"`` of the samples
    within the off-manifold threshold, ``"expected"``, ``"off-manifold"`` share with its 95%
    Wilson interval (``"off low"``, ``"off high"``), ``"coverage"``, ``"holes"``,
    ``"median distance"`` and ``"90% distance"`` (RMS pixel residual to the manifold; real
    renders have 0), and ``"diagram distance"``.
    """
    ds = get_dataset(dataset)
    images = as_images(samples, name="samples")
    n = len(images)
    proj = project(images, ds)
    off = proj.off_manifold()
    card = report_card(images, ds, seed=seed, n_landmarks=n_landmarks)
    value = card.table.set_index("check")["value"]
    near = images[~off]
    if len(near) >= 20:
        landmarks = None if n_landmarks is None else min(n_landmarks, len(near))
        near_card = report_card(near, ds, seed=seed, n_landmarks=landmarks)
        betti_near = near_card.check("betti_z2")["value"]
    else:
        betti_near = None
    k = int(off.sum())
    low, high = _wilson(k, n)
    return {
        "Betti (Z/2)": value["betti_z2"],
        "Betti near the manifold": betti_near,
        "expected": card.check("betti_z2")["expected"],
        "off-manifold": k / n, "off low": low, "off high": high,
        "coverage": float(value["coverage"]),
        "holes": float(value["holes"]),
        "median distance": float(np.median(proj.distance)),
        "90% distance": float(np.quantile(proj.distance, 0.9)),
        "diagram distance": float(value["diagram_distance"]),
    }


def sampling_curve(model: DDPM, dataset: str, steps: Sequence[int], *, n: int, seed: int,
                   sampler: str = "ddim", n_landmarks: int | None = None) -> pd.DataFrame:
    """:func:`sample_metrics` of ``n`` samples for each number of sampling ``steps``, with the
    sampling cost (images per second on this machine, one process)."""
    rows = []
    for s in steps:
        gen = torch_generator(check_seed(seed), "topolib.diffusion_study.sampling", model.device)
        start = time.perf_counter()
        images = model.sample(check_positive_int(n, "n"), gen, sampler=sampler, steps=s)
        seconds = time.perf_counter() - start
        rows.append({"sampler": sampler, "steps": s, "images/s": n / seconds,
                     **sample_metrics(images, dataset, seed=seed, n_landmarks=n_landmarks)})
    return pd.DataFrame(rows)


def fit_with_curve(
    model: DDPM,
    dataset: str,
    n_train: int,
    config: TrainConfig,
    *,
    seed: int,
    cache: ModelCache | None,
    every: int,
    n_eval: int,
    sampler: str = "ddpm",
    sample_steps: int = 25,
    n_landmarks: int | None = None,
    device: str | torch.device | None = None,
) -> tuple[TrainResult, pd.DataFrame]:
    """Train like :func:`topolib.experiments.fit`, measuring samples every ``every`` epochs.

    Returns the training result and one row of :func:`sample_metrics` per measurement
    (``"epoch"``, ``"optimizer steps"``, ``"train seconds"`` first). With a cache, the curve
    is stored beside the model; a model that is cached without its curve is retrained
    without the cache to measure it.
    """
    every, n_eval = check_positive_int(every, "every"), check_positive_int(n_eval, "n_eval")
    images, _, data_config = training_set(dataset, n_train, model.image_size, seed)
    name = f"{type(model).__name__.lower()}_{data_config['dataset']}_d{model.latent_dim}"
    key = {**cache_config(model, data_config, config),
           "curve": {"every": every, "n_eval": n_eval, "sampler": sampler,
                     "steps": sample_steps, "landmarks": n_landmarks}}
    if cache is not None:
        stored = cache.load(name + "_curve", key, filename=CURVE_FILE)
        if stored is not None:
            result = train(model, images, config, cache=cache, name=name,
                           data_config=data_config, device=device, progress=False)
            return result, pd.DataFrame(stored["rows"])
    rows: list[dict[str, Any]] = []
    steps_per_epoch = -(-len(images) // config.batch_size)
    clock = {"start": time.perf_counter(), "measuring": 0.0}

    def measure(epoch: int, trained: Any, history: dict[str, list[float]]) -> None:
        if epoch % every:
            return
        begun = time.perf_counter()
        trained.eval()
        gen = torch_generator(seed, "topolib.diffusion_study.curve", trained.device)
        samples = trained.sample(n_eval, gen, sampler=sampler, steps=sample_steps)
        rows.append({"epoch": epoch, "optimizer steps": epoch * steps_per_epoch,
                     "train seconds": begun - clock["start"] - clock["measuring"],
                     "loss": history["loss"][-1],
                     **sample_metrics(samples, dataset, seed=seed, n_landmarks=n_landmarks)})
        trained.train()
        clock["measuring"] += time.perf_counter() - begun

    cached = cache is not None and cache.contains(name, cache_config(model, data_config, config))
    result = train(model, images, config, cache=None if cached else cache, name=name,
                   data_config=data_config, device=device, progress=False, callback=measure)
    if cache is not None:
        cache.save(name + "_curve", key, {"rows": rows}, overwrite=True, filename=CURVE_FILE)
    return result, pd.DataFrame(rows)
