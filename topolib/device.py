"""Choosing the torch device."""

from __future__ import annotations

import os

import torch

__all__ = ["device_name", "get_device"]

ENV_VAR = "TOPOLIB_DEVICE"


def get_device(name: str | torch.device | None = None) -> torch.device:
    """Return the device to compute on.

    Parameters
    ----------
    name : ``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``torch.device`` or None. None reads
        ``TOPOLIB_DEVICE`` and otherwise picks CUDA when available, else the CPU.

    Raises
    ------
    ValueError
        If the name is not a device torch knows, or asks for CUDA on a machine without it.
    """
    if isinstance(name, torch.device):
        device = name
    else:
        source = "name"
        if name is None:
            name = os.environ.get(ENV_VAR, "").strip() or None
            source = ENV_VAR
        if name is None:
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            device = torch.device(name)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"{source} must be a torch device such as 'cpu' or 'cuda'; got {name!r}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} was asked for, but CUDA is not available here")
    return device


def device_name(device: torch.device) -> str:
    """Human-readable name, e.g. ``'cpu (2 threads)'`` or ``'cuda (NVIDIA T4)'``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"{device.type} ({torch.get_num_threads()} threads)"
