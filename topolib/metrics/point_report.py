"""The point-set report card: one call that grades samples against a known point set.

>>> card = point_report_card(samples, "stratified", seed=0)
>>> card.table          # one row per check: check, value, expected, passed, note
>>> card.passed, card.failed_checks
>>> card.to_row()       # flat dict of the main numbers, for a table over models x seeds

The point analogue of :func:`topolib.metrics.report_card`, for the point-cloud twins
(``"circle"``, ``"sphere"``, ``"torus"``) and the stratified set (``"stratified"``). Checks,
in order (``POINT_THRESHOLDS`` holds every pass mark, with its reason):

``off_set``
    Share of samples farther than ``tol`` from the set.
``betti_z2``, ``betti_z3``
    Betti numbers (b0, b1, b2) of the samples, greedy landmarks, equal the set's.
``diagram_distance``
    Largest bottleneck distance over H0-H2 and both fields to an exact reference sample of the
    same size (another seed), in units of the reference's landmark spacing.
``coverage`` (twins) or ``coverage_sphere``, ``coverage_tube``, ``coverage_junctions``
    Share of equal-area cells hit, over what an exact sample of the same size hits.
``stratum_mass`` (stratified)
    The tube's share of the on-set samples against its share of the area.
``local_dimension``
    Median local dimension (local PCA) of the on-set samples away from junctions.

Sizes: the stratified set's chamber between tube and sphere is thin, so its Betti numbers
read (1, 1, 2) only from a dense enough sample (:data:`POINT_SIZES`; landmarks default to
``min(cap, n // 6)``: with too few samples per landmark the landmarks inherit the sample's
gaps and spurious short classes cross the reading scale).
"""

from __future__ import annotations

import html
import time
import warnings
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
import pandas as pd

from topolib.datasets.point_clouds import POINT_CLOUD_BETTI, POINT_CLOUDS
from topolib.metrics.homology import PersistenceResult, diagram_distance, persistent_homology
from topolib.metrics.intervals import Interval, share
from topolib.metrics.point_distance import set_distance, stratified_distance
from topolib.metrics.point_sets import (
    TOL,
    StrataShares,
    StratumCoverage,
    check_dataset,
    check_points,
    check_tol,
    junction_distance,
    local_dimension,
    set_coverage,
    strata_shares,
)
from topolib.metrics.report import ReportCard, Threshold, _fmt, _row
from topolib.profiles import get_profile
from topolib.seeding import check_seed, numpy_rng

__all__ = [
    "JUNCTION_FAR",
    "LANDMARK_CAP",
    "MIN_POINTS",
    "POINT_SIZES",
    "POINT_THRESHOLDS",
    "PointReportCard",
    "default_landmarks",
    "point_report_card",
    "point_sizes",
    "reference_points",
]

#: Fewest samples a point report card accepts.
MIN_POINTS = 50
#: Most landmarks per set; below ``6 * cap`` samples, ``n // 6`` landmarks are used.
LANDMARK_CAP = {"circle": 100, "sphere": 200, "torus": 250, "stratified": 600}
#: Recommended sample sizes ``n`` per profile and set; the landmarks follow from
#: :func:`default_landmarks`. Measured (exact samples, seeds 0-19, both fields): the
#: stratified set reads (1, 1, 2) at every seed with 3000 points / 500 landmarks (stable
#: reading window at worst [2.08, 2.72] spacings; 0.65 s) and 4000 / 600 (worst
#: [2.12, 2.98]; 1.1 s); at 2000 points, 400 landmarks lose the chamber for one seed in eight
#: (it dies at 2.5 spacings) and 600 landmarks gain a spurious loop for one in eight.
POINT_SIZES: dict[str, dict[str, int]] = {
    "fast": {"circle": 1000, "sphere": 2000, "torus": 2000, "stratified": 3000},
    "cpu": {"circle": 1000, "sphere": 2000, "torus": 2000, "stratified": 4000},
    "gpu": {"circle": 1000, "sphere": 2000, "torus": 2000, "stratified": 4000},
}
#: The intrinsic dimension of each set's strata.
INTRINSIC_DIM = {"circle": 1, "sphere": 2, "torus": 2, "stratified": 2}
#: On-set samples farther than this from both junction circles enter the local-dimension check.
JUNCTION_FAR = 0.3

