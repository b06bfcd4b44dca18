"""The one training loop of the book, shared by every generative model.

>>> from topolib import ModelCache
>>> from topolib.datasets import get_dataset
>>> from topolib.models import VAE
>>> from topolib.training import TrainConfig, train
>>> images, _ = get_dataset("circle").sample(1000, seed=0)
>>> result = train(VAE(latent_dim=2), images, TrainConfig(epochs=5), cache=ModelCache(),
...                name="vae_circle", data_config={"dataset": "circle", "n": 1000, "size": 32,
...                                                "seed": 0})
>>> result.history["loss"]          # one mean loss per epoch

The model says which optimizers it needs and how a batch updates them
(``configure_optimizers``, ``training_step``); the loop does everything else: input checks,
device, seeded shuffling and noise, a progress bar, the loss history, checkpoints every few
epochs, resuming after an interruption, early stopping, and the model cache.

Randomness: epoch ``e`` shuffles with the stream ``("topolib.train.shuffle", e)`` and draws
its noise from ``("topolib.train.noise", e)`` of ``config.seed``, so a run resumed from a
checkpoint repeats exactly what an uninterrupted run would have done.

Smoke mode (``TOPOLIB_SMOKE=1``, :func:`topolib.profiles.smoke_mode`): every epoch stops after
its first :data:`~topolib.profiles.SMOKE_BATCHES_PER_EPOCH` batch(es) of full size, so a
chapter runs at its profile's real shapes with a few optimizer steps per model; callbacks and
checkpoints still run at every epoch. The cache key then carries ``"smoke"``, so such a model
is never loaded as a real one (and :class:`~topolib.cache.ModelCache` puts it in a separate
folder).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from topolib import published
from topolib.cache import ModelCache, config_key
from topolib.device import get_device
from topolib.models.blocks import check_positive_int
from topolib.models.interface import GenerativeModel
from topolib.profiles import SMOKE_BATCHES_PER_EPOCH, smoke_mode
from topolib.seeding import check_seed, torch_generator

__all__ = ["TrainConfig", "TrainResult", "cache_config", "train"]

STATE_FILE, CHECKPOINT_FILE = "state.pt", "checkpoint.pt"
#: TrainConfig fields that do not change the trained model, so are left out of the cache key.
NOT_IN_KEY = ("checkpoint_every",)

Callback = Callable[[int, GenerativeModel, dict[str, list[float]]], None]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run.

    Attributes
    ----------
    epochs : number of passes over the data.
    batch_size : images per optimizer step (the last batch of an epoch may be smaller).
    lr : Adam learning rate of every optimizer of the model, or None for the model's
        default (VAE 1e-3, GAN 5e-4).
    seed : seed of the shuffling and of the training noise (the model's own ``seed`` sets
        its initial weights).
    betas : Adam betas, or None for the model's default (VAE (0.9, 0.999), GAN (0.5, 0.9)).
    patience : early stopping: stop when the model's monitored loss has not improved by
        ``min_delta`` for this many epochs; None trains all ``epochs``.
    min_delta : smallest decrease that counts as an improvement.
    checkpoint_every : with a cache, save a resumable checkpoint every this many epochs.
    """

    epochs: int = 10
    batch_size: int = 128
    lr: float | None = None
    seed: int = 0
    betas: tuple[float, float] | None = None
    patience: int | None = None
    min_delta: float = 0.0
    checkpoint_every: int = 5

    def __post_init__(self) -> None:
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.checkpoint_every, "checkpoint_every")
        check_seed(self.seed)
        if self.lr is not None and not _positive_float(self.lr):
            raise ValueError(f"lr must be None or a finite number > 0; got {self.lr!r}")
        if self.betas is not None:
            if not (isinstance(self.betas, tuple) and len(self.betas) == 2
                    and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in self.betas)):
                raise ValueError(f"betas must be None or a pair of numbers in [0, 1); got "
                                 f"{self.betas!r}")
        if self.patience is not None:
            check_positive_int(self.patience, "patience")
        if not (isinstance(self.min_delta, (int, float)) and math.isfinite(self.min_delta)
                and self.min_delta >= 0):
            raise ValueError(f"min_delta must be a finite number >= 0; got {self.min_delta!r}")

    def key(self) -> dict[str, Any]:
        """The fields that determine the trained model (all but ``checkpoint_every``)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in NOT_IN_KEY}


@dataclasses.dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model : the trained model (the object passed in), in eval mode, on the training device.
    history : mean loss per epoch, ``{loss name: [epoch 1, epoch 2, ...]}``.
    epochs : epochs trained in total (fewer than asked if stopped early).
    from_cache : True if the final model was loaded and nothing was trained.
    resumed_from : epoch of the checkpoint this call resumed from (0: started afresh).
    stopped_early : True if early stopping ended training.
    seconds : wall time of this call.
    train_seconds : time spent training this model, over all calls (also when cached).
    trained_on : device the model was trained on, e.g. ``"cpu"`` or ``"cuda:0"``.
    key : cache key of the full configuration (None without a cache).
    path : cache folder of the entry (None without a cache).
    """

    model: GenerativeModel
    history: dict[str, list[float]]
    epochs: int
    from_cache: bool
    resumed_from: int
    stopped_early: bool
    seconds: float
    train_seconds: float
    trained_on: str
    key: str | None = None
    path: Path | None = None


