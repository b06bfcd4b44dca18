"""Coverage of a manifold by samples: a histogram on the measure-preserving chart.

``dataset.coverage_coords`` maps the manifold onto [0, 1)^d (d = 1 or 2) so that the uniform
(Riemannian) measure becomes the uniform measure on the box. A histogram of the coordinates of
recovered parameters on a grid of equal cells therefore compares the samples with the
uniform measure cell by cell: every cell holds ``1 / K`` of the manifold.

Hole rule (``HoleRegion``). A cell is a *candidate* when its count is far below expectation:
``P(Binomial(n, 1/K) <= count) < CANDIDATE_ALPHA`` (0.05). Candidate cells are joined into
connected regions (4-neighbours, with the manifold's own gluing of the chart's edges). A
region of ``m`` cells holding ``c`` samples is a **hole** when ``P(Binomial(n, m/K) <= c)``
is below ``REGION_ALPHA / (K g^m)``: a Bonferroni bound over all connected regions of ``m``
cells, of which there are at most about ``K g^m`` (``g`` = 1 on a ring of cells, ``g`` =
4.06, the growth constant of lattice animals, on a 2-D grid). So a uniform sample shows a
false hole with probability below ``REGION_ALPHA`` = 1%. At the default grid (about 5
expected samples per cell, n = 2,000) one empty cell is not a hole (P = e^-5: a uniform
sample leaves a few empty cells by chance), while a block of three or more empty cells, 0.75%
of the manifold, is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral

import numpy as np
from scipy import stats
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from topolib.datasets.base import ImageManifold
from topolib.datasets.klein import KleinBottle
from topolib.datasets.projective import ProjectivePlane
from topolib.datasets.registry import get_dataset
from topolib.datasets.two_circles import TwoCircles
from topolib.metrics.projection import Projection

__all__ = [
    "CANDIDATE_ALPHA",
    "MIN_EXPECTED_PER_CELL",
    "REGION_ALPHA",
    "Coverage",
    "HoleRegion",
    "MIN_ON_MANIFOLD",
    "coverage_map",
    "grid_shape",
    "on_manifold_coverage",
]

#: Grid cells are chosen so that a uniform sample puts at least this many points in each.
MIN_EXPECTED_PER_CELL = 5.0
#: Per-cell lower-tail probability below which a cell may belong to a hole.
CANDIDATE_ALPHA = 0.05
#: Family-wise level of the region test (divided by the number of connected regions).
REGION_ALPHA = 0.01
_ANIMAL_GROWTH = {1: 1.0, 2: 4.06}  # connected m-cell regions through a cell grow ~ g^m
_MAX_CELLS_1D = 256
_MAX_SIDE_2D = 40


@dataclass(frozen=True)
class HoleRegion:
    """A connected region of the chart with significantly too few samples.

    Attributes
    ----------
    cells : ``(m, d)`` integer grid indices of the region's cells.
    fraction : share of the manifold's measure, ``m / K``.
    count : samples that fell in the region.
    expected : samples a uniform sample would put there, ``n m / K``.
    pvalue : ``P(Binomial(n, m / K) <= count)``.
    centre : centre of the region in coverage coordinates (circular mean on periodic axes).
    """

    cells: np.ndarray
    fraction: float
    count: int
    expected: float
    pvalue: float
    centre: tuple[float, ...]


@dataclass(frozen=True)
class Coverage:
    """Histogram of coverage coordinates against the uniform measure.

    Attributes
    ----------
    dataset : dataset name.
    n : number of samples.
    counts : histogram, shape ``grid`` (``(K,)`` or ``(K1, K2)``); axis i bins coordinate i.
    expected : samples per cell under uniformity, ``n / K``.
    coverage : fraction of cells with at least one sample.
    hole_mask : bool array of shape ``grid``, True in cells of a hole.
    holes : the hole regions, largest first.
    hole_fraction : share of the manifold's measure inside holes.
    tv : total variation distance between the histogram and the uniform one.
    tv_uniform : expected ``tv`` of a truly uniform sample of this size on this grid (the
        sampling floor: even perfect samples have ``tv`` near it).
    tv_excess : ``max(tv - tv_uniform, 0)``, the part of ``tv`` not explained by chance.
    chi2, chi2_pvalue : Pearson's chi-square test of uniformity over the cells.
    component_mass : share of samples on each connected component (two_circles), else None.
    periodic : per axis, whether the chart wraps around.
    """

    dataset: str
    n: int
    counts: np.ndarray
    expected: float
    coverage: float
    hole_mask: np.ndarray
    holes: tuple[HoleRegion, ...]
    hole_fraction: float
    tv: float
    tv_uniform: float
    tv_excess: float
    chi2: float
    chi2_pvalue: float
    component_mass: tuple[float, ...] | None
    periodic: tuple[bool, ...]

    @property
    def grid(self) -> tuple[int, ...]:
        """Shape of the histogram."""
        return tuple(self.counts.shape)

    @property
    def n_holes(self) -> int:
        """Number of hole regions."""
        return len(self.holes)


def grid_shape(n: int, dim: int, even: bool = False) -> tuple[int, ...]:
    """Cells per axis so that ``n`` uniform samples give >= ``MIN_EXPECTED_PER_CELL`` per cell.

    ``dim`` 1: ``K = n / 5`` cells (2 to 256). ``dim`` 2: a square ``s x s`` grid with
    ``s = sqrt(n / 5)`` (2 to 40). ``even`` rounds down to an even count (needed where the
    chart's edges are glued half a turn apart).
    """
    if dim not in (1, 2):
        raise ValueError(f"coverage maps need intrinsic dimension 1 or 2; got {dim}")
    cells = n / MIN_EXPECTED_PER_CELL
    side = int(cells) if dim == 1 else math.isqrt(int(cells))
    side = min(side, _MAX_CELLS_1D if dim == 1 else _MAX_SIDE_2D)
    if even:
        side -= side % 2
    side = max(side, 2)
    return (side,) * dim


def _needs_even(ds: ImageManifold) -> bool:
    return isinstance(ds, (TwoCircles, KleinBottle, ProjectivePlane))


def _periodic(ds: ImageManifold) -> tuple[bool, ...]:
    if isinstance(ds, TwoCircles):
        return (True,)  # each half is a ring of its own (see _edges)
    if ds.name in ("circle", "torus"):
        return (True,) * ds.intrinsic_dim
    if isinstance(ds, KleinBottle):
        return (True, True)  # theta glued with a flip of phi
    if ds.name in ("sphere", "projective"):
        return (True, False)  # longitude wraps; projective also glues the equator
    return (False,) * ds.intrinsic_dim


def _edges(ds: ImageManifold, shape: tuple[int, ...]) -> np.ndarray:
    """``(E, 2)`` pairs of flat cell indices that share an edge on the manifold."""
    index = np.arange(math.prod(shape)).reshape(shape)
    pairs: list[np.ndarray] = []
    if len(shape) == 1:
        k = shape[0]
        chain = np.stack([index[:-1], index[1:]], axis=1)
        wrap = np.empty((0, 2), dtype=index.dtype)
        if isinstance(ds, TwoCircles):  # two rings: cells [0, k/2) and [k/2, k)
            half = k // 2
            chain = chain[np.arange(k - 1) != half - 1]
            wrap = np.array([[half - 1, 0], [k - 1, half]])
        elif _periodic(ds)[0]:
            wrap = np.array([[k - 1, 0]])
        return np.concatenate([chain, wrap])
    s0, s1 = shape
    pairs.append(np.stack([index[:-1].ravel(), index[1:].ravel()], axis=1))
    pairs.append(np.stack([index[:, :-1].ravel(), index[:, 1:].ravel()], axis=1))
    if isinstance(ds, KleinBottle):
        # (theta = pi, phi) ~ (0, pi - phi): coverage (1, y) ~ (0, 1/2 - y).
        j = np.arange(s1)
        pairs.append(np.stack([index[-1, j], index[0, (s1 // 2 - 1 - j) % s1]], axis=1))
        pairs.append(np.stack([index[:, -1], index[:, 0]], axis=1))
    elif isinstance(ds, ProjectivePlane):
        # Equator: (longitude x, z = 0) ~ (x + 1/2, 0).
        i = np.arange(s0)
        pairs.append(np.stack([index[i, 0], index[(i + s0 // 2) % s0, 0]], axis=1))
        pairs.append(np.stack([index[-1], index[0]], axis=1))
    else:
        periodic = _periodic(ds)
        if periodic[0]:
            pairs.append(np.stack([index[-1], index[0]], axis=1))
        if periodic[1]:
            pairs.append(np.stack([index[:, -1], index[:, 0]], axis=1))
    # (longitude, height) charts squash each pole into a row of cells that all touch at the
    # pole: glue every cell of a polar row to every other, so one polar hole counts once.
    for row in _pole_rows(ds, index):
        i, j = np.triu_indices(len(row), k=1)
        pairs.append(np.stack([row[i], row[j]], axis=1))
    return np.concatenate(pairs)


def _pole_rows(ds: ImageManifold, index: np.ndarray) -> list[np.ndarray]:
    """Flat indices of the cell rows at the poles of a (longitude, height) chart."""
    if ds.name == "sphere":
        return [index[:, 0], index[:, -1]]
    if isinstance(ds, ProjectivePlane):
        return [index[:, -1]]  # height 0 is the (glued) equator; height 1 the pole
    return []


def _expected_tv(n: int, cells: int) -> float:
    """E[TV] of the histogram of ``n`` uniform samples over ``cells`` equal cells (exact)."""
    p = 1.0 / cells
    mean = n * p
    sd = math.sqrt(n * p * (1 - p))
    k = np.arange(max(0, int(mean - 12 * sd - 2)), min(n, int(mean + 12 * sd + 2)) + 1)
    mad = float(np.sum(stats.binom.pmf(k, n, p) * np.abs(k - mean)))
    return 0.5 * cells * mad / n


def _centre(cells: np.ndarray, shape: tuple[int, ...], periodic: tuple[bool, ...]) -> tuple:
    centre = []
    for axis, side in enumerate(shape):
        x = (cells[:, axis] + 0.5) / side
        if periodic[axis]:
            angle = 2 * np.pi * x
            mean = math.atan2(np.sin(angle).mean(), np.cos(angle).mean()) / (2 * np.pi)
            centre.append(float(mean % 1.0))
        else:
            centre.append(float(x.mean()))
    return tuple(centre)


def _find_holes(
    ds: ImageManifold, counts: np.ndarray, n: int, periodic: tuple[bool, ...]
) -> tuple[HoleRegion, ...]:
    shape = counts.shape
    cells = counts.size
    flat = counts.ravel()
    candidate = stats.binom.cdf(flat, n, 1.0 / cells) < CANDIDATE_ALPHA
    if not candidate.any():
        return ()
    edges = _edges(ds, shape)
    edges = edges[candidate[edges[:, 0]] & candidate[edges[:, 1]]]
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(cells, cells))
    _, labels = connected_components(graph, directed=False)
    holes = []
    for label in np.unique(labels[candidate]):
        members = np.flatnonzero((labels == label) & candidate)
        m, c = len(members), int(flat[members].sum())
        log_p = float(stats.binom.logcdf(c, n, m / cells))
        log_level = math.log(REGION_ALPHA / cells) - m * math.log(_ANIMAL_GROWTH[len(shape)])
        if log_p < log_level:
            pvalue = math.exp(log_p)
            idx = np.stack(np.unravel_index(members, shape), axis=1)
            holes.append(
                HoleRegion(idx, m / cells, c, n * m / cells, pvalue, _centre(idx, shape, periodic))
            )
    return tuple(sorted(holes, key=lambda h: -h.fraction))


def coverage_map(
    source: Projection | np.ndarray,
    dataset: str | ImageManifold,
    grid: int | tuple[int, ...] | None = None,
) -> Coverage:
    """Histogram the coverage coordinates of samples and compare with the uniform measure.

    Parameters
    ----------
    source : a ``Projection`` (its ``coords`` are used) or coverage coordinates
        ``(n, intrinsic_dim)`` in [0, 1).
    dataset : name or ``ImageManifold``; intrinsic dimension 1 or 2.
    grid : cells per axis (an int for every axis, or a tuple); default ``grid_shape(n, d)``.

    Returns
    -------
    Coverage
    """
    ds = get_dataset(dataset)
    coords = source.coords if isinstance(source, Projection) else source
    coords = np.asarray(coords, dtype=np.float64)
    d = ds.intrinsic_dim
    if coords.ndim == 1 and d == 1:
        coords = coords[:, None]
    if coords.ndim != 2 or coords.shape[1] != d:
        raise ValueError(
            f"source must be coverage coordinates of shape (n, {d}) for {ds.name!r}; "
            f"got {coords.shape}"
        )
    if coords.shape[0] == 0:
        raise ValueError("source is empty; coverage needs at least one sample")
    if not np.isfinite(coords).all() or coords.min() < 0 or coords.max() >= 1:
        raise ValueError("source coordinates must be finite and lie in [0, 1)")
    n = coords.shape[0]
    if grid is None:
        shape = grid_shape(n, d, even=_needs_even(ds))
    else:
        shape = (grid,) * d if isinstance(grid, Integral) else tuple(int(g) for g in grid)
        if len(shape) != d or min(shape) < 2 or (_needs_even(ds) and any(s % 2 for s in shape)):
            raise ValueError(
                f"grid must give {d} cell counts >= 2"
                + (" (even)" if _needs_even(ds) else "")
                + f" for {ds.name!r}; got {grid!r}"
            )
    bins = np.minimum((coords * np.array(shape)).astype(np.int64), np.array(shape) - 1)
    counts = np.zeros(shape, dtype=np.int64)
    np.add.at(counts, tuple(bins.T), 1)
    cells = counts.size
    expected = n / cells
    periodic = _periodic(ds)
    holes = _find_holes(ds, counts, n, periodic)
    hole_mask = np.zeros(shape, dtype=bool)
    for hole in holes:
        hole_mask[tuple(hole.cells.T)] = True
    tv = 0.5 * float(np.abs(counts / n - 1.0 / cells).sum())
    tv_uniform = _expected_tv(n, cells)
    chi2, pvalue = stats.chisquare(counts.ravel())
    component_mass = None
    if isinstance(ds, TwoCircles):
        k = ds.betti[2][0]
        component = np.minimum((coords[:, 0] * k).astype(int), k - 1)
        component_mass = tuple(float(np.mean(component == c)) for c in range(k))
    return Coverage(
        dataset=ds.name,
        n=n,
        counts=counts,
        expected=expected,
        coverage=float(np.mean(counts > 0)),
        hole_mask=hole_mask,
        holes=holes,
        hole_fraction=float(hole_mask.mean()),
        tv=tv,
        tv_uniform=tv_uniform,
        tv_excess=max(tv - tv_uniform, 0.0),
        chi2=float(chi2),
        chi2_pvalue=float(pvalue),
        component_mass=component_mass,
        periodic=periodic,
    )


#: Fewest on-manifold samples whose coverage is mapped on their own (see on_manifold_coverage).
MIN_ON_MANIFOLD = 10


def on_manifold_coverage(projection: Projection, min_on: int = MIN_ON_MANIFOLD) -> Coverage:
    """Coverage of the samples that are on the manifold.

    Where off-manifold junk projects to says nothing about which parts of the manifold a
    model generates, so those samples are left out; when fewer than ``min_on`` samples are on
    the manifold, all of them are used (the map is then mostly noise, and the off-manifold
    share says so).

    Parameters
    ----------
    projection : the samples' :class:`Projection` (its dataset is used).
    min_on : smallest number of on-manifold samples to histogram on their own.

    Returns
    -------
    Coverage
    """
    if not isinstance(projection, Projection):
        raise TypeError(f"projection must be a Projection; got {type(projection).__name__}")
    on = ~projection.off_manifold()
    coords = projection.coords[on] if int(on.sum()) >= min_on else projection.coords
    return coverage_map(coords, projection.dataset)
