"""A torch ``Dataset`` of rendered manifold images."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from topolib.datasets.base import ImageManifold
from topolib.datasets.registry import get_dataset

__all__ = ["ManifoldImages"]


class ManifoldImages(Dataset):
    """``n`` uniform samples of a manifold, rendered once at construction.

    Items are ``(image, params)``: float32 tensors of shapes ``(1, size, size)`` and
    ``(param_dim,)``. The whole set is also available as ``images`` ``(n, 1, size, size)``
    and ``params`` ``(n, param_dim)``.
    """

    def __init__(
        self,
        manifold_or_name: ImageManifold | str,
        n: int,
        seed: int | np.random.Generator,
        size: int = 32,
    ) -> None:
        self.manifold = get_dataset(manifold_or_name)
        images, params = self.manifold.sample(n, seed, size)
        self.images = torch.from_numpy(images).unsqueeze(1)
        self.params = torch.from_numpy(params.astype(np.float32))

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.params[index]
