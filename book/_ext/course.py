"""The course pages' data: class meetings, chapter running times and the build's status.

Plain functions, no Sphinx: the ``course_pages`` extension renders what they return into the
syllabus and status pages, ``tools/make_slides.py`` reads the same meetings for its decks,
and the tests call them on synthetic inputs.

Running times come from the build's own measurements, ``_build/chapter-times.json`` (written
by ``tools/execute_chapters.py``); where a chapter has none, from the committed benchmark
results in ``benchmarks/results/`` (``book.json``, then ``chapters.json``), marked as such.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

#: Where each measurement came from, as said on the pages.
BUILD, BENCHMARK = "build", "benchmark"


@dataclass(frozen=True)
class Meeting:
    """One class meeting of the module.

    Attributes
    ----------
    number : 1, 2, ... in teaching order.
    week : the week of the module it belongs to.
    title : short title (also the slide deck's title).
    chapters : notebook stems it uses, e.g. ``"03_vaes"`` (``notebooks/03_vaes.ipynb``).
    objectives, prerequisites : sentences (MyST markdown).
    bullets : the deck's talking points.
    figures : ``(notebook stem, cell id)`` pairs whose outputs make the deck's slides.
    """

    number: int
    week: int
    title: str
    chapters: tuple[str, ...]
    objectives: tuple[str, ...]
    prerequisites: tuple[str, ...]
    bullets: tuple[str, ...] = ()
    figures: tuple[tuple[str, str], ...] = ()

    @property
    def slug(self) -> str:
        """File stem of the meeting's slide deck, e.g. ``'meeting-03'``."""
        return f"meeting-{self.number:02d}"


@dataclass
class Measurement:
    """Seconds to execute one chapter, with the profile and where the number came from."""

    seconds: float
    profile: str
    source: str  # BUILD or BENCHMARK
    extra: dict[str, Any] = field(default_factory=dict)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where} must be a list of strings; got {value!r}")
    return tuple(value)


def load_meetings(path: Path) -> list[Meeting]:
    """Read the module's meetings from a YAML file (``book/meetings.yml``).

    Raises
    ------
    ValueError
        If an entry lacks a field or has one of the wrong kind (the message names it).
    """
    import yaml

    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict) or not isinstance(data.get("meetings"), list):
        raise ValueError(f"{path}: expected a mapping with a list under 'meetings'")
    meetings = []
    for k, entry in enumerate(data["meetings"], start=1):
        where = f"{path}: meeting {k}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be a mapping; got {entry!r}")
        for key in ("title", "week", "chapters", "objectives", "prerequisites"):
            if key not in entry:
                raise ValueError(f"{where} has no '{key}'")
        figures = []
        for item in entry.get("figures") or []:
            if (not isinstance(item, list) or len(item) != 2
                    or not all(isinstance(v, str) for v in item)):
                raise ValueError(f"{where}: each figure must be [notebook stem, cell id]; "
                                 f"got {item!r}")
            figures.append((item[0], item[1]))
        if not isinstance(entry["week"], int):
            raise ValueError(f"{where}: week must be an integer; got {entry['week']!r}")
        meetings.append(Meeting(
            number=k, week=entry["week"], title=str(entry["title"]),
            chapters=_strings(entry["chapters"], f"{where}: chapters"),
            objectives=_strings(entry["objectives"], f"{where}: objectives"),
            prerequisites=_strings(entry["prerequisites"], f"{where}: prerequisites"),
            bullets=_strings(entry.get("bullets"), f"{where}: bullets"),
            figures=tuple(figures),
        ))
    return meetings


