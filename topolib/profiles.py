"""Compute profiles: one switch that sizes every experiment in the book.

``fast``  seconds per notebook; proves the code runs (tests, CI). Its numbers mean nothing.
``cpu``   what the published book is built with on a 2-core machine.
``gpu``   larger images, more samples and epochs (default when CUDA is available).

Smoke mode (``TOPOLIB_SMOKE=1``, read only by :func:`smoke_mode`) keeps a profile's image
sizes, sample counts, epochs and every tensor shape, and cuts only how many times loops run.
It exists so the ``gpu`` profile's code paths can be run end to end on a CPU
(``make smoke-gpu``). This is the one list of what it changes:

- training (:func:`topolib.training.train`, the one loop every model trains in, chart
  pre-fits included): each epoch stops after its first ``SMOKE_BATCHES_PER_EPOCH`` full
  batch(es); callbacks and checkpoints still run every epoch;
- iterative evaluation loops, cut to at most ``SMOKE_ITERATIONS`` passes by
  :func:`smoke_iterations`: the denoising steps of diffusion sampling and DDIM inversion
  (:meth:`topolib.models.diffusion.Diffusion.timesteps`) and the Adam steps of latent
  optimisation (GAN inversion, :func:`topolib.models.interface.optimise_latents`). At the
  ``gpu`` profile's sample counts these loops cost hours on a CPU (4000 diffusion samples of
  64x64 pixels take 200,000 network passes at 50 steps); one pass exercises every shape;
- persistent homology (:func:`topolib.metrics.homology.persistent_homology`, so every report
  card): at most ``SMOKE_LANDMARKS`` greedy landmarks, by :func:`smoke_landmarks`. A model
  trained for a few steps samples noise, and noise in 4096 pixels has nearly equal pairwise
  distances, so the H2 complex of 500 landmarks is nearly complete: one sphere report card of
  4000 noise images at 64x64 had not finished after 30 minutes of one thread (4000 real
  renders: 10 s; the noise with 100 landmarks: 10 s); the sample counts, projections and
  every other check are unchanged;
- the model cache: the key carries ``"smoke"`` and the default folder gets ``-smoke``, so a
  smoke model is never loaded as a real one;
- verdicts are shown marked as smoke output and never raise; stamps and the chapter banner
  say ``SMOKE RUN``: the numbers of a smoke run mean nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TypeVar

__all__ = ["PROFILE_NAMES", "SMOKE_BATCHES_PER_EPOCH", "SMOKE_ITERATIONS", "SMOKE_LANDMARKS",
           "Profile", "get_profile", "profile_source", "smoke_iterations", "smoke_landmarks",
           "smoke_mode"]

PROFILE_NAMES: tuple[str, ...] = ("fast", "cpu", "gpu")
ENV_VAR = "TOPOLIB_PROFILE"
SMOKE_VAR = "TOPOLIB_SMOKE"
#: Optimizer steps (batches) per epoch in smoke mode: training code runs, nothing is learnt.
SMOKE_BATCHES_PER_EPOCH = 1
#: Passes of an iterative evaluation loop in smoke mode (see :func:`smoke_iterations`).
SMOKE_ITERATIONS = 2
#: Greedy landmarks of persistent homology in smoke mode (see :func:`smoke_landmarks`).
SMOKE_LANDMARKS = 100
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")

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
    smoke : True in smoke mode (:func:`smoke_mode`): this profile's sizes, training cut to a
        few optimizer steps, numbers meaningless.
    """

    name: str
    image_size: int
    n_samples: int
    n_landmarks: int
    smoke: bool = False

    @property
    def is_fast(self) -> bool:
        """True for the smoke-test profile whose numbers carry no meaning."""
        return self.name == "fast"

    @property
    def label(self) -> str:
        """The name as stamps show it: ``"gpu"``, or ``"gpu SMOKE RUN"`` in smoke mode."""
        return f"{self.name} SMOKE RUN" if self.smoke else self.name

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
        CUDA is available and ``"cpu"`` otherwise. In smoke mode (:func:`smoke_mode`) the
        named profile is returned with ``smoke=True``; a :class:`Profile` passes unchanged.

    Raises
    ------
    ValueError
        If the name (argument or environment variable) is not a known profile.
    """
    if isinstance(name, Profile):
        return name
    profile = _named_profile(name)
    return replace(profile, smoke=True) if smoke_mode() else profile


def smoke_mode() -> bool:
    """True when ``TOPOLIB_SMOKE`` asks for a smoke run (``1``, ``true``, ``yes``, ``on``).

    The one place the variable is read: training (:func:`topolib.training.train`), the model
    cache, verdicts and stamps all ask here.

    Raises
    ------
    ValueError
        If the variable holds anything else than those words or ``0``, ``false``, ``no``,
        ``off`` or nothing.
    """
    value = os.environ.get(SMOKE_VAR, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{SMOKE_VAR} must be 1 (smoke run) or 0 (real run); got "
                     f"{os.environ[SMOKE_VAR]!r}")


def smoke_iterations(steps: int) -> int:
    """How many times an iterative evaluation loop asked for ``steps`` passes runs: ``steps``,
    or at most :data:`SMOKE_ITERATIONS` in smoke mode (the module docstring lists the loops)."""
    return min(steps, SMOKE_ITERATIONS) if smoke_mode() else steps


def smoke_landmarks(n_landmarks: int) -> int:
    """How many greedy landmarks persistent homology takes when asked for ``n_landmarks``:
    that many, or at most :data:`SMOKE_LANDMARKS` in smoke mode (see the module docstring)."""
    return min(n_landmarks, SMOKE_LANDMARKS) if smoke_mode() else n_landmarks


def _named_profile(name: str | None) -> Profile:
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
