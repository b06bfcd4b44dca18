"""Latent probes: same numbers as the GAN chapter's exercise code, known answers on oracles."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import norm

from topolib.experiments import LatentAtlas, evaluate, latent_atlas, latent_grid
from topolib.latent_probes import (
    FAILURE_LABELS,
    bridge_lines,
    failure_counts,
    find_seam,
    truncated_normal,
    truncation_sweep,
)
from topolib.metrics import off_manifold_rate, on_manifold_coverage, project
from topolib.models import GAN
from topolib.models.oracle import CircleOracle, oracle_decoder
from topolib.seeding import numpy_rng, torch_generator

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE = 32


def notebook_seam(model):
    """Exercise 1 of notebooks/04_gans.ipynb, verbatim but for the printing."""
    z = np.linspace(-4.0, 4.0, 2001)
    images = latent_grid(model, n_side=len(z), span=4.0)
    line = project(images, "circle")
    angle = line.coords[:, 0]
    step = np.abs(np.diff(angle))
    jump = np.minimum(step, 1 - step) > 0.05
    bad = line.off_manifold()
    bad[:-1] |= jump
    bad[1:] |= jump
    cell = z[1] - z[0]
    mass = norm.cdf(z + cell / 2) - norm.cdf(z - cell / 2)
    turns = np.sum(np.diff(np.unwrap(2 * np.pi * angle))) / (2 * np.pi)
    return bad, mass[bad].sum(), turns


class SeamyCircle(CircleOracle):
    """The circle oracle with dimmed (off-manifold) images for |z + 1| < 0.1 and a half-turn
    jump at z = 1: a seam with a known place and mass."""

    def latent_to_params(self, z: torch.Tensor) -> torch.Tensor:
        return super().latent_to_params(z) + math.pi * (z[:, :1] > 1.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        dim = ((z[:, :1] + 1.0).abs() < 0.1).to(z.dtype)[:, :, None, None]
        return super().decode(z) * (1.0 - 0.7 * dim)


def test_find_seam_matches_the_notebook():
    model = SeamyCircle(SIZE)
    seam = find_seam(model)
    bad, mass, turns = notebook_seam(model)
    np.testing.assert_array_equal(seam.at_seam, bad)
    assert seam.prior_mass == mass and seam.turns == turns
    assert seam.n_codes == bad.sum() and seam.z.shape == (2001,)


def test_find_seam_finds_a_known_seam():
    seam = find_seam(SeamyCircle(SIZE))
    assert np.flatnonzero(seam.jump).tolist() == [1250]  # between z = 1.000 and 1.004
    dimmed = ((torch.linspace(-4.0, 4.0, 2001) + 1.0).abs() < 0.1).numpy()  # as decoded
    np.testing.assert_array_equal(seam.at_seam, dimmed | np.isin(np.arange(2001), [1250, 1251]))
    assert seam.prior_mass == pytest.approx(norm.cdf(-0.9) - norm.cdf(-1.1), abs=0.005)
    assert seam.z_range == pytest.approx((-1.1, 1.004))


def test_the_oracle_circle_has_no_seam_on_the_line_and_turns_k_times():
    for winding in (1, 2):
        seam = find_seam(oracle_decoder("circle", SIZE, winding=winding), n=801)
        assert seam.n_codes == 0 and seam.prior_mass == 0.0 and seam.z_range is None
        assert seam.turns == pytest.approx(winding, abs=0.01)
    assert seam.cell_mass.sum() == pytest.approx(1.0, abs=1e-4)


def test_find_seam_finds_the_two_circles_bridge():
    model = oracle_decoder("two_circles", SIZE, bridge=0.2)
    seam = find_seam(model, "two_circles", n=401)
    lo, hi = model.bridge_interval()
    assert seam.z_range is not None and lo - 0.05 < seam.z_range[0] < seam.z_range[1] < hi + 0.05
    assert 0.1 < seam.prior_mass <= 0.25


def test_truncated_normal_matches_the_notebook_and_truncates():
    def notebook(n, d, tau, generator):
        z = torch.randn((n, d), generator=generator)
        while (outside := z.abs() > tau).any():
            z[outside] = torch.randn(int(outside.sum()), generator=generator)
        return z

    for tau in (0.5, 2.0, np.inf):
        ours = truncated_normal(300, 2, tau, torch_generator(7, f"t-{tau}"))
        torch.testing.assert_close(ours, notebook(300, 2, tau, torch_generator(7, f"t-{tau}")))
        assert ours.shape == (300, 2) and bool((ours.abs() <= tau).all())
    torch.testing.assert_close(truncated_normal(50, 1, 1.0, 4), truncated_normal(50, 1, 1.0, 4))


def test_truncation_sweep_matches_the_notebook():
    gan1 = GAN(latent_dim=1, size=SIZE, channels=8, seed=3).eval()  # untrained: any decoder
    taus = (0.5, 1.0, np.inf)
    table = truncation_sweep(gan1, "circle", taus, 100, seed=11)
    rows = []
    for tau in taus:  # exercise 2 of notebooks/04_gans.ipynb
        z = truncated_normal(100, 1, tau, torch_generator(11, f"truncation-{tau}"))
        with torch.no_grad():
            images = gan1.decode(z.to(gan1.device)).cpu().numpy()[:, 0]
        projection = project(images, "circle")
        rows.append([tau, off_manifold_rate(projection),
                     on_manifold_coverage(projection).hole_fraction])
    np.testing.assert_array_equal(table.to_numpy(), np.array(rows))
    assert list(table.columns) == ["tau", "off-manifold samples",
                                   "share of the manifold in holes"]


def test_truncation_shrinks_the_oracle_circle_into_an_arc():
    table = truncation_sweep(oracle_decoder("circle", SIZE), "circle", (0.5, np.inf), 300,
                             seed=0)
    off, holes = table["off-manifold samples"], table["share of the manifold in holes"]
    assert (off == 0).all()
    assert holes[0] > 0.3 and holes[1] == 0.0  # |z| < 0.5 covers 38% of the angles


def notebook_bridge(model, atlas, rng):
    """Exercise 3 of notebooks/04_gans.ipynb, verbatim but for the printing."""
    component = atlas.projection.params[:, 0] == 1
    on = ~atlas.off_manifold
    pools = np.flatnonzero(on & ~component), np.flatnonzero(on & component)
    starts, ends = (atlas.z[rng.choice(pool, 200)] for pool in pools)
    t = np.linspace(0, 1, 16)[None, :, None]
    codes = starts[:, None] * (1 - t) + ends[:, None] * t
    with torch.no_grad():
        codes = torch.as_tensor(codes.reshape(-1, 2), dtype=torch.float32, device=model.device)
        frames = model.decode(codes).cpu().numpy()
    lines = project(frames[:, 0], "two_circles")
    off = lines.off_manifold().reshape(200, 16)
    side = lines.params[:, 0].reshape(200, 16)
    switch = (side[:, 1:] != side[:, :-1]) & ~off[:, 1:] & ~off[:, :-1]
    return off.any(axis=1).mean(), switch.any(axis=1).mean()


@pytest.mark.parametrize("bridge", [0.02, 0.3])
def test_bridge_lines_match_the_notebook_and_never_avoid_the_bridge(bridge):
    model = oracle_decoder("two_circles", SIZE, latent_dim=2, bridge=bridge)
    atlas = latent_atlas(model, "two_circles", 300, generator=5)
    lines = bridge_lines(model, atlas, rng=numpy_rng(2, "bridge-pairs"))
    off, switch = notebook_bridge(model, atlas, numpy_rng(2, "bridge-pairs"))
    assert (lines.share_off, lines.share_switch) == (off, switch)
    assert lines.off.shape == (200, 16) and lines.switch.shape == (200, 15)
    assert lines.share_neither == 0.0  # a continuous decoder cannot avoid the bridge
    if bridge == 0.3:
        assert lines.share_off > 0.9  # a wide bridge is crossed on a frame


def test_bridge_lines_without_both_components_is_none():
    model = oracle_decoder("circle", SIZE, latent_dim=2)
    with pytest.raises(ValueError, match="two_circles"):
        bridge_lines(model, latent_atlas(model, "circle", 50))
    model = oracle_decoder("two_circles", SIZE, latent_dim=2)
    z = torch.randn((40, 2), generator=torch.Generator().manual_seed(0))
    z[:, 0] = -1.0  # every code on the first circle
    one_side = LatentAtlas(z=z.numpy(), projection=project(model.decode(z), "two_circles"))
    assert bridge_lines(model, one_side) is None


@pytest.mark.filterwarnings("ignore:the landmarks do not resolve")
def test_failure_counts_match_the_notebook():
    evaluations = {
        (name, 1): evaluate(oracle_decoder(name, SIZE), name, n_samples=20, n_pairs=24, seed=0)
        for name in ("circle", "two_circles")
    }
    table = failure_counts(evaluations)
    reference = pd.DataFrame([  # cell 35 of notebooks/04_gans.ipynb
        {"dataset": name, "latent dim": d, "valid": sum(a.valid for a in ev.audits),
         **Counter(r for a in ev.audits for r in a.failures)}
        for (name, d), ev in evaluations.items()
    ]).fillna(0)
    for column in reference.columns:
        np.testing.assert_array_equal(table[column].to_numpy(), reference[column].to_numpy())
    assert list(table.columns) == ["model", "dataset", "latent dim", "pairs", "valid",
                                   *FAILURE_LABELS]
    assert (table["pairs"] == 24).all() and (table["model"] == ["CircleOracle",
                                                                "TwoCirclesOracle"]).all()
    circle, two = table.iloc[0], table.iloc[1]
    assert circle["long way"] > 0 and circle["off manifold"] == circle["components"] == 0
    assert two["components"] > 0  # cross-circle pairs cannot be joined on the manifold
    assert failure_counts(list(evaluations.values())).equals(table)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: find_seam("model"), TypeError, "model must"),
        (lambda: find_seam(oracle_decoder("torus")), ValueError, "latent_dim 1"),
        (lambda: find_seam(oracle_decoder("circle"), "torus"), ValueError, "intrinsic"),
        (lambda: find_seam(oracle_decoder("circle"), n=1), ValueError, "n must"),
        (lambda: find_seam(oracle_decoder("circle"), span=-1.0), ValueError, "span"),
        (lambda: truncated_normal(0, 1, 1.0), ValueError, "n must"),
        (lambda: truncated_normal(5, 1, 0.0), ValueError, "tau"),
        (lambda: truncated_normal(5, 1, float("nan")), ValueError, "tau"),
        (lambda: truncation_sweep(oracle_decoder("circle"), "circle", (), 5, seed=0),
         ValueError, "taus"),
        (lambda: bridge_lines(oracle_decoder("two_circles"), "atlas"), TypeError, "atlas"),
        (lambda: failure_counts([]), ValueError, "empty"),
        (lambda: failure_counts(["ev"]), TypeError, r"evaluations\[0\]"),
    ],
)
def test_bad_input_raises(call, error, match):
    with pytest.raises(error, match=match):
        call()
