"""Every chapter runs top to bottom in a fresh kernel under the fast profile."""

from pathlib import Path

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError
from notebook_runner import execute_notebook, output_text, read_notebook

REPO = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((REPO / "notebooks").glob("*.ipynb"))
EXECUTED_PAGES = CHAPTERS + [REPO / "book" / "setup.md"]


def test_there_are_chapters():
    assert CHAPTERS, "no notebooks found in notebooks/"


@pytest.mark.notebook
@pytest.mark.parametrize("path", EXECUTED_PAGES, ids=lambda p: p.name)
def test_page_executes_under_fast_profile(path, monkeypatch):
    monkeypatch.setenv("TOPOLIB_PROFILE", "fast")
    nb = execute_notebook(path, profile="fast")
    text = output_text(nb)
    assert "Traceback" not in text
    if path.suffix == ".ipynb":
        # Guard: the chapter really ran with the fast profile (its banner says so).
        assert "profile=fast" in text and "mean nothing" in text


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_starts_with_the_current_setup_cell(path):
    import sys

    sys.path.insert(0, str(REPO / "tools"))
    from setup_cell import chapter_seed, first_code_cell, setup_cell_source

    cell = first_code_cell(read_notebook(path))
    assert cell.source == setup_cell_source(chapter_seed(cell.source)), (
        "run `python tools/setup_cell.py` to refresh it"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapters_are_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_a_failing_cell_fails_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("TOPOLIB_PROFILE", "fast")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("1 / 0")]
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        execute_notebook(path)
