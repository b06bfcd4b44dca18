"""The pages the book build writes from its own measurements: status, syllabus times, slides."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "book" / "_ext"))
sys.path.insert(0, str(REPO / "tools"))

import course  # noqa: E402
import make_slides  # noqa: E402

# A 1x1 PNG.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()

MEETINGS = """
meetings:
  - title: Shapes
    week: 1
    chapters: [01_a, 02_b]
    objectives: [Read a diagram.]
    prerequisites: [Python.]
    bullets: [Bars that persist are features.]
    figures:
      - [01_a, fig]
      - [01_a, result]
  - title: Later
    week: 2
    chapters: [09_synthesis]
    objectives: [Read the table.]
    prerequisites: [Meeting 1.]
"""


def notebook(path: Path, executed: bool = False) -> nbformat.NotebookNode:
    """A two-cell chapter: a figure cell and a verdict cell (outputs when ``executed``)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    fig = nbformat.v4.new_code_cell("plot()", id="fig")
    result = nbformat.v4.new_code_cell("verdict(...)", id="result",
                                       metadata={"tags": ["verdict"]})
    if executed:
        fig.outputs = [nbformat.v4.new_output("display_data", {"image/png": PNG,
                                                                "text/plain": "<Figure>"})]
        result.outputs = [nbformat.v4.new_output(
            "execute_result", {"text/markdown": "The loop **survives** at every scale.",
                               "text/plain": "Verdict(...)"}, execution_count=2)]
    nb.cells = [nbformat.v4.new_markdown_cell("# Chapter A\n\n## Diagrams"), fig,
                nbformat.v4.new_markdown_cell(
                    ":::{exercise}\n:label: a-ex-one\nDo it.\n:::\n"), result]
    nbformat.write(nb, path)
    return nb


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A repository-shaped folder: meetings, two chapters (one with exercises), a package."""
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "meetings.yml").write_text(MEETINGS)
    (tmp_path / "notebooks").mkdir()
    notebook(tmp_path / "notebooks" / "01_a.ipynb")
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "notebooks" / "02_b.ipynb")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text('__version__ = "9.9"\n')
    (tmp_path / "_build").mkdir()
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    return tmp_path


def write_times(root: Path, **seconds: float) -> None:
    times = {f"{stem}.ipynb": {"seconds": s, "profile": "cpu", "workers": 2, "threads": 1,
                               "finished": "2026-12-01T10:00:00"} for stem, s in seconds.items()}
    (root / "_build" / "chapter-times.json").write_text(json.dumps(times))


# ---------------------------------------------------------------- status page


def test_status_page_reports_times_cache_state_and_provenance(book, monkeypatch):
    monkeypatch.setenv("TOPOLIB_HASH", "abc123")
    write_times(book, **{"01_a": 30.0, "02_b": 150.0})
    (book / "_build" / "last-execution.json").write_text(json.dumps(
        {"started": "2026-12-01T09:58:00", "wall_seconds": 150.0, "workers": 2,
         "executed": ["02_b.ipynb"], "cached": ["01_a.ipynb"], "failed": []}))
    text = course.status_markdown(book / "_build" / "chapter-times.json",
                                  book / "_build" / "last-execution.json", book / "pkg",
                                  book / "notebooks", now=datetime(2026, 12, 1, tzinfo=timezone.utc))
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if "../notebooks/" in line}
    assert "re-used from the execution cache" in rows["{doc}`../notebooks/01_a`"]
    assert "executed in this build" in rows["{doc}`../notebooks/02_b`"]
    assert "30 s" in rows["{doc}`../notebooks/01_a`"] and "2.5 min" in rows["{doc}`../notebooks/02_b`"]
    assert "9.9" in text and "abc123" in text and "2026-12-01 00:00 UTC" in text
    assert "cores" in text and "`cpu`" in text
    assert "3.0 min" in text  # total: 30 s + 150 s


def test_status_page_without_any_build_says_so(book):
    text = course.status_markdown(book / "_build" / "chapter-times.json",
                                  book / "_build" / "last-execution.json", book / "pkg",
                                  book / "notebooks")
    assert "no record" in text and "no chapter has been executed" in text


def test_default_profile_is_resolved(book, monkeypatch):
    monkeypatch.delenv("TOPOLIB_PROFILE", raising=False)
    (book / "_build" / "chapter-times.json").write_text(json.dumps(
        {"01_a.ipynb": {"seconds": 5, "profile": "default"}}))
    times = course.build_times(book / "_build" / "chapter-times.json")
    assert times["01_a"].profile in ("cpu", "gpu")


# ---------------------------------------------------------------- syllabus times


def test_schedule_times_come_from_the_given_measurements(book):
    write_times(book, **{"01_a": 30.0, "02_b": 150.0})
    times = course.chapter_times(book / "_build" / "chapter-times.json",
                                 book / "benchmarks" / "results")
    meetings = course.load_meetings(book / "book" / "meetings.yml")
    table = course.schedule_markdown(meetings, times, book / "notebooks")
    first, second = table.splitlines()[2:4]
    assert "3.0 min" in first and "‡" not in first  # 30 s + 150 s, from this build
    assert "{ref}`01.1 <a-ex-one>`" in first and "meeting-01.html" in first
    assert "`notebooks/09_synthesis` (in preparation)" in second and "not measured" in second
    note = course.schedule_note(times, book / "notebooks")
    assert "last build" in note and "gpu" in note

    write_times(book, **{"01_a": 60.0, "02_b": 150.0})  # a new build, a new column
    times = course.chapter_times(book / "_build" / "chapter-times.json",
                                 book / "benchmarks" / "results")
    assert "3.5 min" in course.schedule_markdown(meetings, times, book / "notebooks")


def test_schedule_falls_back_to_the_benchmarks_with_a_note(book):
    write_times(book, **{"01_a": 30.0})
    (book / "benchmarks" / "results" / "book.json").write_text(json.dumps(
        {"date": "2026-11-30", "chapters": [{"chapter": "02_b.ipynb", "cold_s": 90.0}]}))
    times = course.chapter_times(book / "_build" / "chapter-times.json",
                                 book / "benchmarks" / "results")
    assert times["01_a"].source == course.BUILD and times["02_b"].source == course.BENCHMARK
    meetings = course.load_meetings(book / "book" / "meetings.yml")
    row = course.schedule_markdown(meetings, times, book / "notebooks").splitlines()[2]
    assert "2.0 min ‡" in row
    note = course.schedule_note(times, book / "notebooks")
    assert "02_b" in note and "benchmarks/results/book.json" in note
    cold = course.benchmark_times(book / "benchmarks" / "results")
    table = course.schedule_markdown(meetings, times, book / "notebooks", cold=cold)
    assert "cold at `cpu`" in table.splitlines()[0]
    assert "| – |" in table.splitlines()[2]  # 01_a has no cold benchmark: no meeting total


def test_meetings_file_errors_name_the_field(tmp_path):
    path = tmp_path / "m.yml"
    path.write_text("meetings:\n  - title: x\n    week: 1\n    chapters: [a]\n")
    with pytest.raises(ValueError, match="meeting 1 has no 'objectives'"):
        course.load_meetings(path)
    path.write_text(MEETINGS.replace("[01_a, fig]", "01_a"))
    with pytest.raises(ValueError, match="figure must be"):
        course.load_meetings(path)


# ---------------------------------------------------------------- slides


def test_deck_has_the_executed_figure_and_verdict(book):
    executed = book / "_build" / "jupyter_execute" / "notebooks"
    executed.mkdir(parents=True)
    notebook(executed / "01_a.ipynb", executed=True)
    out = book / "slides"
    written = make_slides.build(book / "book" / "meetings.yml", book / "notebooks", out,
                                cache=None, executed=book / "_build" / "jupyter_execute")
    assert [p.name for p in written] == ["meeting-01.html", "meeting-02.html", "index.html"]
    deck = (out / "meeting-01.html").read_text()
    assert f"data:image/png;base64,{PNG}" in deck
    assert "The loop <strong>survives</strong> at every scale." in deck
    assert "<h1>Diagrams</h1>" in deck and "Result: Diagrams" in deck
    assert "<li>Chapter A</li>" in deck and "<li>Do it.</li>" in deck  # title, exercises
    assert "http://" not in deck and "https://" not in deck  # offline
    assert "in preparation" in (out / "meeting-02.html").read_text()


def test_deck_reads_the_execution_cache(book):
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    source = book / "notebooks" / "01_a.ipynb"
    cache = get_cache(str(book / "cache"))
    stage = cache.add_nb_to_project(str(source))
    executed = notebook(book / "executed.ipynb", executed=True)
    cache.cache_notebook_bundle(CacheBundleIn(executed, stage.uri), check_validity=False)
    nb = make_slides.executed_notebook("01_a", book / "notebooks", book / "cache", None)
    slide = make_slides.cell_slide(nb, "01_a", "result")
    assert slide.kind == "verdict" and "survives" in slide.body


def test_missing_cell_id_is_named(book):
    executed = book / "exec"
    executed.mkdir()
    nb = notebook(executed / "01_a.ipynb", executed=True)
    with pytest.raises(make_slides.SlidesError, match="01_a.ipynb has no cell with id 'nope'"):
        make_slides.cell_slide(nb, "01_a", "nope")
    unexecuted = notebook(book / "plain.ipynb")
    with pytest.raises(make_slides.SlidesError, match="no markdown output"):
        make_slides.cell_slide(unexecuted, "01_a", "result")
    with pytest.raises(make_slides.SlidesError, match="no executed copy"):
        make_slides.executed_notebook("01_a", book / "notebooks", None, book / "nowhere")
    assert make_slides.executed_notebook("09_synthesis", book / "notebooks", None, None) is None


def test_the_meetings_spec_names_only_cells_that_exist():
    meetings = course.load_meetings(REPO / "book" / "meetings.yml")
    assert len({m.week for m in meetings}) == 2
    for meeting in meetings:
        for stem in meeting.chapters:
            assert stem[:2].isdigit(), f"meeting {meeting.number}: {stem!r} is not a chapter stem"
        for stem, cell_id in meeting.figures:
            path = REPO / "notebooks" / f"{stem}.ipynb"
            if not path.is_file():
                continue  # a chapter still being written
            cells = {c.get("id"): c for c in nbformat.read(path, as_version=4).cells}
            assert cell_id in cells, f"meeting {meeting.number}: {stem} has no cell {cell_id!r}"
            assert cells[cell_id].cell_type == "code"


# ---------------------------------------------------------------- the Sphinx extension


def test_pages_are_regenerated_by_every_build(book, monkeypatch):
    """The directives render in Sphinx, and a rebuild shows new times with no source change."""
    monkeypatch.setenv("TOPOLIB_HASH", "feedbeef")
    (book / "topolib").mkdir()
    (book / "topolib" / "__init__.py").write_text('__version__ = "1.2.3"\n')
    (book / "notebooks" / "01_a.ipynb").unlink()  # no {doc} targets in this tiny book
    (book / "notebooks" / "02_b.ipynb").unlink()
    (book / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(REPO / 'book' / '_ext')!r})\n"
        "extensions = ['myst_parser', 'course_pages']\n"
        "exclude_patterns = ['_build', 'out']\n")
    (book / "index.md").write_text("# Status\n\n```{build-status}\n```\n\n"
                                   "```{course-schedule}\n```\n")
    write_times(book, **{"01_a": 42.0})

    def build() -> str:
        done = subprocess.run([sys.executable, "-m", "sphinx", "-q", "-W", "-b", "html",
                               str(book), str(book / "out")], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return (book / "out" / "index.html").read_text()

    first = build()
    assert "42 s" in first and "1.2.3" in first and "feedbeef" in first
    write_times(book, **{"01_a": 77.0})
    assert "77 s" in build()


def test_execute_chapters_records_what_it_executed_and_reused(tmp_path, monkeypatch):
    import execute_chapters

    monkeypatch.setattr(execute_chapters, "TIMES", tmp_path / "chapter-times.json")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("print(1)")]
    nbformat.write(nb, tmp_path / "a.ipynb")
    args = [str(tmp_path / "a.ipynb"), "--workers", "1", "--cache", str(tmp_path / "cache")]
    run = tmp_path / "last-execution.json"
    assert execute_chapters.main(args) == 0
    first = json.loads(run.read_text())
    assert first["executed"] == ["a.ipynb"] and first["cached"] == []
    assert execute_chapters.main(args) == 0
    second = json.loads(run.read_text())
    assert second["executed"] == [] and second["cached"] == ["a.ipynb"]
    text = course.status_markdown(tmp_path / "chapter-times.json", run, REPO / "topolib",
                                  tmp_path)
    assert "re-used from the execution cache" in text


def test_a_chapter_missing_from_the_toc_is_not_linked(book):
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n"
                                   "  - file: notebooks/01_a\n")
    assert course.chapters_in_book(book / "notebooks") == {"01_a"}
    write_times(book, **{"01_a": 30.0, "02_b": 150.0})
    meetings = course.load_meetings(book / "book" / "meetings.yml")
    times = course.chapter_times(book / "_build" / "chapter-times.json",
                                 book / "benchmarks" / "results")
    row = course.schedule_markdown(meetings, times, book / "notebooks").splitlines()[2]
    assert "../notebooks/02_b" not in row and "`notebooks/02_b` (in preparation)" in row
    status = course.status_markdown(book / "_build" / "chapter-times.json",
                                    book / "_build" / "last-execution.json", book / "pkg",
                                    book / "notebooks")
    assert "../notebooks/02_b" not in status and "`02_b.ipynb` (not in the book" in status
