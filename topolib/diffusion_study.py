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
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from topolib.cache import ModelCache
from topolib.datasets.registry import get_dataset
from topolib.experiments import Evaluation, evaluate, training_set
from topolib.metrics.intervals import wilson_interval
from topolib.metrics.projection import as_images
from topolib.metrics.report import ReportCard, report_card
from topolib.models.blocks import check_positive_int
from topolib.models.diffusion import DDPM
from topolib.seeding import check_seed, torch_generator
from topolib.training import TrainConfig, TrainResult, cache_config, train

__all__ = ["cached_arrays", "cached_metrics", "evaluate_cached", "fit_with_curve", "sample_metrics",
           "sampling_curve"]

CURVE_FILE, ARRAYS_FILE = "curve.pt", "arrays.pt"


def cached_arrays(cache: ModelCache | None, name: str, key: dict[str, Any],
                  compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``compute()``, or what it returned before for the same ``name`` and ``key``.

    Sampling a diffusion model costs tens of network passes per image, so the chapter keeps
    its samples and paths in the model cache beside the models: a rebuild then only grades
    them. ``compute`` returns a dict of numpy arrays.
    """
    if cache is not None:
        stored = cache.load(name, key, filename=ARRAYS_FILE)
        if stored is not None:
            return {k: v.numpy() for k, v in stored.items()}
    arrays = compute()
    if cache is not None:
        cache.save(name, key, {k: torch.from_numpy(np.ascontiguousarray(v))
                               for k, v in arrays.items()}, overwrite=True,
                   filename=ARRAYS_FILE)
    return arrays


def cached_metrics(cache: ModelCache | None, name: str, key: dict[str, Any],
                   compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``compute()`` (a row of :func:`sample_metrics`), or the row it gave before for the same
    ``name`` and ``key``: the homology of a noisy sample set can take many seconds."""
    if cache is not None:
        stored = cache.load(name, key, filename=CURVE_FILE)
        if stored is not None:
            return dict(stored["row"])
    row = compute()
    if cache is not None:
        cache.save(name, key, {"row": row}, overwrite=True, filename=CURVE_FILE)
    return row


def evaluate_cached(result: TrainResult, dataset: str, *, cache: ModelCache | None,
                    **kwargs: Any) -> Evaluation:
    """:func:`topolib.experiments.evaluate` of ``result.model``, its samples and paths cached.

    The cache key is the trained model's own key, the model's sampler settings (a
    :class:`DDPM`'s ``sampler`` and ``sample_steps``) and ``kwargs``; on a hit the stored
    samples and paths are graded again (the report card is cheap, the sampling is not).
    """
    model = result.model
    sampling = {"sampler": getattr(model, "sampler", None),
                "steps": getattr(model, "sample_steps", None)}
    key = {"trained": result.key, "evaluate": kwargs, "sampling": sampling}
    if cache is None or result.key is None:
        return evaluate(model, dataset, **kwargs)
    name = f"{type(model).__name__.lower()}_{get_dataset(dataset).name}_evaluation"
    stored = cache.load(name, key, filename=ARRAYS_FILE)
    if stored is None:
        ev = evaluate(model, dataset, **kwargs)
        cache.save(name, key, {"samples": torch.from_numpy(ev.samples),
                               "paths": torch.from_numpy(ev.paths),
                               "pair_params": torch.from_numpy(ev.pair_params)},
                   overwrite=True, filename=ARRAYS_FILE)
        return ev
    samples, paths = stored["samples"].numpy(), stored["paths"].numpy()
    pair_params = stored["pair_params"].numpy()
    card = report_card(samples, dataset, paths=list(paths), seed=kwargs["seed"],
                       n_landmarks=kwargs.get("n_landmarks"), path_endpoints=pair_params)
    return Evaluation(model=type(model).__name__, dataset=get_dataset(dataset).name,
                      latent_dim=model.latent_dim, samples=samples, card=card,
                      pair_params=pair_params, paths=paths)


def sample_metrics(samples: object, dataset: str, *, seed: int,
                   n_landmarks: int | None = None, card: ReportCard | None = None
                   ) -> dict[str, Any]:
    """The report card's numbers for a set of samples, plus what the chapter adds.

    ``card``, the samples' report card if it was already computed (``Evaluation.card``), is
    reused instead of grading the samples again.

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
    if card is None:
        card = report_card(images, ds, seed=seed, n_landmarks=n_landmarks)
    elif len(card.projection) != n:
        raise ValueError(f"card grades {len(card.projection)} samples, not these {n}")
    proj = card.projection
    off = proj.off_manifold()
    value = card.table.set_index("check")["value"]
    near = images[~off]
    if len(near) >= 20:
        landmarks = None if n_landmarks is None else min(n_landmarks, len(near))
        near_card = report_card(near, ds, seed=seed, n_landmarks=landmarks)
        betti_near = near_card.check("betti_z2")["value"]
    else:
        betti_near = None
    k = int(off.sum())
    low, high = wilson_interval(k, n)
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
                   sampler: str = "ddim", n_landmarks: int | None = None,
                   cache: ModelCache | None = None, key: dict[str, Any] | None = None
                   ) -> pd.DataFrame:
    """:func:`sample_metrics` of ``n`` samples for each number of sampling ``steps``, with the
    sampling cost (images per second on this machine, one process). With a ``cache`` and a
    ``key`` describing the trained model, the rows (timings included: those of the build that
    measured them) are stored and read back."""
    entry = {"model": key, "steps": list(steps), "n": n, "seed": seed, "sampler": sampler,
             "landmarks": n_landmarks}
    if cache is not None and key is not None:
        stored = cache.load(f"{type(model).__name__.lower()}_sampling_curve", entry,
                            filename=CURVE_FILE)
        if stored is not None:
            return pd.DataFrame(stored["rows"])
    rows = []
    for s in steps:
        gen = torch_generator(check_seed(seed), "topolib.diffusion_study.sampling", model.device)
        start = time.perf_counter()
        images = model.sample(check_positive_int(n, "n"), gen, sampler=sampler, steps=s)
        seconds = time.perf_counter() - start
        rows.append({"sampler": sampler, "steps": s, "images/s": n / seconds,
                     **sample_metrics(images, dataset, seed=seed, n_landmarks=n_landmarks)})
    if cache is not None and key is not None:
        cache.save(f"{type(model).__name__.lower()}_sampling_curve", entry, {"rows": rows},
                   overwrite=True, filename=CURVE_FILE)
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
