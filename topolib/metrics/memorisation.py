"""Memorisation: are generated images copies of training images?

For every image we take its distances to the nearest and second-nearest *training* images,
``d1 <= d2``, and their ratio ``d1 / d2``. A copy of a training image has ``d1`` near 0 and a
small ratio; the usual rule flags ratios below 1/3 (Yoon et al. 2023). On a densely sampled
low-dimensional manifold that rule is fooled: fresh real renders also land very close to a
training image, so it flags real images that no model ever saw. The measurement is therefore
**calibrated**: the same numbers are computed for held-out real renders (uniform on the
manifold, not in the training set), and the samples are called memorised only where they are
closer to the training set than fresh real images are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from topolib.metrics.intervals import wilson_interval
from topolib.metrics.projection import as_images

__all__ = ["Memorisation", "memorisation", "nearest_training_distances"]

RATIO_RULE = 1 / 3
_CHUNK = 2048


def nearest_training_distances(images: object, train: object) -> np.ndarray:
    """Euclidean distances from each image to its two nearest training images.

    Parameters
    ----------
    images : ``(n, S, S)`` or ``(n, 1, S, S)`` images.
    train : ``(m, S, S)`` or ``(m, 1, S, S)`` training images, m >= 2, same size.

    Returns
    -------
    ``(n, 2)`` float array: ``d1 <= d2`` per row.
    """
    x = torch.from_numpy(as_images(images, name="images")).flatten(1).double()
    ref = torch.from_numpy(as_images(train, name="train", size=int(math.isqrt(x.shape[1]))))
    ref = ref.flatten(1).double()
    if ref.shape[0] < 2:
        raise ValueError(f"train must hold at least 2 images; got {ref.shape[0]}")
    ref_sq = ref.pow(2).sum(1)
    out = []
    for chunk in x.split(_CHUNK):
        d2 = chunk.pow(2).sum(1, keepdim=True) - 2 * chunk @ ref.T + ref_sq[None]
        out.append(d2.clamp_min(0).topk(2, dim=1, largest=False).values.sqrt())
    return torch.cat(out).numpy()


@dataclass(frozen=True)
class Memorisation:
    """Nearest-training-image statistics of samples, calibrated on held-out real renders.

    Attributes
    ----------
    samples, heldout : ``(n, 2)`` and ``(m, 2)`` distances to the two nearest training images.
    rule : ratio below which the usual rule calls an image a copy (1/3).
    """

    samples: np.ndarray
    heldout: np.ndarray
    rule: float = RATIO_RULE

    @property
    def ratio_samples(self) -> np.ndarray:
        """``(n,)`` ratios ``d1 / d2`` of the samples."""
        return self.samples[:, 0] / np.maximum(self.samples[:, 1], 1e-12)

    @property
    def ratio_heldout(self) -> np.ndarray:
        """``(m,)`` ratios ``d1 / d2`` of the held-out real renders."""
        return self.heldout[:, 0] / np.maximum(self.heldout[:, 1], 1e-12)

    def flagged(self, which: str = "samples") -> tuple[float, float, float]:
        """Share of ``"samples"`` or ``"heldout"`` images the uncalibrated rule flags, with
        its 95% Wilson interval: ``(share, low, high)``."""
        ratio = {"samples": self.ratio_samples, "heldout": self.ratio_heldout}[which]
        k, n = int((ratio < self.rule).sum()), len(ratio)
        return (k / n, *wilson_interval(k, n))

    def closer_than_real(self, quantile: float = 0.01) -> tuple[float, float, float]:
        """Share of samples nearer to a training image than all but ``quantile`` of held-out
        real renders (the calibrated test; ``quantile`` of real images would be flagged),
        with its 95% Wilson interval: ``(share, low, high)``."""
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must be in (0, 1); got {quantile!r}")
        cut = float(np.quantile(self.heldout[:, 0], quantile))
        k, n = int((self.samples[:, 0] < cut).sum()), len(self.samples)
        return (k / n, *wilson_interval(k, n))

    def median_ratio(self) -> tuple[float, float]:
        """Median ``d1`` of the samples over the median ``d1`` of held-out renders, and the
        same for ``d1 / d2``: about 1 when samples are as far from the training set as
        fresh real images, well below 1 for copies."""
        return (float(np.median(self.samples[:, 0]) / np.median(self.heldout[:, 0])),
                float(np.median(self.ratio_samples) / np.median(self.ratio_heldout)))


def memorisation(samples: object, train: object, heldout: object) -> Memorisation:
    """Nearest-training-image distances of ``samples`` and of ``heldout`` real renders.

    Parameters
    ----------
    samples : ``(n, S, S)`` generated images.
    train : ``(m, S, S)`` the model's training images.
    heldout : ``(k, S, S)`` real renders that were not trained on (the calibration).
    """
    return Memorisation(nearest_training_distances(samples, train),
                        nearest_training_distances(heldout, train))
