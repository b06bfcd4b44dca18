"""Write the student edition: the chapters without their solutions, and a separate answer key.

    python tools/student_edition.py [--out _build/student] [--notebooks notebooks]
    python tools/student_edition.py --tag-solutions notebooks/08_new.ipynb

writes ``OUT/notebooks/NN_name.ipynb`` (every chapter, its exercises and their self-check
cells kept, every solution removed and replaced by an empty code cell for the student's
answer) and ``OUT/answer_key.md`` (every exercise with its solution). ``make student`` runs it.

How a solution is recognised (two signals that must agree, or the script stops):

- in markdown, the gated directives of sphinx-exercise, ``::::{solution-start} LABEL`` ...
  ``::::{solution-end}`` (everything between them, across cells, is the solution), and the
  plain ``::::{solution} LABEL`` directive (its body);
- every code cell between ``solution-start`` and ``solution-end`` carries the cell tag
  ``solution``, and no code cell outside a solution does. ``--tag-solutions NOTEBOOK``
  adds the missing tags to a chapter written without them.

Standard library only, so it runs before ``make`` has installed anything.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTION_TAG = "solution"
SELF_CHECK_TAG = "self-check"
OPEN = re.compile(r"^\s*(?P<fence>:{3,}|`{3,})\{(?P<name>[\w-]+)\}\s*(?P<arg>.*?)\s*$")
OPTION = re.compile(r"^\s*:[\w-]+:")
CHECK_CALL = re.compile(r"check\(\s*[\"'](?P<label>[\w-]+)[\"']\s*,\s*(?P<var>[^,)]+)")
LEAK = re.compile(r"\{solution(-start|-end)?\}")


class SolutionMarkupError(ValueError):
    """The solution markup of a notebook is inconsistent (tags and directives disagree)."""


@dataclass
class Solution:
    """One exercise's solution: its label, the exercise text and the solution's pieces."""

    notebook: str
    label: str
    exercise: str = ""
    pieces: list[tuple[str, str]] = field(default_factory=list)  # ("markdown" | "code", text)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _close_fence(lines: list[str], start: int, fence: str) -> int:
    """Index of the line that closes the directive opened at ``start`` (skips its options)."""
    for j in range(start + 1, len(lines)):
        if lines[j].strip() == fence:
            return j
    raise SolutionMarkupError(f"directive opened by {lines[start].strip()!r} is never closed")


def _exercise_texts(cells: list[dict]) -> dict[str, str]:
    texts: dict[str, str] = {}
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        lines = _source(cell).split("\n")
        for i, line in enumerate(lines):
            m = OPEN.match(line)
            if m and m["name"] == "exercise":
                end = _close_fence(lines, i, m["fence"])
                body = lines[i + 1:end]
                label = next((ln.split(":label:")[1].strip() for ln in body if ":label:" in ln), "")
                texts[label] = "\n".join(ln for ln in body if not OPTION.match(ln)).strip()
    return texts


def split_notebook(nb: dict, name: str) -> tuple[dict, list[Solution]]:
    """The student version of notebook ``nb`` and its solutions.

    Raises
    ------
    SolutionMarkupError : a code cell inside a solution is not tagged ``solution``, a tagged
        cell lies outside one, or a solution directive is not closed.
    """
    cells = nb["cells"]
    exercises = _exercise_texts(cells)
    out: list[dict] = []
    solutions: list[Solution] = []
    current: Solution | None = None

    def new_markdown(cell: dict, text: str, k: int) -> dict:
        new = {**cell, "source": text, "id": cell.get("id", "md") if k == 0 else f"{cell.get('id', 'md')}-{k}"}
        return new

    for cell in cells:
        src = _source(cell)
        if cell["cell_type"] != "markdown":
            tagged = SOLUTION_TAG in _tags(cell)
            if current is not None:
                if not tagged:
                    raise SolutionMarkupError(
                        f"{name}: code cell {cell.get('id')} lies inside the solution of "
                        f"{current.label!r} but is not tagged {SOLUTION_TAG!r}")
                current.pieces.append(("code", src))
                continue
            if tagged:
                raise SolutionMarkupError(f"{name}: code cell {cell.get('id')} is tagged "
                                          f"{SOLUTION_TAG!r} but lies outside any solution")
            out.append({**cell, "outputs": [], "execution_count": None} if cell["cell_type"] == "code" else cell)
            continue
        lines = src.split("\n")
        kept: list[str] = []
        pieces: list[tuple[str, str]] = []  # ("markdown", text) or ("stub", label)
        i = 0
        while i < len(lines):
            line = lines[i]
            m = OPEN.match(line)
            if current is not None:
                if m and m["name"] == "solution-end":
                    i = _close_fence(lines, i, m["fence"]) + 1
                    solutions.append(current)
                    pieces.append(("markdown", "\n".join(kept)))
                    pieces.append(("stub", current.label))
                    kept, current = [], None
                    continue
                if m and m["name"] in ("solution-start", "solution"):
                    raise SolutionMarkupError(f"{name}: a solution opens inside the solution of "
                                              f"{current.label!r}")
                current.pieces.append(("markdown", line))
                i += 1
                continue
            if m and m["name"] == "solution-end":
                raise SolutionMarkupError(f"{name}: solution-end without solution-start")
            if m and m["name"] == "solution-start":
                current = Solution(name, m["arg"], exercises.get(m["arg"], ""))
                i = _close_fence(lines, i, m["fence"]) + 1
                continue
            if m and m["name"] == "solution":
                end = _close_fence(lines, i, m["fence"])
                body = [ln for ln in lines[i + 1:end] if not OPTION.match(ln)]
                solutions.append(Solution(name, m["arg"], exercises.get(m["arg"], ""),
                                          [("markdown", "\n".join(body))]))
                i = end + 1
                continue
            kept.append(line)
            i += 1
        pieces.append(("markdown", "\n".join(kept)))
        k = 0
        for kind, value in pieces:
            if kind == "stub":
                out.append(_stub(value))
            elif value.strip():
                out.append(new_markdown(cell, value.strip("\n"), k))
                k += 1
    if current is not None:
        raise SolutionMarkupError(f"{name}: the solution of {current.label!r} is never ended")
    _name_answers(out)
    for sol in solutions:  # merge consecutive markdown lines into paragraphs
        merged: list[tuple[str, str]] = []
        for kind, text in sol.pieces:
            if kind == "markdown" and merged and merged[-1][0] == "markdown":
                merged[-1] = ("markdown", merged[-1][1] + "\n" + text)
            else:
                merged.append((kind, text))
        sol.pieces = [(k, t.strip("\n")) for k, t in merged if t.strip()]
    return {**nb, "cells": out}, solutions


def _stub(label: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": f"student-{label}"[:64],
            "metadata": {"tags": ["student-answer"]}, "outputs": [],
            "source": f"# Exercise {label}: your code here.\n"}


def _name_answers(cells: list[dict]) -> None:
    """Tell each answer stub which variable the self-check after it reads."""
    for i, cell in enumerate(cells):
        if "student-answer" not in _tags(cell):
            continue
        label = cell["id"].removeprefix("student-")
        for later in cells[i + 1:]:
            m = CHECK_CALL.search(_source(later)) if later["cell_type"] == "code" else None
            if m and m["label"] == label:
                cell["source"] += (f"# The self-check below reads `{m['var'].strip()}`: "
                                   "set it to your answer.\n")
                break


def leaks(nb: dict, solutions: list[Solution] = ()) -> list[str]:
    """Every trace of a solution left in a student notebook (empty when clean)."""
    found = []
    for cell in nb["cells"]:
        src = _source(cell)
        if LEAK.search(src):
            found.append(f"cell {cell.get('id')}: a solution directive")
        if SOLUTION_TAG in _tags(cell):
            found.append(f"cell {cell.get('id')}: tagged {SOLUTION_TAG!r}")
        for sol in solutions:
            for _, text in sol.pieces:
                for para in text.strip().split("\n\n"):
                    if len(para.strip()) > 40 and para.strip() in src:
                        found.append(f"cell {cell.get('id')}: text of the solution of {sol.label!r}")
    return found


def answer_key(solutions: list[Solution]) -> str:
    """The answer key in markdown: each exercise's text, then its solution."""
    parts = ["# Answer key\n", "Every exercise of the book with its solution. Generated by "
             "`make student` (tools/student_edition.py); do not hand it out with the notebooks.\n"]
    notebook = None
    for sol in solutions:
        if sol.notebook != notebook:
            notebook = sol.notebook
            parts.append(f"\n## {notebook}\n")
        parts.append(f"\n### Exercise `{sol.label}`\n")
        if sol.exercise:
            parts.append("\n" + "\n".join(f"> {ln}" if ln else ">" for ln in sol.exercise.split("\n")) + "\n")
        parts.append("\n**Solution.**\n")
        for kind, text in sol.pieces:
            parts.append(f"\n```python\n{text}\n```\n" if kind == "code" else f"\n{text}\n")
    return "".join(parts)


