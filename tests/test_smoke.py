"""Smoke mode (TOPOLIB_SMOKE=1): real shapes, training cut to a step per epoch, a separate
cache, verdicts that never raise, stamps that say so; and the ``make smoke-gpu`` script."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

import topolib
from topolib.cache import ModelCache, default_cache_dir
from topolib.datasets import get_dataset
from topolib.models import VAE
from topolib.profiles import (
    SMOKE_BATCHES_PER_EPOCH,
    SMOKE_ITERATIONS,
    SMOKE_LANDMARKS,
    get_profile,
    smoke_iterations,
    smoke_landmarks,
    smoke_mode,
)
from topolib.training import TrainConfig, cache_config, train
from topolib.verdicts import SMOKE_MARK, VerdictError, verdict

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N, BATCH = 96, 16  # six batches per epoch
DATA_CONFIG = {"dataset": "circle", "n": N, "size": 32, "seed": 0}
TOOL = Path(__file__).resolve().parents[1] / "tools" / "smoke_gpu.py"


@pytest.fixture
def smoke(monkeypatch):
    monkeypatch.setenv("TOPOLIB_SMOKE", "1")


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.from_numpy(get_dataset("circle").sample(N, seed=0, size=32)[0])


def counted_vae() -> tuple[VAE, list[tuple[int, ...]]]:
    """A tiny VAE that records the shape of every batch it takes an optimizer step on."""
    model = VAE(latent_dim=2, channels=4)
    shapes: list[tuple[int, ...]] = []
    step = model.training_step

    def recording_step(x, optimizers, generator):
        shapes.append(tuple(x.shape))
        return step(x, optimizers, generator)

    model.training_step = recording_step
    return model, shapes


# ------------------------------------------------------------------ the switch


@pytest.mark.parametrize(("value", "on"), [(None, False), ("0", False), ("", False),
                                           ("1", True), (" True ", True), ("off", False)])
def test_the_variable_switches_smoke_mode(monkeypatch, value, on):
    if value is not None:
        monkeypatch.setenv("TOPOLIB_SMOKE", value)
    assert smoke_mode() is on
    assert get_profile("gpu").smoke is on


def test_a_bad_value_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("TOPOLIB_SMOKE", "maybe")
    with pytest.raises(ValueError, match="TOPOLIB_SMOKE must be 1 .* or 0 .*; got 'maybe'"):
        smoke_mode()


def test_doctor_shows_smoke_mode_and_a_bad_value(monkeypatch):
    monkeypatch.setenv("TOPOLIB_PROFILE", "gpu")
    monkeypatch.setenv("TOPOLIB_SMOKE", "1")
    assert topolib.doctor(print_report=False).profile == "gpu SMOKE RUN"
    monkeypatch.setenv("TOPOLIB_SMOKE", "perhaps")
    bad = topolib.doctor(print_report=False)
    assert not bad.ok and any("TOPOLIB_SMOKE to 0 or 1" in fix for _, fix in bad.problems)


def test_smoke_keeps_every_size_of_the_profile(smoke):
    real = topolib.profiles._PROFILES["gpu"]
    profile = get_profile("gpu")
    assert profile.smoke and not real.smoke
    assert (profile.name, profile.image_size, profile.n_samples, profile.n_landmarks) == \
        (real.name, real.image_size, real.n_samples, real.n_landmarks) == ("gpu", 64, 4000, 500)
    assert profile.choose(fast=1, cpu=2, gpu=3) == 3


# ------------------------------------------------------------------ training is capped


def test_each_epoch_is_cut_to_full_batches(smoke, images):
    model, shapes = counted_vae()
    seen = []
    result = train(model, images, TrainConfig(epochs=3, batch_size=BATCH), progress=False,
                   callback=lambda epoch, m, history: seen.append(epoch))
    assert len(shapes) == 3 * SMOKE_BATCHES_PER_EPOCH  # not 3 epochs x 6 batches
    assert set(shapes) == {(BATCH, 1, 32, 32)}  # the real batch shape
    assert seen == [1, 2, 3] and result.epochs == 3  # callbacks run at every epoch
    assert all(len(v) == 3 for v in result.history.values())


def test_without_smoke_every_batch_is_trained(images):
    model, shapes = counted_vae()
    train(model, images, TrainConfig(epochs=2, batch_size=BATCH), progress=False)
    assert len(shapes) == 2 * N // BATCH


def test_iterative_evaluation_loops_are_cut_but_keep_their_shapes(smoke):
    from topolib.models import DDPM, GAN

    assert smoke_iterations(300) == SMOKE_ITERATIONS and smoke_iterations(1) == 1
    ddpm = DDPM(size=16, channels=4)
    assert ddpm.diffusion.timesteps(50).tolist() == [0, ddpm.diffusion.t_start]
    assert ddpm.sample(3, 0, steps=50).shape == (3, 1, 16, 16)
    gan = GAN(latent_dim=2, size=32, channels=4)
    calls = []
    generate = gan._generate
    gan._generate = lambda z: calls.append(z.shape) or generate(z)
    assert gan.invert(torch.zeros(5, 1, 32, 32), steps=300, restarts=2).shape == (5, 2)
    assert calls == [(10, 2)] * (SMOKE_ITERATIONS + 1)  # the Adam steps, then the final pass


def test_without_smoke_the_loops_run_in_full():
    from topolib.models import DDPM

    assert smoke_iterations(300) == 300
    assert len(DDPM(size=16, channels=4).diffusion.timesteps(50)) == 50


def _circle_points(n: int = 300) -> np.ndarray:
    theta = np.random.default_rng(0).uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(theta), np.sin(theta)], axis=1)


def test_homology_takes_fewer_landmarks_in_smoke_mode(smoke):
    from topolib.metrics import persistent_homology

    assert smoke_landmarks(500) == SMOKE_LANDMARKS and smoke_landmarks(40) == 40
    result = persistent_homology(_circle_points(), maxdim=2, n_landmarks=250)
    assert result.n_landmarks == SMOKE_LANDMARKS and result.n_landmarks_requested == 250
    assert result.n_points == 300
    assert result.betti == {2: (1, 1, 0), 3: (1, 1, 0)}  # H0..H2, both fields, still computed


def test_without_smoke_homology_takes_every_landmark_asked_for():
    from topolib.metrics import persistent_homology

    assert smoke_landmarks(500) == 500
    assert persistent_homology(_circle_points(), maxdim=1, n_landmarks=250).n_landmarks == 250


def _gpu_models():
    """Each image model family as the model chapters build it at the gpu profile."""
    from topolib.models import DDPM, GAN, ChartAutoencoder

    size = get_profile("gpu").image_size
    return {
        "VAE": lambda: VAE(latent_dim=3, size=size, channels=32),
        "GAN": lambda: GAN(latent_dim=3, size=size, channels=32),
        "CAE": lambda: ChartAutoencoder(n_charts=8, chart_dim=2, size=size, channels=64,
                                        warmup_steps=400),
        "DDPM": lambda: DDPM(size=size, channels=32),
    }


@pytest.mark.parametrize("family", ["VAE", "GAN", "CAE", "DDPM"])
def test_every_image_model_trains_samples_and_interpolates_at_gpu_size(smoke, family):
    """The model-level part of ``make smoke-gpu``, cheap enough for every test run."""
    size = get_profile("gpu").image_size
    images = torch.from_numpy(get_dataset("sphere").sample(16, seed=0, size=size)[0])
    model = _gpu_models()[family]()
    result = train(model, images, TrainConfig(epochs=2, batch_size=8), progress=False)
    assert all(len(v) == 2 for v in result.history.values())
    assert model.sample(3, 0).shape == (3, 1, size, size)
    paths = model.interpolate_many(images[:2, None], images[2:4, None], 4, invert_steps=300)
    assert paths.shape == (2, 4, 1, size, size)


# ------------------------------------------------------------------ a separate cache


def test_smoke_models_are_keyed_and_stored_apart(monkeypatch, tmp_path, images):
    monkeypatch.setenv("TOPOLIB_CACHE", str(tmp_path / "models"))
    config = TrainConfig(epochs=1, batch_size=BATCH)
    real_key = cache_config(VAE(latent_dim=2, channels=4), DATA_CONFIG, config)
    assert "smoke" not in real_key
    assert default_cache_dir() == tmp_path / "models"

    monkeypatch.setenv("TOPOLIB_SMOKE", "1")
    assert default_cache_dir() == tmp_path / "models-smoke"
    assert ModelCache(models_url="https://example.org/models").models_url is None
    assert cache_config(VAE(latent_dim=2, channels=4), DATA_CONFIG, config)["smoke"]
    shared = ModelCache(tmp_path / "shared")  # even one cache folder given by hand
    kwargs = {"cache": shared, "name": "tiny", "data_config": DATA_CONFIG, "progress": False}
    smoked = train(VAE(latent_dim=2, channels=4), images, config, **kwargs)
    assert not smoked.from_cache
    assert train(VAE(latent_dim=2, channels=4), images, config, **kwargs).from_cache

    monkeypatch.delenv("TOPOLIB_SMOKE")
    real = train(VAE(latent_dim=2, channels=4), images, config, **kwargs)
    assert not real.from_cache and real.key != smoked.key  # never loaded as a real model


# ------------------------------------------------------------------ verdicts and stamps


def test_verdicts_run_but_never_raise_and_are_marked(smoke):
    with pytest.raises(TypeError, match="condition must be a bool"):
        verdict(0.3, "The loop is kept.")  # the verdict code still runs
    claim = verdict(False, "The loop is kept.", profile="gpu")
    assert not claim.holds and str(claim) == f"{SMOKE_MARK}\n\nThe loop is kept."
    chosen = verdict(False, "The loop is kept.", otherwise="The loop is lost.")
    assert str(chosen).startswith(SMOKE_MARK) and str(chosen).endswith("The loop is lost.")
    assert str(verdict(True, "The control passes.")).startswith(SMOKE_MARK)


def test_without_smoke_a_false_claim_still_raises():
    with pytest.raises(VerdictError):
        verdict(False, "The loop is kept.", profile="gpu")


def test_stamp_and_banner_say_smoke(smoke):
    chapter = topolib.start_chapter(profile="gpu", device="cpu")
    assert "profile=gpu SMOKE RUN · seed=0" in chapter.stamp
    assert "mean nothing" in repr(chapter) and "Smoke run" in chapter._repr_html_()
    assert "SMOKE" not in topolib.stamp(topolib.profiles._PROFILES["gpu"], 0, "cpu")


# ------------------------------------------------------------------ make smoke-gpu


def _tool():
    spec = importlib.util.spec_from_file_location("smoke_gpu", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_script_runs_chapters_in_smoke_mode_and_reports_failures(tmp_path):
    code = ("import os, topolib\n"
            "p = topolib.get_profile()\n"
            "assert (p.name, p.smoke, p.image_size) == ('gpu', True, 64)\n"
            "assert os.environ['TOPOLIB_CACHE'] != {home!r}\n"
            "assert topolib.ModelCache().root.name.endswith('-smoke')\n")
    for name, body in [("01_good.ipynb", code.format(home=str(default_cache_dir()))),
                       ("02_bad.ipynb", "raise ValueError('a size bug')")]:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(body)])
        nbformat.write(nb, str(tmp_path / name))
    run = subprocess.run([sys.executable, str(TOOL),
                          str(tmp_path / "01_good.ipynb"), str(tmp_path / "02_bad.ipynb"),
                          "--timeout", "120"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "ok     01_good.ipynb" in run.stdout
    assert "FAILED 02_bad.ipynb" in run.stderr and "a size bug" in run.stderr
    assert "1 of 2 chapters passed" in run.stdout


def test_the_script_checks_its_arguments(tmp_path, capsys):
    tool = _tool()
    with pytest.raises(SystemExit):
        tool.main(["--workers", "0"])
    assert "--workers must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main([str(tmp_path / "missing.ipynb")])
    assert "no such notebook" in capsys.readouterr().err
    env = tool.smoke_environment(tmp_path, threads=1)
    assert env["TOPOLIB_PROFILE"] == "gpu" and env["TOPOLIB_SMOKE"] == "1"
    assert env["OMP_NUM_THREADS"] == "1" and env["TOPOLIB_CACHE"] == str(tmp_path)
