"""Sphinx extension: pages the book build writes from its own measurements.

Directives (MyST: ```` ```{build-status} ````):

``build-status``
    The status page: the build's date, topolib version and source hash, machine, profile,
    and each chapter's execution time and cache state (``course.status_markdown``).
``course-schedule``
    The syllabus's meeting table, with running times generated from
    ``_build/chapter-times.json`` (falling back to ``benchmarks/results``).
``course-meetings``
    Each meeting's objectives, prerequisites and chapters, from ``book/meetings.yml``.
``architecture-figure``
    A diagram of a VAE and a GAN, drawn with matplotlib at build time and embedded in the page.
``module-summary``
    The printed torch module of ``topolib.models.VAE`` or ``GAN`` (argument) at the ``cpu``
    profile's sizes, with its parameter count.

Pages that use them are re-read on every build (their inputs change without their source).
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

sys.path.insert(0, str(Path(__file__).parent))
import course  # noqa: E402  (this folder is not a package)

PAGES_KEY = "course_pages_docs"


class _MarkdownDirective(SphinxDirective):
    """Render generated MyST markdown in place of the directive."""

    has_content = False

    def markdown(self, root: Path) -> str:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        env = self.env
        pages = getattr(env, PAGES_KEY, set())
        pages.add(env.docname)
        setattr(env, PAGES_KEY, pages)
        root = Path(env.srcdir)
        container = nodes.container()
        lines = self.markdown(root).splitlines()
        self.state.nested_parse(StringList(lines, source=env.docname), self.content_offset,
                                container)
        return container.children


class BuildStatus(_MarkdownDirective):
    def markdown(self, root: Path) -> str:
        return course.status_markdown(root / "_build" / "chapter-times.json",
                                      root / "_build" / "last-execution.json",
                                      root / "topolib", root / "notebooks")


class CourseSchedule(_MarkdownDirective):
    def markdown(self, root: Path) -> str:
        meetings = course.load_meetings(root / "book" / "meetings.yml")
        times = course.chapter_times(root / "_build" / "chapter-times.json",
                                     root / "benchmarks" / "results")
        cold = course.benchmark_times(root / "benchmarks" / "results")
        return (course.schedule_markdown(meetings, times, root / "notebooks", cold=cold)
                + "\n\n"
                + course.schedule_note(times, root / "notebooks"))


class CourseMeetings(_MarkdownDirective):
    def markdown(self, root: Path) -> str:
        present = course.chapters_in_book(root / "notebooks")
        out = []
        for m in course.load_meetings(root / "book" / "meetings.yml"):
            chapters = [f"{{doc}}`../notebooks/{c}`" if c in present
                        else f"`notebooks/{c}` (in preparation)" for c in m.chapters]
            out += [f"**Meeting {m.number}: {m.title}** (week {m.week}; "
                    f"{', '.join(chapters)})", "",
                    "Objectives:", ""] + [f"- {o}" for o in m.objectives] + [
                    "", "Prerequisites:", ""] + [f"- {p}" for p in m.prerequisites] + [""]
        return "\n".join(out)


def _diagram_png() -> bytes:
    """A VAE and a GAN as boxes and arrows (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, axes = plt.subplots(2, 1, figsize=(10, 4.8))

    def box(ax, x, y, text, colour):
        ax.add_patch(FancyBboxPatch((x - 0.65, y - 0.3), 1.3, 0.6, boxstyle="round,pad=0.05",
                                    fc=colour, ec="0.3"))
        ax.text(x, y, text, ha="center", va="center", fontsize=9)

    def arrow(ax, a, b, text=""):
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=12, color="0.3"))
        if text:
            ax.text((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + 0.12, text, ha="center", fontsize=8)

    vae, gan = axes
    step = 2.2
    labels = [("image x\n1×32×32", "#eeeeee"), ("encoder\n(conv)", "#cfe2f3"),
              ("μ(x), σ(x)\nin ℝᵈ", "#fff2cc"), ("z = μ + σ·ε\nε ~ N(0, I)", "#fff2cc"),
              ("decoder\n(up-conv)", "#d9ead3"), ("x̂\nreconstruction", "#eeeeee")]
    for k, (text, colour) in enumerate(labels):
        box(vae, k * step, 0, text, colour)
        if k:
            arrow(vae, ((k - 1) * step + 0.7, 0), (k * step - 0.7, 0))
    vae.text(5.5, -0.75, "loss = reconstruction error of x̂  +  β · KL(q(z|x) ‖ N(0, I));  "
             "new images: decoder(z), z ~ N(0, I)", ha="center", fontsize=8.5)
    vae.set_title("VAE: encoder and decoder trained together", fontsize=10)

    box(gan, 0, 0.35, "z ~ N(0, I)\nin ℝᵈ", "#fff2cc")
    box(gan, step, 0.35, "generator G\n(up-conv)", "#d9ead3")
    box(gan, 2 * step, 0.35, "fake image\nG(z)", "#eeeeee")
    box(gan, 2 * step, -0.55, "real image x", "#eeeeee")
    box(gan, 3.5 * step, -0.1, "discriminator\nD (conv)", "#cfe2f3")
    box(gan, 5 * step, -0.1, "D(·) =\nP(real)", "#f4cccc")
    arrow(gan, (0.7, 0.35), (step - 0.7, 0.35))
    arrow(gan, (step + 0.7, 0.35), (2 * step - 0.7, 0.35))
    arrow(gan, (2 * step + 0.7, 0.35), (3.5 * step - 0.7, -0.05))
    arrow(gan, (2 * step + 0.7, -0.55), (3.5 * step - 0.7, -0.15))
    arrow(gan, (3.5 * step + 0.7, -0.1), (5 * step - 0.7, -0.1))
    gan.text(5.5, -1.15, "D learns to tell real from fake; G learns to make D say 'real'. "
             "No encoder: the code of an image is found by optimisation (inversion)",
             ha="center", fontsize=8.5)
    gan.set_title("GAN: a generator and a discriminator trained against each other",
                  fontsize=10)
    for ax in axes:
        ax.set(xlim=(-0.9, 11.9), ylim=(-1.3, 0.8))
        ax.axis("off")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


class ArchitectureFigure(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        data = base64.b64encode(_diagram_png()).decode("ascii")
        html = (f'<figure class="course-diagram"><img src="data:image/png;base64,{data}" '
                'alt="Block diagram of a VAE (image, encoder, mean and spread of the code, '
                'sampled code, decoder, reconstruction) and of a GAN (code, generator, fake '
                'image; real and fake images into the discriminator)" style="max-width:100%">'
                "<figcaption>A VAE and a GAN, drawn when this page was built.</figcaption>"
                "</figure>")
        return [nodes.raw("", html, format="html")]


def _chapter_channels(root: Path, kind: str, default: int = 16) -> int:
    """The width the model's chapter uses at the ``cpu`` profile (its ``CHANNELS`` line)."""
    import re

    chapter = root / "notebooks" / ("03_vaes.ipynb" if kind == "VAE" else "04_gans.ipynb")
    try:
        match = re.search(r"CHANNELS = P\.choose\([^)]*cpu=(\d+)", chapter.read_text())
    except OSError:
        return default
    return int(match.group(1)) if match else default


class ModuleSummary(SphinxDirective):
    required_arguments = 1  # VAE or GAN

    def run(self) -> list[nodes.Node]:
        from topolib.models import GAN, VAE
        from topolib.profiles import get_profile

        kinds = {"VAE": VAE, "GAN": GAN}
        if self.arguments[0] not in kinds:
            raise self.error(f"module-summary: argument must be one of {sorted(kinds)}; got "
                             f"{self.arguments[0]!r}")
        size = get_profile("cpu").image_size
        channels = _chapter_channels(Path(self.env.srcdir), self.arguments[0])
        model = kinds[self.arguments[0]](latent_dim=2, size=size, channels=channels)
        params = sum(p.numel() for p in model.parameters())
        text = (f"# topolib.models.{self.arguments[0]}(latent_dim=2, size={size}, "
                f"channels={channels})"
                f"\n# {params:,} parameters\n{model}")
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def _always_reread(app: Sphinx, env, added, changed, removed) -> list[str]:
    return sorted(d for d in getattr(env, PAGES_KEY, set()) if d in env.found_docs)


def _purge(app: Sphinx, env, docname: str) -> None:
    getattr(env, PAGES_KEY, set()).discard(docname)


def setup(app: Sphinx) -> dict:
    app.add_directive("build-status", BuildStatus)
    app.add_directive("course-schedule", CourseSchedule)
    app.add_directive("course-meetings", CourseMeetings)
    app.add_directive("architecture-figure", ArchitectureFigure)
    app.add_directive("module-summary", ModuleSummary)
    app.connect("env-get-outdated", _always_reread)
    app.connect("env-purge-doc", _purge)
    return {"version": "0.1", "parallel_read_safe": False, "parallel_write_safe": True}
