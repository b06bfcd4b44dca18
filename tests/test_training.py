"""The training loop: checks, determinism, history, the cache, resuming and early stopping."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch

from topolib.cache import ModelCache
from topolib.datasets import ManifoldImages, get_dataset
from topolib.models import GAN, VAE
from topolib.training import TrainConfig, TrainResult, cache_config, train

N = 96
DATA_CONFIG = {"dataset": "circle", "n": N, "size": 32, "seed": 0}
CONFIG = TrainConfig(epochs=4, batch_size=32, checkpoint_every=2)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.from_numpy(get_dataset("circle").sample(N, seed=0, size=32)[0])


@pytest.fixture
def cache(tmp_path) -> ModelCache:
    return ModelCache(tmp_path / "cache")


def tiny(cls=VAE, **kwargs):
    return cls(**{"latent_dim": 2, "channels": 4, **kwargs})


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                 b.state_dict().values(), strict=True))


def fit(model, images, cache, config=CONFIG, **kwargs) -> TrainResult:
    kwargs = {"name": "tiny", "data_config": DATA_CONFIG, "progress": False, **kwargs}
    return train(model, images, config, cache=cache, **kwargs)


class Interrupt(Exception):
    pass


def interrupt_after(epoch_to_fail: int):
    def callback(epoch, model, history):
        if epoch == epoch_to_fail:
            raise Interrupt(f"killed after epoch {epoch}")
    return callback


# ---------------------------------------------------------------------- checks


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("epochs", 0, "epochs must be a positive integer"),
        ("epochs", -3, "epochs must be a positive integer"),
        ("batch_size", 0, "batch_size must be a positive integer"),
        ("lr", -1e-3, "lr must be None or a finite number > 0"),
        ("lr", float("nan"), "lr must be None or a finite number > 0"),
        ("seed", -1, "seed must be a non-negative integer"),
        ("betas", (0.5, 1.5), "betas must be None or a pair"),
        ("patience", 0, "patience must be a positive integer"),
        ("min_delta", -1.0, "min_delta must be a finite number >= 0"),
        ("checkpoint_every", 0, "checkpoint_every must be a positive integer"),
    ],
)
def test_bad_train_config(field, value, message):
    with pytest.raises((ValueError, TypeError), match=message):
        TrainConfig(**{field: value})


def test_train_config_is_frozen_and_key_skips_checkpointing():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CONFIG.epochs = 3  # type: ignore[misc]
    assert "checkpoint_every" not in CONFIG.key() and CONFIG.key()["epochs"] == 4


def test_bad_data(images, cache):
    model = tiny()
    with pytest.raises(ValueError, match=r"data must have shape \(n, 1, 32, 32\)"):
        train(model, torch.zeros(8, 1, 64, 64), CONFIG, progress=False)
    with pytest.raises(ValueError, match="data must have shape"):
        train(model, torch.zeros(0, 32, 32), CONFIG, progress=False)
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        train(model, images * 255, CONFIG, progress=False)
    with pytest.raises(ValueError, match="data must be finite"):
        train(model, torch.full((4, 32, 32), float("nan")), CONFIG, progress=False)
    with pytest.raises(ValueError, match="data_config says n=200 but data has 96 images"):
        fit(model, images, cache, data_config={**DATA_CONFIG, "n": 200})
    with pytest.raises(ValueError, match="data_config says size=64"):
        fit(model, images, cache, data_config={**DATA_CONFIG, "size": 64})
    with pytest.raises(ValueError, match="data_config is required with a cache"):
        fit(model, images, cache, data_config=None)
    with pytest.raises(TypeError, match="model must be a topolib GenerativeModel"):
        train(torch.nn.Linear(2, 2), images, CONFIG)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        train(model, images, {"epochs": 2})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="patience must be None for a GAN"):
        train(tiny(GAN), images, TrainConfig(patience=2), progress=False)


# ---------------------------------------------------------------------- the loop


def test_history_determinism_and_random_state(images):
    torch_state = torch.get_rng_state()
    a = train(tiny(), images, CONFIG, progress=False)
    assert torch.equal(torch.get_rng_state(), torch_state)
    b = train(tiny(), images.numpy(), CONFIG, progress=False)  # numpy input, same result
    c = train(tiny(), images, dataclasses.replace(CONFIG, seed=1), progress=False)
    assert a.history == b.history and same_weights(a.model, b.model)
    assert not same_weights(a.model, c.model)
    assert {k: len(v) for k, v in a.history.items()} == {"loss": 4, "recon": 4, "kl": 4}
    assert a.epochs == 4 and not a.from_cache and a.key is None and a.trained_on == "cpu"
    assert not a.model.training  # left in eval mode


def test_progress_bar_and_dataset_input(images, capsys):
    dataset = ManifoldImages("circle", n=40, seed=0)
    result = train(tiny(), dataset, TrainConfig(epochs=1, batch_size=16), progress=True)
    assert len(result.history["loss"]) == 1
    assert "VAE" in capsys.readouterr().err  # the tqdm bar, on stderr


def test_callback_sees_every_epoch(images):
    seen = []
    train(tiny(), images, CONFIG, progress=False,
          callback=lambda epoch, model, history: seen.append((epoch, len(history["loss"]))))
    assert seen == [(1, 1), (2, 2), (3, 3), (4, 4)]


def test_subnormal_floats_are_flushed_while_training_only(images):
    """Subnormal Adam moments slow CPU training many times over; train treats them as zero."""
    subnormal = torch.tensor([1e-40], dtype=torch.float32)
    assert subnormal.item() > 0  # kept outside training
    during = []
    train(tiny(), images, dataclasses.replace(CONFIG, epochs=1), progress=False,
          callback=lambda epoch, model, history: during.append((subnormal * 1.0).item()))
    assert during == [0.0]
    assert (subnormal * 1.0).item() > 0  # switched off again after training


def test_sampling_in_a_callback_does_not_change_training(images):
    """Looking at samples mid-training (batch norm in G, noise) leaves the run unchanged."""
    plain = train(tiny(GAN), images, CONFIG, progress=False)
    peeked = train(tiny(GAN), images, CONFIG, progress=False,
                   callback=lambda epoch, model, history: model.sample(4, generator=epoch))
    assert same_weights(plain.model, peeked.model) and plain.history == peeked.history


def test_early_stopping(images, cache):
    config = TrainConfig(epochs=6, batch_size=32, patience=1, min_delta=1e9)
    result = fit(tiny(), images, cache, config)
    assert result.stopped_early and result.epochs == 2 and len(result.history["loss"]) == 2
    again = fit(tiny(), images, cache, config)
    assert again.from_cache and again.stopped_early and again.epochs == 2


# ---------------------------------------------------------------------- the cache


def test_cache_hit_skips_training(images, cache, monkeypatch):
    first = fit(tiny(), images, cache)
    assert not first.from_cache and first.path is not None
    assert sorted(p.name for p in first.path.iterdir()) == ["config.json", "state.pt"]
    model = tiny()

    def no_training(*args, **kwargs):
        raise AssertionError("a cache hit must not train")

    monkeypatch.setattr(model, "training_step", no_training)
    second = fit(model, images, cache)
    assert second.from_cache and second.key == first.key
    assert second.history == first.history and second.epochs == 4
    assert second.train_seconds == pytest.approx(first.train_seconds)
    assert same_weights(second.model, first.model)
    assert second.seconds < first.seconds


@pytest.mark.parametrize(
    "change",
    [
        {"config": dataclasses.replace(CONFIG, lr=2e-3)},
        {"config": dataclasses.replace(CONFIG, seed=1)},
        {"model": {"latent_dim": 3}},
        {"model": {"seed": 1}},
        {"data_config": {**DATA_CONFIG, "seed": 1}},
        {"name": "other"},
    ],
)
def test_different_configuration_misses(images, cache, change):
    fit(tiny(), images, cache)
    kwargs = {k: v for k, v in change.items() if k != "model"}
    result = fit(tiny(**change.get("model", {})), images, cache, **kwargs)
    assert not result.from_cache


def test_checkpoint_frequency_is_not_in_the_key(images, cache):
    first = fit(tiny(), images, cache)
    other = fit(tiny(), images, cache, dataclasses.replace(CONFIG, checkpoint_every=1))
    assert other.from_cache and other.key == first.key


def test_cache_key_holds_the_full_configuration():
    key = cache_config(tiny(), DATA_CONFIG, CONFIG)
    assert key["model"] == {"class": "VAE", "latent_dim": 2, "size": 32, "channels": 4,
                            "beta": 1.0, "seed": 0}
    assert key["data"] == DATA_CONFIG and key["train"] == CONFIG.key()
    assert "topolib_version" in key


@pytest.mark.parametrize("cls", [VAE, GAN])
def test_resume_after_interruption_matches_an_uninterrupted_run(images, cache, cls):
    with pytest.raises(Interrupt):
        fit(tiny(cls), images, cache, callback=interrupt_after(3))
    folder = cache.entry_dir("tiny", cache_config(tiny(cls), DATA_CONFIG, CONFIG))
    assert (folder / "checkpoint.pt").is_file() and not (folder / "state.pt").exists()
    stored = torch.load(folder / "checkpoint.pt", weights_only=True)
    assert stored["epoch"] == 2

    epochs_run = []
    resumed = fit(tiny(cls), images, cache, callback=lambda e, m, h: epochs_run.append(e))
    assert resumed.resumed_from == 2 and epochs_run == [3, 4] and not resumed.from_cache
    assert not (folder / "checkpoint.pt").exists()  # replaced by the final state

    straight = train(tiny(cls), images, CONFIG, progress=False)
    assert resumed.history == straight.history
    assert same_weights(resumed.model, straight.model)


def test_corrupt_entry_is_retrained(images, cache):
    first = fit(tiny(), images, cache)
    (first.path / "state.pt").write_bytes(b"not a torch file")
    with pytest.warns(RuntimeWarning, match="moved it to"):
        again = fit(tiny(), images, cache)
    assert not again.from_cache and again.history == first.history
    assert any(p.name.startswith("state.pt.corrupt-") for p in first.path.iterdir())
    assert fit(tiny(), images, cache).from_cache


@pytest.mark.parametrize("damage", ["foreign keys", "partial weights"])
def test_readable_but_wrong_entry_is_retrained(images, cache, damage):
    first = fit(tiny(), images, cache)
    state = torch.load(first.path / "state.pt", weights_only=True)
    if damage == "foreign keys":
        state["model"] = {"nonsense": torch.zeros(1)}
    else:  # right names, one wrong shape: load_state_dict copies the others before failing
        state["model"]["decoder.net.0.weight"] = torch.zeros(3, 3)
    torch.save(state, first.path / "state.pt")
    with pytest.warns(RuntimeWarning, match="unusable"):
        again = fit(tiny(), images, cache)
    assert not again.from_cache and same_weights(again.model, first.model)


def test_corrupt_checkpoint_starts_afresh(images, cache):
    with pytest.raises(Interrupt):
        fit(tiny(), images, cache, callback=interrupt_after(3))
    folder = cache.entry_dir("tiny", cache_config(tiny(), DATA_CONFIG, CONFIG))
    (folder / "checkpoint.pt").write_bytes(b"\x00garbage")
    with pytest.warns(RuntimeWarning):
        result = fit(tiny(), images, cache)
    assert result.resumed_from == 0 and len(result.history["loss"]) == 4


def test_trained_model_is_refused_with_a_cache(images, cache):
    model = tiny()
    train(model, images, TrainConfig(epochs=1), progress=False)  # fine without a cache
    with pytest.raises(ValueError, match="model must be freshly built"):
        fit(model, images, cache)


def test_mislabelled_data_warns_on_a_hit(images, cache):
    fit(tiny(), images, cache)
    with pytest.warns(RuntimeWarning, match="trained on data that differ"):
        other = torch.from_numpy(get_dataset("disk").sample(N, seed=0, size=32)[0])
        result = fit(tiny(), other, cache)
    assert result.from_cache


def test_cache_files_load_with_weights_only(images, cache):
    result = fit(tiny(GAN), images, cache)
    state = torch.load(result.path / "state.pt", weights_only=True)
    assert set(state) >= {"model", "history", "epochs", "train_seconds"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fit(tiny(GAN), images, cache).from_cache
    assert isinstance(state["history"]["loss_g"][0], float)
    assert np.isfinite(state["history"]["loss_d"]).all()
