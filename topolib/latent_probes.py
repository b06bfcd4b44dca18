"""Probes of a decoder's latent space: its seam, truncated sampling, bridge lines, failures.

The model chapters ask the same questions of every decoder (a trained VAE or GAN, or an
oracle from :mod:`topolib.models.oracle`):

- :func:`find_seam`: where, on a fine latent line, do the images leave the manifold or jump,
  and how much prior mass lies there?
- :func:`truncated_normal` / :func:`truncation_sweep`: what does the truncation trick
  (redraw coordinates beyond ``tau``) do to off-manifold samples and holes?
- :func:`bridge_lines`: do straight latent lines between codes on two components pass
  through off-manifold images, or jump between components from one frame to the next?
- :func:`failure_counts`: how many interpolation paths of each evaluation fail, and why?
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm

from topolib.datasets.base import ImageManifold
from topolib.datasets.registry import get_dataset
from topolib.experiments import Evaluation, LatentAtlas, latent_grid
from topolib.metrics.coverage import on_manifold_coverage
from topolib.metrics.projection import Projection, off_manifold_rate, project
from topolib.models.blocks import check_positive_int
from topolib.models.interface import GenerativeModel, as_generator
from topolib.seeding import check_seed, numpy_rng, torch_generator

__all__ = [
    "FAILURE_LABELS",
    "BridgeLines",
    "Seam",
    "bridge_lines",
    "failure_counts",
    "find_seam",
    "truncated_normal",
    "truncation_sweep",
]

#: The labels of ``PathAudit.failures``, in the audit's order.
FAILURE_LABELS: tuple[str, ...] = ("components", "off manifold", "long way", "jump")


def _check_positive(value: object, name: str, allow_inf: bool = False) -> float:
    ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
    if not ok or not (value > 0) or (not allow_inf and not np.isfinite(value)):
        kind = "a number > 0 (inf allowed)" if allow_inf else "a finite number > 0"
        raise ValueError(f"{name} must be {kind}; got {value!r}")
    return float(value)


def _check_at_least_two(value: object, name: str) -> int:
    value = check_positive_int(value, name)
    if value < 2:
        raise ValueError(f"{name} must be an integer >= 2; got {value}")
    return value


def _check_model(model: object, latent_dim: int | None = None) -> GenerativeModel:
    if not isinstance(model, GenerativeModel):
        raise TypeError(f"model must be a topolib GenerativeModel; got {type(model).__name__}")
    if latent_dim is not None and model.latent_dim != latent_dim:
        raise ValueError(f"model must have latent_dim {latent_dim}; got {model.latent_dim}")
    return model


# ---------------------------------------------------------------------------- the seam


@dataclass(frozen=True)
class Seam:
    """Codes of a fine latent line whose images are off the manifold or next to a jump.

    Attributes
    ----------
    z : ``(n,)`` codes of the line, evenly spaced.
    projection : projection of their images onto the manifold.
    jump : ``(n - 1,)`` True where the coverage coordinate moves more than the threshold
        between neighbouring codes (measured round the circle).
    at_seam : ``(n,)`` True for codes off the manifold or at either end of a jump.
    cell_mass : ``(n,)`` prior mass ``Phi(z + h/2) - Phi(z - h/2)`` of each code's cell
        (``h`` the spacing).
    """

    z: np.ndarray
    projection: Projection
    jump: np.ndarray
    at_seam: np.ndarray
    cell_mass: np.ndarray

    @property
    def coords(self) -> np.ndarray:
        """``(n,)`` coverage coordinate (angle / 2 pi on the circle) of each code's image."""
        return self.projection.coords[:, 0]

    @property
    def n_codes(self) -> int:
        """Number of codes at the seam."""
        return int(self.at_seam.sum())

    @property
    def prior_mass(self) -> float:
        """Prior mass of the cells of the codes at the seam."""
        return float(self.cell_mass[self.at_seam].sum())

    @property
    def z_range(self) -> tuple[float, float] | None:
        """``(min, max)`` of the codes at the seam, or None when there are none."""
        if not self.at_seam.any():
            return None
        return float(self.z[self.at_seam].min()), float(self.z[self.at_seam].max())

    @property
    def turns(self) -> float:
        """Signed number of turns of the coverage coordinate along the line."""
        return float(np.sum(np.diff(np.unwrap(2 * np.pi * self.coords))) / (2 * np.pi))


