"""The report card: one call that grades a set of generated samples against the true manifold.

>>> card = report_card(samples, "torus", paths=[path1, path2])
>>> card.table          # one row per check: check, value, expected, passed, note
>>> card.passed, card.failed_checks
>>> card.figure()       # samples, coverage map, persistence diagrams, residuals

Checks, in order (``THRESHOLDS`` holds every number, with its reason):

``betti_z2``, ``betti_z3``
    Betti numbers of the samples (``persistent_homology`` on greedy landmarks, up to the
    manifold's dimension) equal the manifold's, over each field.
``diagram_distance``
    Largest bottleneck distance, over dimensions and fields, between the samples' diagrams
    and those of true renders of the same size and number, in units of the reference's
    landmark spacing.
``off_manifold``
    Share of samples whose residual to the manifold exceeds ``OFF_MANIFOLD_THRESHOLD``.
``coverage``, ``holes``, ``density``
    On the samples that are on the manifold: the share of coverage cells hit, the share of the
    manifold inside significant holes, and the total variation distance to the uniform measure
    beyond its sampling floor (``topolib.metrics.coverage``).
``interpolation``
    Share of the given paths that ``audit_path`` calls valid (only when paths are given).
"""

from __future__ import annotations

import html
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from topolib.datasets.base import ImageManifold
from topolib.datasets.registry import get_dataset
from topolib.metrics.coverage import MIN_ON_MANIFOLD, Coverage, on_manifold_coverage
from topolib.metrics.homology import PersistenceResult, check_maxdim, persistent_homology
from topolib.metrics.interpolation import PathAudit, audit_path
from topolib.metrics.projection import (
    OFF_MANIFOLD_THRESHOLD,
    Projection,
    as_images,
    off_manifold_rate,
    project,
)
from topolib.profiles import get_profile
from topolib.seeding import check_seed, numpy_rng

__all__ = ["CHECKS", "THRESHOLDS", "ReportCard", "Threshold", "report_card"]


@dataclass(frozen=True)
class Threshold:
    """A pass mark: ``value`` compared with ``op`` (``"<="``, ``">="`` or ``"=="``)."""

    value: float
    op: str
    reason: str

    def passes(self, x: float) -> bool:
        """Whether the measured ``x`` passes."""
        if self.op == "<=":
            return bool(x <= self.value)
        if self.op == ">=":
            return bool(x >= self.value)
        return bool(x == self.value)

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


#: Every pass mark of the report card, with its reason.
THRESHOLDS: dict[str, Threshold] = {
    "diagram_distance": Threshold(
        1.0,
        "<=",
        "In landmark spacings of the reference. Two independent uniform samples of the same "
        "size differ by 0.1-0.35 spacings (circle, two circles, sphere; 250 landmarks); "
        "losing or gaining a real feature moves the distance by half that feature's "
        "persistence, several spacings (a torn circle: 10, a bridge: 3).",
    ),
    "off_manifold": Threshold(
        0.05,
        "<=",
        "Share of samples with residual above OFF_MANIFOLD_THRESHOLD (0.05 RMS). True renders "
        "score 0; a model may leave one sample in twenty visibly off before we call it a "
        "failure to generate on the manifold.",
    ),
    "coverage": Threshold(
        0.95,
        ">=",
        "Share of coverage cells hit. Uniform samples, 5 expected per cell, hit 1 - e^-5 = "
        "99.3% of cells (>= 98% in 20 seeds at n = 2,000); missing 5% means part of the "
        "manifold is not generated.",
    ),
    "holes": Threshold(
        0.0,
        "==",
        "Share of the manifold inside significant holes (binomial region test, false-alarm "
        "rate below 1% for uniform samples): any hole is a failure.",
    ),
    "density": Threshold(
        0.1,
        "<=",
        "Total variation to the uniform measure minus its sampling floor (the TV a uniform "
        "sample of the same size has; excess <= 0.015 in 20 seeds): at most a tenth of the "
        "mass misplaced.",
    ),
    "interpolation": Threshold(
        0.9,
        ">=",
        "Share of interpolation paths that audit_path calls valid (on the manifold, no longer "
        "than 1.5 geodesics, no jump); one bad path in ten is tolerated.",
    ),
}

