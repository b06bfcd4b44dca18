"""Deliberately broken sample sets: what a failing generative model's samples look like.

Each function returns a ``SampleSet`` of exact renders with one known defect, so the book
(and the tests) can show that each check of the report card catches its own failure:

* ``torus_with_hole``: a square patch of the torus is never sampled (a coverage hole; the
  sampled set is a torus minus a disk, so H2 is gone too).
* ``circle_torn``: an arc of the circle is never sampled (H1 = 0, a hole).
* ``pushed_off``: some samples are replaced by images near but off the manifold
  (blends of two distant renders, a render plus a contrasting blob, heavy blur, noise).
* ``two_circles_bridged``: pixel cross-fades between the two circles join them (H0 = 1, and
  the bridge is off the manifold).
* ``collapsed``: every sample comes from a small geodesic ball (mode collapse).
* ``intact``: uniform renders, the control.

``BROKEN_SETS`` names them with the dataset each is built on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from topolib.datasets.base import ImageManifold, check_count, check_size
from topolib.datasets.registry import get_dataset
from topolib.seeding import numpy_rng

__all__ = [
    "BROKEN_SETS",
    "OFF_MANIFOLD_KINDS",
    "SampleSet",
    "circle_torn",
    "collapsed",
    "intact",
    "off_manifold_images",
    "pushed_off",
    "torus_with_hole",
    "two_circles_bridged",
]

OFF_MANIFOLD_KINDS: tuple[str, ...] = ("blend", "blob", "blur", "noise")


@dataclass(frozen=True)
class SampleSet:
    """A named set of sample images with its ground truth.

    Attributes
    ----------
    name : short name, e.g. ``"torus_with_hole"``.
    dataset : name of the dataset whose manifold the set imitates.
    images : ``(n, size, size)`` float32.
    params : ``(n, param_dim)`` true parameters; rows of NaN for images that are not renders.
    on_manifold : ``(n,)`` bool, True for exact renders.
    description : one sentence for the book.
    breaks : names of the report-card checks this set is built to fail (empty if intact).
    """

    name: str
    dataset: str
    images: np.ndarray
    params: np.ndarray
    on_manifold: np.ndarray
    description: str
    breaks: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.images.shape[0])


def _rng(seed: int | np.random.Generator, name: str) -> np.random.Generator:
    return numpy_rng(seed, stream=f"topolib.datasets.failures.{name}")


def _rejection_params(
    ds: ImageManifold, n: int, rng: np.random.Generator, keep: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """``n`` uniform params with ``keep(coverage_coords) == True`` (rejection sampling)."""
    chunks, total = [], 0
    while total < n:
        params = ds.sample_params(2 * n, rng)
        params = params[keep(ds.coverage_coords(params))]
        chunks.append(params)
        total += len(params)
    return np.concatenate(chunks)[:n]


def _sample_set(
    name: str,
    ds: ImageManifold,
    params: np.ndarray,
    size: int,
    description: str,
    breaks: tuple[str, ...],
) -> SampleSet:
    return SampleSet(
        name=name,
        dataset=ds.name,
        images=ds.render(params, size),
        params=params,
        on_manifold=np.ones(len(params), dtype=bool),
        description=description,
        breaks=breaks,
    )


def intact(
    dataset: str | ImageManifold, n: int, seed: int | np.random.Generator = 0, size: int = 32
) -> SampleSet:
    """``n`` uniform renders of ``dataset``: the control that every check should pass."""
    ds = get_dataset(dataset)
    params = ds.sample_params(check_count(n), _rng(seed, f"intact.{ds.name}"))
    return _sample_set(
        f"{ds.name}_intact", ds, params, check_size(size), f"Uniform samples of the {ds.name}.", ()
    )


def torus_with_hole(
    n: int,
    seed: int | np.random.Generator = 0,
    size: int = 32,
    centre: tuple[float, float] = (0.5, 0.5),
    width: float = 0.3,
) -> SampleSet:
    """Uniform torus samples except in a square patch of the parameter space.

    Parameters
    ----------
    centre : centre of the patch in coverage coordinates ``(theta1, theta2) / 2 pi``.
    width : side of the patch in coverage coordinates (0.3: 9% of the torus is missing).

    Returns
    -------
    SampleSet with ``breaks = ("holes", "coverage")``.
    """
    if not 0 < width < 1:
        raise ValueError(f"width must be in (0, 1); got {width!r}")
    ds = get_dataset("torus")
    c = np.asarray(centre, dtype=float)
    if c.shape != (2,):
        raise ValueError(f"centre must be a pair of coverage coordinates; got {centre!r}")

    def outside(coords: np.ndarray) -> np.ndarray:
        offset = np.abs((coords - c + 0.5) % 1.0 - 0.5)  # distance with wrap-around
        return ~np.all(offset < width / 2, axis=1)

    params = _rejection_params(ds, check_count(n), _rng(seed, "torus_with_hole"), outside)
    return _sample_set(
        "torus_with_hole",
        ds,
        params,
        check_size(size),
        f"Torus samples with a {width:.2f} x {width:.2f} patch of angles never generated "
        f"({width**2:.0%} of the torus).",
        ("holes", "coverage"),
    )


def circle_torn(
    n: int,
    seed: int | np.random.Generator = 0,
    size: int = 32,
    gap: float = 0.25,
    start: float = 0.0,
) -> SampleSet:
    """Circle samples with the arc ``[start, start + gap)`` (fractions of a turn) removed.

    A quarter turn (the default) is wider than the angle at which two clock hands stop
    overlapping, so the sampled images form an arc, not a loop: H1 = 0.

    Returns
    -------
    SampleSet with ``breaks = ("betti_z2", "betti_z3", "holes", "coverage")``.
    """
    if not 0 < gap < 1:
        raise ValueError(f"gap must be in (0, 1) (a fraction of the circle); got {gap!r}")
    ds = get_dataset("circle")

    def outside(coords: np.ndarray) -> np.ndarray:
        return (coords[:, 0] - start) % 1.0 >= gap

    params = _rejection_params(ds, check_count(n), _rng(seed, "circle_torn"), outside)
    return _sample_set(
        "circle_torn",
        ds,
        params,
        check_size(size),
        f"Circle samples with {gap:.0%} of the turn never generated: the loop is torn open.",
        ("betti_z2", "betti_z3", "holes", "coverage"),
    )


def off_manifold_images(
    dataset: str | ImageManifold,
    params: np.ndarray,
    kind: str,
    seed: int | np.random.Generator = 0,
    size: int = 32,
) -> np.ndarray:
    """Images near the renders of ``params`` ``(n, param_dim)`` but off the manifold.

    ``kind``:
    ``"blend"`` 50/50 pixel blend with the render of the farthest of 8 random points;
    ``"blob"`` a Gaussian blob (sigma 0.08 of the side) that contrasts with the picture
    under it (bright on dark, dark on bright), clipped to [0, 1];
    ``"blur"`` a heavy Gaussian blur (sigma 0.08 of the side; a blurred blob of the disk, or a
    blurred ball, is still close to its manifold, so blur is not in ``pushed_off``'s default);
    ``"noise"`` Gaussian pixel noise of std 0.15, clipped to [0, 1].

    Returns
    -------
    ``(n, size, size)`` float32.
    """
    ds = get_dataset(dataset)
    if kind not in OFF_MANIFOLD_KINDS:
        raise ValueError(f"kind must be one of {', '.join(OFF_MANIFOLD_KINDS)}; got {kind!r}")
    size = check_size(size)
    rng = _rng(seed, f"off_manifold.{kind}")
    images = ds.render(params, size)
    n = len(images)
    if kind == "blend":
        candidates = ds.sample_params(8 * n, rng)
        distance = ds.distance(np.repeat(params, 8, axis=0), candidates).reshape(n, 8)
        far = candidates.reshape(n, 8, -1)[np.arange(n), np.argmax(distance, axis=1)]
        return 0.5 * images + 0.5 * ds.render(far, size)
    if kind == "blob":
        centre = rng.uniform(0.2 * size, 0.8 * size, size=(n, 2))
        yy, xx = np.mgrid[0:size, 0:size]
        blob = np.exp(
            -((xx - centre[:, 0, None, None]) ** 2 + (yy - centre[:, 1, None, None]) ** 2)
            / (2 * (0.08 * size) ** 2)
        )
        under = (images * blob).sum(axis=(1, 2)) / blob.sum(axis=(1, 2))
        sign = np.where(under < 0.5, 1.0, -1.0)[:, None, None]
        return np.clip(images + sign * blob, 0.0, 1.0).astype(np.float32)
    if kind == "blur":
        blur = 0.08 * size
        return gaussian_filter(images, sigma=(0, blur, blur), mode="constant").astype(np.float32)
    noise = rng.normal(0.0, 0.15, size=images.shape)
    return np.clip(images + noise, 0.0, 1.0).astype(np.float32)


def pushed_off(
    dataset: str | ImageManifold,
    n: int,
    seed: int | np.random.Generator = 0,
    size: int = 32,
    fraction: float = 0.3,
    kinds: tuple[str, ...] = ("blend", "blob", "noise"),
) -> SampleSet:
    """Uniform samples of which a random ``fraction`` is pushed off the manifold.

    The pushed images are split evenly between ``kinds`` (see ``off_manifold_images``). The
    remaining renders are still uniform, so only the off-manifold check should fail.

    Returns
    -------
    SampleSet with ``breaks = ("off_manifold",)``; params are NaN for the pushed images.
    """
    ds = get_dataset(dataset)
    n, size = check_count(n), check_size(size)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction!r}")
    if not kinds or any(k not in OFF_MANIFOLD_KINDS for k in kinds):
        raise ValueError(f"kinds must be a non-empty subset of {OFF_MANIFOLD_KINDS}; got {kinds!r}")
    rng = _rng(seed, f"pushed_off.{ds.name}")
    params = ds.sample_params(n, rng)
    images = ds.render(params, size)
    pushed = rng.permutation(n)[: round(fraction * n)]
    for k, part in enumerate(np.array_split(pushed, len(kinds))):
        if len(part):
            images[part] = off_manifold_images(ds, params[part], kinds[k], rng, size)
    on = np.ones(n, dtype=bool)
    on[pushed] = False
    params = np.where(on[:, None], params, np.nan)
    return SampleSet(
        name=f"{ds.name}_pushed_off",
        dataset=ds.name,
        images=images,
        params=params,
        on_manifold=on,
        description=f"{ds.name} samples with {fraction:.0%} replaced by off-manifold images "
        f"({', '.join(kinds)}).",
        breaks=("off_manifold",),
    )


def two_circles_bridged(
    n: int,
    seed: int | np.random.Generator = 0,
    size: int = 32,
    bridge_fraction: float = 0.15,
    bridge_angle: float = 0.0,
) -> SampleSet:
    """Two-circle samples plus a bridge: cross-fades between the two hands at one angle.

    A ``bridge_fraction`` of the images are ``(1 - t) thin(angle) + t thick(angle)`` with
    ``t`` uniform in (0, 1): a path of images from one circle to the other. H0 drops to 1 and
    the bridge is off the manifold.

    Returns
    -------
    SampleSet with ``breaks = ("betti_z2", "betti_z3", "off_manifold")``.
    """
    ds = get_dataset("two_circles")
    n, size = check_count(n), check_size(size)
    if not 0 < bridge_fraction < 1:
        raise ValueError(f"bridge_fraction must be in (0, 1); got {bridge_fraction!r}")
    rng = _rng(seed, "two_circles_bridged")
    n_bridge = max(1, round(bridge_fraction * n))
    params = ds.sample_params(n - n_bridge, rng)
    ends = ds.render(np.array([[0.0, bridge_angle], [1.0, bridge_angle]]), size)
    t = np.sort(rng.uniform(0.0, 1.0, size=n_bridge)).astype(np.float32)[:, None, None]
    bridge = (1.0 - t) * ends[0] + t * ends[1]
    images = np.concatenate([ds.render(params, size), bridge])
    on = np.arange(n) < n - n_bridge
    params = np.concatenate([params, np.full((n_bridge, ds.param_dim), np.nan)])
    return SampleSet(
        name="two_circles_bridged",
        dataset=ds.name,
        images=images,
        params=params,
        on_manifold=on,
        description=f"Two circles joined by a bridge of {n_bridge} pixel cross-fades between "
        "the two hands: one connected piece.",
        breaks=("betti_z2", "betti_z3", "off_manifold"),
    )


def collapsed(
    dataset: str | ImageManifold,
    n: int,
    seed: int | np.random.Generator = 0,
    size: int = 32,
    fraction: float = 0.05,
) -> SampleSet:
    """Mode collapse: every sample lies in a geodesic ball holding ``fraction`` of the manifold.

    The ball is centred on a random point; the samples are the ``n`` points nearest to it
    among ``n / fraction`` uniform ones (so uniform inside the ball).

    Returns
    -------
    SampleSet with ``breaks = ("coverage", "holes", "density", "betti_z2", "betti_z3")``.
    """
    ds = get_dataset(dataset)
    n, size = check_count(n), check_size(size)
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1); got {fraction!r}")
    rng = _rng(seed, f"collapsed.{ds.name}")
    centre = ds.sample_params(1, rng)
    pool = ds.sample_params(math.ceil(n / fraction), rng)
    nearest = np.argsort(ds.distance(pool, centre), kind="stable")[:n]
    return _sample_set(
        f"{ds.name}_collapsed",
        ds,
        pool[nearest],
        size,
        f"Mode collapse: all samples from {fraction:.0%} of the {ds.name}.",
        ("coverage", "holes", "density", "betti_z2", "betti_z3"),
    )


#: The book's broken sets, by name: ``BROKEN_SETS[name](n, seed=0, size=32) -> SampleSet``.
BROKEN_SETS: dict[str, Callable[..., SampleSet]] = {
    "torus_with_hole": torus_with_hole,
    "circle_torn": circle_torn,
    "torus_pushed_off": lambda n, seed=0, size=32: pushed_off("torus", n, seed, size),
    "two_circles_bridged": two_circles_bridged,
    "torus_collapsed": lambda n, seed=0, size=32: collapsed("torus", n, seed, size),
}