def write_edition(notebooks: Path, out: Path) -> tuple[list[Path], Path]:
    """Write the student notebooks and the answer key; return their paths.

    Raises
    ------
    SolutionMarkupError : inconsistent solution markup, or a solution left in the output.
    """
    notebooks, out = Path(notebooks), Path(out)
    paths = sorted(notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no chapters NN_name.ipynb in {notebooks}")
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    written, every = [], []
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        student, solutions = split_notebook(nb, path.name)
        problems = leaks(student, solutions)
        if problems:
            raise SolutionMarkupError(f"{path.name}: solution left in the student edition: {problems}")
        target = out / "notebooks" / path.name
        target.write_text(json.dumps(student, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(target)
        every.extend(solutions)
    key = out / "answer_key.md"
    key.write_text(answer_key(every), encoding="utf-8")
    return written, key


def tag_solutions(path: Path) -> int:
    """Tag ``solution`` every code cell of notebook ``path`` that lies inside a solution.

    Returns the number of cells tagged (the file is rewritten only when it is not zero).
    """
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    inside, tagged = False, 0
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in _source(cell).split("\n"):
                m = OPEN.match(line)
                if m and m["name"] in ("solution-start", "solution-end"):
                    inside = m["name"] == "solution-start"
        elif inside and SOLUTION_TAG not in _tags(cell):
            cell.setdefault("metadata", {}).setdefault("tags", []).append(SOLUTION_TAG)
            tagged += 1
    if tagged:
        Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return tagged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "student")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--tag-solutions", type=Path, nargs="+", metavar="NOTEBOOK",
                        help="tag the code cells inside solutions of these notebooks, and stop")
    args = parser.parse_args(argv)
    if args.tag_solutions:
        for path in args.tag_solutions:
            print(f"{path}: {tag_solutions(path)} cell(s) tagged {SOLUTION_TAG!r}")
        return 0
    written, key = write_edition(args.notebooks, args.out)
    print(f"{len(written)} student notebooks in {args.out / 'notebooks'}; answer key {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
