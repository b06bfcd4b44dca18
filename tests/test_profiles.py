import pytest
import torch

from topolib import PROFILE_NAMES, Profile, get_device, get_profile


def test_names_and_ordering_of_sizes():
    assert PROFILE_NAMES == ("fast", "cpu", "gpu")
    fast, cpu, gpu = (get_profile(n) for n in PROFILE_NAMES)
    for attr in ("n_samples", "n_landmarks"):
        assert getattr(fast, attr) < getattr(cpu, attr) < getattr(gpu, attr), attr
    assert fast.is_fast and not cpu.is_fast


def test_environment_variable_selects_profile(monkeypatch):
    monkeypatch.setenv("TOPOLIB_PROFILE", " Fast ")
    assert get_profile().name == "fast"


def test_argument_beats_environment(monkeypatch):
    monkeypatch.setenv("TOPOLIB_PROFILE", "fast")
    assert get_profile("gpu").name == "gpu"


def test_detection_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_profile().name == "cpu"


def test_detection_with_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_profile().name == "gpu"


def test_bad_name_is_a_clear_error(monkeypatch):
    with pytest.raises(ValueError, match=r"name must be one of 'fast', 'cpu', 'gpu'; got 'laptop'"):
        get_profile("laptop")
    monkeypatch.setenv("TOPOLIB_PROFILE", "quick")
    with pytest.raises(ValueError, match="TOPOLIB_PROFILE must be one of .*'quick'"):
        get_profile()
    with pytest.raises(TypeError, match="Profile or None"):
        get_profile(3)


def test_choose_and_passthrough():
    cpu = get_profile("cpu")
    assert cpu.choose(fast=1, cpu=2, gpu=3) == 2
    assert get_profile(cpu) is cpu
    assert isinstance(cpu, Profile)


def test_device_selection(monkeypatch):
    assert get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("TOPOLIB_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        get_device("cuda")
    with pytest.raises(ValueError, match="name must be a torch device"):
        get_device("banana")
