"""Provenance stamps: every figure and table says which profile, seed and device made it."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from matplotlib.figure import FigureBase
from matplotlib.text import Text
from matplotlib.transforms import Bbox, IdentityTransform

from topolib.profiles import Profile

if TYPE_CHECKING:
    from matplotlib.backend_bases import RendererBase
    from matplotlib.figure import Figure

__all__ = ["source_hash", "stamp", "stamp_figure"]

#: Gap between the lowest part of the figure's content and the stamp, in points.
FOOTER_GAP_POINTS = 3.0


@functools.cache
def source_hash() -> str:
    """16 hex digits of the SHA-256 of topolib's Python sources, concatenated in path order.

    The same recipe as the Makefile's ``TOPOLIB_HASH`` (``cat $(find topolib -name '*.py' |
    sort) | sha256sum``), so a stored result can be matched to the code that computed it.
    Computed once per process: the sources as they were when first asked, which is the code
    the process runs if it asked early.
    """
    root = Path(__file__).resolve().parent
    files = sorted(root.rglob("*.py"), key=lambda p: "topolib/" + p.relative_to(root).as_posix())
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def stamp(profile: Profile, seed: int, device: torch.device | str) -> str:
    """One line such as ``'profile=cpu · seed=0 · device=cpu · topolib 0.1.0'``; a smoke run
    (:func:`topolib.profiles.smoke_mode`) reads ``'profile=gpu SMOKE RUN · ...'``."""
    from topolib import __version__

    if not isinstance(profile, Profile):
        raise TypeError(f"profile must be a topolib Profile (e.g. topolib.get_profile()); got "
                        f"{type(profile).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    return f"profile={profile.label} · seed={seed} · device={torch.device(device).type} · topolib {__version__}"


class _Footer(Text):
    """A line of text placed, every time the figure is drawn, under everything else in it.

    Its position is worked out from the drawn extents of the other artists (axes with their
    tick labels and axis labels, legends, figure texts), so it never overlaps them, whatever
    the layout engine did; a tight bounding box (the notebook default) grows to include it.
    """

    def _place(self, renderer: RendererBase) -> None:
        fig = self.figure
        boxes = []
        for artist in fig.get_default_bbox_extra_artists():
            if artist is self or artist is fig.patch or isinstance(artist, _Footer):
                continue
            box = artist.get_tightbbox(renderer)
            if box is not None and (box.width > 0 or box.height > 0):
                boxes.append(box)
        content = Bbox.union(boxes) if boxes else fig.bbox
        gap = FOOTER_GAP_POINTS * fig.dpi / 72.0
        self.set_transform(IdentityTransform())
        self.set_position((min(content.x1, fig.bbox.x1), content.y0 - gap))

    def draw(self, renderer: RendererBase) -> None:
        if self.get_visible():
            self._place(renderer)
        super().draw(renderer)

    def get_window_extent(self, renderer: RendererBase | None = None, dpi: float | None = None):
        if renderer is not None and self.figure is not None:
            self._place(renderer)
        return super().get_window_extent(renderer, dpi)


def stamp_figure(fig: Figure, text: str) -> Figure:
    """Write ``text`` small as a footer under everything in a matplotlib figure; returns ``fig``.

    The footer is placed at draw time just below the lowest drawn part of the figure (axis
    labels, tick labels, legends, other texts), right-aligned with the content, so it never
    covers an axis label. Notebooks save figures with a tight bounding box, which grows to
    include it. Stamping again replaces the previous stamp.

    Parameters
    ----------
    fig : matplotlib Figure.
    text : the provenance line (e.g. :func:`stamp`).

    Returns
    -------
    matplotlib Figure (the same object).
    """
    if not isinstance(fig, FigureBase):
        raise TypeError(f"fig must be a matplotlib Figure (e.g. plt.figure()); got "
                        f"{type(fig).__name__}")
    if not isinstance(text, str):
        raise TypeError(f"text must be a string (e.g. chapter.stamp); got {type(text).__name__}")
    for old in [t for t in fig.texts if isinstance(t, _Footer)]:
        old.remove()
    footer = _Footer(0.0, 0.0, text, ha="right", va="top", fontsize=7, color="0.45")
    footer.set_figure(fig)
    fig.texts.append(footer)
    footer._remove_method = fig.texts.remove
    fig.stale = True
    return fig