def cache_config(
    model: GenerativeModel, data_config: Mapping[str, Any], config: TrainConfig
) -> dict[str, Any]:
    """The full configuration that keys a trained model in the cache (with ``"smoke"`` in
    smoke mode, whose models must never be taken for real ones)."""
    from topolib import __version__

    key = {
        "model": model.config(),
        "data": dict(data_config),
        "train": config.key(),
        "topolib_version": __version__,
    }
    if smoke_mode():
        key["smoke"] = {"batches_per_epoch": SMOKE_BATCHES_PER_EPOCH}
    return key


def train(
    model: GenerativeModel,
    data: torch.Tensor | np.ndarray | Any,
    config: TrainConfig,
    *,
    cache: ModelCache | None = None,
    name: str | None = None,
    data_config: Mapping[str, Any] | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    callback: Callback | None = None,
) -> TrainResult:
    """Train ``model`` on ``data``, or load it from the cache if it was trained before.

    Parameters
    ----------
    model : a freshly built :class:`~topolib.models.GenerativeModel`; trained in place.
    data : images ``(n, 1, S, S)`` or ``(n, S, S)`` in [0, 1] (tensor or array), or an object
        with such an ``images`` attribute (:class:`~topolib.datasets.ManifoldImages`); for a
        point-cloud model (``model.ambient_dim`` set), points ``(n, D)``.
    config : the :class:`TrainConfig`.
    cache : a :class:`~topolib.cache.ModelCache`; None trains without caching.
    name : name of the cache entry, e.g. ``"vae_circle_d2"`` (default: the class name).
    data_config : description of the data, e.g. ``{"dataset": "circle", "n": 10000,
        "size": 32, "seed": 0}``; required with a cache (it is part of the key). Its ``n``
        and ``size``, when present, must match ``data``.
    device : where to train (default :func:`topolib.get_device`).
    progress : show a tqdm progress bar.
    callback : called as ``callback(epoch, model, history)`` after each epoch (1-based) and
        after that epoch's checkpoint; an exception it raises stops training, and the next
        call with the same configuration resumes from the last checkpoint.

    Returns
    -------
    :class:`TrainResult`. With early stopping the model keeps its last epoch's weights.

    Raises
    ------
    TypeError, ValueError
        Naming the argument, for a wrong model, config, data shape, data range or a
        ``data_config`` that does not match the data.
    FloatingPointError
        If a loss becomes NaN or infinite (lower ``lr``).
    """
    started = time.perf_counter()
    if not isinstance(model, GenerativeModel):
        raise TypeError(f"model must be a topolib GenerativeModel; got {type(model).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig; got {type(config).__name__}")
    if config.patience is not None and model.monitor is None:
        raise ValueError(f"patience must be None for a {type(model).__name__}: no single "
                         "loss of it measures progress")
    x = _check_data(data, model)
    if data_config is not None:
        _check_data_config(data_config, x)
    device = get_device(device)
    model.to(device)

    entry: tuple[ModelCache, str, dict[str, Any]] | None = None
    if cache is not None:
        if not isinstance(cache, ModelCache):
            raise TypeError(f"cache must be a ModelCache or None; got {type(cache).__name__}")
        if data_config is None:
            raise ValueError("data_config is required with a cache: describe the data, e.g. "
                             "{'dataset': 'circle', 'n': 10000, 'size': 32, 'seed': 0}")
        entry = (cache, name or type(model).__name__.lower(),
                 cache_config(model, data_config, config))
        done = _load_final(model, entry, x, started)
        if done is not None:
            return done

    optimizers = model.configure_optimizers(config.lr, config.betas)
    history: dict[str, list[float]] = {}
    start, past_seconds = 0, 0.0
    checkpoint = _load_checkpoint(model, optimizers, entry, config) if entry else None
    if checkpoint is not None:
        start, history, past_seconds = checkpoint
    elif entry is not None:
        _check_fresh(model)
        optimizers = model.configure_optimizers(config.lr, config.betas)  # untouched ones

    _record_training(entry, name or type(model).__name__.lower())
    x = x.to(device)
    n_batches = math.ceil(x.shape[0] / config.batch_size)
    if smoke_mode():
        n_batches = min(n_batches, SMOKE_BATCHES_PER_EPOCH)
    t0 = time.perf_counter()
    stopped = False
    epoch = start
    with _flush_denormals(), _progress_bar(total=config.epochs * n_batches,
                                           initial=start * n_batches, disable=not progress,
                                           desc=type(model).__name__) as bar:
        for epoch in range(start + 1, config.epochs + 1):
            bar.set_description(f"{type(model).__name__} epoch {epoch}/{config.epochs}")
            losses = _run_epoch(model, optimizers, x, config, epoch, bar, n_batches)
            for k, v in losses.items():
                history.setdefault(k, []).append(v)
            bar.set_postfix({k: f"{v:.4g}" for k, v in losses.items()}, refresh=False)
            stopped = _should_stop(history, model.monitor, config)
            seconds = past_seconds + time.perf_counter() - t0
            if entry and epoch % config.checkpoint_every == 0 and epoch < config.epochs \
                    and not stopped:
                _save_checkpoint(model, optimizers, entry, epoch, history, seconds)
            if callback is not None:
                callback(epoch, model, history)
            if stopped:
                break
    model.eval()
    train_seconds = past_seconds + time.perf_counter() - t0
    result = TrainResult(model, history, epoch, False, start, stopped,
                         time.perf_counter() - started, train_seconds, str(device))
    if entry is not None:
        result.key, result.path = _save_final(model, entry, result, x)
    return result


