"""Exercises that check themselves: ``check(exercise_id, answer, **context)``.

Every exercise of the book has an id (its sphinx-exercise label, e.g. ``"primer-ex-noise"``)
and a registered grader. A student computes the answer and runs::

    from topolib.exercises import check
    check("primer-ex-noise", first_lost, points=reference, n_landmarks=40, seed=chapter.seed)

and gets a :class:`CheckResult` that says **right**, **close** or **wrong**, and why; it
shows as markdown in a notebook and as plain text elsewhere. The answer's kind is checked
first (a clear ``TypeError`` says what was expected), unknown ids raise a ``KeyError`` that
lists the ids this chapter has.

Where the exercise is a *measurement*, the expected answer is computed, never typed: the
grader re-measures it with topolib from the student's own run (their model, their images,
their seed), passed as keyword ``context``. Where the answer is a mathematical fact (the
Betti numbers of the real projective plane, the prior mass of a disc), it is typed, with the
argument in the reason. Shares measured on independent draws are compared with their
binomial uncertainty: *right* within two standard errors, *close* within four.

Adding the exercises of a new chapter (e.g. ``notebooks/08_matched_latents.ipynb``)
-------------------------------------------------------------------------------------
1. Write the exercise as ``::::{exercise}`` with ``:label: matched-ex-name`` and its hidden
   solution between ``::::{solution-start} matched-ex-name`` (``:class: dropdown``) and
   ``::::{solution-end}``; tag every solution code cell ``solution`` (cell metadata
   ``{"tags": ["solution"]}``, together with ``verdict`` where it is one;
   ``python tools/student_edition.py --tag-solutions notebooks/08_....ipynb`` adds them). The
   student edition (``make student``, ``tools/student_edition.py``) removes exactly these,
   and stops if tags and directives disagree.
2. Register a grader here (or in the chapter's own topolib module, imported below), with the
   answer's kind and the context it needs::

       @register("matched-ex-name", kind="share", question="Off-manifold share of ...",
                 needs=("model",))
       def _matched_name(answer: float, model, n: int = 500, seed: int = 0) -> Grade:
           reference = ...  # re-measure with topolib from the student's model
           return grade_share(answer, reference, what="the off-manifold share")

   ``kind`` is one of :data:`KINDS`. The grader returns a :class:`Grade` (use the helpers
   :func:`grade_number`, :func:`grade_share`, :func:`grade_grid`, :func:`grade_parts`).
3. After the ``solution-end``, add a code cell tagged ``self-check`` that calls
   ``check("matched-ex-name", answer_variable, ...)`` and says in the exercise text which
   variable holds the answer. ``tests/test_exercises.py`` checks that every label of every
   chapter has a grader and a self-check cell, and that each grader passes the solution's
   answer and fails a wrong one: add those two cases to its table.
"""

from __future__ import annotations

import difflib
import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "EXERCISES",
    "KINDS",
    "CheckResult",
    "Exercise",
    "Grade",
    "check",
    "grade_grid",
    "grade_number",
    "grade_parts",
    "grade_share",
    "register",
]

STATUSES = ("right", "close", "wrong")


