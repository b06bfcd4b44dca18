"""Execute a chapter the way a reader would: a fresh kernel, top to bottom, no error allowed."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read an ``.ipynb`` or a MyST markdown notebook (``.md`` with a kernelspec)."""
    if path.suffix == ".md":
        from myst_nb.core.read import read_myst_markdown_notebook

        return read_myst_markdown_notebook(path.read_text())
    return nbformat.read(path, as_version=4)


def execute_notebook(path: Path, profile: str = "fast", timeout: int = 600) -> nbformat.NotebookNode:
    """Run every cell in a new ``python3`` kernel with ``TOPOLIB_PROFILE=profile``.

    Raises ``nbclient.exceptions.CellExecutionError`` on the first failing cell.
    """
    nb = read_notebook(path)
    previous = os.environ.get("TOPOLIB_PROFILE")
    os.environ["TOPOLIB_PROFILE"] = profile  # the kernel inherits the environment
    try:
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
            allow_errors=False,
        ).execute()
    finally:
        if previous is None:
            os.environ.pop("TOPOLIB_PROFILE", None)
        else:
            os.environ["TOPOLIB_PROFILE"] = previous
    return nb


def output_text(nb: nbformat.NotebookNode) -> str:
    """All text, HTML and error output of an executed notebook, joined."""
    chunks = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            chunks.append(out.get("text", ""))
            for mime in ("text/plain", "text/html"):
                chunks.append(str(out.get("data", {}).get(mime, "")))
    return "\n".join(chunks)