@contextlib.contextmanager
def _flush_denormals() -> Iterator[None]:
    """Treat subnormal floats as zero on the CPU while training (switched off after).

    Adam's moment estimates of weights whose gradients vanish (e.g. a saturated component
    head) decay into subnormal numbers, which CPUs process many times slower: the two-circle
    matched VAE's epochs grew from 3.5 s to 14 s. Below ~1e-38 nothing a float32 model learns
    depends on them. The switch acts on CPU arithmetic only (x86 with SSE3, ARM)."""
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


# ---------------------------------------------------------------------- one epoch


def _run_epoch(
    model: GenerativeModel,
    optimizers: dict[str, torch.optim.Optimizer],
    x: torch.Tensor,
    config: TrainConfig,
    epoch: int,
    bar: Any,
    n_batches: int,
) -> dict[str, float]:
    """The first ``n_batches`` batches of ``x`` in seeded random order (all of them, except in
    smoke mode); mean loss per image of each loss."""
    shuffle = torch_generator(config.seed, f"topolib.train.shuffle.{epoch}")
    noise = torch_generator(config.seed, f"topolib.train.noise.{epoch}")
    order = torch.randperm(x.shape[0], generator=shuffle).to(x.device)
    order = order[: n_batches * config.batch_size]
    n = order.numel()
    sums: dict[str, torch.Tensor] = {}
    model.train()
    for batch in order.split(config.batch_size):
        losses = model.training_step(x[batch], optimizers, noise)
        for k, v in losses.items():
            sums[k] = sums.get(k, 0.0) + v.detach() * batch.numel()
        bar.update(1)
    means = {k: float(v) / n for k, v in sums.items()}
    bad = {k: v for k, v in means.items() if not math.isfinite(v)}
    if bad:
        raise FloatingPointError(f"training diverged in epoch {epoch}: losses {bad}; "
                                 "try a smaller lr")
    return means