def resolve_profile(recorded: str) -> str:
    """The profile a chapter ran with: ``'default'`` (no ``TOPOLIB_PROFILE``) resolved here."""
    if recorded and recorded != "default":
        return recorded
    try:
        from topolib.profiles import get_profile

        saved = os.environ.pop("TOPOLIB_PROFILE", None)
        try:
            return get_profile().name
        finally:
            if saved is not None:
                os.environ["TOPOLIB_PROFILE"] = saved
    except ImportError:
        return "cpu"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def build_times(path: Path) -> dict[str, Measurement]:
    """Chapter stem -> measurement from ``_build/chapter-times.json`` (empty if absent)."""
    data = _read_json(path)
    out: dict[str, Measurement] = {}
    if not isinstance(data, dict):
        return out
    for name, entry in data.items():
        if isinstance(entry, dict) and isinstance(entry.get("seconds"), (int, float)):
            out[Path(name).stem] = Measurement(float(entry["seconds"]),
                                               resolve_profile(str(entry.get("profile", ""))),
                                               BUILD, dict(entry))
    return out


def benchmark_times(results: Path) -> dict[str, Measurement]:
    """Chapter stem -> cold time at ``cpu`` from ``benchmarks/results`` (book.json first)."""
    out: dict[str, Measurement] = {}
    for name in ("chapters.json", "book.json"):  # later files win
        data = _read_json(Path(results) / name)
        if not isinstance(data, dict):
            continue
        for row in data.get("chapters", []):
            if isinstance(row, dict) and isinstance(row.get("cold_s"), (int, float)):
                out[Path(row["chapter"]).stem] = Measurement(
                    float(row["cold_s"]), "cpu", BENCHMARK,
                    {"file": f"benchmarks/results/{name}", "date": data.get("date")})
    return out


def chapter_times(build_file: Path, results: Path) -> dict[str, Measurement]:
    """The build's measurements, falling back per chapter to the committed benchmarks."""
    times = benchmark_times(results)
    times.update(build_times(build_file))
    return times


def format_seconds(seconds: float | None) -> str:
    """``'45 s'``, ``'4.3 min'``; ``'–'`` for no measurement."""
    if seconds is None:
        return "–"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def meeting_time(meeting: Meeting, times: dict[str, Measurement], profile: str,
                 present: set[str]) -> tuple[float | None, set[str]]:
    """Total seconds of the meeting's chapters at ``profile``, and the sources used.

    None when a chapter of the meeting that exists (in ``present``) has no measurement at that
    profile; chapters not yet written are left out.
    """
    total, sources = 0.0, set()
    chapters = [c for c in meeting.chapters if c in present]
    if not chapters:
        return None, sources
    for stem in chapters:
        m = times.get(stem)
        if m is None or m.profile != profile:
            return None, sources
        total += m.seconds
        sources.add(m.source)
    return total, sources


def chapters_in_book(notebooks: Path) -> set[str]:
    """Stems of the chapters in ``notebooks`` that the book shows (and pages can link to).

    A notebook counts when its file exists and, if there is a ``_toc.yml`` beside the
    notebooks folder, the table of contents lists it (the book builds only listed files).
    """
    stems = {p.stem for p in Path(notebooks).glob("*.ipynb")}
    toc = Path(notebooks).parent / "_toc.yml"
    if toc.is_file():
        listed = set(re.findall(r"file:\s*notebooks/([\w-]+)", toc.read_text()))
        stems &= listed
    return stems


def notebook_title(path: Path) -> str:
    """The first ``# heading`` of a notebook, or its stem."""
    nb = _read_json(path) or {}
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            src = "".join(cell.get("source", ""))
            match = re.search(r"^# (.+)$", src, re.M)
            if match:
                return match.group(1).strip()
    return Path(path).stem


def exercise_prompts(path: Path) -> list[tuple[str, str]]:
    """``(label, first paragraph)`` of each labelled ``{exercise}`` directive in a notebook."""
    nb = _read_json(path) or {}
    found = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            src = "".join(cell.get("source", ""))
            for match in re.finditer(r"^(?:`{3,}|:{3,})\{exercise\}.*\n((?::[\w-]+:.*\n)*)"
                                     r"((?:(?!\s*(?:`{3,}|:{3,})).*\S.*\n?)*)", src, re.M):
                label = re.search(r":label:\s*(\S+)", match.group(1))
                if label:
                    found.append((label.group(1), " ".join(match.group(2).split())))
    return found