def find_seam(
    model: GenerativeModel,
    dataset: str | ImageManifold = "circle",
    *,
    span: float = 4.0,
    n: int = 2001,
    jump: float = 0.05,
) -> Seam:
    """Decode a fine line of codes of a 1-D latent space and find its seam.

    Parameters
    ----------
    model : a model with a decoder and ``latent_dim == 1``.
    dataset : a dataset of intrinsic dimension 1 whose coverage coordinate is periodic
        (the circle).
    span : the line covers ``[-span, span]``.
    n : number of codes on the line (>= 2).
    jump : a jump is a move of more than this share of the circle between neighbouring codes
        (0.05: 18 degrees).

    Returns
    -------
    Seam
    """
    model = _check_model(model, latent_dim=1)
    ds = get_dataset(dataset)
    if ds.intrinsic_dim != 1:
        raise ValueError(f"dataset must have intrinsic dimension 1; {ds.name!r} has "
                         f"{ds.intrinsic_dim}")
    span = _check_positive(span, "span")
    n = _check_at_least_two(n, "n")
    jump = _check_positive(jump, "jump")
    z = np.linspace(-span, span, n)
    line = project(latent_grid(model, n_side=n, span=span), ds)
    step = np.abs(np.diff(line.coords[:, 0]))
    jumps = np.minimum(step, 1 - step) > jump
    bad = line.off_manifold()
    bad[:-1] |= jumps
    bad[1:] |= jumps
    cell = z[1] - z[0]
    mass = norm.cdf(z + cell / 2) - norm.cdf(z - cell / 2)
    return Seam(z=z, projection=line, jump=jumps, at_seam=bad, cell_mass=mass)


# ---------------------------------------------------------------------------- truncation


def truncated_normal(
    n: int, d: int, tau: float, generator: torch.Generator | int = 0
) -> torch.Tensor:
    """``n`` draws of N(0, I_d) with every coordinate beyond ``tau`` redrawn (truncation trick).

    Parameters
    ----------
    n, d : number of draws and their dimension.
    tau : truncation threshold (> 0; ``inf``: no truncation).
    generator : torch Generator (CPU) or int seed.

    Returns
    -------
    ``(n, d)`` float32 tensor on the CPU, ``|z_i| <= tau``.
    """
    n, d = check_positive_int(n, "n"), check_positive_int(d, "d")
    tau = _check_positive(tau, "tau", allow_inf=True)
    generator = as_generator(generator, "topolib.latent_probes.truncated_normal")
    z = torch.randn((n, d), generator=generator)
    while (outside := z.abs() > tau).any():
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
    return z


def truncation_sweep(
    model: GenerativeModel,
    dataset: str | ImageManifold,
    taus: Iterable[float],
    n: int,
    *,
    seed: int,
    stream: str = "truncation",
) -> pd.DataFrame:
    """Sample ``model`` with the truncation trick at each ``tau`` and grade the samples.

    Parameters
    ----------
    model : a model with a decoder.
    dataset : the dataset it models.
    taus : truncation thresholds (``np.inf``: the plain prior).
    n : samples per threshold.
    seed, stream : the draws at ``tau`` come from ``torch_generator(seed, f"{stream}-{tau}")``
        (a chapter's ``chapter.torch_generator(f"truncation-{tau}")`` with ``seed =
        chapter.seed``).

    Returns
    -------
    DataFrame with one row per ``tau``: ``tau``, ``off-manifold samples`` (share) and
    ``share of the manifold in holes`` (of the on-manifold samples' coverage).
    """
    model = _check_model(model)
    ds = get_dataset(dataset)
    seed = check_seed(seed)
    rows = []
    for tau in taus:
        z = truncated_normal(n, model.latent_dim, tau, torch_generator(seed, f"{stream}-{tau}"))
        with torch.no_grad():
            images = model.decode(z.to(model.device)).cpu().numpy()[:, 0]
        projection = project(images, ds)
        rows.append({"tau": tau, "off-manifold samples": off_manifold_rate(projection),
                     "share of the manifold in holes":
                         on_manifold_coverage(projection).hole_fraction})
    if not rows:
        raise ValueError("taus is empty; pass at least one truncation threshold")
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- bridge lines


@dataclass(frozen=True)
class BridgeLines:
    """Straight latent lines from codes on one component to codes on the other.

    Attributes
    ----------
    codes : ``(n_lines, n_frames, latent_dim)`` the codes along each line.
    projection : projection of all ``n_lines * n_frames`` decoded frames.
    off : ``(n_lines, n_frames)`` True where a frame is off the manifold.
    switch : ``(n_lines, n_frames - 1)`` True where two neighbouring on-manifold frames lie
        on different components.
    """

    codes: np.ndarray
    projection: Projection
    off: np.ndarray
    switch: np.ndarray

    @property
    def share_off(self) -> float:
        """Share of lines with at least one off-manifold frame."""
        return float(self.off.any(axis=1).mean())

    @property
    def share_switch(self) -> float:
        """Share of lines that jump between components from one on-manifold frame to the next."""
        return float(self.switch.any(axis=1).mean())

    @property
    def share_neither(self) -> float:
        """Share of lines with neither (impossible for a continuous decoder, up to the step)."""
        return float((~self.off.any(axis=1) & ~self.switch.any(axis=1)).mean())


