"""S^1: one clock hand with a round tip turning about the centre of the image."""

from __future__ import annotations

import numpy as np
import torch

from topolib.datasets import _raster
from topolib.datasets.base import TWO_PI, FlatManifold, wrap_angle, wrap_diff

__all__ = ["Circle"]


class Circle(FlatManifold):
    """Clock hand at angle ``theta``; params ``(theta,)`` with theta in [0, 2 pi)."""

    name = "circle"
    intrinsic_dim = 1
    param_dim = 1
    angle_columns = (0,)
    betti = {2: (1, 1, 0), 3: (1, 1, 0)}
    description = (
        "A single clock hand with a round tip, turning about the image centre: "
        "one image for every angle, so the images form a circle."
    )
    length = 0.62
    sigma = 0.065
    tip_sigma = 0.13
    gain = 2.5

    def _sample_params(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(0.0, TWO_PI, size=(n, 1))

    def _render(self, params: torch.Tensor, size: int) -> torch.Tensor:
        theta = params[:, 0]
        tip_x, tip_y = self.length * torch.cos(theta), self.length * torch.sin(theta)
        splats = _raster.merge(
            _raster.stroke(theta, 0.0, self.length, self.sigma),
            _raster.dot(tip_x, tip_y, self.tip_sigma),
        )
        return _raster.ink(_raster.draw(splats, size), self.gain)

    def _canonical(self, params: np.ndarray) -> np.ndarray:
        return wrap_angle(params)

    def _nearest_lift(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + wrap_diff(b - a)

    def _param_bank(self, n: int) -> np.ndarray:
        return (np.arange(n) * (TWO_PI / n))[:, None]

    def _coverage(self, params: np.ndarray) -> np.ndarray:
        return params / TWO_PI
