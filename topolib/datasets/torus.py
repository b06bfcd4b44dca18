"""T^2: two clock hands of clearly different length and width, turning independently."""

from __future__ import annotations

import numpy as np
import torch

from topolib.datasets import _raster
from topolib.datasets.base import TWO_PI, FlatManifold, grid_side, wrap_angle, wrap_diff

__all__ = ["Torus"]


class Torus(FlatManifold):
    """A long narrow hand at ``theta1`` and a short wide hand at ``theta2``.

    Params ``(theta1, theta2)`` in [0, 2 pi)^2 with the flat metric. The hands are soft
    "beams" (``_raster.beam_fields``): their width is an angle, so image distance keeps
    growing with the angle difference over the whole circle and a Vietoris-Rips filtration
    of a few hundred landmark images shows both loops of the torus as long H1 bars. (Thin
    strokes of constant width saturate after a few degrees and hide the topology.)
    """

    name = "torus"
    intrinsic_dim = 2
    param_dim = 2
    angle_columns = (0, 1)
    betti = {2: (1, 2, 1), 3: (1, 2, 1)}
    description = (
        "Two clock hands, a long narrow one and a short wide one, turning independently: "
        "one image for every pair of angles, so the images form a torus."
    )
    long_hand = (5.0, 0.85, 0.07)  # (kappa, length, falloff): about +-26 degrees wide
    short_hand = (1.5, 0.5, 0.08)  # about +-47 degrees wide
    gain = 1.5

    def _sample_params(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(0.0, TWO_PI, size=(n, 2))

    def _render(self, params: torch.Tensor, size: int) -> torch.Tensor:
        density = None
        for column, hand in enumerate((self.long_hand, self.short_hand)):
            fields = _raster.beam_fields(size, *hand, params.device, params.dtype)
            theta = params[:, column]
            coefficients = torch.stack(
                [torch.cos(theta), torch.sin(theta), torch.ones_like(theta)], 1
            )
            beam = torch.exp(coefficients @ fields)
            density = beam if density is None else density + beam
        return _raster.ink(density, self.gain).reshape(-1, size, size)

    def _canonical(self, params: np.ndarray) -> np.ndarray:
        return wrap_angle(params)

    def _nearest_lift(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + wrap_diff(b - a)

    def _param_bank(self, n: int) -> np.ndarray:
        side = grid_side(n, 2)
        angles = np.arange(side) * (TWO_PI / side)
        t1, t2 = np.meshgrid(angles, angles, indexing="ij")
        return np.stack([t1.ravel(), t2.ravel()], axis=1)

    def _coverage(self, params: np.ndarray) -> np.ndarray:
        return params / TWO_PI