#: Every pass mark of the point report card, with its reason.
POINT_THRESHOLDS: dict[str, Threshold] = {
    "off_set": Threshold(
        0.05,
        "<=",
        "Share of samples farther than tol (0.05) from the set. Exact samples score 0; one "
        "sample in twenty visibly off is tolerated, as on the image card.",
    ),
    "diagram_distance": Threshold(
        0.5,
        "<=",
        "In landmark spacings of the reference. Two exact samples of the same size (other "
        "seed) differ by at most 0.27 spacings (all four sets at POINT_SIZES, seeds 0-9); "
        "removing the tube (its loop and a void) gives 0.83-0.85, half the sphere 0.67.",
    ),
    "coverage": Threshold(
        0.95,
        ">=",
        "Cells hit over the cells an exact sample of the same size hits (5 expected per "
        "equal-area cell: 99.3%). Exact samples score 0.99-1.01.",
    ),
    "coverage_junctions": Threshold(
        0.85,
        ">=",
        "Angle bins of the worse junction circle with a sample of each stratum within tol, "
        "over what an exact sample achieves (6 expected per stratum and bin). Few bins (7-9 "
        "at 3000-4000 samples): one empty bin is tolerated, two are not.",
    ),
    "stratum_mass": Threshold(
        0.05,
        "<=",
        "|tube share of the on-set samples - tube share of the area|, at most 0.05 or 3 "
        "binomial standard errors of an exact sample of that size, whichever is larger.",
    ),
    "local_dimension": Threshold(
        0.0,
        "==",
        "Median local dimension (local PCA, 20 neighbours, 95% of the variance) of the on-set "
        "samples away from the junction circles, minus the strata's dimension.",
    ),
}

_REFERENCE_CACHE: dict[tuple, PersistenceResult] = {}


def point_sizes(profile: str | None = None) -> dict[str, int]:
    """Recommended sample size per set at ``profile`` (default: the active profile)."""
    name = get_profile().name if profile is None else profile
    if name not in POINT_SIZES:
        raise ValueError(f"profile must be one of {tuple(POINT_SIZES)}; got {profile!r}")
    return dict(POINT_SIZES[name])


