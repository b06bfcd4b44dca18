"""Preprocessing for persistent homology: flattening, PCA and greedy (farthest-point) landmarks.

Everything here is plain, vectorised NumPy and deterministic for a given seed.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import pdist, squareform

from topolib.seeding import numpy_rng

__all__ = [
    "LandmarkResult",
    "as_point_array",
    "distances_to_set",
    "farthest_point_sampling",
    "pairwise_distances",
    "pca_project",
]


def as_point_array(X: object, name: str = "X") -> np.ndarray:
    """Return ``X`` as a float64 array of shape (n, d), flattening each sample.

    Parameters
    ----------
    X : array-like, shape (n, ...)
        Points (n, d) or images (n, h, w) / (n, c, h, w); a torch tensor is accepted.

    Raises
    ------
    TypeError
        If ``X`` cannot be read as a numeric array.
    ValueError
        If ``X`` is empty, one-dimensional, or holds NaN or infinite values.
    """
    if hasattr(X, "detach"):  # torch tensor
        X = X.detach().cpu().numpy()
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as exc:  # ragged input
        raise TypeError(f"{name} must be a numeric array of shape (n, ...); {exc}") from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be a numeric array of shape (n, ...); got dtype {arr.dtype}")
    if arr.ndim < 2:
        raise ValueError(
            f"{name} must have shape (n_points, n_features) or (n_points, ...) for images; "
            f"got shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); it needs at least one point")
    arr = arr.reshape(arr.shape[0], -1).astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.all(np.isfinite(arr), axis=1)))
        raise ValueError(f"{name} contains NaN or infinite values (in {bad} of {len(arr)} points)")
    return arr


def pca_project(X: np.ndarray, dim: int) -> np.ndarray:
    """Project centred points onto their first ``dim`` principal components.

    Exact and deterministic (eigen-decomposition of the smaller Gram/covariance matrix, with a
    fixed sign convention: the largest-magnitude loading of each component is positive), so no
    seed is needed.

    Parameters
    ----------
    X : ndarray, shape (n, d)
    dim : int, 1 <= dim < d

    Returns
    -------
    ndarray, shape (n, dim)
    """
    n, d = X.shape
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"pca_dim must be an int or None; got {type(dim).__name__}")
    if not 1 <= dim < d:
        raise ValueError(
            f"pca_dim must be between 1 and the number of features minus one ({d - 1}); got {dim}"
        )
    Xc = X - X.mean(axis=0)
    if d <= n:
        evals, evecs = np.linalg.eigh(Xc.T @ Xc)
        comps = evecs[:, ::-1][:, :dim]  # (d, dim)
    else:
        evals, evecs = np.linalg.eigh(Xc @ Xc.T)
        u = evecs[:, ::-1][:, :dim]
        s = np.sqrt(np.clip(evals[::-1][:dim], 1e-300, None))
        comps = (Xc.T @ u) / s
    pivot = np.argmax(np.abs(comps), axis=0)
    signs = np.sign(comps[pivot, np.arange(comps.shape[1])])
    signs[signs == 0] = 1.0
    return Xc @ (comps * signs)


@dataclass(frozen=True, eq=False)
class LandmarkResult:
    """Greedy landmarks of a point set.

    Attributes
    ----------
    indices : ndarray of int, shape (m,)
        Indices into the point set, in the order they were chosen.
    radii : ndarray, shape (m,)
        ``radii[k]`` is the covering radius of the first ``k + 1`` landmarks (non-increasing).
    covering_radius : float
        ``radii[-1]``: every point lies within this distance of some landmark.
    """

    indices: np.ndarray
    radii: np.ndarray
    covering_radius: float


def _single_thread_blas() -> AbstractContextManager:
    """Run BLAS on one thread: a greedy scan is a long series of small matrix-vector products,
    and thread start-up costs more than it saves (10x slower on a busy 2-core machine)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _distances_to(Xs: np.ndarray, sq: np.ndarray, i: int) -> np.ndarray:
    d2 = sq + sq[i] - 2.0 * (Xs @ Xs[i])
    np.maximum(d2, 0.0, out=d2)
    d2[i] = 0.0
    return np.sqrt(d2)


def distances_to_set(X: np.ndarray, indices: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Exact (float64) distance from every point to its nearest point among ``X[indices]``.

    Parameters
    ----------
    X : ndarray, shape (n, d)
    indices : ndarray of int, shape (m,)

    Returns
    -------
    ndarray, shape (n,)
    """
    X = np.asarray(X, dtype=np.float64)
    Xc = X - X.mean(axis=0)
    L = Xc[indices]
    sq_l = np.einsum("ij,ij->i", L, L)
    out = np.empty(len(Xc))
    for start in range(0, len(Xc), chunk):
        block = Xc[start : start + chunk]
        d2 = np.einsum("ij,ij->i", block, block)[:, None] + sq_l[None, :] - 2.0 * (block @ L.T)
        out[start : start + chunk] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    out[indices] = 0.0
    return out


def farthest_point_sampling(
    X: np.ndarray, n_landmarks: int, seed: int | np.random.Generator = 0
) -> LandmarkResult:
    """Greedy farthest-point (maxmin) landmarks.

    The first landmark is drawn uniformly from the points with ``numpy_rng(seed,
    "landmarks")``; each next one is the point farthest from those already chosen. One
    matrix-vector product per landmark: O(n d m) time and O(n) extra memory. High-dimensional
    data (more than 64 features) is scanned in float32 on centred data, which is several times
    faster because the scan is memory-bound; the returned covering radius is then recomputed
    exactly in float64.

    Parameters
    ----------
    X : ndarray, shape (n, d)
    n_landmarks : int, 1 <= n_landmarks <= n
    seed : int or numpy.random.Generator

    Returns
    -------
    LandmarkResult
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    if isinstance(n_landmarks, bool) or not isinstance(n_landmarks, (int, np.integer)):
        raise TypeError(f"n_landmarks must be an int; got {type(n_landmarks).__name__}")
    if not 1 <= n_landmarks <= n:
        raise ValueError(
            f"n_landmarks must be between 1 and the number of points ({n}); got {n_landmarks}"
        )
    rng = numpy_rng(seed, "landmarks")
    dtype = np.float32 if X.shape[1] > 64 else np.float64
    Xs = np.ascontiguousarray(X - X.mean(axis=0), dtype=dtype)
    sq = np.einsum("ij,ij->i", Xs, Xs)
    indices = np.empty(n_landmarks, dtype=np.int64)
    radii = np.empty(n_landmarks, dtype=np.float64)
    indices[0] = int(rng.integers(n))
    with _single_thread_blas():
        mind = _distances_to(Xs, sq, int(indices[0]))
        for k in range(1, n_landmarks):
            idx = int(np.argmax(mind))
            radii[k - 1] = mind[idx]
            indices[k] = idx
            np.minimum(mind, _distances_to(Xs, sq, idx), out=mind)
    radii[-1] = float(distances_to_set(X, indices).max())
    return LandmarkResult(indices=indices, radii=radii, covering_radius=float(radii[-1]))


def pairwise_distances(X: np.ndarray) -> np.ndarray:
    """Euclidean distance matrix, shape (n, n), zero diagonal, computed accurately (pdist)."""
    return squareform(pdist(np.asarray(X, dtype=np.float64)))