def notebook_exercises(path: Path) -> list[str]:
    """Labels of the ``{exercise}`` directives in a notebook, in order."""
    return [label for label, _ in exercise_prompts(path)]


def _time_cell(meeting: Meeting, times: dict[str, Measurement], profile: str,
               present: set[str]) -> str:
    seconds, sources = meeting_time(meeting, times, profile, present)
    if seconds is None:
        return "not measured"
    return format_seconds(seconds) + ("" if sources == {BUILD} else " ‡")


def schedule_markdown(meetings: list[Meeting], times: dict[str, Measurement],
                      notebooks: Path, deck_prefix: str = "../slides/",
                      cold: dict[str, Measurement] | None = None) -> str:
    """The syllabus's schedule table: one row per meeting, its times generated from ``times``.

    Parameters
    ----------
    meetings : from :func:`load_meetings`.
    times : chapter stem -> measurement (:func:`chapter_times`).
    notebooks : folder of the chapters (``notebooks/``); chapters not there yet (or not in
        the table of contents, :func:`chapters_in_book`) are listed as "in preparation" and
        left out of the times.
    deck_prefix : relative URL of the slide decks from the syllabus page.
    cold : chapter stem -> cold time from the committed benchmarks (:func:`benchmark_times`);
        when given, a column with each meeting's time from an empty model cache.
    """
    present = chapters_in_book(notebooks)
    cold_head = "" if cold is None else " cold at `cpu` (benchmarks) |"
    lines = ["| meeting | week | chapters | exercises | running time at `cpu` |" + cold_head
             + " at `gpu` | slides |", "|---|---|---|---|---|---|---|" + ("---|" if cold_head else "")]
    for m in meetings:
        chapters, exercises = [], []
        for stem in m.chapters:
            if stem in present:
                chapters.append(f"{{doc}}`../notebooks/{stem}`")
                exercises += [f"{{ref}}`{stem[:2]}.{k} <{label}>`" for k, label in
                              enumerate(notebook_exercises(Path(notebooks) / f"{stem}.ipynb"), 1)]
            else:
                chapters.append(f"`notebooks/{stem}` (in preparation)")
        deck = f'<a href="{deck_prefix}{m.slug}.html">deck</a>'
        lines.append(f"| {m.number}. {m.title} | {m.week} | {'<br>'.join(chapters)} | "
                     f"{', '.join(exercises) or '–'} | {_time_cell(m, times, 'cpu', present)} | "
                     + ("" if cold is None else
                        f"{format_seconds(meeting_time(m, cold, 'cpu', present)[0])} | ")
                     + f"{_time_cell(m, times, 'gpu', present)} | {deck} |")
    return "\n".join(lines)


def schedule_note(times: dict[str, Measurement], notebooks: Path) -> str:
    """The sentence under the schedule saying where its times come from."""
    present = sorted(chapters_in_book(notebooks))
    build = [s for s in present if s in times and times[s].source == BUILD]
    bench = [s for s in present if s in times and times[s].source == BENCHMARK]
    missing = [s for s in present if s not in times]
    parts = []
    if build:
        parts.append(f"Times are the chapters' execution times measured by this book's last build "
                     f"(`_build/chapter-times.json`, {len(build)} of {len(present)} chapters); a "
                     "meeting's time is the sum over its chapters, with the model cache as it was "
                     "(a cold run, which trains every model, takes longer).")
    if bench:
        files = sorted({times[s].extra.get("file", "benchmarks/results") for s in bench})
        parts.append(f"‡ No measurement from this build for {', '.join(bench)}: the time is the "
                     f"cold time from the committed benchmark results ({', '.join(files)}).")
    if missing:
        parts.append(f"Not measured yet: {', '.join(missing)}.")
    if not any(m.profile == "gpu" for m in times.values()):
        parts.append("No build at the `gpu` profile has been measured, so that column is empty.")
    return " ".join(parts)


