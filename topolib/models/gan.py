"""A DCGAN-style GAN (Radford et al. 2016) with a spectrally normalised discriminator.

Generator ``G``: ``z ~ N(0, I)`` in R^latent_dim -> image: the shared conv decoder with batch
norm and replicate padding, a learnable output gain and bias, then a sigmoid. Discriminator
``D``: image -> one logit: the shared conv encoder with spectral normalisation (Miyato et al.
2018) on every layer. Losses, with ``softplus(t) = log(1 + e^t)``:

    loss_d = softplus(-D(x)) + softplus(D(G(z)))      (real -> 1, fake -> 0)
    loss_g = softplus(-D(G(z)))                       (non-saturating: make fakes look real)

Why this loss: spectral norm keeps D 1-Lipschitz per layer at the price of one power
iteration per layer and forward pass, so one D step per G step trains stably on a few
thousand images. WGAN-GP would need about five critic steps per G step plus a double backward
for the gradient penalty: several times the CPU cost for the same pictures at this size.
Batch norm in G is DCGAN's; without it G collapsed to blank images on our sparse pictures.
Outside training G runs in eval mode (running statistics): an image depends on its code only.

Two details make training fit a CPU budget (measured on the disk control, 5,000 images, batch
32: the report card passes after 14 epochs, where the plain DCGAN recipe at lr 2e-4 still had
every sample off the manifold after 16): zero padding gave G bright border rows that the
off-manifold check catches, so G pads by replication; and G's logits start at sigmoid(0) =
0.5 grey, far from our black backgrounds and bright strokes, so an output gain and bias (bias
starting at -3, i.e. dark) learn ten times faster than the rest. Adam runs at lr 5e-4 with
betas (0.5, 0.9).

A GAN has no encoder. ``invert`` projects images into the latent space by latent
optimisation: Adam on ``z`` to minimise ``|G(z) - x|^2``, from a few random starts, keeping
the best.

:class:`PointGAN` is the same game for point clouds in R^D: MLPs for G and D, G's output taken
as the point itself. Its D has no spectral norm: on inputs of 2 or 3 coordinates a
1-Lipschitz D can tell a point 0.1 off the circle from one on it by at most 0.1 in logit, and
G learned the circle five times worse (median distance 0.40 against 0.06 after 1,250 steps).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from topolib.models.blocks import (
    MLP,
    ConvDecoder,
    ConvEncoder,
    check_hidden,
    check_positive_int,
    check_size,
    seeded_init,
)
from topolib.models.interface import (
    GenerativeModel,
    as_generator,
    eval_mode,
    frozen,
    optimise_latents,
    randn,
)
from topolib.seeding import check_seed

__all__ = ["GAN", "PointGAN"]


class OutputAffine(nn.Module):
    """Learnable gain and bias on G's logits: ``a * t + b``, ``b`` starting at ``logit(0.05)``.

    Starting dark (the mean pixel of a blob image is ~0.05) and letting a gain with its own
    larger learning rate stretch the logits lets G reach the real peak (~0.97) and a clean
    background within a few thousand steps, instead of sigmoid(0) = 0.5 grey.
    """

    def __init__(self, bias: float = -3.0) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.ones(1))
        self.b = nn.Parameter(torch.full((1,), float(bias)))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return t * self.a + self.b


class GAN(GenerativeModel):
    """Non-saturating GAN with a spectral-norm DCGAN discriminator.

    Parameters
    ----------
    latent_dim : dimension d of the latent space (>= 1).
    size : image side, a power of two (32 in the cpu profile, 64 in the gpu profile).
    channels : width of the conv stages of G and D (32: about 265k parameters at size 32).
    seed : seed of the weight initialisation.
    """

    monitor = None  # neither GAN loss measures progress, so no early stopping

    def __init__(
        self, latent_dim: int = 2, size: int = 32, channels: int = 32, seed: int = 0
    ) -> None:
        super().__init__()
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.image_size = check_size(size)
        self.channels = check_positive_int(channels, "channels")
        self.seed = check_seed(seed)
        with seeded_init(self.seed, "topolib.models.gan"):
            self.G = ConvDecoder(self.latent_dim, size, channels, batchnorm=True,
                                 padding_mode="replicate")
            self.G.net.append(OutputAffine(-3.0))
            self.D = ConvEncoder(size, 1, channels, spectral=True)

    def config(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "latent_dim": self.latent_dim,
                "size": self.image_size, "channels": self.channels, "seed": self.seed}

    def _generate(self, z: torch.Tensor) -> torch.Tensor:
        """G's output for codes ``z``, as data: pixel intensities in [0, 1]."""
        return torch.sigmoid(self.G(z))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Generated images ``(n, 1, S, S)`` in [0, 1] of codes ``(n, latent_dim)``."""
        with eval_mode(self.G):  # batch norm with its running statistics
            return self._generate(self._latents(z))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | int = 0) -> torch.Tensor:
        """Generate ``n`` images ``(n, 1, S, S)``."""
        gen = as_generator(generator, "topolib.models.gan.sample")
        return self.decode(randn((check_positive_int(n, "n"), self.latent_dim), gen, self.device))

    def invert(
        self,
        x: torch.Tensor,
        steps: int = 200,
        generator: torch.Generator | int = 0,
        *,
        restarts: int = 4,
        lr: float = 0.05,
        batch_size: int = 128,
    ) -> torch.Tensor:
        """Latent codes ``(n, latent_dim)`` with ``G(z)`` closest to images ``(n, 1, S, S)``.

        Latent optimisation: ``restarts`` Gaussian starts per image, ``steps`` Adam steps of
        size ``lr`` on the pixel MSE, best start kept; ``batch_size`` images at a time. Cost:
        about ``steps * restarts`` generator passes per image (64 images with the defaults:
        ~1 min on 2 CPU cores at ``channels=32``).
        """
        x = self._images(x)
        steps = check_positive_int(steps, "steps")
        restarts = check_positive_int(restarts, "restarts")
        batch_size = check_positive_int(batch_size, "batch_size")
        if not (isinstance(lr, (int, float)) and 0 < lr < float("inf")):
            raise ValueError(f"lr must be a finite number > 0; got {lr!r}")
        gen = as_generator(generator, "topolib.models.gan.invert")
        decode = self._generate  # skips the input check
        with frozen(self), eval_mode(self.G), torch.enable_grad():
            parts = [
                optimise_latents(decode, chunk, self.latent_dim, steps=steps,
                                 restarts=restarts, lr=lr, generator=gen)[0]
                for chunk in x.split(batch_size)
            ]
        return torch.cat(parts)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`invert` with its defaults (slow: it optimises)."""
        return self.invert(x)

    def configure_optimizers(
        self, lr: float | None = None, betas: tuple[float, float] | None = None
    ) -> dict[str, torch.optim.Optimizer]:
        """Adam for G and for D; defaults lr 5e-4, betas (0.5, 0.9); G's output gain and bias
        learn 10x faster."""
        lr, betas = lr or 5e-4, betas or (0.5, 0.9)
        out = list(self.G.net[-1].parameters())
        rest = [p for p in self.G.parameters() if all(p is not q for q in out)]
        return {
            "generator": torch.optim.Adam(
                [{"params": rest}, {"params": out, "lr": 10 * lr}], lr=lr, betas=betas),
            "discriminator": torch.optim.Adam(self.D.parameters(), lr=lr, betas=betas),
        }

    def training_step(
        self,
        x: torch.Tensor,
        optimizers: dict[str, torch.optim.Optimizer],
        generator: torch.Generator,
    ) -> dict[str, torch.Tensor]:
        fake = self._generate(randn((x.shape[0], self.latent_dim), generator, x.device))
        # Discriminator step: real images -> 1, generated ones -> 0. One pass over both
        # halves is ~10% faster on CPU than two (D has no batch statistics to mix).
        logits = self.D(torch.cat([x, fake.detach()]))
        d_real, d_fake = logits[: len(x)], logits[len(x) :]
        loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        optimizers["discriminator"].zero_grad(set_to_none=True)
        loss_d.backward()
        optimizers["discriminator"].step()
        # Generator step (non-saturating): make the updated D call the fakes real.
        with frozen(self.D):  # no gradients for D's weights here
            loss_g = F.softplus(-self.D(fake)).mean()
            optimizers["generator"].zero_grad(set_to_none=True)
            loss_g.backward()
        optimizers["generator"].step()
        return {
            "loss_d": loss_d.detach(),
            "loss_g": loss_g.detach(),
            "d_real": torch.sigmoid(d_real).mean().detach(),
            "d_fake": torch.sigmoid(d_fake).mean().detach(),
        }


