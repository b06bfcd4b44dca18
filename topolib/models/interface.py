"""The interface every generative model in the book implements.

A model maps a latent code to an image and back where it can:

==================== ========================================= ==============================
method               shape                                     VAE / GAN
==================== ========================================= ==============================
``sample``           ``n`` -> ``(n, 1, S, S)``                 decode Gaussian noise
``encode``           ``(n, 1, S, S)`` -> ``(n, latent_dim)``   posterior mean / optimisation
``decode``           ``(n, latent_dim)`` -> ``(n, 1, S, S)``   decoder / generator
``invert``           ``(n, 1, S, S)`` -> ``(n, latent_dim)``   encoder / latent optimisation
``reconstruct``      ``(n, 1, S, S)`` -> ``(n, 1, S, S)``      ``decode(invert(x))``
``interpolate``      two images -> ``(n_steps, 1, S, S)``      straight latent line, decoded
``interpolate_many`` ``k`` pairs -> ``(k, n_steps, 1, S, S)``  the same for ``k`` pairs at once
==================== ========================================= ==============================

Training goes through one loop (:func:`topolib.training.train`) for every model: the model
says which optimizers it needs (:meth:`GenerativeModel.configure_optimizers`) and how one
batch updates them (:meth:`GenerativeModel.training_step`); the loop does the rest.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from topolib.models.blocks import check_positive_int
from topolib.profiles import smoke_iterations
from topolib.seeding import check_seed, torch_generator

__all__ = [
    "GenerativeModel",
    "as_generator",
    "check_images",
    "check_latents",
    "check_points",
    "eval_mode",
    "frozen",
    "optimise_latents",
    "randn",
]


def as_generator(
    generator: torch.Generator | int, stream: str, device: torch.device | str = "cpu"
) -> torch.Generator:
    """A torch Generator: passed through, or made from an int seed and a stream name."""
    if isinstance(generator, torch.Generator):
        return generator
    return torch_generator(check_seed(generator, "generator"), stream, device)


def randn(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Standard normal draws from ``generator`` (on its own device), moved to ``device``."""
    return torch.randn(shape, generator=generator, device=generator.device).to(device)


def check_images(x: object, size: int, name: str = "x") -> torch.Tensor:
    """Return images as a float32 tensor ``(n, 1, size, size)``, or raise naming the argument.

    Accepts a torch tensor or a numpy array of shape ``(n, size, size)`` or
    ``(n, 1, size, size)``, of any numeric type (cast to float32). The device is left as is.
    NaN or inf raise a ValueError.
    """
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array; got {type(x).__name__}")
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, size, size) or x.shape[0] == 0:
        raise ValueError(
            f"{name} must have shape (n, 1, {size}, {size}) or (n, {size}, {size}) with n >= 1 "
            f"for this model; got {tuple(x.shape)}"
        )
    return _finite_float32(x, name)


def _finite_float32(x: torch.Tensor, name: str) -> torch.Tensor:
    """``x`` as float32 (the models' weights are float32: numpy's float64 is cast, not an
    error deep inside a layer); NaN or inf raise a ValueError naming ``name``."""
    x = x.float()
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite; it contains NaN or inf")
    return x


def check_points(x: object, dim: int, name: str = "x") -> torch.Tensor:
    """Return points as a float32 tensor ``(n, dim)``, ``n >= 1``, or raise naming the argument."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array; got {type(x).__name__}")
    if x.ndim != 2 or x.shape[1] != dim or x.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n, {dim}) with n >= 1 for this model (points "
                         f"in R^{dim}); got {tuple(x.shape)}")
    return _finite_float32(x, name)


def check_latents(z: object, latent_dim: int, name: str = "z") -> torch.Tensor:
    """Return latents as a float32 tensor ``(n, latent_dim)``, or raise naming the argument
    (also for NaN or inf)."""
    if isinstance(z, np.ndarray):
        z = torch.from_numpy(z)
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array; got {type(z).__name__}")
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"{name} must have shape (n, {latent_dim}); got {tuple(z.shape)}")
    return _finite_float32(z, name)


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Switch off gradients of ``module``'s parameters inside the block (then restore them)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Put ``module`` in eval mode inside the block (batch norm uses its running statistics)."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def optimise_latents(
    decode: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    latent_dim: int,
    *,
    steps: int = 200,
    restarts: int = 4,
    lr: float = 0.05,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Project images into a latent space by gradient descent on the latent code.

    For each image, ``restarts`` codes start from N(0, I) and Adam minimises the mean squared
    error between ``decode(z)`` and the image; the best restart per image is kept.

    Parameters
    ----------
    decode : differentiable map ``(m, latent_dim)`` -> ``(m, 1, S, S)`` (frozen by the caller),
        or ``(m, D)`` points.
    x : target images ``(n, 1, S, S)`` (or points ``(n, D)``) on the decoder's device.
    latent_dim : dimension of the codes.
    steps, restarts, lr : Adam steps (at most two in smoke mode,
        :func:`topolib.profiles.smoke_iterations`), independent starts per image, step size.
    generator : torch Generator for the starting codes.

    Returns
    -------
    ``(z, error)``: best codes ``(n, latent_dim)`` and their per-image MSE ``(n,)``, detached.
    """
    n = x.shape[0]
    z = randn((restarts * n, latent_dim), generator, x.device).requires_grad_(True)
    target = x.repeat(restarts, *([1] * (x.ndim - 1)))
    opt = torch.optim.Adam([z], lr=lr)
    for _ in range(smoke_iterations(steps)):  # fewer only in smoke mode
        err = (decode(z) - target).pow(2).flatten(1).mean(1)
        opt.zero_grad(set_to_none=True)
        err.sum().backward()
        opt.step()
    with torch.no_grad():
        err = (decode(z) - target).pow(2).flatten(1).mean(1).view(restarts, n)
        best = err.argmin(0)
        rows = best * n + torch.arange(n, device=x.device)
        return z.detach()[rows], err[best, torch.arange(n, device=x.device)]


