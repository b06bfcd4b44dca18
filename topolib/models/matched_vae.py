"""A VAE whose latent space has the topology of the data (the constructive fix; DESIGN.md 3).

The conv encoder, conv decoder and Bernoulli likelihood of :class:`~topolib.models.VAE`, with
the Gaussian latent replaced by a space from :mod:`topolib.models.latent_spaces` (circle,
torus, sphere, two circles, RP^2, Klein bottle):

- posterior on each sphere factor: the power spherical distribution ``PowerSpherical(mu(x),
  kappa(x))`` (De Cao and Aziz 2020): a reparameterised sampler without rejection, and a
  closed-form KL to the uniform distribution (unlike the von Mises-Fisher);
- prior: uniform on the space, so ``KL = sum over factors KL(PS || uniform)``;
- two components (``two_circles``): a posterior ``q(k | x)`` over the two circles and one
  power spherical per circle; the discrete choice is summed *exactly*, not sampled:

      loss = sum_k q(k|x) BCE(x, decoder(k, z_k)) + beta * [KL(q(k|x) || uniform)
             + sum_k q(k|x) KL(q(z | x, k) || uniform)],   z_k ~ q(z | x, k)

  With ``balance > 0`` the loss adds ``balance * KL(mean_x q(k|x) || uniform)`` over the
  batch: zero when the two circles are used equally (the ELBO's optimum on balanced data is
  unchanged), it stops the measured collapse of the pure ELBO onto one component (seed 0 at
  the VAE chapter's cpu settings: ``q(k=1|x) = 0`` for every image, one latent circle for
  both data circles, every reconstruction off the manifold);
- with ``assign > 0`` (two circles) the loss also adds ``assign`` times the cross-entropy of
  ``q(k|x)`` to a component teacher's label (:meth:`MatchedVAE.set_component_teacher`: the
  label of the nearest of some training images whose components were read from the data, by
  :func:`topolib.matched_study.component_labels`), so the two latent circles take the two data
  circles rather than a split by angle;
- quotients (``projective``, ``klein``): the latent is the double cover (S^2, the torus) and
  the decoder reads features that are invariant under the identification, so decoding is a
  continuous map on the quotient itself.

Latent codes are unit vectors per factor (``latent_dim`` = their ambient dimension: circle 2,
torus and klein 4, sphere and projective 3, two circles 3 = a sign ``-1 / +1`` for the
component, then the circle). ``decode`` accepts any real codes and maps them onto the space
first (normalised per factor, the sign read by its sign). ``interpolate_many`` follows the
latent space's own geodesics, not straight lines (:meth:`LatentSpace.geodesic`).

A matched latent removes the topological obstruction, not the optimisation: the encoder,
restricted to the data manifold, is a continuous map into the latent space whose homotopy
class training rarely changes. On the torus at the VAE chapter's cpu settings most seeds end
with a data loop folded into an arc of a latent circle (:func:`encoder_winding` reads the
class), and those models fail the report card; their training loss is measurably higher.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.distributions import kl_divergence

from topolib.datasets.base import TWO_PI, ImageManifold
from topolib.datasets.registry import get_dataset
from topolib.models.blocks import (
    ConvDecoder,
    ConvEncoder,
    check_positive_int,
    check_size,
    seeded_init,
)
from topolib.models.interface import GenerativeModel, as_generator
from topolib.models.latent_spaces import (
    LatentSpace,
    get_latent_space,
    power_spherical,
    seeded_rsample,
    uniform_prior,
)
from topolib.models.vae import VAE

__all__ = ["MatchedVAE", "SphericalPosterior", "encoder_winding"]

#: The concentration is ``softplus(raw) + KAPPA_MIN``: bounded away from 0, where the Beta
#: sampler's gradients are steep.
KAPPA_MIN = 1.0


@dataclass
class SphericalPosterior:
    """The encoder's posterior for a batch of ``n`` images over ``C`` components.

    Attributes
    ----------
    locs : per sphere factor, mean directions ``(n, C, d_i)`` (unit vectors).
    kappas : per sphere factor, concentrations ``(n, C)``.
    logits : ``(n, C)`` logits of ``q(k | x)`` (zeros when ``C = 1``).
    """

    locs: list[torch.Tensor]
    kappas: list[torch.Tensor]
    logits: torch.Tensor

    def distributions(self) -> list[torch.distributions.Distribution]:
        """One power spherical distribution per factor, batch shape ``(n, C)``."""
        return [power_spherical(m, k) for m, k in zip(self.locs, self.kappas, strict=True)]


class MatchedVAE(VAE):
    """Conv VAE with a latent space of the data's topology.

    Parameters
    ----------
    latent : the latent space: ``"circle"``, ``"torus"``, ``"sphere"``, ``"two_circles"``,
        ``"projective"`` or ``"klein"``.
    size : image side, a power of two.
    channels : width of the first conv stage.
    beta : weight of the KL term (1 is the true ELBO).
    seed : seed of the weight initialisation.
    balance : weight of the batch's component balance term (two components only; 0 is the
        pure ELBO).
    assign : weight of the component teacher's cross-entropy (two components only; needs
        :meth:`set_component_teacher`; 0 is the pure ELBO).

    >>> MatchedVAE("torus", size=32).sample(4, generator=0).shape
    torch.Size([4, 1, 32, 32])
    """

    def __init__(self, latent: str = "circle", size: int = 32, channels: int = 32,
                 beta: float = 1.0, seed: int = 0, balance: float = 0.0,
                 assign: float = 0.0) -> None:
        GenerativeModel.__init__(self)  # VAE.__init__ would build a Gaussian head
        self.space: LatentSpace = get_latent_space(latent)
        self._set_common(self.space.latent_dim, beta, seed)
        self.image_size = check_size(size)
        self.channels = check_positive_int(channels, "channels")
        if isinstance(balance, bool) or not isinstance(balance, (int, float)) \
                or not math.isfinite(balance) or balance < 0:
            raise ValueError(f"balance must be a finite number >= 0; got {balance!r}")
        self.balance = float(balance)
        if isinstance(assign, bool) or not isinstance(assign, (int, float)) \
                or not math.isfinite(assign) or assign < 0:
            raise ValueError(f"assign must be a finite number >= 0; got {assign!r}")
        if assign > 0 and self.space.components < 2:
            raise ValueError(f"assign must be 0 on the {latent!r} latent space: it has one "
                             "component")
        self.assign = float(assign)
        #: Labelled anchor images of the component teacher (:meth:`set_component_teacher`).
        self.anchors: tuple[torch.Tensor, torch.Tensor] | None = None
        c = self.space.components
        per_component = sum(d + 1 for d in self.space.factors)  # direction and concentration
        n_out = c * per_component + (c if c > 1 else 0)  # and the logits of q(k | x)
        with seeded_init(self.seed, "topolib.models.matched_vae"):
            self.encoder = ConvEncoder(size, n_out, channels)
            self.decoder = ConvDecoder(self.space.feature_dim, size, channels)

    @property
    def latent(self) -> str:
        """Name of the latent space."""
        return self.space.name

    def config(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "latent": self.latent, "size": self.image_size,
                "channels": self.channels, "beta": self.beta, "seed": self.seed,
                "balance": self.balance, "assign": self.assign}

    def set_component_teacher(self, images: torch.Tensor | np.ndarray,
                              labels: torch.Tensor | np.ndarray) -> None:
        """Anchor images ``(m, 1, S, S)`` or ``(m, S, S)`` with component labels ``(m,)`` in
        ``{0, ..., C - 1}``: with ``assign > 0`` the loss adds ``assign`` times the
        cross-entropy of ``q(k | x)`` to the label of the nearest anchor (in pixels).

        The labels come from the data, not from the model, e.g. the connected components of
        the training images found by single linkage
        (:func:`topolib.matched_study.component_labels`)."""
        x = self._images(torch.as_tensor(images, dtype=torch.float32)).flatten(1)
        y = torch.as_tensor(labels).long()
        if y.shape != (x.shape[0],):
            raise ValueError(f"labels must have shape ({x.shape[0]},), one per image; got "
                             f"{tuple(y.shape)}")
        c = self.space.components
        if c < 2 or not bool(((y >= 0) & (y < c)).all()) or y.unique().numel() != c:
            raise ValueError(f"labels must use every component 0 .. {c - 1} of the "
                             f"{self.latent!r} latent space (and it must have two or more); "
                             f"got {y.unique().tolist()}")
        self.anchors = (x, y)

    def teacher_labels(self, x: torch.Tensor) -> torch.Tensor:
        """``(n,)`` component of the nearest anchor image of each image ``(n, 1, S, S)``."""
        if self.anchors is None:
            raise ValueError("no component teacher: call set_component_teacher first")
        anchors, labels = self.anchors
        d = torch.cdist(x.flatten(1), anchors.to(x.device))
        return labels.to(x.device)[d.argmin(1)]

    # ------------------------------------------------------------------ the posterior

    def posterior(self, x: torch.Tensor) -> SphericalPosterior:  # type: ignore[override]
        """The power spherical posterior of images ``(n, 1, S, S)`` (:class:`SphericalPosterior`)."""
        n, c = x.shape[0], self.space.components
        out = self.encoder(x)
        n_logits = c if c > 1 else 0  # one component: q(k | x) = 1, no logit
        logits = out[:, :n_logits] if n_logits else out.new_zeros(n, 1)
        out = out[:, n_logits:].reshape(n, c, -1)  # per component: direction, kappa per factor
        locs, kappas, start = [], [], 0
        for d in self.space.factors:
            locs.append(F.normalize(out[..., start:start + d], dim=-1))
            kappas.append(F.softplus(out[..., start + d]) + KAPPA_MIN)
            start += d + 1
        return SphericalPosterior(locs, kappas, logits)

    def _codes(self, factors: list[torch.Tensor], component: int | torch.Tensor,
               n: int) -> torch.Tensor:
        """Codes ``(n, latent_dim)`` from factor vectors ``(n, d_i)`` and a component index."""
        sign = None
        if self.space.components > 1:
            k = torch.as_tensor(component, device=factors[0].device).expand(n)
            sign = (2.0 * k - 1.0).to(factors[0].dtype)
        return self.space.join(factors, sign)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior mean directions ``(n, latent_dim)`` of images ``(n, 1, S, S)``, in the most
        probable component."""
        post = self.posterior(self._images(x))
        k = post.logits.argmax(1)
        rows = torch.arange(k.shape[0], device=k.device)
        return self._codes([m[rows, k] for m in post.locs], k, k.shape[0])

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Mean images ``(n, 1, S, S)`` in [0, 1] of codes ``(n, latent_dim)``, mapped onto the
        space first."""
        codes = self.space.project(self._latents(z))
        return self._mean(self.decoder(self.space.features(codes)))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | int = 0) -> torch.Tensor:
        """Decode ``n`` draws of the uniform prior on the latent space: ``(n, 1, S, S)``."""
        gen = as_generator(generator, "topolib.models.matched_vae.sample")
        return self.decode(self.space.sample(check_positive_int(n, "n"), gen, self.device))

    def loss(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Negative ELBO per image (``loss``) and its parts ``recon`` and ``kl``, batch means;
        the component (two circles) is summed exactly, and ``balance`` (two circles: the KL of
        the batch's mean ``q(k|x)`` to uniform) is added to ``loss`` with its weight."""
        n, c = x.shape[0], self.space.components
        post = self.posterior(x)
        dists = post.distributions()
        draws = [seeded_rsample(q, generator) for q in dists]  # each (n, C, d_i)
        kl_z = sum(kl_divergence(q, uniform_prior(d, x.device))
                   for q, d in zip(dists, self.space.factors, strict=True))  # (n, C)
        recon = torch.stack([
            self._reconstruction(self.decoder(self.space.features(
                self._codes([z[:, k] for z in draws], k, n))), x)
            for k in range(c)], dim=1)  # (n, C)
        q_k = post.logits.softmax(1)
        kl_k = (q_k * (post.logits.log_softmax(1) + math.log(c))).sum(1)
        recon = (q_k * recon).sum(1).mean()
        kl = (kl_k + (q_k * kl_z).sum(1)).mean()
        out = {"loss": recon + self.beta * kl, "recon": recon, "kl": kl}
        if c > 1:
            q_mean = q_k.mean(0)
            out["balance"] = (q_mean * (q_mean.clamp_min(1e-12).log() + math.log(c))).sum()
            out["loss"] = out["loss"] + self.balance * out["balance"]
            if self.assign > 0:
                if self.anchors is None:
                    raise ValueError("assign > 0 needs a component teacher: call "
                                     "set_component_teacher before training")
                out["assign"] = F.cross_entropy(post.logits, self.teacher_labels(x))
                out["loss"] = out["loss"] + self.assign * out["assign"]
        return out

    # ------------------------------------------------------------------ interpolation

    def latent_path(self, z_a: torch.Tensor, z_b: torch.Tensor, n_steps: int) -> torch.Tensor:
        """Latent *geodesics* ``(k, n_steps, latent_dim)`` (:meth:`LatentSpace.geodesic`):
        great circles per factor, the nearer lift on a quotient, and on two circles a jump of
        component at the middle of the path when the end points lie on different circles.
        :meth:`interpolate_many` decodes them between the encoder's codes of two images."""
        return self.space.geodesic(z_a, z_b, n_steps)


