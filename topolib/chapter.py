"""What the first cell of every chapter sets up: profile, device, seed, plotting, a banner."""

from __future__ import annotations

import html
import os
import sys
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from topolib.device import device_name, get_device
from topolib.profiles import ENV_VAR as PROFILE_VARIABLE
from topolib.profiles import Profile, get_profile
from topolib.provenance import stamp, stamp_figure
from topolib.seeding import check_seed, numpy_rng, torch_generator

__all__ = ["Chapter", "start_chapter"]

FAST_WARNING = (
    "The fast profile is on: sizes are cut to smoke-test size, so the numbers and pictures on "
    "this page mean nothing. Unset TOPOLIB_PROFILE (or set it to cpu or gpu) for real results."
)


SMOKE_WARNING = (
    "Smoke run (TOPOLIB_SMOKE=1): this profile's image sizes and sample counts, but every "
    "training epoch is cut to one optimizer step, so the models are untrained and the numbers, "
    "pictures and verdicts on this page mean nothing. It only checks that the code runs."
)


def _check_stream(stream: object) -> str:
    if not isinstance(stream, str) or not stream:
        raise TypeError(f"stream must be a non-empty string naming what it draws, e.g. "
                        f"'exercise-1'; got {stream!r}")
    return stream


@dataclass(frozen=True)
class Chapter:
    """The run settings of one chapter; hands out seeded generators by stream name."""

    profile: Profile
    device: torch.device
    seed: int
    #: True when the profile was detected (no argument, no TOPOLIB_PROFILE), not chosen
    detected: bool = False

    @property
    def stamp(self) -> str:
        """Provenance line for figures and tables."""
        return stamp(self.profile, self.seed, self.device)

    def rng(self, stream: str) -> np.random.Generator:
        """Independent numpy Generator for the named stream of this chapter."""
        return numpy_rng(self.seed, _check_stream(stream))

    def torch_generator(self, stream: str, device: str | torch.device = "cpu") -> torch.Generator:
        """Independent torch Generator for the named stream of this chapter."""
        return torch_generator(self.seed, _check_stream(stream), device)

    def stamp_figure(self, fig):  # noqa: ANN001, ANN201 - matplotlib Figure in, same out
        """Write this chapter's provenance line on a matplotlib figure."""
        return stamp_figure(fig, self.stamp)

    def _gpu_note(self) -> str:
        """What a reader on a GPU runtime needs to know about the profile it got."""
        if not (self.detected and self.profile.name == "gpu"):
            return ""
        return ("The gpu profile was picked because CUDA is available: full-size images, larger "
                "samples and longer training. For the smaller cpu profile, run "
                "os.environ['TOPOLIB_PROFILE'] = 'cpu' before this cell, or pass "
                "start_chapter(profile='cpu').")

    def _warnings(self) -> list[str]:
        """Why this page's numbers mean nothing, if they do not."""
        return [w for w, on in ((FAST_WARNING, self.profile.is_fast),
                                (SMOKE_WARNING, self.profile.smoke)) if on]

    def _repr_html_(self) -> str:
        box = (
            "<div style='border-left:4px solid {c};padding:6px 10px;margin:4px 0;"
            "background:rgba(127,127,127,0.08)'>{body}</div>"
        )
        body = f"<code>{html.escape(self.stamp)}</code> on {html.escape(device_name(self.device))}"
        out = box.format(c="#1f77b4", body=body)
        if self._gpu_note():
            out += box.format(c="#ff7f0e", body=html.escape(self._gpu_note(), quote=False))
        for warning in self._warnings():
            out += box.format(c="#d62728", body=f"<b>Warning.</b> {html.escape(warning)}")
        return out

    def __repr__(self) -> str:
        text = f"{self.stamp} on {device_name(self.device)}"
        if self._gpu_note():
            text += f"\n{self._gpu_note()}"
        for warning in self._warnings():
            text += f"\nWARNING: {warning}"
        return text


def show_warning_in_page(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001, ANN201
    """Print a warning into the cell's ordinary output, where the reader of the page sees it.

    The book build treats text on stderr as a build error (a chapter that warns silently is a
    chapter nobody reads the warning of); a chapter's own instruments warn on purpose, e.g.
    when landmarks cannot resolve a sample set, so :func:`start_chapter` shows them as text.
    """
    print(f"{category.__name__}: {message}", file=sys.stdout)


def start_chapter(
    seed: int = 0,
    profile: str | Profile | None = None,
    device: str | torch.device | None = None,
) -> Chapter:
    """Set up a chapter: choose profile and device, configure plotting, return the settings.

    Warnings raised later in the chapter are printed with its output (not on stderr), so the
    page shows them to the reader.

    Parameters
    ----------
    seed : root seed of every random stream in the chapter.
    profile : ``"fast"``, ``"cpu"``, ``"gpu"`` or None (``TOPOLIB_PROFILE``, else detected).
    device : torch device or None (``TOPOLIB_DEVICE``, else CUDA when available).
    """
    from topolib.plotting.interactive import configure_plotly
    from topolib.plotting.style import use_book_style

    configure_plotly()
    use_book_style()
    warnings.showwarning = show_warning_in_page
    detected = profile is None and not os.environ.get(PROFILE_VARIABLE, "").strip()
    return Chapter(profile=get_profile(profile), device=get_device(device), seed=check_seed(seed),
                   detected=detected)
