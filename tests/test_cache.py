import json
import warnings

import pytest
import torch

from topolib import ModelCache, config_key


@pytest.fixture
def cache(tmp_path):
    return ModelCache(tmp_path / "cache")


CONFIG = {"model": "vae", "latent_dim": 2, "lr": 1e-3, "layers": [32, 64], "seed": 0}


def test_key_is_order_independent_and_sensitive_to_every_value():
    assert config_key(CONFIG) == config_key(dict(reversed(list(CONFIG.items()))))
    for field, other in [("latent_dim", 3), ("lr", 2e-3), ("layers", [32, 65]), ("seed", 1)]:
        assert config_key({**CONFIG, field: other}) != config_key(CONFIG), field


def test_round_trip(cache):
    state = {"weight": torch.arange(6.0).reshape(2, 3), "history": [3.0, 2.0, 1.5]}
    path = cache.save("vae_circle", CONFIG, state)
    assert path.is_file() and cache.contains("vae_circle", CONFIG)
    loaded = cache.load("vae_circle", CONFIG)
    assert torch.equal(loaded["weight"], state["weight"]) and loaded["history"] == [3.0, 2.0, 1.5]
    stored = json.loads((path.parent / "config.json").read_text())
    assert stored["latent_dim"] == 2


def test_other_config_is_a_miss(cache):
    cache.save("vae_circle", CONFIG, {"w": torch.ones(1)})
    assert cache.load("vae_circle", {**CONFIG, "seed": 1}) is None


def test_never_overwrites_silently(cache):
    cache.save("vae_circle", CONFIG, {"w": torch.ones(1)})
    with pytest.raises(FileExistsError, match="overwrite=True"):
        cache.save("vae_circle", CONFIG, {"w": torch.zeros(1)})
    assert torch.equal(cache.load("vae_circle", CONFIG)["w"], torch.ones(1))
    cache.save("vae_circle", CONFIG, {"w": torch.zeros(1)}, overwrite=True)
    assert torch.equal(cache.load("vae_circle", CONFIG)["w"], torch.zeros(1))


def test_corrupt_entry_is_moved_aside_not_lost(cache):
    path = cache.save("vae_circle", CONFIG, {"w": torch.ones(1)})
    path.write_bytes(b"not a torch file")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cache.load("vae_circle", CONFIG) is None
    assert any("could not be loaded" in str(w.message) for w in caught)
    kept = list(path.parent.glob("state.pt.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"not a torch file"
    cache.save("vae_circle", CONFIG, {"w": torch.ones(1)})  # retraining can store again
    assert cache.load("vae_circle", CONFIG) is not None


class NotATensor:
    """Arbitrary pickled objects must never be unpickled from the cache."""


def test_pickled_objects_are_refused(cache):
    path = cache.save("vae_circle", CONFIG, {"w": torch.ones(1)})
    torch.save({"obj": NotATensor()}, path)
    with pytest.warns(RuntimeWarning, match="could not be loaded"):
        assert cache.load("vae_circle", CONFIG) is None


def test_default_root_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TOPOLIB_CACHE", str(tmp_path / "env-cache"))
    assert ModelCache().root == (tmp_path / "env-cache").resolve()


def test_bad_paths_give_clear_errors(tmp_path, monkeypatch):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="root must be a directory; .* is an existing file"):
        ModelCache(a_file)
    monkeypatch.setenv("TOPOLIB_CACHE", str(a_file))
    with pytest.raises(ValueError, match="TOPOLIB_CACHE"):
        ModelCache()
    with pytest.raises(ValueError, match="cannot be created"):
        ModelCache(a_file / "sub")
    with pytest.raises(TypeError, match="root must be a non-empty path"):
        ModelCache("")


def test_bad_names_and_configs(cache):
    with pytest.raises(ValueError, match="name must be a short identifier"):
        cache.entry_dir("../escape", CONFIG)
    with pytest.raises(TypeError, match=r"config value at config.fn must be"):
        config_key({"fn": print})
    with pytest.raises(ValueError, match="NaN"):
        config_key({"lr": float("nan")})
    with pytest.raises(TypeError, match="config must be a mapping"):
        config_key([1, 2])