def encoder_winding(model: MatchedVAE, dataset: str | ImageManifold,
                    n_points: int = 96) -> np.ndarray:
    """How often the encoder's codes wind round each circle factor of the latent space along
    each of the dataset's basic loops (one angle parameter 0 -> 2 pi, the others at 0).

    A continuous encoder restricted to the data manifold has a homotopy class, and these
    integers are it: a matched torus latent needs an invertible matrix (identity up to sign
    and order); a degenerate one (a zero row or column) means a loop of the data is folded
    into an arc of the latent circle, so its images cannot all be reconstructed. Training
    changes the class only where a posterior mean direction passes through zero, so it can
    stay stuck in the wrong one.

    Parameters
    ----------
    model : a MatchedVAE.
    dataset : a dataset with angle parameters (circle, torus, klein, two_circles).
    n_points : images per loop (the angle steps must be small next to pi).

    Returns
    -------
    ``(n_loops, n_circle_factors)`` integers (rounded; ``float`` NaN-free), row ``i`` the loop
    of the ``i``-th angle parameter, column ``j`` the ``j``-th S^1 factor.
    """
    ds = get_dataset(dataset)
    n_points = check_positive_int(n_points, "n_points")
    if not ds.angle_columns:
        raise ValueError(f"dataset {ds.name!r} has no angle parameters to loop over")
    circles = [i for i, d in enumerate(model.space.factors) if d == 2]
    if not circles:
        raise ValueError(f"the {model.latent!r} latent space has no circle factor")
    angles = np.arange(n_points) * (TWO_PI / n_points)
    out = np.zeros((len(ds.angle_columns), len(circles)), dtype=int)
    for row, column in enumerate(ds.angle_columns):
        params = np.zeros((n_points, ds.param_dim))
        params[:, column] = angles
        x = torch.from_numpy(ds.render(params, model.image_size))
        with torch.no_grad():
            factors = model.space.split(model.encode(x).cpu().double())
        for col, i in enumerate(circles):
            theta = torch.atan2(factors[i][:, 1], factors[i][:, 0])
            step = torch.remainder(theta.roll(-1) - theta + math.pi, TWO_PI) - math.pi
            out[row, col] = round(float(step.sum()) / TWO_PI)
    return out
