"""Matplotlib defaults shared by the chapters."""

from __future__ import annotations

import matplotlib as mpl

__all__ = ["BOOK_STYLE", "FAILURE_COLOUR", "use_book_style"]

#: Colour of everything flagged as wrong: holes, off-manifold images and frames, jumps.
FAILURE_COLOUR = "#d62728"

BOOK_STYLE: dict[str, object] = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "figure.figsize": (7.0, 4.0),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "font.size": 10,
    "axes.titlesize": 11,
    "legend.frameon": False,
    "image.cmap": "gray",
}


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` to matplotlib's rcParams."""
    mpl.rcParams.update(BOOK_STYLE)
