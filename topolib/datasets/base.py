"""The ``ImageManifold`` base class: a known manifold with a known renderer.

A subclass fills in a handful of small hooks (``_sample_params``, ``_render``, ``_canonical``,
``_distance``, ``_geodesic``, ``_param_bank``, ``_coverage``); this class does the input
checking, the chunking and the numpy/torch plumbing once for all datasets.

The rendering formula is written once, in torch (``_render``). ``render`` runs it under
``torch.no_grad`` on the CPU in float32, chunk by chunk, straight into a numpy array;
``render_torch`` runs it as is, so gradients flow to the parameters on any device and dtype.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
import torch

from topolib.seeding import numpy_rng

__all__ = ["ImageManifold", "check_count", "check_size"]

TWO_PI = 2.0 * math.pi
MIN_SIZE = 8


def check_count(value: object, name: str = "n") -> int:
    """Return ``value`` as a positive int, or raise naming the argument."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be a positive integer; got {value!r}")
    if int(value) <= 0:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def check_size(size: object) -> int:
    """Return the image side ``size`` as an int >= 8, or raise naming the argument."""
    if isinstance(size, bool) or not isinstance(size, Integral):
        raise TypeError(f"size must be an integer >= {MIN_SIZE}; got {size!r}")
    if int(size) < MIN_SIZE:
        raise ValueError(f"size must be an integer >= {MIN_SIZE}; got {size!r}")
    return int(size)


def wrap_angle(theta: np.ndarray) -> np.ndarray:
    """Angles mapped into [0, 2 pi)."""
    wrapped = np.mod(theta, TWO_PI)
    # np.mod(-1e-17, 2 pi) rounds to exactly 2 pi.
    return np.where(wrapped >= TWO_PI, 0.0, wrapped)


def wrap_diff(delta: np.ndarray) -> np.ndarray:
    """Angle differences mapped into [-pi, pi)."""
    return np.mod(delta + math.pi, TWO_PI) - math.pi