class GenerativeModel(nn.Module, abc.ABC):
    """Base class of the book's generative models (VAE, GAN, chart autoencoder, DDPM).

    Subclasses set ``latent_dim`` and ``image_size`` (image models) or ``ambient_dim``
    (point-cloud models), implement :meth:`sample`, :meth:`config`,
    :meth:`configure_optimizers` and :meth:`training_step`, and the latent maps
    :meth:`encode` / :meth:`decode` where they exist. Shapes in the docstrings are written for
    images ``(n, 1, S, S)``; a point-cloud model takes and returns points ``(n, D)`` instead.

    Attributes
    ----------
    latent_dim : dimension of the latent space.
    image_size : side ``S`` of the ``(1, S, S)`` images (0 for a point-cloud model).
    ambient_dim : dimension ``D`` of the points ``(n, D)`` of a point-cloud model; None for
        an image model.
    monitor : name of the loss that measures progress (early stopping), or None when no
        single loss does (a GAN).
    """

    latent_dim: int
    image_size: int = 0
    ambient_dim: int | None = None
    monitor: str | None = "loss"

    # ------------------------------------------------------------------ generation

    @abc.abstractmethod
    def sample(self, n: int, generator: torch.Generator | int = 0) -> torch.Tensor:
        """``n`` generated images ``(n, 1, S, S)`` in [0, 1], detached.

        ``generator`` is a torch Generator (any device) or an int seed.
        """

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent codes ``(n, latent_dim)`` of images ``(n, 1, S, S)``."""
        raise NotImplementedError(f"{type(self).__name__} has no encoder; use invert()")

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images ``(n, 1, S, S)`` in [0, 1] of codes ``(n, latent_dim)``, differentiable."""
        raise NotImplementedError(f"{type(self).__name__} has no decoder")

    def invert(
        self, x: torch.Tensor, steps: int = 200, generator: torch.Generator | int = 0
    ) -> torch.Tensor:
        """Latent codes ``(n, latent_dim)`` whose decodings best match the images, detached.

        The default uses the encoder; models without one optimise the latent code.
        """
        del steps, generator
        with torch.no_grad():
            return self.encode(x)

    def reconstruct(
        self, x: torch.Tensor, steps: int = 200, generator: torch.Generator | int = 0
    ) -> torch.Tensor:
        """``decode(invert(x))``: the model's closest images ``(n, 1, S, S)``, detached."""
        z = self.invert(x, steps=steps, generator=generator)
        with torch.no_grad():
            return self.decode(z)

    def interpolate(self, x_a: torch.Tensor, x_b: torch.Tensor, n_steps: int = 16,
                    generator: torch.Generator | int = 0, invert_steps: int = 200) -> torch.Tensor:
        """The model's path ``(n_steps, 1, S, S)`` between two single images ``x_a``, ``x_b``
        (each ``(S, S)``, ``(1, S, S)`` or ``(1, 1, S, S)``): :meth:`interpolate_many` for one
        pair, with the same other arguments."""
        ends = [self._single_image(x, name) for x, name in ((x_a, "x_a"), (x_b, "x_b"))]
        return self.interpolate_many(ends[0], ends[1], n_steps, generator, invert_steps)[0]

    def interpolate_many(
        self,
        x_a: torch.Tensor,
        x_b: torch.Tensor,
        n_steps: int = 16,
        generator: torch.Generator | int = 0,
        invert_steps: int = 200,
    ) -> torch.Tensor:
        """Decoded latent paths (:meth:`latent_path`: straight lines unless a model overrides
        it) between pairs of images, all pairs in one batch.

        Parameters
        ----------
        x_a, x_b : start and end images, each ``(k, 1, S, S)`` or ``(k, S, S)``.
        n_steps : number of images on each path (>= 2), end points included.
        generator, invert_steps : passed to :meth:`invert` for the ``2k`` end points.

        Returns
        -------
        ``(k, n_steps, 1, S, S)`` images, detached.
        """
        n_steps = check_positive_int(n_steps, "n_steps")
        if n_steps < 2:
            raise ValueError(f"n_steps must be an integer >= 2; got {n_steps}")
        x_a, x_b = self._images(x_a, "x_a"), self._images(x_b, "x_b")
        if x_a.shape[0] != x_b.shape[0]:
            raise ValueError(f"x_a and x_b must hold the same number of images; got "
                             f"{x_a.shape[0]} and {x_b.shape[0]}")
        k = x_a.shape[0]
        z = self.invert(torch.cat([x_a, x_b]), steps=invert_steps, generator=generator)
        with torch.no_grad():
            path = self.latent_path(z[:k], z[k:], n_steps)
            images = self.decode(path.reshape(k * n_steps, self.latent_dim))
        return images.view(k, n_steps, *images.shape[1:])

    def latent_path(self, z_a: torch.Tensor, z_b: torch.Tensor, n_steps: int) -> torch.Tensor:
        """Codes ``(k, n_steps, latent_dim)`` from ``z_a`` to ``z_b`` (each ``(k, latent_dim)``):
        the straight line of a Euclidean latent space; a model whose latent space is curved
        overrides it with its geodesics."""
        t = torch.linspace(0.0, 1.0, n_steps, device=z_a.device)[None, :, None]
        return (1 - t) * z_a[:, None] + t * z_b[:, None]

    # ------------------------------------------------------------------ training hooks

    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """Class name and hyperparameters: enough to rebuild the model, and its cache key."""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GenerativeModel:
        """A freshly initialised model from the output of :meth:`config`."""
        params = dict(config)
        name = params.pop("class", cls.__name__)
        if name != cls.__name__:
            raise ValueError(f"config describes a {name}, not a {cls.__name__}")
        return cls(**params)

    def configure_optimizers(
        self, lr: float | None = None, betas: tuple[float, float] | None = None
    ) -> dict[str, torch.optim.Optimizer]:
        """The optimizers :meth:`training_step` expects, by name (None: the model's default).

        The default, for models trained by one loss: one Adam, ``{"model": ...}``, lr 1e-3,
        betas (0.9, 0.999). A model with several players (a GAN) overrides it.
        """
        return {"model": torch.optim.Adam(self.parameters(), lr=lr or 1e-3,
                                          betas=betas or (0.9, 0.999))}

    @abc.abstractmethod
    def training_step(
        self,
        x: torch.Tensor,
        optimizers: dict[str, torch.optim.Optimizer],
        generator: torch.Generator,
    ) -> dict[str, torch.Tensor]:
        """Update the model on one batch ``x`` ``(b, 1, S, S)``; return detached scalar losses.

        ``generator`` (on the model's device) supplies all noise of the step.
        """

    # ------------------------------------------------------------------ helpers

    @property
    def device(self) -> torch.device:
        """Device of the model's parameters."""
        return next(self.parameters()).device

    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def check_data(self, x: object, name: str = "x") -> torch.Tensor:
        """The model's kind of data as a float tensor, or a clear error naming ``name``:
        images ``(n, 1, S, S)`` (``(n, S, S)`` accepted) or, for a point-cloud model, points
        ``(n, D)``. The device is left as is."""
        if self.ambient_dim is not None:
            return check_points(x, self.ambient_dim, name)
        return check_images(x, self.image_size, name)

    def _images(self, x: object, name: str = "x") -> torch.Tensor:
        return self.check_data(x, name).to(self.device)

    def _single_image(self, x: object, name: str) -> torch.Tensor:
        single_ndim = 1 if self.ambient_dim is not None else 2
        if isinstance(x, (torch.Tensor, np.ndarray)) and x.ndim == single_ndim:
            x = x[None]
        x = self._images(x, name)
        if x.shape[0] != 1:
            raise ValueError(f"{name} must be a single image; got a batch of {x.shape[0]}")
        return x

    def _latents(self, z: object, name: str = "z") -> torch.Tensor:
        return check_latents(z, self.latent_dim, name).to(self.device)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "class")
