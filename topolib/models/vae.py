"""A convolutional variational autoencoder (Kingma and Welling 2014).

Prior ``z ~ N(0, I)`` in R^latent_dim; encoder ``q(z | x) = N(mu(x), diag(exp(logvar(x))))``;
decoder: independent Bernoulli pixels with means ``sigmoid(decoder(z))``. The loss per image,
in nats, is the negative ELBO with a KL weight ``beta``:

    loss = BCE(x, decoder(z)) summed over pixels + beta * KL(q(z | x) || N(0, I))

Why Bernoulli: our images are mostly black backgrounds with bright strokes, in [0, 1]. The
binary cross-entropy accepts such grey targets, needs no noise scale (a Gaussian likelihood
needs a variance, and a fixed one is just a hidden second KL weight), and its gradient does not
vanish for pixels near 0 or 1, so thin strokes are learned early. ``decode`` returns the mean
image, never Bernoulli noise.

:class:`PointVAE` is the same model for point clouds in R^D: MLPs in place of the conv nets
and a Gaussian likelihood with a fixed standard deviation ``sigma`` in place of the Bernoulli
one, ``recon = |x - decoder(z)|^2 / (2 sigma^2)`` per point (up to a constant). A small
``sigma`` asks for sharp reconstructions, like a small ``beta``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from topolib.models.blocks import (
    MLP,
    ConvDecoder,
    ConvEncoder,
    check_hidden,
    check_positive_int,
    check_size,
    seeded_init,
)
from topolib.models.interface import GenerativeModel, as_generator, randn
from topolib.seeding import check_seed

__all__ = ["VAE", "PointVAE"]


class VAE(GenerativeModel):
    """Conv VAE with a Gaussian latent of dimension ``latent_dim``.

    Parameters
    ----------
    latent_dim : dimension d of the latent space (>= 1).
    size : image side, a power of two (32 in the cpu profile, 64 in the gpu profile).
    channels : width of the first conv stage (32: about 270k parameters at size 32).
    beta : weight of the KL term (1 is the true ELBO).
    seed : seed of the weight initialisation.
    """

    def __init__(
        self, latent_dim: int = 2, size: int = 32, channels: int = 32, beta: float = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self._set_common(latent_dim, beta, seed)
        self.image_size = check_size(size)
        self.channels = check_positive_int(channels, "channels")
        with seeded_init(self.seed, "topolib.models.vae"):
            self.encoder = ConvEncoder(size, 2 * self.latent_dim, channels)
            self.decoder = ConvDecoder(self.latent_dim, size, channels)

    def _set_common(self, latent_dim: int, beta: float, seed: int) -> None:
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        if not isinstance(beta, (int, float)) or not math.isfinite(beta) or beta < 0:
            raise ValueError(f"beta must be a finite number >= 0; got {beta!r}")
        self.beta = float(beta)
        self.seed = check_seed(seed)

    def config(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "latent_dim": self.latent_dim,
                "size": self.image_size, "channels": self.channels, "beta": self.beta,
                "seed": self.seed}

    # The two places where images and points differ: the decoder's output and the likelihood.
    def _mean(self, logits: torch.Tensor) -> torch.Tensor:
        """Mean of p(x | z) from the decoder's output: pixel intensities in [0, 1]."""
        return torch.sigmoid(logits)

    def _reconstruction(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x | z) per sample ``(n,)``: Bernoulli pixels, summed."""
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        return bce.flatten(1).sum(1)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x), each ``(n, latent_dim)``."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior means ``(n, latent_dim)`` of images ``(n, 1, S, S)`` (points ``(n, D)``)."""
        return self.posterior(self._images(x))[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Mean images ``(n, 1, S, S)`` in [0, 1] of codes ``(n, latent_dim)``."""
        return self._mean(self.decoder(self._latents(z)))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | int = 0) -> torch.Tensor:
        """Decode ``n`` draws of the prior: ``(n, 1, S, S)``."""
        gen = as_generator(generator, "topolib.models.vae.sample")
        return self.decode(randn((check_positive_int(n, "n"), self.latent_dim), gen, self.device))

    def loss(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Negative ELBO per image (``loss``) and its parts ``recon`` and ``kl``, batch means."""
        mu, logvar = self.posterior(x)
        z = mu + (0.5 * logvar).exp() * randn(tuple(mu.shape), generator, x.device)
        recon = self._reconstruction(self.decoder(z), x).mean()
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1).mean()
        return {"loss": recon + self.beta * kl, "recon": recon, "kl": kl}

    def training_step(
        self,
        x: torch.Tensor,
        optimizers: dict[str, torch.optim.Optimizer],
        generator: torch.Generator,
    ) -> dict[str, torch.Tensor]:
        losses = self.loss(x, generator)
        optimizers["model"].zero_grad(set_to_none=True)
        losses["loss"].backward()
        optimizers["model"].step()
        return {k: v.detach() for k, v in losses.items()}


class PointVAE(VAE):
    """The VAE for point clouds in R^D: MLP encoder and decoder, Gaussian likelihood.

    Parameters
    ----------
    latent_dim : dimension d of the latent space (>= 1).
    ambient_dim : dimension D of the points.
    hidden : widths of the hidden layers of both MLPs.
    sigma : standard deviation of the Gaussian likelihood p(x | z), in data units.
    beta : weight of the KL term.
    seed : seed of the weight initialisation.
    """

    def __init__(self, latent_dim: int = 2, ambient_dim: int = 3,
                 hidden: tuple[int, ...] = (128, 128), sigma: float = 0.05, beta: float = 1.0,
                 seed: int = 0) -> None:
        GenerativeModel.__init__(self)  # VAE.__init__ would build the conv nets
        self._set_common(latent_dim, beta, seed)
        self.ambient_dim = check_positive_int(ambient_dim, "ambient_dim")
        self.hidden = check_hidden(hidden)
        if not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma <= 0:
            raise ValueError(f"sigma must be a finite number > 0; got {sigma!r}")
        self.sigma = float(sigma)
        with seeded_init(self.seed, "topolib.models.vae.points"):
            self.encoder = MLP(self.ambient_dim, 2 * self.latent_dim, self.hidden)
            self.decoder = MLP(self.latent_dim, self.ambient_dim, self.hidden)

    def config(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "latent_dim": self.latent_dim,
                "ambient_dim": self.ambient_dim, "hidden": list(self.hidden),
                "sigma": self.sigma, "beta": self.beta, "seed": self.seed}

    def _mean(self, logits: torch.Tensor) -> torch.Tensor:
        return logits

    def _reconstruction(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return (logits - x).pow(2).sum(1) / (2 * self.sigma**2)
