"""tools/execute_chapters.py fills the execution cache that jupyter-book reads."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

import execute_chapters  # noqa: E402


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def times_file(tmp_path, monkeypatch):
    path = tmp_path / "chapter-times.json"
    monkeypatch.setattr(execute_chapters, "TIMES", path)
    return path


def test_executes_in_parallel_into_the_cache_the_book_reads(tmp_path, times_file):
    from jupyter_cache import get_cache

    a = _notebook(tmp_path / "a.ipynb", "import os", "print(os.environ['OMP_NUM_THREADS'])")
    b = _notebook(tmp_path / "b.ipynb", "print(6 * 7)")
    cache_dir = tmp_path / "cache"
    assert execute_chapters.main([str(a), str(b), "--workers", "2",
                                  "--cache", str(cache_dir)]) == 0
    cache = get_cache(str(cache_dir))
    # What myst-nb does in `execute_notebooks: cache` mode: match the notebook as read from disk.
    _, merged = cache.merge_match_into_notebook(nbformat.read(a, as_version=4))
    assert merged.cells[1].outputs[0]["text"] == "1\n"  # one thread per chapter side by side
    _, merged = cache.merge_match_into_notebook(nbformat.read(b, as_version=4))
    assert merged.cells[0].outputs[0]["text"] == "42\n"
    assert {"a.ipynb", "b.ipynb"} <= set(__import__("json").loads(times_file.read_text()))
    # A second run finds both up to date and executes nothing.
    assert execute_chapters.main([str(a), str(b), "--cache", str(cache_dir)]) == 0


def test_a_failing_chapter_fails_the_run_and_is_not_cached(tmp_path, times_file, capsys):
    from jupyter_cache import get_cache

    bad = _notebook(tmp_path / "bad.ipynb", "1 / 0")
    cache_dir = tmp_path / "cache"
    assert execute_chapters.main([str(bad), "--cache", str(cache_dir)]) == 1
    assert "ZeroDivisionError" in capsys.readouterr().err
    with pytest.raises(KeyError):
        get_cache(str(cache_dir)).match_cache_notebook(nbformat.read(bad, as_version=4))


def test_bad_arguments_are_named(tmp_path, times_file):
    with pytest.raises(SystemExit):
        execute_chapters.main([str(tmp_path / "missing.ipynb")])
    with pytest.raises(SystemExit):
        execute_chapters.main(["--workers", "0"])


def test_model_providers_first_then_the_longest_known_time(tmp_path, times_file, monkeypatch):
    paths = [_notebook(tmp_path / name, "pass") for name in
             ("01_shape_primer.ipynb", "03_vaes.ipynb", "06_diffusion.ipynb", "10_new.ipynb")]
    # the last run was warm (06: 30 s); the benchmark measured the chapters cold (06: 580 s)
    times_file.write_text(json.dumps({"01_shape_primer.ipynb": {"seconds": 17},
                                      "06_diffusion.ipynb": {"seconds": 30}}))
    bench = tmp_path / "book.json"
    bench.write_text(json.dumps({"chapters": [
        {"chapter": "03_vaes.ipynb", "cold_s": 330}, {"chapter": "06_diffusion.ipynb", "cold_s": 580},
        {"chapter": "01_shape_primer.ipynb", "cold_s": 16}]}))
    monkeypatch.setattr(execute_chapters, "BENCHMARK", bench)
    known = execute_chapters.known_times()
    assert known == {"01_shape_primer.ipynb": 17, "03_vaes.ipynb": 330, "06_diffusion.ipynb": 580}
    # the VAE chapter's models are re-used by later chapters: it starts first although shorter;
    # a new chapter with no time goes by its (tiny) file size
    assert [p.name for p in execute_chapters.execution_order(paths, known)] == [
        "03_vaes.ipynb", "06_diffusion.ipynb", "01_shape_primer.ipynb", "10_new.ipynb"]