def _should_stop(history: dict[str, list[float]], monitor: str | None, config: TrainConfig) -> bool:
    """True when the last ``patience`` epochs did not beat the best before them by min_delta."""
    if config.patience is None or monitor is None:
        return False
    if monitor not in history:
        raise KeyError(f"the model monitors {monitor!r}, which training_step did not return")
    values = history[monitor]
    if len(values) <= config.patience:
        return False
    return min(values[-config.patience:]) > min(values[: -config.patience]) - config.min_delta


def _progress_bar(**kwargs: Any) -> Any:
    """tqdm.auto when ipywidgets can draw a notebook bar, else the plain text bar."""
    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm(unit="batch", leave=True, mininterval=0.5, **kwargs)


# ---------------------------------------------------------------------- input checks


def _positive_float(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) and value > 0


def _check_data(data: object, model: GenerativeModel) -> torch.Tensor:
    """Data as a float32 tensor: images ``(n, 1, S, S)`` in [0, 1], or the points ``(n, D)``
    of a point-cloud model; finite."""
    x = model.check_data(getattr(data, "images", data), "data").to(torch.float32)
    if not bool(torch.isfinite(x).all()):
        raise ValueError("data must be finite; it contains NaN or inf")
    if model.ambient_dim is not None:
        return x
    low, high = float(x.min()), float(x.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f"data must be images with values in [0, 1]; found values from "
                         f"{low:.3g} to {high:.3g}")
    return x


def _check_data_config(data_config: object, x: torch.Tensor) -> None:
    if not isinstance(data_config, Mapping):
        raise TypeError(f"data_config must be a dict; got {type(data_config).__name__}")
    n, size = x.shape[0], x.shape[-1]
    if "n" in data_config and data_config["n"] != n:
        kind = "points" if x.ndim == 2 else "images"
        raise ValueError(f"data_config says n={data_config['n']!r} but data has {n} {kind}")
    if "size" in data_config and x.ndim == 4 and data_config["size"] != size:
        raise ValueError(f"data_config says size={data_config['size']!r} but data images are "
                         f"{size}x{size}")


def _check_fresh(model: GenerativeModel) -> None:
    """A cache key describes a freshly built model: refuse one that was changed."""
    fresh = type(model).from_config(model.config()).state_dict()
    for k, v in model.state_dict().items():
        if not torch.equal(v.detach().cpu(), fresh[k]):
            raise ValueError(
                "model must be freshly built when training with a cache (its weights differ "
                "from those its config() and seed give, so the cache key could not describe "
                "them); build a new model, or pass cache=None to keep training this one"
            )


# ---------------------------------------------------------------------- cache


def _fingerprint(x: torch.Tensor) -> list[float]:
    """Cheap summary of the training data, stored to catch a mislabelled data_config."""
    return [float(x.shape[0]), float(x.mean()), float(x.std())]


def _record_training(entry: tuple[ModelCache, str, dict[str, Any]] | None, name: str) -> None:
    """Note in ``TOPOLIB_CACHE_LOG`` (when set) that a model is being trained, not loaded."""
    folder = entry[0].entry_dir(entry[1], entry[2]).name if entry else f"{name}-uncached"
    published.record("train", folder, STATE_FILE)


def _reset(model: GenerativeModel) -> None:
    """Back to the initial weights that the model's config (and seed) give."""
    model.load_state_dict(type(model).from_config(model.config()).state_dict())


