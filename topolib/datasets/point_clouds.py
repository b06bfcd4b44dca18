"""Low-dimensional point-cloud twins of the image manifolds, uniform on their surfaces.

Every sampler has the signature ``f(n, seed, noise=0.0, ...) -> (n, D)`` float64 and adds
isotropic Gaussian noise of standard deviation ``noise`` in the ambient space.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from topolib.datasets.base import TWO_PI, check_count
from topolib.seeding import numpy_rng

__all__ = [
    "POINT_CLOUD_BETTI",
    "POINT_CLOUDS",
    "circle_points",
    "klein_area_element",
    "klein_embedding",
    "klein_points",
    "sphere_points",
    "stratified_points",
    "torus_points",
]

#: Expected Betti numbers (b0, b1, b2) over the fields Z/2 and Z/3.
POINT_CLOUD_BETTI: dict[str, dict[int, tuple[int, int, int]]] = {
    "circle": {2: (1, 1, 0), 3: (1, 1, 0)},
    "sphere": {2: (1, 0, 1), 3: (1, 0, 1)},
    "torus": {2: (1, 2, 1), 3: (1, 2, 1)},
    "klein": {2: (1, 2, 1), 3: (1, 1, 0)},
    "stratified": {2: (1, 1, 2), 3: (1, 1, 2)},
}


def _check_noise(noise: object) -> float:
    if isinstance(noise, bool) or not isinstance(noise, Real) or not math.isfinite(noise):
        raise TypeError(f"noise must be a finite non-negative number; got {noise!r}")
    if noise < 0:
        raise ValueError(f"noise must be a finite non-negative number; got {noise!r}")
    return float(noise)


def _check_positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not value > 0:
        raise ValueError(f"{name} must be a positive number; got {value!r}")
    return float(value)


def _setup(n: object, seed: object, noise: object, stream: str):
    n = check_count(n, "n")
    noise = _check_noise(noise)
    return n, noise, numpy_rng(seed, stream=f"topolib.point_clouds.{stream}")


def _add_noise(points: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    if noise > 0:
        points = points + noise * rng.standard_normal(points.shape)
    return points


def _rejection(n: int, rng: np.random.Generator, propose, accept_prob) -> np.ndarray:
    """``n`` samples of ``propose(m) -> (m, k)`` thinned by ``accept_prob(x) -> (m,)``."""
    chunks, have = [propose(0)], 0  # the empty chunk keeps n = 0 (all on the sphere) valid
    while have < n:
        m = 2 * (n - have) + 16
        x = propose(m)
        x = x[rng.uniform(size=m) < accept_prob(x)]
        chunks.append(x)
        have += len(x)
    return np.concatenate(chunks)[:n]


def circle_points(
    n: int, seed: int | np.random.Generator, noise: float = 0.0, radius: float = 1.0
) -> np.ndarray:
    """Uniform points on the circle of ``radius`` in R^2, ``(n, 2)``."""
    n, noise, rng = _setup(n, seed, noise, "circle")
    radius = _check_positive(radius, "radius")
    theta = rng.uniform(0.0, TWO_PI, size=n)
    points = radius * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return _add_noise(points, noise, rng)


def sphere_points(
    n: int, seed: int | np.random.Generator, noise: float = 0.0, radius: float = 1.0
) -> np.ndarray:
    """Uniform points on the sphere of ``radius`` in R^3, ``(n, 3)``."""
    n, noise, rng = _setup(n, seed, noise, "sphere")
    radius = _check_positive(radius, "radius")
    points = rng.standard_normal((n, 3))
    points *= radius / np.linalg.norm(points, axis=1, keepdims=True)
    return _add_noise(points, noise, rng)


def torus_points(
    n: int,
    seed: int | np.random.Generator,
    noise: float = 0.0,
    R: float = 2.0,  # noqa: N803 (the usual names of the radii)
    r: float = 1.0,
) -> np.ndarray:
    """Area-uniform points on the torus of radii ``R > r`` in R^3, ``(n, 3)``.

    The area element is ``r (R + r cos v) du dv``: uniform ``(u, v)`` are thinned with
    acceptance ``(R + r cos v) / (R + r)`` (rejection sampling).
    """
    n, noise, rng = _setup(n, seed, noise, "torus")
    R, r = _check_positive(R, "R"), _check_positive(r, "r")
    if r >= R:
        raise ValueError(f"r must be smaller than R for a ring torus; got R={R}, r={r}")
    uv = _rejection(
        n,
        rng,
        lambda m: rng.uniform(0.0, TWO_PI, size=(m, 2)),
        lambda x: (R + r * np.cos(x[:, 1])) / (R + r),
    )
    u, v = uv[:, 0], uv[:, 1]
    ring = R + r * np.cos(v)
    points = np.stack([ring * np.cos(u), ring * np.sin(u), r * np.sin(v)], axis=1)
    return _add_noise(points, noise, rng)


def klein_area_element(v: np.ndarray, R: float = 2.0, r: float = 1.0) -> np.ndarray:  # noqa: N803
    """Area element ``dA / (du dv)`` of :func:`klein_points`' embedding at ``v`` (any shape).

    ``r sqrt((R + r cos v)^2 + (r sin v / 2)^2)``; it does not depend on ``u``. Its integral
    over ``[0, 2 pi)^2`` is the bottle's area.
    """
    v = np.asarray(v, dtype=np.float64)
    return r * np.sqrt((R + r * np.cos(v)) ** 2 + (0.5 * r * np.sin(v)) ** 2)


def klein_embedding(
    u: np.ndarray,
    v: np.ndarray,
    R: float = 2.0,  # noqa: N803
    r: float = 1.0,
) -> np.ndarray:
    """The Klein bottle of :func:`klein_points` at parameters ``(u, v)``, shape ``(m, 4)``.

    ``((R + r cos v) cos u, (R + r cos v) sin u, r sin v cos(u/2), r sin v sin(u/2))``. The
    curve ``u -> (u, 0)``, u in [0, 2 pi], is the *glide* loop (once round the core; it
    reverses the fibre, ``v -> -v``): infinite order in ``H_1(K; Z) = Z + Z/2``. The curve
    ``v -> (u0, v)`` is the *fibre* circle, the torsion class (twice it bounds).
    """
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    ring = R + r * np.cos(v)
    return np.stack(
        [
            ring * np.cos(u),
            ring * np.sin(u),
            r * np.sin(v) * np.cos(u / 2),
            r * np.sin(v) * np.sin(u / 2),
        ],
        axis=-1,
    )


def klein_points(
    n: int,
    seed: int | np.random.Generator,
    noise: float = 0.0,
    R: float = 2.0,  # noqa: N803
    r: float = 1.0,
) -> np.ndarray:
    """Area-uniform points on a Klein bottle embedded in R^4, ``(n, 4)``.

    ``((R + r cos v) cos u, (R + r cos v) sin u, r sin v cos(u/2), r sin v sin(u/2))``;
    ``u -> u + 2 pi`` maps ``v -> -v``, so this is a Klein bottle. The two coordinate
    directions are orthogonal, with ``|d/du|^2 = (R + r cos v)^2 + (r sin v / 2)^2`` and
    ``|d/dv| = r``, so the area element is ``r sqrt((R + r cos v)^2 + (r sin v / 2)^2) du dv``
    (:func:`klein_area_element`): uniform ``(u, v)`` are thinned with acceptance
    ``sqrt(...) / (R + r)``, the largest value being at ``v = 0`` (rejection sampling).
    """
    n, noise, rng = _setup(n, seed, noise, "klein")
    R, r = _check_positive(R, "R"), _check_positive(r, "r")
    if r >= R:
        raise ValueError(f"r must be smaller than R; got R={R}, r={r}")
    uv = _rejection(
        n,
        rng,
        lambda m: rng.uniform(0.0, TWO_PI, size=(m, 2)),
        lambda x: klein_area_element(x[:, 1], R, r) / (r * (R + r)),
    )
    points = klein_embedding(uv[:, 0], uv[:, 1], R, r)
    return _add_noise(points, noise, rng)


def _tube_area(a: float, height: float) -> float:
    """Area of x^2 + y^2 - z^2 = a^2 for |z| <= height: 2 pi int sqrt(a^2 + 2 z^2) dz."""
    c = a / math.sqrt(2.0)
    primitive = 0.5 * (height * math.sqrt(c * c + height * height) + c * c * math.asinh(height / c))
    return 2.0 * math.pi * math.sqrt(2.0) * 2.0 * primitive


def stratified_points(
    n: int, seed: int | np.random.Generator, noise: float = 0.0, a: float = 0.5
) -> np.ndarray:
    """Unit sphere plus an inner tube ``x^2 + y^2 - z^2 = a^2``, area-uniform, ``(n, 3)``.

    The one-sheet hyperboloid meets the sphere along the circles ``z = +-sqrt((1 - a^2)/2)``
    and is cut there. Not a manifold; Betti numbers (1, 1, 2): a loop runs through the tube
    and back over the sphere, and the tube splits the ball into two voids. Each point is on
    the sphere with probability (sphere area) / (total area).
    """
    n, noise, rng = _setup(n, seed, noise, "stratified")
    a = _check_positive(a, "a")
    if a >= 1.0:
        raise ValueError(f"a must be in (0, 1) so the tube fits in the unit sphere; got {a}")
    height = math.sqrt((1.0 - a * a) / 2.0)
    sphere_area = 4.0 * math.pi
    on_sphere = rng.uniform(size=n) < sphere_area / (sphere_area + _tube_area(a, height))
    n_sphere = int(on_sphere.sum())
    points = np.empty((n, 3))
    sphere = rng.standard_normal((n_sphere, 3))
    points[on_sphere] = sphere / np.linalg.norm(sphere, axis=1, keepdims=True)
    # Tube: angle uniform; height z with density proportional to sqrt(a^2 + 2 z^2) <= 1.
    z = _rejection(
        n - n_sphere,
        rng,
        lambda m: rng.uniform(-height, height, size=(m, 1)),
        lambda x: np.sqrt(a * a + 2.0 * x[:, 0] ** 2),
    )[:, 0]
    angle = rng.uniform(0.0, TWO_PI, size=n - n_sphere)
    rho = np.sqrt(a * a + z * z)
    points[~on_sphere] = np.stack([rho * np.cos(angle), rho * np.sin(angle), z], axis=1)
    return _add_noise(points, noise, rng)


POINT_CLOUDS = {
    "circle": circle_points,
    "sphere": sphere_points,
    "torus": torus_points,
    "klein": klein_points,
    "stratified": stratified_points,
}
