"""Persistent homology of a sample set (points or images) over several fields, with landmarks.

>>> from topolib.metrics import persistent_homology
>>> result = persistent_homology(images, maxdim=2, coeffs=(2, 3), n_landmarks=250, seed=0)
>>> result.betti          # {2: (1, 2, 1), 3: (1, 2, 1)}
>>> print(result.summary())

Pipeline: flatten -> optional PCA -> greedy landmarks -> one landmark distance matrix -> ripser
once per field -> Betti numbers by the rule of :mod:`topolib.metrics.betti`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from ripser import ripser

from topolib.metrics.betti import (
    MIN_PERSISTENCE,
    READING_SCALE,
    betti_from_diagram,
    landmark_spacing,
    stable_range,
)
from topolib.metrics.landmarks import (
    as_point_array,
    farthest_point_sampling,
    pairwise_distances,
    pca_project,
)
from topolib.profiles import smoke_landmarks
from topolib.seeding import check_seed, numpy_rng

__all__ = [
    "DEFAULT_MAX_SCALE",
    "METRICS",
    "BootstrapResult",
    "PersistenceResult",
    "bootstrap_betti",
    "check_coeffs",
    "check_maxdim",
    "diagram_distance",
    "persistent_homology",
    "sample_set_distance",
]

#: H2 is computed up to this many landmark spacings (the whole filtration for H0 and H1).
#: The late part of the Rips filtration, where the complex is nearly complete, is where ripser
#: spends almost all of its time in dimension 2 (250 landmarks of 2000 RP^2 images: 0.3 s up to
#: 3.5 spacings, 0.6 s up to 4, 58 s for the whole filtration; a translated-blob torus: 0.5 s
#: and 1.3-6 s). The Betti rule reads at 2.5 spacings, so 3.5 leaves a margin of 1.4x.
DEFAULT_MAX_SCALE = 3.5
#: Warn when the reading scale reaches this share of the landmark diameter: the Rips complex
#: is then (nearly) a full simplex and every Betti number but b0 is 0, whatever the data.
UNRESOLVED_SHARE = 0.9
#: Above this many points without landmarks, warn that ripser may need minutes and gigabytes.
LARGE_WITHOUT_LANDMARKS = 1000


def _is_prime(p: int) -> bool:
    if p < 2:
        return False
    i = 2
    while i * i <= p:
        if p % i == 0:
            return False
        i += 1
    return True


def check_maxdim(maxdim: object) -> int:
    """Return ``maxdim`` if it is 0, 1 or 2, else raise a ValueError naming it."""
    if isinstance(maxdim, bool) or not isinstance(maxdim, Integral) or int(maxdim) not in (0, 1, 2):
        raise ValueError(f"maxdim must be 0, 1 or 2; got {maxdim!r}")
    return int(maxdim)


def check_coeffs(coeffs: object, name: str = "coeffs") -> tuple[int, ...]:
    """Return coefficient fields as a tuple of distinct primes (an int is one field)."""
    if isinstance(coeffs, Integral) and not isinstance(coeffs, bool):
        coeffs = (coeffs,)
    if isinstance(coeffs, (str, bytes)) or not isinstance(coeffs, Sequence) or not coeffs:
        raise TypeError(f"{name} must be a prime or a non-empty sequence of primes; got {coeffs!r}")
    out: list[int] = []
    for p in coeffs:
        if isinstance(p, bool) or not isinstance(p, Integral) or not _is_prime(int(p)):
            raise ValueError(
                f"{name} must hold prime numbers (the field Z/p needs p prime); got {p!r}"
            )
        if int(p) not in out:
            out.append(int(p))
    return tuple(out)


def _field_name(p: int) -> str:
    return f"Z/{p}"


@dataclass(frozen=True, eq=False)
class PersistenceResult:
    """Persistence diagrams and Betti numbers of one sample set.

    Attributes
    ----------
    diagrams : dict coeff -> tuple of ndarray
        ``diagrams[p][d]`` has shape (k_d, 2): (birth, death) of the dimension-d bars over the
        field Z/p, for d = 0..maxdim. A death of ``inf`` means the bar is alive at the end of
        the computed filtration: the one essential H0 bar, and H2 bars still alive at
        ``max_scale`` (H2 is computed up to ``max_scale`` only; H0 and H1 in full).
        :meth:`diagram` gives them with ``inf`` replaced by a finite cap.
    betti : dict coeff -> tuple of int
        ``(b_0, ..., b_maxdim)`` by :func:`topolib.metrics.betti.betti_from_diagram`.
    landmarks : ndarray of int, shape (m,)
        Indices into the input of the points used (greedy order; all points if none chosen).
    covering_radius : float
        Every input point is within this distance of a landmark (0 without landmarks).
    scale : float
        The Betti rule's data scale: the landmark spacing ``eps``.
    max_scale : float
        Filtration value up to which H2 was computed (``inf``: the whole filtration).
    n_points, n_features : size of the input and dimension after flattening (and PCA).
    maxdim, coeffs, pca_dim, seed : the settings used.
    n_landmarks_requested : the ``n_landmarks`` argument (None: all points).
    reading, min_persistence : the Betti rule's constants, in units of ``scale``.
    elapsed : wall time of :func:`persistent_homology`, in seconds.
    """

    diagrams: dict[int, tuple[np.ndarray, ...]]
    betti: dict[int, tuple[int, ...]]
    landmarks: np.ndarray
    covering_radius: float
    scale: float
    max_scale: float
    n_points: int
    n_features: int
    maxdim: int
    coeffs: tuple[int, ...]
    pca_dim: int | None
    seed: int
    n_landmarks_requested: int | None
    reading: float = READING_SCALE
    min_persistence: float = MIN_PERSISTENCE
    elapsed: float = field(default=0.0, compare=False)

    @property
    def n_landmarks(self) -> int:
        """Number of points the complex was built on."""
        return int(len(self.landmarks))

    @property
    def reading_scale(self) -> float:
        """Filtration value at which the Betti numbers are read (``reading * scale``)."""
        return self.reading * self.scale

    @property
    def persistence_floor(self) -> float:
        """Bars shorter than this are never counted (``min_persistence * scale``)."""
        return self.min_persistence * self.scale

    @property
    def death_cap(self) -> float:
        """Finite stand-in for ``inf`` deaths in plots: 1.05 times the largest finite value.

        The largest of: any finite birth or death, the reading scale, and the end of the H2
        filtration when it was truncated.
        """
        values = [self.reading_scale]
        if np.isfinite(self.max_scale):
            values.append(self.max_scale)
        for dg in self.diagrams.values():
            for d in dg:
                f = d[np.isfinite(d)]
                if f.size:
                    values.append(float(f.max()))
        return 1.05 * max(values)

    def settings(self) -> dict[str, object]:
        """The settings that must agree for two results to be compared."""
        max_scale = (
            None if not np.isfinite(self.max_scale) else round(self.max_scale / self.scale, 9)
        )
        return {
            "maxdim": self.maxdim,
            "n_landmarks": self.n_landmarks_requested,
            "pca_dim": self.pca_dim,
            "max_scale": max_scale,
            "reading": self.reading,
            "min_persistence": self.min_persistence,
        }

    def _check_field(self, coeff: int, dim: int) -> None:
        if coeff not in self.diagrams:
            raise ValueError(f"coeff must be one of {self.coeffs} (computed); got {coeff!r}")
        if isinstance(dim, bool) or not isinstance(dim, Integral) or not 0 <= dim <= self.maxdim:
            raise ValueError(f"dim must be an integer between 0 and {self.maxdim}; got {dim!r}")

    def diagram(self, dim: int, coeff: int = 2, finite: bool = False) -> np.ndarray:
        """The (k, 2) diagram of dimension ``dim`` over Z/``coeff``.

        With ``finite=True`` infinite deaths are replaced by :attr:`death_cap`.
        """
        self._check_field(coeff, dim)
        d = np.array(self.diagrams[coeff][dim], dtype=np.float64)
        if finite:
            d[~np.isfinite(d[:, 1]), 1] = self.death_cap
        return d

    def stable_range(self) -> tuple[float, float]:
        """Reading scales (in units of ``scale``) that give the same Betti numbers, all fields."""
        low, high = stable_range(
            [self.diagrams[p] for p in self.coeffs],
            self.scale,
            reading=self.reading,
            min_persistence=self.min_persistence,
        )
        # Beyond the end of the H2 filtration nothing is known.
        return low, min(high, self.max_scale / self.scale)

    def to_rows(self) -> list[dict[str, object]]:
        """One row per field, for a table (e.g. ``pandas.DataFrame(result.to_rows())``)."""
        rows = []
        for p in self.coeffs:
            row: dict[str, object] = {"field": _field_name(p)}
            for d, b in enumerate(self.betti[p]):
                row[f"b{d}"] = b
            row.update(
                n_points=self.n_points,
                n_landmarks=self.n_landmarks,
                covering_radius=round(self.covering_radius, 4),
                spacing=round(self.scale, 4),
                seconds=round(self.elapsed, 2),
            )
            rows.append(row)
        return rows

    def summary(self) -> str:
        """A few lines: Betti numbers per field and the scales behind them."""
        lines = [
            f"Persistent homology of {self.n_points} points in R^{self.n_features} "
            f"({self.n_landmarks} landmarks, covering radius {self.covering_radius:.3g}, "
            f"spacing eps {self.scale:.3g}; {self.elapsed:.1f} s)"
        ]
        low, high = self.stable_range()
        for p in self.coeffs:
            lines.append(f"  Betti over {_field_name(p)}: {self.betti[p]}")
        lines.append(
            f"  rule: bars alive at {self.reading:g} eps and longer than "
            f"{self.min_persistence:g} eps; same answer for readings in "
            f"[{low:.2f}, {high:.2f}] eps"
        )
        return "\n".join(lines)

    def __repr__(self) -> str:
        betti = ", ".join(f"{_field_name(p)}: {self.betti[p]}" for p in self.coeffs)
        return (
            f"PersistenceResult(n_points={self.n_points}, n_landmarks={self.n_landmarks}, "
            f"betti={{{betti}}})"
        )


def _check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int or None; got {type(value).__name__}")
    return int(value)


def _check_max_scale(max_scale: object, reading: float) -> float:
    if max_scale is None:
        return float("inf")
    if isinstance(max_scale, bool) or not isinstance(max_scale, Real):
        raise TypeError(f"max_scale must be a number or None; got {max_scale!r}")
    if not max_scale > reading:
        raise ValueError(
            f"max_scale must exceed the reading scale ({reading} spacings) so the Betti rule "
            f"sees every bar alive there; got {max_scale!r}"
        )
    return float(max_scale)


def _tidy(diagram: np.ndarray) -> np.ndarray:
    arr = np.asarray(diagram, dtype=np.float64).reshape(-1, 2)
    arr = arr[np.lexsort((arr[:, 1], arr[:, 0]))]
    arr.setflags(write=False)
    return arr


def _low_diagrams(D: np.ndarray, maxdim: int, coeff: int) -> list[np.ndarray]:
    """H0 (and H1) of the whole Rips filtration of the distance matrix ``D``."""
    dgms = ripser(D, maxdim=min(maxdim, 1), coeff=coeff, distance_matrix=True)["dgms"]
    return [_tidy(d) for d in dgms]


def _h2_diagram(D: np.ndarray, coeff: int, cap: float) -> np.ndarray:
    """H2 of the Rips filtration of ``D`` up to ``cap`` (bars alive there die at ``inf``)."""
    dgms = ripser(D, maxdim=2, coeff=coeff, distance_matrix=True, thresh=cap)["dgms"]
    return _tidy(dgms[2])


def _read(D: np.ndarray, low: dict[int, list[np.ndarray]], eps: float, maxdim: int,
          coeffs: tuple[int, ...], cap_units: float
          ) -> tuple[dict[int, tuple[np.ndarray, ...]], dict[int, tuple[int, ...]], float]:
    """Diagrams (H2 up to ``cap_units`` spacings), Betti numbers and the H2 cap, from the
    landmark distances ``D`` and their H0/H1 diagrams ``low``."""
    if READING_SCALE * eps >= UNRESOLVED_SHARE * D.max():
        warnings.warn(
            f"the landmarks do not resolve this data: the reading scale ({READING_SCALE} x "
            f"spacing = {READING_SCALE * eps:.3g}) is {READING_SCALE * eps / D.max():.0%} of "
            "the diameter, so only b0 can be non-zero; use more landmarks or a smoother "
            "representation (e.g. pca_dim)",
            RuntimeWarning,
            stacklevel=3,
        )
    cap = cap_units * eps
    diagrams = {
        p: tuple(low[p] + ([_h2_diagram(D, p, cap)] if maxdim == 2 else [])) for p in coeffs
    }
    betti = {p: betti_from_diagram(diagrams[p], eps) for p in coeffs}
    return diagrams, betti, cap


def persistent_homology(
    X: np.ndarray,
    maxdim: int = 2,
    coeffs: Sequence[int] | int = (2, 3),
    n_landmarks: int | None = None,
    pca_dim: int | None = None,
    seed: int = 0,
    *,
    max_scale: float | None = DEFAULT_MAX_SCALE,
) -> PersistenceResult:
    """Persistence diagrams and Betti numbers of a sample set, over each field in ``coeffs``.

    Flatten, optionally project (PCA), choose greedy landmarks, compute their distance matrix
    once, run ripser on it for every field, and read the Betti numbers with
    :func:`topolib.metrics.betti.betti_from_diagram` (bars alive at 2.5 landmark spacings).

    Parameters
    ----------
    X : array-like, shape (n, ...)
        Points (n, d) or images (n, h, w); each sample is flattened.
    maxdim : int
        Highest homology dimension, 0, 1 or 2.
    coeffs : prime or sequence of primes
        Coefficient fields Z/p (default Z/2 and Z/3).
    n_landmarks : int or None
        Number of greedy (farthest-point) landmarks, ``maxdim + 2 <= n_landmarks <= n``. None
        uses every point: slow beyond ~1000 points, and an i.i.d. sample has gaps about
        log(n) times its typical spacing, whereas the Betti rule is calibrated on the even
        spacing of greedy landmarks; prefer landmarks even for small sets. In smoke mode
        at most :data:`topolib.profiles.SMOKE_LANDMARKS` are taken.
    pca_dim : int or None
        Project onto this many principal components first (``< n_features``). A projection
        acts as a low-pass filter on images; distances, hence diagrams, change a little.
    seed : int
        Chooses the first landmark; everything else is deterministic.
    max_scale : float or None
        H2 is computed up to ``max_scale`` landmark spacings (default 3.5; H0 and H1 always
        in full). None computes the whole filtration, which can take minutes.

    Returns
    -------
    PersistenceResult

    Raises
    ------
    ValueError, TypeError
        For empty or non-finite ``X``, ``maxdim`` outside {0, 1, 2}, a non-prime coefficient,
        a bad ``n_landmarks`` or ``pca_dim``, or too few points.

    Warns
    -----
    RuntimeWarning
        When every point is the same (a collapsed model's samples): the result is then the
        homology of one point, Betti ``(1, 0, ...)``, with no scale (``scale = 0``).
    """
    start = time.perf_counter()
    maxdim = check_maxdim(maxdim)
    coeffs = check_coeffs(coeffs)
    seed = check_seed(seed)
    cap_units = _check_max_scale(max_scale, READING_SCALE)
    Y = as_point_array(X)
    n, n_features = Y.shape
    need = maxdim + 2
    if n < need:
        raise ValueError(
            f"X has {n} point(s); homology up to H{maxdim} needs at least {need} points"
        )
    if pca_dim is not None:
        pca_dim = _check_positive_int(pca_dim, "pca_dim")
        if not 1 <= pca_dim < n_features:
            raise ValueError(
                f"pca_dim must be between 1 and n_features - 1 = {n_features - 1} (X has "
                f"{n_features} features after flattening); got {pca_dim}"
            )
        Y = pca_project(Y, pca_dim)
    if n_landmarks is None:
        if n > LARGE_WITHOUT_LANDMARKS and maxdim >= 1:
            warnings.warn(
                f"persistent_homology on {n} points without landmarks may need minutes and "
                "gigabytes; pass n_landmarks (e.g. 250)",
                RuntimeWarning,
                stacklevel=2,
            )
        indices = np.arange(n)
        covering_radius = 0.0
    else:
        m = _check_positive_int(n_landmarks, "n_landmarks")
        if m < need:
            raise ValueError(
                f"n_landmarks must be at least maxdim + 2 = {need} for H{maxdim}; got {m}"
            )
        if m > n:
            raise ValueError(
                f"n_landmarks ({m}) is larger than the number of points in X ({n}); "
                "use at most n, or None for all points"
            )
        lm = farthest_point_sampling(Y, smoke_landmarks(m), seed)  # fewer only in smoke mode
        indices, covering_radius = lm.indices, lm.covering_radius
    D = pairwise_distances(Y[indices])
    if not D.max() > 0:  # one point, repeated (a collapsed model): its homology is a point's
        warnings.warn("all points are identical: the homology of one point, Betti (1, 0, ...)",
                      RuntimeWarning, stacklevel=2)
        point = (np.array([[0.0, np.inf]]), *[np.zeros((0, 2))] * maxdim)
        diagrams = {p: point for p in coeffs}
        betti = {p: (1,) + (0,) * maxdim for p in coeffs}
        eps = cap = 0.0
    else:
        low = {p: _low_diagrams(D, maxdim, p) for p in coeffs}
        eps = landmark_spacing(low[coeffs[0]][0])
        diagrams, betti, cap = _read(D, low, eps, maxdim, coeffs, cap_units)
    indices = np.asarray(indices, dtype=np.int64)
    indices.setflags(write=False)
    return PersistenceResult(
        diagrams=diagrams,
        betti=betti,
        landmarks=indices,
        covering_radius=float(covering_radius),
        scale=eps,
        max_scale=float(cap) if maxdim == 2 else float("inf"),
        n_points=n,
        n_features=int(Y.shape[1]),
        maxdim=maxdim,
        coeffs=coeffs,
        pca_dim=pca_dim,
        seed=seed,
        n_landmarks_requested=None if n_landmarks is None else int(n_landmarks),
        elapsed=time.perf_counter() - start,
    )


# --------------------------------------------------------------------------- bootstrap


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Betti numbers of bootstrap replicates of a sample set.

    Attributes
    ----------
    samples : dict coeff -> ndarray of int, shape (n_boot, maxdim + 1)
        Betti numbers of each replicate over Z/coeff.
    coeffs, maxdim, n_boot : settings.
    method : ``"resample"`` (n points with replacement) or ``"subsample"`` (a fraction
        without replacement).
    fraction : share of the points in each replicate.
    """

    samples: dict[int, np.ndarray]
    coeffs: tuple[int, ...]
    maxdim: int
    n_boot: int
    method: str
    fraction: float
    elapsed: float = field(default=0.0, compare=False)

    def frequencies(self, coeff: int, dim: int) -> dict[int, float]:
        """Share of replicates giving each value of ``b_dim`` over Z/``coeff`` (sorted by value)."""
        column = self._column(coeff, dim)
        values, counts = np.unique(column, return_counts=True)
        return {int(v): float(c) / len(column) for v, c in zip(values, counts, strict=True)}

    def mode(self, coeff: int = 2) -> tuple[int, ...]:
        """Most frequent value of each Betti number (the smaller one on ties)."""
        return tuple(
            max(f.items(), key=lambda kv: (kv[1], -kv[0]))[0]
            for f in (self.frequencies(coeff, d) for d in range(self.maxdim + 1))
        )

    def interval(self, coeff: int, dim: int, level: float = 0.9) -> tuple[int, int]:
        """Central ``level`` interval of ``b_dim`` over the replicates (lower, upper quantile)."""
        if not 0 < level <= 1:
            raise ValueError(f"level must be in (0, 1]; got {level!r}")
        column = self._column(coeff, dim)
        lo, hi = np.quantile(column, [(1 - level) / 2, (1 + level) / 2], method="nearest")
        return int(lo), int(hi)

    def confidence(self, coeff: int = 2) -> float:
        """Share of replicates whose whole Betti vector equals :meth:`mode`."""
        mode = np.asarray(self.mode(coeff))
        return float(np.mean(np.all(self.samples[coeff] == mode, axis=1)))

    def to_rows(self, level: float = 0.9) -> list[dict[str, object]]:
        """One row per field and dimension: mode, interval and frequency of the mode."""
        rows = []
        for p in self.coeffs:
            mode = self.mode(p)
            for d in range(self.maxdim + 1):
                lo, hi = self.interval(p, d, level)
                rows.append(
                    {
                        "field": _field_name(p),
                        "dim": d,
                        "mode": mode[d],
                        "interval": f"[{lo}, {hi}]",
                        "share_at_mode": round(self.frequencies(p, d)[mode[d]], 3),
                        "n_boot": self.n_boot,
                    }
                )
        return rows

    def summary(self) -> str:
        """One line per field: modal Betti numbers and how often the whole vector agreed."""
        lines = [f"Bootstrap ({self.method}, {self.n_boot} replicates of {self.fraction:.0%})"]
        for p in self.coeffs:
            lines.append(
                f"  {_field_name(p)}: mode {self.mode(p)}, whole vector in "
                f"{self.confidence(p):.0%} of replicates"
            )
        return "\n".join(lines)

    def _column(self, coeff: int, dim: int) -> np.ndarray:
        if coeff not in self.samples:
            raise ValueError(f"coeff must be one of {self.coeffs}; got {coeff!r}")
        if isinstance(dim, bool) or not isinstance(dim, Integral) or not 0 <= dim <= self.maxdim:
            raise ValueError(f"dim must be an integer between 0 and {self.maxdim}; got {dim!r}")
        return self.samples[coeff][:, dim]


def bootstrap_betti(
    X: np.ndarray,
    n_boot: int = 20,
    *,
    maxdim: int = 2,
    coeffs: Sequence[int] | int = (2, 3),
    n_landmarks: int | None = None,
    pca_dim: int | None = None,
    method: str = "resample",
    fraction: float = 1.0,
    seed: int = 0,
    max_scale: float | None = DEFAULT_MAX_SCALE,
) -> BootstrapResult:
    """Betti numbers of ``n_boot`` bootstrap replicates of ``X``.

    Each replicate draws points (``"resample"``: ``round(fraction * n)`` with replacement;
    ``"subsample"``: as many without replacement), then runs :func:`persistent_homology` with
    the same settings (its own greedy landmarks; duplicates are never chosen twice while
    distinct points remain). PCA, if asked for, is fitted once on all of ``X``.

    Parameters
    ----------
    X : array-like, shape (n, ...)
    n_boot : int, >= 1
    maxdim, coeffs, n_landmarks, pca_dim, max_scale : as in :func:`persistent_homology`.
    method : ``"resample"`` or ``"subsample"``.
    fraction : float in (0, 1]; must be < 1 for ``"subsample"``.
    seed : int; the draws and each replicate's landmark seed come from
        ``numpy_rng(seed, "bootstrap")``.

    Returns
    -------
    BootstrapResult
    """
    start = time.perf_counter()
    n_boot = _check_positive_int(n_boot, "n_boot")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1; got {n_boot}")
    maxdim = check_maxdim(maxdim)
    coeffs = check_coeffs(coeffs)
    seed = check_seed(seed)
    if method not in ("resample", "subsample"):
        raise ValueError(f"method must be 'resample' or 'subsample'; got {method!r}")
    if isinstance(fraction, bool) or not isinstance(fraction, Real) or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be a number in (0, 1]; got {fraction!r}")
    if method == "subsample" and fraction == 1:
        raise ValueError("fraction must be < 1 for method='subsample' (else every replicate is X)")
    Y = as_point_array(X)
    if pca_dim is not None:
        pca_dim = _check_positive_int(pca_dim, "pca_dim")
        if not 1 <= pca_dim < Y.shape[1]:
            raise ValueError(
                f"pca_dim must be between 1 and n_features - 1 = {Y.shape[1] - 1}; got {pca_dim}"
            )
        Y = pca_project(Y, pca_dim)
    n = len(Y)
    size = max(1, int(round(fraction * n)))
    if n_landmarks is not None and _check_positive_int(n_landmarks, "n_landmarks") > size:
        raise ValueError(
            f"n_landmarks ({n_landmarks}) is larger than the replicate size ({size} points)"
        )
    rng = numpy_rng(seed, "bootstrap")
    samples = {p: np.zeros((n_boot, maxdim + 1), dtype=np.int64) for p in coeffs}
    for b in range(n_boot):
        if method == "resample":
            idx = rng.integers(0, n, size=size)
        else:
            idx = np.sort(rng.choice(n, size=size, replace=False))
        landmark_seed = int(rng.integers(0, 2**31 - 1))
        result = persistent_homology(
            Y[idx],
            maxdim=maxdim,
            coeffs=coeffs,
            n_landmarks=n_landmarks,
            seed=landmark_seed,
            max_scale=max_scale,
        )
        for p in coeffs:
            samples[p][b] = result.betti[p]
    for arr in samples.values():
        arr.setflags(write=False)
    return BootstrapResult(
        samples=samples,
        coeffs=coeffs,
        maxdim=maxdim,
        n_boot=n_boot,
        method=method,
        fraction=float(fraction),
        elapsed=time.perf_counter() - start,
    )


# --------------------------------------------------------------------------- distances

METRICS = ("bottleneck", "wasserstein")


def _distance_diagram(
    result: PersistenceResult, dim: int, coeff: int, cap: float, floor: float
) -> np.ndarray:
    d = result.diagram(dim, coeff)
    d = d[d[:, 0] < cap]
    if dim == 0:
        d = d[np.isfinite(d[:, 1])]  # the essential class: one in each diagram, not compared
    d[:, 1] = np.minimum(d[:, 1], cap)
    return d[(d[:, 1] - d[:, 0]) > floor]


def diagram_distance(
    a: PersistenceResult,
    b: PersistenceResult,
    dim: int,
    coeff: int = 2,
    metric: str = "bottleneck",
    min_persistence: float = 0.0,
) -> float:
    """Bottleneck or Wasserstein distance between the dimension-``dim`` diagrams of two results.

    Both results must come from the same settings (``PersistenceResult.settings``). The
    essential H0 bar (one in each) is dropped. H2 diagrams are truncated at the smaller of the
    two filtration ends (bars alive there end there) so that both describe the same range of
    scales. Bars shorter than ``min_persistence`` are dropped first, which changes a bottleneck
    distance by at most ``min_persistence / 2`` and speeds persim up on large diagrams
    (landmark diagrams take well under a second without it).

    Parameters
    ----------
    a, b : PersistenceResult
    dim : int, 0 <= dim <= maxdim
    coeff : prime computed in both results.
    metric : ``"bottleneck"`` or ``"wasserstein"`` (persim's, with the Euclidean ground
        metric and exponent 1).
    min_persistence : float, >= 0, in the units of the data.

    Returns
    -------
    float
    """
    from persim import bottleneck, wasserstein

    for name, r in (("a", a), ("b", b)):
        if not isinstance(r, PersistenceResult):
            raise TypeError(f"{name} must be a PersistenceResult; got {type(r).__name__}")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}; got {metric!r}")
    sa, sb = a.settings(), b.settings()
    diff = {k: (sa[k], sb[k]) for k in sa if sa[k] != sb[k]}
    if diff:
        raise ValueError(f"a and b were computed with different settings (a, b): {diff}")
    a._check_field(coeff, dim)
    b._check_field(coeff, dim)
    if (
        isinstance(min_persistence, bool)
        or not isinstance(min_persistence, Real)
        or not (min_persistence >= 0)
    ):
        raise ValueError(f"min_persistence must be a number >= 0; got {min_persistence!r}")
    cap = min(a.max_scale, b.max_scale) if dim == 2 else float("inf")
    da = _distance_diagram(a, dim, coeff, cap, float(min_persistence))
    db = _distance_diagram(b, dim, coeff, cap, float(min_persistence))
    if len(da) == 0 and len(db) == 0:
        return 0.0
    fn = bottleneck if metric == "bottleneck" else wasserstein
    return float(fn(da, db))


