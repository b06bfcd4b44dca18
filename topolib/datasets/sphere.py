"""S^2: a shaded two-tone ball whose axis can point anywhere."""

from __future__ import annotations

import math

import numpy as np
import torch

from topolib.datasets import _raster
from topolib.datasets.base import TWO_PI, ImageManifold

__all__ = ["Sphere", "fibonacci_sphere", "unit_rows"]

GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))


def unit_rows(params: np.ndarray) -> np.ndarray:
    """Rows divided by their norm; raises ValueError for a zero row."""
    norms = np.linalg.norm(params, axis=1, keepdims=True)
    if np.any(norms < 1e-12):
        raise ValueError("params must be non-zero vectors (axes on the sphere); got a zero row")
    return params / norms


def fibonacci_sphere(n: int) -> np.ndarray:
    """``n`` near-uniform unit vectors ``(n, 3)`` on a Fibonacci spiral (z descending)."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    r = np.sqrt(1.0 - z**2)
    phi = GOLDEN_ANGLE * i
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Great-circle path from unit ``a`` to unit ``b`` ``(3,)`` at times ``t`` ``(m,)``."""
    omega = math.atan2(np.linalg.norm(np.cross(a, b)), float(a @ b))
    normal = b - (a @ b) * a
    if np.linalg.norm(normal) < 1e-9:  # b = +-a: any great circle through a will do
        helper = np.eye(3)[np.argmin(np.abs(a))]
        normal = helper - (a @ helper) * a
    normal = normal / np.linalg.norm(normal)
    angle = t[:, None] * omega
    return np.cos(angle) * a + np.sin(angle) * normal


class BallManifold(ImageManifold):
    """Shared machinery of the sphere and RP^2: an axis ``u`` (a unit vector in R^3) drawn as
    a shading pattern on a ball, seen orthographically from +z.

    The intensity at a visible point with normal ``n`` is a smooth, strictly monotone
    function of ``<n, u>`` (sphere) or of ``<n, u>^2`` (RP^2). The visible normals span R^3,
    so the pattern determines ``u`` (respectively ``+-u``): the renderer is injective.
    Renderers normalise the axis themselves, so any non-zero vector is accepted and gradients
    are tangent to the sphere.
    """

    intrinsic_dim = 2
    param_dim = 3
    radius = 0.85

    def _shade(self, cosines: torch.Tensor) -> tuple[torch.Tensor, float, float]:
        """Pointwise part: image = mask * (base + spread * shade(<n, u>))."""
        raise NotImplementedError

    def _check_values(self, params: np.ndarray, name: str) -> None:
        if np.any(np.linalg.norm(params, axis=1) < 1e-12):
            raise ValueError(f"{name} must be non-zero vectors (the axis of the {self.name}'s "
                             f"shading); got a zero row")

    def _render(self, params: torch.Tensor, size: int) -> torch.Tensor:
        normals, mask = _raster.ball_fields(size, self.radius, params.device, params.dtype)
        axis = params / params.norm(dim=1, keepdim=True).clamp_min(1e-12)
        shade, base, spread = self._shade(axis @ normals)
        image = torch.addcmul(mask * base, mask * spread, shade)
        return image.reshape(-1, size, size)

    def _retract_torch(self, params: torch.Tensor) -> torch.Tensor:
        return params / params.norm(dim=1, keepdim=True).clamp_min(1e-12)


class Sphere(BallManifold):
    """Two-tone ball with axis ``u`` on S^2: bright towards ``+u``, dark towards ``-u``.

    Params: the unit vector ``u`` ``(3,)``; non-unit vectors are normalised.
    """

    name = "sphere"
    betti = {2: (1, 0, 1), 3: (1, 0, 1)}
    description = (
        "A shaded ball, bright on the half facing its axis and dark on the other half, with "
        "the axis pointing anywhere: one image for every direction in space."
    )
    sharpness = 2.5

    def _shade(self, cosines: torch.Tensor) -> tuple[torch.Tensor, float, float]:
        # 0.1 + 0.9 sigmoid(2 k c) = 0.55 + 0.45 tanh(k c); sigmoid is 3x faster than tanh
        return torch.sigmoid(cosines * (2.0 * self.sharpness)), 0.1, 0.9

    def _sample_params(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return unit_rows(rng.standard_normal((n, 3)))

    def _canonical(self, params: np.ndarray) -> np.ndarray:
        return unit_rows(params)

    def _distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = unit_rows(a), unit_rows(b)
        sine = np.linalg.norm(np.cross(a, b), axis=1)
        return np.arctan2(sine, np.sum(a * b, axis=1))

    def _geodesic(self, a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
        a, b = unit_rows(a[None])[0], unit_rows(b[None])[0]
        return unit_rows(slerp(a, b, t))

    def _param_bank(self, n: int) -> np.ndarray:
        return fibonacci_sphere(n)

    def _coverage(self, params: np.ndarray) -> np.ndarray:
        longitude = np.mod(np.arctan2(params[:, 1], params[:, 0]), TWO_PI) / TWO_PI
        return np.stack([longitude, (params[:, 2] + 1.0) / 2.0], axis=1)
