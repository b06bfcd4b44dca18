"""Chart autoencoders (Schonsheck, Chen and Lai 2019): many latent charts instead of one.

A manifold that cannot be flattened into one Euclidean latent space (a circle, a sphere, a
torus) can always be covered by a few overlapping patches that can. A chart autoencoder
learns such an atlas:

- a shared encoder ``E``: data -> code of dimension ``code_dim`` (at least ``2n + 1`` for an
  ``n``-dimensional manifold, so that the code space can embed it);
- ``N`` chart heads ``H_a``: code -> ``(0, 1)^n`` (a sigmoid), one per chart;
- ``N`` chart decoders ``D_a``: ``(0, 1)^n`` -> data, each a separate continuous map;
- a chart predictor ``P``: code -> softmax over the charts.

Loss of a batch (only the best chart of each point gets reconstruction gradient)::

    e_a(x)  = mean over pixels of (x - D_a(H_a(E x)))^2
    loss    = pixels * mean_x min_a e_a(x)                        reconstruction
            + CE(P(E x), softmax(-e(x) / tau'))                    predictor, target detached
            + lipschitz * (max_a L_a + 0.1 * sum_a L_a)            L_a = product of the
                                                                    layer norms of D_a
            + margin                                               own coordinates kept
                                                                    off the sigmoid's ends

with ``tau' = tau * (batch mean of min_a e_a)`` so the target's sharpness does not depend
on the scale of the data.

Initialisation, inside the training loop (so that a cached model is keyed by its config):
the first batch gives ``N`` farthest-point seeds (in a blurred, coarse copy of the data,
where distances grow steadily with distance on the manifold); for ``warmup_steps`` steps
every point trains the charts of the seeds near it (its nearest seed's Voronoi cell,
widened so that neighbouring charts overlap: small contractible patches) and the predictor
learns those patches. After the warm-up the
min-over-charts loss takes over (plus ``patch_weight`` times the warm-up loss, which keeps
neighbouring charts overlapping), and charts that keep less than ``prune_share`` of the data
are pruned.

Generation: a chart is chosen with probability equal to its share of the data, a code is
drawn from a histogram of that chart's *encoded* training codes (a uniform draw from the
box decodes garbage in corners no data visits), decoded, and kept only if the image
round-trips to the same chart (:meth:`ChartAutoencoder.sample_charts` reports the
acceptance rate).

How the chart latent fits the book's one-latent interface
---------------------------------------------------------
``latent_dim`` is the chart dimension ``n``. :meth:`encode` returns a :class:`ChartCode`
``(chart, coords)``; :meth:`decode` accepts a :class:`ChartCode` or its *packed* form, a
tensor ``(k, 1 + n)`` whose first column is the chart index; :meth:`invert` returns the
packed form, so ``reconstruct`` works unchanged. :meth:`interpolate_many` walks the atlas:
inside one chart along straight segments of its visited region, and across charts through
their overlaps (transition maps ``phi_ba = H_b . E . D_a``), by a shortest-path search over
the decoded images (:class:`AtlasGraph`); ``route="chart"`` draws the plain straight line
inside the first point's chart instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from torch import nn

from topolib.models.blocks import (
    MLP,
    ConvDecoder,
    ConvEncoder,
    check_positive_int,
    check_size,
    seeded_init,
)
from topolib.models.interface import GenerativeModel, as_generator
from topolib.seeding import check_seed

__all__ = [
    "AtlasGraph",
    "ChartAutoencoder",
    "ChartCode",
    "ChartSample",
    "PointChartAutoencoder",
    "farthest_point_indices",
]

#: A point belongs to chart ``a`` when chart ``a`` reconstructs it to this RMS pixel error
#: (the report card's off-manifold threshold, so "covered" and "on the manifold" agree).
OVERLAP_RMS = 0.05
#: Chart coordinates of a point's own charts are kept within sigmoid(+-MARGIN_LOGIT).
MARGIN_LOGIT = 3.0
#: Penalty added to an atlas edge that jumps a gap (no overlap) between two charts.
GAP_PENALTY = 1.0


class ChartCode(NamedTuple):
    """Where a point lives in the atlas: ``chart`` ``(k,)`` long and ``coords`` ``(k, n)``."""

    chart: torch.Tensor
    coords: torch.Tensor

    def packed(self) -> torch.Tensor:
        """``(k, 1 + n)``: the chart index as a float in column 0, then the coordinates."""
        return torch.cat([self.chart[:, None].to(self.coords.dtype), self.coords], dim=1)


@dataclass(frozen=True)
class ChartSample:
    """Result of :meth:`ChartAutoencoder.sample_charts`.

    Attributes
    ----------
    data : ``(n, ...)`` generated data (images ``(n, 1, S, S)`` or points ``(n, D)``).
    chart : ``(n,)`` chart each sample was drawn from.
    coords : ``(n, chart_dim)`` its chart coordinates.
    accepted : ``(n,)`` bool, True where the sample round-tripped to its chart (rejected
        draws fill the set only when too few were accepted after ``max_rounds``).
    n_drawn : draws made in total.
    n_accepted : accepted draws in total (also those beyond ``n``).
    """

    data: torch.Tensor
    chart: torch.Tensor
    coords: torch.Tensor
    accepted: torch.Tensor
    n_drawn: int
    n_accepted: int

    @property
    def acceptance_rate(self) -> float:
        """Share of draws that round-tripped to their own chart."""
        return self.n_accepted / max(self.n_drawn, 1)


def farthest_point_indices(x: torch.Tensor, k: int) -> torch.Tensor:
    """Greedy farthest-point sampling: ``k`` row indices of ``x`` ``(m, D)``, spread out.

    Starts from the row farthest from the mean; each next index is the row farthest from
    those chosen. Deterministic.
    """
    k = check_positive_int(k, "k")
    if x.ndim != 2 or x.shape[0] < k:
        raise ValueError(f"x must have shape (m, D) with m >= k = {k}; got {tuple(x.shape)}")
    first = int((x - x.mean(0)).pow(2).sum(1).argmax())
    chosen = [first]
    dist = (x - x[first]).pow(2).sum(1)
    for _ in range(k - 1):
        nxt = int(dist.argmax())
        chosen.append(nxt)
        dist = torch.minimum(dist, (x - x[nxt]).pow(2).sum(1))
    return torch.tensor(chosen, dtype=torch.long)


def _check_prob(value: object, name: str, low: float = 0.0, high: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or not low <= value < high:
        raise ValueError(f"{name} must be a number in [{low}, {high}); got {value!r}")
    return float(value)


def _check_nonneg(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return float(value)


def _layer_norm_product(module: nn.Module) -> torch.Tensor:
    """Product of the Frobenius norms of ``module``'s weight matrices and kernels."""
    norms = [p.norm() for name, p in module.named_parameters() if name.endswith("weight")]
    return torch.stack(norms).prod()


