"""One interpolation at a glance: the true geodesic, the model's path, and its audit."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from topolib.datasets.registry import get_dataset
from topolib.metrics.interpolation import PathAudit, geodesic_path_images
from topolib.metrics.projection import as_images
from topolib.plotting.coverage import plot_path_audit
from topolib.plotting.samples import draw_image_mosaic

__all__ = ["plot_interpolation"]


def plot_interpolation(
    path: object,
    audit: PathAudit,
    endpoints: np.ndarray,
    title: str | None = None,
    cell_inches: float = 0.75,
) -> Figure:
    """The model's path between two real images next to the ideal one, with its audit.

    Top row: renders along the true geodesic between the end points (left out when they lie
    on different components, where no path exists). Bottom row: the model's path, frames off
    the manifold framed in red. Right: :func:`plot_path_audit` of the path.

    Parameters
    ----------
    path : ``(m, S, S)`` or ``(m, 1, S, S)`` the model's frames.
    audit : the :class:`~topolib.metrics.PathAudit` of ``path``.
    endpoints : ``(2, param_dim)`` true parameters of the two real images.
    title : figure title; default: the audit's verdict with its failure labels.

    Returns
    -------
    matplotlib Figure.
    """
    if not isinstance(audit, PathAudit):
        raise TypeError(f"audit must be a PathAudit; got {type(audit).__name__}")
    frames = as_images(path)
    m, size = len(frames), frames.shape[-1]
    if len(audit.off_manifold) != m:
        raise ValueError(f"path has {m} frames but audit graded {len(audit.off_manifold)}")
    ds = get_dataset(audit.projection.dataset)
    endpoints = np.asarray(endpoints, dtype=float)
    if endpoints.shape != (2, ds.param_dim):
        raise ValueError(
            f"endpoints must have shape (2, {ds.param_dim}) for {ds.name}; got {endpoints.shape}"
        )
    try:
        truth = geodesic_path_images(ds, endpoints[0], endpoints[1], m, size)
    except ValueError:  # different components: no path on the manifold
        truth = None
    rows = frames if truth is None else np.concatenate([truth, frames])
    flagged = audit.off_manifold if truth is None else np.concatenate(
        [np.zeros(m, dtype=bool), audit.off_manifold])
    nrow = 1 if truth is None else 2
    width = m * cell_inches
    fig = plt.figure(figsize=(width + 4.8, 3.6))
    grid = fig.add_gridspec(1, 2, width_ratios=[width, 3.4], wspace=0.12,
                            left=0.02, right=0.95, top=0.8, bottom=0.17)
    images_ax, audit_ax = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
    draw_image_mosaic(images_ax, rows, nrow, flagged=flagged)
    images_ax.set_title("geodesic (top), model (bottom)" if truth is not None
                        else "model (end points on different components)", fontsize=8)
    plot_path_audit(audit, ax=audit_ax)
    audit_ax.title.set_fontsize(8)
    verdict = "valid" if audit.valid else "invalid: " + ", ".join(audit.failures)
    fig.suptitle(title if title is not None else verdict, fontsize=9)
    return fig
