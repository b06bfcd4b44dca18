"""The Klein bottle: oriented line/edge profiles inside a soft round window.

The image at ``(theta, phi)`` is ``f(x) = cos(phi) t + sin(phi) (2 t^2 - 1)`` with
``t = <u_theta, x>`` and ``u_theta = (cos theta, sin theta)``: a linear ramp (an edge) blended
with a quadratic profile (a line), oriented by ``theta``. Turning the direction round,
``theta + pi``, flips the sign of ``t``, which ``phi -> pi - phi`` undoes: the identification
``(theta + pi, phi) ~ (theta, pi - phi)`` makes the parameter torus a Klein bottle
(Carlsson et al.'s model of natural image patches).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from topolib.datasets import _raster
from topolib.datasets.base import TWO_PI, FlatManifold, grid_side, wrap_angle, wrap_diff

__all__ = ["KleinBottle"]


class KleinBottle(FlatManifold):
    """Params ``(theta, phi)``; fundamental domain theta in [0, pi), phi in [0, 2 pi).

    Metric: the flat metric of the quotient of R^2 by ``(theta, phi) -> (theta, phi + 2 pi)``
    and the glide reflection ``(theta, phi) -> (theta + pi, pi - phi)``.

    The image ``1/2 + k w f`` (mid-grey outside the window) is linear in ``(cos phi u, sin phi u u^T)``, which determines
    the point of the Klein bottle: the renderer is injective on the quotient.
    """

    name = "klein"
    intrinsic_dim = 2
    param_dim = 2
    angle_columns = (0, 1)
    betti = {2: (1, 2, 1), 3: (1, 1, 0)}
    description = (
        "An oriented edge or line profile, cos(phi) t + sin(phi)(2t^2 - 1) across the "
        "direction theta, in a soft round window: turning it round by pi and reflecting phi "
        "gives the same picture, so the images form a Klein bottle."
    )
    radius = 0.95
    contrast = 0.49 / math.sqrt(2.0)  # |f| <= sqrt(2) on the window: intensity in (0, 1)

    def _sample_params(self, n: int, rng: np.random.Generator) -> np.ndarray:
        theta = rng.uniform(0.0, math.pi, size=n)
        phi = rng.uniform(0.0, TWO_PI, size=n)
        return np.stack([theta, phi], axis=1)

    def _render(self, params: torch.Tensor, size: int) -> torch.Tensor:
        fields = _raster.window_fields(size, self.radius, params.device, params.dtype)
        ux, uy = torch.cos(params[:, 0]), torch.sin(params[:, 0])
        a = torch.cos(params[:, 1]) * self.contrast
        b = torch.sin(params[:, 1]) * self.contrast
        # 1/2 + k w f, expanded in the monomials w, wx, wy, wx^2, wxy, wy^2 of the window.
        coefficients = torch.stack(
            [-b, a * ux, a * uy, 2 * b * ux * ux, 4 * b * ux * uy, 2 * b * uy * uy], dim=1
        )
        return (coefficients @ fields).add_(0.5).reshape(-1, size, size)

    def _canonical(self, params: np.ndarray) -> np.ndarray:
        theta = wrap_angle(params[:, 0])
        flip = theta >= math.pi
        theta = np.where(flip, theta - math.pi, theta)
        phi = wrap_angle(np.where(flip, math.pi - params[:, 1], params[:, 1]))
        return np.stack([theta, phi], axis=1)

    def _nearest_lift(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # Two cosets of the translations by 2 pi: b itself and its glide image.
        direct = np.stack([wrap_diff(b[:, 0] - a[:, 0]), wrap_diff(b[:, 1] - a[:, 1])], axis=1)
        glide = np.stack(
            [wrap_diff(b[:, 0] + math.pi - a[:, 0]), wrap_diff(math.pi - b[:, 1] - a[:, 1])],
            axis=1,
        )
        use_glide = np.linalg.norm(glide, axis=1) < np.linalg.norm(direct, axis=1)
        return a + np.where(use_glide[:, None], glide, direct)

    def _param_bank(self, n: int) -> np.ndarray:
        # The fundamental domain is pi x 2 pi: twice as many phi values as theta values.
        side = grid_side(n / 2, 2)
        theta = np.arange(side) * (math.pi / side)
        phi = np.arange(2 * side) * (TWO_PI / (2 * side))
        t, p = np.meshgrid(theta, phi, indexing="ij")
        return np.stack([t.ravel(), p.ravel()], axis=1)

    def _coverage(self, params: np.ndarray) -> np.ndarray:
        return np.stack([params[:, 0] / math.pi, params[:, 1] / TWO_PI], axis=1)