def bridge_lines(
    model: GenerativeModel,
    atlas: LatentAtlas,
    n_lines: int = 200,
    n_frames: int = 16,
    rng: np.random.Generator | int = 0,
) -> BridgeLines | None:
    """Decode straight latent lines between codes that decode onto the two components.

    Start codes are drawn (with replacement) from the atlas codes whose images are on
    component 0, end codes from those on component 1; each line has ``n_frames`` evenly
    spaced codes, end points included.

    Parameters
    ----------
    model : a model with a decoder.
    atlas : ``latent_atlas(model, "two_circles", ...)``: prior draws and their projections.
    n_lines, n_frames : number of lines and frames per line (>= 2).
    rng : numpy Generator (used as is) or int seed.

    Returns
    -------
    BridgeLines, or None when no atlas code decodes onto one of the components (the model
    has not learned both).
    """
    model = _check_model(model)
    if not isinstance(atlas, LatentAtlas):
        raise TypeError(f"atlas must be a LatentAtlas; got {type(atlas).__name__}")
    ds = get_dataset(atlas.projection.dataset)
    if ds.name != "two_circles":
        raise ValueError(f"atlas must be projected onto 'two_circles'; got {ds.name!r}")
    if atlas.z.shape[1] != model.latent_dim:
        raise ValueError(f"atlas codes have dimension {atlas.z.shape[1]}, the model's latent "
                         f"space {model.latent_dim}")
    n_lines = check_positive_int(n_lines, "n_lines")
    n_frames = _check_at_least_two(n_frames, "n_frames")
    rng = numpy_rng(rng, "topolib.latent_probes.bridge_lines")
    component = atlas.projection.params[:, 0] == 1  # params: (component, theta)
    on = ~atlas.off_manifold
    pools = np.flatnonzero(on & ~component), np.flatnonzero(on & component)
    if min(len(pool) for pool in pools) == 0:
        return None
    starts, ends = (atlas.z[rng.choice(pool, n_lines)] for pool in pools)
    t = np.linspace(0, 1, n_frames)[None, :, None]
    codes = starts[:, None] * (1 - t) + ends[:, None] * t  # (n_lines, n_frames, latent_dim)
    with torch.no_grad():
        flat = torch.as_tensor(codes.reshape(-1, model.latent_dim), dtype=torch.float32,
                               device=model.device)
        frames = model.decode(flat).cpu().numpy()
    lines = project(frames[:, 0], ds)
    off = lines.off_manifold().reshape(n_lines, n_frames)
    side = lines.params[:, 0].reshape(n_lines, n_frames)
    switch = (side[:, 1:] != side[:, :-1]) & ~off[:, 1:] & ~off[:, :-1]
    return BridgeLines(codes=codes, projection=lines, off=off, switch=switch)


# ---------------------------------------------------------------------------- failure counts


def failure_counts(
    evaluations: Mapping[Any, Evaluation] | Sequence[Evaluation],
) -> pd.DataFrame:
    """Count the interpolation paths of each evaluation by audit verdict.

    Parameters
    ----------
    evaluations : ``{key: Evaluation}`` (keys are not used) or a sequence of evaluations.

    Returns
    -------
    DataFrame, one row per evaluation: ``model``, ``dataset``, ``latent dim``, ``pairs``
    (paths audited), ``valid`` (paths with no failure) and one integer column per label of
    ``FAILURE_LABELS`` (paths with that failure; a path can have several).
    """
    items = list(evaluations.values()) if isinstance(evaluations, Mapping) else \
        list(evaluations)
    if not items:
        raise ValueError("evaluations is empty; pass at least one Evaluation")
    rows = []
    for i, ev in enumerate(items):
        if not isinstance(ev, Evaluation):
            raise TypeError(f"evaluations[{i}] must be an Evaluation; got {type(ev).__name__}")
        audits = ev.audits
        row = {"model": ev.model, "dataset": ev.dataset, "latent dim": ev.latent_dim,
               "pairs": len(audits), "valid": sum(a.valid for a in audits)}
        row.update({label: sum(label in a.failures for a in audits) for label in FAILURE_LABELS})
        rows.append(row)
    return pd.DataFrame(rows)
