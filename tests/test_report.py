"""The report card passes intact sample sets and fails each broken one on the right check.

The graded sets are at the ``cpu`` profile's size (2,000 32x32 images, 350 landmarks): the
size the book is built with, where every claim about a failure must already be visible.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from topolib.datasets import failures  # noqa: E402
from topolib.datasets.registry import get_dataset  # noqa: E402
from topolib.metrics.interpolation import geodesic_path_images, linear_pixel_path  # noqa: E402
from topolib.metrics.report import CHECKS, THRESHOLDS, ReportCard, report_card  # noqa: E402
from topolib.profiles import get_profile  # noqa: E402

CPU = get_profile("cpu")
FAST = get_profile("fast")
_CARDS: dict[str, tuple[failures.SampleSet, ReportCard]] = {}


def graded(name: str) -> tuple[failures.SampleSet, ReportCard]:
    """Sample set ``name`` at the cpu profile's size and its report card (cached per session)."""
    if name not in _CARDS:
        n = CPU.n_samples
        makers = {
            "circle": lambda: failures.intact("circle", n, seed=0),
            "torus": lambda: failures.intact("torus", n, seed=0),
            "two_circles": lambda: failures.intact("two_circles", n, seed=0),
            "sphere": lambda: failures.intact("sphere", n, seed=0),
            "torus_with_hole": lambda: failures.torus_with_hole(n, seed=0),
            "circle_torn": lambda: failures.circle_torn(n, seed=0),
            "circle_pushed_off": lambda: failures.pushed_off("circle", n, seed=0),
            "two_circles_bridged": lambda: failures.two_circles_bridged(n, seed=0),
        }
        sample = makers[name]()
        _CARDS[name] = (
            sample,
            report_card(sample.images, sample.dataset, n_landmarks=CPU.n_landmarks),
        )
    return _CARDS[name]


def failed(card: ReportCard) -> set[str]:
    return set(card.failed_checks)


# ---------------------------------------------------------------------------- intact sets


@pytest.mark.parametrize("name", ["circle", "torus", "two_circles", "sphere"])
def test_intact_sets_pass(name):
    _, card = graded(name)
    assert card.passed, card.table.to_string()
    assert card.check("off_manifold").value == 0.0
    assert card.check("holes").value == 0.0
    assert card.check("diagram_distance").value < 0.5 * THRESHOLDS["diagram_distance"].value


# ---------------------------------------------------------------------------- broken sets


def test_torus_with_hole_fails_on_the_hole():
    sample, card = graded("torus_with_hole")
    assert {"holes", "coverage"} <= failed(card)
    assert card.check("off_manifold").passed
    hole = card.coverage.holes[0]
    assert hole.centre == pytest.approx((0.5, 0.5), abs=0.05)
    assert 0.06 < card.check("holes").value < 0.13
    assert set(sample.breaks) <= failed(card) | {"betti_z2", "betti_z3"}


def test_torn_circle_loses_its_loop_and_shows_a_hole():
    sample, card = graded("circle_torn")
    assert {"betti_z2", "betti_z3", "holes", "coverage"} <= failed(card)
    assert card.check("betti_z2").value == (1, 0)
    assert card.check("betti_z3").value == (1, 0)
    assert card.check("holes").value == pytest.approx(0.25, abs=0.03)
    assert card.check("off_manifold").passed
    assert set(sample.breaks) <= failed(card)


def test_pushed_off_samples_fail_off_manifold_only_among_manifold_checks():
    sample, card = graded("circle_pushed_off")
    assert "off_manifold" in failed(card)
    assert card.check("off_manifold").value == pytest.approx(0.3, abs=0.01)
    # the rest is still uniform on the circle
    for check in ("coverage", "holes", "density"):
        assert card.check(check).passed, card.table.to_string()
    assert card.coverage.n == int(sample.on_manifold.sum())


def test_bridged_circles_become_one_piece_off_the_manifold():
    sample, card = graded("two_circles_bridged")
    assert {"betti_z2", "betti_z3", "off_manifold"} <= failed(card)
    assert card.check("betti_z2").value[0] == 1
    assert card.check("betti_z3").value[0] == 1
    assert card.check("off_manifold").value > THRESHOLDS["off_manifold"].value
    for check in ("coverage", "holes"):
        assert card.check(check).passed
    assert card.coverage.component_mass == pytest.approx((0.5, 0.5), abs=0.04)


# ---------------------------------------------------------------------------- the card itself


@pytest.fixture(scope="module")
def small_card() -> ReportCard:
    ds = get_dataset("circle")
    images, _ = ds.sample(FAST.n_samples, seed=1)
    a, b = np.array([0.2]), np.array([1.4])
    good = geodesic_path_images(ds, a, b, m=10)
    bad = linear_pixel_path(*ds.render(np.array([[0.2], [3.0]])), m=10)
    return report_card(images, ds, paths=[good, good, bad], n_landmarks=FAST.n_landmarks)


def test_table_is_tidy(small_card):
    table = small_card.table
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["check", "value", "expected", "passed", "note"]
    assert tuple(table["check"]) == CHECKS
    assert table["passed"].dtype == bool
    row = small_card.check("interpolation")
    assert row.value == pytest.approx(2 / 3) and not row.passed
    assert small_card.failed_checks == ("interpolation",)
    assert not small_card.passed
    assert [a.valid for a in small_card.audits] == [True, True, False]
    with pytest.raises(KeyError, match="no check named"):
        small_card.check("beauty")


