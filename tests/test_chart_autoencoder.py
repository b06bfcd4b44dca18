"""Chart autoencoder: chart assignment, the min-over-charts loss, pruning, sampling with
rejection, cross-chart interpolation, the cache round trip, input checks, and learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from topolib import ModelCache
from topolib.datasets import get_dataset
from topolib.datasets.point_clouds import circle_points
from topolib.experiments import fit
from topolib.models import ChartAutoencoder, GenerativeModel, PointChartAutoencoder
from topolib.models.chart_autoencoder import ChartCode, farthest_point_indices
from topolib.training import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def points() -> torch.Tensor:
    return torch.from_numpy(circle_points(600, seed=0)).float()


@pytest.fixture(scope="module")
def trained(points) -> tuple[PointChartAutoencoder, dict[str, list[float]]]:
    torch.set_num_threads(1)
    model = PointChartAutoencoder(n_charts=4, chart_dim=1, ambient_dim=2, hidden=32,
                                  warmup_steps=40, seed=0)
    history = train(model, points, TrainConfig(epochs=60, batch_size=64, seed=0, lr=3e-3),
                    progress=False).history
    model.refit_density(points)
    return model, history


def test_farthest_point_indices_spread_out(points):
    idx = farthest_point_indices(points, 4)
    chosen = points[idx]
    gaps = torch.pdist(chosen)
    assert len(set(idx.tolist())) == 4 and float(gaps.min()) > 1.2  # about a quarter turn
    with pytest.raises(ValueError, match="m >= k"):
        farthest_point_indices(points[:3], 4)


def test_point_model_learns_and_keeps_its_charts(trained, points):
    model, history = trained
    assert history["recon"][-1] < 0.2 * history["recon"][0]
    assert 2 <= len(model.surviving_charts()) <= 4
    recon = model.reconstruct(points)
    assert float((recon.norm(dim=1) - 1).abs().mean()) < 0.1


def test_chart_assignment(trained, points):
    model, _ = trained
    code = model.encode(points)
    assert isinstance(code, ChartCode) and code.chart.shape == (600,)
    assert code.coords.shape == (600, 1)
    assert float(code.coords.detach().min()) > 0 and float(code.coords.detach().max()) < 1
    errors, coords = model.chart_errors(points)
    assert errors.shape == (600, 4) and coords.shape == (600, 4, 1)
    by_error = model.encode(points, by="error").chart
    assert torch.equal(by_error, errors.argmin(1))
    # the predictor mostly agrees with the best chart, and every surviving chart is used
    assert float((code.chart == by_error).float().mean()) > 0.8
    assert set(code.chart.tolist()) == set(model.surviving_charts())
    # packed codes decode to the same points as the ChartCode
    assert torch.allclose(model.decode(code.packed()), model.decode(code))


def test_min_over_charts_loss():
    torch.manual_seed(0)
    model = PointChartAutoencoder(n_charts=3, chart_dim=1, ambient_dim=2, warmup_steps=1,
                                  soft=False, top_k=None, patch_weight=0.0, seed=1)
    x = torch.randn(32, 2)
    model.loss(x)  # warm-up step: seeds the charts
    losses = model.loss(x)
    errors, _ = model.chart_errors(x, kind="train")
    expected = 2 * errors.min(1).values.mean()  # points have 2 coordinates
    assert torch.allclose(losses["recon"], expected)
    # only the best chart of each point gets reconstruction gradient
    model.zero_grad()
    losses["recon"].backward()
    used = set(errors.argmin(1).tolist())
    for a in range(3):
        grad = sum(float(p.grad.abs().sum()) for p in model.decoders[a].parameters()
                   if p.grad is not None)
        assert (grad > 0) == (a in used)


def test_pruning_drops_charts_without_data():
    model = PointChartAutoencoder(n_charts=3, chart_dim=1, ambient_dim=2, warmup_steps=1,
                                  seed=0)
    x = torch.randn(16, 2)
    model.loss(x)
    with torch.no_grad():
        model.share.copy_(torch.tensor([0.7, 0.3, 0.0]))
        model.step.fill_(24)  # pruning runs every 25 steps
    model.loss(x)
    assert not bool(model.alive[2]) and model.surviving_charts() == [0, 1]
    errors, _ = model.chart_errors(x)
    assert torch.isinf(errors[:, 2]).all()
    with torch.no_grad():  # never prunes every chart
        model.share.zero_()
        model.step.fill_(49)
    model.loss(x)
    assert len(model.surviving_charts()) >= 1


def test_sampling_with_rejection(trained):
    model, _ = trained
    result = model.sample_charts(300, generator=0)
    assert result.data.shape == (300, 2)
    assert result.n_drawn >= 300 and 0 < result.acceptance_rate <= 1
    assert result.accepted.dtype == torch.bool and bool(result.accepted.all())
    assert set(result.chart.tolist()) <= set(model.surviving_charts())
    # samples lie near the circle; and a sample round-trips to the chart it was drawn from
    assert float((result.data.norm(dim=1) - 1).abs().mean()) < 0.1
    assert torch.equal(model.encode(result.data).chart, result.chart)
    assert torch.equal(model.sample(50, generator=3), model.sample(50, generator=3))
    # a chart with all the share gets all the samples
    alive = model.surviving_charts()
    saved = model.share.clone()
    with torch.no_grad():
        model.share.zero_()
        model.share[alive[0]] = 1.0
    try:
        assert set(model.sample_codes(100, generator=0).chart.tolist()) == {alive[0]}
    finally:
        with torch.no_grad():
            model.share.copy_(saved)


def test_cross_chart_interpolation(trained):
    model, _ = trained
    angles = torch.tensor([0.1, 1.7, 3.0, 4.4])
    a = torch.stack([angles.cos(), angles.sin()], 1)
    b = torch.stack([(angles + 2.8).cos(), (angles + 2.8).sin()], 1)
    paths, codes = model.interpolate_codes(a, b, n_steps=12)
    assert paths.shape == (4, 12, 2) and len(codes) == 4
    assert any(len(set(c.chart.tolist())) > 1 for c in codes)  # some path changes chart
    # the paths stay near the circle and take the short way round (< pi + slack)
    assert float((paths.norm(dim=-1) - 1).abs().max()) < 0.25
    turn = torch.atan2(paths[..., 1], paths[..., 0]).diff(dim=1)
    turn = (turn + np.pi) % (2 * np.pi) - np.pi
    assert float(turn.abs().sum(1).max()) < 3.6
    assert torch.equal(model.interpolate_many(a, b, 12), paths)
    straight, _ = model.interpolate_codes(a, b, n_steps=5, route="chart")
    assert straight.shape == (4, 5, 2)
    # transition maps: phi_ab . phi_ba is near the identity on an overlap
    u = torch.full((1, 1), 0.5)
    charts = model.surviving_charts()
    assert model.transition(charts[0], charts[1], u).shape == (1, 1)


def test_errors_on_bad_input(trained):
    model, _ = trained
    with pytest.raises(ValueError, match="code_dim must be at least"):
        ChartAutoencoder(n_charts=2, chart_dim=2, code_dim=4)
    with pytest.raises(ValueError, match="n_charts"):
        ChartAutoencoder(n_charts=0)
    with pytest.raises(ValueError, match="prune_share"):
        PointChartAutoencoder(prune_share=0.7)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2\)"):
        model.encode(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="packed tensor"):
        model.decode(torch.zeros(3, 1))
    with pytest.raises(ValueError, match="chart indices"):
        model.decode(torch.tensor([[7.0, 0.5]]))
    with pytest.raises(ValueError, match="route"):
        model.interpolate_codes(torch.zeros(1, 2), torch.zeros(1, 2), route="straight")
    with pytest.raises(ValueError, match="same number"):
        model.interpolate_codes(torch.zeros(1, 2), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="b must be a chart index"):
        model.transition(0, 9, torch.zeros(1, 1))
    with pytest.raises(ValueError, match="by must be"):
        model.encode(torch.zeros(1, 2), by="votes")


def test_image_model_learns_and_round_trips_the_cache(tmp_path):
    ds = get_dataset("circle")
    config = TrainConfig(epochs=6, batch_size=32, seed=0, lr=3e-3)
    make = lambda: ChartAutoencoder(n_charts=3, chart_dim=1, size=16, channels=4,  # noqa: E731
                                    warmup_steps=20, seed=0)
    model = make()
    assert isinstance(model, GenerativeModel) and model.latent_dim == 1
    bank = torch.from_numpy(ds.render(ds.param_bank(360), 16)).flatten(1)

    def distance(m: ChartAutoencoder) -> float:
        return float(torch.cdist(m.sample(64, generator=0).flatten(1), bank).min(1)
                     .values.mean())

    before = distance(model)
    cache = ModelCache(tmp_path)
    result = fit(model, "circle", 384, config, seed=0, cache=cache, progress=False)
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert distance(model) < before
    x = torch.from_numpy(ds.render(ds.sample_params(4, 0), 16))
    assert model.reconstruct(x).shape == (4, 1, 16, 16)
    assert model.invert(x).shape == (4, 2)  # packed: chart, then one coordinate
    assert model.interpolate_many(x[:2], x[2:], n_steps=6).shape == (2, 6, 1, 16, 16)
    again = fit(make(), "circle", 384, config, seed=0, cache=cache, progress=False)
    assert again.from_cache
    for k, v in model.state_dict().items():
        assert torch.equal(v, again.model.state_dict()[k]), k
    assert torch.equal(again.model.sample(8, generator=1), model.sample(8, generator=1))


def test_atlas_diagnostics_and_path_kinds():
    from topolib.chart_experiments import diagnose_atlas, path_kinds
    from topolib.experiments import evaluate

    model = ChartAutoencoder(n_charts=3, chart_dim=1, size=16, channels=4, warmup_steps=10,
                             seed=0)
    fit(model, "circle", 256, TrainConfig(epochs=3, batch_size=32, seed=0, lr=3e-3), seed=0,
        progress=False)
    diag = diagnose_atlas(model, "circle", n=80, seed=0)
    row = diag.row()
    assert row["minimum charts"] == 2 and 1 <= row["surviving charts"] <= 3
    assert diag.cover.shape == (80, 3) and diag.coords.shape == (80, 1)
    assert 0 <= row["acceptance"] <= 1 and diag.n_drawn >= 80
    assert diag.seams.ndim == 1 and diag.box_off[1] == 80
    assert diag.boundary_off[1] + diag.interior_off[1] == 80
    ev = evaluate(model, "circle", n_samples=20, n_pairs=3, seed=0, n_landmarks=10)
    kinds = path_kinds(model, ev)
    assert kinds["n"].sum() == 3 and list(kinds["pairs"]) == ["within one chart",
                                                              "across charts"]
    with pytest.raises(TypeError, match="ChartAutoencoder"):
        diagnose_atlas(object(), "circle")