class ImageManifold:
    """A manifold of images: parameters -> picture, with its geometry and topology.

    Attributes
    ----------
    name : registry name, e.g. ``"torus"``.
    intrinsic_dim : dimension of the manifold.
    param_dim : number of columns of a parameter array (>= intrinsic_dim).
    betti : Betti numbers ``(b0, b1, b2)`` over the fields Z/2 and Z/3, keyed by 2 and 3.
    description : one sentence for the book.
    """

    name: str = ""
    intrinsic_dim: int = 0
    param_dim: int = 0
    betti: dict[int, tuple[int, int, int]] = {}
    description: str = ""
    #: images per chunk in ``render``: large enough to amortise torch's per-call overhead,
    #: small enough that a chunk's temporaries stay in cache.
    chunk_size: int = 256
    #: columns of ``params`` that are angles (period 2 pi). ``render`` reduces them before
    #: computing in float32, so far-wrapped angles lose no precision.
    angle_columns: tuple[int, ...] = ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, intrinsic_dim={self.intrinsic_dim})"

    # ------------------------------------------------------------------ public API

    def sample_params(self, n: int, seed: int | np.random.Generator) -> np.ndarray:
        """I.i.d. parameters, uniform for the manifold's Riemannian measure.

        Parameters
        ----------
        n : number of samples.
        seed : a non-negative int, or a ``numpy.random.Generator`` (used as is).

        Returns
        -------
        ``(n, param_dim)`` float64, already in canonical form.
        """
        n = check_count(n, "n")
        rng = numpy_rng(seed, stream=f"topolib.datasets.{self.name}")
        return self._sample_params(n, rng)

    def render(self, params: np.ndarray, size: int = 32) -> np.ndarray:
        """Images of the manifold points ``params`` ``(n, param_dim)``.

        Returns
        -------
        ``(n, size, size)`` float32 in [0, 1]. Vectorised and chunked (``chunk_size`` images
        at a time); identical, up to float error, to ``render_torch``.
        """
        params = self._check_params(params)
        size = check_size(size)
        out = np.empty((params.shape[0], size, size), dtype=np.float32)
        if self.angle_columns:
            params = params.copy()
            params[:, self.angle_columns] = np.mod(params[:, self.angle_columns], TWO_PI)
        source = torch.from_numpy(params.astype(np.float32))
        target = torch.from_numpy(out)
        with torch.no_grad():
            for start in range(0, params.shape[0], self.chunk_size):
                stop = start + self.chunk_size
                target[start:stop] = self._render(source[start:stop], size)
        return out

    def render_torch(self, params: torch.Tensor, size: int = 32) -> torch.Tensor:
        """Differentiable twin of ``render``: ``(n, param_dim)`` -> ``(n, size, size)``.

        Runs on the device and in the floating dtype of ``params`` (integer tensors are cast
        to the default dtype); gradients flow to ``params``.
        """
        if not isinstance(params, torch.Tensor):
            raise TypeError(f"params must be a torch.Tensor; got {type(params).__name__}")
        if not params.is_floating_point():
            params = params.to(torch.get_default_dtype())
        self._check_shape(tuple(params.shape))
        if not bool(torch.isfinite(params).all()):
            raise ValueError(f"params must be finite for {self.name!r}; got NaN or inf")
        return self._render(params, check_size(size))

    def canonical(self, params: np.ndarray) -> np.ndarray:
        """Representatives in the fundamental domain, ``(n, param_dim)`` -> same shape.

        Idempotent, and ``render(canonical(p))`` equals ``render(p)`` for parameters on the
        manifold.
        """
        return self._canonical(self._check_params(params))

    def retract_torch(self, params: torch.Tensor) -> torch.Tensor:
        """Map parameters back onto the manifold after a gradient step (torch, same shape)."""
        if not isinstance(params, torch.Tensor):
            raise TypeError(f"params must be a torch.Tensor; got {type(params).__name__}")
        self._check_shape(tuple(params.shape))
        return self._retract_torch(params)

    def distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Intrinsic geodesic distance between rows of ``a`` and ``b``.

        Parameters
        ----------
        a, b : ``(n, param_dim)`` or ``(param_dim,)``; broadcast against each other.

        Returns
        -------
        ``(n,)`` float64; ``inf`` between different connected components.
        """
        a = self._check_params(a, "a", allow_1d=True)
        b = self._check_params(b, "b", allow_1d=True)
        if a.shape[0] != b.shape[0] and 1 not in (a.shape[0], b.shape[0]):
            raise ValueError(f"a and b must have the same number of rows; got {len(a)}, {len(b)}")
        a, b = np.broadcast_arrays(a, b)
        return self._distance(a, b)

    def geodesic(self, a: np.ndarray, b: np.ndarray, n_steps: int = 32) -> np.ndarray:
        """Points along a shortest geodesic from ``a`` to ``b`` (both ``(param_dim,)``).

        Returns
        -------
        ``(n_steps, param_dim)`` canonical parameters, equally spaced, first ``a`` and last
        ``b`` (up to canonical form). Raises ValueError if no path joins ``a`` and ``b``.
        """
        a = self._check_point(a, "a")
        b = self._check_point(b, "b")
        n_steps = check_count(n_steps, "n_steps")
        if n_steps < 2:
            raise ValueError(f"n_steps must be an integer >= 2; got {n_steps}")
        return self._geodesic(a, b, np.linspace(0.0, 1.0, n_steps))

    def param_bank(self, n: int) -> np.ndarray:
        """A deterministic, near-uniform lattice of about ``n`` canonical parameters.

        Used to project images onto the manifold by nearest-neighbour search.

        Returns
        -------
        ``(~n, param_dim)`` float64.
        """
        return self._param_bank(check_count(n, "n"))

    def coverage_coords(self, params: np.ndarray) -> np.ndarray:
        """Measure-preserving chart of the manifold into [0, 1)^intrinsic_dim.

        Uniform parameters give uniform coverage coordinates (up to a null set), so a
        histogram of them shows over- and under-covered regions directly.

        Returns
        -------
        ``(n, intrinsic_dim)`` float64 in [0, 1).
        """
        coords = self._coverage(self._canonical(self._check_params(params)))
        return np.clip(coords, 0.0, np.nextafter(1.0, 0.0))

    def sample(
        self, n: int, seed: int | np.random.Generator, size: int = 32
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` uniform samples: images ``(n, size, size)`` float32 and params ``(n, param_dim)``."""
        size = check_size(size)
        params = self.sample_params(n, seed)
        return self.render(params, size), params

    # ------------------------------------------------------------------ input checks

    def _check_shape(self, shape: tuple[int, ...], name: str = "params") -> None:
        if len(shape) != 2 or shape[1] != self.param_dim:
            raise ValueError(
                f"{name} must have shape (n, {self.param_dim}) for {self.name!r}; got {shape}"
            )

    def _check_params(
        self, params: object, name: str = "params", allow_1d: bool = False
    ) -> np.ndarray:
        if isinstance(params, torch.Tensor):
            params = params.detach().cpu().numpy()
        try:
            array = np.asarray(params, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be a numeric array for {self.name!r}") from err
        if allow_1d and array.ndim == 1:
            array = array[None]
        self._check_shape(array.shape, name)
        if not np.isfinite(array).all():
            raise ValueError(f"{name} must be finite for {self.name!r}; got NaN or inf")
        self._check_values(array, name)
        return array

    def _check_point(self, point: object, name: str) -> np.ndarray:
        if np.shape(point) != (self.param_dim,):
            raise ValueError(
                f"{name} must have shape ({self.param_dim},) for {self.name!r}; "
                f"got {np.shape(point)}"
            )
        return self._check_params(point, name, allow_1d=True)[0]

    # ------------------------------------------------------------------ hooks

    def _check_values(self, params: np.ndarray, name: str) -> None:
        """Raise a ValueError naming ``name`` for finite parameters that still mean nothing
        (e.g. a zero axis); ``params`` is ``(n, param_dim)``. Default: all are valid."""

    def _sample_params(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _render(self, params: torch.Tensor, size: int) -> torch.Tensor:
        raise NotImplementedError

    def _canonical(self, params: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _retract_torch(self, params: torch.Tensor) -> torch.Tensor:
        return params

    def _distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _geodesic(self, a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _param_bank(self, n: int) -> np.ndarray:
        raise NotImplementedError

    def _coverage(self, params: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class FlatManifold(ImageManifold):
    """A flat manifold: a quotient of (a box in) R^d by a group of isometries.

    Subclasses give ``_nearest_lift(a, b)``: the copy of ``b`` in the universal cover closest
    to ``a``. The straight segment to it projects to a shortest geodesic.
    """

    def _nearest_lift(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.linalg.norm(self._nearest_lift(a, b) - a, axis=1)

    def _geodesic(self, a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
        lift = self._nearest_lift(a[None], b[None])[0]
        return self._canonical(a + t[:, None] * (lift - a))


def grid_side(n: int, dims: int) -> int:
    """Points per axis of a regular grid of about ``n`` points in ``dims`` dimensions."""
    return max(1, round(n ** (1.0 / dims)))
