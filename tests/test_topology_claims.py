"""The topology the text states, checked where code can check it (chapters 1 and 2).

- The Klein bottle: H_1(K; Z) = Z + Z/2. Over Z/2 both loops count (b = (1, 2, 1)); over Z/3
  the torsion loop dies (b = (1, 1, 0)). The loop that survives over Z/3 is the glide loop
  (once round the core circle, reversing the fibre): it has infinite order. The torsion class
  is the fibre circle.
- RP^2: H_1 = Z/2, so b = (1, 1, 1) over Z/2 and (1, 0, 0) over Z/3; its loop is torsion.
- The torus: both loops have infinite order and survive over both fields (the control).
- The Betti rule's spacing eps is the 90th percentile of the landmarks' minimum-spanning-tree
  edge lengths (not of nearest-neighbour distances).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.csgraph import minimum_spanning_tree

from topolib.datasets.point_clouds import (
    klein_embedding,
    klein_points,
    sphere_points,
    torus_points,
)
from topolib.metrics import persistent_homology
from topolib.metrics.betti import landmark_spacing
from topolib.metrics.landmarks import farthest_point_sampling, pairwise_distances
from topolib.metrics.loops import loop_pairing

N_LANDMARKS = 250
CURVE = np.linspace(0.0, 2 * np.pi, 600, endpoint=False)


def veronese(u: np.ndarray) -> np.ndarray:
    """RP^2 in R^6: u -> the upper triangle of u u^T (u and -u give the same point)."""
    rows, cols = np.triu_indices(3)
    return (u[:, :, None] * u[:, None, :])[:, rows, cols]


@pytest.fixture(scope="module")
def klein() -> np.ndarray:
    return klein_points(2000, seed=7)


@pytest.fixture(scope="module")
def klein_loops() -> dict[str, np.ndarray]:
    return {
        # once round the core: u -> u + 2 pi maps v -> -v, so at v = 0 the curve closes
        "glide": klein_embedding(CURVE, np.zeros_like(CURVE)),
        # the fibre circle at fixed u
        "fibre": klein_embedding(np.full_like(CURVE, 0.7), CURVE),
    }


def test_klein_bottle_betti_numbers_over_two_fields(klein):
    result = persistent_homology(klein, maxdim=2, coeffs=(2, 3), n_landmarks=N_LANDMARKS, seed=7)
    assert result.betti[2] == (1, 2, 1), result.summary()
    assert result.betti[3] == (1, 1, 0), result.summary()


def test_klein_glide_loop_has_infinite_order_and_the_fibre_is_torsion(klein, klein_loops):
    over3 = loop_pairing(klein, klein_loops, coeff=3, n_landmarks=N_LANDMARKS, seed=7)
    assert over3.b1 == 1
    assert over3.survives("glide")  # infinite order: its class survives over Z/3
    assert not over3.survives("fibre")  # 2 x fibre bounds, and 2 is invertible mod 3
    over2 = loop_pairing(klein, klein_loops, coeff=2, n_landmarks=N_LANDMARKS, seed=7)
    assert over2.b1 == 2
    assert over2.survives("glide") and over2.survives("fibre")
    assert over2.max_step < over2.reading_scale


def test_projective_plane_betti_numbers_and_torsion_loop():
    u = sphere_points(1500, seed=8)
    rp2 = veronese(u)
    result = persistent_homology(rp2, maxdim=2, coeffs=(2, 3), n_landmarks=N_LANDMARKS, seed=8)
    assert result.betti[2] == (1, 1, 1), result.summary()
    assert result.betti[3] == (1, 0, 0), result.summary()
    # half a great circle, u to -u, is a closed loop in RP^2: non-zero over Z/2 only
    half = np.stack([np.cos(CURVE / 2), np.sin(CURVE / 2), np.zeros_like(CURVE)], axis=1)
    loops = {"half great circle": veronese(half)}
    assert loop_pairing(rp2, loops, coeff=2, n_landmarks=N_LANDMARKS, seed=8).survives(
        "half great circle"
    )
    assert loop_pairing(rp2, loops, coeff=3, n_landmarks=N_LANDMARKS, seed=8).b1 == 0


def test_torus_loops_survive_over_both_fields():
    R, r = 2.0, 1.0  # noqa: N806
    torus = torus_points(2000, seed=9, R=R, r=r)
    loops = {
        "longitude": np.stack([(R + r) * np.cos(CURVE), (R + r) * np.sin(CURVE), 0 * CURVE], 1),
        "meridian": np.stack([R + r * np.cos(CURVE), 0 * CURVE, r * np.sin(CURVE)], 1),
    }
    for coeff in (2, 3):
        result = loop_pairing(torus, loops, coeff=coeff, n_landmarks=N_LANDMARKS, seed=9)
        assert result.b1 == 2
        assert result.survives("longitude") and result.survives("meridian")


def test_spacing_is_a_quantile_of_spanning_tree_edges():
    X = torus_points(1500, seed=10)
    result = persistent_homology(X, maxdim=1, coeffs=(2,), n_landmarks=200, seed=10)
    landmarks = X[farthest_point_sampling(X, 200, 10).indices]
    D = pairwise_distances(landmarks)
    tree = minimum_spanning_tree(D).toarray()
    edges = tree[tree > 0]
    assert len(edges) == len(landmarks) - 1
    assert result.scale == pytest.approx(np.quantile(edges, 0.9), rel=1e-6)
    assert landmark_spacing(result.diagram(0)) == pytest.approx(result.scale)
    # not the nearest-neighbour quantile, which is smaller: the tree also needs the links
    # that join the nearest-neighbour clusters
    nearest = np.sort(D, axis=1)[:, 1]
    assert np.quantile(nearest, 0.9) < result.scale


def test_loop_pairing_rejects_bad_input(klein, klein_loops):
    with pytest.raises(ValueError, match="at least one"):
        loop_pairing(klein, {}, coeff=2)
    with pytest.raises(ValueError, match="one prime"):
        loop_pairing(klein, klein_loops, coeff=(2, 3))
    with pytest.raises(ValueError, match="columns"):
        loop_pairing(klein, {"flat": np.zeros((50, 3))}, coeff=2)
    far = {"far away": 10.0 * klein_loops["glide"]}
    with pytest.raises(ValueError, match="from the nearest landmark"):
        loop_pairing(klein, far, coeff=2, n_landmarks=N_LANDMARKS, seed=7)
    with pytest.raises(KeyError, match="one of"):
        loop_pairing(klein, klein_loops, coeff=2, n_landmarks=N_LANDMARKS, seed=7).survives("x")
