"""Figures for the book. Each function returns its Axes or Figure; none shows it."""

from topolib.plotting.charts import plot_chart_map, plot_samples_by_chart
from topolib.plotting.coverage import plot_coverage, plot_density, plot_path_audit, plot_residuals
from topolib.plotting.diagrams import (
    plot_barcode,
    plot_betti_curve,
    plot_diagram,
    plot_diagrams_by_field,
)
from topolib.plotting.interactive import (
    configure_plotly,
    scatter_3d,
    scatter_3d_grid,
    scatter_latent,
)
from topolib.plotting.interpolation import plot_interpolation
from topolib.plotting.samples import plot_image_grid, plot_walk

__all__ = [
    "configure_plotly",
    "plot_barcode",
    "plot_betti_curve",
    "plot_chart_map",
    "plot_coverage",
    "plot_density",
    "plot_diagram",
    "plot_diagrams_by_field",
    "plot_image_grid",
    "plot_interpolation",
    "plot_path_audit",
    "plot_residuals",
    "plot_samples_by_chart",
    "plot_walk",
    "scatter_3d",
    "scatter_3d_grid",
    "scatter_latent",
]
