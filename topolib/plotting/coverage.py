"""Plots of where samples land on the manifold: coverage maps, densities, paths, residuals.

(Persistence diagrams are drawn by ``topolib.plotting.diagrams``.)

All functions draw on the coverage chart of ``topolib.metrics.coverage``: [0, 1)^d, where the
uniform measure of the manifold is the uniform measure of the box. Each takes an optional
``ax`` and returns the Axes it drew on.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import TwoSlopeNorm
from scipy import stats

from topolib.datasets.registry import get_dataset
from topolib.metrics.coverage import Coverage, _periodic
from topolib.metrics.interpolation import PathAudit
from topolib.metrics.projection import OFF_MANIFOLD_THRESHOLD
from topolib.plotting.style import FAILURE_COLOUR

__all__ = [
    "AXIS_LABELS",
    "plot_coverage",
    "plot_density",
    "plot_path_audit",
    "plot_residuals",
]

#: Names of the coverage coordinates, per dataset.
AXIS_LABELS: dict[str, tuple[str, ...]] = {
    "circle": ("theta / 2 pi",),
    "two_circles": ("component / 2 + theta / 4 pi",),
    "torus": ("theta1 / 2 pi", "theta2 / 2 pi"),
    "sphere": ("longitude / 2 pi", "(z + 1) / 2"),
    "projective": ("longitude / 2 pi", "z (upper hemisphere)"),
    "klein": ("theta / pi", "phi / 2 pi"),
    "disk": ("(cx + w) / 2w", "(cy + w) / 2w"),
}


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _labels(name: str, d: int) -> tuple[str, ...]:
    return AXIS_LABELS.get(name, tuple(f"coordinate {i}" for i in range(d)))


def _outline(ax: Axes, mask: np.ndarray) -> None:
    """Outline the union of the True cells of ``mask`` ``(K0, K1)`` (axis 0 across) on [0, 1]^2."""
    k0, k1 = mask.shape
    padded = np.pad(mask, 1)
    segments = []
    for i, j in zip(*np.nonzero(mask), strict=True):
        x0, x1, y0, y1 = i / k0, (i + 1) / k0, j / k1, (j + 1) / k1
        if not padded[i, j + 1]:
            segments.append([(x0, y0), (x0, y1)])
        if not padded[i + 2, j + 1]:
            segments.append([(x1, y0), (x1, y1)])
        if not padded[i + 1, j]:
            segments.append([(x0, y0), (x1, y0)])
        if not padded[i + 1, j + 2]:
            segments.append([(x0, y1), (x1, y1)])
    if segments:
        ax.add_collection(LineCollection(segments, colors="k", linewidths=2.0))


def plot_coverage(coverage: Coverage, ax: Axes | None = None, colorbar: bool = True) -> Axes:
    """Density ratio (count / expected) per cell, holes outlined in black.

    Two-dimensional charts are drawn as a map (axis 0 across, axis 1 up); one-dimensional
    charts as a strip (two strips for two_circles, one per component).
    """
    if not isinstance(coverage, Coverage):
        raise TypeError(f"coverage must be a Coverage; got {type(coverage).__name__}")
    ratio = coverage.counts / coverage.expected
    norm = TwoSlopeNorm(vmin=0.0, vcenter=1.0, vmax=max(2.0, float(ratio.max())))
    labels = _labels(coverage.dataset, coverage.counts.ndim)
    if coverage.counts.ndim == 2:
        ax = _axes(ax, (4.2, 3.6))
        image = ax.imshow(
            ratio.T, origin="lower", extent=(0, 1, 0, 1), cmap="RdBu", norm=norm, aspect="equal"
        )
        _outline(ax, coverage.hole_mask)
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
    else:
        ax = _axes(ax, (6.0, 1.9))
        image = ax.imshow(ratio[None], extent=(0, 1, 0, 1), cmap="RdBu", norm=norm, aspect="auto")
        _outline(ax, coverage.hole_mask[:, None])
        if coverage.component_mass is not None:
            for c, mass in enumerate(coverage.component_mass):
                width = 1 / len(coverage.component_mass)
                ax.axvline(c * width, color="k", lw=1)
                ax.text(  # inside the band: above it the text would run into the title
                    (c + 0.5) * width,
                    0.95,
                    f"component {c}: {mass:.0%}",
                    ha="center",
                    va="top",
                    fontsize=7,
                    transform=ax.transData,
                    bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1},
                )
        ax.set_yticks([])
        ax.set_xlabel(labels[0])
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="samples / expected", shrink=0.85)
    ax.set_title(
        f"coverage {coverage.coverage:.0%} of cells, holes {coverage.hole_fraction:.1%} "
        f"({coverage.n_holes} region{'s' if coverage.n_holes != 1 else ''})",
        fontsize=9,
    )
    return ax


def _band(n: int, cells: int, bins: int) -> tuple[float, float]:
    """95% band of (count / expected) for a bin holding ``bins`` of ``cells`` cells."""
    p = bins / cells
    lo, hi = stats.binom.ppf([0.025, 0.975], n, p)
    return lo / (n * p), hi / (n * p)


def plot_density(coverage: Coverage, ax: Axes | None = None) -> Axes:
    """Density of the samples against the uniform measure (the level 1).

    One-dimensional charts: count / expected along the chart. Two-dimensional charts: the two
    marginals. The grey band is where 95% of uniform samples of the same size would fall.
    """
    if not isinstance(coverage, Coverage):
        raise TypeError(f"coverage must be a Coverage; got {type(coverage).__name__}")
    ax = _axes(ax, (5.0, 2.8))
    counts = coverage.counts
    labels = _labels(coverage.dataset, counts.ndim)
    cells = counts.size
    margins = [counts] if counts.ndim == 1 else [counts.sum(axis=1), counts.sum(axis=0)]
    for axis, margin in enumerate(margins):
        k = len(margin)
        edges = np.arange(k + 1) / k
        ratio = margin / (coverage.n / k)
        ax.stairs(ratio, edges, label=labels[axis], lw=1.3, baseline=None)
        if axis == 0:
            lo, hi = _band(coverage.n, cells, cells // k)
            ax.axhspan(lo, hi, color="0.85", zorder=0, label="95% of uniform samples")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("coverage coordinate")
    ax.set_ylabel("density / uniform")
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(
        f"TV {coverage.tv:.3f} (uniform floor {coverage.tv_uniform:.3f}), "
        f"chi-square p = {coverage.chi2_pvalue:.2g}",
        fontsize=9,
    )
    return ax


def _crosses_edge(a: np.ndarray, b: np.ndarray, periodic: tuple[bool, ...]) -> bool:
    """Whether the short step a -> b wraps round a periodic edge of the chart."""
    return any(p and abs(x - y) > 0.5 for p, x, y in zip(periodic, a, b, strict=True))


def plot_path_audit(audit: PathAudit, ax: Axes | None = None) -> Axes:
    """The recovered parameter path on the coverage chart, jumps and off-manifold frames marked.

    Two-dimensional charts: the path in the box (start: circle, end: square). One-dimensional
    charts: the coordinate against the frame index. Jumps are red dashed segments,
    off-manifold frames red crosses; the title gives the verdict.
    """
    if not isinstance(audit, PathAudit):
        raise TypeError(f"audit must be a PathAudit; got {type(audit).__name__}")
    ds = get_dataset(audit.projection.dataset)
    coords = audit.coords
    periodic = _periodic(ds)
    labels = _labels(ds.name, coords.shape[1])
    if coords.shape[1] == 2:
        ax = _axes(ax, (3.8, 3.6))
        xy = coords
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
    else:
        ax = _axes(ax, (5.0, 2.8))
        xy = np.column_stack([np.arange(len(coords)), coords[:, 0]])
        ax.set_ylim(0, 1)
        ax.set_xlabel("frame")
        ax.set_ylabel(labels[0])
    jump = np.zeros(len(coords) - 1, dtype=bool)
    jump[audit.jumps] = True
    for start in range(len(coords) - 1):
        if jump[start]:
            ax.plot(*xy[start : start + 2].T, ls="--", color=FAILURE_COLOUR, lw=1.5)
        elif not _crosses_edge(coords[start], coords[start + 1], periodic):
            ax.plot(*xy[start : start + 2].T, color="C0", lw=1.5)
    ax.scatter(*xy.T, s=14, color="C0", zorder=3)
    ax.scatter(*xy[0], s=50, marker="o", facecolor="none", edgecolor="k", zorder=4, label="start")
    ax.scatter(*xy[-1], s=50, marker="s", facecolor="none", edgecolor="k", zorder=4, label="end")
    if audit.off_manifold.any():
        ax.scatter(
            *xy[audit.off_manifold].T,
            s=40,
            marker="x",
            color=FAILURE_COLOUR,
            zorder=5,
            label="off manifold",
        )
    verdict = "valid" if audit.valid else "invalid"
    if np.isfinite(audit.length_ratio):
        shape = (f"length/geodesic {audit.length_ratio:.2f}, max jump "
                 f"{audit.jump_ratio:.1f} steps")
    else:  # no geodesic to compare with
        shape = "end points on different components"
    ax.set_title(f"{verdict}: {shape}, off {audit.off_manifold_fraction:.0%}", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    return ax


def plot_residuals(
    distances: np.ndarray, threshold: float = OFF_MANIFOLD_THRESHOLD, ax: Axes | None = None
) -> Axes:
    """Histogram of residual distances to the manifold, with the off-manifold threshold."""
    distances = np.asarray(distances, dtype=float).ravel()
    if distances.size == 0:
        raise ValueError("distances is empty")
    ax = _axes(ax, (4.0, 2.8))
    top = max(float(distances.max()), 2 * threshold)
    bins = np.linspace(0.0, top * 1.02, 40)
    on = distances <= threshold
    ax.hist(distances[on], bins=bins, color="C0", label=f"on ({on.mean():.0%})")
    ax.hist(distances[~on], bins=bins, color=FAILURE_COLOUR, label=f"off ({(~on).mean():.0%})")
    ax.axvline(threshold, color="k", ls="--", lw=1)
    ax.set_xlabel("residual (RMS pixel error)")
    ax.set_ylabel("samples")
    ax.legend(fontsize=7)
    return ax
