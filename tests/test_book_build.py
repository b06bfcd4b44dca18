"""The book build (the README's `make book`) fails when a notebook cell fails."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]


def book_build_flags() -> list[str]:
    """The flags `make book` passes to `jupyter-book build .`, read from the Makefile."""
    match = re.search(r"jupyter-book build \. (.*)$", (REPO / "Makefile").read_text(), re.M)
    return match.group(1).split()


def make_book(root: Path, code: str) -> Path:
    """A one-page book using this repository's real configuration and extensions."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "_config.yml", root / "_config.yml")
    shutil.copytree(REPO / "book" / "_ext", root / "book" / "_ext")
    shutil.copy(REPO / "book" / "references.bib", root / "book" / "references.bib")
    (root / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# A page\n\nMath: $b_1(S^1) = 1$."), nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, root / "page.ipynb")
    return root


def build(root: Path) -> subprocess.CompletedProcess:
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    return subprocess.run(
        [str(jupyter_book), "build", str(root), *book_build_flags()],
        capture_output=True, text=True, timeout=600,
    )


@pytest.mark.build
def test_failing_cell_fails_the_book_build_and_a_good_one_passes(tmp_path):
    bad = build(make_book(tmp_path / "bad", "raise ValueError('deliberate failure')"))
    assert bad.returncode != 0
    assert "deliberate failure" in bad.stdout + bad.stderr

    good_root = make_book(tmp_path / "good", "print('fine')")
    good = build(good_root)
    assert good.returncode == 0, good.stdout[-3000:] + good.stderr[-3000:]
    html = (good_root / "_build" / "html" / "page.html").read_text()
    assert "fine" in html
    static = good_root / "_build" / "html" / "_static"
    assert (static / "plotly.min.js").is_file()
    assert (static / "mathjax" / "tex-chtml.js").is_file()
    assert "_static/mathjax/tex-chtml.js" in html and "cdn.jsdelivr" not in html
