"""Sphinx extension: serve plotly.js and MathJax from the site itself, so the book works offline.

It also removes scripts that Jupyter Book 1 includes twice on every page.

Both come from installed Python packages (``plotly`` and ``django-static-mathjax``); nothing is
downloaded at build time and no CDN is referenced by the pages.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import plotly
from sphinx.application import Sphinx
from sphinx.config import Config

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
# Only what tex-chtml.js loads on demand: fonts, TeX extensions, the menu and accessibility.
MATHJAX_PARTS = ("tex-chtml.js", "output/chtml", "input/tex", "ui", "a11y")


def _mathjax_root() -> Path:
    import mathjax  # the django-static-mathjax wheel; importing it needs no Django

    return Path(next(iter(mathjax.__path__))) / "static" / "mathjax" / "es5"


def _use_local_mathjax(app: Sphinx, config: Config) -> None:
    config.mathjax_path = "mathjax/tex-chtml.js"  # relative to _static


def _copy_assets(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copy2(PLOTLY_JS, static / "plotly.min.js")
    root = _mathjax_root()
    for part in MATHJAX_PARTS:
        source, target = root / part, static / "mathjax" / part
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _drop_duplicate_scripts(app: Sphinx, pagename: str, templatename: str, context: dict,
                            doctree: object) -> None:
    # Jupyter Book 1 registers sphinx-thebe's inline config twice; the second copy redeclares a
    # `const` and raises a SyntaxError in the browser console. Keep the first of equal scripts.
    # Scripts count as equal by content; a missing filename is None or "" depending on the caller.
    seen: set[tuple] = set()
    kept = []
    for js in context.get("script_files", []):
        key = (str(js.filename or ""), js.priority, tuple(sorted(js.attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    context["script_files"] = kept


def setup(app: Sphinx) -> dict[str, object]:
    if not PLOTLY_JS.is_file():
        raise RuntimeError(f"plotly.min.js not found at {PLOTLY_JS}; reinstall plotly")
    _mathjax_root()  # fail early, with an ImportError naming the package, if it is missing
    app.connect("config-inited", _use_local_mathjax, priority=900)
    app.add_js_file("plotly.min.js")
    app.connect("build-finished", _copy_assets)
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