def test_thresholds_have_reasons():
    for name, threshold in THRESHOLDS.items():
        assert name in CHECKS
        assert len(threshold.reason) > 40
        assert threshold.op in ("<=", ">=", "==")


def test_figure_and_html(small_card):
    fig = small_card.figure()
    assert len(fig.axes) >= 6  # samples, coverage, residuals, two diagrams, verdicts
    assert fig.axes[0].get_title(loc="left") == "samples"
    assert fig._suptitle.get_text().startswith("Report card: circle,")
    plt.close(fig)
    titled = small_card.figure(title="VAE on the circle, d = 2")
    assert titled._suptitle.get_text().startswith("Report card: VAE on the circle, d = 2,")
    plt.close(titled)
    page = small_card._repr_html_()
    assert "<table" in page and "interpolation" in page and "fails" in page


def test_reference_can_be_given(small_card):
    ds = get_dataset("circle")
    images, _ = ds.sample(FAST.n_samples, seed=1)
    card = report_card(images, ds, n_landmarks=FAST.n_landmarks, reference=small_card.reference)
    assert card.reference is small_card.reference
    ref_images, _ = ds.sample(FAST.n_samples, seed=7)
    card = report_card(images, ds, n_landmarks=FAST.n_landmarks, reference=ref_images)
    assert card.check("diagram_distance").passed


def test_bad_inputs_raise():
    ds = get_dataset("circle")
    images, _ = ds.sample(20, seed=0)
    with pytest.raises(ValueError, match="unknown dataset"):
        report_card(images, "pretzel")
    with pytest.raises(ValueError, match="samples must have shape"):
        report_card(images[0], ds)
    with pytest.raises(ValueError, match="samples contains NaN"):
        report_card(np.full_like(images, np.nan), ds)
    with pytest.raises(ValueError, match="samples is empty"):
        report_card(images[:0], ds)
    with pytest.raises(ValueError, match="at least 10"):
        report_card(images[:5], ds)
    with pytest.raises(ValueError, match="paths is empty"):
        report_card(images, ds, paths=[])
    with pytest.raises(ValueError, match=r"paths\[0\] must be 32x32"):
        report_card(images, ds, paths=[np.zeros((5, 16, 16))])
    with pytest.raises(ValueError, match="maxdim"):
        report_card(images, ds, maxdim=3)
    with pytest.raises(ValueError, match="reference must hold"):
        report_card(images, ds, n_landmarks=15, reference=images[:10])
    path = geodesic_path_images(ds, np.array([0.0]), np.array([1.0]), 6)
    with pytest.raises(ValueError, match=r"path_endpoints must have shape \(n_paths, 2, 1\)"):
        report_card(images, ds, n_landmarks=15, paths=[path], path_endpoints=np.zeros((2, 2, 1)))
    with pytest.raises(ValueError, match="path_endpoints"):
        report_card(images, ds, n_landmarks=15, path_endpoints=np.zeros((1, 2, 1)))


def test_paths_are_judged_against_the_given_endpoints():
    """A path that stops short of the requested end point is measured against the geodesic it
    was asked to follow, so the shortfall shows in ``endpoint_error``."""
    ds = get_dataset("circle")
    images, _ = ds.sample(20, seed=0)
    path = geodesic_path_images(ds, np.array([0.0]), np.array([1.0]), 8)
    asked = np.array([[[0.0], [2.0]]])
    card = report_card(images, ds, n_landmarks=15, paths=[path], path_endpoints=asked)
    audit = card.audits[0]
    assert audit.geodesic == pytest.approx(2.0)
    assert audit.endpoint_error == pytest.approx(1.0, abs=1e-3)
    free = report_card(images, ds, n_landmarks=15, paths=[path]).audits[0]
    assert free.geodesic == pytest.approx(1.0, abs=1e-3) and np.isnan(free.endpoint_error)


# ---------------------------------------------------------------------------- the sets


def test_failure_sets_are_seeded_and_well_formed():
    for name, make in failures.BROKEN_SETS.items():
        a, b = make(120, seed=3), make(120, seed=3)
        assert np.array_equal(a.images, b.images), name
        assert a.images.shape == (120, 32, 32) and a.images.dtype == np.float32
        assert a.params.shape == (120, get_dataset(a.dataset).param_dim)
        assert np.isnan(a.params[~a.on_manifold]).all()
        assert not np.isnan(a.params[a.on_manifold]).any()
        assert a.breaks and set(a.breaks) <= set(CHECKS)
        assert not np.array_equal(a.images, make(120, seed=4).images), name
    with pytest.raises(ValueError, match="kind"):
        failures.off_manifold_images("circle", np.zeros((2, 1)), "smudge")
    with pytest.raises(ValueError, match="width"):
        failures.torus_with_hole(10, width=1.5)
    with pytest.raises(ValueError, match="unknown dataset"):
        failures.intact("bagel", 10)


def test_incompatible_reference_is_named(small_card):
    images, _ = get_dataset("circle").sample(FAST.n_samples, seed=1)
    with pytest.raises(ValueError, match="reference cannot be compared"):
        report_card(images, "circle", n_landmarks=40, reference=small_card.reference)
