"""Verdicts computed, not typed: sentences that report a result are made from the numbers.

A chapter never types "the control passes" into a markdown cell. It writes, in a code cell
tagged ``verdict``::

    verdict(
        control_off < 0.05,
        f"The control passes: {control_off:.1%} of its samples are off the manifold.",
        otherwise=f"The control fails: {control_off:.1%} of its samples are off the manifold.",
    )

and the sentence shown is the one the measured numbers support. Without ``otherwise`` the
sentence is a *guarded claim*: when the condition is false the cell raises
:class:`VerdictError`, so the book build fails the day a number stops supporting the text.
``tests/test_verdicts.py`` lists every cell tagged ``verdict`` in the chapters and checks that
each one calls :func:`verdict` (or asserts), and that markdown cells report no measured
numbers.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from topolib.profiles import Profile, get_profile

__all__ = ["FAST_MARK", "SMOKE_MARK", "Verdict", "VerdictError", "verdict"]

FAST_MARK = "*(fast profile: numbers mean nothing, claim not checked)*"
SMOKE_MARK = "*(smoke run: training was cut to a few steps, numbers mean nothing, not a result)*"


class VerdictError(AssertionError):
    """A claim of the text is no longer supported by the measured numbers."""


@dataclass(frozen=True)
class Verdict:
    """A sentence chosen by the measured numbers; shows as markdown in a notebook.

    Attributes
    ----------
    text : the sentence (MyST markdown: math and emphasis allowed).
    holds : whether the condition behind the first-choice sentence was true.
    """

    text: str
    holds: bool

    def _repr_markdown_(self) -> str:
        return self.text

    def _repr_html_(self) -> str:  # for front ends that do not render markdown output
        return f"<p>{html.escape(self.text)}</p>"

    def __str__(self) -> str:
        return self.text


def verdict(
    condition: bool | np.bool_,
    text: str,
    *,
    otherwise: str | None = None,
    profile: str | Profile | None = None,
) -> Verdict:
    """The sentence the numbers support.

    Parameters
    ----------
    condition : the measured condition behind ``text`` (a Python or numpy bool).
    text : the sentence to show when ``condition`` is true.
    otherwise : the sentence to show when it is false. None makes ``text`` a guarded claim:
        a false condition raises, except under the ``fast`` profile, whose numbers mean
        nothing: there the sentence is shown marked as unchecked. In a smoke run
        (``profile.smoke``) every sentence is shown marked and nothing raises.
    profile : the compute profile (default: the active one, :func:`topolib.get_profile`).

    Returns
    -------
    Verdict

    Raises
    ------
    VerdictError
        If ``condition`` is false and no ``otherwise`` is given (not under ``fast``, not in a
        smoke run).
    TypeError
        If ``condition`` is not a bool (a truthy array or number is a bug, not a verdict).
    """
    if not isinstance(condition, (bool, np.bool_)):
        raise TypeError(
            f"condition must be a bool computed from the measurements; got "
            f"{type(condition).__name__}"
        )
    if not isinstance(text, str) or not text.strip():
        raise TypeError("text must be a non-empty str")
    if otherwise is not None and not isinstance(otherwise, str):
        raise TypeError(f"otherwise must be a str or None; got {type(otherwise).__name__}")
    active = get_profile(profile)
    if active.smoke:
        chosen = text if bool(condition) or otherwise is None else otherwise
        # the mark is a paragraph of its own: the sentence may start a list
        return Verdict(f"{SMOKE_MARK}\n\n{chosen}", bool(condition))
    if bool(condition):
        return Verdict(text, True)
    if otherwise is None:
        if active.is_fast:
            return Verdict(f"{FAST_MARK} {text}", False)
        raise VerdictError(f"The measurements no longer support this sentence: {text}")
    return Verdict(otherwise, False)