#: The checks in table order (``interpolation`` only when paths are given).
CHECKS: tuple[str, ...] = (
    "betti_z2",
    "betti_z3",
    "diagram_distance",
    "off_manifold",
    "coverage",
    "holes",
    "density",
    "interpolation",
)

_REFERENCE_CACHE: dict[tuple, PersistenceResult] = {}


@dataclass(frozen=True, eq=False)
class ReportCard:
    """The graded result of ``report_card``.

    Attributes
    ----------
    dataset : dataset name.
    table : tidy DataFrame, one row per check: ``check, value, expected, passed, note``.
    projection : projection of every sample.
    coverage : coverage of the on-manifold samples.
    homology : persistent homology of the samples.
    reference : persistent homology of true renders (same size and number).
    diagram_distances : ``{(coeff, dim): bottleneck / reference spacing}``.
    audits : one ``PathAudit`` per given path.
    preview : up to 16 sample images for the figure.
    seconds : wall time per stage.
    """

    dataset: str
    table: pd.DataFrame
    projection: Projection
    coverage: Coverage
    homology: PersistenceResult
    reference: PersistenceResult
    diagram_distances: dict[tuple[int, int], float]
    audits: tuple[PathAudit, ...]
    preview: np.ndarray
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return bool(self.table["passed"].all())

    @property
    def failed_checks(self) -> tuple[str, ...]:
        """Names of the checks that failed, in table order."""
        return tuple(self.table.loc[~self.table["passed"], "check"])

    def check(self, name: str) -> pd.Series:
        """The table row of check ``name``."""
        rows = self.table[self.table["check"] == name]
        if rows.empty:
            raise KeyError(f"no check named {name!r}; have {tuple(self.table['check'])}")
        return rows.iloc[0]

    def figure(self, title: str | None = None) -> Figure:
        """Samples, coverage map with holes, persistence diagrams per field, residuals.

        ``title`` (e.g. the model and its latent dimension) replaces the dataset name in the
        figure's title; the verdict follows it.
        """
        from topolib.plotting.coverage import plot_coverage, plot_residuals
        from topolib.plotting.diagrams import plot_diagram
        from topolib.plotting.samples import draw_image_mosaic

        fig = plt.figure(figsize=(12.0, 6.6))
        outer = fig.add_gridspec(2, 3, hspace=0.45, wspace=0.35)
        ax = fig.add_subplot(outer[0, 0])
        draw_image_mosaic(ax, self.preview, nrow=4)
        ax.set_title("samples", fontsize=9, loc="left")
        plot_coverage(self.coverage, ax=fig.add_subplot(outer[0, 1]))
        plot_residuals(
            self.projection.distance, OFF_MANIFOLD_THRESHOLD, fig.add_subplot(outer[0, 2])
        )
        for col, coeff in enumerate(self.homology.coeffs[:2]):
            plot_diagram(self.homology, coeff, ax=fig.add_subplot(outer[1, col]))
        ax = fig.add_subplot(outer[1, 2])
        ax.set_axis_off()
        lines = [
            f"{'PASS' if row.passed else 'FAIL'}  {row.check}: {_fmt(row.value)} ({row.expected})"
            for row in self.table.itertuples()
        ]
        ax.text(0, 1, "\n".join(lines), va="top", family="monospace", fontsize=8)
        verdict = "passes" if self.passed else f"fails {', '.join(self.failed_checks)}"
        name = self.dataset if title is None else title
        fig.suptitle(f"Report card: {name}, {len(self.projection)} samples, {verdict}")
        return fig

    def _repr_html_(self) -> str:
        verdict = (
            "<b style='color:#2ca02c'>all checks pass</b>"
            if self.passed
            else f"<b style='color:#d62728'>fails: {html.escape(', '.join(self.failed_checks))}</b>"
        )
        shown = self.table.assign(value=self.table["value"].map(_fmt))
        return (
            f"<p>Report card for <code>{html.escape(self.dataset)}</code>, "
            f"{len(self.projection)} samples: {verdict}</p>" + shown.to_html(index=False)
        )

    def __repr__(self) -> str:
        return (
            f"ReportCard(dataset={self.dataset!r}, n={len(self.projection)}, "
            f"passed={self.passed}, failed={self.failed_checks})"
        )


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _diagram_distance(a: PersistenceResult, b: PersistenceResult, dim: int, coeff: int) -> float:
    from topolib.metrics.homology import diagram_distance

    try:
        return float(diagram_distance(a, b, dim=dim, coeff=coeff, metric="bottleneck"))
    except ValueError as err:
        raise ValueError(
            f"reference cannot be compared with the samples' homology: {err}; compute it with "
            "the same maxdim and n_landmarks, or pass reference images"
        ) from err


