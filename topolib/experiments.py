"""The experiment of the model chapters: train a model on a dataset, then measure it.

>>> result = fit(VAE(latent_dim=2), "circle", n_train=6000, config=TrainConfig(epochs=15),
...              seed=0, cache=ModelCache())
>>> ev = evaluate(result.model, "circle", n_samples=2000, n_pairs=16, seed=0)
>>> ev.card                  # report card of the samples and of the interpolation paths
>>> summary_table([ev, ...]) # one row per (model, dataset, latent dimension)

Every random draw comes from a named stream of ``seed``: the training set from
``"topolib.experiments.train.<dataset>"``, the samples, the interpolation pairs and the latent
atlas from their own streams, so two chapters that train the same configuration share one
cached model and measure it on the same data.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from topolib.cache import ModelCache
from topolib.datasets.base import ImageManifold
from topolib.datasets.registry import get_dataset
from topolib.metrics.interpolation import PathAudit
from topolib.metrics.intervals import Interval, share
from topolib.metrics.projection import Projection, as_images, project
from topolib.metrics.report import ReportCard, report_card
from topolib.models.blocks import check_positive_int
from topolib.models.interface import GenerativeModel, as_generator
from topolib.seeding import check_seed, numpy_rng, torch_generator
from topolib.training import TrainConfig, TrainResult, train

__all__ = [
    "Evaluation",
    "LatentAtlas",
    "coordinate_colours",
    "evaluate",
    "evaluate_all",
    "fit",
    "interval_table",
    "latent_atlas",
    "latent_grid",
    "summary_table",
    "training_set",
]


def training_set(
    dataset: str | ImageManifold, n: int, size: int, seed: int
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``n`` uniform renders to train on, with the description that keys the model cache.

    Returns
    -------
    ``(images, params, data_config)``: ``(n, size, size)`` float32 images, ``(n, param_dim)``
    parameters and ``{"dataset", "n", "size", "seed", "stream"}``.
    """
    ds = get_dataset(dataset)
    n = check_positive_int(n, "n")
    seed = check_seed(seed)
    stream = f"topolib.experiments.train.{ds.name}"
    images, params = ds.sample(n, numpy_rng(seed, stream), size)
    data_config = {"dataset": ds.name, "n": n, "size": images.shape[-1], "seed": seed,
                   "stream": stream}
    return images, params, data_config


