"""Latent spaces with the topology of the data, for the topology-matched VAE.

A latent space is a product of round spheres ``S^{d_1 - 1} x S^{d_2 - 1} x ...`` (each factor a
unit vector in R^{d_i}), optionally times a finite set of components, with a map to the
features the decoder reads. A code ``z`` is the concatenation of the factors' unit vectors,
preceded, when there are two components, by a sign coordinate ``s`` in ``{-1, +1}``:

=============== =========== ============================ =======================================
name            latent_dim  space                        decoder features of ``z``
=============== =========== ============================ =======================================
``circle``      2           S^1 in R^2                   ``z``
``torus``       4           S^1 x S^1 in R^4             ``z``
``sphere``      3           S^2 in R^3                   ``z``
``two_circles`` 3           {-1, +1} x S^1               ``z`` = ``(s, cos t, sin t)``
``projective``  3           S^2, read modulo ``v ~ -v``  Veronese map (6 features)
``klein``       4           S^1 x S^1, read modulo       the 5-D Klein embedding
                            ``(u, v) ~ (u + pi, -v)``
=============== =========== ============================ =======================================

The quotient spaces are represented by their double covers (S^2 for RP^2, the torus for the
Klein bottle), decoded through features that are invariant under the identification, so the
decoder is a continuous map on the quotient itself:

- Veronese map ``v -> (v_1^2, v_2^2, v_3^2, sqrt2 v_1 v_2, sqrt2 v_1 v_3, sqrt2 v_2 v_3)``, the
  upper triangle of ``v v^T``: an embedding of RP^2 in R^6, the same for ``v`` and ``-v``.
- Klein map, angles ``u, v`` of the two circle factors:
  ``(cos 2u, sin 2u, cos v, sin v cos u, sin v sin u)``. The identification
  ``(u, v) -> (u + pi, -v)`` leaves each feature unchanged (the last two change sign twice),
  and the map is one-to-one on the quotient and an immersion, so it embeds the Klein bottle in
  R^5. The dataset's ``(theta + pi, phi) ~ (theta, pi - phi)`` is the same with
  ``v = phi - pi / 2``.

Two components: the sign ``s`` picks the circle; codes with any real first coordinate are
read by its sign (``s >= 0`` -> +1). So a standard normal draw, normalised factor-wise and
read by sign, is exactly a draw of the uniform prior (``decode`` of N(0, I) codes samples the
prior, as :func:`topolib.experiments.latent_atlas` assumes).

Geodesics (:meth:`LatentSpace.geodesic`): great circles per sphere factor (slerp at constant
speed; between antipodes a fixed perpendicular direction is chosen); on the torus that is the
pair of shorter arcs; on RP^2 and the Klein bottle the shorter of the two lifts of the end
point; across the two components there is no path, so the angle follows its circle while the
component jumps from the start's to the end's at the middle of the path (``t >= 1/2``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from power_spherical import HypersphericalUniform, PowerSpherical

from topolib.models.blocks import check_positive_int
from topolib.models.interface import randn

__all__ = [
    "LATENT_SPACES",
    "LatentSpace",
    "get_latent_space",
    "klein_features",
    "power_spherical",
    "seeded_rsample",
    "slerp",
    "sphere_log_area",
    "uniform_prior",
    "uniform_sphere",
    "veronese",
]

_EPS = 1e-7


def sphere_log_area(dim: int) -> float:
    """``log`` of the area of the unit sphere S^{dim - 1} in R^dim: ``log(2 pi^{d/2} / G(d/2))``
    (circle: ``log 2 pi``, S^2: ``log 4 pi``)."""
    dim = check_positive_int(dim, "dim")
    return math.log(2.0) + 0.5 * dim * math.log(math.pi) - math.lgamma(0.5 * dim)


def uniform_sphere(n: int, dim: int, generator: torch.Generator,
                   device: torch.device | str = "cpu") -> torch.Tensor:
    """``(n, dim)`` uniform draws on the unit sphere in R^dim (normalised Gaussians)."""
    v = randn((check_positive_int(n, "n"), check_positive_int(dim, "dim")), generator,
              torch.device(device))
    return v / v.norm(dim=-1, keepdim=True).clamp_min(_EPS)


def power_spherical(loc: torch.Tensor, kappa: torch.Tensor) -> PowerSpherical:
    """The power spherical distribution (De Cao and Aziz 2020) with mean direction ``loc``
    ``(..., d)`` (unit vectors) and concentration ``kappa`` ``(...)`` > 0: density
    ``C(kappa, d) (1 + loc . z)^kappa`` on S^{d-1}."""
    return PowerSpherical(loc, kappa)


def uniform_prior(dim: int, device: torch.device | str = "cpu") -> HypersphericalUniform:
    """The uniform distribution on S^{dim - 1} in R^dim (the package counts ambient dims)."""
    return HypersphericalUniform(dim, device=torch.device(device))


def seeded_rsample(dist: torch.distributions.Distribution,
                   generator: torch.Generator) -> torch.Tensor:
    """A reparameterised draw ``(*batch, d)`` of a distribution on the unit sphere (a power
    spherical), whose noise comes from ``generator``, renormalised onto the sphere.

    torch's Beta sampler (inside the power spherical sampler) takes no generator, so this
    draws a seed from ``generator`` and samples under a forked, seeded global random state,
    which is restored afterwards. The package's draws are unit vectors only up to its
    ``1e-7`` clamps (off by up to ~1e-3 on S^1), hence the renormalisation.
    """
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
    device = dist.loc.device if hasattr(dist, "loc") else torch.device("cpu")
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        z = dist.rsample()
    return z / z.norm(dim=-1, keepdim=True).clamp_min(_EPS)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Great-circle paths at constant speed between unit vectors.

    Parameters
    ----------
    a, b : ``(k, d)`` start and end unit vectors.
    t : ``(m,)`` times in [0, 1].

    Returns
    -------
    ``(k, m, d)``: ``cos(t w) a + sin(t w) p`` with ``w`` the angle from ``a`` to ``b`` and
    ``p`` the unit tangent at ``a`` towards ``b`` (for antipodes, a fixed perpendicular).
    """
    cos_w = (a * b).sum(-1, keepdim=True).clamp(-1.0, 1.0)
    w = torch.arccos(cos_w)  # (k, 1)
    p = b - cos_w * a
    norm = p.norm(dim=-1, keepdim=True)
    # antipodes (or equal points): any perpendicular of a, from the axis least aligned with it
    axis = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)[a.abs().argmin(-1)]
    perp = axis - (axis * a).sum(-1, keepdim=True) * a
    perp = perp / perp.norm(dim=-1, keepdim=True).clamp_min(_EPS)
    p = torch.where(norm > 1e-6, p / norm.clamp_min(_EPS), perp)
    tw = t[None, :, None] * w[:, None, :]  # (k, m, 1)
    return torch.cos(tw) * a[:, None] + torch.sin(tw) * p[:, None]