@dataclass(frozen=True)
class Grade:
    """What a grader decides: ``status`` (right, close, wrong), the ``reason`` and the
    ``expected`` answer it compared with."""

    status: str
    reason: str
    expected: object = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}; got {self.status!r}")


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one answer; prints as plain text, shows as markdown in a notebook.

    Attributes
    ----------
    exercise : the exercise id.
    status : ``"right"``, ``"close"`` or ``"wrong"``.
    reason : why, with the numbers compared.
    answer : the answer checked.
    expected : the reference it was compared with (computed, or the typed fact).
    """

    exercise: str
    status: str
    reason: str
    answer: object = None
    expected: object = None

    @property
    def right(self) -> bool:
        """True when the answer is right."""
        return self.status == "right"

    def __bool__(self) -> bool:
        return self.right

    def __str__(self) -> str:
        return f"{self.exercise}: {self.status.upper()}. {self.reason}"

    def _repr_markdown_(self) -> str:
        mark = {"right": "✅", "close": "🟡", "wrong": "❌"}[self.status]
        return f"{mark} **{self.status}** (exercise `{self.exercise}`): {self.reason}"

    def _repr_html_(self) -> str:
        return f"<p><b>{self.status}</b> ({html.escape(self.exercise)}): {html.escape(self.reason)}</p>"

    def __repr__(self) -> str:
        return str(self)


# ---------------------------------------------------------------- answer kinds


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _as_share(x: object) -> float:
    """A share in [0, 1]; an :class:`~topolib.metrics.Interval` gives its value."""
    value = getattr(x, "value", x)
    if not _is_number(value) or not 0.0 <= float(value) <= 1.0:
        raise TypeError(f"a share must be a number in [0, 1] (or an Interval); got {x!r}")
    return float(value)


def _as_share_or_none(x: object) -> float | None:
    return None if x is None else _as_share(x)


def _kind_number(x: object) -> float:
    if not _is_number(x) or not math.isfinite(float(x)):
        raise TypeError(f"expected a finite number; got {type(x).__name__} {x!r}")
    return float(x)


def _kind_level(x: object) -> float | None:
    return None if x is None else _kind_number(x)


def _kind_count(x: object) -> int:
    if not isinstance(x, (int, np.integer)) or isinstance(x, (bool, np.bool_)) or x < 0:
        raise TypeError(f"expected a non-negative whole number; got {type(x).__name__} {x!r}")
    return int(x)


def _kind_count_or_none(x: object) -> int | None:
    return None if x is None else _kind_count(x)


def _kind_bool(x: object) -> bool:
    if not isinstance(x, (bool, np.bool_)):
        raise TypeError(f"expected True or False; got {type(x).__name__} {x!r}")
    return bool(x)


def _kind_betti(x: object) -> tuple[int, ...]:
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence) or not x:
        raise TypeError(f"expected Betti numbers as a tuple of whole numbers; got {x!r}")
    return tuple(_kind_count(b) for b in x)


def _mapping_of(key: Callable[[object], Any], value: Callable[[object], Any],
                example: str) -> Callable[[object], dict]:
    """Converter of a non-empty dict whose keys and values are converted by ``key``, ``value``."""

    def convert(x: object) -> dict:
        if not isinstance(x, Mapping) or not x:
            raise TypeError(f"expected a dict such as {example}; got {x!r}")
        return {key(k): value(v) for k, v in x.items()}

    return convert


_kind_betti_by_field = _mapping_of(int, _kind_betti, "{2: (1, 1, 0), 3: (1, 1, 0)}")
_kind_shares = _mapping_of(float, _as_share, "{0.5: 0.12, 1.0: 0.2} (shares by setting)")
_kind_counts = _mapping_of(str, _kind_count, "{'junction': 3, 'sphere': 2} (whole numbers by name)")
_kind_numbers = _mapping_of(str, _kind_number, "{'circle': 0.4, 'torus': 0.7} (numbers by name)")
_kind_flags = _mapping_of(str, _kind_bool, "{'betti right': True} (True/False by question)")


#: Answer kinds: name -> (what is expected, in words; converter that raises TypeError).
KINDS: dict[str, tuple[str, Callable[[object], Any]]] = {
    "number": ("a number", _kind_number),
    "share": ("a share in [0, 1] or an Interval", _as_share),
    "share_or_none": ("a share in [0, 1], or None if there is none", _as_share_or_none),
    "level": ("a number from the grid, or None if none", _kind_level),
    "count": ("a whole number", _kind_count),
    "count_or_none": ("a whole number, or None if none", _kind_count_or_none),
    "bool": ("True or False", _kind_bool),
    "betti": ("a tuple of Betti numbers", _kind_betti),
    "betti_by_field": ("Betti numbers by field, {2: (...), 3: (...)}", _kind_betti_by_field),
    "shares": ("a dict of shares by setting", _kind_shares),
    "counts": ("a dict of whole numbers by name", _kind_counts),
    "numbers": ("a dict of numbers by name", _kind_numbers),
    "flags": ("a dict of True/False by question", _kind_flags),
}


@dataclass(frozen=True)
class Exercise:
    """A registered exercise: its id, answer kind, question and grader."""

    id: str
    kind: str
    question: str
    grader: Callable[..., Grade]
    needs: tuple[str, ...] = field(default=())


#: Every registered exercise, by id.
EXERCISES: dict[str, Exercise] = {}


def register(exercise_id: str, *, kind: str, question: str,
             needs: Sequence[str] = ()) -> Callable[[Callable[..., Grade]], Callable[..., Grade]]:
    """Decorator that registers ``grader(answer, **context) -> Grade`` for ``exercise_id``.

    Parameters
    ----------
    exercise_id : the exercise's sphinx-exercise label.
    kind : the answer's kind, one of :data:`KINDS`.
    question : what the answer is, in one line (shown in errors).
    needs : context keywords the grader cannot do without.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}; got {kind!r}")

    def decorate(grader: Callable[..., Grade]) -> Callable[..., Grade]:
        if exercise_id in EXERCISES:
            raise ValueError(f"exercise {exercise_id!r} is already registered")
        EXERCISES[exercise_id] = Exercise(exercise_id, kind, question, grader, tuple(needs))
        return grader

    return decorate


