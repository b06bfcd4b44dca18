"""Vectorised, differentiable drawing primitives shared by the image manifolds.

Coordinates are normalised: an image covers the square [-1, 1]^2, x grows to the right and y
grows upwards (row 0 is the top row). Everything is written once, in torch: the fast numpy
renderer runs these functions under ``torch.no_grad`` on the CPU, the differentiable renderer
runs them on whatever device and dtype its input has.

Two kinds of picture are drawn:

* **splats**: sums of isotropic Gaussians. A Gaussian is separable, so an image of ``K``
  splats is a batched product of two thin matrices, ``(S, K) @ (K, S)``, instead of
  ``K * S * S`` exponentials. Strokes (clock hands) are rows of overlapping splats.
* **fields**: images that are a fixed function of a few fixed per-pixel fields combined
  linearly with the parameters (shaded balls, Klein-bottle edge patches), i.e. one matrix
  product ``(n, F) @ (F, S * S)`` followed by at most a pointwise function.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import torch

__all__ = [
    "Splats",
    "ball_fields",
    "bar",
    "beam_fields",
    "dot",
    "draw",
    "ink",
    "merge",
    "pixel_centres",
    "scale",
    "stroke",
    "window_fields",
]


@functools.lru_cache(maxsize=64)
def pixel_centres(size: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """x coordinates of the pixel centres of a ``size``-pixel row, shape ``(size,)``."""
    step = 2.0 / size
    centres = (torch.arange(size, dtype=torch.float64) + 0.5) * step - 1.0
    return centres.to(device=device, dtype=dtype)


def _grid_xy(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Flattened float64 pixel coordinates ``(x, y)``, each of shape ``(size * size,)``."""
    c = pixel_centres(size, torch.device("cpu"), torch.float64)
    y, x = torch.meshgrid(-c, c, indexing="ij")
    return x.reshape(-1), y.reshape(-1)


class Splats(NamedTuple):
    """A batch of isotropic Gaussian splats; every field has shape ``(n, K)``.

    A splat adds ``weight * exp(-|p - centre|^2 / (2 sigma^2))`` to the density at pixel p.
    """

    cx: torch.Tensor
    cy: torch.Tensor
    sigma: torch.Tensor
    weight: torch.Tensor


def dot(cx: torch.Tensor, cy: torch.Tensor, sigma: float, weight: float = 1.0) -> Splats:
    """One splat per image at ``(cx, cy)``, each of shape ``(n,)``."""
    full = torch.full((cx.shape[0], 1), 1.0, dtype=cx.dtype, device=cx.device)
    return Splats(cx[:, None], cy[:, None], full * sigma, full * weight)


def stroke(theta: torch.Tensor, start: float, stop: float, sigma: float) -> Splats:
    """A straight stroke from radius ``start`` to ``stop`` along the angle ``theta`` ``(n,)``.

    Splats are spaced at most ``1.2 * sigma`` apart and weighted so that the density along
    the stroke is 1 with a Gaussian cross-section of width ``sigma``: the ripple of such a
    sum is ``2 exp(-2 pi^2 sigma^2 / spacing^2)``, about 2e-6.
    """
    count = max(2, math.ceil(abs(stop - start) / (1.2 * sigma)) + 1)
    radii = torch.linspace(start, stop, count, dtype=theta.dtype, device=theta.device)
    spacing = abs(stop - start) / (count - 1)
    direction_x, direction_y = torch.cos(theta)[:, None], torch.sin(theta)[:, None]
    full = torch.ones_like(radii).expand(theta.shape[0], count)
    weight = spacing / (sigma * math.sqrt(2.0 * math.pi))
    return Splats(radii * direction_x, radii * direction_y, full * sigma, full * weight)


def bar(
    cx: torch.Tensor, cy: torch.Tensor, theta: torch.Tensor, half_length: float, sigma: float
) -> Splats:
    """A stroke centred on ``(cx, cy)`` ``(n,)`` along the angle ``theta`` ``(n,)``."""
    centred = stroke(theta, -half_length, half_length, sigma)
    return centred._replace(cx=centred.cx + cx[:, None], cy=centred.cy + cy[:, None])


def merge(*parts: Splats) -> Splats:
    """Concatenate splat batches along the splat axis."""
    return Splats(*(torch.cat(fields, dim=1) for fields in zip(*parts, strict=True)))


def scale(splats: Splats, factor: torch.Tensor) -> Splats:
    """Multiply every splat weight of image i by ``factor[i]`` ``(n,)``."""
    return splats._replace(weight=splats.weight * factor[:, None])


