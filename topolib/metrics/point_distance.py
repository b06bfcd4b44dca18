"""Exact distances from points to the known point-cloud sets, and where their nearest points lie.

Every function is vectorised NumPy, ``(n, D) -> (n,)``, with the sets' parameters defaulting
to those of the samplers in :mod:`topolib.datasets.point_clouds`:

>>> d = sphere_distance(samples)                    # | |x| - 1 |
>>> s = stratified_distance(samples)                # per stratum, with the nearest one
>>> s.distance, s.sphere, s.tube, s.label, s.tube_z

The stratified set is the unit sphere plus the one-sheet hyperboloid ``x^2 + y^2 - z^2 = a^2``
cut at ``|z| <= h = sqrt((1 - a^2) / 2)``, where it meets the sphere. In cylindrical
coordinates ``(rho, z)`` the tube is the curve ``rho = sqrt(a^2 + z^2)``; with
``rho = a cosh u, z = a sinh u`` the distance is minimised over ``u`` in ``[-U, U]``,
``U = asinh(h / a)``. Its stationary points solve ``a sinh 2u = rho sinh u + z cosh u``, a
quartic in ``w = e^u``: ``a w^4 - (rho + z) w^3 + (rho - z) w - a = 0``. Its roots (batched
companion-matrix eigenvalues), clipped to ``[-U, U]``, plus the two ends, polished by Newton
steps, give the exact distance (to about 1e-9).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np

from topolib.metrics.landmarks import as_point_array

__all__ = [
    "SPHERE",
    "TUBE",
    "StratifiedDistance",
    "circle_distance",
    "junction_height",
    "set_distance",
    "sphere_distance",
    "stratified_distance",
    "torus_distance",
    "tube_distance",
]

#: Stratum labels of :class:`StratifiedDistance`.
SPHERE, TUBE = 0, 1
#: Defaults of :func:`topolib.datasets.point_clouds.stratified_points` and ``torus_points``.
DEFAULT_A = 0.5
DEFAULT_R, DEFAULT_SMALL_R = 2.0, 1.0


def _points(X: object, dim: int, name: str = "X") -> np.ndarray:
    arr = as_point_array(X, name)
    if arr.shape[1] != dim:
        raise ValueError(f"{name} must have shape (n, {dim}); got shape {np.shape(X)}")
    return arr


def _positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not value > 0:
        raise ValueError(f"{name} must be a positive number; got {value!r}")
    return float(value)


def _check_a(a: object) -> float:
    a = _positive(a, "a")
    if a >= 1.0:
        raise ValueError(f"a must be in (0, 1) so the tube fits in the unit sphere; got {a}")
    return a


def junction_height(a: float = DEFAULT_A) -> float:
    """Height ``h = sqrt((1 - a^2) / 2)`` of the two junction circles (tube meets sphere)."""
    a = _check_a(a)
    return math.sqrt((1.0 - a * a) / 2.0)


def circle_distance(X: np.ndarray, radius: float = 1.0) -> np.ndarray:
    """Distance of ``(n, 2)`` points to the circle of ``radius`` about 0: ``(n,)``."""
    P = _points(X, 2)
    return np.abs(np.linalg.norm(P, axis=1) - _positive(radius, "radius"))


def sphere_distance(X: np.ndarray, radius: float = 1.0) -> np.ndarray:
    """Distance of ``(n, 3)`` points to the sphere of ``radius`` about 0: ``(n,)``."""
    P = _points(X, 3)
    return np.abs(np.linalg.norm(P, axis=1) - _positive(radius, "radius"))


def torus_distance(
    X: np.ndarray,
    R: float = DEFAULT_R,  # noqa: N803 (the usual names of the radii)
    r: float = DEFAULT_SMALL_R,
) -> np.ndarray:
    """Distance of ``(n, 3)`` points to :func:`torus_points`' torus (axis z): ``(n,)``.

    ``| sqrt((sqrt(x^2 + y^2) - R)^2 + z^2) - r |``.
    """
    P = _points(X, 3)
    R, r = _positive(R, "R"), _positive(r, "r")
    if r >= R:
        raise ValueError(f"r must be smaller than R for a ring torus; got R={R}, r={r}")
    ring = np.hypot(P[:, 0], P[:, 1]) - R
    return np.abs(np.hypot(ring, P[:, 2]) - r)


def _tube_foot(rho: np.ndarray, z: np.ndarray, a: float, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Distance from ``(rho, z)`` to the curve ``rho = sqrt(a^2 + t^2)``, ``|t| <= h``.

    Returns ``(distance, t)``, both ``(n,)``, with ``t`` the height of the nearest point.
    """
    n = len(rho)
    U = math.asinh(h / a)
    # Companion matrices of w^4 + c3 w^3 + c2 w^2 + c1 w + c0 (monic quartic, c2 = 0).
    comp = np.zeros((n, 4, 4))
    comp[:, 1, 0] = comp[:, 2, 1] = comp[:, 3, 2] = 1.0
    comp[:, 0, 3] = 1.0  # -c0 = a / a
    comp[:, 1, 3] = -(rho - z) / a  # -c1
    comp[:, 2, 3] = 0.0  # -c2
    comp[:, 3, 3] = (rho + z) / a  # -c3
    roots = np.linalg.eigvals(comp)  # (n, 4)
    real = (np.abs(roots.imag) <= 1e-6 * (1.0 + np.abs(roots))) & (roots.real > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(real, np.log(np.where(real, roots.real, 1.0)), 0.0)
    u = np.clip(u, -U, U)
    cand = np.concatenate([u, np.full((n, 1), -U), np.full((n, 1), U)], axis=1)
    valid = np.concatenate([real, np.ones((n, 2), dtype=bool)], axis=1)
    # Newton on g(u) = a sinh 2u - rho sinh u - z cosh u (the derivative of f / 2a), clipped.
    r_, z_ = rho[:, None], z[:, None]
    for _ in range(3):
        g = a * np.sinh(2 * cand) - r_ * np.sinh(cand) - z_ * np.cosh(cand)
        dg = 2 * a * np.cosh(2 * cand) - r_ * np.cosh(cand) - z_ * np.sinh(cand)
        step = np.where(np.abs(dg) > 1e-12, g / np.where(dg == 0, 1.0, dg), 0.0)
        step = np.clip(step, -0.1, 0.1)
        cand = np.clip(np.where(valid, cand - step, cand), -U, U)
        cand[:, -2], cand[:, -1] = -U, U
    f = (r_ - a * np.cosh(cand)) ** 2 + (z_ - a * np.sinh(cand)) ** 2
    f = np.where(valid, f, np.inf)
    best = np.argmin(f, axis=1)
    rows = np.arange(n)
    return np.sqrt(f[rows, best]), a * np.sinh(cand[rows, best])


def tube_distance(X: np.ndarray, a: float = DEFAULT_A) -> np.ndarray:
    """Distance of ``(n, 3)`` points to the cut hyperboloid of :func:`stratified_points`.

    The tube ``x^2 + y^2 - z^2 = a^2``, ``|z| <= sqrt((1 - a^2) / 2)``; exact (see the module
    docstring). Returns ``(n,)``.
    """
    P = _points(X, 3)
    a = _check_a(a)
    dist, _ = _tube_foot(np.hypot(P[:, 0], P[:, 1]), P[:, 2], a, junction_height(a))
    return dist


@dataclass(frozen=True, eq=False)
class StratifiedDistance:
    """Distances of points to the two strata of the stratified set.

    Attributes
    ----------
    sphere, tube : ndarray, shape (n,)
        Distance to the unit sphere and to the cut tube.
    tube_z : ndarray, shape (n,)
        Height of the nearest tube point (in ``[-h, h]``).
    a, h : tube parameter and junction height.
    """

    sphere: np.ndarray
    tube: np.ndarray
    tube_z: np.ndarray
    a: float
    h: float

    @property
    def distance(self) -> np.ndarray:
        """``(n,)`` distance to the whole set (the nearer stratum)."""
        return np.minimum(self.sphere, self.tube)

    @property
    def label(self) -> np.ndarray:
        """``(n,)`` nearest stratum: ``SPHERE`` (0) or ``TUBE`` (1); ties go to the sphere."""
        return np.where(self.tube < self.sphere, TUBE, SPHERE)

    def __len__(self) -> int:
        return len(self.sphere)


def stratified_distance(X: np.ndarray, a: float = DEFAULT_A) -> StratifiedDistance:
    """Distances of ``(n, 3)`` points to the sphere and tube of :func:`stratified_points`.

    Parameters
    ----------
    X : array-like, shape (n, 3)
    a : waist radius of the tube (default: the sampler's 0.5).

    Returns
    -------
    StratifiedDistance
    """
    P = _points(X, 3)
    a = _check_a(a)
    h = junction_height(a)
    rho = np.hypot(P[:, 0], P[:, 1])
    tube, tube_z = _tube_foot(rho, P[:, 2], a, h)
    sphere = np.abs(np.linalg.norm(P, axis=1) - 1.0)
    return StratifiedDistance(sphere=sphere, tube=tube, tube_z=tube_z, a=a, h=h)


#: Ambient dimension of each point set.
DIMENSIONS = {"circle": 2, "sphere": 3, "torus": 3, "stratified": 3}


def set_distance(X: np.ndarray, dataset: str, **params: float) -> np.ndarray:
    """Distance of points to the set ``dataset`` (a name of :data:`DIMENSIONS`): ``(n,)``.

    ``params`` are the set's parameters (``radius``; ``R``, ``r``; ``a``), passed through.
    """
    funcs = {
        "circle": circle_distance,
        "sphere": sphere_distance,
        "torus": torus_distance,
        "stratified": lambda P, **k: stratified_distance(P, **k).distance,
    }
    if dataset not in funcs:
        raise ValueError(f"dataset must be one of {tuple(funcs)}; got {dataset!r}")
    return funcs[dataset](X, **params)