def veronese(v: torch.Tensor) -> torch.Tensor:
    """``(n, 3)`` unit vectors -> ``(n, 6)`` upper triangle of ``v v^T`` (off-diagonal terms
    times sqrt 2, so the map is an isometric embedding of RP^2 up to a factor); even in ``v``."""
    x, y, z = v.unbind(-1)
    r2 = math.sqrt(2.0)
    return torch.stack([x * x, y * y, z * z, r2 * x * y, r2 * x * z, r2 * y * z], dim=-1)


def klein_features(z: torch.Tensor) -> torch.Tensor:
    """``(n, 4)`` torus codes ``(cos u, sin u, cos v, sin v)`` -> ``(n, 5)`` Klein embedding
    ``(cos 2u, sin 2u, cos v, sin v cos u, sin v sin u)``, invariant under
    ``(u, v) -> (u + pi, -v)``, i.e. ``z -> (-z_1, -z_2, z_3, -z_4)``."""
    c1, s1, c2, s2 = z.unbind(-1)
    return torch.stack([c1 * c1 - s1 * s1, 2 * c1 * s1, c2, s2 * c1, s2 * s1], dim=-1)


@dataclass(frozen=True)
class LatentSpace:
    """A product of spheres, optionally times two components, with its decoder features.

    Attributes
    ----------
    name : one of :data:`LATENT_SPACES`.
    factors : ambient dimension of each sphere factor, e.g. ``(2, 2)`` for the torus.
    components : number of discrete components (1 or 2); with 2 the code starts with a sign.
    quotient : ``""``, ``"veronese"`` (RP^2) or ``"klein"``: the invariant decoder features.
    """

    name: str
    factors: tuple[int, ...]
    components: int = 1
    quotient: str = ""

    @property
    def offset(self) -> int:
        """Index of the first sphere coordinate (1 when a sign coordinate comes first)."""
        return 1 if self.components > 1 else 0

    @property
    def latent_dim(self) -> int:
        """Length of a code: the sign coordinate (if any) and the factors' unit vectors."""
        return self.offset + sum(self.factors)

    @property
    def feature_dim(self) -> int:
        """Length of the decoder's input."""
        return {"veronese": 6, "klein": 5}.get(self.quotient, self.latent_dim)

    @property
    def manifold_dim(self) -> int:
        """Dimension of the space (each S^{d-1} factor counts d - 1)."""
        return sum(d - 1 for d in self.factors)

    def log_area(self) -> float:
        """``log`` of the total volume of the (cover) space: the uniform prior's log-density is
        its negative."""
        return math.log(self.components) + sum(sphere_log_area(d) for d in self.factors)

    def split(self, z: torch.Tensor) -> list[torch.Tensor]:
        """The sphere factors ``[(..., d_1), (..., d_2), ...]`` of codes ``(..., latent_dim)``."""
        return list(z[..., self.offset:].split(list(self.factors), dim=-1))

    def join(self, factors: list[torch.Tensor], sign: torch.Tensor | None = None) -> torch.Tensor:
        """Codes ``(..., latent_dim)`` from factors (and, with two components, signs ``(...)``)."""
        parts = [] if sign is None else [sign[..., None]]
        return torch.cat([*parts, *factors], dim=-1)

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """Codes onto the space: each factor normalised, the sign coordinate read by its sign."""
        factors = [f / f.norm(dim=-1, keepdim=True).clamp_min(_EPS) for f in self.split(z)]
        sign = None
        if self.components > 1:
            sign = torch.where(z[..., 0] >= 0, 1.0, -1.0).to(z.dtype)
        return self.join(factors, sign)

    def features(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder input ``(n, feature_dim)`` of codes on the space ``(n, latent_dim)``."""
        if self.quotient == "veronese":
            return veronese(z)
        if self.quotient == "klein":
            return klein_features(z)
        return z

    def sample(self, n: int, generator: torch.Generator,
               device: torch.device | str = "cpu") -> torch.Tensor:
        """``(n, latent_dim)`` draws of the uniform prior (normalised Gaussians, sign coins)."""
        z = randn((check_positive_int(n, "n"), self.latent_dim), generator, torch.device(device))
        return self.project(z)

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """Log-density ``(n,)`` of the uniform prior at codes on the space: ``-log_area``."""
        return torch.full(z.shape[:-1], -self.log_area(), dtype=z.dtype, device=z.device)

    def twin(self, z: torch.Tensor) -> torch.Tensor:
        """The other lift of a quotient point: ``-v`` on RP^2's cover, ``(u + pi, -v)`` on the
        Klein bottle's; ``z`` itself on the other spaces."""
        if self.quotient == "veronese":
            return -z
        if self.quotient == "klein":
            return z * torch.tensor([-1.0, -1.0, 1.0, -1.0], dtype=z.dtype, device=z.device)
        return z

    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Geodesic distance ``(k,)`` on the cover, ignoring components: the root sum of squares
        of the factors' great-circle angles."""
        angles = [torch.arccos((fa * fb).sum(-1).clamp(-1.0, 1.0))
                  for fa, fb in zip(self.split(a), self.split(b), strict=True)]
        return torch.stack(angles, -1).pow(2).sum(-1).sqrt()

    def geodesic(self, a: torch.Tensor, b: torch.Tensor, n_steps: int) -> torch.Tensor:
        """Paths ``(k, n_steps, latent_dim)`` along the space's geodesics from codes ``a`` to
        ``b`` (each ``(k, latent_dim)``, on the space), end points included.

        Quotients use the lift of ``b`` nearer to ``a``; with two components the sign
        coordinate is ``a``'s for ``t < 1/2`` and ``b``'s from ``t = 1/2`` on (the forced jump).
        """
        n_steps = check_positive_int(n_steps, "n_steps")
        a, b = self.project(a), self.project(b)
        if self.quotient:
            twin = self.twin(b)
            b = torch.where((self.distance(a, twin) < self.distance(a, b))[:, None], twin, b)
        t = torch.linspace(0.0, 1.0, n_steps, dtype=a.dtype, device=a.device)
        factors = [slerp(fa, fb, t) for fa, fb in zip(self.split(a), self.split(b), strict=True)]
        sign = None
        if self.components > 1:
            sign = torch.where(t[None, :] < 0.5, a[:, None, 0], b[:, None, 0])
        return self.join(factors, sign)


#: The latent spaces by name.
LATENT_SPACES: dict[str, LatentSpace] = {
    s.name: s for s in (
        LatentSpace("circle", (2,)),
        LatentSpace("torus", (2, 2)),
        LatentSpace("sphere", (3,)),
        LatentSpace("two_circles", (2,), components=2),
        LatentSpace("projective", (3,), quotient="veronese"),
        LatentSpace("klein", (2, 2), quotient="klein"),
    )
}


def get_latent_space(name: object) -> LatentSpace:
    """The latent space called ``name`` (one of :data:`LATENT_SPACES`), or a clear error."""
    if not isinstance(name, str) or name not in LATENT_SPACES:
        raise ValueError(f"latent must be one of {', '.join(map(repr, LATENT_SPACES))}; "
                         f"got {name!r}")
    return LATENT_SPACES[name]
