"""Verdicts are computed, not typed: the helper, and a scan of every chapter's cells."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from topolib.verdicts import FAST_MARK, Verdict, VerdictError, verdict

REPO = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# A measured share typed into prose: "16%", "16 %", "0.5 per cent". Not counted: math's "39\%"
# (a constant derived in the text, written with a backslash) and the level of an interval
# ("95% Wilson intervals", "a 90% interval").
_LEVEL = r"(?!\s*(?:Wilson\s+)?(?:confidence|intervals?|level|coverage))"
TYPED_SHARE = re.compile(rf"\d(?:\.\d+)?\s?(?<!\\)%{_LEVEL}|\d\s?per ?cent{_LEVEL}")
GUARD = re.compile(r"\bverdict\(|^\s*assert\b", re.MULTILINE)


def _cells(path: Path) -> list[nbformat.NotebookNode]:
    return nbformat.read(path, as_version=4).cells


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


# ------------------------------------------------------------------ the helper


def test_true_condition_gives_the_sentence():
    v = verdict(bool(np.float64(0.01) < 0.05), "The control passes.")
    assert isinstance(v, Verdict) and v.holds and v._repr_markdown_() == "The control passes."


def test_false_condition_gives_the_other_sentence():
    v = verdict(np.bool_(False), "The loop is kept.", otherwise="The loop is lost.")
    assert not v.holds and str(v) == "The loop is lost."


@pytest.mark.parametrize(
    ("text", "typed"),
    [("16% of samples", True), ("0.5 per cent", True), ("$\\approx 39\\%$", False),
     ("95% Wilson intervals", False), ("a 90% interval", False)],
)
def test_the_scan_tells_measured_shares_from_interval_levels(text, typed):
    assert bool(TYPED_SHARE.findall(text)) == typed


def test_false_guarded_claim_raises_at_a_real_profile():
    with pytest.raises(VerdictError, match="no longer support.*The loop is kept"):
        verdict(False, "The loop is kept.", profile="cpu")


def test_false_guarded_claim_is_marked_unchecked_under_fast():
    v = verdict(False, "The loop is kept.", profile="fast")
    assert not v.holds and v.text.startswith(FAST_MARK)


@pytest.mark.parametrize("condition", [np.array([True, False]), 1, 0.0, None, "yes"])
def test_condition_must_be_a_bool(condition):
    with pytest.raises(TypeError, match="condition must be a bool"):
        verdict(condition, "text")


def test_text_must_be_given():
    with pytest.raises(TypeError, match="text"):
        verdict(True, "  ")
    with pytest.raises(TypeError, match="otherwise"):
        verdict(True, "text", otherwise=3)


# ------------------------------------------------------------------ the chapters


def test_there_are_chapters_to_scan():
    assert CHAPTERS


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_has_verdict_cells(path):
    verdicts = [c for c in _cells(path) if "verdict" in _tags(c)]
    assert verdicts, f"{path.name} reports results but has no cell tagged 'verdict'"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_verdict_cell_is_guarded(path):
    for k, cell in enumerate(_cells(path)):
        if "verdict" not in _tags(cell):
            continue
        assert cell.cell_type == "code", f"{path.name} cell {k}: a verdict must be a code cell"
        assert GUARD.search(cell.source), (
            f"{path.name} cell {k} is tagged 'verdict' but neither calls verdict(...) nor "
            "asserts"
        )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_cells_that_call_verdict_are_tagged(path):
    for k, cell in enumerate(_cells(path)):
        if cell.cell_type == "code" and re.search(r"\bverdict\(", cell.source):
            assert "verdict" in _tags(cell), f"{path.name} cell {k}: tag it 'verdict'"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_markdown_reports_no_measured_share(path):
    for k, cell in enumerate(_cells(path)):
        if cell.cell_type == "markdown":
            found = TYPED_SHARE.findall(cell.source)
            assert not found, (
                f"{path.name} cell {k} types a measured share into prose ({found}); print it "
                "from the numbers in a verdict cell"
            )
