"""Point-set instruments: mass off the set, per-stratum shares, coverage and local dimension.

The point-cloud twins (circle, sphere, torus) and the stratified set (sphere plus an inner
tube, :func:`topolib.datasets.stratified_points`) are known exactly, so every sample can be
placed: its distance to each stratum (:mod:`topolib.metrics.point_distance`), the stratum it
is nearest to, and the cell of that stratum its nearest point falls in.

>>> shares = strata_shares(samples)          # off-set mass, tube mass against the truth
>>> print(shares.summary())
>>> cov = set_coverage(samples, "stratified")   # sphere, tube and the two junction circles
>>> {name: c.scaled for name, c in cov.items()}
>>> dims = local_dimension(samples)          # 2 on the strata, 3 at the junction circles

A sample is *on* the set when it lies within ``tol`` of it. The default ``TOL = 0.05`` is
5% of the sets' unit scale (the sphere's radius, the torus' tube radius) and a tenth of the
tube's waist radius ``a = 0.5``: the point analogue of the image card's 0.05 RMS residual. A
sample pushed off by isotropic noise of standard deviation 0.1 lands farther than that with
probability ~0.6; noise of 0.01 is still on the set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from numbers import Integral, Real

import numpy as np
from scipy.spatial import cKDTree

from topolib.datasets.point_clouds import _tube_area, stratified_points
from topolib.metrics.intervals import Interval, share
from topolib.metrics.landmarks import as_point_array
from topolib.metrics.point_distance import (
    DEFAULT_A,
    DEFAULT_R,
    DEFAULT_SMALL_R,
    DIMENSIONS,
    SPHERE,
    TUBE,
    junction_height,
    set_distance,
    stratified_distance,
)

__all__ = [
    "PER_CELL",
    "PER_JUNCTION_BIN",
    "TOL",
    "StrataShares",
    "StratumCoverage",
    "check_dataset",
    "check_points",
    "check_tol",
    "junction_distance",
    "local_dimension",
    "local_pca_spectrum",
    "off_set_share",
    "set_coverage",
    "strata_shares",
    "true_tube_mass",
]

#: Distance within which a sample counts as on the set (see the module docstring).
TOL = 0.05
#: Expected exact samples per coverage cell: an exact sample hits 1 - e^-5 = 99.3% of cells.
PER_CELL = 5.0
#: Expected exact samples of each stratum per angle bin of a junction circle: a bin is hit
#: when it holds a sample nearest the sphere and one nearest the tube, (1 - e^-6)^2 = 99.5%.
PER_JUNCTION_BIN = 6.0
#: Samples from which the exact share near each junction circle is estimated (fixed seed).
_JUNCTION_REFERENCE_SIZE = 100_000


def check_dataset(dataset: object) -> str:
    """Return ``dataset`` if it names a point set with exact distances, else raise."""
    if not isinstance(dataset, str) or dataset not in DIMENSIONS:
        raise ValueError(f"dataset must be one of {tuple(DIMENSIONS)}; got {dataset!r}")
    return dataset


def check_tol(tol: object) -> float:
    """Return ``tol`` as a float if it is a positive finite number, else raise naming it."""
    if isinstance(tol, bool) or not isinstance(tol, Real) or not (0 < tol < math.inf):
        raise ValueError(f"tol must be a positive finite number; got {tol!r}")
    return float(tol)


def check_points(X: object, dataset: str, name: str = "samples") -> np.ndarray:
    """Return ``X`` as an ``(n, D)`` float array with the ambient dimension of ``dataset``."""
    P = as_point_array(X, name)
    dim = DIMENSIONS[dataset]
    if P.shape[1] != dim:
        raise ValueError(
            f"{name} must have shape (n, {dim}) for dataset {dataset!r}; got {np.shape(X)}"
        )
    return P


def off_set_share(X: np.ndarray, dataset: str, tol: float = TOL, **params: float) -> Interval:
    """Share of samples farther than ``tol`` from the set, with its Wilson interval.

    Parameters
    ----------
    X : array-like, shape (n, D)
    dataset : ``"circle"``, ``"sphere"``, ``"torus"`` or ``"stratified"``.
    tol : on-set distance.
    params : the set's parameters (``radius``; ``R``, ``r``; ``a``).
    """
    dataset = check_dataset(dataset)
    P = check_points(X, dataset, "X")
    return share(set_distance(P, dataset, **params) > check_tol(tol))


# --------------------------------------------------------------------------- strata


def true_tube_mass(a: float = DEFAULT_A) -> float:
    """Share of the stratified set's area on the tube (the sampler's probability)."""
    tube = _tube_area(a, junction_height(a))
    return tube / (tube + 4.0 * math.pi)


@lru_cache(maxsize=16)
def _junction_mass(a: float, tol: float) -> tuple[float, float]:
    """Shares of an exact sample within ``tol`` of both strata near one junction circle.

    Returns ``(on the sphere, on the tube)``: split by the nearest stratum.
    """
    X = stratified_points(_JUNCTION_REFERENCE_SIZE, seed=20_240_611, a=a)
    s = stratified_distance(X, a)
    both = (s.sphere <= tol) & (s.tube <= tol)
    on_tube = s.label == TUBE
    return float((both & ~on_tube).mean()) / 2.0, float((both & on_tube).mean()) / 2.0


@dataclass(frozen=True, eq=False)
class StrataShares:
    """Where the samples of the stratified set fall.

    Attributes
    ----------
    n : number of samples.
    tol, a : on-set distance and tube parameter.
    off : share farther than ``tol`` from both strata.
    sphere, tube : share of all samples within ``tol`` and nearest that stratum.
    tube_mass : share of the on-set samples that are on the tube.
    true_tube_mass : the same for the true set (area ratio).
    junction : share within ``tol`` of both strata (near a junction circle).
    true_junction : the same for exact samples.
    """

    n: int
    tol: float
    a: float
    off: Interval
    sphere: Interval
    tube: Interval
    tube_mass: Interval | None
    true_tube_mass: float
    junction: Interval
    true_junction: float

    def summary(self) -> str:
        """Two lines: mass off the set, and the tube's mass against the truth."""
        tube = "no sample on the set" if self.tube_mass is None else f"{self.tube_mass}"
        return (
            f"{self.n} samples; off the set (> {self.tol:g}): {self.off}\n"
            f"on the set, the tube got {tube} of the mass, the truth is "
            f"{self.true_tube_mass:.0%}; near a junction circle: {self.junction} "
            f"(exact {self.true_junction:.1%})"
        )

    def to_row(self) -> dict[str, float]:
        """Flat dict of the shares and their interval ends."""
        row: dict[str, float] = {}
        for name in ("off", "sphere", "tube", "tube_mass", "junction"):
            iv = getattr(self, name)
            row[name] = np.nan if iv is None else iv.value
            row[f"{name}_low"] = np.nan if iv is None else iv.low
            row[f"{name}_high"] = np.nan if iv is None else iv.high
        row["true_tube_mass"] = self.true_tube_mass
        row["true_junction"] = self.true_junction
        return row


