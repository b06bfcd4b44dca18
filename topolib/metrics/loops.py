"""Which loops carry the homology classes that persistent homology counts.

A Betti number says *how many* independent loops a sample has; it does not say *which*. Over a
field F, H^1 is dual to H_1, so a closed path's class in H_1(.; F) is non-zero exactly when some
cohomology class pairs with it non-trivially. ripser returns a representative cocycle of every
bar; summing a cocycle along a closed path of landmark edges gives that pairing.

>>> from topolib.metrics.loops import loop_pairing
>>> result = loop_pairing(klein, {"glide": glide_curve, "fibre": fibre_curve}, coeff=3)
>>> result.survives("glide"), result.survives("fibre")    # (True, False) on a Klein bottle

The cocycles are read at the Betti rule's reading scale ``t* = 2.5 eps``
(:mod:`topolib.metrics.betti`), on the classes that rule counts; each closed path must be a
cycle of the Rips complex there (every step shorter than ``t*``), or a ValueError says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from ripser import ripser

from topolib.metrics.betti import MIN_PERSISTENCE, READING_SCALE, landmark_spacing
from topolib.metrics.homology import check_coeffs
from topolib.metrics.landmarks import (
    as_point_array,
    farthest_point_sampling,
    pairwise_distances,
)

__all__ = ["LoopPairing", "loop_pairing"]


@dataclass(frozen=True, eq=False)
class LoopPairing:
    """Pairings of the counted H1 classes (cocycles) with named closed paths.

    Attributes
    ----------
    names : the closed paths, in input order.
    pairing : ndarray of int, shape (k, len(names))
        ``pairing[c, j]`` is the value, in Z/coeff (0..coeff-1), of the c-th counted cocycle
        summed along path j. k is b_1 by the Betti rule.
    bars : ndarray, shape (k, 2): (birth, death) of the counted H1 bars.
    coeff : the field Z/coeff.
    reading_scale : filtration value ``t*`` at which the classes are read.
    max_step : longest landmark edge used by any path (each is below ``reading_scale``).
    """

    names: tuple[str, ...]
    pairing: np.ndarray
    bars: np.ndarray
    coeff: int
    reading_scale: float
    max_step: float

    @property
    def b1(self) -> int:
        """Number of counted H1 classes."""
        return int(self.pairing.shape[0])

    def survives(self, name: str) -> bool:
        """Whether the path ``name`` has a non-zero class in H_1 over Z/coeff at ``t*``."""
        if name not in self.names:
            raise KeyError(f"name must be one of {self.names}; got {name!r}")
        return bool(np.any(self.pairing[:, self.names.index(name)] != 0))


def _landmark_cycle(curve: np.ndarray, landmarks: np.ndarray, name: str, reach: float) -> list[int]:
    """The closed sequence of nearest landmarks along a densely sampled closed curve."""
    squared = (
        (curve**2).sum(axis=1)[:, None]
        - 2.0 * curve @ landmarks.T
        + (landmarks**2).sum(axis=1)[None, :]
    )
    np.maximum(squared, 0.0, out=squared)
    nearest = np.argmin(squared, axis=1)
    gap = float(np.sqrt(squared.min(axis=1).max()))
    if gap >= reach:
        raise ValueError(
            f"loops[{name!r}] passes {gap:.3g} from the nearest landmark, more than the reading "
            f"scale {reach:.3g}: pass a curve on the sampled set"
        )
    cycle = [int(nearest[0])]
    for i in nearest[1:]:
        if int(i) != cycle[-1]:
            cycle.append(int(i))
    if len(cycle) > 1 and cycle[-1] == cycle[0]:
        cycle.pop()
    if len(cycle) < 3:
        raise ValueError(
            f"loops[{name!r}] visits fewer than three landmarks; sample the curve more densely "
            "or use more landmarks"
        )
    return cycle


def _pair(cocycle: np.ndarray, cycle: list[int], p: int) -> int:
    values = {(int(i), int(j)): int(c) for i, j, c in cocycle}
    total = 0
    for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True):
        # A cocycle changes sign with the orientation of the edge; unlisted edges carry 0.
        total += values.get((a, b), 0) - values.get((b, a), 0)
    return total % p


def loop_pairing(
    X: np.ndarray,
    loops: Mapping[str, np.ndarray],
    coeff: int = 2,
    n_landmarks: int = 250,
    seed: int = 0,
) -> LoopPairing:
    """Pair the H1 classes counted by the Betti rule with closed curves through the data.

    Parameters
    ----------
    X : array-like, shape (n, D)
        The sample (points, or images flattened).
    loops : mapping name -> ndarray of shape (m, D)
        Closed curves, densely sampled in order (the last point next to the first), lying on
        or near the sampled set. Each is replaced by the closed path of its nearest landmarks.
    coeff : prime; the field Z/coeff.
    n_landmarks : greedy landmarks (as in :func:`topolib.metrics.persistent_homology`).
    seed : chooses the first landmark.

    Returns
    -------
    LoopPairing

    Raises
    ------
    ValueError
        If ``loops`` is empty, a curve has the wrong dimension, passes farther than the reading
        scale from every landmark, visits fewer than three landmarks, or takes a step longer
        than the reading scale (it is then not a cycle of
        the Rips complex at which the classes are read).
    """
    fields = check_coeffs(coeff, "coeff")
    if len(fields) != 1:
        raise ValueError(f"coeff must be one prime; got {coeff!r}")
    p = fields[0]
    Y = as_point_array(X)
    if not loops:
        raise ValueError("loops must name at least one closed curve")
    lm = farthest_point_sampling(Y, n_landmarks, seed)
    landmarks = Y[lm.indices]
    D = pairwise_distances(landmarks)
    res = ripser(D, distance_matrix=True, maxdim=1, coeff=p, do_cocycles=True)
    h0, h1 = res["dgms"]
    eps = landmark_spacing(h0)
    t, floor = READING_SCALE * eps, MIN_PERSISTENCE * eps
    counted = [k for k, (b, d) in enumerate(h1) if b <= t < d and d - b > floor]
    names = tuple(loops)
    cycles = []
    max_step = 0.0
    for name in names:
        curve = as_point_array(loops[name], name=f"loops[{name!r}]")
        if curve.shape[1] != Y.shape[1]:
            raise ValueError(
                f"loops[{name!r}] must have {Y.shape[1]} columns like X; got {curve.shape[1]}"
            )
        cycle = _landmark_cycle(curve, landmarks, name, t)
        step = max(D[a, b] for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True))
        if step >= t:
            raise ValueError(
                f"loops[{name!r}] jumps {step:.3g} between neighbouring landmarks, more than the "
                f"reading scale {t:.3g}: it is not a cycle of the Rips complex there; pass a "
                "curve on the sampled set"
            )
        max_step = max(max_step, float(step))
        cycles.append(cycle)
    pairing = np.array(
        [[_pair(res["cocycles"][1][k], cycle, p) for cycle in cycles] for k in counted],
        dtype=np.int64,
    ).reshape(len(counted), len(names))
    bars = np.asarray(h1[counted], dtype=np.float64).reshape(-1, 2)
    return LoopPairing(
        names=names,
        pairing=pairing,
        bars=bars,
        coeff=p,
        reading_scale=float(t),
        max_step=max_step,
    )
