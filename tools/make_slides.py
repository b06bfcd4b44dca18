"""Write one slide deck per class meeting from the chapters' executed outputs.

Usage: ``python tools/make_slides.py [--out _build/html/slides]`` (``make book`` runs it after
the build). For each meeting of ``book/meetings.yml`` the deck has a title slide, the
meeting's objectives and talking points, then one slide per ``[notebook, cell id]`` listed
under ``figures``: the cell's image or plotly outputs, or, for a cell tagged ``verdict``, the
sentence the measured numbers chose. Nothing on a result slide is typed: it is the executed
cell's output, taken from the execution cache the book build reads (``_build/.jupyter_cache``,
the entry that matches the current notebook) or from ``_build/jupyter_execute``.

Each deck is one HTML file with its images embedded, its CSS and keyboard navigation inline
(arrow keys, space, Page Up/Down, Home/End; the slide number is kept in the URL), and only two
relative links into the built site: ``../_static/plotly.min.js`` and MathJax, which the book
serves itself. So the decks work offline wherever the site is.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "book" / "_ext"))
from course import Meeting, exercise_prompts, load_meetings, notebook_title  # noqa: E402

IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
PLOTLY_JSON = "application/vnd.plotly.v1+json"


class SlidesError(ValueError):
    """A deck cannot be made as specified (missing cell id, no output, no executed copy)."""


@dataclass
class Slide:
    """One slide: a title and a block of HTML."""

    title: str
    body: str
    kind: str = "text"  # text, figure or verdict


def executed_notebook(stem: str, notebooks: Path, cache: Path | None,
                      executed: Path | None) -> nbformat.NotebookNode | None:
    """The executed copy of ``notebooks/<stem>.ipynb``; None when the chapter does not exist.

    Looks in the jupyter-cache folder ``cache`` for the entry matching the notebook as it is
    now, then in ``executed`` (``_build/jupyter_execute``) for a copy with outputs.

    Raises
    ------
    SlidesError
        If the chapter exists but no executed copy of it is found.
    """
    source = Path(notebooks) / f"{stem}.ipynb"
    if not source.is_file():
        return None
    nb = nbformat.read(source, as_version=4)
    if cache is not None and (Path(cache) / "global.db").is_file():
        from jupyter_cache import get_cache

        try:
            record = get_cache(str(cache)).match_cache_notebook(nb)
            return get_cache(str(cache)).get_cache_bundle(record.pk).nb
        except KeyError:
            pass
    if executed is not None:
        for candidate in (Path(executed) / "notebooks" / f"{stem}.ipynb",
                          Path(executed) / f"{stem}.ipynb"):
            if candidate.is_file():
                copy = nbformat.read(candidate, as_version=4)
                if any(c.get("outputs") for c in copy.cells if c.cell_type == "code"):
                    return copy
    raise SlidesError(f"no executed copy of notebooks/{stem}.ipynb: run `make book` (or "
                      f"tools/execute_chapters.py) first; looked in {cache} and {executed}")


def _heading_before(nb: nbformat.NotebookNode, index: int) -> str:
    for cell in reversed(nb.cells[:index]):
        if cell.cell_type == "markdown":
            found = re.findall(r"^#{1,3} (.+)$", cell.source, re.M)
            if found:
                return found[-1].strip()
    return ""


def _markdown() -> MarkdownIt:
    """A CommonMark renderer that leaves $math$ intact for MathJax (as \\( \\) and \\[ \\])."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    def math(content: str, options: dict) -> str:
        ends = ("\\[", "\\]") if options.get("display_mode") else ("\\(", "\\)")
        return ends[0] + html.escape(content) + ends[1]

    md = MarkdownIt("commonmark").enable("table")
    dollarmath_plugin(md, renderer=math)
    return md


def _markdown_html(text: str) -> str:
    return _markdown().render(text)


def _output_html(output: dict) -> tuple[str, str] | None:
    """(kind, html) of one output if it is a figure or a markdown result, else None."""
    data = output.get("data", {})
    for mime in IMAGE_TYPES:
        if mime in data:
            content = data[mime]
            if mime == "image/svg+xml":
                return "figure", f'<div class="fig">{"".join(content)}</div>'
            content = "".join(content).replace("\n", "")
            return "figure", f'<img class="fig" alt="figure" src="data:{mime};base64,{content}">'
    if PLOTLY_JSON in data:
        spec = json.dumps(data[PLOTLY_JSON])
        div = f"plot-{abs(hash(spec)) % 10**10}"
        return "figure", (f'<div class="plotly" id="{div}"></div><script>window.deckPlots='
                          f'(window.deckPlots||[]).concat([["{div}",{spec}]]);</script>')
    page = "".join(data.get("text/html", ""))
    if "plotly-graph-div" in page:
        return "figure", f'<div class="plotly-html">{page}</div>'
    if "text/markdown" in data:
        return "markdown", _markdown_html("".join(data["text/markdown"]))
    return None


