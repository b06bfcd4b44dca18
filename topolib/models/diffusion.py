"""Denoising diffusion (Ho et al. 2020) with DDIM sampling and inversion (Song et al. 2021).

The forward process adds Gaussian noise in ``T`` steps; with ``abar_t = prod_{s<=t} (1 - beta_s)``
a noisy version of a clean ``x0`` at time ``t`` is, in closed form,

    x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps,        eps ~ N(0, I).

A network ``eps_theta(x_t, t)`` learns to predict the noise (epsilon-prediction); the loss is
``|eps - eps_theta(x_t, t)|^2`` averaged over uniform ``t`` and the noise. The schedule is the
cosine one of Nichol and Dhariwal (2021): ``abar_t = f(t) / f(0)``, ``f(t) = cos^2(pi/2 (t/T + s)
/ (1 + s))``, ``s = 0.008``, with ``beta_t`` capped at 0.999.

Sampling walks back from pure noise ``x ~ N(0, I)`` along a subsequence of times
``t_K > ... > t_1 = 0``, starting at the last time ``t_K`` whose ``abar`` is still >= 1e-4
(``MIN_SIGNAL``): the cap on ``beta`` makes the cosine schedule's final few ``abar`` fall to
~2e-9, and a step from there divides the network's error by ``sqrt(abar)``; it would also make
DDIM inversion forget the image (its signal would shrink to 5e-5 of the noise). Each step predicts the clean image and re-noises it to the next time:

    x0_hat = (x_t - sqrt(1 - abar_t) eps_theta) / sqrt(abar_t)
    x_t'   = sqrt(abar_t') x0_hat + sqrt(1 - abar_t' - sigma^2) eps_theta + sigma z,
    sigma  = eta sqrt((1 - abar_t') / (1 - abar_t)) sqrt(1 - abar_t / abar_t').

``eta = 1`` is ancestral DDPM sampling (with all ``T`` steps exactly Ho et al.'s sampler; with
fewer, its respaced version), ``eta = 0`` is deterministic DDIM: then the sampler is a fixed
continuous map from the noise ``x_T`` to an image, and running the same steps forwards (DDIM
inversion) maps an image back to its noise. That noise is the model's latent code.

Two versions share this logic (:class:`Diffusion`): :class:`DDPM` for images, with a small
U-Net, and :class:`PointDDPM` for point clouds, with a time-conditioned MLP. The sampling
network is an exponential moving average (EMA) of the trained weights.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from topolib.models.blocks import (
    TimeMLP,
    UNet,
    check_positive_int,
    check_size,
    seeded_init,
)
from topolib.models.interface import GenerativeModel, as_generator, randn
from topolib.profiles import smoke_iterations
from topolib.seeding import check_seed

__all__ = ["DDPM", "SAMPLERS", "Diffusion", "PointDDPM", "cosine_schedule", "slerp"]

#: Samplers and their ``eta``: ancestral DDPM (stochastic) and DDIM (deterministic).
SAMPLERS = {"ddpm": 1.0, "ddim": 0.0}
#: Sampling starts at the last time whose signal ``abar_t`` is at least this (t = 992 of 1000).
MIN_SIGNAL = 1e-4
#: Images a DDPM denoises, inverts or decodes at once. Memory only: at the gpu profile's
#: 64x64, decoding 3072 path frames in one pass was killed at 13.5 GB (found by the gpu
#: smoke check); in batches of 500 the highest of that kernel's readings (every 30 s) was
#: 4.4 GB.
BATCH_SIZE = 500


def cosine_schedule(T: int = 1000, s: float = 0.008,
                    max_beta: float = 0.999) -> tuple[torch.Tensor, torch.Tensor]:
    """The cosine noise schedule of Nichol and Dhariwal (2021).

    Returns
    -------
    ``(betas, abar)``, each ``(T,)`` float64: ``betas[t] = 1 - f(t+1) / f(t)`` capped at
    ``max_beta``, and ``abar = cumprod(1 - betas)`` (so ``abar[t] = f(t+1) / f(0)`` wherever
    no cap applied), with ``f(u) = cos^2(pi/2 (u/T + s) / (1 + s))``.
    """
    T = check_positive_int(T, "T")
    u = torch.arange(T + 1, dtype=torch.float64) / T
    f = torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=max_beta)
    return betas, torch.cumprod(1 - betas, dim=0)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of ``a`` and ``b`` ``(k, D)`` at fractions ``t``.

    Returns ``(k, len(t), D)``. Gaussian noise vectors in high dimension lie near a sphere;
    a straight line between two of them passes through its inside (atypically small noise),
    the great circle does not. Falls back to the straight line for (nearly) parallel rows.
    """
    cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)
    theta = torch.arccos(cos.clamp(-1.0, 1.0))[:, None, None]  # (k, 1, 1)
    t = t[None, :, None]
    small = theta < 1e-4
    safe = torch.where(small, torch.ones_like(theta), theta)
    wa = torch.where(small, 1 - t, torch.sin((1 - t) * safe) / torch.sin(safe))
    wb = torch.where(small, t, torch.sin(t * safe) / torch.sin(safe))
    return wa * a[:, None] + wb * b[:, None]


