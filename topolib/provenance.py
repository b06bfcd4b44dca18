"""Provenance stamps: every figure and table says which profile, seed and device made it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from topolib.profiles import Profile

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["stamp", "stamp_figure"]


def stamp(profile: Profile, seed: int, device: torch.device | str) -> str:
    """One line such as ``'profile=cpu · seed=0 · device=cpu · topolib 0.1.0'``."""
    from topolib import __version__

    return f"profile={profile.name} · seed={seed} · device={torch.device(device).type} · topolib {__version__}"


def stamp_figure(fig: Figure, text: str) -> Figure:
    """Write ``text`` small under the lower right corner of a matplotlib figure; returns ``fig``.

    The text hangs below the figure's bottom edge so that it never covers an axis label;
    notebooks save figures with a tight bounding box, which grows to include it.
    """
    fig.text(0.995, 0.0, text, ha="right", va="top", fontsize=7, color="0.45")
    return fig