def source_hash(package: Path) -> str:
    """First 16 hex digits of the sha256 of the package's ``.py`` files (as the Makefile)."""
    if os.environ.get("TOPOLIB_HASH"):
        return os.environ["TOPOLIB_HASH"]
    digest = hashlib.sha256()
    for path in sorted(str(p) for p in Path(package).rglob("*.py")):
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


def machine() -> str:
    """``'x86_64, 2 cores, Linux, Python 3.11.7'``."""
    return (f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}, "
            f"Python {platform.python_version()}")


def status_markdown(times_file: Path, execution_file: Path, package: Path, notebooks: Path,
                    now: datetime | None = None) -> str:
    """The status page's body: provenance list and one row per chapter of the last build.

    Parameters
    ----------
    times_file : ``_build/chapter-times.json`` (chapter file name -> seconds, profile, ...).
    execution_file : ``_build/last-execution.json``, which ``tools/execute_chapters.py`` writes
        on every run: the chapters it executed and those it found in the execution cache.
    package : topolib's source folder (for the version and source hash).
    notebooks : folder of the chapters (rows of chapters not in the book are not linked).
    now : the time to stamp (default: now, UTC).
    """
    now = now or datetime.now(timezone.utc)
    times = build_times(times_file)
    linkable = chapters_in_book(notebooks)
    run = _read_json(execution_file)
    run = run if isinstance(run, dict) else {}
    executed, cached = set(run.get("executed", [])), set(run.get("cached", []))
    version = "unknown"
    init = Path(package) / "__init__.py"
    if init.is_file():
        match = re.search(r'^__version__\s*=\s*"([^"]+)"', init.read_text(), re.M)
        version = match.group(1) if match else version
    profiles = sorted({m.profile for m in times.values()}) or ["–"]
    total = sum(m.seconds for m in times.values())
    lines = [
        f"- **Page generated**: {now:%Y-%m-%d %H:%M} UTC",
        f"- **topolib**: {version}, source hash `{source_hash(package)}`",
        f"- **Machine**: {machine()}",
        f"- **Profile**: {', '.join(profiles)}",
    ]
    if run:
        lines.append(f"- **Last execution step** ({run.get('started', '?')}): "
                     f"{len(executed)} chapter(s) executed in "
                     f"{format_seconds(run.get('wall_seconds'))} with {run.get('workers', '?')} "
                     f"worker(s), {len(cached)} re-used from the execution cache")
    else:
        lines.append("- **Last execution step**: no record (`_build/last-execution.json` is "
                     "missing: run `make book`)")
    lines.append(f"- **Total execution time** of the chapters' outputs shown: "
                 f"{format_seconds(total if times else None)} (sum over chapters, each measured "
                 "when it was last executed)")
    lines += ["", "| chapter | profile | execution time | cache state | executed at | workers × "
              "threads |", "|---|---|---|---|---|---|"]
    for name in sorted(times):
        m = times[name]
        file = f"{name}.ipynb"
        if file in executed:
            state = "executed in this build"
        elif file in cached:
            state = "re-used from the execution cache"
        else:
            state = "not in the last execution step"
        link = (f"{{doc}}`../notebooks/{name}`" if name in linkable
                else f"`{file}` (not in the book's table of contents)")
        lines.append(f"| {link} | `{m.profile}` | {format_seconds(m.seconds)} "
                     f"| {state} | {m.extra.get('finished', '–')} | "
                     f"{m.extra.get('workers', '?')} × {m.extra.get('threads', '?')} |")
    if not times:
        lines.append("| (no chapter has been executed by `tools/execute_chapters.py` yet) "
                     "| | | | | |")
    return "\n".join(lines)