def default_landmarks(dataset: str, n: int) -> int:
    """Landmarks for ``n`` samples of ``dataset``: ``min(LANDMARK_CAP[dataset], n // 6)``, >= 4."""
    return max(4, min(LANDMARK_CAP[check_dataset(dataset)], n // 6))


@dataclass(frozen=True, eq=False)
class PointReportCard:
    """The graded result of :func:`point_report_card`.

    Attributes
    ----------
    dataset : set name.
    table : tidy DataFrame, one row per check: ``check, value, expected, passed, note``.
    distance : ``(n,)`` distance of each sample to the set.
    off : share of samples farther than ``tol``, with its Wilson interval.
    strata : per-stratum shares (stratified set only, else None).
    coverage : ``{stratum: StratumCoverage}``.
    homology, reference : persistent homology of the samples (None when they hold fewer than
        4 distinct points: a total collapse) and of an exact reference sample.
    diagram_distances : ``{(coeff, dim): bottleneck / reference spacing}``.
    local_dim : ``(n,)`` local dimension of each sample.
    local : summary of the local dimension (median away from junctions; at junctions).
    tol, seed, params : on-set distance, seed and the set's parameters.
    seconds : wall time per stage.
    """

    dataset: str
    table: pd.DataFrame
    distance: np.ndarray
    off: Interval
    strata: StrataShares | None
    coverage: dict[str, StratumCoverage]
    homology: PersistenceResult | None
    reference: PersistenceResult
    diagram_distances: dict[tuple[int, int], float]
    local_dim: np.ndarray
    local: dict[str, float]
    tol: float
    seed: int = 0
    params: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(len(self.distance))

    # The table logic is the image card's: same columns, same verdicts.
    passed = ReportCard.passed
    failed_checks = ReportCard.failed_checks
    check = ReportCard.check

    def to_row(self) -> dict[str, object]:
        """Flat dict of the main numbers (shares with their interval ends), for a table."""
        row: dict[str, object] = {
            "dataset": self.dataset,
            "n": self.n,
            "seed": self.seed,
            "n_landmarks": self.reference.n_landmarks,
            "passed": self.passed,
            "failed": ", ".join(self.failed_checks),
            "off": self.off.value,
            "off_low": self.off.low,
            "off_high": self.off.high,
            "median_distance": float(np.median(self.distance)),
        }
        for p in self.reference.coeffs:
            betti = None if self.homology is None else self.homology.betti[p]
            row[f"betti_z{p}"] = "" if betti is None else ",".join(map(str, betti))
            row[f"betti_z{p}_ok"] = bool(self.check(f"betti_z{p}")["passed"])
        row["betti_window_low"], row["betti_window_high"] = (
            (np.nan, np.nan) if self.homology is None else self.homology.stable_range()
        )
        row["diagram_distance"] = max(self.diagram_distances.values())
        for name, cov in self.coverage.items():
            row[f"coverage_{name}"] = cov.scaled
        if self.strata is not None:
            for key, value in self.strata.to_row().items():
                if key != "off" and not key.startswith("off_"):
                    row[key] = value
        row.update(self.local)
        row["seconds"] = self.seconds.get("total", np.nan)
        return row

    def _repr_html_(self) -> str:
        status = "all checks pass" if self.passed else "fails: " + ", ".join(self.failed_checks)
        colour = "#2ca02c" if self.passed else "#d62728"
        lines = [
            f"Point report card for <code>{html.escape(self.dataset)}</code>, {self.n} "
            f"samples: <b style='color:{colour}'>{html.escape(status)}</b>"
        ]
        if self.strata is not None:  # where the mass went, stratum by stratum
            lines += [html.escape(line) for line in self.strata.summary().splitlines()]
        table = self.table.assign(value=self.table["value"].map(_fmt))
        return "<p>" + "<br>".join(lines) + "</p>" + table.to_html(index=False)

    def __repr__(self) -> str:
        return (
            f"PointReportCard(dataset={self.dataset!r}, n={self.n}, passed={self.passed}, "
            f"failed={self.failed_checks})"
        )


def reference_points(dataset: str, n: int, seed: int = 0, **params: float) -> np.ndarray:
    """The exact reference sample of :func:`point_report_card`: ``(n, D)``.

    Drawn from its own stream, so it differs from ``POINT_CLOUDS[dataset](n, seed)``. At
    :data:`POINT_SIZES` its Betti numbers read right over both fields for seeds 0-19
    (stratified: worst stable window [2.18, 2.73] spacings at 3000 points, [2.11, 2.97] at
    4000).
    """
    rng = numpy_rng(check_seed(seed), f"topolib.point_report.reference.{check_dataset(dataset)}")
    return POINT_CLOUDS[dataset](n, rng, **params)


def _reference(
    dataset: str, n: int, n_landmarks: int, seed: int, reference: object, params: dict
) -> PersistenceResult:
    settings = dict(maxdim=2, coeffs=(2, 3), n_landmarks=n_landmarks, seed=seed)
    if isinstance(reference, PersistenceResult):
        return reference
    if reference is not None:
        return persistent_homology(check_points(reference, dataset, "reference"), **settings)
    key = (dataset, n, n_landmarks, seed, tuple(sorted(params.items())))
    if key not in _REFERENCE_CACHE:
        points = reference_points(dataset, n, seed, **params)
        _REFERENCE_CACHE[key] = persistent_homology(points, **settings)
    return _REFERENCE_CACHE[key]


def _local_summary(
    P: np.ndarray, dims: np.ndarray, near: np.ndarray, dataset: str, tol: float, params: dict
) -> dict[str, float]:
    if dataset == "stratified":
        dj = junction_distance(P, **params)
        far, at = near & (dj > JUNCTION_FAR), near & (dj <= tol)
    else:
        far, at = near, np.zeros(len(P), dtype=bool)
    out = {
        "local_dim_median": float(np.median(dims[far])) if far.any() else np.nan,
        "local_dim_above": float(np.mean(dims[far] > INTRINSIC_DIM[dataset]))
        if far.any()
        else np.nan,
    }
    if dataset == "stratified":
        out["local_dim_junction"] = float(np.mean(dims[at])) if at.any() else np.nan
    return out


def point_report_card(
    samples: object,
    dataset: str,
    seed: int = 0,
    reference: object = None,
    n_landmarks: int | None = None,
    tol: float = TOL,
    k: int = 20,
    **params: float,
) -> PointReportCard:
    """Grade samples against a known point set: distance, coverage, homology, local dimension.

    Parameters
    ----------
    samples : array-like, shape (n, D), ``n >= MIN_POINTS``; D = 2 for the circle, 3 else.
    dataset : ``"circle"``, ``"sphere"``, ``"torus"`` or ``"stratified"``.
    seed : seed of the landmarks and of the exact reference sample.
    reference : exact points ``(n_ref, D)`` or their ``PersistenceResult`` (same landmark
        count); by default ``n`` exact points from another stream (cached in memory).
    n_landmarks : landmarks for persistent homology (default :func:`default_landmarks`).
    tol : on-set distance (default :data:`TOL`).
    k : neighbours of the local dimension estimate.
    params : the set's parameters, passed to the sampler and the distances (``radius``;
        ``R``, ``r``; ``a``).

    Returns
    -------
    PointReportCard
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    dataset = check_dataset(dataset)
    P = check_points(samples, dataset)
    n = len(P)
    if n < MIN_POINTS:
        raise ValueError(f"samples must hold at least {MIN_POINTS} points; got {n}")
    seed = check_seed(seed)
    tol = check_tol(tol)
    if n_landmarks is None:
        n_landmarks = default_landmarks(dataset, n)
    elif isinstance(n_landmarks, bool) or not isinstance(n_landmarks, Integral):
        raise TypeError(f"n_landmarks must be an int or None; got {n_landmarks!r}")
    if not 4 <= n_landmarks <= n:
        raise ValueError(f"n_landmarks must be between 4 and n = {n}; got {n_landmarks}")
    recommended = point_sizes()[dataset]

    t = time.perf_counter()
    if dataset == "stratified":
        distance = stratified_distance(P, **params).distance
        strata = strata_shares(P, tol=tol, **params)
    else:
        distance = set_distance(P, dataset, **params)
        strata = None
    off_flags = distance > tol
    off = share(off_flags)
    coverage = set_coverage(P, dataset, tol, **params)
    timings["distance"] = time.perf_counter() - t

    t = time.perf_counter()
    collapsed = len(np.unique(P, axis=0)) < 4  # H2 needs 4 distinct points
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        homology = (
            None
            if collapsed
            else persistent_homology(P, maxdim=2, coeffs=(2, 3), n_landmarks=n_landmarks, seed=seed)
        )
        timings["homology"] = time.perf_counter() - t
        t = time.perf_counter()
        ref = _reference(dataset, n, n_landmarks, seed, reference, params)
        timings["reference"] = time.perf_counter() - t
    homology_warnings = [str(w.message) for w in caught if w.category is RuntimeWarning]
    t = time.perf_counter()
    distances: dict[tuple[int, int], float] = {}
    for p in (2, 3):
        for d in range(3):
            if d == 0 and p != 2:  # H0 does not depend on the field
                distances[p, d] = distances[2, 0]
                continue
            if homology is None:
                distances[p, d] = float("inf")
                continue
            try:
                b = diagram_distance(homology, ref, dim=d, coeff=p, metric="bottleneck")
            except ValueError as err:
                raise ValueError(
                    f"reference cannot be compared with the samples' homology: {err}; compute "
                    f"it with maxdim=2 and n_landmarks={n_landmarks}, or pass reference points"
                ) from err
            distances[p, d] = b / ref.scale
    timings["diagram_distance"] = time.perf_counter() - t

    t = time.perf_counter()
    dims = local_dimension(P, k=min(k, n))
    local = _local_summary(P, dims, ~off_flags, dataset, tol, params)
    timings["local_dimension"] = time.perf_counter() - t

    rows = [
        _row(
            "off_set",
            off.value,
            str(POINT_THRESHOLDS["off_set"]),
            POINT_THRESHOLDS["off_set"].passes(off.value),
            f"distance > {tol:g}: {off}; median distance {np.median(distance):.3g}",
        )
    ]
    if homology is None:
        note = "fewer than 4 distinct samples: no homology to read"
    else:
        low, high = homology.stable_range()
        note = (
            f"{homology.n_landmarks} landmarks of {n}, read at {homology.reading:g} spacings "
            f"(same answer from {low:.2f} to {high:.2f})"
        )
    if n < recommended:
        note += f"; fewer samples than the {recommended} recommended for this set"
    if homology_warnings:
        note += "; warning: " + homology_warnings[0].split(";")[0]
    for p in (2, 3):
        expected = tuple(POINT_CLOUD_BETTI[dataset][p])
        found = None if homology is None else tuple(homology.betti[p])
        rows.append(_row(f"betti_z{p}", found, expected, found == expected, note))
    worst = max(distances, key=distances.get)
    th = POINT_THRESHOLDS["diagram_distance"]
    rows.append(
        _row(
            "diagram_distance",
            float(distances[worst]),
            str(th),
            th.passes(distances[worst]),
            f"bottleneck / reference spacing, worst at H{worst[1]} over Z/{worst[0]}",
        )
    )
    for name, cov in coverage.items():
        junction = name.startswith("junction")
        if junction and name != "junction_top":
            continue
        if junction:
            pair = [coverage["junction_top"], coverage["junction_bottom"]]
            value = min(c.scaled for c in pair)
            check, th = "coverage_junctions", POINT_THRESHOLDS["coverage_junctions"]
            cnote = "; ".join(
                f"{c.name.split('_')[1]}: {c.hit.sum()} of {c.hit.size} bins" for c in pair
            )
        else:
            value = cov.scaled
            check = "coverage" if dataset != "stratified" else f"coverage_{name}"
            th = POINT_THRESHOLDS["coverage"]
            cnote = (
                f"{cov.coverage:.1%} of {'x'.join(map(str, cov.grid))} cells hit by "
                f"{cov.n_near} samples; exact {cov.expected_coverage:.1%}"
            )
        rows.append(_row(check, float(value), str(th), th.passes(value), cnote))
    if strata is not None:
        p_true = strata.true_tube_mass
        if strata.tube_mass is None:
            gap, allowed, value = 1.0, POINT_THRESHOLDS["stratum_mass"].value, float("nan")
        else:
            value = strata.tube_mass.value
            n_on = strata.tube_mass.n
            allowed = max(
                POINT_THRESHOLDS["stratum_mass"].value, 3.0 * np.sqrt(p_true * (1 - p_true) / n_on)
            )
            gap = abs(value - p_true)
        rows.append(
            _row(
                "stratum_mass",
                value,
                f"{p_true:.3f} +- {allowed:.3f}",
                bool(gap <= allowed),
                f"tube share of the on-set samples: {strata.tube_mass}; area share {p_true:.1%}",
            )
        )
    median = local["local_dim_median"]
    intrinsic = INTRINSIC_DIM[dataset]
    lnote = f"{local['local_dim_above']:.0%} of them read more" if np.isfinite(median) else ""
    if dataset == "stratified" and np.isfinite(local.get("local_dim_junction", np.nan)):
        lnote += f"; mean {local['local_dim_junction']:.2f} within {tol:g} of a junction"
    rows.append(
        _row(
            "local_dimension",
            median,
            f"== {intrinsic}",
            bool(np.isfinite(median) and median == intrinsic),
            f"median over on-set samples{' away from the junctions' if strata else ''}; " + lnote,
        )
    )
    table = pd.DataFrame(rows, columns=["check", "value", "expected", "passed", "note"])
    table["passed"] = table["passed"].astype(bool)
    timings["total"] = time.perf_counter() - start
    return PointReportCard(
        dataset=dataset,
        table=table,
        distance=distance,
        off=off,
        strata=strata,
        coverage=coverage,
        homology=homology,
        reference=ref,
        diagram_distances=distances,
        local_dim=dims,
        local=local,
        tol=tol,
        seed=seed,
        params=dict(params),
        seconds=timings,
    )