def strata_shares(X: np.ndarray, a: float = DEFAULT_A, tol: float = TOL) -> StrataShares:
    """Off-set mass, per-stratum shares and the tube's mass of samples of the stratified set.

    Parameters
    ----------
    X : array-like, shape (n, 3)
    a : tube parameter (default: :func:`stratified_points`' 0.5).
    tol : on-set distance (default :data:`TOL`).

    Returns
    -------
    StrataShares
    """
    P = check_points(X, "stratified", "X")
    tol = check_tol(tol)
    s = stratified_distance(P, a)
    near = s.distance <= tol
    label = s.label
    on_tube = near & (label == TUBE)
    return StrataShares(
        n=len(P),
        tol=tol,
        a=s.a,
        off=share(~near),
        sphere=share(near & (label == SPHERE)),
        tube=share(on_tube),
        tube_mass=share(on_tube[near]) if near.any() else None,
        true_tube_mass=true_tube_mass(s.a),
        junction=share((s.sphere <= tol) & (s.tube <= tol)),
        true_junction=2.0 * sum(_junction_mass(s.a, tol)),
    )


def junction_distance(X: np.ndarray, a: float = DEFAULT_A) -> np.ndarray:
    """Distance of ``(n, 3)`` points to the nearer of the two junction circles: ``(n,)``."""
    P = check_points(X, "stratified", "X")
    h = junction_height(a)
    rho = np.hypot(P[:, 0], P[:, 1])
    return np.hypot(rho - math.sqrt(1.0 - h * h), np.abs(P[:, 2]) - h)