def cell_slide(nb: nbformat.NotebookNode, stem: str, cell_id: str,
               source: nbformat.NotebookNode | None = None) -> Slide:
    """The slide made from cell ``cell_id`` of the executed notebook ``nb``.

    ``source`` is the notebook as committed (the execution cache keeps only code cells); the
    slide's title is the last heading above the cell there.

    Raises
    ------
    SlidesError
        If no cell has that id (the message names the notebook and the id), or the cell has
        no figure output and is not a verdict with a markdown output.
    """
    index = next((k for k, c in enumerate(nb.cells) if c.get("id") == cell_id), None)
    if index is None:
        raise SlidesError(f"notebooks/{stem}.ipynb has no cell with id {cell_id!r} "
                          "(listed in book/meetings.yml)")
    cell = nb.cells[index]
    is_verdict = "verdict" in cell.get("metadata", {}).get("tags", [])
    parts = [p for p in (_output_html(o) for o in cell.get("outputs", [])) if p is not None]
    heading = ""
    for text in (source, nb):
        ids = [c.get("id") for c in text.cells] if text is not None else []
        if cell_id in ids:
            heading = _heading_before(text, ids.index(cell_id))
            if heading:
                break
    heading = heading or stem
    if is_verdict:
        sentences = [body for kind, body in parts if kind == "markdown"]
        if not sentences:
            raise SlidesError(f"verdict cell {cell_id!r} of notebooks/{stem}.ipynb has no "
                              "markdown output: was the notebook executed?")
        return Slide(f"Result: {heading}", '<div class="verdict">' + "".join(sentences)
                     + "</div>", "verdict")
    figures = [body for kind, body in parts if kind == "figure"]
    if not figures:
        raise SlidesError(f"cell {cell_id!r} of notebooks/{stem}.ipynb has no image or plotly "
                          "output and is not tagged `verdict`")
    return Slide(heading, '<div class="figs">' + "".join(figures) + "</div>", "figure")


def meeting_slides(meeting: Meeting, notebooks: Path, cache: Path | None,
                   executed: Path | None) -> list[Slide]:
    """Every slide of one meeting's deck, in order."""
    present = {c for c in meeting.chapters if (Path(notebooks) / f"{c}.ipynb").is_file()}
    chapters = "".join(
        f"<li>{_inline(notebook_title(Path(notebooks) / f'{c}.ipynb'))}</li>" if c in present
        else f"<li>{html.escape(c)} (in preparation)</li>" for c in meeting.chapters)
    slides = [Slide(f"Meeting {meeting.number}: {meeting.title}",
                    f'<p class="sub">Week {meeting.week}</p><ul>{chapters}</ul>', "title"),
              Slide("Objectives", "<ul>" + "".join(f"<li>{_inline(o)}</li>"
                                                   for o in meeting.objectives) + "</ul>")]
    if meeting.bullets:
        slides.append(Slide("Key ideas", "<ul>" + "".join(f"<li>{_inline(b)}</li>"
                                                          for b in meeting.bullets) + "</ul>"))
    notebooks_cache: dict[str, nbformat.NotebookNode | None] = {}
    sources: dict[str, nbformat.NotebookNode] = {}
    for stem, cell_id in meeting.figures:
        if stem not in notebooks_cache:
            notebooks_cache[stem] = executed_notebook(stem, notebooks, cache, executed)
        nb = notebooks_cache[stem]
        if nb is None:
            continue  # a chapter still being written
        if stem not in sources:
            sources[stem] = nbformat.read(Path(notebooks) / f"{stem}.ipynb", as_version=4)
        slides.append(cell_slide(nb, stem, cell_id, sources[stem]))
    prompts = [text for c in meeting.chapters if c in present
               for _, text in exercise_prompts(Path(notebooks) / f"{c}.ipynb")]
    if prompts:
        slides.append(Slide("Exercises", '<ol class="exercises">' + "".join(
            f"<li>{_inline(p)}</li>" for p in prompts) + "</ol>"))
    missing = [c for c in meeting.chapters if c not in present]
    if missing:
        slides.append(Slide("In preparation", "<p>Not in the book yet: "
                            + ", ".join(html.escape(c) for c in missing) + ".</p>"))
    return slides


def _inline(text: str) -> str:
    """Markdown without block structure (a heading "3. The circle" is not a list)."""
    return _markdown().renderInline(text)


STYLE = """
html,body{margin:0;height:100%;font-family:system-ui,-apple-system,"Segoe UI",sans-serif;
background:#f4f4f2;color:#222}
.slide{display:none;box-sizing:border-box;height:100vh;padding:3vh 5vw 6vh;overflow:auto}
.slide.on{display:block}
h1{font-size:2.6vw;margin:0 0 2vh;color:#1a3d6d}
.slide.title h1{font-size:3.6vw;margin-top:25vh}
.sub{font-size:1.6vw;color:#555}
li,p{font-size:1.6vw;line-height:1.45}
.figs{display:flex;flex-wrap:wrap;gap:1vw;justify-content:center;align-items:flex-start}
img.fig{max-width:90vw;max-height:78vh;background:#fff}
.figs img.fig:not(:only-child){max-width:44vw;max-height:38vh}
.verdict{font-size:1.5vw;background:#fff;border-left:6px solid #2e7d32;padding:1vh 2vw}
.verdict li,.verdict p{font-size:1.5vw}
.plotly{width:80vw;height:75vh}
.exercises li{font-size:1.25vw;margin-bottom:1vh}
nav{position:fixed;bottom:1vh;right:2vw;font-size:14px;color:#666}
nav button{font-size:14px;margin-left:4px}
footer{position:fixed;bottom:1vh;left:2vw;font-size:12px;color:#888}
"""

