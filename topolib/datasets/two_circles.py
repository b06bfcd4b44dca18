"""S^1 + S^1: two visibly different clock hands, one circle of images each."""

from __future__ import annotations

import math

import numpy as np
import torch

from topolib.datasets import _raster
from topolib.datasets.base import TWO_PI, FlatManifold, wrap_angle, wrap_diff

__all__ = ["TwoCircles"]


class TwoCircles(FlatManifold):
    """Params ``(component, theta)``: component 0 is a long thin hand with a round tip,
    component 1 a short thick hand ending in a cross bar.

    ``render_torch`` blends the two hands linearly in ``component`` (clamped to [0, 1]) so
    it stays differentiable; only components 0 and 1 lie on the manifold.
    """

    name = "two_circles"
    intrinsic_dim = 1
    param_dim = 2
    angle_columns = (1,)
    betti = {2: (2, 2, 0), 3: (2, 2, 0)}
    description = (
        "Either a long thin clock hand with a round tip or a short thick hand with a cross "
        "bar, at any angle: two separate circles of images."
    )
    thin_length, thin_sigma, thin_tip_sigma = 0.8, 0.07, 0.11
    thick_length, thick_sigma = 0.45, 0.13
    bar_half_length, bar_sigma = 0.28, 0.08
    gain = 2.5

    def _sample_params(self, n: int, rng: np.random.Generator) -> np.ndarray:
        component = rng.integers(0, 2, size=n).astype(np.float64)
        return np.stack([component, rng.uniform(0.0, TWO_PI, size=n)], axis=1)

    def _thin_hand(self, theta: torch.Tensor) -> _raster.Splats:
        tip_x, tip_y = self.thin_length * torch.cos(theta), self.thin_length * torch.sin(theta)
        return _raster.merge(
            _raster.stroke(theta, 0.0, self.thin_length, self.thin_sigma),
            _raster.dot(tip_x, tip_y, self.thin_tip_sigma),
        )

    def _thick_hand(self, theta: torch.Tensor) -> _raster.Splats:
        tip_x, tip_y = self.thick_length * torch.cos(theta), self.thick_length * torch.sin(theta)
        return _raster.merge(
            _raster.stroke(theta, 0.0, self.thick_length, self.thick_sigma),
            _raster.bar(tip_x, tip_y, theta + math.pi / 2, self.bar_half_length, self.bar_sigma),
        )

    def _render(self, params: torch.Tensor, size: int) -> torch.Tensor:
        component = params[:, 0].clamp(0.0, 1.0)
        theta = params[:, 1]
        on_manifold = (component == 0) | (component == 1)
        if not (torch.is_grad_enabled() and params.requires_grad) and bool(on_manifold.all()):
            # Same formula with the zero-weight hand left out: half the splats to draw.
            images = params.new_empty((params.shape[0], size, size))
            for value, hand in ((0.0, self._thin_hand), (1.0, self._thick_hand)):
                rows = component == value
                if bool(rows.any()):
                    images[rows] = _raster.ink(_raster.draw(hand(theta[rows]), size), self.gain)
            return images
        splats = _raster.merge(
            _raster.scale(self._thin_hand(theta), 1.0 - component),
            _raster.scale(self._thick_hand(theta), component),
        )
        return _raster.ink(_raster.draw(splats, size), self.gain)

    def _canonical(self, params: np.ndarray) -> np.ndarray:
        component = (params[:, 0] >= 0.5).astype(np.float64)
        return np.stack([component, wrap_angle(params[:, 1])], axis=1)

    def _retract_torch(self, params: torch.Tensor) -> torch.Tensor:
        component = (params[:, 0] >= 0.5).to(params.dtype)
        return torch.stack([component, params[:, 1]], dim=1)

    def _nearest_lift(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.stack([b[:, 0], a[:, 1] + wrap_diff(b[:, 1] - a[:, 1])], axis=1)

    def _distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        same = (a[:, 0] >= 0.5) == (b[:, 0] >= 0.5)
        return np.where(same, np.abs(wrap_diff(b[:, 1] - a[:, 1])), np.inf)

    def _geodesic(self, a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
        if (a[0] >= 0.5) != (b[0] >= 0.5):
            raise ValueError(
                "a and b lie on different components of 'two_circles'; no geodesic joins them"
            )
        a, b = self._canonical(np.stack([a, b]))
        return super()._geodesic(a, b, t)

    def _param_bank(self, n: int) -> np.ndarray:
        per = max(1, n // 2)
        theta = np.arange(per) * (TWO_PI / per)
        component = np.repeat([0.0, 1.0], per)
        return np.stack([component, np.tile(theta, 2)], axis=1)

    def _coverage(self, params: np.ndarray) -> np.ndarray:
        return (params[:, 0] * 0.5 + params[:, 1] / (2.0 * TWO_PI))[:, None]
