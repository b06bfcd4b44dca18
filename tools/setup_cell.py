"""The setup cell that opens every chapter notebook, and a command that writes it into them.

The repository URL and the site address (for the published models) come from ``_config.yml``
(their one home). Run after changing it, or after
adding a notebook::

    python tools/setup_cell.py          # rewrite the first code cell of notebooks/*.ipynb
    python tools/setup_cell.py --check  # exit 1 if any notebook is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
MARKER = "# Setup: works unchanged on Colab, on a laptop and in the book build."

TEMPLATE = '''{marker}
# It installs topolib if missing, then picks the compute profile (TOPOLIB_PROFILE,
# else gpu with CUDA, else cpu), the device and the seed; figures are stamped with them.
# Models missing from the local cache are downloaded from the book's site (and checked);
# set os.environ["TOPOLIB_MODELS_URL"] = "" before this cell to train them here instead.
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("topolib") is None:
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q",
         "topolib @ git+{url}"],
    )
    if installed.returncode != 0:
        raise RuntimeError(
            "Installing topolib failed (pip's message is above). Check the network and run "
            "this cell again, or install it by hand: pip install 'topolib @ git+{url}'"
        )

os.environ.setdefault("TOPOLIB_MODELS_URL", "{models_url}")
import topolib

chapter = topolib.start_chapter(seed={seed})
chapter'''


def repository_url(root: Path = ROOT) -> str:
    """The repository URL set in ``_config.yml``."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    return config["repository"]["url"].rstrip("/")


def models_url(root: Path = ROOT) -> str:
    """Where the book build publishes its trained models: ``<html.baseurl>/models``."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    return config["html"]["baseurl"].rstrip("/") + "/models"


def setup_cell_source(seed: int = 0, root: Path = ROOT) -> str:
    """Source of the setup cell for a chapter seeded with ``seed``."""
    return TEMPLATE.format(marker=MARKER, url=repository_url(root), models_url=models_url(root),
                           seed=seed)


def first_code_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "code":
            return cell
    raise ValueError("notebook has no code cell")


def chapter_seed(source: str) -> int:
    """Seed currently used by a setup cell (0 if none is found)."""
    for line in source.splitlines():
        if "start_chapter(seed=" in line:
            return int(line.split("seed=")[1].split(")")[0])
    return 0


def sync(path: Path, check: bool) -> bool:
    """Rewrite (or, with ``check``, compare) the setup cell of one notebook; True if current."""
    nb = nbformat.read(path, as_version=4)
    cell = first_code_cell(nb)
    wanted = setup_cell_source(chapter_seed(cell.source))
    if cell.source == wanted:
        return True
    if not check:
        cell.source = wanted
        nbformat.write(nb, path)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale notebooks")
    args = parser.parse_args(argv)
    stale = [p for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if not sync(p, args.check)]
    for path in stale:
        print(("stale: " if args.check else "updated: ") + str(path.relative_to(ROOT)))
    return 1 if (stale and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
