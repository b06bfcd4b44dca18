"""Interpolation audit: does a path of images walk along the manifold, the short way?

Every image of the path is projected onto the manifold (``project``). From the recovered
parameters we measure the path's intrinsic length against the geodesic distance between its
endpoints, its largest step, and the share of its images that are off the manifold.

Verdict (``PathAudit.valid``): a path is valid when all of

* **on the manifold**: at most ``PATH_MAX_OFF_FRACTION`` (10%) of its images have a residual
  above the off-manifold threshold (one borderline frame in a path of ten is tolerated;
  a cross-fade through pixel space is off along most of its length);
* **short**: ``length <= LENGTH_RATIO_MAX * geodesic + LENGTH_SLACK`` with ratio 1.5; the
  slack (0.05 rad, ~3 degrees, tens of times the projection error) keeps paths between very
  close endpoints from failing on projection noise. A path round the long side of a circle
  has ratio ``(2 pi - d) / d``, above 1.5 whenever ``d < 0.8 pi``;
* **no jump**: no step exceeds ``JUMP_RATIO_MAX`` (3) times the mean step
  ``max(length, geodesic) / (m - 1)``: a path that teleports across the manifold in one
  step. (We divide by the larger of the two lengths so a uniformly paced long way round is
  reported as *long*, not as a jump.)
* **connected**: the endpoints lie on the same component (two_circles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import torch

from topolib.datasets.base import ImageManifold, check_size
from topolib.datasets.registry import get_dataset
from topolib.metrics.projection import (
    Projection,
    _check_threshold,
    as_images,
    project,
)

__all__ = [
    "JUMP_RATIO_MAX",
    "LENGTH_RATIO_MAX",
    "LENGTH_SLACK",
    "PATH_MAX_OFF_FRACTION",
    "PathAudit",
    "audit_path",
    "geodesic_path_images",
    "linear_pixel_path",
]

LENGTH_RATIO_MAX = 1.5
LENGTH_SLACK = 0.05
JUMP_RATIO_MAX = 3.0
PATH_MAX_OFF_FRACTION = 0.1


@dataclass(frozen=True)
class PathAudit:
    """What a path of images does on the manifold.

    Attributes
    ----------
    projection : projection of the ``m`` path images.
    params : ``(m, param_dim)`` recovered parameters along the path.
    steps : ``(m - 1,)`` intrinsic distances between consecutive recovered points
        (``inf`` across components).
    length : sum of ``steps``.
    geodesic : intrinsic distance between the endpoints (the given ``endpoints_params`` if
        any, else the recovered first and last points).
    length_ratio : ``length / geodesic`` (``inf`` for a closed path of positive length).
    max_jump : largest step.
    jump_ratio : ``max_jump / (max(length, geodesic) / (m - 1))``; 1 for a uniformly paced path.
    jumps : indices ``i`` of the steps ``i -> i + 1`` longer than ``JUMP_RATIO_MAX`` mean steps.
    off_manifold : ``(m,)`` bool, residual above the threshold.
    off_manifold_fraction : mean of ``off_manifold``.
    endpoint_error : largest distance between a recovered endpoint and the given one
        (``nan`` when no endpoints are given).
    valid : the verdict (see the module docstring).
    reasons : why it is not valid, in words (empty when valid).
    failures : the same as short labels, one per reason: ``"components"``,
        ``"off manifold"``, ``"long way"``, ``"jump"``.
    """

    projection: Projection
    params: np.ndarray
    steps: np.ndarray
    length: float
    geodesic: float
    length_ratio: float
    max_jump: float
    jump_ratio: float
    jumps: np.ndarray
    off_manifold: np.ndarray
    off_manifold_fraction: float
    endpoint_error: float
    valid: bool
    reasons: tuple[str, ...]
    failures: tuple[str, ...]

    @property
    def coords(self) -> np.ndarray:
        """``(m, intrinsic_dim)`` coverage coordinates of the recovered path."""
        return self.projection.coords


def _check_path_length(m: object) -> int:
    if isinstance(m, bool) or not isinstance(m, Integral) or int(m) < 2:
        raise ValueError(f"m must be an integer >= 2 (points on the path); got {m!r}")
    return int(m)


def geodesic_path_images(
    dataset: str | ImageManifold, a: np.ndarray, b: np.ndarray, m: int = 16, size: int = 32
) -> np.ndarray:
    """The ideal interpolation: renders of ``m`` equally spaced points of the geodesic a -> b.

    Parameters
    ----------
    a, b : ``(param_dim,)`` endpoints on the same component.

    Returns
    -------
    ``(m, size, size)`` float32; the parameters are ``dataset.geodesic(a, b, m)``.
    """
    ds = get_dataset(dataset)
    m = _check_path_length(m)
    params = ds.geodesic(np.asarray(a, dtype=float), np.asarray(b, dtype=float), m)
    return ds.render(params, check_size(size))


def linear_pixel_path(img_a: np.ndarray, img_b: np.ndarray, m: int = 16) -> np.ndarray:
    """Pixel-space cross-fade ``(1 - t) img_a + t img_b`` at ``m`` equally spaced ``t``.

    The canonical bad interpolation: midway it shows two faint pictures at once, an image
    that is on no manifold of single objects.

    Parameters
    ----------
    img_a, img_b : ``(S, S)`` images of the same shape.

    Returns
    -------
    ``(m, S, S)`` float32.
    """
    m = _check_path_length(m)
    a, b = _one_image(img_a, "img_a"), _one_image(img_b, "img_b")
    if a.shape != b.shape:
        raise ValueError(f"img_a and img_b must have the same shape; got {a.shape} and {b.shape}")
    t = np.linspace(0.0, 1.0, m, dtype=np.float32)[:, None, None]
    return (1.0 - t) * a + t * b


def _one_image(image: object, name: str) -> np.ndarray:
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"{name} must be one image of shape (S, S); got shape {array.shape}")
    return as_images(array[None], name=name)[0]


def audit_path(
    path_images: object,
    dataset: str | ImageManifold,
    endpoints_params: np.ndarray | None = None,
    threshold: float | None = None,
    projection: Projection | None = None,
) -> PathAudit:
    """Project a path of images and judge it as an interpolation.

    Parameters
    ----------
    path_images : ``(m, S, S)`` or ``(m, 1, S, S)`` images in path order, ``m >= 2``.
    dataset : name or ``ImageManifold``.
    endpoints_params : optional ``(2, param_dim)`` true endpoints the path was meant to join;
        by default the recovered first and last points are used.
    threshold : off-manifold residual threshold (default ``OFF_MANIFOLD_THRESHOLD``).
    projection : a precomputed ``project(path_images, dataset)``, to avoid projecting twice.

    Returns
    -------
    PathAudit
    """
    ds = get_dataset(dataset)
    images = as_images(path_images, name="path_images")
    m = len(images)
    if m < 2:
        raise ValueError(f"path_images must hold at least 2 images; got {m}")
    threshold = _check_threshold(threshold)
    if projection is None:
        projection = project(images, ds)
    elif len(projection) != m:
        raise ValueError(
            f"projection must have one row per path image ({m}); got {len(projection)}"
        )
    params = projection.params
    steps = ds.distance(params[:-1], params[1:])
    length = float(steps.sum())
    endpoint_error = math.nan
    if endpoints_params is None:
        ends = params[[0, -1]]
    else:
        ends = np.asarray(endpoints_params, dtype=float)
        if ends.shape != (2, ds.param_dim):
            raise ValueError(
                f"endpoints_params must have shape (2, {ds.param_dim}); got {ends.shape}"
            )
        endpoint_error = float(ds.distance(ends, params[[0, -1]]).max())
    geodesic = float(ds.distance(ends[:1], ends[1:])[0])
    if geodesic > 0:
        length_ratio = length / geodesic
    else:
        length_ratio = 1.0 if length == 0 else math.inf
    scale = max(length, geodesic) / (m - 1)
    max_jump = float(steps.max())
    if not math.isfinite(length):  # a step between components
        jump_ratio, jumps = math.inf, np.flatnonzero(~np.isfinite(steps))
    elif scale > 0:
        jump_ratio, jumps = max_jump / scale, np.flatnonzero(steps > JUMP_RATIO_MAX * scale)
    else:
        jump_ratio, jumps = 1.0, np.array([], dtype=np.int64)
    off = projection.off_manifold(threshold)
    off_fraction = float(off.mean())

    found: list[tuple[str, str]] = []  # (short label, explanation)
    if not math.isfinite(geodesic):
        found.append(("components", "endpoints lie on different components: no path on the "
                                    "manifold joins them"))
    if off_fraction > PATH_MAX_OFF_FRACTION:
        found.append(("off manifold", f"{off_fraction:.0%} of the path is off the manifold "
                                      f"(> {PATH_MAX_OFF_FRACTION:.0%})"))
    if math.isfinite(geodesic) and length > LENGTH_RATIO_MAX * geodesic + LENGTH_SLACK:
        found.append(("long way", f"takes the long way round: length {length:.3g} vs geodesic "
                                  f"{geodesic:.3g} (ratio {length_ratio:.2f} > "
                                  f"{LENGTH_RATIO_MAX})"))
    if len(jumps):
        found.append(("jump", f"jumps across the manifold: largest step {max_jump:.3g} is "
                              f"{jump_ratio:.1f} mean steps (> {JUMP_RATIO_MAX})"))
    return PathAudit(
        projection=projection,
        params=params,
        steps=steps,
        length=length,
        geodesic=geodesic,
        length_ratio=length_ratio,
        max_jump=max_jump,
        jump_ratio=jump_ratio,
        jumps=jumps,
        off_manifold=off,
        off_manifold_fraction=off_fraction,
        endpoint_error=endpoint_error,
        valid=not found,
        reasons=tuple(reason for _, reason in found),
        failures=tuple(label for label, _ in found),
    )
