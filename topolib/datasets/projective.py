"""RP^2: a ball with two identical polar caps, so the axes ``u`` and ``-u`` look the same."""

from __future__ import annotations

import numpy as np
import torch

from topolib.datasets.base import TWO_PI
from topolib.datasets.sphere import BallManifold, fibonacci_sphere, slerp, unit_rows

__all__ = ["ProjectivePlane"]


def upper_hemisphere(u: np.ndarray) -> np.ndarray:
    """Unit rows with the sign convention of RP^2: z > 0, else y > 0, else x > 0."""
    u = unit_rows(u)
    x, y, z = u[:, 0], u[:, 1], u[:, 2]
    flip = (z < 0) | ((z == 0) & ((y < 0) | ((y == 0) & (x < 0))))
    return np.where(flip[:, None], -u, u)


class ProjectivePlane(BallManifold):
    """A ball with bright caps around both ends of the line spanned by ``u``.

    Params: a unit vector ``u`` ``(3,)`` standing for the line ``{u, -u}``; the canonical
    representative has ``z > 0`` (upper hemisphere).
    """

    name = "projective"
    betti = {2: (1, 1, 1), 3: (1, 0, 0)}
    description = (
        "A shaded ball with two identical bright polar caps around an axis through its "
        "centre: axis u and -u give the same picture, so the images form a projective plane."
    )
    cap = 0.5  # <n, u>^2 at the soft cap border (45 degrees from the poles)
    softness = 0.15

    def _shade(self, cosines: torch.Tensor) -> tuple[torch.Tensor, float, float]:
        # sigmoid((c^2 - cap) / softness) as one fused multiply-add and one sigmoid
        offset = torch.tensor(-self.cap / self.softness, dtype=cosines.dtype, device=cosines.device)
        scaled = torch.addcmul(offset, cosines, cosines, value=1.0 / self.softness)
        return torch.sigmoid(scaled), 0.15, 0.85

    def _sample_params(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return upper_hemisphere(rng.standard_normal((n, 3)))

    def _canonical(self, params: np.ndarray) -> np.ndarray:
        return upper_hemisphere(params)

    def _distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = unit_rows(a), unit_rows(b)
        sine = np.linalg.norm(np.cross(a, b), axis=1)
        return np.arctan2(sine, np.abs(np.sum(a * b, axis=1)))

    def _geodesic(self, a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
        a, b = unit_rows(a[None])[0], unit_rows(b[None])[0]
        if a @ b < 0:
            b = -b
        return upper_hemisphere(slerp(a, b, t))

    def _param_bank(self, n: int) -> np.ndarray:
        # The Fibonacci z values of 2n points are symmetric and never 0: exactly n have z > 0.
        points = fibonacci_sphere(2 * n)
        return points[points[:, 2] > 0]

    def _coverage(self, params: np.ndarray) -> np.ndarray:
        # Archimedes: on the upper hemisphere, z is uniform on [0, 1] for the area measure.
        longitude = np.mod(np.arctan2(params[:, 1], params[:, 0]), TWO_PI) / TWO_PI
        return np.stack([longitude, params[:, 2]], axis=1)
