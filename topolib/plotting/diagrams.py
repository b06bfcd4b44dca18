"""Persistence diagrams and barcodes of a :class:`~topolib.metrics.PersistenceResult`.

Every function draws into ``ax`` (or a new figure) and returns it; none calls ``plt.show()``.
The region that the Betti rule counts (bars alive at the reading scale ``t*`` and longer than
the persistence floor) is shaded, so a reader can check each Betti number by eye.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from topolib.metrics.homology import PersistenceResult

__all__ = ["DIM_COLORS", "plot_barcode", "plot_betti_curve", "plot_diagram",
           "plot_diagrams_by_field"]

#: One colour per homology dimension (colour-blind safe: Okabe-Ito).
DIM_COLORS = ("#0072B2", "#D55E00", "#009E73")
_RULE_COLOR = "#E69F00"


def _check_result(result: object) -> PersistenceResult:
    from topolib.metrics.homology import PersistenceResult

    if not isinstance(result, PersistenceResult):
        raise TypeError(f"result must be a PersistenceResult; got {type(result).__name__}")
    return result


def _dims(result: PersistenceResult, dims: Sequence[int] | None) -> list[int]:
    if dims is None:
        return list(range(result.maxdim + 1))
    dims = [int(d) for d in dims]
    for d in dims:
        if not 0 <= d <= result.maxdim:
            raise ValueError(f"dims must lie between 0 and {result.maxdim}; got {d}")
    return dims


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _field(coeff: int) -> str:
    return f"$\\mathbb{{Z}}/{coeff}$"


def plot_diagram(
    result: PersistenceResult,
    coeff: int = 2,
    ax: Axes | None = None,
    dims: Sequence[int] | None = None,
    show_rule: bool = True,
) -> Axes:
    """Persistence diagram (birth vs death) over Z/``coeff``, one colour per dimension.

    Bars still alive at the end of the computed filtration are drawn on a dashed line at
    ``result.death_cap`` marked "inf". With ``show_rule`` the region counted by the Betti rule
    (``birth <= t* < death`` and ``death - birth > floor``) is shaded.

    Parameters
    ----------
    result : PersistenceResult
    coeff : field Z/coeff, one of ``result.coeffs``.
    ax : matplotlib Axes or None (a new 4.5 x 4.5 inch figure).
    dims : dimensions to draw (default all).
    show_rule : shade the counted region and mark the reading scale.

    Returns
    -------
    matplotlib.axes.Axes
    """
    result = _check_result(result)
    result._check_field(coeff, 0)
    dims = _dims(result, dims)
    ax = _new_axes(ax, (4.5, 4.5))
    cap = result.death_cap
    top = cap * 1.04
    t, floor = result.reading_scale, result.persistence_floor
    if show_rule:
        # Counted region: birth in [0, t], death in (max(t, birth + floor), inf).
        xs = [0.0, 0.0, t, t, max(t - floor, 0.0)]
        ys = [max(t, floor), top, top, t + floor, t]
        ax.fill(
            xs,
            ys,
            color=_RULE_COLOR,
            alpha=0.18,
            lw=0,
            zorder=0,
            label=f"counted (alive at {result.reading:g} eps)",
        )
        ax.axvline(t, color=_RULE_COLOR, lw=0.8, ls=":", zorder=0)
        ax.axhline(t, color=_RULE_COLOR, lw=0.8, ls=":", zorder=0)
    ax.plot([0, top], [0, top], color="0.5", lw=0.8, zorder=1)
    ax.axhline(cap, color="0.5", lw=0.8, ls="--", zorder=1)
    ax.text(0.01 * top, cap, " inf", va="bottom", ha="left", fontsize=8, color="0.35")
    for d in dims:
        dg = result.diagram(d, coeff, finite=True)
        ax.scatter(
            dg[:, 0],
            dg[:, 1],
            s=14,
            color=DIM_COLORS[d],
            alpha=0.8,
            lw=0,
            zorder=2,
            label=f"$H_{d}$: {result.betti[coeff][d]}",
        )
    ax.set_xlim(-0.02 * top, top)
    ax.set_ylim(-0.02 * top, top * 1.03)
    ax.set_aspect("equal")
    ax.set_xlabel("birth")
    ax.set_ylabel("death")
    ax.set_title(f"Persistence over {_field(coeff)}: Betti {result.betti[coeff]}", fontsize=10)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    return ax


def plot_barcode(
    result: PersistenceResult,
    coeff: int = 2,
    ax: Axes | None = None,
    dims: Sequence[int] | None = None,
    max_bars: int = 30,
    show_rule: bool = True,
) -> Axes:
    """Barcode over Z/``coeff``: the ``max_bars`` longest bars of each dimension.

    Bars counted by the Betti rule are drawn solid, others faded; the reading scale is a
    vertical line. Infinite bars end in an arrow at ``result.death_cap``.

    Parameters
    ----------
    result : PersistenceResult
    coeff : field Z/coeff, one of ``result.coeffs``.
    ax : matplotlib Axes or None (a new figure).
    dims : dimensions to draw (default all).
    max_bars : longest bars shown per dimension (the count of hidden ones is in the label).
    show_rule : draw the reading scale.

    Returns
    -------
    matplotlib.axes.Axes
    """
    result = _check_result(result)
    result._check_field(coeff, 0)
    dims = _dims(result, dims)
    if isinstance(max_bars, bool) or not isinstance(max_bars, (int, np.integer)) or max_bars < 1:
        raise ValueError(f"max_bars must be a positive integer; got {max_bars!r}")
    ax = _new_axes(ax, (6.0, 4.0))
    cap = result.death_cap
    t, floor = result.reading_scale, result.persistence_floor
    row = 0
    ticks, labels = [], []
    for d in dims:
        raw = result.diagram(d, coeff)
        dg = result.diagram(d, coeff, finite=True)
        order = np.argsort(-(dg[:, 1] - dg[:, 0]), kind="stable")[:max_bars]
        hidden = len(dg) - len(order)
        start = row
        for i in order[::-1]:
            b, e = dg[i]
            counted = b <= t < raw[i, 1] and raw[i, 1] - b > floor
            ax.hlines(
                row,
                b,
                e,
                color=DIM_COLORS[d],
                lw=2.2 if counted else 1.2,
                alpha=1.0 if counted else 0.35,
            )
            if not np.isfinite(raw[i, 1]):
                ax.annotate(
                    "",
                    xy=(cap * 1.03, row),
                    xytext=(cap, row),
                    arrowprops={"arrowstyle": "->", "color": DIM_COLORS[d], "lw": 1.2},
                )
            row += 1
        ticks.append((start + row - 1) / 2 if row > start else start)
        extra = f"\n+{hidden} shorter" if hidden else ""
        labels.append(f"$H_{d}$: {result.betti[coeff][d]}{extra}")
        row += 2
    if show_rule:
        ax.axvline(
            t, color=_RULE_COLOR, lw=1.2, ls="--", label=f"reading scale {result.reading:g} eps"
        )
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_xlim(0, cap * 1.06)
    ax.set_ylim(-1.5, max(row - 0.5, 1))
    ax.set_xlabel("scale")
    ax.set_title(f"Barcode over {_field(coeff)}", fontsize=10)
    return ax


def plot_diagrams_by_field(
    result: PersistenceResult,
    coeffs: Sequence[int] | None = None,
    dims: Sequence[int] | None = None,
) -> Figure:
    """The persistence diagrams of each field side by side (default Z/2 and Z/3).

    Parameters
    ----------
    result : PersistenceResult
    coeffs : fields to show (default ``result.coeffs``).
    dims : dimensions to draw (default all).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    result = _check_result(result)
    coeffs = list(result.coeffs if coeffs is None else coeffs)
    for p in coeffs:
        result._check_field(p, 0)
    fig, axes = plt.subplots(
        1,
        len(coeffs),
        figsize=(4.3 * len(coeffs), 4.4),
        layout="constrained",
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    for ax, p in zip(axes[0], coeffs, strict=True):
        plot_diagram(result, p, ax=ax, dims=dims)
    fig.suptitle(
        f"{result.n_points} points, {result.n_landmarks} landmarks "
        f"(spacing eps = {result.scale:.3g})",
        fontsize=10,
    )
    return fig


def plot_betti_curve(
    result: PersistenceResult,
    dim: int,
    coeff: int = 2,
    ax: Axes | None = None,
    max_scale: float | None = None,
    **line_kwargs: object,
) -> Axes:
    """The number of ``dim``-bars the Betti rule counts at each reading scale.

    The x axis is in landmark spacings ``eps``; the rule reads the curve at the dotted line
    (``READING_SCALE``). A curve flat around that line is a robust reading; a step close to it
    means the Betti number would change with a slightly different scale.

    Parameters
    ----------
    result : persistent homology of a sample set.
    dim, coeff : homology dimension and field.
    ax : axes to draw into (default: a new figure).
    max_scale : right end of the x axis, in spacings (default: the diagram's death cap).
    **line_kwargs : passed to ``ax.step`` (e.g. ``label``, ``linestyle``).
    """
    from topolib.metrics.betti import betti_curve

    result = _check_result(result)
    _dims(result, [dim])
    right = result.death_cap / result.scale if max_scale is None else float(max_scale)
    scales = np.linspace(0.0, right, 400)
    counts = betti_curve(result.diagram(dim, coeff), result.scale, scales,
                         min_persistence=result.min_persistence)
    ax = _new_axes(ax, (5.0, 2.6))
    ax.step(scales, counts, where="post", **line_kwargs)
    ax.axvline(result.reading, color=_RULE_COLOR, linestyle=":", linewidth=1.2)
    ax.set(xlabel="reading scale (landmark spacings)", ylabel=f"$b_{dim}$ over {_field(coeff)}")
    return ax
