"""Models published with the site: downloaded on a cache miss, verified, or trained instead.

A local HTTP server (standard library, one thread) serves a site folder written by
``tools/publish_models.py``; every failure (wrong hash, wrong configuration, 404, refused
connection) must warn and fall back to training, and a local entry is never replaced.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import socket
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
import yaml

from topolib import published
from topolib.cache import ModelCache
from topolib.datasets import get_dataset
from topolib.models import VAE
from topolib.training import TrainConfig, train

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from publish_models import publish  # noqa: E402

N = 64
DATA_CONFIG = {"dataset": "circle", "n": N, "size": 32, "seed": 0}
CONFIG = TrainConfig(epochs=2, batch_size=32)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture
def site(tmp_path):
    """``(folder, url)``: a local HTTP server serving ``folder``; ``url`` is its models/."""
    folder = tmp_path / "site"
    folder.mkdir()
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/models"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _fresh_manifests(monkeypatch, tmp_path):
    published._manifests.clear()  # each test asks its own server afresh
    monkeypatch.setenv(published.LOG_VARIABLE, str(tmp_path / "cache-log.txt"))
    yield
    published._manifests.clear()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.from_numpy(get_dataset("circle").sample(N, seed=0, size=32)[0])


def events(tmp_path: Path) -> list[str]:
    log = tmp_path / "cache-log.txt"
    return [line.split(" ")[0] for line in log.read_text().splitlines()] if log.exists() else []


def fit(images, cache: ModelCache):
    model = VAE(latent_dim=2, channels=4, seed=0)
    return train(model, images, CONFIG, cache=cache, name="tiny_vae", data_config=DATA_CONFIG,
                 progress=False)


@pytest.fixture
def published_site(tmp_path, site, images):
    """A site publishing one tiny trained VAE, built as ``make book`` does; its state file."""
    folder, url = site
    trained = fit(images, ModelCache(tmp_path / "build-cache"))
    publish(tmp_path / "cache-log.txt", tmp_path / "build-cache", folder / "models")
    (tmp_path / "cache-log.txt").unlink()
    state = folder / "models" / trained.path.name / "state.pt"
    assert state.is_file()
    return url, state, trained


def test_a_matching_download_is_used_and_nothing_trains(tmp_path, published_site, images):
    url, state, trained = published_site
    manifest = json.loads((state.parents[1] / "manifest.json").read_text())
    record = manifest["entries"][state.parent.name]
    assert record["files"]["state.pt"]["sha256"] == hashlib.sha256(state.read_bytes()).hexdigest()
    assert record["config"]["data"] == DATA_CONFIG and record["topolib_version"]
    cache = ModelCache(tmp_path / "student", models_url=url)
    again = fit(images, cache)
    assert again.from_cache and "train" not in events(tmp_path)
    assert events(tmp_path) == ["download", "load"]
    assert all(torch.equal(a, b) for a, b in zip(again.model.state_dict().values(),
                                                  trained.model.state_dict().values(), strict=True))
    local = tmp_path / "student" / state.parent.name
    assert (local / "state.pt").read_bytes() == state.read_bytes()
    assert json.loads((local / "config.json").read_text()) == record["config"]


def test_a_corrupt_file_is_refused_and_the_model_retrains(tmp_path, published_site, images):
    url, state, _ = published_site
    data = bytearray(state.read_bytes())
    data[len(data) // 2] ^= 0xFF
    state.write_bytes(bytes(data))
    with pytest.warns(RuntimeWarning, match="SHA-256 differs"):
        again = fit(images, ModelCache(tmp_path / "student", models_url=url))
    assert not again.from_cache and "train" in events(tmp_path)
    assert "download" not in events(tmp_path)


def test_a_configuration_that_differs_is_refused(tmp_path, published_site, images):
    url, state, _ = published_site
    manifest_file = state.parents[1] / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["entries"][state.parent.name]["config"]["train"]["epochs"] = 99
    manifest_file.write_text(json.dumps(manifest))
    with pytest.warns(RuntimeWarning, match="configuration in the manifest differs"):
        again = fit(images, ModelCache(tmp_path / "student", models_url=url))
    assert not again.from_cache


def test_a_missing_file_404_falls_back_to_training(tmp_path, published_site, images):
    url, state, _ = published_site
    state.unlink()
    with pytest.warns(RuntimeWarning, match="HTTP 404"):
        again = fit(images, ModelCache(tmp_path / "student", models_url=url))
    assert not again.from_cache and "train" in events(tmp_path)


def test_no_manifest_warns_once_and_trains(tmp_path, site, images):
    _, url = site  # the server has no models folder at all
    with pytest.warns(RuntimeWarning, match="HTTP 404.*trained here") as caught:
        first = fit(images, ModelCache(tmp_path / "a", models_url=url))
        second = fit(images, ModelCache(tmp_path / "b", models_url=url))
    assert not first.from_cache and not second.from_cache
    assert len([w for w in caught if "published models" in str(w.message)]) == 1


def test_a_refused_connection_falls_back_to_training(tmp_path, images):
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.warns(RuntimeWarning, match="network error"):
        again = fit(images, ModelCache(tmp_path / "student",
                                       models_url=f"http://127.0.0.1:{port}/models"))
    assert not again.from_cache and "train" in events(tmp_path)


def test_a_server_that_never_answers_times_out_and_trains(tmp_path, images, monkeypatch):
    monkeypatch.setattr(published, "TIMEOUT", 0.3)
    with socket.socket() as sock:  # accepts connections (backlog) but never replies
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/models"
        with pytest.warns(RuntimeWarning, match="timed out|no answer within"):
            again = fit(images, ModelCache(tmp_path / "student", models_url=url))
    assert not again.from_cache and "train" in events(tmp_path)


def test_an_existing_local_entry_is_never_overwritten(tmp_path, published_site):
    url, state, trained = published_site
    config = json.loads((state.parent.parent / "manifest.json").read_text())[
        "entries"][state.parent.name]["config"]
    cache = ModelCache(tmp_path / "student", models_url=url)
    mine = cache.save("tiny_vae", config, {"mine": torch.ones(3)}, filename="state.pt")
    before = mine.read_bytes()
    assert cache.load("tiny_vae", config)["mine"].tolist() == [1.0, 1.0, 1.0]
    assert "download" not in events(tmp_path)
    # Even if the file appears between the miss and the download, the local one wins.
    published._store(mine.parent, "state.pt", state.read_bytes(), config)
    assert mine.read_bytes() == before


def test_what_is_not_published_is_a_quiet_miss(tmp_path, published_site, recwarn):
    url, _, _ = published_site
    cache = ModelCache(tmp_path / "student", models_url=url)
    assert cache.load("tiny_vae", {"something": "else"}) is None
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_models_url_comes_from_the_environment_and_can_be_switched_off(tmp_path, monkeypatch):
    monkeypatch.setenv("TOPOLIB_MODELS_URL", "http://example.invalid/models/")
    assert ModelCache(tmp_path).models_url == "http://example.invalid/models"
    assert ModelCache(tmp_path, models_url=None).models_url is None
    monkeypatch.setenv("TOPOLIB_MODELS_URL", "")
    assert ModelCache(tmp_path).models_url is None
    monkeypatch.setenv("TOPOLIB_MODELS_URL", "example.org/models")
    with pytest.raises(ValueError, match="TOPOLIB_MODELS_URL must start with http"):
        ModelCache(tmp_path)
    with pytest.raises(ValueError, match="models_url must start with http"):
        ModelCache(tmp_path, models_url="ftp://example.org")
    with pytest.raises(TypeError, match="models_url must be a URL string"):
        ModelCache(tmp_path, models_url=3)


def test_the_site_address_lives_in_config_yml_only(repo):
    """Like the repository URL: _config.yml names it, the setup cell is written from it."""
    from setup_cell import models_url, setup_cell_source

    baseurl = yaml.safe_load((repo / "_config.yml").read_text())["html"]["baseurl"]
    assert models_url(repo) == baseurl.rstrip("/") + "/models"
    assert f'"TOPOLIB_MODELS_URL", "{models_url(repo)}"' in setup_cell_source(0, repo)
    host = baseurl.split("//")[1].split("/")[0]
    listed = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True)
    tracked = [repo / name for name in listed.stdout.split() if not name.endswith(".ipynb")]
    elsewhere = [str(p.relative_to(repo)) for p in tracked if p.is_file()
                 and host in p.read_text(errors="ignore") and p.name != "_config.yml"]
    assert not elsewhere, f"the site address is typed outside _config.yml in {elsewhere}"


def test_publish_skips_checkpoints_and_unknown_files(tmp_path):
    cache = ModelCache(tmp_path / "cache")
    config = {"a": 1}
    cache.save("thing", config, {"w": torch.ones(1)})
    cache.save("thing", config, {"w": torch.ones(1)}, filename="checkpoint.pt")
    folder = cache.entry_dir("thing", config).name
    log = tmp_path / "log.txt"
    log.write_text(f"save {folder}/state.pt\nsave {folder}/checkpoint.pt\ntrain {folder}/x.pt\n"
                   f"load gone-0123456789abcdef/state.pt\n")
    manifest = publish(log, cache.root, tmp_path / "out")
    assert list(manifest["entries"]) == [folder]
    assert list(manifest["entries"][folder]["files"]) == ["state.pt"]
    assert sorted(p.name for p in (tmp_path / "out" / folder).iterdir()) == ["state.pt"]
    shutil.rmtree(tmp_path / "out")


@pytest.mark.notebook
def test_a_chapter_with_an_empty_cache_trains_nothing_when_its_models_are_served(
    tmp_path, site, monkeypatch
):
    """The acceptance check: build -> publish -> a student's empty cache -> nothing trains.

    Three fast-profile runs of the chapter (about 35 s of CPU each; 6 minutes of wall time
    on the shared 2-core machine at load 5-10).
    """
    from notebook_runner import execute_notebook, output_text

    folder, url = site
    chapter = REPO / "notebooks" / "03_vaes.ipynb"

    def run(name: str, models_url: str) -> tuple[list[tuple[str, str]], str]:
        log = tmp_path / f"{name}.log"
        monkeypatch.setenv("TOPOLIB_CACHE", str(tmp_path / name))
        monkeypatch.setenv("TOPOLIB_CACHE_LOG", str(log))
        monkeypatch.setenv("TOPOLIB_MODELS_URL", models_url)
        text = output_text(execute_notebook(chapter, profile="fast"))
        return [tuple(line.split(" ", 1)) for line in log.read_text().splitlines()], text

    def which(log: list[tuple[str, str]], event: str) -> set[str]:
        return {where for what, where in log if what == event}

    built, _ = run("build", "")  # the book build: trains, no downloads
    assert which(built, "train") and not which(built, "download")
    publish(tmp_path / "build.log", tmp_path / "build", folder / "models")

    student, text = run("student", url)
    assert not which(student, "train"), "a model was trained although it was published"
    assert which(built, "train") <= which(student, "download")
    assert "cannot be used" not in text and "was not used" not in text

    victim = sorted(which(built, "train"))[0]
    served = folder / "models" / victim
    served.write_bytes(served.read_bytes()[:-7] + b"corrupt")
    again, text = run("corrupt", url)
    assert which(again, "train") == {victim}
    assert "SHA-256 differs" in text


def test_publish_without_a_log_writes_an_empty_manifest(tmp_path, capsys):
    from publish_models import main

    assert main(["--log", str(tmp_path / "none.txt"), "--cache", str(tmp_path / "cache"),
                 "--out", str(tmp_path / "out")]) == 0
    assert "no models are published" in capsys.readouterr().err
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["entries"] == {}
