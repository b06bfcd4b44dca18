"""Measurements of a trained chart autoencoder's atlas, for the chart-autoencoder chapter.

>>> diag = diagnose_atlas(model, "circle", n=1000, seed=0)
>>> diag.row()       # surviving charts, shares, overlaps, nerve, acceptance, seams, corners
>>> path_kinds(model, evaluation)   # valid paths within one chart and across charts

Everything is measured on fresh uniform renders of the dataset (for the cover and the
overlaps) or on the model's own draws (acceptance, corner garbage, boundary samples), each
from a named stream of ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from topolib.datasets.base import ImageManifold
from topolib.datasets.registry import get_dataset
from topolib.experiments import Evaluation
from topolib.metrics.charts import (
    boundary_cells,
    cover_matrix,
    cycle_residuals,
    nerve,
    nerve_betti,
    overlap_graph_betti,
    overlaps,
)
from topolib.metrics.intervals import wilson_interval
from topolib.metrics.projection import project
from topolib.models.blocks import check_positive_int
from topolib.models.chart_autoencoder import ChartAutoencoder, ChartCode
from topolib.seeding import check_seed, numpy_rng, torch_generator

__all__ = ["MIN_CHARTS", "AtlasDiagnostics", "diagnose_atlas", "path_kinds"]

#: The fewest charts (open sets homeomorphic to a disk) that can cover each manifold.
MIN_CHARTS: dict[str, int] = {"disk": 1, "circle": 2, "sphere": 2, "torus": 3, "klein": 3,
                              "projective": 3, "two_circles": 4}


@dataclass(frozen=True, eq=False)
class AtlasDiagnostics:
    """What a chart autoencoder's atlas does on its manifold.

    Attributes
    ----------
    dataset, n_charts : the dataset and the number of charts the model was built with.
    surviving : charts left after pruning.
    shares : ``(N,)`` share of the renders the predictor sends to each chart.
    params, coords : ``(n, param_dim)`` true parameters of the renders and ``(n, d)`` their
        coverage coordinates (to paint the parameter space).
    cover : ``(n, N)`` bool, chart ``a`` reconstructs render ``i`` on the manifold.
    overlap_table : :func:`topolib.metrics.charts.overlaps` of the cover.
    nerve_betti, graph_betti : Betti numbers of the nerve (Z/2) and of the overlap multigraph.
    cycles : :func:`topolib.metrics.charts.cycle_residuals` of the transitions.
    n_drawn, n_accepted : draws and accepted draws of the round-trip sampler.
    box_off : ``(k, n)`` off-manifold draws among ``n`` codes drawn uniformly from each
        chart's whole box instead of its fitted density (corner garbage).
    boundary_off, interior_off : ``(k, n)`` off-manifold samples among those drawn from
        the boundary cells of a chart's visited region, and from its interior cells.
    seams : ``(m,)`` RMS pixel distance between the two best charts' reconstructions of
        each render that two or more charts cover: how differently neighbouring charts draw
        the same image (a step in pixel space where the sampler passes from one to the other).
    """

    dataset: str
    n_charts: int
    surviving: tuple[int, ...]
    shares: np.ndarray
    params: np.ndarray
    coords: np.ndarray
    cover: np.ndarray
    overlap_table: pd.DataFrame
    nerve_betti: tuple[int, ...]
    graph_betti: tuple[int, int]
    cycles: pd.DataFrame
    n_drawn: int
    n_accepted: int
    box_off: tuple[int, int]
    boundary_off: tuple[int, int]
    interior_off: tuple[int, int]
    seams: np.ndarray

    @property
    def acceptance(self) -> float:
        """Share of draws that round-trip to their chart."""
        return self.n_accepted / max(self.n_drawn, 1)

    @property
    def uncovered(self) -> float:
        """Share of the renders that no chart reconstructs on the manifold (a gap)."""
        return float((~self.cover.any(1)).mean())

    def row(self) -> dict[str, Any]:
        """One row of a summary table."""
        def rate(pair: tuple[int, int]) -> float:
            return pair[0] / pair[1] if pair[1] else float("nan")

        return {
            "surviving charts": len(self.surviving),
            "minimum charts": MIN_CHARTS.get(self.dataset, float("nan")),
            "largest share": float(self.shares.max()),
            "uncovered": self.uncovered,
            "overlap pieces": int(self.overlap_table["pieces"].sum()),
            "nerve Betti": self.nerve_betti,
            "overlap-graph Betti": self.graph_betti,
            "cycle residual": float(self.cycles["median"].median()) if len(self.cycles)
            else float("nan"),
            "seam (RMS)": float(np.median(self.seams)) if self.seams.size else float("nan"),
            "acceptance": self.acceptance,
            "corner garbage": rate(self.box_off),
            "off near boundaries": rate(self.boundary_off),
            "off inside charts": rate(self.interior_off),
        }


def _off(model: ChartAutoencoder, code: ChartCode, ds: ImageManifold) -> np.ndarray:
    with torch.no_grad():
        images = model.decode(code).cpu().numpy()[:, 0]
    return project(images, ds).off_manifold()


def diagnose_atlas(model: ChartAutoencoder, dataset: str | ImageManifold, n: int = 1000,
                   seed: int = 0) -> AtlasDiagnostics:
    """Measure the atlas of a trained :class:`ChartAutoencoder` on ``n`` renders and draws."""
    if not isinstance(model, ChartAutoencoder):
        raise TypeError(f"model must be a ChartAutoencoder; got {type(model).__name__}")
    ds = get_dataset(dataset)
    n = check_positive_int(n, "n")
    seed = check_seed(seed)
    model.eval()
    params = ds.sample_params(n, numpy_rng(seed, "topolib.chart_experiments.renders"))
    x = torch.from_numpy(ds.render(params, model.image_size))[:, None].to(model.device)
    with torch.no_grad():
        errors, coords = model.chart_errors(x)
        chart = model.encode(x).chart.cpu().numpy()
    cover = cover_matrix(errors.cpu().numpy())
    table = overlaps(cover, params, ds)

    def transition(a: int, b: int, u: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            t = torch.as_tensor(u, dtype=torch.float32, device=model.device)
            return model.transition(a, b, t).cpu().numpy()

    cycles = cycle_residuals(transition, coords.cpu().numpy(), cover)
    sample = model.sample_charts(n, torch_generator(seed, "topolib.chart_experiments.sample"))
    gen = torch_generator(seed, "topolib.chart_experiments.box")
    alive = torch.tensor(model.surviving_charts(), device=model.device)
    box = ChartCode(alive[torch.randint(len(alive), (n,), generator=gen).to(model.device)],
                    torch.rand((n, model.chart_dim), generator=gen).to(model.device))
    box_off = _off(model, box, ds)
    # samples from boundary cells of each chart's visited region vs from interior cells
    edge = torch.as_tensor(boundary_cells(model.histogram.cpu().numpy(), model.bins,
                                          model.chart_dim), device=model.device)
    drawn = model.sample_codes(n, torch_generator(seed, "topolib.chart_experiments.edge"))
    on_edge = edge[drawn.chart, model._bin_index(drawn.coords)].cpu().numpy()
    drawn_off = _off(model, drawn, ds)
    shares = np.bincount(chart, minlength=model.n_charts) / n
    both = np.flatnonzero(cover.sum(1) >= 2)
    seams = np.zeros(0)
    if both.size:
        best2 = torch.as_tensor(np.argsort(errors.cpu().numpy()[both], axis=1)[:, :2],
                                device=model.device)
        rows = torch.as_tensor(both, device=model.device)
        with torch.no_grad():
            pair = [model.decode(ChartCode(best2[:, j], coords[rows, best2[:, j]]))
                    for j in (0, 1)]
        seams = (pair[0] - pair[1]).flatten(1).pow(2).mean(1).sqrt().cpu().numpy()
    return AtlasDiagnostics(
        dataset=ds.name, n_charts=model.n_charts, surviving=tuple(model.surviving_charts()),
        shares=shares, params=params, coords=ds.coverage_coords(params), cover=cover,
        overlap_table=table,
        nerve_betti=nerve_betti(nerve(cover, maxdim=ds.intrinsic_dim + 1),
                                maxdim=ds.intrinsic_dim),
        graph_betti=overlap_graph_betti(table, model.surviving_charts()),
        cycles=cycles, n_drawn=sample.n_drawn, n_accepted=sample.n_accepted,
        box_off=(int(box_off.sum()), n),
        boundary_off=(int(drawn_off[on_edge].sum()), int(on_edge.sum())),
        interior_off=(int(drawn_off[~on_edge].sum()), int((~on_edge).sum())),
        seams=seams,
    )


def path_kinds(model: ChartAutoencoder, evaluation: Evaluation) -> pd.DataFrame:
    """Valid interpolation paths among pairs whose end points share a chart, and the rest.

    Returns
    -------
    DataFrame with rows ``"within one chart"`` and ``"across charts"``: ``pairs``,
    ``valid``, ``share`` and its 95% Wilson interval ``low``, ``high``.
    """
    ds = get_dataset(evaluation.dataset)
    ends = evaluation.pair_params.reshape(-1, evaluation.pair_params.shape[-1])
    x = torch.from_numpy(ds.render(ends, model.image_size))[:, None].to(model.device)
    with torch.no_grad():
        chart = model.encode(x).chart.cpu().numpy().reshape(-1, 2)
    same = chart[:, 0] == chart[:, 1]
    valid = np.array([a.valid for a in evaluation.audits])
    rows = []
    for name, sel in (("within one chart", same), ("across charts", ~same)):
        k, m = int(valid[sel].sum()), int(sel.sum())
        low, high = wilson_interval(k, m) if m else (float("nan"), float("nan"))
        rows.append({"pairs": name, "n": m, "valid": k,
                     "share": k / m if m else float("nan"), "low": low, "high": high})
    return pd.DataFrame(rows)