def sample_set_distance(
    X: np.ndarray,
    Y: np.ndarray,
    dims: Sequence[int] | int | None = None,
    coeff: int = 2,
    metric: str = "bottleneck",
    *,
    maxdim: int = 2,
    n_landmarks: int | None = None,
    pca_dim: int | None = None,
    seed: int = 0,
    max_scale: float | None = DEFAULT_MAX_SCALE,
    min_persistence: float = 0.0,
) -> dict[int, float]:
    """Diagram distances between two sample sets computed with the same settings.

    Parameters
    ----------
    X, Y : array-like, shapes (n_x, ...) and (n_y, ...) with the same number of features.
    dims : dimensions to compare (default: 0..maxdim).
    coeff, metric, min_persistence : as in :func:`diagram_distance`.
    maxdim, n_landmarks, pca_dim, seed, max_scale : as in :func:`persistent_homology`;
        ``n_landmarks`` is capped at the size of the smaller set.

    Returns
    -------
    dict dim -> float
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}; got {metric!r}")
    maxdim = check_maxdim(maxdim)
    if dims is None:
        dims = tuple(range(maxdim + 1))
    elif isinstance(dims, Integral):
        dims = (int(dims),)
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, Integral) or not 0 <= d <= maxdim:
            raise ValueError(f"dims must hold integers between 0 and maxdim={maxdim}; got {d!r}")
    A, B = as_point_array(X, "X"), as_point_array(Y, "Y")
    if A.shape[1] != B.shape[1]:
        raise ValueError(
            f"X and Y must have the same number of features; got {A.shape[1]} and {B.shape[1]}"
        )
    if n_landmarks is not None:
        n_landmarks = min(_check_positive_int(n_landmarks, "n_landmarks"), len(A), len(B))
    settings = dict(
        maxdim=maxdim,
        coeffs=(coeff,),
        n_landmarks=n_landmarks,
        pca_dim=pca_dim,
        seed=seed,
        max_scale=max_scale,
    )
    ra = persistent_homology(A, **settings)
    rb = persistent_homology(B, **settings)
    return {int(d): diagram_distance(ra, rb, int(d), coeff, metric, min_persistence) for d in dims}
