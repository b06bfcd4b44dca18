"""Seeded random generators. topolib never touches global random state.

Streams are derived from a seed and a name, so that adding a new random draw in one place of a
chapter does not shift the numbers of every draw after it.
"""

from __future__ import annotations

import zlib
from numbers import Integral

import numpy as np
import torch

__all__ = ["check_seed", "numpy_rng", "seed_sequence", "torch_generator"]


def check_seed(seed: object, name: str = "seed") -> int:
    """Return ``seed`` as an int, or raise a clear error if it is not a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, Integral) or int(seed) < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {seed!r}")
    return int(seed)


def seed_sequence(seed: int, stream: str = "") -> np.random.SeedSequence:
    """SeedSequence for ``(seed, stream)``; different stream names give independent streams."""
    entropy = [check_seed(seed)]
    if stream:
        entropy.append(zlib.crc32(stream.encode("utf-8")))
    return np.random.SeedSequence(entropy)


def numpy_rng(seed: int | np.random.Generator, stream: str = "") -> np.random.Generator:
    """A ``numpy.random.Generator`` for ``(seed, stream)``; a Generator is passed through."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.Generator(np.random.PCG64(seed_sequence(seed, stream)))


def torch_generator(
    seed: int, stream: str = "", device: str | torch.device = "cpu"
) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded from ``(seed, stream)``."""
    state = seed_sequence(seed, stream).generate_state(1, dtype=np.uint64)[0]
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda'; got "
                         f"{device!r}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for a random generator, but CUDA is not "
                         "available here (a CPU-only torch, or no GPU); use device='cpu'")
    gen = torch.Generator(device=device)
    gen.manual_seed(int(state) & ((1 << 63) - 1))
    return gen