def draw(splats: Splats, size: int) -> torch.Tensor:
    """Density image of a splat batch, shape ``(n, size, size)``.

    Anti-aliasing: each Gaussian is widened by the variance of a one-pixel box filter
    (``pixel^2 / 12``) and its amplitude lowered to keep its mass, so thin strokes do not alias
    at small sizes.
    """
    xs = pixel_centres(size, splats.cx.device, splats.cx.dtype)
    variance = splats.sigma * splats.sigma + (2.0 / size) ** 2 / 12.0
    amplitude = splats.weight * splats.sigma * splats.sigma / variance
    # x and y factors in one batch; pixel row i has y = -xs[i].
    offsets = xs - torch.cat([splats.cx, -splats.cy], dim=1)[..., None]
    coefficient = torch.cat([variance, variance], dim=1)[..., None].reciprocal().mul_(-0.5)
    # The floor exp(-40) ~ 4e-18 keeps every factor, and every product of two, a normal
    # float32: denormals are ~100x slower on x86 and the tails are invisible anyway.
    factors = torch.exp((offsets * offsets * coefficient).clamp_(min=-40.0))
    count = splats.cx.shape[1]
    gx = factors[:, :count] * amplitude[..., None]
    return torch.bmm(factors[:, count:].transpose(1, 2), gx)


def ink(density: torch.Tensor, gain: float) -> torch.Tensor:
    """Intensity ``1 - exp(-gain * density)`` in [0, 1) of a non-negative density.

    Smooth, strictly increasing and 1-Lipschitz in ``gain * density``: overlapping strokes
    saturate instead of exceeding 1, and injectivity of the density carries over.
    """
    return 1.0 - torch.exp(density * -gain)  # faster than -expm1 on CPU; same accuracy here


@functools.lru_cache(maxsize=64)
def beam_fields(
    size: int, kappa: float, length: float, falloff: float, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """Fields of a "beam" hand, shape ``(3, size * size)``, for ``exp(coefficients @ fields)``.

    With coefficients ``(cos theta, sin theta, 1)`` the density at polar ``(r, psi)`` is
    ``exp(kappa (cos(psi - theta) - 1)) * exp(-max(r - length, 0)^2 / (2 falloff^2))``: a
    von Mises profile in angle (angular width about ``1 / sqrt(kappa)`` at every radius) that
    ends softly at ``length``. Because the width is an angle, the image distance between two
    beams grows smoothly with their angle difference over the whole range, instead of
    saturating after a few degrees like a thin stroke. Rows: ``kappa cos psi``,
    ``kappa sin psi`` and ``log(radial profile) - kappa`` (floored at -40: no denormals).
    """
    x, y = _grid_xy(size)
    r = torch.sqrt(x**2 + y**2)
    safe = torch.clamp(r, min=1e-12)
    cos_psi = torch.where(r > 0, x / safe, torch.zeros_like(r))
    sin_psi = torch.where(r > 0, y / safe, torch.zeros_like(r))
    radial = -(torch.clamp(r - length, min=0.0) ** 2) / (2.0 * falloff**2)
    fields = torch.stack([kappa * cos_psi, kappa * sin_psi, radial.clamp(min=-40.0) - kappa])
    return fields.to(device=device, dtype=dtype)


@functools.lru_cache(maxsize=64)
def ball_fields(
    size: int, radius: float, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Surface normals and a soft, shaded mask of a ball seen from +z (orthographic view).

    Returns
    -------
    normals : ``(3, size * size)``; outside the ball the rim normal (continuous field).
    mask : ``(size * size,)``; a sigmoid of the signed distance to the rim (half a pixel
        wide) times a mild Lambertian shade ``0.65 + 0.35 n_z`` so the ball looks round.
    """
    x, y = _grid_xy(size)
    rho = torch.sqrt(x**2 + y**2) / radius
    scale_xy = 1.0 / (radius * torch.clamp(rho, min=1.0))
    nx, ny = x * scale_xy, y * scale_xy
    nz = torch.sqrt(torch.clamp(1.0 - nx**2 - ny**2, min=0.0))
    edge = torch.sigmoid((radius - rho * radius) / (0.5 * 2.0 / size))
    mask = edge * (0.65 + 0.35 * nz)
    normals = torch.stack([nx, ny, nz])
    return normals.to(device=device, dtype=dtype), mask.to(device=device, dtype=dtype)


@functools.lru_cache(maxsize=64)
def window_fields(size: int, radius: float, device: torch.device, dtype: torch.dtype):
    """Monomials of the window coordinates times a soft round window, shape ``(6, size^2)``.

    Rows: ``w, w x, w y, w x^2, w x y, w y^2`` with ``(x, y)`` divided by ``radius``; the
    window ``w`` is 1 for r < 0.75 radius, falls smoothly (smoothstep) and is exactly 0 from
    r = radius on, so any polynomial of degree 2 in ``<u, x>`` with |u| = 1 is evaluated only
    where ``|<u, x>| <= 1``.
    """
    x, y = _grid_xy(size)
    x, y = x / radius, y / radius
    r = torch.sqrt(x**2 + y**2)
    s = torch.clamp((1.0 - r) / 0.25, 0.0, 1.0)
    w = s * s * (3.0 - 2.0 * s)
    fields = torch.stack([w, w * x, w * y, w * x * x, w * x * y, w * y * y])
    return fields.to(device=device, dtype=dtype)
