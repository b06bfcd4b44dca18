"""Training recipes for the topology-matched VAE (the chapter "Matching the latent to the data").

A matched latent space removes the topological obstruction; it does not make training find
the map that uses it. Two measured ways training misses, and the recipe for each:

- **The wrong homotopy class** (torus): the encoder, a continuous map from the data torus to
  the latent torus, can settle with a data loop folded onto an arc of a latent circle
  (:func:`topolib.models.encoder_winding` reads the class), and training does not leave that
  class. Those runs end with a measurably higher loss, so :func:`fit_best_of` trains several
  initialisations for a short warm-up, keeps the one with the lowest loss and finishes
  training it. The selection reads only the training loss, never the true angles.
- **The wrong split into components** (two circles): with the component summed exactly, the
  pure ELBO puts every image on one latent circle, and a balance term alone splits the data
  by angle instead of by circle. :func:`component_labels` reads the data's own components
  (single linkage, i.e. the 0-dimensional persistent homology of the training images), and
  :func:`fit_matched` hands them to the model as a component teacher
  (:meth:`~topolib.models.MatchedVAE.set_component_teacher`).

>>> study = fit_matched("torus", "torus", 5000, TrainConfig(epochs=16, batch_size=64),
...                     seed=0, restarts=6, warmup_epochs=4, channels=16, cache=ModelCache())
>>> study.result.model, study.chosen, study.warmup_losses
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy.cluster.hierarchy import fcluster, linkage

from topolib.cache import ModelCache
from topolib.datasets.base import ImageManifold
from topolib.datasets.registry import get_dataset
from topolib.experiments import fit, training_set
from topolib.models.blocks import check_positive_int
from topolib.models.interface import GenerativeModel
from topolib.models.matched_vae import MatchedVAE
from topolib.seeding import check_seed, numpy_rng
from topolib.training import TrainConfig, TrainResult

__all__ = ["BestOf", "component_labels", "fit_best_of", "fit_matched"]


@dataclasses.dataclass(frozen=True)
class BestOf:
    """What :func:`fit_best_of` returns.

    Attributes
    ----------
    result : the chosen initialisation, trained for the full budget.
    seeds : the initialisation seeds tried, in order.
    warmup_losses : the last warm-up epoch's mean loss of each seed (empty with one seed:
        there is nothing to choose, so no warm-up is run).
    chosen : the seed with the lowest warm-up loss.
    warmups : the warm-up runs, in the order of ``seeds`` (to inspect what each had become).
    """

    result: TrainResult
    seeds: tuple[int, ...]
    warmup_losses: tuple[float, ...]
    chosen: int
    warmups: tuple[TrainResult, ...] = ()

    def table(self) -> list[dict[str, Any]]:
        """One row per seed: its warm-up loss and whether it was chosen."""
        return [{"init seed": s, "warm-up loss (nats)": round(v, 1), "chosen": s == self.chosen}
                for s, v in zip(self.seeds, self.warmup_losses, strict=False)]


def fit_best_of(
    build: Callable[[int], GenerativeModel],
    dataset: str | ImageManifold,
    n_train: int,
    config: TrainConfig,
    *,
    restarts: int,
    warmup_epochs: int,
    seed: int,
    cache: ModelCache | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    prepare: Callable[[GenerativeModel], None] | None = None,
) -> BestOf:
    """Train ``restarts`` initialisations for ``warmup_epochs``, keep the one with the lowest
    loss, and train it for ``config.epochs`` (with ``restarts = 1``: just train seed 0).

    Each run goes through :func:`topolib.experiments.fit`, so every warm-up and the final
    run are cached under their full configuration. The final run starts from the chosen
    seed's initial weights with the same shuffling and noise as its warm-up, so its first
    ``warmup_epochs`` repeat the warm-up exactly: "keep the warm-up and finish it".

    Parameters
    ----------
    build : ``init_seed -> fresh model`` (seeds ``0 .. restarts - 1`` are tried).
    dataset, n_train, seed, cache, device, progress : as in :func:`topolib.experiments.fit`.
    config : the full training budget.
    restarts : number of initialisations (>= 1).
    warmup_epochs : epochs of each warm-up (>= 1, at most ``config.epochs``).
    prepare : called on each fresh model before it trains (e.g. to set a component teacher).

    Returns
    -------
    BestOf
    """
    restarts = check_positive_int(restarts, "restarts")
    warmup_epochs = check_positive_int(warmup_epochs, "warmup_epochs")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}")
    if warmup_epochs > config.epochs:
        raise ValueError(f"warmup_epochs must be at most config.epochs = {config.epochs}; got "
                         f"{warmup_epochs}")
    warmup = dataclasses.replace(config, epochs=warmup_epochs)

    def run(init_seed: int, cfg: TrainConfig) -> TrainResult:
        model = build(init_seed)
        if not isinstance(model, GenerativeModel):
            raise TypeError(f"build must return a GenerativeModel; got {type(model).__name__}")
        if prepare is not None:
            prepare(model)
        return fit(model, dataset, n_train, cfg, seed=seed, cache=cache, device=device,
                   progress=progress)

    if restarts == 1:  # nothing to choose: no warm-up
        return BestOf(run(0, config), (0,), (), 0, ())
    seeds = tuple(range(restarts))
    warmups = tuple(run(s, warmup) for s in seeds)
    losses = tuple(float(w.history["loss"][-1]) for w in warmups)
    chosen = seeds[int(np.argmin(losses))]
    return BestOf(run(chosen, config), seeds, losses, chosen, warmups)


def component_labels(images: np.ndarray, n_components: int = 2, n_max: int = 1000,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The data's connected components, read by single linkage on (a subset of) the images.

    Single linkage merges the two closest clusters first, so cutting it into
    ``n_components`` clusters is reading the 0-dimensional persistent homology at the scale
    of its last ``n_components - 1`` gaps: no model and no true parameter is used.

    Parameters
    ----------
    images : ``(n, S, S)`` or ``(n, 1, S, S)`` images.
    n_components : how many components to read (the topology you know in advance).
    n_max : at most this many images are clustered (a seeded random subset).
    seed : seed of the subset.

    Returns
    -------
    ``(subset, labels)``: ``(m,)`` indices of the clustered images and their ``(m,)`` labels
    in ``0 .. n_components - 1``, component 0 holding the first image of the subset.
    """
    x = np.asarray(images, dtype=np.float64)
    if x.ndim not in (3, 4) or x.shape[0] < 2:
        raise ValueError(f"images must have shape (n, S, S) or (n, 1, S, S) with n >= 2; got "
                         f"{x.shape}")
    n_components = check_positive_int(n_components, "n_components")
    n_max = check_positive_int(n_max, "n_max")
    if n_components > min(n_max, x.shape[0]):
        raise ValueError(f"n_components must be at most the number of images clustered; got "
                         f"{n_components}")
    rng = numpy_rng(check_seed(seed), "topolib.matched_study.components")
    subset = np.sort(rng.permutation(x.shape[0])[:n_max])
    flat = x[subset].reshape(len(subset), -1)
    raw = fcluster(linkage(flat, "single"), n_components, "maxclust")
    _, labels = np.unique(raw, return_inverse=True)
    order = np.unique(labels, return_index=True)[1]  # first appearance of each label
    relabel = np.empty(n_components, dtype=int)
    relabel[labels[np.sort(order)]] = np.arange(n_components)
    return subset, relabel[labels]


