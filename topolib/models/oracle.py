"""Oracle decoders: exact, untrained maps from a Euclidean latent onto the data manifolds.

A decoder ``z -> image`` is a latent-to-parameter map followed by the dataset's own
differentiable renderer (``ImageManifold.render_torch``). The maps are chosen so that the
prior ``N(0, I)`` pushes forward to the *uniform* measure on the manifold:

================ ======== ===================================================================
dataset          latent   map (``Phi`` = standard normal CDF, ``k`` = winding number)
================ ======== ===================================================================
``circle``       R^1      ``theta = 2 pi k Phi(z)``
``torus``        R^2      the same per coordinate
``klein``        R^2      the torus map, rendered by the Klein bottle (its double cover)
``sphere``       R^2      inverse stereographic projection from ``pole``, radially rescaled
``projective``   R^2      the sphere map, rendered by RP^2 (its double cover)
``disk``         R^2      ``c = h (2 Phi(z) - 1)`` per coordinate, onto the box [-h, h]^2
``two_circles``  R^1      circle A on one half of the mass, a bridge of mass ``bridge``,
                          circle B on the other half (R^2: component from ``z_1``, angle
                          from ``z_2``)
================ ======== ===================================================================

So generation itself is not what topology forbids: every sample is an exact render and the
samples are uniform. What these decoders cannot avoid is what topology forces (DESIGN.md
section 1): the encoder (their inverse, :meth:`OracleDecoder.encode`) must tear the manifold
(the circle at ``theta = 0``, the sphere at ``pole``), so straight latent lines between codes
on either side of the tear go the long way round; and a continuous map from connected R^d
onto two circles puts prior mass on a bridge between them.

Extra latent coordinates (``latent_dim`` above the dataset's minimum) are ignored by the
decoder and set to 0 by the encoder. Latent codes are clipped to ``|z_i| <= Z_MAX`` by the
encoder, where the inverse would be infinite (the tear, the pole).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from topolib.datasets.base import TWO_PI, ImageManifold, check_size
from topolib.datasets.registry import get_dataset
from topolib.metrics.projection import project
from topolib.models.blocks import check_positive_int
from topolib.models.interface import GenerativeModel, as_generator, randn

__all__ = [
    "ORACLES",
    "Z_MAX",
    "CircleOracle",
    "DiskOracle",
    "KleinOracle",
    "OracleDecoder",
    "ProjectiveOracle",
    "SphereOracle",
    "TorusOracle",
    "TwoCirclesOracle",
    "oracle_decoder",
]

#: The encoder clips latent coordinates to ``[-Z_MAX, Z_MAX]`` (prior mass beyond: 2e-9).
Z_MAX = 6.0
_U_MIN = 0.5 * math.erfc(Z_MAX / math.sqrt(2.0))  # Phi(-Z_MAX)


def _phi_inv(u: np.ndarray) -> np.ndarray:
    """``Phi^{-1}(u)`` in float64, with ``u`` clipped so the result lies in [-Z_MAX, Z_MAX]."""
    u = torch.from_numpy(np.clip(np.asarray(u, dtype=np.float64), _U_MIN, 1.0 - _U_MIN))
    return torch.special.ndtri(u).numpy()


def _check_winding(winding: object) -> int:
    if isinstance(winding, bool) or not isinstance(winding, int) or winding < 1:
        raise ValueError(f"winding must be an integer >= 1; got {winding!r}")
    return winding


class OracleDecoder(GenerativeModel):
    """Base class: ``decode(z) = render(latent_to_params(z))``, ``encode`` = its inverse.

    Subclasses set ``dataset_name`` and ``min_latent_dim`` and implement
    :meth:`latent_to_params` (torch, differentiable) and :meth:`params_to_latent` (numpy, on
    canonical parameters). There is nothing to train: :meth:`configure_optimizers` and
    :meth:`training_step` raise.

    Parameters
    ----------
    size : image side ``S``.
    latent_dim : latent dimension (default and minimum: ``min_latent_dim``); coordinates past
        the ones the map uses are ignored by ``decode`` and 0 in ``encode``.
    """

    monitor = None
    dataset_name: str = ""
    min_latent_dim: int = 1

    def __init__(self, size: int = 32, latent_dim: int | None = None) -> None:
        super().__init__()
        self.image_size = check_size(size)
        latent_dim = self.min_latent_dim if latent_dim is None else latent_dim
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        if self.latent_dim < self.min_latent_dim:
            raise ValueError(f"latent_dim must be >= {self.min_latent_dim} for the "
                             f"{self.dataset_name!r} oracle; got {latent_dim!r}")
        self.dataset: ImageManifold = get_dataset(self.dataset_name)
        # No parameters: this buffer tells the model's device (and moves with .to()).
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    # ------------------------------------------------------------------ the map and its inverse

    def latent_to_params(self, z: torch.Tensor) -> torch.Tensor:
        """Manifold parameters ``(n, param_dim)`` of codes ``(n, latent_dim)`` (differentiable)."""
        raise NotImplementedError

    def params_to_latent(self, params: np.ndarray) -> np.ndarray:
        """Codes ``(n, latent_dim)`` float64 of parameters ``(n, param_dim)``: the inverse map
        where it exists, clipped to ``[-Z_MAX, Z_MAX]`` at the tear."""
        raise NotImplementedError

    def _pad(self, z: np.ndarray) -> np.ndarray:
        out = np.zeros((z.shape[0], self.latent_dim))
        out[:, : z.shape[1]] = z
        return out

    # ------------------------------------------------------------------ GenerativeModel

    @property
    def device(self) -> torch.device:
        """Device of the model's (parameter-free) buffers."""
        return self._anchor.device

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Exact renders ``(n, 1, S, S)`` in [0, 1] of codes ``(n, latent_dim)``."""
        params = self.latent_to_params(self._latents(z))
        return self.dataset.render_torch(params, self.image_size)[:, None].clamp(0.0, 1.0)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | int = 0) -> torch.Tensor:
        """``n`` images ``(n, 1, S, S)``: exact renders at uniform random manifold points."""
        gen = as_generator(generator, "topolib.models.oracle.sample")
        return self.decode(randn((check_positive_int(n, "n"), self.latent_dim), gen, self.device))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes ``(n, latent_dim)`` of images ``(n, 1, S, S)``: project onto the manifold
        (``topolib.metrics.project``), then invert the map (:meth:`params_to_latent`)."""
        x = self._images(x)
        params = project(x.detach().cpu(), self.dataset).params
        z = self.params_to_latent(self.dataset.canonical(params))
        return torch.as_tensor(z, dtype=torch.float32, device=self.device)

    def invert(self, x: torch.Tensor, steps: int = 200,
               generator: torch.Generator | int = 0) -> torch.Tensor:
        """Same as :meth:`encode` (``steps`` and ``generator`` are unused: nothing is optimised)."""
        del steps, generator
        return self.encode(x)

    def config(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "size": self.image_size,
                "latent_dim": self.latent_dim, **self._options()}

    def _options(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> OracleDecoder:
        """Rebuild an oracle from :meth:`config` (called on any oracle class, or the base)."""
        params = dict(config)
        name = params.pop("class", cls.__name__)
        by_name = {c.__name__: c for c in ORACLES.values()}
        if name not in by_name or not issubclass(by_name[name], cls):
            raise ValueError(f"config describes a {name}, not a {cls.__name__}")
        return by_name[name](**params)

    def configure_optimizers(self, lr: float | None = None,
                             betas: tuple[float, float] | None = None) -> dict:
        raise RuntimeError(f"{type(self).__name__} is an exact oracle decoder: it has no "
                           "parameters and is not trained")

    def training_step(self, x: torch.Tensor, optimizers: dict,
                      generator: torch.Generator) -> dict[str, torch.Tensor]:
        raise RuntimeError(f"{type(self).__name__} is an exact oracle decoder: it has no "
                           "parameters and is not trained")


class CircleOracle(OracleDecoder):
    """``z -> theta = 2 pi k Phi(z_1)``: N(0, 1) goes to exactly uniform angles.

    The inverse ``z = Phi^{-1}(theta / (2 pi k))`` tears the circle at ``theta = 0``: codes of
    angles just above 0 are near ``-Z_MAX``, just below 2 pi near ``+Z_MAX``, and the straight
    line between them runs through every other angle. With ``winding = k > 1`` the map wraps
    ``k`` times and the encoder picks the first sheet (``z < Phi^{-1}(1 / k)``).
    """

    dataset_name = "circle"
    min_latent_dim = 1

    def __init__(self, size: int = 32, latent_dim: int | None = None, winding: int = 1) -> None:
        super().__init__(size, latent_dim)
        self.winding = _check_winding(winding)

    def _options(self) -> dict[str, Any]:
        return {"winding": self.winding}

    def latent_to_params(self, z: torch.Tensor) -> torch.Tensor:
        return TWO_PI * self.winding * torch.special.ndtr(z[:, :1])

    def params_to_latent(self, params: np.ndarray) -> np.ndarray:
        return self._pad(_phi_inv(params[:, :1] / (TWO_PI * self.winding)))


class TorusOracle(CircleOracle):
    """The circle map per coordinate: ``theta_i = 2 pi k Phi(z_i)``, ``i = 1, 2``; tears along
    both circles ``theta_1 = 0`` and ``theta_2 = 0``."""

    dataset_name = "torus"
    min_latent_dim = 2

    def latent_to_params(self, z: torch.Tensor) -> torch.Tensor:
        return TWO_PI * self.winding * torch.special.ndtr(z[:, :2])

    def params_to_latent(self, params: np.ndarray) -> np.ndarray:
        return self._pad(_phi_inv(params[:, :2] / (TWO_PI * self.winding)))


class KleinOracle(TorusOracle):
    """The torus map rendered as a Klein bottle: the torus ``(theta, phi)`` in [0, 2 pi)^2
    double covers the Klein bottle, and uniform on the cover is uniform on the quotient.
    The encoder picks the half ``theta < pi`` (the canonical fundamental domain)."""

    dataset_name = "klein"


class DiskOracle(OracleDecoder):
    """The control: ``c_i = h (2 Phi(z_i) - 1)`` onto the box [-h, h]^2 of blob positions
    (``h`` = the dataset's ``half_width``), uniform; a homeomorphism R^2 -> open box, so the
    inverse has no tear (only the box's border is at infinity)."""

    dataset_name = "disk"
    min_latent_dim = 2

    def latent_to_params(self, z: torch.Tensor) -> torch.Tensor:
        return self.dataset.half_width * (2.0 * torch.special.ndtr(z[:, :2]) - 1.0)

    def params_to_latent(self, params: np.ndarray) -> np.ndarray:
        return self._pad(_phi_inv((params[:, :2] / self.dataset.half_width + 1.0) / 2.0))


class SphereOracle(OracleDecoder):
    """Inverse stereographic projection from ``pole``, rescaled radially so that N(0, I) on
    R^2 pushes forward to the uniform measure on S^2.

    The code ``z`` goes to the point at angle ``a`` from the antipode ``-pole``, in the
    direction ``z / |z|`` of the tangent frame ``(e_1, e_2)``. Uniform on the sphere,
    ``P(angle > a) = (1 + cos a) / 2``; for N(0, I), ``P(|z| > r) = exp(-r^2 / 2)``. Matching
    them: ``cos a = 2 exp(-r^2 / 2) - 1``, ``sin a = 2 sqrt(e (1 - e))`` with
    ``e = exp(-r^2 / 2)``. Stereographic projection would have ``r = tan(a / 2)``; only the
    radius changes, so this is the stereographic chart up to a radial homeomorphism.

    The inverse is ``r = sqrt(-2 log((1 + cos a) / 2))``: the pole itself goes to infinity,
    so codes are clipped to ``|z| <= Z_MAX`` there; the tear is that one point, and a
    straight latent line between points on either side of it goes round the antipode.
    """

    dataset_name = "sphere"
    min_latent_dim = 2

    def __init__(self, size: int = 32, latent_dim: int | None = None,
                 pole: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> None:
        super().__init__(size, latent_dim)
        p = np.asarray(pole, dtype=np.float64)
        if p.shape != (3,) or not np.isfinite(p).all() or np.linalg.norm(p) < 1e-9:
            raise ValueError(f"pole must be a non-zero finite 3-vector; got {pole!r}")
        self.pole = tuple(float(v) for v in p)
        p = p / np.linalg.norm(p)
        helper = np.eye(3)[np.argmin(np.abs(p))]
        e1 = helper - (helper @ p) * p
        e1 /= np.linalg.norm(e1)
        frame = np.stack([-p, e1, np.cross(p, e1)])  # rows: antipode, e1, e2
        self._frame_np = frame
        self.register_buffer("_frame", torch.as_tensor(frame, dtype=torch.float32),
                             persistent=False)

    def _options(self) -> dict[str, Any]:
        return {"pole": self.pole}

    def latent_to_params(self, z: torch.Tensor) -> torch.Tensor:
        z = z[:, :2]
        r2 = (z * z).sum(1, keepdim=True)
        e = torch.exp(-0.5 * r2)
        cos_a = 2.0 * e - 1.0
        # sin a * z / |z| = 2 sqrt(e (1 - e)) / |z| * z, smooth at z = 0 (-> sqrt(2) z)
        one_minus_e = -torch.expm1(-0.5 * r2)
        scale = torch.where(r2 > 1e-12, 2.0 * torch.sqrt(e * one_minus_e / r2.clamp_min(1e-12)),
                            torch.full_like(r2, math.sqrt(2.0)))
        coords = torch.cat([cos_a, scale * z], dim=1)  # in the frame (antipode, e1, e2)
        return coords @ self._frame.to(z.dtype)

    def params_to_latent(self, params: np.ndarray) -> np.ndarray:
        u = params / np.linalg.norm(params, axis=1, keepdims=True)
        local = u @ self._frame_np.T  # (cos a, sin a cos psi, sin a sin psi)
        half = np.clip((1.0 + local[:, 0]) / 2.0, 1e-300, 1.0)
        r = np.minimum(np.sqrt(-2.0 * np.log(half)), Z_MAX)
        norm = np.linalg.norm(local[:, 1:], axis=1, keepdims=True)
        direction = np.where(norm > 1e-12, local[:, 1:] / np.maximum(norm, 1e-300), 0.0)
        return self._pad(r[:, None] * direction)


class ProjectiveOracle(SphereOracle):
    """The sphere map rendered as RP^2 (the sphere double covers it; uniform stays uniform).

    The encoder picks, of ``u`` and ``-u``, the one in the hemisphere around ``-pole``: codes
    then lie in the disk ``|z| <= sqrt(2 log 2)`` (no point at infinity), and the tear is its
    boundary circle, whose opposite points show the same image.
    """

    dataset_name = "projective"

    def params_to_latent(self, params: np.ndarray) -> np.ndarray:
        flip = params @ self._frame_np[0] < 0  # on the pole's side
        return super().params_to_latent(np.where(flip[:, None], -params, params))


class TwoCirclesOracle(OracleDecoder):
    """Two circles from one connected latent, with a bridge of prior mass ``bridge``.

    ``latent_dim = 1``: with ``u = Phi(z)`` and ``h = (1 - bridge) / 2``, circle A (component 0)
    gets ``u < h`` at angle ``2 pi u / h``; the bridge ``h <= u < 1 - h`` fades component 0 into
    1 at angle 0 (the renderer's own blend of the two hands: images off the manifold); circle
    B gets ``u >= 1 - h`` at angle ``2 pi (u - 1 + h) / h``. Each circle gets mass ``h`` and
    uniform angles. ``latent_dim >= 2``: the component comes from ``z_1`` the same way and the
    angle is ``2 pi Phi(z_2)`` on both circles.

    The Lipschitz trade-off (Tanielian et al. 2020; Salmona et al. 2022): the bridge is a
    latent interval of width ``w = Phi^{-1}(1 - h) - Phi^{-1}(h)`` (``~ bridge sqrt(2 pi)``
    when small) over which the image must travel the distance ``D`` between the two circles,
    so the decoder's Lipschitz constant is at least ``D / w``
    (:meth:`lipschitz_lower_bound`). Conversely, a decoder with Lipschitz constant ``L`` that
    gives each circle equal mass wastes at least ``2 Phi(D / (2 L)) - 1`` on the bridge
    (:meth:`min_bridge_mass`): a smaller bridge needs a steeper decoder, and no continuous
    decoder has none.
    """

    dataset_name = "two_circles"
    min_latent_dim = 1

    def __init__(self, size: int = 32, latent_dim: int | None = None,
                 bridge: float = 0.02) -> None:
        super().__init__(size, latent_dim)
        if isinstance(bridge, bool) or not isinstance(bridge, (int, float)) \
                or not 0.0 < bridge < 1.0:
            raise ValueError(f"bridge must be a prior mass in (0, 1); got {bridge!r}")
        self.bridge = float(bridge)

    def _options(self) -> dict[str, Any]:
        return {"bridge": self.bridge}

    @property
    def _half(self) -> float:
        return (1.0 - self.bridge) / 2.0

    def bridge_interval(self) -> tuple[float, float]:
        """Latent interval ``(z_lo, z_hi)`` of the first coordinate that decodes to the bridge."""
        lo, hi = _phi_inv(np.array([self._half, 1.0 - self._half]))
        return float(lo), float(hi)

    def bridge_mass(self) -> float:
        """Prior mass of the codes that decode to the bridge: ``Phi(z_hi) - Phi(z_lo)``."""
        lo, hi = self.bridge_interval()
        return 0.5 * (math.erf(hi / math.sqrt(2.0)) - math.erf(lo / math.sqrt(2.0)))

    def bridge_distance(self) -> float:
        """Euclidean pixel distance ``D`` between the bridge's two ends (hand A and hand B at
        angle 0): the distance the decoder must cover across the bridge."""
        ends = self.dataset.render(np.array([[0.0, 0.0], [1.0, 0.0]]), self.image_size)
        return float(np.linalg.norm(ends[0] - ends[1]))

    def lipschitz_lower_bound(self) -> float:
        """``D / w``: a lower bound on this decoder's Lipschitz constant (pixels per latent
        unit), from the bridge's image distance ``D`` over its latent width ``w``."""
        lo, hi = self.bridge_interval()
        return self.bridge_distance() / (hi - lo)

    def min_bridge_mass(self, lipschitz: float) -> float:
        """Least prior mass ``2 Phi(D / (2 L)) - 1`` on the bridge of any decoder with
        Lipschitz constant ``lipschitz`` that gives both circles the same mass (one latent
        coordinate chooses the circle)."""
        if not (isinstance(lipschitz, (int, float)) and 0 < lipschitz < math.inf):
            raise ValueError(f"lipschitz must be a finite number > 0; got {lipschitz!r}")
        return math.erf(self.bridge_distance() / (2.0 * lipschitz) / math.sqrt(2.0))

    def latent_to_params(self, z: torch.Tensor) -> torch.Tensor:
        h = self._half
        u = torch.special.ndtr(z[:, 0])
        component = ((u - h) / self.bridge).clamp(0.0, 1.0)
        if self.latent_dim == 1:
            # angle runs 0 -> 2 pi on A, stays at 2 pi on the bridge, 2 pi -> 4 pi on B
            theta = TWO_PI * ((u.clamp(max=h) + (u - 1.0 + h).clamp(min=0.0)) / h)
        else:
            theta = TWO_PI * torch.special.ndtr(z[:, 1])
        return torch.stack([component, theta], dim=1)

    def params_to_latent(self, params: np.ndarray) -> np.ndarray:
        h = self._half
        b = params[:, 0] >= 0.5
        frac = params[:, 1] / TWO_PI
        if self.latent_dim == 1:
            return self._pad(_phi_inv(np.where(b, 1.0 - h + h * frac, h * frac))[:, None])
        # middle of each circle's share of the first coordinate's mass
        u1 = np.where(b, 1.0 - h / 2.0, h / 2.0)
        return self._pad(np.stack([_phi_inv(u1), _phi_inv(frac)], axis=1))


#: Oracle class of each dataset.
ORACLES: dict[str, type[OracleDecoder]] = {
    cls.dataset_name: cls
    for cls in (CircleOracle, TorusOracle, SphereOracle, DiskOracle, TwoCirclesOracle,
                KleinOracle, ProjectiveOracle)
}


def oracle_decoder(dataset: str | ImageManifold, size: int = 32, latent_dim: int | None = None,
                   **options: Any) -> OracleDecoder:
    """The oracle decoder of ``dataset``.

    Parameters
    ----------
    dataset : dataset name or ``ImageManifold`` (one of ``ORACLES``).
    size : image side ``S``.
    latent_dim : latent dimension (default: the smallest the map needs: 1 for circle and
        two_circles, 2 otherwise).
    **options : the oracle's own options: ``winding`` (circle, torus, klein), ``pole``
        (sphere, projective), ``bridge`` (two_circles).

    Returns
    -------
    OracleDecoder

    >>> oracle_decoder("circle", 32).sample(4, generator=0).shape
    torch.Size([4, 1, 32, 32])
    """
    name = dataset.name if isinstance(dataset, ImageManifold) else get_dataset(dataset).name
    if name not in ORACLES:
        raise ValueError(f"dataset {name!r} has no oracle decoder; oracles exist for "
                         f"{', '.join(ORACLES)}")
    return ORACLES[name](size, latent_dim, **options)
