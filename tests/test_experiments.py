"""The chapters' experiment helpers: training sets, fit (cached), evaluate, atlas, grid, table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from topolib import ModelCache
from topolib.datasets import get_dataset
from topolib.experiments import (
    evaluate,
    evaluate_all,
    fit,
    latent_atlas,
    latent_grid,
    summary_table,
    training_set,
)
from topolib.metrics import audit_path, geodesic_path_images
from topolib.models import GAN, VAE
from topolib.training import TrainConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CONFIG = TrainConfig(epochs=2, batch_size=64)


@pytest.fixture(scope="module")
def trained_vae():
    model = VAE(latent_dim=2, channels=8)
    fit(model, "circle", 256, CONFIG, seed=0, progress=False)
    return model


def test_training_set_is_seeded_and_described():
    images, params, config = training_set("torus", 20, 32, seed=3)
    again, params_again, _ = training_set("torus", 20, 32, seed=3)
    other, _, _ = training_set("torus", 20, 32, seed=4)
    assert images.shape == (20, 32, 32) and params.shape == (20, 2)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(params, params_again)
    assert not np.array_equal(images, other)
    assert config == {"dataset": "torus", "n": 20, "size": 32, "seed": 3,
                      "stream": "topolib.experiments.train.torus"}


def test_training_set_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n must"):
        training_set("circle", 0, 32, seed=0)
    with pytest.raises(ValueError, match="seed"):
        training_set("circle", 10, 32, seed=-1)
    with pytest.raises(ValueError, match="size"):
        training_set("circle", 10, 0, seed=0)


def test_fit_caches_by_dataset_and_configuration(tmp_path):
    cache = ModelCache(tmp_path)
    first = fit(VAE(latent_dim=1, channels=8), "circle", 128, CONFIG, seed=0, cache=cache,
                progress=False)
    again = fit(VAE(latent_dim=1, channels=8), "circle", 128, CONFIG, seed=0, cache=cache,
                progress=False)
    other_data = fit(VAE(latent_dim=1, channels=8), "disk", 128, CONFIG, seed=0, cache=cache,
                     progress=False)
    assert not first.from_cache and again.from_cache and not other_data.from_cache
    assert first.path.name.startswith("vae_circle_d1") or "vae_circle_d1" in str(first.path)
    for p_a, p_b in zip(first.model.parameters(), again.model.parameters(), strict=True):
        torch.testing.assert_close(p_a, p_b)


def test_fit_rejects_non_models():
    with pytest.raises(TypeError, match="model must be"):
        fit(torch.nn.Linear(2, 2), "circle", 16, CONFIG, seed=0)


def test_evaluate_measures_samples_and_paths(trained_vae):
    ev = evaluate(trained_vae, "circle", n_samples=60, n_pairs=3, seed=0, n_landmarks=30,
                  path_steps=6)
    assert ev.samples.shape == (60, 32, 32)
    assert ev.paths.shape == (3, 6, 32, 32) and ev.pair_params.shape == (3, 2, 1)
    assert len(ev.audits) == 3 and ev.model == "VAE" and ev.latent_dim == 2
    # paths are judged against the geodesic between the true end points
    ds = get_dataset("circle")
    for audit, ends in zip(ev.audits, ev.pair_params, strict=True):
        assert audit.geodesic == pytest.approx(float(ds.distance(ends[:1], ends[1:])[0]))
        assert np.isfinite(audit.endpoint_error)
    assert 0.0 <= ev.reconstruction_off <= 1.0
    row = ev.row()
    assert row["expected"] == (1, 1) and row["latent dim"] == 2
    assert set(ev.card.table["check"]) >= {"betti_z2", "off_manifold", "interpolation"}
    table = summary_table([ev, ev])
    assert isinstance(table, pd.DataFrame) and len(table) == 2
    assert {"off-manifold samples", "valid paths", "long-way paths"} <= set(table.columns)


def test_evaluate_is_reproducible(trained_vae):
    a = evaluate(trained_vae, "circle", n_samples=20, n_pairs=2, seed=1, n_landmarks=15,
                 path_steps=4)
    b = evaluate(trained_vae, "circle", n_samples=20, n_pairs=2, seed=1, n_landmarks=15,
                 path_steps=4)
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_array_equal(a.paths, b.paths)


def test_evaluate_inverts_a_gan():
    model = GAN(latent_dim=1, channels=8)
    ev = evaluate(model, "circle", n_samples=20, n_pairs=2, seed=0, n_landmarks=15,
                  path_steps=4, invert_steps=3)
    assert ev.paths.shape == (2, 4, 32, 32)


def test_evaluate_all_in_parallel_matches_one_by_one(trained_vae):
    gan = GAN(latent_dim=1, channels=8)
    jobs = {("circle", "vae"): (trained_vae, "circle"), ("circle", "gan"): (gan, "circle")}
    options = {"n_samples": 20, "n_pairs": 2, "seed": 1, "n_landmarks": 15, "path_steps": 4,
               "invert_steps": 3}
    parallel = evaluate_all(jobs, workers=2, **options)
    assert list(parallel) == list(jobs)
    for key, (model, dataset) in jobs.items():
        alone = evaluate(model, dataset, **options)
        np.testing.assert_allclose(parallel[key].samples, alone.samples, atol=1e-5)
        np.testing.assert_allclose(parallel[key].paths, alone.paths, atol=1e-4)
        assert parallel[key].row()["Betti (Z/2)"] == alone.row()["Betti (Z/2)"]
    assert list(evaluate_all(jobs, workers=1, **options)) == list(jobs)


def test_evaluate_all_rejects_bad_jobs(trained_vae):
    with pytest.raises(ValueError, match="jobs"):
        evaluate_all({}, n_samples=20, n_pairs=2, seed=0)
    with pytest.raises(ValueError, match="model, dataset"):
        evaluate_all({"a": trained_vae}, n_samples=20, n_pairs=2, seed=0)
    with pytest.raises(ValueError, match="workers"):
        evaluate_all({"a": (trained_vae, "circle")}, workers=0, n_samples=20, n_pairs=2, seed=0)


def test_summary_table_needs_evaluations():
    with pytest.raises(ValueError, match="evaluations is empty"):
        summary_table([])


def test_audit_failures_label_each_reason():
    ds = get_dataset("circle")
    a, b = np.array([0.0]), np.array([1.0])
    short = geodesic_path_images(ds, a, b, 12, 32)
    assert audit_path(short, ds).failures == ()
    long_way = ds.render(np.linspace(0.0, 1.0 - 2 * np.pi, 12)[:, None], 32)
    audit = audit_path(long_way, ds)
    assert "long way" in audit.failures and len(audit.failures) == len(audit.reasons)
    blank = np.zeros((6, 32, 32), np.float32)
    assert "off manifold" in audit_path(blank, ds).failures


def test_latent_atlas_projects_prior_draws(trained_vae):
    atlas = latent_atlas(trained_vae, "circle", 50, generator=0)
    assert atlas.z.shape == (50, 2) and atlas.coords.shape == (50, 1)
    assert atlas.off_manifold.shape == (50,) and atlas.off_manifold.dtype == bool
    assert ((atlas.coords >= 0) & (atlas.coords < 1)).all()
    np.testing.assert_array_equal(atlas.z, latent_atlas(trained_vae, "circle", 50, 0).z)


def test_latent_grid_shapes_and_checks(trained_vae):
    assert latent_grid(trained_vae, n_side=5).shape == (25, 32, 32)
    assert latent_grid(VAE(latent_dim=1, channels=8), n_side=7).shape == (7, 32, 32)
    wide = VAE(latent_dim=4, channels=8)
    plane = np.eye(4)[[1, 3]]
    assert latent_grid(wide, n_side=3, plane=plane).shape == (9, 32, 32)
    with pytest.raises(ValueError, match="plane must have shape"):
        latent_grid(wide, plane=np.eye(2))
    with pytest.raises(ValueError, match="span"):
        latent_grid(wide, span=0)
    # the grid's centre row decodes the codes along the first direction
    grid = latent_grid(trained_vae, n_side=3, span=1.0)
    with torch.no_grad():
        centre = trained_vae.decode(torch.tensor([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]))
    np.testing.assert_allclose(grid[3:6], centre[:, 0].numpy(), atol=1e-6)


def test_coordinate_colours_names_each_coordinate():
    from topolib.experiments import coordinate_colours

    ds = get_dataset("torus")
    coords = ds.coverage_coords(ds.sample_params(10, 0))
    colours = coordinate_colours("torus", coords)
    assert list(colours) == ["theta1 / 2 pi", "theta2 / 2 pi"]
    np.testing.assert_array_equal(colours["theta2 / 2 pi"], coords[:, 1])
    with pytest.raises(ValueError, match="coords must have shape"):
        coordinate_colours("circle", coords)
