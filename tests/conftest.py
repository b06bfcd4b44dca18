"""Shared fixtures: every test runs with a private model cache, no downloads of published models
and no profile override."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> None:
    monkeypatch.setenv("TOPOLIB_CACHE", str(tmp_path_factory.mktemp("model-cache")))
    monkeypatch.delenv("TOPOLIB_PROFILE", raising=False)
    monkeypatch.delenv("TOPOLIB_DEVICE", raising=False)
    monkeypatch.delenv("TOPOLIB_SMOKE", raising=False)
    monkeypatch.setenv("TOPOLIB_MODELS_URL", "")  # no downloads (the setup cell keeps this)
    monkeypatch.delenv("TOPOLIB_CACHE_LOG", raising=False)


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def one_torch_thread():
    """One torch thread: tiny models gain nothing from two, and lose a lot on a busy machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
