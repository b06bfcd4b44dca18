"""Image grids and walks: what samples and paths of samples look like."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from topolib.metrics.projection import as_images
from topolib.plotting.style import FAILURE_COLOUR

__all__ = ["draw_image_mosaic", "plot_image_grid", "plot_walk"]


#: Font size of a figure title drawn by :func:`plot_image_grid` and :func:`plot_walk`.
TITLE_FONTSIZE = 9


def _title_band(title: str | None, width_inches: float) -> tuple[str | None, float]:
    """``title`` wrapped to the figure width, and the height in inches to keep free for it."""
    if title is None:
        return None, 0.0
    # An average character of a sans-serif font is about 0.55 em wide.
    per_line = max(12, int(width_inches * 72 / (0.55 * TITLE_FONTSIZE)))
    lines = textwrap.wrap(title, per_line) or [""]
    line_inches = 1.3 * TITLE_FONTSIZE / 72
    return "\n".join(lines), 0.12 + len(lines) * line_inches


def _show(ax, image: np.ndarray, title: str | None, vmin: float, vmax: float) -> None:
    ax.imshow(image, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title is not None:
        ax.set_title(title, fontsize=8)


def draw_image_mosaic(
    ax: Axes,
    array: np.ndarray,
    nrow: int,
    titles: Sequence[str] | None = None,
    flagged: Sequence[bool] | np.ndarray | None = None,
    vmin: float = 0.0,
    vmax: float = 1.0,
) -> None:
    """Draw ``(n, S, S)`` images as one mosaic on ``ax``, row by row.

    One ``imshow`` for all images (a figure with one Axes per image takes seconds to render
    once there are dozens); tiles are separated by a one-pixel gap, ``titles`` go above their
    tile and ``flagged`` tiles get a red frame.
    """
    n, size = len(array), array.shape[-1]
    ncol = math.ceil(n / nrow)
    step = size + 1
    # Titles need room above every row, so rows are further apart when there are titles.
    top = 0 if titles is None else max(2, size // 3)
    row_step = step + top
    mosaic = np.full((nrow * row_step - 1, ncol * step - 1), np.nan)
    for k in range(n):
        r, c = divmod(k, ncol)
        y = r * row_step + top
        mosaic[y : y + size, c * step : c * step + size] = array[k]
    cmap = plt.get_cmap("gray").with_extremes(bad="white")
    ax.imshow(np.ma.masked_invalid(mosaic), cmap=cmap, vmin=vmin, vmax=vmax,
              interpolation="nearest")
    ax.set_axis_off()
    for k in range(n):
        r, c = divmod(k, ncol)
        y = r * row_step + top
        if titles is not None:
            ax.text(c * step + size / 2, y - 1.0, titles[k], ha="center", va="bottom",
                    fontsize=8)
        if flagged is not None and flagged[k]:
            ax.add_patch(Rectangle((c * step - 0.5, y - 0.5), size, size, fill=False,
                                   edgecolor=FAILURE_COLOUR, linewidth=2.0))


def plot_image_grid(
    images: object,
    nrow: int | None = None,
    titles: Sequence[str] | None = None,
    vmin: float = 0.0,
    vmax: float = 1.0,
    cell_inches: float = 0.9,
    flagged: Sequence[bool] | np.ndarray | None = None,
    title: str | None = None,
) -> Figure:
    """A grid of images, row by row, drawn as one mosaic (:func:`draw_image_mosaic`).

    Parameters
    ----------
    images : ``(n, S, S)`` or ``(n, 1, S, S)``.
    nrow : number of rows (default: about square).
    titles : optional ``n`` short titles.
    vmin, vmax : grey-scale limits (renders lie in [0, 1]).
    cell_inches : size of one image in inches.
    flagged : optional ``n`` booleans; flagged images get a red frame (e.g. off the manifold).
    title : optional figure title, wrapped to the figure's width, in a band of its own above
        the grid (a ``fig.suptitle`` added afterwards would cover the top row).

    Returns
    -------
    matplotlib Figure with one Axes.
    """
    array = as_images(images)
    n = len(array)
    if nrow is None:
        nrow = max(1, round(math.sqrt(n)))
    if isinstance(nrow, bool) or not isinstance(nrow, int) or nrow < 1:
        raise ValueError(f"nrow must be a positive integer; got {nrow!r}")
    if titles is not None and len(titles) != n:
        raise ValueError(f"titles must have one entry per image ({n}); got {len(titles)}")
    if flagged is not None and len(flagged) != n:
        raise ValueError(f"flagged must have one entry per image ({n}); got {len(flagged)}")
    nrow = min(nrow, n)
    ncol = math.ceil(n / nrow)
    extra = 0.25 if titles is not None else 0.0
    height = nrow * (cell_inches + extra)
    width = ncol * cell_inches
    title, band = _title_band(title, width)  # wrapped to the width; inches kept free for it
    fig, ax = plt.subplots(figsize=(width, height + band))
    draw_image_mosaic(ax, array, nrow, titles, flagged, vmin, vmax)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01,
                        top=0.99 - band / (height + band))
    if title is not None:
        fig.suptitle(title, fontsize=TITLE_FONTSIZE, y=1 - 0.05 / (height + band), va="top")
    return fig


def plot_walk(
    images: object,
    titles: Sequence[str] | None = None,
    closed: bool = True,
    vmin: float = 0.0,
    vmax: float = 1.0,
    cell_inches: float = 0.9,
    title: str | None = None,
) -> Figure:
    """A row of images along a path; ``closed`` marks a loop that returns to its start.

    Parameters
    ----------
    images : ``(m, S, S)`` or ``(m, 1, S, S)`` in walking order.
    titles : optional ``m`` captions (e.g. the angle of each frame).
    closed : draw a return arrow under the row (the walk is a loop).
    title : optional figure title, wrapped to the figure's width, in a band of its own above
        the row.

    Returns
    -------
    matplotlib Figure.
    """
    array = as_images(images)
    m = len(array)
    if titles is not None and len(titles) != m:
        raise ValueError(f"titles must have one entry per image ({m}); got {len(titles)}")
    row = cell_inches + (0.25 if titles is not None else 0.0)
    below = 0.3 if closed else 0.02  # inches under the row (for the return arrow)
    title, band = _title_band(title, m * cell_inches)
    height = row + below + band
    fig, axes = plt.subplots(1, m, figsize=(m * cell_inches, height), squeeze=False)
    for k, ax in enumerate(axes[0]):
        _show(ax, array[k], None if titles is None else titles[k], vmin, vmax)
    fig.subplots_adjust(wspace=0.05, bottom=below / height, top=1 - (band + 0.02) / height)
    if title is not None:
        fig.suptitle(title, fontsize=TITLE_FONTSIZE, y=1 - 0.04 / height, va="top")
    if closed and m > 1:
        left = axes[0, -1].get_position()
        right = axes[0, 0].get_position()
        y = 0.17 / height  # the arrow runs 0.17 inches above the bottom edge
        fig.patches.append(
            FancyArrowPatch(
                ((left.x0 + left.x1) / 2, y),
                ((right.x0 + right.x1) / 2, y),
                transform=fig.transFigure,
                arrowstyle="-|>",
                mutation_scale=10,
                connectionstyle="arc3,rad=0.0",
                color="0.4",
            )
        )
        fig.text(0.5, 0.012 / height, "back to the start", ha="center", va="bottom", fontsize=7,
                 color="0.4")
    return fig