# --------------------------------------------------------------------------- coverage


@dataclass(frozen=True, eq=False)
class StratumCoverage:
    """Cells of one stratum (or junction circle) hit by the samples near it.

    Attributes
    ----------
    name : ``"circle"``, ``"sphere"``, ``"torus"``, ``"tube"``, ``"junction_top"`` or
        ``"junction_bottom"``.
    hit : bool ndarray, shape ``grid``: cells (equal area, or equal length) with a sample.
    n_near : samples counted (within ``tol`` of the stratum and nearest to it; for a
        junction circle, within ``tol`` of both strata on its side).
    n_expected : how many of an exact sample of the same size would be counted.
    expected : the expected coverage when it is not ``1 - (1 - 1/cells)^n_expected`` (a
        junction bin needs a sample of each stratum).
    """

    name: str
    hit: np.ndarray
    n_near: int
    n_expected: float
    expected: float | None = None

    @property
    def grid(self) -> tuple[int, ...]:
        """Shape of the cell grid."""
        return tuple(self.hit.shape)

    @property
    def coverage(self) -> float:
        """Share of cells hit."""
        return float(self.hit.mean())

    @property
    def expected_coverage(self) -> float:
        """Share of cells an exact sample of the same size hits on average."""
        if self.expected is not None:
            return self.expected
        k = self.hit.size
        return float(1.0 - (1.0 - 1.0 / k) ** self.n_expected)

    @property
    def scaled(self) -> float:
        """``coverage / expected_coverage``: about 1 for an exact sample."""
        return self.coverage / self.expected_coverage

    def __repr__(self) -> str:
        return (
            f"StratumCoverage({self.name!r}, grid={self.grid}, coverage={self.coverage:.3f}, "
            f"scaled={self.scaled:.3f}, n_near={self.n_near})"
        )


def _cells(n_expected: float, aspect: float, per_cell: float = PER_CELL) -> tuple[int, int]:
    """Grid ``(k_height, k_angle)`` of about ``n_expected / per_cell`` cells, angle/height = aspect."""
    k = max(4.0, n_expected / per_cell)
    k_height = max(1, int(round(math.sqrt(k / aspect))))
    k_angle = max(2, int(round(k / k_height)))
    return k_height, k_angle


