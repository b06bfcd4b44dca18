"""Diagnostics of an atlas of charts: shares, overlaps, the nerve and its homology, cycles.

A chart autoencoder (:mod:`topolib.models.chart_autoencoder`) covers a manifold with
charts; these functions measure that cover from plain arrays, so they work for any model:

>>> cover = cover_matrix(errors)                 # (n, N) bool: chart a reconstructs x
>>> chart_shares(charts, n_charts)               # share of the data in each chart
>>> overlaps(cover, params, "circle")            # points and connected pieces per pair
>>> nerve_betti(nerve(cover))                    # Betti numbers of the nerve over Z/2
>>> cycle_residuals(transition, coords, cover)   # phi_ab . phi_ba (and 3-cycles) vs identity

The nerve theorem says a cover's nerve has the homotopy type of the space when every
non-empty intersection of charts is contractible. Two arcs covering a circle overlap in two
pieces, so their nerve (an edge) misses the loop; :func:`overlaps` counts the pieces, and
:func:`overlap_graph_betti` reads the loop from the multigraph with one edge per piece.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from topolib.datasets.base import ImageManifold
from topolib.datasets.registry import get_dataset
from topolib.metrics.projection import OFF_MANIFOLD_THRESHOLD

__all__ = [
    "boundary_cells",
    "chart_shares",
    "cover_matrix",
    "cycle_residuals",
    "nerve",
    "nerve_betti",
    "overlap_graph_betti",
    "overlaps",
]


def _labels(charts: object, n_charts: int) -> np.ndarray:
    charts = np.asarray(charts)
    if charts.ndim != 1 or charts.size == 0 or not np.issubdtype(charts.dtype, np.integer):
        raise ValueError(f"charts must be a non-empty 1-D integer array; got shape "
                         f"{charts.shape} and dtype {charts.dtype}")
    if charts.min() < 0 or charts.max() >= n_charts:
        raise ValueError(f"charts must lie in 0..{n_charts - 1}")
    return charts


def chart_shares(charts: object, n_charts: int) -> np.ndarray:
    """Share of the points in each chart, ``(n_charts,)`` summing to 1.

    Parameters
    ----------
    charts : ``(n,)`` chart index of each point.
    n_charts : number of charts N.
    """
    if isinstance(n_charts, bool) or not isinstance(n_charts, (int, np.integer)) or n_charts < 1:
        raise ValueError(f"n_charts must be an integer >= 1; got {n_charts!r}")
    charts = _labels(charts, int(n_charts))
    return np.bincount(charts, minlength=n_charts) / charts.size


def cover_matrix(errors: object, threshold: float = OFF_MANIFOLD_THRESHOLD) -> np.ndarray:
    """``(n, N)`` bool: chart ``a`` reconstructs point ``x`` within ``threshold`` RMS.

    Parameters
    ----------
    errors : ``(n, N)`` mean squared reconstruction error of each point through each chart
        (``inf`` for a pruned chart), e.g. ``ChartAutoencoder.chart_errors(x)[0]``.
    threshold : RMS error (default: the report card's off-manifold threshold, so that "in
        the chart's domain" and "reconstructed on the manifold" agree).
    """
    errors = np.asarray(errors, dtype=float)
    if errors.ndim != 2 or errors.size == 0:
        raise ValueError(f"errors must be a non-empty (n, N) array; got shape {errors.shape}")
    if np.isnan(errors).any():
        raise ValueError("errors must not contain NaN")
    return np.sqrt(errors) <= threshold


def _check_cover(cover: object) -> np.ndarray:
    cover = np.asarray(cover)
    if cover.ndim != 2 or cover.dtype != bool or cover.size == 0:
        raise ValueError(f"cover must be a non-empty (n, N) bool array; got shape "
                         f"{cover.shape} and dtype {cover.dtype}")
    return cover


def _components(params: np.ndarray, ds: ImageManifold, radius: float) -> int:
    """Connected pieces of a point set, joining points closer than ``radius`` on ``ds``."""
    m = len(params)
    if m <= 1:
        return m
    i, j = np.triu_indices(m, 1)
    close = ds.distance(params[i], params[j]) <= radius
    graph = coo_matrix((np.ones(int(close.sum())), (i[close], j[close])), shape=(m, m))
    return int(connected_components(graph, directed=False)[0])


def overlaps(cover: object, params: object, dataset: str | ImageManifold,
             min_points: int = 5, radius: float | None = None) -> pd.DataFrame:
    """Overlap of every pair of charts: its points and its connected pieces on the manifold.

    Parameters
    ----------
    cover : ``(n, N)`` bool, :func:`cover_matrix` of ``n`` true renders.
    params : ``(n, param_dim)`` their true parameters.
    dataset : the manifold (name or ``ImageManifold``), for intrinsic distances.
    min_points : pairs sharing fewer points count as not overlapping.
    radius : points closer than this (intrinsic distance) join one piece; default four
        times the typical spacing of ``n`` uniform points on the manifold.

    Returns
    -------
    DataFrame with one row per pair ``a < b``: ``charts``, ``points``, ``share`` (of all
    ``n``), ``pieces`` (0 when below ``min_points``).
    """
    cover = _check_cover(cover)
    ds = get_dataset(dataset)
    params = np.asarray(params, dtype=float)
    if params.ndim != 2 or params.shape[0] != cover.shape[0]:
        raise ValueError(f"params must have shape ({cover.shape[0]}, param_dim); got "
                         f"{params.shape}")
    n, n_charts = cover.shape
    if radius is None:
        radius = 4.0 * math.pi * (1.0 / n) ** (1.0 / ds.intrinsic_dim)
    rows = []
    for a, b in itertools.combinations(range(n_charts), 2):
        both = cover[:, a] & cover[:, b]
        k = int(both.sum())
        pieces = _components(params[both], ds, radius) if k >= min_points else 0
        rows.append({"charts": (a, b), "points": k, "share": k / n, "pieces": pieces})
    return pd.DataFrame(rows, columns=["charts", "points", "share", "pieces"])


def nerve(cover: object, min_points: int = 5, maxdim: int = 2) -> list[tuple[int, ...]]:
    """Simplices of the nerve: every set of charts (up to ``maxdim + 1``) that share points.

    A chart is a vertex when it covers at least ``min_points`` points; a set of charts is a
    simplex when at least ``min_points`` points lie in all of them.
    """
    cover = _check_cover(cover)
    if isinstance(maxdim, bool) or not isinstance(maxdim, int) or maxdim < 0:
        raise ValueError(f"maxdim must be an integer >= 0; got {maxdim!r}")
    vertices = [a for a in range(cover.shape[1]) if cover[:, a].sum() >= min_points]
    simplices: list[tuple[int, ...]] = [(a,) for a in vertices]
    for size in range(2, maxdim + 2):
        for combo in itertools.combinations(vertices, size):
            if cover[:, list(combo)].all(1).sum() >= min_points:
                simplices.append(combo)
    return simplices


def _rank_mod2(matrix: np.ndarray) -> int:
    m = matrix.copy() % 2
    rank, rows, cols = 0, m.shape[0], m.shape[1]
    for c in range(cols):
        pivot = next((r for r in range(rank, rows) if m[r, c]), None)
        if pivot is None:
            continue
        m[[rank, pivot]] = m[[pivot, rank]]
        for r in range(rows):
            if r != rank and m[r, c]:
                m[r] ^= m[rank]
        rank += 1
        if rank == rows:
            break
    return rank


def nerve_betti(simplices: Sequence[tuple[int, ...]], maxdim: int = 2) -> tuple[int, ...]:
    """Betti numbers ``(b_0, ..., b_maxdim)`` over Z/2 of a simplicial complex.

    ``simplices`` must be closed under taking faces (as :func:`nerve` returns them).
    """
    by_dim: list[list[tuple[int, ...]]] = [[] for _ in range(maxdim + 2)]
    for s in simplices:
        s = tuple(sorted(s))
        if 1 <= len(s) <= maxdim + 2:
            by_dim[len(s) - 1].append(s)
    index = [{s: i for i, s in enumerate(level)} for level in by_dim]
    ranks = [0] * (maxdim + 2)  # rank of the boundary map from dimension d to d - 1
    for d in range(1, maxdim + 2):
        if not by_dim[d] or not by_dim[d - 1]:
            continue
        bd = np.zeros((len(by_dim[d - 1]), len(by_dim[d])), dtype=np.uint8)
        for j, s in enumerate(by_dim[d]):
            for face in itertools.combinations(s, d):
                if face not in index[d - 1]:
                    raise ValueError(f"simplices are not closed under faces: {face} of {s}")
                bd[index[d - 1][face], j] = 1
        ranks[d] = _rank_mod2(bd)
    return tuple(len(by_dim[d]) - ranks[d] - ranks[d + 1] for d in range(maxdim + 1))


def overlap_graph_betti(table: pd.DataFrame, n_charts: int | Sequence[int]) -> tuple[int, int]:
    """``(b_0, b_1)`` of the overlap multigraph: one edge per piece of each pairwise overlap.

    Parameters
    ----------
    table : output of :func:`overlaps`.
    n_charts : the number of charts, or the list of the charts that count as vertices
        (e.g. the surviving ones).
    """
    vertices = list(range(n_charts)) if isinstance(n_charts, (int, np.integer)) \
        else list(n_charts)
    where = {v: i for i, v in enumerate(vertices)}
    edges = [(where[a], where[b]) for (a, b), k in zip(table["charts"], table["pieces"],
                                                        strict=True)
             if a in where and b in where for _ in range(int(k))]
    m = len(vertices)
    if m == 0:
        return 0, 0
    graph = coo_matrix((np.ones(len(edges)), ([e[0] for e in edges], [e[1] for e in edges])),
                       shape=(m, m))
    b0 = int(connected_components(graph, directed=False)[0])
    return b0, len(edges) - m + b0


def cycle_residuals(
    transition: Callable[[int, int, np.ndarray], np.ndarray],
    coords: object,
    cover: object,
    min_points: int = 5,
    max_points: int = 200,
) -> pd.DataFrame:
    """How far chart transitions are from consistent, on the points of each overlap.

    For every pair ``(a, b)`` whose overlap holds at least ``min_points`` points, the
    round trip ``phi_ab(phi_ba(u_a))`` is compared with ``u_a``; for every triple, the
    cycle ``phi_ac(phi_cb(phi_ba(u_a)))``. For an exact atlas both are the identity.

    Parameters
    ----------
    transition : ``transition(a, b, u)`` maps ``(k, n)`` chart-``a`` coordinates to chart
        ``b`` (``ChartAutoencoder.transition`` wrapped to numpy).
    coords : ``(n_points, N, n)`` coordinates of every point in every chart.
    cover : ``(n_points, N)`` bool (:func:`cover_matrix`).
    min_points, max_points : smallest overlap used, and most points used per cycle.

    Returns
    -------
    DataFrame with one row per cycle: ``cycle`` (tuple of charts), ``points``, ``median``
    and ``max`` residual (Euclidean, in chart coordinates).
    """
    cover = _check_cover(cover)
    coords = np.asarray(coords, dtype=float)
    if coords.ndim != 3 or coords.shape[:2] != cover.shape:
        raise ValueError(f"coords must have shape ({cover.shape[0]}, {cover.shape[1]}, n); "
                         f"got {coords.shape}")
    rows = []
    charts = range(cover.shape[1])
    cycles = [c for k in (2, 3) for c in itertools.combinations(charts, k)]
    for cycle in cycles:
        inside = np.flatnonzero(cover[:, list(cycle)].all(1))[:max_points]
        if inside.size < min_points:
            continue
        u = coords[inside, cycle[0]]
        v = u
        for src, dst in zip(cycle, (*cycle[1:], cycle[0]), strict=True):
            v = np.asarray(transition(src, dst, v), dtype=float)
        res = np.linalg.norm(v - u, axis=1)
        rows.append({"cycle": cycle, "points": int(inside.size),
                     "median": float(np.median(res)), "max": float(res.max())})
    return pd.DataFrame(rows, columns=["cycle", "points", "median", "max"])


def boundary_cells(histogram: object, bins: int, chart_dim: int) -> np.ndarray:
    """``(N, bins**chart_dim)`` bool: visited code cells next to an unvisited cell.

    ``histogram`` ``(N, bins**chart_dim)`` counts encoded training codes per chart and cell
    (``ChartAutoencoder.histogram``); a visited cell with an unvisited neighbour (or on the
    edge of the box) lies on the boundary of its chart's domain.
    """
    hist = np.asarray(histogram, dtype=float)
    shape = (bins,) * chart_dim
    if hist.ndim != 2 or hist.shape[1] != bins**chart_dim:
        raise ValueError(f"histogram must have shape (N, {bins**chart_dim}); got {hist.shape}")
    out = np.zeros(hist.shape, dtype=bool)
    for a, row in enumerate(hist):
        visited = np.pad(row.reshape(shape) > 0, 1, constant_values=False)
        edge = np.zeros_like(visited)
        for offset in itertools.product((-1, 0, 1), repeat=chart_dim):
            if any(offset):
                edge |= ~np.roll(visited, offset, axis=tuple(range(chart_dim)))
        core = tuple(slice(1, -1) for _ in range(chart_dim))
        out[a] = (visited & edge)[core].reshape(-1)
    return out