class PointGAN(GAN):
    """The GAN for point clouds in R^D: MLP generator and MLP discriminator.

    Parameters
    ----------
    latent_dim : dimension d of the latent space (>= 1).
    ambient_dim : dimension D of the points.
    hidden : widths of the hidden layers of G and D.
    seed : seed of the weight initialisation.
    """

    def __init__(self, latent_dim: int = 2, ambient_dim: int = 3,
                 hidden: tuple[int, ...] = (128, 128), seed: int = 0) -> None:
        GenerativeModel.__init__(self)  # GAN.__init__ would build the conv nets
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.ambient_dim = check_positive_int(ambient_dim, "ambient_dim")
        self.hidden = check_hidden(hidden)
        self.seed = check_seed(seed)
        with seeded_init(self.seed, "topolib.models.gan.points"):
            self.G = MLP(self.latent_dim, self.ambient_dim, self.hidden)
            self.D = MLP(self.ambient_dim, 1, self.hidden)

    def config(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "latent_dim": self.latent_dim,
                "ambient_dim": self.ambient_dim, "hidden": list(self.hidden), "seed": self.seed}

    def _generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.G(z)

    def configure_optimizers(
        self, lr: float | None = None, betas: tuple[float, float] | None = None
    ) -> dict[str, torch.optim.Optimizer]:
        """Adam for G and for D; defaults lr 5e-4, betas (0.5, 0.9)."""
        lr, betas = lr or 5e-4, betas or (0.5, 0.9)
        return {"generator": torch.optim.Adam(self.G.parameters(), lr=lr, betas=betas),
                "discriminator": torch.optim.Adam(self.D.parameters(), lr=lr, betas=betas)}
