"""Atlas diagnostics: shares, cover, overlaps and their pieces, the nerve's homology, cycles."""

from __future__ import annotations

import numpy as np
import pytest

from topolib.metrics.charts import (
    boundary_cells,
    chart_shares,
    cover_matrix,
    cycle_residuals,
    nerve,
    nerve_betti,
    overlap_graph_betti,
    overlaps,
)


def arcs_cover(n: int = 400, width: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Angles on the circle and a cover by two arcs that overlap in two pieces."""
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    a = (theta < np.pi + width) | (theta > 2 * np.pi - width)  # around 0 and pi
    b = (theta > np.pi - width) | (theta < width)
    return theta[:, None], np.stack([a, b], axis=1)


def test_chart_shares_and_cover():
    assert chart_shares(np.array([0, 0, 1, 3]), 4).tolist() == [0.5, 0.25, 0.0, 0.25]
    with pytest.raises(ValueError, match="charts must lie"):
        chart_shares(np.array([0, 4]), 4)
    with pytest.raises(ValueError, match="integer"):
        chart_shares(np.array([0.5]), 2)
    errors = np.array([[0.0001, 0.01], [np.inf, 0.002]])
    assert cover_matrix(errors).tolist() == [[True, False], [False, True]]
    with pytest.raises(ValueError, match="errors"):
        cover_matrix(np.zeros(3))


def test_two_arcs_overlap_in_two_pieces_and_the_multigraph_sees_the_loop():
    params, cover = arcs_cover()
    table = overlaps(cover, params, "circle")
    assert table["pieces"].tolist() == [2]
    assert table["points"].item() == int((cover[:, 0] & cover[:, 1]).sum())
    # the plain nerve is an edge (no loop); the overlap multigraph has one
    assert nerve_betti(nerve(cover), maxdim=1) == (1, 0)
    assert overlap_graph_betti(table, 2) == (1, 1)
    with pytest.raises(ValueError, match="params"):
        overlaps(cover, params[:10], "circle")


def test_nerve_betti_of_known_complexes():
    hollow_triangle = [(0,), (1,), (2,), (0, 1), (1, 2), (0, 2)]
    assert nerve_betti(hollow_triangle, maxdim=2) == (1, 1, 0)
    tetra_boundary = [(i,) for i in range(4)] + [(i, j) for i in range(4) for j in range(i + 1, 4)]
    tetra_boundary += [(0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)]
    assert nerve_betti(tetra_boundary, maxdim=2) == (1, 0, 1)
    assert nerve_betti([(0,), (1,)], maxdim=1) == (2, 0)
    with pytest.raises(ValueError, match="closed under faces"):
        nerve_betti([(0,), (0, 1)], maxdim=1)


def test_nerve_of_a_cover_with_a_common_point():
    cover = np.array([[True, True, True]] * 6 + [[True, False, False]] * 6)
    simplices = nerve(cover, min_points=5)
    assert (0, 1, 2) in simplices
    assert nerve_betti(simplices) == (1, 0, 0)


def test_cycle_residuals_vanish_for_consistent_transitions():
    rng = np.random.default_rng(0)
    coords = rng.uniform(size=(30, 3, 1))
    coords[:, 1] = coords[:, 0] + 1.0  # chart 1 is a translate of chart 0, chart 2 a scaling
    coords[:, 2] = 2 * coords[:, 0]
    maps = {(0, 1): lambda u: u + 1, (1, 0): lambda u: u - 1, (0, 2): lambda u: 2 * u,
            (2, 0): lambda u: u / 2, (1, 2): lambda u: 2 * (u - 1), (2, 1): lambda u: u / 2 + 1}
    cover = np.ones((30, 3), dtype=bool)
    table = cycle_residuals(lambda a, b, u: maps[a, b](u), coords, cover)
    assert len(table) == 4  # three pairs and one triple
    assert table["max"].max() < 1e-12
    bad = cycle_residuals(lambda a, b, u: maps[a, b](u) + 0.1, coords, cover)
    assert bad["median"].min() > 0.1
    with pytest.raises(ValueError, match="coords"):
        cycle_residuals(lambda a, b, u: u, coords[:, :2], cover)


def test_boundary_cells():
    hist = np.zeros((1, 16))
    hist[0, [5, 6, 9, 10]] = 1  # a 2x2 block in a 4x4 grid: all on its boundary
    assert boundary_cells(hist, 4, 2)[0].tolist() == [i in (5, 6, 9, 10) for i in range(16)]
    line = np.ones((1, 8))
    edge = boundary_cells(line, 8, 1)[0]
    assert edge[0] and edge[-1] and not edge[1:-1].any()
    with pytest.raises(ValueError, match="histogram"):
        boundary_cells(hist, 3, 2)


def test_chart_plots_draw_and_check_their_input():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from topolib.plotting import plot_chart_map, plot_samples_by_chart

    params, cover = arcs_cover(60)
    ax = plot_chart_map(params / (2 * np.pi), cover, title="two arcs")
    assert ax.get_title() == "two arcs"
    rng = np.random.default_rng(0)
    cover2 = rng.uniform(size=(50, 3)) < 0.5
    ax = plot_chart_map(rng.uniform(size=(50, 2)), cover2)
    assert ax.get_xlim() == (0.0, 1.0)
    fig = plot_samples_by_chart(rng.uniform(size=(12, 8, 8)), np.arange(12) % 3, 4, per_chart=2)
    assert len(fig.axes) == 3 * 2  # the empty chart 3 gets no column
    with pytest.raises(ValueError, match="coords"):
        plot_chart_map(rng.uniform(size=(50, 3)), cover2)
    with pytest.raises(ValueError, match="images"):
        plot_samples_by_chart(rng.uniform(size=(12, 8)), np.zeros(12, int), 1)
    plt.close("all")
