"""Measuring topology and failure: persistent homology, projection onto the known manifold,
coverage, interpolation audits and the report card that combines them."""

from topolib.metrics.betti import (
    MIN_PERSISTENCE,
    READING_SCALE,
    betti_curve,
    betti_from_diagram,
    landmark_spacing,
    stable_range,
)
from topolib.metrics.charts import (
    chart_shares,
    cover_matrix,
    cycle_residuals,
    nerve,
    nerve_betti,
    overlap_graph_betti,
    overlaps,
)
from topolib.metrics.coverage import Coverage, HoleRegion, coverage_map, on_manifold_coverage
from topolib.metrics.homology import (
    DEFAULT_MAX_SCALE,
    BootstrapResult,
    PersistenceResult,
    bootstrap_betti,
    diagram_distance,
    persistent_homology,
    sample_set_distance,
)
from topolib.metrics.interpolation import (
    PathAudit,
    audit_path,
    geodesic_path_images,
    linear_pixel_path,
)
from topolib.metrics.intervals import Interval, across_seeds, share, wilson_interval
from topolib.metrics.landmarks import LandmarkResult, farthest_point_sampling, pca_project
from topolib.metrics.point_distance import StratifiedDistance, set_distance, stratified_distance
from topolib.metrics.point_report import (
    POINT_SIZES,
    POINT_THRESHOLDS,
    PointReportCard,
    point_report_card,
    point_sizes,
    reference_points,
)
from topolib.metrics.point_sets import (
    StrataShares,
    StratumCoverage,
    local_dimension,
    off_set_share,
    set_coverage,
    strata_shares,
)
from topolib.metrics.projection import (
    OFF_MANIFOLD_THRESHOLD,
    Projection,
    off_manifold_rate,
    project,
)
from topolib.metrics.report import THRESHOLDS, ReportCard, report_card

__all__ = [
    "DEFAULT_MAX_SCALE",
    "MIN_PERSISTENCE",
    "OFF_MANIFOLD_THRESHOLD",
    "READING_SCALE",
    "THRESHOLDS",
    "BootstrapResult",
    "Coverage",
    "HoleRegion",
    "Interval",
    "LandmarkResult",
    "PathAudit",
    "PersistenceResult",
    "Projection",
    "ReportCard",
    "across_seeds",
    "audit_path",
    "betti_curve",
    "betti_from_diagram",
    "chart_shares",
    "cover_matrix",
    "cycle_residuals",
    "bootstrap_betti",
    "coverage_map",
    "on_manifold_coverage",
    "diagram_distance",
    "farthest_point_sampling",
    "geodesic_path_images",
    "landmark_spacing",
    "linear_pixel_path",
    "nerve",
    "nerve_betti",
    "off_manifold_rate",
    "share",
    "wilson_interval",
    "overlap_graph_betti",
    "overlaps",
    "pca_project",
    "persistent_homology",
    "project",
    "report_card",
    "sample_set_distance",
    "stable_range",
    "wilson_interval",
    "POINT_SIZES",
    "POINT_THRESHOLDS",
    "PointReportCard",
    "StrataShares",
    "StratifiedDistance",
    "StratumCoverage",
    "local_dimension",
    "off_set_share",
    "point_report_card",
    "point_sizes",
    "reference_points",
    "set_coverage",
    "set_distance",
    "strata_shares",
    "stratified_distance",
]