class _ChartModel(GenerativeModel):
    """The chart logic shared by the image and the point-cloud chart autoencoders.

    Subclasses build ``self.encoder`` (data -> code), ``self.decoders`` (one per chart,
    ``(k, n)`` -> data *before* the output activation) and implement :meth:`_output` and
    :meth:`_features`.
    """

    def _build_charts(
        self, n_charts: int, chart_dim: int, code_dim: int | None, hidden: int, tau: float,
        lipschitz: float, warmup_steps: int, prune_share: float, seed: int, soft: bool,
        top_k: int | None, patch_weight: float,
    ) -> None:
        self.n_charts = check_positive_int(n_charts, "n_charts")
        self.chart_dim = self.latent_dim = check_positive_int(chart_dim, "chart_dim")
        self.code_dim = 2 * self.chart_dim + 1 if code_dim is None \
            else check_positive_int(code_dim, "code_dim")
        if self.code_dim < 2 * self.chart_dim + 1:
            raise ValueError(f"code_dim must be at least 2 * chart_dim + 1 = "
                             f"{2 * self.chart_dim + 1} (room to embed the manifold); "
                             f"got {self.code_dim}")
        self.hidden = check_positive_int(hidden, "hidden")
        self.tau = _check_nonneg(tau, "tau")
        if self.tau == 0:
            raise ValueError("tau must be a finite number > 0; got 0")
        self.lipschitz = _check_nonneg(lipschitz, "lipschitz")
        if not isinstance(soft, bool):
            raise TypeError(f"soft must be a bool; got {type(soft).__name__}")
        self.soft = soft
        self.top_k = None if top_k is None else check_positive_int(top_k, "top_k")
        self.patch_weight = _check_nonneg(patch_weight, "patch_weight")
        self.warmup_steps = check_positive_int(warmup_steps, "warmup_steps")
        self.prune_share = _check_prob(prune_share, "prune_share", 0.0, 0.5)
        self.seed = check_seed(seed)
        self.bins = {1: 32, 2: 16}.get(self.chart_dim, 8)
        self.heads = nn.ModuleList(
            MLP(self.code_dim, self.chart_dim, (self.hidden,)) for _ in range(self.n_charts))
        self.predictor = MLP(self.code_dim, self.n_charts, (self.hidden,))
        n, b = self.n_charts, self.bins ** self.chart_dim
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.register_buffer("alive", torch.ones(n, dtype=torch.bool))
        self.register_buffer("share", torch.full((n,), 1.0 / n))
        self.register_buffer("histogram", torch.zeros(n, b))
        self.register_buffer("seeds", torch.zeros(n, self._feature_dim()))
        self._atlas: AtlasGraph | None = None

    # ------------------------------------------------------------------ subclass hooks

    def _output(self, logits: torch.Tensor) -> torch.Tensor:
        """Decoder output -> data (a sigmoid for images, identity for points)."""
        raise NotImplementedError

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """``(k, F)`` features in which the farthest-point seeds and Voronoi cells are found."""
        raise NotImplementedError

    def _feature_dim(self) -> int:
        raise NotImplementedError

    # ------------------------------------------------------------------ the charts

    def code(self, x: torch.Tensor) -> torch.Tensor:
        """Shared code ``E(x)``, ``(k, code_dim)``."""
        return self.encoder(x)

    def chart_coords(self, code: torch.Tensor) -> torch.Tensor:
        """Coordinates of every point in every chart, ``(k, N, n)`` in ``(0, 1)``."""
        return torch.sigmoid(self.chart_logits(code))

    def chart_logits(self, code: torch.Tensor) -> torch.Tensor:
        """Chart coordinates before the sigmoid, ``(k, N, n)``."""
        return torch.stack([h(code) for h in self.heads], dim=1)

    def decode_chart(self, chart: int, coords: torch.Tensor) -> torch.Tensor:
        """``D_a``: data ``(k, ...)`` decoded from ``coords`` ``(k, n)`` in chart ``chart``."""
        return self._output(self.decoders[chart](coords))

    def _error(self, logits: torch.Tensor, x: torch.Tensor, kind: str) -> torch.Tensor:
        """Per-point mean error of decoder output ``logits`` against ``x``."""
        if kind == "mse":
            return (self._output(logits) - x).pow(2).flatten(1).mean(1)
        return self._train_error(logits, x)

    def _train_error(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The error minimised in training (squared error; images override it)."""
        return (self._output(logits) - x).pow(2).flatten(1).mean(1)

    def chart_errors(self, x: torch.Tensor, kind: str = "mse"
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstruction error of ``x`` through every chart.

        Parameters
        ----------
        x : ``(k, ...)`` data.
        kind : ``"mse"`` (mean squared error, whose root is the report card's residual) or
            ``"train"`` (the error training minimises).

        Returns
        -------
        ``(errors, coords)``: ``(k, N)`` mean error per point and chart (``inf`` for pruned
        charts) and ``(k, N, n)`` the chart coordinates.
        """
        if kind not in ("mse", "train"):
            raise ValueError(f"kind must be 'mse' or 'train'; got {kind!r}")
        x = self._images(x)
        return self._chart_errors(x, self.chart_coords(self.code(x)), kind)

    def _chart_errors(self, x: torch.Tensor, coords: torch.Tensor, kind: str,
                      candidates: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Errors ``(k, N)`` through the surviving charts, only for ``candidates`` ``(k, N)``
        (bool) when given: the others stay ``inf`` and cost no decoder pass."""
        errors = torch.full((x.shape[0], self.n_charts), float("inf"), device=x.device)
        for a in range(self.n_charts):
            if not bool(self.alive[a]):
                continue
            rows = None if candidates is None else candidates[:, a]
            if rows is None:
                errors[:, a] = self._error(self.decoders[a](coords[:, a]), x, kind)
            elif bool(rows.any()):
                errors[rows, a] = self._error(self.decoders[a](coords[rows, a]), x[rows], kind)
        return errors, coords

    def chart_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Predictor's probabilities ``(k, N)`` over the surviving charts."""
        logits = self.predictor(self.code(self._images(x)))
        return torch.softmax(logits.masked_fill(~self.alive, float("-inf")), dim=1)

    def encode(self, x: torch.Tensor, by: str = "predictor") -> ChartCode:
        """Chart and coordinates of each point: a :class:`ChartCode` ``((k,), (k, n))``.

        ``by="predictor"`` uses the chart predictor (the model's own choice);
        ``by="error"`` the chart that reconstructs the point best.
        """
        if by not in ("predictor", "error"):
            raise ValueError(f"by must be 'predictor' or 'error'; got {by!r}")
        x = self._images(x)
        code = self.code(x)
        coords = self.chart_coords(code)
        if by == "predictor":
            logits = self.predictor(code).masked_fill(~self.alive, float("-inf"))
            chart = logits.argmax(1)
        else:
            chart = self.chart_errors(x)[0].argmin(1)
        return ChartCode(chart, coords[torch.arange(x.shape[0], device=x.device), chart])

    def _unpack(self, z: object) -> ChartCode:
        if isinstance(z, ChartCode):
            return z
        if isinstance(z, np.ndarray):
            z = torch.from_numpy(z)
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[1] != 1 + self.chart_dim:
            shape = tuple(z.shape) if hasattr(z, "shape") else type(z).__name__
            raise ValueError(f"z must be a ChartCode or a packed tensor (k, 1 + chart_dim) = "
                             f"(k, {1 + self.chart_dim}) whose first column is the chart; "
                             f"got {shape}")
        z = z.float().to(self.device)
        chart = z[:, 0].round().long()
        if bool(((chart < 0) | (chart >= self.n_charts)).any()):
            raise ValueError(f"chart indices in z must lie in 0..{self.n_charts - 1}")
        return ChartCode(chart, z[:, 1:])

    def decode(self, z: ChartCode | torch.Tensor) -> torch.Tensor:
        """Data decoded from a :class:`ChartCode` or a packed ``(k, 1 + n)`` tensor."""
        code = self._unpack(z)
        out: torch.Tensor | None = None
        for a in code.chart.unique().tolist():
            rows = code.chart == a
            y = self.decode_chart(a, code.coords[rows].to(self.device))
            if out is None:
                out = y.new_zeros((code.chart.shape[0], *y.shape[1:]))
            out[rows] = y
        assert out is not None
        return out

    def invert(self, x: torch.Tensor, steps: int = 200,
               generator: torch.Generator | int = 0) -> torch.Tensor:
        """Packed codes ``(k, 1 + n)`` of ``x`` (chart from the predictor), detached."""
        del steps, generator
        with torch.no_grad():
            return self.encode(x).packed()

    def transition(self, a: int, b: int, coords: torch.Tensor) -> torch.Tensor:
        """``phi_ba = H_b . E . D_a``: chart-``b`` coordinates ``(k, n)`` of chart-``a`` ones."""
        for value, name in ((a, "a"), (b, "b")):
            if not isinstance(value, int) or not 0 <= value < self.n_charts:
                raise ValueError(f"{name} must be a chart index in 0..{self.n_charts - 1}; "
                                 f"got {value!r}")
        y = self.decode_chart(a, coords.to(self.device))
        return torch.sigmoid(self.heads[b](self.code(y)))

    # ------------------------------------------------------------------ training

    def lipschitz_penalty(self) -> torch.Tensor:
        """``max_a L_a + 0.1 * sum_a L_a`` over the surviving charts' decoders."""
        lips = torch.stack([_layer_norm_product(self.decoders[a])
                            for a in range(self.n_charts) if bool(self.alive[a])])
        return lips.max() + 0.1 * lips.sum()

    def _seed_charts(self, x: torch.Tensor) -> None:
        feats = self._features(x)
        k = min(self.n_charts, feats.shape[0])
        idx = farthest_point_indices(feats, k)
        self.seeds.zero_()
        self.seeds[:k] = feats[idx]
        self.seeds[k:] = feats[idx[-1]]

    def voronoi(self, x: torch.Tensor) -> torch.Tensor:
        """Index ``(k,)`` of the nearest chart seed of each point."""
        return torch.cdist(self._features(self._images(x)), self.seeds).argmin(1)

    def neighbourhoods(self, x: torch.Tensor, ratio: float = 1.5) -> torch.Tensor:
        """``(k, N)`` bool: the seeds within ``ratio`` times each point's nearest-seed distance.

        These overlapping neighbourhoods of the seeds are what each chart is pre-fitted on
        (the nearest seed's Voronoi cell, widened so that neighbouring charts overlap).
        """
        dist = torch.cdist(self._features(self._images(x)), self.seeds)
        return dist <= ratio * dist.min(1, keepdim=True).values

    def loss(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Losses of one batch (see the module docstring), and updates of the buffers.

        Returns ``loss`` (the total), ``recon`` (pixels times the mean best-chart error),
        ``predictor`` (cross-entropy), ``lipschitz`` and ``charts`` (surviving charts).
        """
        if int(self.step) == 0:
            with torch.no_grad():
                self._seed_charts(x)
        self._atlas = None
        code = self.code(x)
        logits = self.predictor(code).masked_fill(~self.alive, float("-inf"))
        warm = int(self.step) < self.warmup_steps
        candidates = None
        if warm or self.patch_weight > 0:
            with torch.no_grad():
                near = self.neighbourhoods(x)
        if warm:
            candidates = near
        elif self.top_k is not None and self.top_k < int(self.alive.sum()):
            top = logits.detach().topk(self.top_k, dim=1).indices
            candidates = torch.zeros_like(logits, dtype=torch.bool).scatter_(1, top, True)
        raw = self.chart_logits(code)
        errors, coords = self._chart_errors(x, torch.sigmoid(raw), "train", candidates)
        pixels = x[0].numel()
        if warm:
            with torch.no_grad():
                best = self.voronoi(x)
                target = near / near.sum(1, keepdim=True)
            recon_err = (near * errors.masked_fill(~near, 0.0)).sum(1)
        else:
            best_err, best = errors.min(1)
            with torch.no_grad():
                scale = self.tau * best_err.mean().clamp_min(1e-8)
                target = torch.softmax(-(errors - best_err[:, None]) / scale, dim=1)
            finite = errors.masked_fill(~torch.isfinite(errors), 0.0)
            recon_err = (target * finite).sum(1) if self.soft else best_err
        recon = pixels * recon_err.mean()
        if not warm and self.patch_weight > 0:  # keep every chart fitted on its seed's patch
            patch = near & self.alive
            errors_p, _ = self._chart_errors(x, coords, "train", patch)
            patch_err = errors_p.masked_fill(~patch, 0.0).sum(1) / patch.sum(1).clamp_min(1)
            recon = recon + self.patch_weight * pixels * patch_err.mean()
        log_p = torch.log_softmax(logits, dim=1).masked_fill(~self.alive, 0.0)
        if candidates is not None and not warm:  # learn from the charts that were tried
            log_p = torch.log_softmax(logits.masked_fill(~candidates, float("-inf")), dim=1)
            log_p = log_p.masked_fill(~candidates, 0.0)
        pred = -(target * log_p).sum(1).mean()
        # keep each point's own chart coordinates off the flat ends of the sigmoid, where
        # the edge of a chart would stop learning (and leave a gap to its neighbour)
        overflow = F.relu(raw.abs() - MARGIN_LOGIT).pow(2).sum(-1)
        margin = (target * overflow).sum(1).mean()
        lip = self.lipschitz_penalty() if self.lipschitz > 0 else recon.new_zeros(())
        with torch.no_grad():
            self._update_statistics(best, coords, warm)
        return {"loss": recon + pred + margin + self.lipschitz * lip, "recon": recon,
                "predictor": pred, "margin": margin, "lipschitz": lip.detach(),
                "charts": self.alive.sum().float()}

    def _update_statistics(self, best: torch.Tensor, coords: torch.Tensor, warm: bool,
                           decay: float = 0.98) -> None:
        counts = torch.bincount(best, minlength=self.n_charts).float() / best.shape[0]
        self.share.mul_(decay).add_((1 - decay) * counts)
        chosen = coords[torch.arange(best.shape[0], device=best.device), best]
        hist = torch.zeros_like(self.histogram)
        hist.index_put_((best, self._bin_index(chosen)), torch.ones_like(best, dtype=torch.float),
                        accumulate=True)
        self.histogram.mul_(decay).add_((1 - decay) * hist / best.shape[0])
        self.step += 1
        if not warm and int(self.step) % 25 == 0:
            keep = self.share >= self.prune_share
            keep[self.share.argmax()] = True
            self.alive &= keep

    def _bin_index(self, coords: torch.Tensor) -> torch.Tensor:
        cells = (coords.detach() * self.bins).long().clamp(0, self.bins - 1)
        index = torch.zeros(coords.shape[0], dtype=torch.long, device=coords.device)
        for i in range(self.chart_dim):
            index = index * self.bins + cells[:, i]
        return index

    @torch.no_grad()
    def refit_density(self, x: torch.Tensor, batch_size: int = 512) -> None:
        """Refit chart shares and code histograms exactly from data ``x`` (the training set).

        Training keeps running averages of both; this replaces them by the counts of the
        final model's encodings of ``x`` (each point in the chart the predictor picks).
        """
        x = self._images(x)
        share = torch.zeros_like(self.share)
        hist = torch.zeros_like(self.histogram)
        for chunk in x.split(check_positive_int(batch_size, "batch_size")):
            code = self.encode(chunk)
            share += torch.bincount(code.chart, minlength=self.n_charts).float()
            hist.index_put_((code.chart, self._bin_index(code.coords)),
                            torch.ones_like(code.chart, dtype=torch.float), accumulate=True)
        self.share.copy_(share / x.shape[0])
        self.histogram.copy_(hist / x.shape[0])
        self._atlas = None

    def training_step(
        self, x: torch.Tensor, optimizers: dict[str, torch.optim.Optimizer],
        generator: torch.Generator,
    ) -> dict[str, torch.Tensor]:
        del generator  # the chart autoencoder is deterministic
        losses = self.loss(x)
        optimizers["model"].zero_grad(set_to_none=True)
        losses["loss"].backward()
        optimizers["model"].step()
        return {k: v.detach() for k, v in losses.items()}

    # ------------------------------------------------------------------ generation

    def surviving_charts(self) -> list[int]:
        """Indices of the charts that were not pruned."""
        return [a for a in range(self.n_charts) if bool(self.alive[a])]

    @torch.no_grad()
    def sample_codes(self, n: int, generator: torch.Generator | int = 0) -> ChartCode:
        """``n`` codes: chart by data share, coordinates from that chart's code histogram."""
        n = check_positive_int(n, "n")
        gen = as_generator(generator, "topolib.models.chart_autoencoder.codes")
        share = (self.share * self.alive).cpu().double()
        if float(share.sum()) <= 0:
            share = self.alive.cpu().double()
        chart = torch.multinomial(share / share.sum(), n, replacement=True, generator=gen)
        hist = self.histogram.cpu().double()[chart]
        empty = hist.sum(1) <= 0
        hist[empty] = 1.0  # a chart with no recorded codes: its whole box
        cell = torch.multinomial(hist / hist.sum(1, keepdim=True), 1, generator=gen)[:, 0]
        digits = []
        for _ in range(self.chart_dim):
            digits.append(cell % self.bins)
            cell = cell // self.bins
        corner = torch.stack(digits[::-1], dim=1).double()
        jitter = torch.rand((n, self.chart_dim), generator=gen, dtype=torch.float64)
        coords = ((corner + jitter) / self.bins).float()
        return ChartCode(chart.to(self.device), coords.to(self.device))

    @torch.no_grad()
    def sample_charts(self, n: int, generator: torch.Generator | int = 0,
                      max_rounds: int = 10) -> ChartSample:
        """Generate ``n`` samples with round-trip rejection; see :class:`ChartSample`.

        Each round draws twice the missing number of codes, decodes them and keeps those
        the predictor sends back to the chart they came from. After ``max_rounds`` rounds the
        set is filled with rejected draws (``accepted`` says which).
        """
        n = check_positive_int(n, "n")
        max_rounds = check_positive_int(max_rounds, "max_rounds")
        gen = as_generator(generator, "topolib.models.chart_autoencoder.sample")
        kept: list[tuple[torch.Tensor, ChartCode, torch.Tensor]] = []
        rejected: list[tuple[torch.Tensor, ChartCode, torch.Tensor]] = []
        drawn = accepted = 0
        for _ in range(max_rounds):
            missing = n - sum(len(c.chart) for _, c, _ in kept)
            if missing <= 0:
                break
            code = self.sample_codes(2 * missing, gen)
            data = self.decode(code)
            ok = self.encode(data).chart == code.chart
            drawn, accepted = drawn + len(ok), accepted + int(ok.sum())
            kept.append((data[ok], ChartCode(code.chart[ok], code.coords[ok]), ok[ok]))
            rejected.append((data[~ok], ChartCode(code.chart[~ok], code.coords[~ok]), ok[~ok]))
        parts = kept + rejected
        data = torch.cat([p[0] for p in parts])[:n]
        if data.shape[0] < n:  # cannot happen: every round draws 2 * missing
            raise RuntimeError("sampling produced too few draws")
        return ChartSample(
            data=data.detach(),
            chart=torch.cat([p[1].chart for p in parts])[:n],
            coords=torch.cat([p[1].coords for p in parts])[:n],
            accepted=torch.cat([p[2] for p in parts])[:n],
            n_drawn=drawn, n_accepted=accepted,
        )

    def sample(self, n: int, generator: torch.Generator | int = 0) -> torch.Tensor:
        """``n`` generated samples (round-trip rejection; see :meth:`sample_charts`)."""
        return self.sample_charts(n, generator).data

    # ------------------------------------------------------------------ interpolation

    def atlas(self) -> AtlasGraph:
        """The atlas graph of the current weights (built once, rebuilt after training)."""
        if self._atlas is None:
            self._atlas = AtlasGraph.build(self)
        return self._atlas

    @torch.no_grad()
    def interpolate_codes(self, x_a: torch.Tensor, x_b: torch.Tensor, n_steps: int = 16,
                          route: str = "atlas") -> tuple[torch.Tensor, list[ChartCode]]:
        """Paths between pairs through the atlas: decoded data and the codes behind them.

        Parameters
        ----------
        x_a, x_b : ``(k, ...)`` start and end points.
        n_steps : points per path (>= 2), end points included.
        route : ``"atlas"`` (shortest path through the charts and their overlaps) or
            ``"chart"`` (straight line in the start point's chart to the end point's
            coordinates in that chart, ``phi_ab``).

        Returns
        -------
        ``(paths, codes)``: ``(k, n_steps, ...)`` and one :class:`ChartCode` per path.
        """
        n_steps = check_positive_int(n_steps, "n_steps")
        if n_steps < 2:
            raise ValueError(f"n_steps must be an integer >= 2; got {n_steps}")
        if route not in ("atlas", "chart"):
            raise ValueError(f"route must be 'atlas' or 'chart'; got {route!r}")
        x_a, x_b = self._images(x_a, "x_a"), self._images(x_b, "x_b")
        if x_a.shape[0] != x_b.shape[0]:
            raise ValueError(f"x_a and x_b must hold the same number of points; got "
                             f"{x_a.shape[0]} and {x_b.shape[0]}")
        start, end = self.encode(x_a), self.encode(x_b)
        codes = []
        for i in range(x_a.shape[0]):
            a, u = int(start.chart[i]), start.coords[i]
            b, v = int(end.chart[i]), end.coords[i]
            if route == "chart":
                v_in_a = self.transition(b, a, v[None])[0] if a != b else v
                t = torch.linspace(0, 1, n_steps, device=u.device)[:, None]
                codes.append(ChartCode(torch.full((n_steps,), a, device=u.device),
                                       (1 - t) * u + t * v_in_a))
            else:
                codes.append(self.atlas().route(self, (a, u), (b, v), n_steps))
        data = self.decode(ChartCode(torch.cat([c.chart for c in codes]),
                                     torch.cat([c.coords for c in codes])))
        return data.view(len(codes), n_steps, *data.shape[1:]), codes

    def interpolate_many(self, x_a: torch.Tensor, x_b: torch.Tensor, n_steps: int = 16,
                         generator: torch.Generator | int = 0,
                         invert_steps: int = 200) -> torch.Tensor:
        """Paths ``(k, n_steps, ...)`` through the atlas (:meth:`interpolate_codes`)."""
        del generator, invert_steps
        return self.interpolate_codes(x_a, x_b, n_steps)[0]

    def _common_config(self) -> dict[str, Any]:
        return {"n_charts": self.n_charts, "chart_dim": self.chart_dim,
                "code_dim": self.code_dim, "hidden": self.hidden, "tau": self.tau,
                "lipschitz": self.lipschitz, "warmup_steps": self.warmup_steps,
                "prune_share": self.prune_share, "soft": self.soft, "top_k": self.top_k,
                "patch_weight": self.patch_weight, "seed": self.seed}


@dataclass(frozen=True)
class AtlasGraph:
    """A graph over the visited cells of every chart, for paths through the atlas.

    Nodes are the centres of the code-histogram cells that training data visit, one set per
    surviving chart. Edges join neighbouring cells of a chart, and each cell to the nearest
    cell of every other chart in which its decoded point lands (through ``phi_ba``); an edge
    weighs the RMS distance between the two decoded points, plus :data:`GAP_PENALTY` when
    the second chart does not reconstruct the point (no overlap: a gap between charts).

    Attributes
    ----------
    chart : ``(m,)`` chart of each node.
    coords : ``(m, n)`` its coordinates in that chart.
    weights : sparse ``(m, m)`` edge weights (scipy CSR).
    """

    chart: np.ndarray
    coords: np.ndarray
    weights: Any

    @classmethod
    @torch.no_grad()
    def build(cls, model: _ChartModel) -> AtlasGraph:
        """The graph of ``model``'s current charts and code histograms."""
        bins, n = model.bins, model.chart_dim
        cells = np.stack(np.unravel_index(np.arange(bins ** n), (bins,) * n), axis=1)
        charts, coords, data = [], [], []
        for a in model.surviving_charts():
            visited = np.flatnonzero(model.histogram[a].cpu().numpy() > 0)
            if visited.size == 0:
                continue
            c = (cells[visited] + 0.5) / bins
            charts.append(np.full(len(c), a))
            coords.append(c)
            data.append(model.decode_chart(a, torch.as_tensor(c, dtype=torch.float32,
                                                              device=model.device)))
        if not charts:
            raise ValueError("the model has no visited chart cells: train it first")
        chart, coords = np.concatenate(charts), np.concatenate(coords)
        y = torch.cat(data)
        flat = y.flatten(1)
        dim = flat.shape[1]
        rows, cols, w = [], [], []
        # neighbouring cells of one chart (king moves on the grid)
        idx = np.arange(len(chart))
        for a in np.unique(chart):
            mine = idx[chart == a]
            cell = np.rint(coords[mine] * bins - 0.5).astype(int)
            near = np.abs(cell[:, None] - cell[None]).max(-1) == 1
            i, j = np.nonzero(near)
            rows.append(mine[i])
            cols.append(mine[j])
        i, j = np.concatenate(rows), np.concatenate(cols)
        dist = (flat[i] - flat[j]).pow(2).sum(1).div(dim).sqrt().cpu().numpy()
        w.append(dist)
        rows, cols = [i], [j]
        # transitions into every other chart
        all_coords = model.chart_coords(model.code(y))  # (m, N, n)
        for b in np.unique(chart):
            others = idx[chart != b]
            if others.size == 0:
                continue
            u_b = all_coords[others, b]
            back = model.decode_chart(int(b), u_b)
            err = (back - y[others]).flatten(1).pow(2).mean(1).sqrt().cpu().numpy()
            mine = idx[chart == b]
            nearest = mine[np.argmin(np.abs(u_b.cpu().numpy()[:, None] - coords[mine][None])
                                     .max(-1), axis=1)]
            d = (flat[others] - flat[nearest]).pow(2).sum(1).div(dim).sqrt().cpu().numpy()
            d = d + GAP_PENALTY * (err > OVERLAP_RMS)
            rows += [others, nearest]
            cols += [nearest, others]
            w += [d, d]
        weights = coo_matrix((np.concatenate(w) + 1e-9,
                              (np.concatenate(rows), np.concatenate(cols))),
                             shape=(len(chart), len(chart))).tocsr()
        return cls(chart=chart, coords=coords, weights=weights)

    def nearest_node(self, chart: int, coords: np.ndarray) -> int:
        """Index of the node of ``chart`` nearest to ``coords`` ``(n,)``."""
        mine = np.flatnonzero(self.chart == chart)
        if mine.size == 0:  # a chart without visited cells: any node
            mine = np.arange(len(self.chart))
        return int(mine[np.argmin(np.abs(self.coords[mine] - coords).max(1))])

    def route(self, model: _ChartModel, start: tuple[int, torch.Tensor],
              end: tuple[int, torch.Tensor], n_steps: int) -> ChartCode:
        """``n_steps`` codes along the shortest atlas path from ``start`` to ``end``.

        ``start`` and ``end`` are ``(chart, coords)``; the path runs through node centres,
        and its points are spaced evenly along the decoded path (a step that jumps between
        charts puts its points on the nearer side).
        """
        (a, u), (b, v) = start, end
        s = self.nearest_node(a, u.cpu().numpy())
        t = self.nearest_node(b, v.cpu().numpy())
        _, pred = dijkstra(self.weights, indices=s, return_predecessors=True)
        nodes = [t]
        while nodes[-1] != s and pred[nodes[-1]] >= 0:
            nodes.append(int(pred[nodes[-1]]))
        nodes = nodes[::-1] if nodes[-1] == s else [s, t]
        charts = [a] + [int(self.chart[k]) for k in nodes] + [b]
        pts = [u.cpu().numpy()] + [self.coords[k] for k in nodes] + [v.cpu().numpy()]
        device = model.device
        with torch.no_grad():
            decoded = model.decode(ChartCode(torch.tensor(charts, device=device),
                                             torch.as_tensor(np.stack(pts), dtype=torch.float32,
                                                             device=device)))
        flat = decoded.flatten(1)
        seg = (flat[1:] - flat[:-1]).pow(2).mean(1).sqrt().cpu().numpy()
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        targets = np.linspace(0.0, cum[-1], n_steps)
        out_chart, out_coords = [], []
        for target in targets:
            k = int(np.clip(np.searchsorted(cum, target, side="right") - 1, 0, len(pts) - 2))
            frac = 0.0 if seg[k] == 0 else (target - cum[k]) / seg[k]
            if charts[k] == charts[k + 1]:
                out_chart.append(charts[k])
                out_coords.append((1 - frac) * pts[k] + frac * pts[k + 1])
            else:
                side = k if frac < 0.5 else k + 1
                out_chart.append(charts[side])
                out_coords.append(pts[side])
        out_chart[0], out_coords[0] = a, pts[0]
        out_chart[-1], out_coords[-1] = b, pts[-1]
        return ChartCode(torch.tensor(out_chart, device=device),
                         torch.as_tensor(np.stack(out_coords), dtype=torch.float32,
                                         device=device))


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of images ``(k, 1, S, S)`` (reflect padding)."""
    radius = max(1, int(math.ceil(2.5 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    return F.conv2d(x, kernel.view(1, 1, -1, 1))


class ChartAutoencoder(_ChartModel):
    """Chart autoencoder for one-channel images (conv encoder, one conv decoder per chart).

    Parameters
    ----------
    n_charts : number of charts N (over-specify it; dead charts are pruned).
    chart_dim : dimension n of each chart (the manifold's dimension).
    size : image side, a power of two.
    channels : width of the conv encoder's first stage and of each chart decoder's last.
    code_dim : dimension of the shared code (default and minimum ``2 * chart_dim + 1``).
    hidden : width of the chart heads and of the predictor.
    tau : sharpness of the predictor's target, relative to the batch's mean best error.
    lipschitz : weight of the decoder penalty (0 switches it off).
    warmup_steps : optimizer steps of the seeded pre-fit (Voronoi cells of the seeds).
    prune_share : charts with a smaller running share of the data are pruned.
    soft : share the reconstruction gradient among the charts whose error is close to the
        best (the predictor's target weights); False gives it to the best chart only.
    top_k : after the warm-up, try only the predictor's ``top_k`` charts per point (N
        decoder passes per step cost too much); None tries every chart.
    patch_weight : after the warm-up, keep adding this weight times the warm-up loss (each
        chart on its seed's widened Voronoi patch): it keeps neighbouring charts
        overlapping, where the min-over-charts loss alone lets their edges recede until
        gaps open between them.
    seed : seed of the weight initialisation.
    """

    def __init__(self, n_charts: int = 4, chart_dim: int = 1, size: int = 32,
                 channels: int = 16, code_dim: int | None = None, hidden: int = 64,
                 tau: float = 0.1, lipschitz: float = 0.0, warmup_steps: int = 100,
                 prune_share: float = 0.01, soft: bool = True, top_k: int | None = 2,
                 patch_weight: float = 0.1, seed: int = 0) -> None:
        super().__init__()
        self.image_size = check_size(size)
        self.channels = check_positive_int(channels, "channels")
        with seeded_init(check_seed(seed), "topolib.models.chart_autoencoder"):
            self._build_charts(n_charts, chart_dim, code_dim, hidden, tau, lipschitz,
                               warmup_steps, prune_share, seed, soft, top_k,
                               patch_weight)
            self.encoder = ConvEncoder(self.image_size, self.code_dim, self.channels)
            self.decoders = nn.ModuleList(
                ConvDecoder(self.chart_dim, self.image_size, self.channels)
                for _ in range(self.n_charts))

    def config(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "size": self.image_size,
                "channels": self.channels, **self._common_config()}

    def _output(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits)

    def _train_error(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy per pixel, as the VAE: its gradient does not vanish on thin
        bright strokes over a black background, where squared error settles on the mean
        image."""
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).mean(1)

    def _feature_dim(self) -> int:
        return 64

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """Blurred 8x8 copies of the images (sigma: an eighth of the side), flattened."""
        x = self._images(x)
        return F.adaptive_avg_pool2d(_blur(x, self.image_size / 8), 8).flatten(1)


class PointChartAutoencoder(_ChartModel):
    """Chart autoencoder for point clouds in R^D (MLP encoder, one MLP decoder per chart).

    Same chart logic and parameters as :class:`ChartAutoencoder`, with ``ambient_dim`` D
    in place of the image size and ``hidden`` widths for the MLPs. Data are ``(k, D)``
    float tensors. Train it with :func:`topolib.training.train`, like the image model.
    """

    def __init__(self, n_charts: int = 4, chart_dim: int = 1, ambient_dim: int = 2,
                 hidden: int = 64, code_dim: int | None = None, tau: float = 0.1,
                 lipschitz: float = 0.0, warmup_steps: int = 100, prune_share: float = 0.01,
                 soft: bool = True, top_k: int | None = 2, patch_weight: float = 0.1,
                 seed: int = 0) -> None:
        super().__init__()
        self.ambient_dim = check_positive_int(ambient_dim, "ambient_dim")
        with seeded_init(check_seed(seed), "topolib.models.chart_autoencoder.points"):
            self._build_charts(n_charts, chart_dim, code_dim, hidden, tau, lipschitz,
                               warmup_steps, prune_share, seed, soft, top_k,
                               patch_weight)
            self.encoder = MLP(self.ambient_dim, self.code_dim, (self.hidden, self.hidden))
            self.decoders = nn.ModuleList(
                MLP(self.chart_dim, self.ambient_dim, (self.hidden, self.hidden))
                for _ in range(self.n_charts))

    def config(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "ambient_dim": self.ambient_dim,
                **self._common_config()}

    def _output(self, logits: torch.Tensor) -> torch.Tensor:
        return logits

    def _feature_dim(self) -> int:
        return self.ambient_dim

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self._images(x)

