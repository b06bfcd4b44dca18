"""The student edition (``make student``) leaks no solution, and the answer key has them all."""

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import student_edition as se  # noqa: E402

CHAPTERS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LABEL = re.compile(r":label:\s*([\w-]+)")


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    assert se.main(["--out", str(out), "--notebooks", str(REPO / "notebooks")]) == 0
    return out


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _exercise_labels(nb: dict) -> list[str]:
    labels = []
    for cell in nb["cells"]:
        src = se._source(cell)
        if cell["cell_type"] == "markdown" and "{exercise}" in src:
            labels += LABEL.findall(src)
    return labels


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_student_notebook_has_no_solution(edition, path):
    student = _load(edition / "notebooks" / path.name)
    original = _load(path)
    _, solutions = se.split_notebook(original, path.name)
    assert se.leaks(student, solutions) == []
    for cell in student["cells"]:
        src = se._source(cell)
        assert "{solution" not in src, f"{path.name} cell {cell['id']}: a solution directive"
        assert "solution" not in se._tags(cell), f"{path.name} cell {cell['id']}: tagged solution"
        for sol in solutions:  # no code line of a solution survives outside the shared chapter code
            for kind, text in sol.pieces:
                if kind == "code":
                    assert text not in src
    ids = [cell["id"] for cell in student["cells"]]
    assert len(ids) == len(set(ids)), "cell ids must stay unique"
    nbformat.validate(nbformat.reads(json.dumps(student), as_version=4))
    assert all(cell.get("outputs", []) == [] for cell in student["cells"] if cell["cell_type"] == "code")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_student_notebook_keeps_exercises_and_self_checks(edition, path):
    original = _load(path)
    student = _load(edition / "notebooks" / path.name)
    labels = _exercise_labels(original)
    assert _exercise_labels(student) == labels
    checks = [se._source(c) for c in student["cells"] if se.SELF_CHECK_TAG in se._tags(c)]
    for label in labels:
        assert any(f'check("{label}"' in src for src in checks), f"{label}: no self-check cell"
        stub = next(c for c in student["cells"] if c["id"] == f"student-{label}")
        assert "set it to your answer" in se._source(stub)
    # everything that is not a solution is kept, in order
    kept = [c["id"] for c in original["cells"] if "solution" not in se._tags(c)
            and "{solution" not in se._source(c)]
    student_ids = [c["id"] for c in student["cells"]]
    assert [i for i in student_ids if i in kept] == kept


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_answer_key_has_every_solution(edition, path):
    key = (edition / "answer_key.md").read_text(encoding="utf-8")
    original = _load(path)
    _, solutions = se.split_notebook(original, path.name)
    assert [s.label for s in solutions] == _exercise_labels(original)
    for sol in solutions:
        assert f"### Exercise `{sol.label}`" in key
        assert sol.pieces, f"{sol.label}: empty solution"
        for _, text in sol.pieces:
            assert text in key
    for cell in original["cells"]:  # every tagged cell is in the key
        if "solution" in se._tags(cell):
            assert se._source(cell).strip() in key


def _nb(*cells: dict) -> dict:
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _md(text: str, cid: str = "m") -> dict:
    return {"cell_type": "markdown", "id": cid, "metadata": {}, "source": text}


def _code(text: str, cid: str = "c", tags: tuple[str, ...] = ()) -> dict:
    return {"cell_type": "code", "id": cid, "metadata": {"tags": list(tags)}, "outputs": [],
            "execution_count": None, "source": text}


EXERCISE = "::::{exercise}\n:label: ex-a\nDo it.\n::::\n\n"
START = "::::{solution-start} ex-a\n:class: dropdown\n::::"
END = "Because.\n\n::::{solution-end}\n::::"


def test_gated_solution_across_cells_is_removed():
    nb = _nb(_md(EXERCISE + START, "m1"), _code("answer = 42", "c1", ("solution",)),
             _md(END + "\n\nAfter.", "m2"), _code('check("ex-a", answer)', "c2", ("self-check",)))
    student, sols = se.split_notebook(nb, "t.ipynb")
    assert [s.label for s in sols] == ["ex-a"]
    assert sols[0].pieces == [("code", "answer = 42"), ("markdown", "Because.")]
    assert sols[0].exercise == "Do it."
    text = json.dumps(student)
    assert "answer = 42" not in text and "Because" not in text and "solution" not in text
    assert [c["id"] for c in student["cells"]] == ["m1", "student-ex-a", "m2", "c2"]
    assert "reads `answer`" in student["cells"][1]["source"]


def test_plain_solution_directive_is_removed():
    nb = _nb(_md(EXERCISE + "::::{solution} ex-a\n:class: dropdown\nSecret.\n::::\n\nKept."))
    student, sols = se.split_notebook(nb, "t.ipynb")
    assert sols[0].pieces == [("markdown", "Secret.")]
    assert "Secret" not in json.dumps(student) and "Kept." in json.dumps(student)


@pytest.mark.parametrize("cells, message", [
    ((_md(EXERCISE + START), _code("x = 1"), _md(END)), "not tagged"),
    ((_code("x = 1", tags=("solution",)),), "outside any solution"),
    ((_md(EXERCISE + START), _code("x = 1", tags=("solution",))), "never ended"),
    ((_md("::::{solution-end}\n::::"),), "without solution-start"),
    ((_md("::::{solution-start} ex-a\n:class: dropdown\n"),), "never closed"),
])
def test_inconsistent_markup_is_an_error(cells, message):
    with pytest.raises(se.SolutionMarkupError, match=message):
        se.split_notebook(_nb(*cells), "t.ipynb")


def test_no_chapters_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no chapters"):
        se.write_edition(tmp_path, tmp_path / "out")


def test_makefile_has_student_target():
    assert re.search(r"^student:", (REPO / "Makefile").read_text(), re.MULTILINE)


def test_tag_solutions_tags_only_cells_inside_solutions(tmp_path):
    path = tmp_path / "08_new.ipynb"
    nb = _nb(_code("x = 1", "c0"), _md(EXERCISE + START, "m1"), _code("answer = 42", "c1"),
             _md(END, "m2"), _code('check("ex-a", answer)', "c2"))
    path.write_text(json.dumps(nb))
    with pytest.raises(se.SolutionMarkupError, match="not tagged"):
        se.split_notebook(nb, path.name)
    assert se.main(["--tag-solutions", str(path)]) == 0
    tagged = json.loads(path.read_text())
    assert [se._tags(c) for c in tagged["cells"]] == [[], [], ["solution"], [], []]
    assert se.tag_solutions(path) == 0
    se.split_notebook(tagged, path.name)  # consistent now