def _cpu_state(model: GenerativeModel) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def _discard(entry: tuple[ModelCache, str, dict[str, Any]], filename: str, why: str) -> None:
    """Move a readable but unusable cache file aside (never delete), with a warning."""
    cache, name, key_config = entry
    target = cache.entry_dir(name, key_config) / filename
    if target.exists():
        aside = target.with_name(f"{filename}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(target, aside)
        warnings.warn(f"cache entry {str(target)!r} is unusable ({why}); moved it to "
                      f"{aside.name!r} and it will be recomputed", RuntimeWarning, stacklevel=3)


def _load_final(
    model: GenerativeModel, entry: tuple[ModelCache, str, dict[str, Any]], x: torch.Tensor,
    started: float,
) -> TrainResult | None:
    cache, name, key_config = entry
    state = cache.load(name, key_config, map_location=model.device, filename=STATE_FILE)
    if state is None:
        return None
    try:
        model.load_state_dict(state["model"])
        history = {str(k): [float(v) for v in vs] for k, vs in state["history"].items()}
        epochs = int(state["epochs"])
        stored_print = [float(v) for v in state["data_fingerprint"]]
        result = TrainResult(model.eval(), history, epochs, True, 0,
                             bool(state["stopped_early"]), 0.0, float(state["train_seconds"]),
                             str(state["trained_on"]), config_key(key_config),
                             cache.entry_dir(name, key_config))
    except (KeyError, RuntimeError, TypeError, ValueError, AttributeError) as err:
        _discard(entry, STATE_FILE, f"{type(err).__name__}: {err}")
        _reset(model)  # load_state_dict may have copied part of the entry
        return None
    if not np.allclose(stored_print, _fingerprint(x), rtol=1e-3, atol=1e-5, equal_nan=True):
        warnings.warn(f"the cached model {name!r} was trained on data that differ from the data "
                      "passed now (size, mean or spread), although data_config is the same: "
                      "check data_config", RuntimeWarning, stacklevel=3)
    result.seconds = time.perf_counter() - started
    return result


def _save_final(
    model: GenerativeModel, entry: tuple[ModelCache, str, dict[str, Any]],
    result: TrainResult, x: torch.Tensor,
) -> tuple[str, Path]:
    cache, name, key_config = entry
    state = {
        "model": _cpu_state(model),
        "history": result.history,
        "epochs": result.epochs,
        "stopped_early": result.stopped_early,
        "train_seconds": result.train_seconds,
        "trained_on": result.trained_on,
        "data_fingerprint": _fingerprint(x),
    }
    path = cache.save(name, key_config, state, overwrite=True, filename=STATE_FILE)
    (path.parent / CHECKPOINT_FILE).unlink(missing_ok=True)
    return config_key(key_config), path.parent


def _save_checkpoint(
    model: GenerativeModel, optimizers: dict[str, torch.optim.Optimizer],
    entry: tuple[ModelCache, str, dict[str, Any]], epoch: int,
    history: dict[str, list[float]], seconds: float,
) -> None:
    cache, name, key_config = entry
    state = {
        "model": _cpu_state(model),
        "optimizers": {k: opt.state_dict() for k, opt in optimizers.items()},
        "epoch": epoch,
        "history": history,
        "train_seconds": seconds,
    }
    cache.save(name, key_config, state, overwrite=True, filename=CHECKPOINT_FILE)


def _load_checkpoint(
    model: GenerativeModel, optimizers: dict[str, torch.optim.Optimizer],
    entry: tuple[ModelCache, str, dict[str, Any]], config: TrainConfig,
) -> tuple[int, dict[str, list[float]], float] | None:
    cache, name, key_config = entry
    state = cache.load(name, key_config, map_location=model.device, filename=CHECKPOINT_FILE)
    if state is None:
        return None
    try:
        epoch = int(state["epoch"])
        history = {str(k): [float(v) for v in vs] for k, vs in state["history"].items()}
        if not 0 < epoch < config.epochs or any(len(v) != epoch for v in history.values()):
            raise ValueError(f"checkpoint at epoch {epoch} does not fit {config.epochs} epochs")
        if set(state["optimizers"]) != set(optimizers):
            raise ValueError("checkpoint optimizers do not match the model's")
        model.load_state_dict(state["model"])
        for k, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][k])
        seconds = float(state["train_seconds"])
    except (KeyError, RuntimeError, TypeError, ValueError, AttributeError) as err:
        _discard(entry, CHECKPOINT_FILE, f"{type(err).__name__}: {err}")
        _reset(model)  # load_state_dict may have copied part of the checkpoint
        return None
    return epoch, history, seconds