class Diffusion(nn.Module):
    """The diffusion logic, for any denoiser ``eps_theta(x_t, t)`` that keeps ``x_t``'s shape.

    Parameters
    ----------
    denoiser : module mapping ``(n, *shape)`` noisy data and ``(n,)`` integer times to the
        predicted noise ``(n, *shape)``.
    T : number of diffusion steps.
    ema_decay : decay of the moving average of the weights used for sampling (warmed up as
        ``min(ema_decay, (1 + k) / (10 + k))`` after ``k`` updates). The default 0.995
        averages over the last ~200 steps: the book's runs are short (1-2 thousand steps),
        and a longer average (0.999) keeps too much of the early, poor weights.

    Data live in [-1, 1] here; the models convert from and to [0, 1] pixels.
    """

    def __init__(self, denoiser: nn.Module, T: int = 1000, ema_decay: float = 0.995):
        super().__init__()
        self.T = check_positive_int(T, "T")
        if not (isinstance(ema_decay, (int, float)) and 0 <= ema_decay < 1):
            raise ValueError(f"ema_decay must be a number in [0, 1); got {ema_decay!r}")
        self.ema_decay = float(ema_decay)
        self.net = denoiser
        self.ema = copy.deepcopy(denoiser).requires_grad_(False)
        betas, abar = cosine_schedule(self.T)
        self.register_buffer("betas", betas.float())
        self.register_buffer("abar", abar.float())
        self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))
        #: first time of every sampler, the last with abar >= MIN_SIGNAL
        self.t_start = int((abar >= MIN_SIGNAL).nonzero().max())

    # ------------------------------------------------------------------ training

    def noisy(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps`` for times ``t`` ``(n,)``."""
        a = self.abar[t].view(-1, *([1] * (x0.ndim - 1)))
        return a.sqrt() * x0 + (1 - a).sqrt() * eps

    def loss(self, x0: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Mean squared error of the noise prediction, uniform ``t``: a scalar."""
        n = x0.shape[0]
        t = torch.randint(0, self.T, (n,), generator=generator,
                          device=generator.device).to(x0.device)
        eps = randn(tuple(x0.shape), generator, x0.device)
        return (self.net(self.noisy(x0, t, eps), t) - eps).pow(2).mean()

    @torch.no_grad()
    def update_ema(self) -> None:
        """Move the EMA weights towards the trained ones (call after each optimizer step)."""
        k = int(self.ema_updates)
        decay = min(self.ema_decay, (1 + k) / (10 + k))
        for e, p in zip(self.ema.parameters(), self.net.parameters(), strict=True):
            e.lerp_(p.detach(), 1 - decay)
        for e, b in zip(self.ema.buffers(), self.net.buffers(), strict=True):
            e.copy_(b)
        self.ema_updates += 1

    # ------------------------------------------------------------------ sampling

    def timesteps(self, steps: int) -> torch.Tensor:
        """``steps`` increasing integer times from 0 to ``t_start``, evenly spread (at most
        two in smoke mode, :func:`topolib.profiles.smoke_iterations`)."""
        steps = check_positive_int(steps, "steps")
        if steps > self.t_start + 1:
            raise ValueError(f"steps must be at most {self.t_start + 1} (the times from 0 to "
                             f"t_start = {self.t_start}); got {steps}")
        return torch.linspace(0, self.t_start, smoke_iterations(steps)).round().long()

    def _abar(self, t: int) -> torch.Tensor:
        return self.abar[t] if t >= 0 else torch.ones((), device=self.abar.device)

    @torch.no_grad()
    def sample_loop(self, x: torch.Tensor, steps: int, eta: float,
                    generator: torch.Generator | None = None, clip: bool = True) -> torch.Tensor:
        """Walk from noise ``x`` at time ``t_start`` to data, in ``steps`` steps (module docstring).

        ``eta`` 0 is DDIM (deterministic), 1 ancestral DDPM (needs ``generator``). ``clip``
        keeps each predicted clean sample inside the data range [-1, 1], as Ho et al. do.
        """
        if eta > 0 and generator is None:
            raise ValueError("a stochastic sampler (eta > 0) needs a generator")
        times = self.timesteps(steps).tolist()
        for t, t_next in zip(times[::-1], [*times[-2::-1], -1], strict=True):
            a, a_next = self._abar(t), self._abar(t_next)
            eps = self.ema(x, torch.full((x.shape[0],), t, device=x.device))
            x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
            if clip:
                x0 = x0.clamp(-1.0, 1.0)
                eps = (x - a.sqrt() * x0) / (1 - a).sqrt()  # the noise this clean guess implies
            sigma = eta * ((1 - a_next) / (1 - a) * (1 - a / a_next)).clamp_min(0).sqrt()
            x = a_next.sqrt() * x0 + (1 - a_next - sigma**2).clamp_min(0).sqrt() * eps
            if eta > 0 and t_next >= 0:
                x = x + sigma * randn(tuple(x.shape), generator, x.device)
        return x

    @torch.no_grad()
    def invert(self, x0: torch.Tensor, steps: int) -> torch.Tensor:
        """DDIM inversion: the noise at time ``t_start`` that DDIM with ``steps`` steps maps to
        ``x0`` (approximately: each step uses the noise predicted at the earlier time)."""
        times = self.timesteps(steps).tolist()
        x = x0
        for t_prev, t in zip([-1, *times[:-1]], times, strict=True):
            a_prev, a = self._abar(t_prev), self._abar(t)
            eps = self.ema(x, torch.full((x.shape[0],), max(t_prev, 0), device=x.device))
            x0_hat = (x - (1 - a_prev).sqrt() * eps) / a_prev.sqrt()
            x = a.sqrt() * x0_hat + (1 - a).sqrt() * eps
        return x


def _in_batches(step: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                batch_size: int) -> torch.Tensor:
    """``step`` applied to ``x`` ``batch_size`` rows at a time, the results concatenated."""
    return torch.cat([step(chunk) for chunk in x.split(check_positive_int(batch_size,
                                                                          "batch_size"))])


def _check_sampler(sampler: object) -> float:
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {sorted(SAMPLERS)}; got {sampler!r}")
    return SAMPLERS[sampler]


def _unit_interval(n_steps: object, device: torch.device) -> torch.Tensor:
    n_steps = check_positive_int(n_steps, "n_steps")
    if n_steps < 2:
        raise ValueError(f"n_steps must be an integer >= 2; got {n_steps}")
    return torch.linspace(0.0, 1.0, n_steps, device=device)


class DDPM(GenerativeModel):
    """Image diffusion model with a small U-Net (see the module docstring for the equations).

    Its latent code is the noise image at time ``t_start``, flattened: ``latent_dim = size^2``.
    ``decode`` is the deterministic DDIM sampler, ``invert`` DDIM inversion, and
    ``interpolate_many`` decodes great circles between the inverted noises (:func:`slerp`).

    Parameters
    ----------
    size : image side (16 in the cpu profile, where a step is cheap enough on one thread).
    channels : U-Net width at full resolution (32: about 0.3M parameters).
    levels : U-Net resolutions.
    T : diffusion steps.
    ema_decay : decay of the sampling weights' moving average.
    seed : seed of the weight initialisation.

    Attributes
    ----------
    sampler, sample_steps : what :meth:`sample` uses by default (``"ddim"``, 50); set them,
        or pass ``sampler=`` / ``steps=``, to change it. They are not part of the config:
        they change how a trained model is sampled, not what is trained.
    """

    sampler: str = "ddim"
    sample_steps: int = 50

    def __init__(self, size: int = 16, channels: int = 32, levels: int = 3, T: int = 1000,
                 ema_decay: float = 0.995, seed: int = 0) -> None:
        super().__init__()
        self.image_size = check_size(size)
        self.latent_dim = self.image_size**2
        self.channels = check_positive_int(channels, "channels")
        self.levels = check_positive_int(levels, "levels")
        self.seed = check_seed(seed)
        with seeded_init(self.seed, "topolib.models.diffusion"):
            self.diffusion = Diffusion(UNet(self.image_size, self.channels, self.levels), T,
                                       ema_decay)
        # Channels-last weights make every convolution run channels-last (the same arithmetic,
        # another memory order): a training step on one CPU thread is about 14% faster.
        self.diffusion.to(memory_format=torch.channels_last)

    def config(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "size": self.image_size,
                "channels": self.channels, "levels": self.levels, "T": self.diffusion.T,
                "ema_decay": self.diffusion.ema_decay, "seed": self.seed}

    # ------------------------------------------------------------------ generation

    #: keep each predicted clean sample in the data range [-1, 1] while sampling
    clip = True

    def _noise_shape(self, n: int) -> tuple[int, ...]:
        return (n, 1, self.image_size, self.image_size)

    def _to_model(self, x: torch.Tensor) -> torch.Tensor:
        """Data -> the diffusion's space: pixels in [0, 1] -> [-1, 1]."""
        return 2 * x - 1

    def _to_data(self, x: torch.Tensor) -> torch.Tensor:
        """The diffusion's space -> data: pixels in [0, 1]."""
        return ((x + 1) / 2).clamp(0.0, 1.0)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | int = 0, *, sampler: str | None = None,
               steps: int | None = None, batch_size: int = BATCH_SIZE) -> torch.Tensor:
        """``n`` images ``(n, 1, S, S)`` in [0, 1].

        Parameters
        ----------
        n : number of images.
        generator : torch Generator or int seed (the starting noise, and DDPM's noise).
        sampler : ``"ddim"`` (deterministic) or ``"ddpm"`` (ancestral); default ``self.sampler``.
        steps : number of sampling steps, 1 to ``t_start + 1`` (default ``self.sample_steps``).
        batch_size : images denoised at once (memory only; the result does not depend on it
            for DDIM, and for DDPM only through the order of the noise draws).
        """
        n = check_positive_int(n, "n")
        eta = _check_sampler(self.sampler if sampler is None else sampler)
        steps = self.sample_steps if steps is None else steps
        self.diffusion.timesteps(steps)  # checks steps before any work
        gen = as_generator(generator, "topolib.models.diffusion.sample", self.device)
        noise = randn(self._noise_shape(n), gen, self.device)
        return self._to_data(_in_batches(
            lambda chunk: self.diffusion.sample_loop(chunk, steps, eta, gen, clip=self.clip),
            noise, batch_size))

    @torch.no_grad()
    def decode(self, z: torch.Tensor, steps: int | None = None, *,
               batch_size: int = BATCH_SIZE) -> torch.Tensor:
        """DDIM images ``(n, 1, S, S)`` of noise codes ``z`` ``(n, S*S)``, in ``steps`` steps,
        ``batch_size`` codes at a time (memory only: the result does not depend on it)."""
        z = self._latents(z).view(self._noise_shape(-1))
        steps = steps or self.sample_steps
        return self._to_data(_in_batches(
            lambda chunk: self.diffusion.sample_loop(chunk, steps, 0.0, clip=self.clip),
            z, batch_size))

    @torch.no_grad()
    def invert(self, x: torch.Tensor, steps: int = 50,
               generator: torch.Generator | int = 0, *,
               batch_size: int = BATCH_SIZE) -> torch.Tensor:
        """DDIM inversion: noise codes ``(n, S*S)`` of images ``(n, 1, S, S)`` in [0, 1].

        ``steps`` is the number of DDIM steps (decode with the same number to return to the
        image); ``generator`` is unused (the inversion is deterministic); ``batch_size``
        images are inverted at a time (memory only).
        """
        del generator
        x = self._to_model(self._images(x))
        return _in_batches(lambda chunk: self.diffusion.invert(chunk, steps), x,
                           batch_size).flatten(1)

    def reconstruct(self, x: torch.Tensor, steps: int = 50,
                    generator: torch.Generator | int = 0) -> torch.Tensor:
        """``decode(invert(x))`` with ``steps`` DDIM steps both ways: ``(n, 1, S, S)``."""
        return self.decode(self.invert(x, steps, generator), steps)

    @torch.no_grad()
    def interpolate_many(self, x_a: torch.Tensor, x_b: torch.Tensor, n_steps: int = 16,
                         generator: torch.Generator | int = 0,
                         invert_steps: int = 50) -> torch.Tensor:
        """DDIM-decoded great circles between the inverted noises of pairs of images.

        Parameters
        ----------
        x_a, x_b : start and end images, each ``(k, 1, S, S)`` or ``(k, S, S)``.
        n_steps : images per path (>= 2), end points included.
        generator : unused (everything is deterministic).
        invert_steps : DDIM steps of the inversion and of the decoding.

        Returns
        -------
        ``(k, n_steps, 1, S, S)`` images.
        """
        t = _unit_interval(n_steps, self.device)
        x_a, x_b = self._images(x_a, "x_a"), self._images(x_b, "x_b")
        if x_a.shape[0] != x_b.shape[0]:
            raise ValueError(f"x_a and x_b must hold the same number of images; got "
                             f"{x_a.shape[0]} and {x_b.shape[0]}")
        k = x_a.shape[0]
        z = self.invert(torch.cat([x_a, x_b]), invert_steps, generator)
        path = slerp(z[:k], z[k:], t).reshape(k * len(t), self.latent_dim)
        images = self.decode(path, invert_steps)
        return images.view(k, len(t), *images.shape[1:])

    # ------------------------------------------------------------------ training

    def loss(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Noise-prediction MSE of pixel images ``x`` in [0, 1]: ``{"loss": scalar}``."""
        return {"loss": self.diffusion.loss(self._to_model(x), generator)}

    def configure_optimizers(
        self, lr: float | None = None, betas: tuple[float, float] | None = None
    ) -> dict[str, torch.optim.Optimizer]:
        """One Adam on the denoiser, ``{"model": ...}``; defaults lr 1e-3, betas (0.9, 0.999)."""
        return {"model": torch.optim.Adam(self.diffusion.net.parameters(), lr=lr or 1e-3,
                                          betas=betas or (0.9, 0.999))}

    def training_step(self, x: torch.Tensor, optimizers: dict[str, torch.optim.Optimizer],
                      generator: torch.Generator) -> dict[str, torch.Tensor]:
        losses = self.loss(x, generator)
        optimizers["model"].zero_grad(set_to_none=True)
        losses["loss"].backward()
        optimizers["model"].step()
        self.diffusion.update_ema()
        return {k: v.detach() for k, v in losses.items()}


class PointDDPM(DDPM):
    """Diffusion model of point clouds in R^D: the same :class:`Diffusion` with a
    :class:`~topolib.models.blocks.TimeMLP` denoiser, trained by the same loop.

    Points are multiplied by ``scale`` before diffusion and divided by it after sampling;
    there is no clipping. The diffusion's noise has unit variance per coordinate; ``scale``
    sets the data's size against it (a few units is a common choice). The latent code is the
    noise point at time ``t_start``, so ``latent_dim = D``.

    Parameters
    ----------
    ambient_dim : dimension D of the points.
    width, depth : width and number of residual blocks of the :class:`TimeMLP`.
    scale : factor from data units to the diffusion's units.
    T, ema_decay, seed : as for :class:`DDPM`.
    """

    def __init__(self, ambient_dim: int = 2, width: int = 128, depth: int = 2,
                 scale: float = 1.0, T: int = 1000, ema_decay: float = 0.995,
                 seed: int = 0) -> None:
        GenerativeModel.__init__(self)  # DDPM.__init__ would build the U-Net
        self.ambient_dim = self.latent_dim = check_positive_int(ambient_dim, "ambient_dim")
        self.width, self.depth = check_positive_int(width, "width"), check_positive_int(depth,
                                                                                       "depth")
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a finite number > 0; got {scale!r}")
        self.scale = float(scale)
        self.seed = check_seed(seed)
        with seeded_init(self.seed, "topolib.models.diffusion.points"):
            self.diffusion = Diffusion(TimeMLP(self.ambient_dim, self.width, self.depth), T,
                                       ema_decay)

    def config(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "ambient_dim": self.ambient_dim,
                "width": self.width, "depth": self.depth, "scale": self.scale,
                "T": self.diffusion.T, "ema_decay": self.diffusion.ema_decay, "seed": self.seed}

    # Points differ from images only in shape, range and clipping:
    def _noise_shape(self, n: int) -> tuple[int, ...]:
        return (n, self.ambient_dim)

    def _to_model(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale

    def _to_data(self, x: torch.Tensor) -> torch.Tensor:
        return x / self.scale

    clip = False