def check(exercise_id: str, answer: object, **context: Any) -> CheckResult:
    """Check a student's ``answer`` to exercise ``exercise_id``.

    Parameters
    ----------
    exercise_id : the exercise's label, e.g. ``"primer-ex-noise"``.
    answer : the answer, of the exercise's kind (see its ``question``).
    context : what the grader needs to compute the reference (the student's model, points,
        seed, ...); see each exercise's ``needs``.

    Returns
    -------
    CheckResult : right, close or wrong, with the reason.

    Raises
    ------
    KeyError : unknown ``exercise_id`` (the message lists close matches).
    TypeError : an answer of the wrong kind, or missing context.
    """
    if not isinstance(exercise_id, str):
        raise TypeError(f"exercise_id must be a string label such as 'primer-ex-noise'; got {exercise_id!r}")
    if exercise_id not in EXERCISES:
        near = difflib.get_close_matches(exercise_id, EXERCISES, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
        raise KeyError(f"unknown exercise id {exercise_id!r}{hint} Known ids: {', '.join(sorted(EXERCISES))}")
    ex = EXERCISES[exercise_id]
    words, convert = KINDS[ex.kind]
    try:
        value = convert(answer)
    except (TypeError, ValueError) as err:
        raise TypeError(f"exercise {exercise_id!r} expects {words} ({ex.question}); {err}") from None
    missing = [name for name in ex.needs if name not in context]
    if missing:
        raise TypeError(f"exercise {exercise_id!r} needs the keyword argument(s) {', '.join(missing)} "
                        "to compute its reference")
    grade = ex.grader(value, **context)
    reason = grade.reason[:1].upper() + grade.reason[1:]
    return CheckResult(exercise_id, grade.status, reason, value, grade.expected)


# ---------------------------------------------------------------- grading helpers


def grade_number(answer: float, expected: float, *, right_tol: float, close_tol: float,
                 what: str, why: str = "") -> Grade:
    """Right within ``right_tol`` of ``expected``, close within ``close_tol``, else wrong."""
    diff = abs(answer - expected)
    status = "right" if diff <= right_tol else "close" if diff <= close_tol else "wrong"
    msg = {"right": f"{what} is {expected:.4g}, and you have {answer:.4g}.",
           "close": f"{what} is {expected:.4g}; you have {answer:.4g}, near but off by {diff:.2g}.",
           "wrong": f"{what} is {expected:.4g}; you have {answer:.4g}."}[status]
    return Grade(status, msg + (f" {why}" if why and status != "right" else ""), expected)


def grade_grid(answer: float | None, expected: float | None, grid: Sequence[float], *,
               what: str, why: str = "") -> Grade:
    """For answers read off a grid of settings (``None``: no setting qualifies).

    Right when ``answer`` is the reference's grid point; close when it is a neighbour on the
    grid (another sample can move the answer by one step); wrong otherwise.
    """
    grid = sorted(float(g) for g in grid)

    def pos(x: float | None) -> int:
        if x is None:
            return len(grid)
        return int(np.argmin([abs(g - x) for g in grid]))

    if answer is not None and min(abs(g - answer) for g in grid) > 1e-9:
        return Grade("wrong", f"{answer} is not one of the settings tried ({grid}).", expected)
    if pos(answer) == pos(expected):
        return Grade("right", f"{what}: {expected}, as the reference run finds.", expected)
    status = "close" if abs(pos(answer) - pos(expected)) == 1 else "wrong"
    tail = (" One step on the grid: a different sample can move it that far; rerun with another seed."
            if status == "close" else "")
    return Grade(status, f"{what}: the reference run finds {expected}, you have {answer}.{tail}"
                 + (f" {why}" if why else ""), expected)


def grade_share(answer: float, reference: float, n_reference: int, *, what: str,
                n_answer: int | None = None, why: str = "") -> Grade:
    """Compare a measured share with a reference share from independent draws.

    Right within two standard errors of the difference (both sample sizes; ``n_answer``
    defaults to ``n_reference``), close within four, wrong beyond.
    """
    n_answer = n_answer or n_reference
    p = min(max((answer * n_answer + reference * n_reference) / (n_answer + n_reference), 0.02), 0.98)
    se = math.sqrt(p * (1 - p) * (1 / n_answer + 1 / n_reference))
    diff = abs(answer - reference)
    status = "right" if diff <= 2 * se else "close" if diff <= 4 * se else "wrong"
    text = (f"{what}: you have {answer:.1%}, a fresh measurement from your run gives {reference:.1%} "
            f"({n_reference} draws); the difference is {diff / se:.1f} standard errors")
    text += {"right": ", within sampling noise.",
             "close": ", more than sampling noise usually explains: check the recipe.",
             "wrong": ", far more than sampling noise explains."}[status]
    return Grade(status, text + (f" {why}" if why and status != "right" else ""), reference)


def grade_parts(parts: Mapping[str, tuple[object, object]], *, why: str = "") -> Grade:
    """Several sub-answers ``{name: (answer, expected)}``: right when all agree, close when
    all but one do (and there are at least two), wrong otherwise."""
    bad = [name for name, (a, e) in parts.items() if a != e]
    expected = {name: e for name, (_, e) in parts.items()}
    if not bad:
        return Grade("right", "all parts agree with the reference: "
                     + "; ".join(f"{k} = {e}" for k, e in expected.items()) + ".", expected)
    status = "close" if len(bad) == 1 and len(parts) >= 2 else "wrong"
    text = "; ".join(f"{k}: you have {parts[k][0]}, the reference is {parts[k][1]}" for k in bad)
    return Grade(status, text + "." + (f" {why}" if why else ""), expected)


def _need_keys(answer: Mapping[Any, Any], keys: Sequence[Any], exercise: str) -> None:
    missing = [k for k in keys if k not in answer]
    if missing:
        raise TypeError(f"exercise {exercise!r}: the answer must have the keys {list(keys)}; "
                        f"missing {missing}")


def _reference_share(flags: np.ndarray) -> tuple[float, int]:
    flags = np.asarray(flags, dtype=bool)
    return float(flags.mean()), int(flags.size)


# The exercises of each chapter register themselves on import.
from topolib import exercise_graders  # noqa: E402, F401
