"""The control: a contractible disk (a square) of blob positions, without wrap-around."""

from __future__ import annotations

import numpy as np
import torch

from topolib.datasets import _raster
from topolib.datasets.base import FlatManifold, grid_side

__all__ = ["Disk"]


class Disk(FlatManifold):
    """A Gaussian blob centred at ``(cx, cy)`` in the box [-0.45, 0.45]^2.

    The box keeps the blob (sigma 0.18) away from the border, so no part of it is clipped and
    nothing wraps around: the manifold is a closed square, topologically a disk.
    """

    name = "disk"
    intrinsic_dim = 2
    param_dim = 2
    betti = {2: (1, 0, 0), 3: (1, 0, 0)}
    description = (
        "A soft round blob moved anywhere inside a square that keeps it off the border: "
        "a contractible control dataset with no holes."
    )
    half_width = 0.45
    sigma = 0.18

    def _sample_params(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-self.half_width, self.half_width, size=(n, 2))

    def _render(self, params: torch.Tensor, size: int) -> torch.Tensor:
        return _raster.draw(_raster.dot(params[:, 0], params[:, 1], self.sigma), size)

    def _canonical(self, params: np.ndarray) -> np.ndarray:
        return np.clip(params, -self.half_width, self.half_width)

    def _retract_torch(self, params: torch.Tensor) -> torch.Tensor:
        return params.clamp(-self.half_width, self.half_width)

    def _nearest_lift(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return b

    def _param_bank(self, n: int) -> np.ndarray:
        side = grid_side(n, 2)
        # cell centres: a lattice with the same spacing everywhere, no doubled border rows
        axis = (np.arange(side) + 0.5) / side * (2 * self.half_width) - self.half_width
        cx, cy = np.meshgrid(axis, axis, indexing="ij")
        return np.stack([cx.ravel(), cy.ravel()], axis=1)

    def _coverage(self, params: np.ndarray) -> np.ndarray:
        return (params + self.half_width) / (2 * self.half_width)
