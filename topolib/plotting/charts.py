"""Figures of an atlas: the parameter space painted by chart, and samples grouped by chart."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from topolib.plotting.style import FAILURE_COLOUR

__all__ = ["chart_colours", "plot_chart_map", "plot_samples_by_chart"]


def chart_colours(n_charts: int) -> np.ndarray:
    """``(n_charts, 4)`` RGBA colours, one per chart (tab10, then tab20)."""
    cmap = plt.get_cmap("tab10" if n_charts <= 10 else "tab20")
    return np.array([cmap(i % cmap.N) for i in range(n_charts)])


def plot_chart_map(
    coords: np.ndarray,
    cover: np.ndarray,
    ax: Axes | None = None,
    labels: tuple[str, ...] = ("coordinate 1", "coordinate 2"),
    title: str | None = None,
) -> Axes:
    """Paint the manifold's parameter space by the charts that cover each point.

    Parameters
    ----------
    coords : ``(n, d)`` coverage coordinates in ``[0, 1)`` of true renders (``d`` 1 or 2).
    cover : ``(n, N)`` bool, chart ``a`` reconstructs point ``i`` (``cover_matrix``).
    ax : axes to draw on (default: a new figure).
    labels : axis names.
    title : axes title.

    A point covered by one chart gets its colour; by several, a black ring around the colour
    of its first chart (an overlap); by none, a red cross (uncovered). A one-dimensional
    manifold is drawn as one row per chart over its coordinate.
    """
    coords, cover = np.asarray(coords, dtype=float), np.asarray(cover, dtype=bool)
    if coords.ndim != 2 or coords.shape[1] not in (1, 2) or cover.shape[0] != len(coords):
        raise ValueError(f"coords must be (n, 1) or (n, 2) and cover (n, N); got "
                         f"{coords.shape} and {cover.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.0 if coords.shape[1] == 2 else 2.6))
    colours = chart_colours(cover.shape[1])
    n_cover = cover.sum(1)
    first = np.where(n_cover > 0, cover.argmax(1), -1)
    if coords.shape[1] == 1:
        for a in range(cover.shape[1]):
            sel = cover[:, a]
            if sel.any():
                ax.scatter(coords[sel, 0], np.full(sel.sum(), a), s=6, color=colours[a])
        none = n_cover == 0
        ax.scatter(coords[none, 0], np.full(none.sum(), -1), s=12, marker="x",
                   color=FAILURE_COLOUR, label="uncovered")
        ax.set_yticks(range(-1, cover.shape[1]),
                      ["none"] + [f"chart {a}" for a in range(cover.shape[1])])
        ax.set_xlabel(labels[0])
    else:
        one = n_cover == 1
        many = n_cover > 1
        ax.scatter(coords[one, 0], coords[one, 1], s=8, c=colours[first[one]])
        ax.scatter(coords[many, 0], coords[many, 1], s=14, c=colours[first[many]],
                   edgecolors="black", linewidths=0.6, label="overlap")
        none = n_cover == 0
        ax.scatter(coords[none, 0], coords[none, 1], s=14, marker="x", color=FAILURE_COLOUR,
                   label="uncovered")
        ax.set(xlabel=labels[0], ylabel=labels[1], xlim=(0, 1), ylim=(0, 1))
        ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_samples_by_chart(
    images: np.ndarray, charts: np.ndarray, n_charts: int, per_chart: int = 6,
    title: str | None = None,
) -> Figure:
    """A grid of generated images, one column per chart, framed in the chart's colour.

    Parameters
    ----------
    images : ``(n, S, S)`` images.
    charts : ``(n,)`` chart each image was drawn from.
    n_charts : number of charts N (columns; an empty column is a chart with no samples).
    per_chart : rows.
    """
    images, charts = np.asarray(images), np.asarray(charts)
    if images.ndim != 3 or charts.shape != (len(images),):
        raise ValueError(f"images must be (n, S, S) and charts (n,); got {images.shape} and "
                         f"{charts.shape}")
    used = [a for a in range(n_charts) if (charts == a).any()]
    colours = chart_colours(n_charts)
    fig, axes = plt.subplots(per_chart, max(1, len(used)),
                             figsize=(1.0 * max(1, len(used)) + 0.4, 1.0 * per_chart + 0.4),
                             squeeze=False)
    for col, a in enumerate(used):
        mine = np.flatnonzero(charts == a)[:per_chart]
        for row in range(per_chart):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if row < len(mine):
                ax.imshow(images[mine[row]], cmap="gray", vmin=0, vmax=1)
            for spine in ax.spines.values():
                spine.set_visible(True)
                spine.set_color(colours[a])
                spine.set_linewidth(2.5)
        axes[0, col].set_title(f"chart {a}", fontsize=9, color=colours[a])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