SCRIPT = """
(function(){
  var slides=document.querySelectorAll('.slide'), n=slides.length, k=0;
  var count=document.getElementById('count');
  function show(i){
    k=Math.max(0,Math.min(n-1,i));
    slides.forEach(function(s,j){s.classList.toggle('on',j===k);});
    count.textContent=(k+1)+' / '+n;
    if(location.hash!=='#'+(k+1)) history.replaceState(null,'','#'+(k+1));
    if(window.Plotly){slides[k].querySelectorAll('.js-plotly-plot').forEach(function(p){
      window.Plotly.Plots.resize(p);});}
  }
  document.addEventListener('keydown',function(e){
    if(['ArrowRight','PageDown',' ','Enter'].indexOf(e.key)>=0){show(k+1);e.preventDefault();}
    else if(['ArrowLeft','PageUp','Backspace'].indexOf(e.key)>=0){show(k-1);e.preventDefault();}
    else if(e.key==='Home'){show(0);} else if(e.key==='End'){show(n-1);}
  });
  document.getElementById('prev').onclick=function(){show(k-1);};
  document.getElementById('next').onclick=function(){show(k+1);};
  if(window.Plotly&&window.deckPlots){window.deckPlots.forEach(function(p){
    window.Plotly.newPlot(p[0],p[1].data,p[1].layout||{},{responsive:true});});}
  show((parseInt(location.hash.slice(1),10)||1)-1);
})();
"""

MATHJAX = """<script>window.MathJax={tex:{inlineMath:[['$','$'],['\\\\(','\\\\)']]}};</script>
<script defer src="../_static/mathjax/tex-chtml.js"></script>"""


def render_deck(meeting: Meeting, slides: list[Slide], stamp: str) -> str:
    """One self-contained HTML page for a meeting's slides."""
    sections = "\n".join(
        f'<section class="slide {s.kind}"><h1>{_inline(s.title)}</h1>{s.body}</section>'
        for s in slides)
    plotly = ('<script src="../_static/plotly.min.js"></script>'
              if any(s.kind == "figure" and "plotly" in s.body for s in slides) else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Meeting {meeting.number}: {html.escape(meeting.title)}</title>
<style>{STYLE}</style>{MATHJAX}{plotly}</head>
<body>
{sections}
<footer>{html.escape(stamp)} · <a href="index.html">all decks</a> ·
<a href="../book/syllabus.html">syllabus</a></footer>
<nav><span id="count"></span><button id="prev" aria-label="previous slide">&larr;</button><button
 id="next" aria-label="next slide">&rarr;</button></nav>
<script>{SCRIPT}</script>
</body></html>
"""


def render_index(meetings: list[Meeting], stamp: str) -> str:
    """The page listing every deck."""
    items = "".join(f'<li><a href="{m.slug}.html">Meeting {m.number} (week {m.week}): '
                    f"{html.escape(m.title)}</a></li>" for m in meetings)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Slides</title>
<style>body{{font-family:system-ui,sans-serif;max-width:48em;margin:4em auto;line-height:1.6}}
</style></head><body><h1>Slides, one deck per class meeting</h1>
<p>Arrow keys or space to move; the figures and results are the executed chapters' own
outputs. Back to the <a href="../book/syllabus.html">syllabus</a>.</p>
<ul>{items}</ul><p style="color:#888">{html.escape(stamp)}</p></body></html>
"""


def build(meetings_file: Path, notebooks: Path, out: Path, cache: Path | None,
          executed: Path | None) -> list[Path]:
    """Write every meeting's deck and an index into ``out``; return the written paths."""
    meetings = load_meetings(meetings_file)
    stamp = f"Made {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from the executed chapters"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for meeting in meetings:
        path = out / f"{meeting.slug}.html"
        path.write_text(render_deck(meeting, meeting_slides(meeting, notebooks, cache, executed),
                                    stamp))
        written.append(path)
    (out / "index.html").write_text(render_index(meetings, stamp))
    return written + [out / "index.html"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meetings", type=Path, default=REPO / "book" / "meetings.yml")
    parser.add_argument("--notebooks", type=Path, default=REPO / "notebooks")
    parser.add_argument("--cache", type=Path, default=REPO / "_build" / ".jupyter_cache")
    parser.add_argument("--executed", type=Path, default=REPO / "_build" / "jupyter_execute")
    parser.add_argument("--out", type=Path, default=REPO / "_build" / "html" / "slides")
    args = parser.parse_args(argv)
    try:
        written = build(args.meetings, args.notebooks, args.out, args.cache, args.executed)
    except SlidesError as error:
        print(f"make_slides: {error}", file=sys.stderr)
        return 1
    print(f"wrote {len(written) - 1} slide decks to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