def _bin(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def _equal_area_edges(cumulative, lo: float, hi: float, k: int) -> np.ndarray:
    """``k + 1`` edges on ``[lo, hi]`` splitting the increasing ``cumulative(t)`` equally."""
    t = np.linspace(lo, hi, 4097)
    c = cumulative(t)
    c = (c - c[0]) / (c[-1] - c[0])
    edges = np.interp(np.linspace(0.0, 1.0, k + 1), c, t)
    edges[0], edges[-1] = lo, hi
    return edges


def _angle(P: np.ndarray) -> np.ndarray:
    return np.arctan2(P[:, 1], P[:, 0])


def _angle_edges(k: int) -> np.ndarray:
    return np.linspace(-math.pi, math.pi, k + 1)


def _grid_hits(i: np.ndarray, j: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    hit = np.zeros(shape, dtype=bool)
    hit[i, j] = True
    return hit


def _sphere_cover(P: np.ndarray, n_expected: float, name: str = "sphere") -> StratumCoverage:
    kz, ka = _cells(n_expected, math.pi)
    z = P[:, 2] / np.maximum(np.linalg.norm(P, axis=1), 1e-300)
    hit = _grid_hits(
        _bin(z, np.linspace(-1.0, 1.0, kz + 1)), _bin(_angle(P), _angle_edges(ka)), (kz, ka)
    )
    return StratumCoverage(name, hit, len(P), n_expected)


def _tube_cumulative(a: float):
    c = a / math.sqrt(2.0)

    def primitive(t: np.ndarray) -> np.ndarray:  # of sqrt(c^2 + t^2), up to a constant
        return 0.5 * (t * np.sqrt(c * c + t * t) + c * c * np.arcsinh(t / c))

    return primitive


def _tube_aspect(a: float, h: float) -> float:
    """Tube area over its meridian length squared (cells about square)."""
    z = np.linspace(-h, h, 2001)
    ds = np.sqrt(a * a + 2 * z * z) / np.sqrt(a * a + z * z)
    length = float(np.sum(0.5 * (ds[1:] + ds[:-1]) * np.diff(z)))
    return _tube_area(a, h) / length**2


def set_coverage(
    X: np.ndarray,
    dataset: str,
    tol: float = TOL,
    **params: float,
) -> dict[str, StratumCoverage]:
    """Coverage of each stratum of a known set by the samples within ``tol`` of it.

    Every stratum is cut into equal-area cells (circle: equal angle bins; sphere: equal bins
    in height ``z`` and angle, equal-area by Archimedes; torus: angle bins around the axis
    times bins of the tube angle equal in area; tube: angle bins times height bins equal in
    area), about :data:`PER_CELL` expected exact samples per cell. A sample counts for the
    stratum it is nearest to, in the cell of its nearest point, when it lies within ``tol``.
    Each junction circle of the stratified set gets angle bins, about
    :data:`PER_JUNCTION_BIN` expected exact samples of each stratum per bin; a bin is hit
    when it holds samples within ``tol`` of both strata on its side (``z > 0``: top), at least
    one nearest the sphere and one nearest the tube (both sheets reach the junction there).

    Parameters
    ----------
    X, dataset, tol, params : as in :func:`off_set_share`.

    Returns
    -------
    dict name -> StratumCoverage
        ``{"circle"}``, ``{"sphere"}``, ``{"torus"}`` or, for the stratified set,
        ``{"sphere", "tube", "junction_top", "junction_bottom"}``.
    """
    dataset = check_dataset(dataset)
    P = check_points(X, dataset, "X")
    tol = check_tol(tol)
    n = len(P)
    if dataset == "stratified":
        return _stratified_cover(P, tol, **params)
    near = set_distance(P, dataset, **params) <= tol
    Q = P[near]
    if dataset == "circle":
        k = max(4, int(round(n / PER_CELL)))
        hit = np.zeros(k, dtype=bool)
        hit[_bin(_angle(Q), _angle_edges(k))] = True
        return {"circle": StratumCoverage("circle", hit, len(Q), float(n))}
    if dataset == "sphere":
        return {"sphere": _sphere_cover(Q, float(n))}
    R, r = params.get("R", DEFAULT_R), params.get("r", DEFAULT_SMALL_R)
    kv, ku = _cells(float(n), R / r)
    v = np.arctan2(Q[:, 2], np.hypot(Q[:, 0], Q[:, 1]) - R)
    v_edges = _equal_area_edges(lambda t: R * t + r * np.sin(t), -math.pi, math.pi, kv)
    hit = _grid_hits(_bin(v, v_edges), _bin(_angle(Q), _angle_edges(ku)), (kv, ku))
    return {"torus": StratumCoverage("torus", hit, len(Q), float(n))}


def _stratified_cover(
    P: np.ndarray, tol: float, a: float = DEFAULT_A
) -> dict[str, StratumCoverage]:
    n = len(P)
    s = stratified_distance(P, a)
    a, h = s.a, s.h
    near = s.distance <= tol
    label = s.label
    tube_share = true_tube_mass(a)
    out = {"sphere": _sphere_cover(P[near & (label == SPHERE)], n * (1.0 - tube_share))}
    on_tube = near & (label == TUBE)
    n_tube = n * tube_share
    kz, ka = _cells(n_tube, _tube_aspect(a, h))
    z_edges = _equal_area_edges(_tube_cumulative(a), -h, h, kz)
    hit = _grid_hits(
        _bin(s.tube_z[on_tube], z_edges), _bin(_angle(P[on_tube]), _angle_edges(ka)), (kz, ka)
    )
    out["tube"] = StratumCoverage("tube", hit, int(on_tube.sum()), n_tube)
    both = (s.sphere <= tol) & (s.tube <= tol)
    m_sphere, m_tube = _junction_mass(a, tol)
    k = max(4, int(round(n * min(m_sphere, m_tube) / PER_JUNCTION_BIN)))
    angle_bin = _bin(_angle(P), _angle_edges(k))
    for name, side in (("junction_top", P[:, 2] > 0), ("junction_bottom", P[:, 2] <= 0)):
        hits = []
        for stratum in (SPHERE, TUBE):
            h_ = np.zeros(k, dtype=bool)
            h_[angle_bin[both & side & (label == stratum)]] = True
            hits.append(h_)
        out[name] = StratumCoverage(
            name,
            hits[0] & hits[1],
            int((both & side).sum()),
            n * (m_sphere + m_tube),
            expected=float((1 - (1 - 1 / k) ** (n * m_sphere)) * (1 - (1 - 1 / k) ** (n * m_tube))),
        )
    return out


# --------------------------------------------------------------------------- local dimension


def _check_k(k: object, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 3:
        raise ValueError(f"k must be an integer >= 3; got {k!r}")
    if k > n:
        raise ValueError(f"k ({k}) must not exceed the number of points in X ({n})")
    return int(k)


def local_pca_spectrum(X: np.ndarray, k: int = 20) -> np.ndarray:
    """Explained-variance shares of the ``k`` nearest neighbours of every point.

    Parameters
    ----------
    X : array-like, shape (n, D)
    k : neighbourhood size, the point itself included (``3 <= k <= n``).

    Returns
    -------
    ndarray, shape (n, D)
        Eigenvalues of each neighbourhood's covariance, largest first, summing to 1 (a
        neighbourhood of identical points gets ``(1, 0, ...)``).
    """
    P = as_point_array(X, "X")
    k = _check_k(k, len(P))
    _, idx = cKDTree(P).query(P, k=k)
    N = P[idx]
    N = N - N.mean(axis=1, keepdims=True)
    ev = np.linalg.eigvalsh(np.einsum("nki,nkj->nij", N, N) / k)[:, ::-1]
    ev = np.maximum(ev, 0.0)
    total = ev.sum(axis=1, keepdims=True)
    flat = total[:, 0] <= 0
    ev[flat] = 0.0
    ev[flat, 0] = 1.0
    total[flat] = 1.0
    return ev / total


def local_dimension(X: np.ndarray, k: int = 20, variance: float = 0.95) -> np.ndarray:
    """Local dimension of every point: local PCA on its ``k`` nearest neighbours.

    The dimension is the number of principal directions needed to explain ``variance`` of the
    neighbourhood's spread. On exact samples of a surface (2000-4000 points, k = 20) the
    third direction explains 0.1-0.6% (curvature), so the reading is 2; where two strata
    meet (the junction circles, at 75 degrees) the neighbourhood spans both sheets and the
    third direction explains ~10%, so most read 3 (mean ~2.9 within 0.05 of a junction).
    Noise of the order of the neighbourhood radius also reads 3.

    Parameters
    ----------
    X : array-like, shape (n, D)
    k : neighbourhood size (``3 <= k <= n``).
    variance : explained-variance share in (0, 1).

    Returns
    -------
    ndarray of int, shape (n,)
    """
    if isinstance(variance, bool) or not isinstance(variance, Real) or not 0 < variance < 1:
        raise ValueError(f"variance must be a number in (0, 1); got {variance!r}")
    spectrum = local_pca_spectrum(X, k)
    return 1 + np.sum(np.cumsum(spectrum, axis=1)[:, :-1] < variance, axis=1)