def fit_matched(
    latent: str,
    dataset: str | ImageManifold,
    n_train: int,
    config: TrainConfig,
    *,
    seed: int,
    restarts: int = 1,
    warmup_epochs: int = 1,
    size: int = 32,
    channels: int = 32,
    beta: float = 1.0,
    balance: float = 0.0,
    assign: float = 0.0,
    cache: ModelCache | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> BestOf:
    """A :class:`~topolib.models.MatchedVAE` trained by :func:`fit_best_of` (with
    ``restarts = 1``: one ordinary run of init seed 0), with a component teacher read from
    the training set by :func:`component_labels` when ``assign > 0``."""
    ds = get_dataset(dataset)
    prepare = None
    if assign > 0:
        space_components = MatchedVAE(latent, size=size, channels=1).space.components
        images, _, _ = training_set(ds, n_train, size, seed)
        subset, labels = component_labels(images, space_components, seed=seed)

        def prepare(model: GenerativeModel) -> None:
            assert isinstance(model, MatchedVAE)
            model.set_component_teacher(images[subset], labels)

    def build(init_seed: int) -> MatchedVAE:
        return MatchedVAE(latent, size=size, channels=channels, beta=beta, seed=init_seed,
                          balance=balance, assign=assign)

    return fit_best_of(build, ds, n_train, config, restarts=restarts,
                       warmup_epochs=min(warmup_epochs, config.epochs), seed=seed,
                       cache=cache, device=device, progress=progress, prepare=prepare)
