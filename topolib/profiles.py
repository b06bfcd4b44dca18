"""Compute profiles: one switch that sizes every experiment in the book.

``fast``  seconds per notebook; proves the code runs (tests, CI). Its numbers mean nothing.
``cpu``   what the published book is built with on a 2-core machine.
``gpu``   larger images, more samples and epochs (default when CUDA is available).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["PROFILE_NAMES", "Profile", "get_profile", "profile_source"]

PROFILE_NAMES: tuple[str, ...] = ("fast", "cpu", "gpu")
ENV_VAR = "TOPOLIB_PROFILE"

T = TypeVar("T")


@dataclass(frozen=True)
class Profile:
    """Sizes shared by the chapters; chapter-specific sizes use :meth:`choose`.

    Attributes
    ----------
    name : one of ``PROFILE_NAMES``.
    image_size : side length of rendered images, in pixels.
    n_samples : size of a sample set that is measured (homology, projection).
    n_landmarks : greedy landmarks used by persistent homology.
    """

    name: str
    image_size: int
    n_samples: int
    n_landmarks: int

    @property
    def is_fast(self) -> bool:
        """True for the smoke-test profile whose numbers carry no meaning."""
        return self.name == "fast"

    def choose(self, *, fast: T, cpu: T, gpu: T) -> T:
        """Return the value given for this profile, e.g. ``p.choose(fast=2, cpu=30, gpu=100)``."""
        return {"fast": fast, "cpu": cpu, "gpu": gpu}[self.name]


_PROFILES: dict[str, Profile] = {
    # Training sizes are chosen per chapter with Profile.choose, next to the model they train.
    "fast": Profile("fast", image_size=32, n_samples=200, n_landmarks=60),
    "cpu": Profile("cpu", image_size=32, n_samples=2000, n_landmarks=350),
    "gpu": Profile("gpu", image_size=64, n_samples=4000, n_landmarks=500),
}


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def profile_source(name: str | None = None) -> str:
    """Say where :func:`get_profile` takes its answer from (argument, environment or detection)."""
    if name is not None:
        return "argument"
    if os.environ.get(ENV_VAR, "").strip():
        return f"environment variable {ENV_VAR}"
    return "detected (gpu when CUDA is available, else cpu)"


def get_profile(name: str | Profile | None = None) -> Profile:
    """Return the active compute profile.

    Parameters
    ----------
    name : ``"fast"``, ``"cpu"``, ``"gpu"``, a :class:`Profile`, or None. None reads the
        ``TOPOLIB_PROFILE`` environment variable and, if that is unset, picks ``"gpu"`` when
        CUDA is available and ``"cpu"`` otherwise.

    Raises
    ------
    ValueError
        If the name (argument or environment variable) is not a known profile.
    """
    if isinstance(name, Profile):
        return name
    source = "name"
    if name is None:
        name = os.environ.get(ENV_VAR, "").strip() or None
        source = ENV_VAR
    if name is None:
        return _PROFILES["gpu" if _cuda_available() else "cpu"]
    if not isinstance(name, str):
        raise TypeError(f"{source} must be a str, a Profile or None; got {type(name).__name__}")
    key = name.strip().lower()
    if key not in _PROFILES:
        raise ValueError(
            f"{source} must be one of {', '.join(repr(p) for p in PROFILE_NAMES)}; got {name!r}"
        )
    return _PROFILES[key]