def fit(
    model: GenerativeModel,
    dataset: str | ImageManifold,
    n_train: int,
    config: TrainConfig,
    *,
    seed: int,
    cache: ModelCache | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``model`` on ``n_train`` renders of ``dataset`` (or load it from ``cache``).

    The cache entry is named ``"<class>_<dataset>_d<latent_dim>"`` and keyed by the model's
    configuration, the training set's description and ``config``
    (:func:`topolib.training.train`).

    Parameters
    ----------
    model : a freshly built model whose ``image_size`` sets the render size.
    dataset : name or ``ImageManifold``.
    n_train : number of training images.
    config : the :class:`~topolib.training.TrainConfig`.
    seed : seed of the training set.
    cache, device, progress : passed to :func:`topolib.training.train`.
    """
    if not isinstance(model, GenerativeModel):
        raise TypeError(f"model must be a topolib GenerativeModel; got {type(model).__name__}")
    images, _, data_config = training_set(dataset, n_train, model.image_size, seed)
    name = f"{type(model).__name__.lower()}_{data_config['dataset']}_d{model.latent_dim}"
    return train(model, images, config, cache=cache, name=name, data_config=data_config,
                 device=device, progress=progress)


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Measurements of one trained model on its dataset.

    Attributes
    ----------
    model : the model's class name.
    dataset : dataset name.
    latent_dim : the model's latent dimension.
    samples : ``(n_samples, S, S)`` generated images.
    card : report card of the samples, with the interpolation paths.
    pair_params : ``(n_pairs, 2, param_dim)`` true parameters of the path end points.
    paths : ``(n_pairs, path_steps, S, S)`` the model's interpolation paths.
    reconstruction_off : share of the path end points (the model's reconstructions of real
        images) that are off the manifold: high values mean the model cannot even
        reproduce its data, so its sample failures are not about topology.
    """

    model: str
    dataset: str
    latent_dim: int
    samples: np.ndarray
    card: ReportCard
    pair_params: np.ndarray
    paths: np.ndarray

    @property
    def audits(self) -> tuple[PathAudit, ...]:
        """One audit per interpolation path."""
        return self.card.audits

    @property
    def reconstruction_off(self) -> float:
        ends = np.concatenate([a.off_manifold[[0, -1]] for a in self.audits])
        return float(ends.mean())

    def intervals(self, level: float = 0.95) -> dict[str, Interval]:
        """Wilson intervals of the measured shares, over samples or over pairs.

        Keys: ``"off-manifold samples"``, ``"off-manifold reconstructions"`` (the path end
        points), ``"valid paths"``; on a dataset with several components also
        ``"valid paths within a component"`` and ``"pairs across components"``. These
        intervals describe one trained model: they do not include the spread across training
        seeds.
        """
        audits = self.audits
        out = {
            "off-manifold samples": share(self.card.projection.off_manifold(), level),
            "off-manifold reconstructions": share(
                np.concatenate([a.off_manifold[[0, -1]] for a in audits]), level),
            "valid paths": share(np.array([a.valid for a in audits]), level),
        }
        across = np.array(["components" in a.failures for a in audits])
        if across.any():
            out["pairs across components"] = share(across, level)
            if not across.all():
                out["valid paths within a component"] = share(
                    np.array([a.valid for a, x in zip(audits, across, strict=True) if not x]),
                    level)
        return out

    def row(self) -> dict[str, Any]:
        """One row of :func:`summary_table`."""
        card = self.card
        reasons = [a.failures for a in self.audits]
        return {
            "model": self.model,
            "dataset": self.dataset,
            "latent dim": self.latent_dim,
            "Betti (Z/2)": card.check("betti_z2")["value"],
            "expected": card.check("betti_z2")["expected"],
            "diagram distance": card.check("diagram_distance")["value"],
            "off-manifold samples": card.check("off_manifold")["value"],
            "off-manifold reconstructions": self.reconstruction_off,
            "coverage": card.check("coverage")["value"],
            "holes": card.check("holes")["value"],
            "density": card.check("density")["value"],
            "valid paths": card.check("interpolation")["value"],
            "long-way paths": float(np.mean(["long way" in r for r in reasons])),
            "off-manifold paths": float(np.mean(["off manifold" in r for r in reasons])),
            "failed checks": ", ".join(card.failed_checks) or "none",
        }


def evaluate(
    model: GenerativeModel,
    dataset: str | ImageManifold,
    *,
    n_samples: int,
    n_pairs: int,
    seed: int,
    n_landmarks: int | None = None,
    path_steps: int = 12,
    invert_steps: int = 200,
) -> Evaluation:
    """Sample ``model``, interpolate between random pairs of real images, and grade both.

    Parameters
    ----------
    model : a trained model.
    dataset : the dataset it was trained on (name or ``ImageManifold``).
    n_samples : number of generated images graded by the report card (>= 10).
    n_pairs : number of interpolation paths; their end points are uniform random pairs of
        true renders.
    seed : seed of the samples and of the pairs.
    n_landmarks : landmarks for persistent homology (default: the active profile's).
    path_steps : images per path, end points included.
    invert_steps : latent-optimisation steps per end point (models without an encoder).

    Returns
    -------
    Evaluation
    """
    ds = get_dataset(dataset)
    n_pairs = check_positive_int(n_pairs, "n_pairs")
    seed = check_seed(seed)
    device = model.device
    model.eval()
    samples = as_images(
        model.sample(n_samples, torch_generator(seed, "topolib.experiments.sample", device)),
        name="samples",
    )
    pair_params = ds.sample_params(2 * n_pairs, numpy_rng(seed, "topolib.experiments.pairs"))
    ends = torch.from_numpy(ds.render(pair_params, model.image_size))[:, None]
    paths = model.interpolate_many(
        ends[:n_pairs], ends[n_pairs:], path_steps,
        generator=torch_generator(seed, "topolib.experiments.invert", device),
        invert_steps=invert_steps,
    )
    size = model.image_size
    paths_np = paths.detach().cpu().numpy().reshape(n_pairs, path_steps, size, size)
    pair_params = np.stack([pair_params[:n_pairs], pair_params[n_pairs:]], axis=1)
    card = report_card(samples, ds, paths=list(paths_np), seed=seed, n_landmarks=n_landmarks,
                       path_endpoints=pair_params)
    return Evaluation(
        model=type(model).__name__,
        dataset=ds.name,
        latent_dim=model.latent_dim,
        samples=samples,
        card=card,
        pair_params=pair_params,
        paths=paths_np,
    )


# Jobs of evaluate_all, set just before the worker processes are forked so that they inherit
# the models instead of receiving them pickled.
_FORKED_JOBS: list[tuple[GenerativeModel, str | ImageManifold]] = []


def _start_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def _evaluate_forked(index: int, kwargs: dict[str, Any]) -> Evaluation:
    model, dataset = _FORKED_JOBS[index]
    return evaluate(model, dataset, **kwargs)


def evaluate_all(
    jobs: Mapping[Hashable, tuple[GenerativeModel, str | ImageManifold]],
    *,
    workers: int | None = None,
    **kwargs: Any,
) -> dict[Hashable, Evaluation]:
    """:func:`evaluate` every ``(model, dataset)`` of ``jobs``, several at a time on a CPU.

    Much of a measurement is single-threaded (persistent homology, projection onto the
    manifold), so on a multi-core CPU the models are measured in parallel worker processes,
    each with its share of torch's threads; the results are those of :func:`evaluate` (same
    seeds, same streams). The jobs run one after the other when a model is on a GPU, when
    processes cannot be forked safely (only Linux forks here), or with one worker.

    Parameters
    ----------
    jobs : ``{key: (model, dataset)}``.
    workers : number of worker processes (default: as many as CPU cores, at most one per job).
    **kwargs : keyword arguments of :func:`evaluate` (``n_samples``, ``n_pairs``, ``seed``, ...).

    Returns
    -------
    ``{key: Evaluation}`` in the order of ``jobs``.
    """
    if not isinstance(jobs, Mapping) or not jobs:
        raise ValueError("jobs must be a non-empty mapping {key: (model, dataset)}")
    for key, job in jobs.items():
        if not (isinstance(job, tuple) and len(job) == 2 and isinstance(job[0], GenerativeModel)):
            raise ValueError(f"jobs[{key!r}] must be a (model, dataset) pair; got {job!r}")
    cores = os.cpu_count() or 1
    workers = min(len(jobs), cores) if workers is None else check_positive_int(workers, "workers")
    on_cpu = all(model.device.type == "cpu" for model, _ in jobs.values())
    if workers == 1 or not on_cpu or not sys.platform.startswith("linux"):
        return {key: evaluate(model, dataset, **kwargs) for key, (model, dataset) in jobs.items()}
    _FORKED_JOBS[:] = list(jobs.values())
    threads = max(1, torch.get_num_threads() // workers)
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, initializer=_start_worker, initargs=(threads,)) as pool:
            results = pool.starmap(_evaluate_forked, [(i, kwargs) for i in range(len(jobs))],
                                   chunksize=1)
    finally:
        _FORKED_JOBS.clear()
    return dict(zip(jobs, results, strict=True))


def interval_table(evaluations: list[Evaluation], level: float = 0.95) -> pd.DataFrame:
    """One row per evaluation: each measured share with its Wilson interval, as text.

    Also the range of reading scales (in landmark spacings) over which the samples' Betti
    numbers stay the same: a narrow range means the reading is close to changing.
    """
    if not evaluations:
        raise ValueError("evaluations is empty; pass at least one Evaluation")
    rows = []
    for ev in evaluations:
        low, high = ev.card.homology.stable_range()
        row = {"model": ev.model, "dataset": ev.dataset, "latent dim": ev.latent_dim,
               "Betti (Z/2)": ev.card.check("betti_z2")["value"],
               "expected": ev.card.check("betti_z2")["expected"],
               "Betti stable for readings in": f"[{low:.2g}, {high:.2g}] eps"}
        row.update({name: str(iv) for name, iv in ev.intervals(level).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def summary_table(evaluations: list[Evaluation]) -> pd.DataFrame:
    """One row per evaluation: Betti numbers, off-manifold shares, coverage, holes, paths."""
    if not evaluations:
        raise ValueError("evaluations is empty; pass at least one Evaluation")
    return pd.DataFrame([ev.row() for ev in evaluations])


@dataclass(frozen=True)
class LatentAtlas:
    """Where the decoder sends latent codes: draws of the prior, decoded and projected.

    Attributes
    ----------
    z : ``(n, latent_dim)`` latent codes.
    projection : projection of their decodings onto the manifold.
    """

    z: np.ndarray
    projection: Projection

    @property
    def coords(self) -> np.ndarray:
        """``(n, intrinsic_dim)`` coverage coordinates of the projections, in [0, 1)."""
        return self.projection.coords

    @property
    def off_manifold(self) -> np.ndarray:
        """``(n,)`` True where the decoding is off the manifold."""
        return self.projection.off_manifold()


def latent_atlas(
    model: GenerativeModel,
    dataset: str | ImageManifold,
    n: int,
    generator: torch.Generator | int = 0,
) -> LatentAtlas:
    """Decode ``n`` prior draws and project them, to colour the latent space by the manifold."""
    ds = get_dataset(dataset)
    n = check_positive_int(n, "n")
    gen = as_generator(generator, "topolib.experiments.atlas", model.device)
    z = torch.randn((n, model.latent_dim), generator=gen, device=gen.device).to(model.device)
    with torch.no_grad():
        images = as_images(model.decode(z), name="decoded images")
    return LatentAtlas(z=z.cpu().numpy(), projection=project(images, ds))


def latent_grid(
    model: GenerativeModel,
    n_side: int = 9,
    span: float = 2.5,
    plane: np.ndarray | None = None,
) -> np.ndarray:
    """Decodings of a regular grid of latent codes.

    Parameters
    ----------
    model : a model with a decoder.
    n_side : codes per side of the grid.
    span : the grid covers ``[-span, span]`` along each direction (in prior standard
        deviations).
    plane : ``(2, latent_dim)`` orthonormal directions spanning the grid's plane when
        ``latent_dim > 2`` (default: the first two coordinate axes).

    Returns
    -------
    ``(n_side, S, S)`` for a one-dimensional latent space, else ``(n_side * n_side, S, S)``
    in row order (first direction across, second down).
    """
    n_side = check_positive_int(n_side, "n_side")
    if not (isinstance(span, (int, float)) and 0 < span < float("inf")):
        raise ValueError(f"span must be a finite number > 0; got {span!r}")
    t = torch.linspace(-span, span, n_side)
    d = model.latent_dim
    if d == 1:
        z = t[:, None]
    else:
        if plane is None:
            plane = np.eye(2, d)
        plane_t = torch.as_tensor(np.asarray(plane, dtype=np.float32))
        if plane_t.shape != (2, d):
            raise ValueError(f"plane must have shape (2, {d}); got {tuple(plane_t.shape)}")
        down, across = torch.meshgrid(t.flip(0), t, indexing="ij")
        z = across.reshape(-1, 1) * plane_t[0] + down.reshape(-1, 1) * plane_t[1]
    with torch.no_grad():
        return as_images(model.decode(z.to(model.device)), name="decoded grid")


def coordinate_colours(dataset: str | ImageManifold, coords: np.ndarray) -> dict[str, np.ndarray]:
    """Name each coverage coordinate, to colour plots by where on the manifold a point is.

    Parameters
    ----------
    dataset : name or ``ImageManifold``.
    coords : ``(n, intrinsic_dim)`` coverage coordinates in [0, 1) (``ds.coverage_coords``).

    Returns
    -------
    ``{"theta1 / 2 pi": (n,), ...}``, one entry per coordinate, in order.
    """
    from topolib.plotting.coverage import AXIS_LABELS

    ds = get_dataset(dataset)
    coords = np.asarray(coords, dtype=float)
    if coords.ndim != 2 or coords.shape[1] != ds.intrinsic_dim:
        raise ValueError(f"coords must have shape (n, {ds.intrinsic_dim}); got {coords.shape}")
    names = AXIS_LABELS.get(ds.name, tuple(f"coordinate {i}" for i in range(ds.intrinsic_dim)))
    return {name: coords[:, i] for i, name in enumerate(names)}