def _reference(
    ds: ImageManifold,
    n: int,
    size: int,
    maxdim: int,
    n_landmarks: int,
    seed: int,
    reference: object,
) -> PersistenceResult:
    if isinstance(reference, PersistenceResult):
        return reference
    if reference is not None:
        return persistent_homology(
            reference, maxdim=maxdim, coeffs=(2, 3), n_landmarks=n_landmarks, seed=seed
        )
    key = (type(ds), ds.name, n, size, maxdim, n_landmarks, seed)
    if key not in _REFERENCE_CACHE:
        images, _ = ds.sample(n, numpy_rng(seed, f"topolib.report.reference.{ds.name}"), size)
        _REFERENCE_CACHE[key] = persistent_homology(
            images, maxdim=maxdim, coeffs=(2, 3), n_landmarks=n_landmarks, seed=seed
        )
    return _REFERENCE_CACHE[key]


def _row(check: str, value: object, expected: object, passed: bool, note: str) -> dict:
    return {"check": check, "value": value, "expected": expected, "passed": passed, "note": note}


def report_card(
    samples: object,
    dataset: str | ImageManifold,
    paths: Sequence[object] | None = None,
    seed: int = 0,
    n_landmarks: int | None = None,
    reference: object = None,
    maxdim: int | None = None,
    path_endpoints: np.ndarray | None = None,
) -> ReportCard:
    """Grade generated samples (and interpolation paths) against the known manifold.

    Parameters
    ----------
    samples : ``(n, S, S)`` or ``(n, 1, S, S)`` images, ``n >= 10``.
    dataset : name or ``ImageManifold``.
    paths : optional sequence of paths, each ``(m, S, S)`` images, for the interpolation check.
    seed : seed of the landmarks and of the generated reference.
    n_landmarks : landmarks for persistent homology (default: the active profile's, at most
        ``n``).
    reference : true renders ``(n_ref, S, S)`` or their ``PersistenceResult``; by default ``n``
        uniform renders of the same size are generated (and cached in memory).
    maxdim : highest homology dimension (default: the manifold's dimension; homology above
        it is zero for the true manifold).
    path_endpoints : optional ``(n_paths, 2, param_dim)`` true parameters of the images each
        path was asked to join; each path is then judged against their geodesic (default:
        the recovered first and last images of the path).

    Returns
    -------
    ReportCard
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    ds = get_dataset(dataset)
    images = as_images(samples, name="samples")
    n, size = len(images), images.shape[1]
    seed = check_seed(seed)
    if n < 10:
        raise ValueError(f"samples must hold at least 10 images for a report card; got {n}")
    if n_landmarks is None:
        n_landmarks = min(get_profile().n_landmarks, n)
    maxdim = max(1, ds.intrinsic_dim) if maxdim is None else check_maxdim(maxdim)
    path_list = [] if paths is None else list(paths)
    if paths is not None and not path_list:
        raise ValueError("paths is empty; pass None to skip the interpolation check")
    path_arrays = [as_images(p, name=f"paths[{i}]", size=size) for i, p in enumerate(path_list)]
    endpoints: list[np.ndarray | None] = [None] * len(path_arrays)
    if path_endpoints is not None:
        ends = np.asarray(path_endpoints, dtype=float)
        if not path_arrays or ends.shape != (len(path_arrays), 2, ds.param_dim):
            raise ValueError(
                f"path_endpoints must have shape (n_paths, 2, {ds.param_dim}) with one entry "
                f"per path ({len(path_arrays)}); got {ends.shape}"
            )
        endpoints = list(ends)
    if reference is not None and not isinstance(reference, PersistenceResult):
        reference = as_images(reference, name="reference", size=size)
        if len(reference) < n_landmarks:
            raise ValueError(
                f"reference must hold at least n_landmarks = {n_landmarks} images; got "
                f"{len(reference)}"
            )
    timings["checks"] = time.perf_counter() - start

    t = time.perf_counter()
    projection = project(images, ds)
    off = projection.off_manifold()
    coverage = on_manifold_coverage(projection)
    timings["projection"] = time.perf_counter() - t

    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        homology = persistent_homology(
            images, maxdim=maxdim, coeffs=(2, 3), n_landmarks=n_landmarks, seed=seed
        )
    homology_warnings = [str(w.message) for w in caught if w.category is RuntimeWarning]
    timings["homology"] = time.perf_counter() - t
    t = time.perf_counter()
    ref = _reference(ds, n, size, maxdim, n_landmarks, seed, reference)
    timings["reference"] = time.perf_counter() - t
    t = time.perf_counter()
    distances: dict[tuple[int, int], float] = {}
    for p in (2, 3):
        for d in range(min(homology.maxdim, ref.maxdim) + 1):
            if d == 0 and p != 2:  # H0 does not depend on the field: reuse the Z/2 distance
                distances[p, d] = distances[2, 0]
            else:
                distances[p, d] = _diagram_distance(homology, ref, d, p) / ref.scale
    timings["diagram_distance"] = time.perf_counter() - t

    t = time.perf_counter()
    audits = tuple(
        audit_path(p, ds, endpoints_params=e) for p, e in zip(path_arrays, endpoints, strict=True)
    )
    timings["interpolation"] = time.perf_counter() - t

    rows = []
    betti_note = f"{homology.n_landmarks} landmarks, read at {homology.reading:g} spacings"
    if homology_warnings:
        betti_note += "; warning: " + homology_warnings[0].split(";")[0]
    for p in (2, 3):
        found = tuple(homology.betti[p])
        expected = tuple(ds.betti[p][: maxdim + 1])
        rows.append(
            _row(
                f"betti_z{p}",
                found,
                expected,
                found == expected,
                betti_note,
            )
        )
    worst = max(distances, key=distances.get)
    rows.append(
        _row(
            "diagram_distance",
            float(distances[worst]),
            str(THRESHOLDS["diagram_distance"]),
            THRESHOLDS["diagram_distance"].passes(distances[worst]),
            f"bottleneck / reference spacing, worst at H{worst[1]} over Z/{worst[0]}",
        )
    )
    rate = off_manifold_rate(projection)
    rows.append(
        _row(
            "off_manifold",
            rate,
            str(THRESHOLDS["off_manifold"]),
            THRESHOLDS["off_manifold"].passes(rate),
            f"residual > {OFF_MANIFOLD_THRESHOLD:g} RMS; median residual "
            f"{np.median(projection.distance):.3g}",
        )
    )
    basis = (
        f"{coverage.n} on-manifold samples" if coverage.n == int((~off).sum())
        else f"all {n} samples (< {MIN_ON_MANIFOLD} on)"
    ) + f", {'x'.join(map(str, coverage.grid))} cells"
    for check, value, note in (
        ("coverage", coverage.coverage, basis),
        ("holes", coverage.hole_fraction, f"{coverage.n_holes} hole region(s)"),
        (
            "density",
            coverage.tv_excess,
            f"TV {coverage.tv:.3f} - floor {coverage.tv_uniform:.3f}; chi-square p = "
            f"{coverage.chi2_pvalue:.2g}"
            + (
                ""
                if coverage.component_mass is None
                else "; component mass " + ", ".join(f"{m:.2f}" for m in coverage.component_mass)
            ),
        ),
    ):
        rows.append(
            _row(check, float(value), str(THRESHOLDS[check]), THRESHOLDS[check].passes(value), note)
        )
    if audits:
        rate = float(np.mean([a.valid for a in audits]))
        rows.append(
            _row(
                "interpolation",
                rate,
                str(THRESHOLDS["interpolation"]),
                THRESHOLDS["interpolation"].passes(rate),
                f"{sum(a.valid for a in audits)} of {len(audits)} paths valid",
            )
        )
    table = pd.DataFrame(rows, columns=["check", "value", "expected", "passed", "note"])
    table["passed"] = table["passed"].astype(bool)
    timings["total"] = time.perf_counter() - start
    return ReportCard(
        dataset=ds.name,
        table=table,
        projection=projection,
        coverage=coverage,
        homology=homology,
        reference=ref,
        diagram_distances=distances,
        audits=audits,
        preview=images[:16],
        seconds=timings,
    )
