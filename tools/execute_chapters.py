"""Execute the book's chapters side by side, into the cache that ``jupyter-book build`` reads.

Jupyter Book 1 executes notebooks one after the other. The model chapters train small
networks that run fastest on one torch thread, so on a multi-core machine running several
chapters at once, one thread each, finishes the book much sooner. This script executes every
chapter that has no up-to-date entry in the execution cache (``_build/.jupyter_cache``, the
one ``execute_notebooks: cache`` uses) in a pool of worker processes, and stores the executed
notebooks there; ``jupyter-book build`` then finds them and only renders.

Order (:func:`execution_order`): the chapters whose trained models later chapters load from
the model cache first (:data:`MODEL_PROVIDERS`), so those models are trained once, not by two
chapters at the same time; then the longest first, by the longest time known for each chapter:
its measured cold time (``benchmarks/results/book.json``, committed, so a fresh clone orders
well too) or its last run here, whichever is longer (a warm run's minute must not schedule a
chapter that trains for ten minutes last).

Usage: ``python tools/execute_chapters.py [--workers N] [--cache DIR] [notebooks ...]``.
A failing chapter is reported with its traceback and makes the script exit non-zero after
the others finish. Each chapter's wall time is written to ``_build/chapter-times.json``
(read back to order the next run, and by the book's status page).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
TIMES = REPO / "_build" / "chapter-times.json"
#: What the last run executed and what it found cached (read by the book's status page).
RUN = REPO / "_build" / "last-execution.json"
#: The measured cold time of each chapter (benchmarks/bench_book.py writes it).
BENCHMARK = REPO / "benchmarks" / "results" / "book.json"
#: Chapters whose models later chapters re-use: the VAE chapter's Euclidean VAEs are the
#: matched-latent chapter's baselines and the synthesis chapter's live cell.
MODEL_PROVIDERS = ("03_vaes.ipynb",)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _execute(path: str, threads: int | None, timeout: int) -> tuple[str, dict, float, str | None]:
    """Run one notebook in a fresh kernel (in a worker process); return it executed."""
    from jupyter_cache.executors.utils import single_nb_execution

    if threads is not None:  # the kernel inherits this process's environment
        for name in THREAD_VARIABLES:
            os.environ[name] = str(threads)
    nb = nbformat.read(path, as_version=4)
    result = single_nb_execution(nb, cwd=str(Path(path).parent), timeout=timeout,
                                 allow_errors=False, meta_override=True)
    error = None if result.err is None else (result.exc_string or repr(result.err))
    return path, nb, float(result.time), error


def _previous_times() -> dict[str, float]:
    try:
        return {k: float(v["seconds"]) for k, v in json.loads(TIMES.read_text()).items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _cold_times() -> dict[str, float]:
    try:
        return {c["chapter"]: float(c["cold_s"])
                for c in json.loads(BENCHMARK.read_text())["chapters"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def known_times() -> dict[str, float]:
    """The longest time known for each chapter: its measured cold time or its last run."""
    previous, cold = _previous_times(), _cold_times()
    return {name: max(previous.get(name, 0.0), cold.get(name, 0.0))
            for name in set(previous) | set(cold)}


def execution_order(paths: list[Path], known: dict[str, float]) -> list[Path]:
    """``paths`` in the order to start them: :data:`MODEL_PROVIDERS` first, then by the
    seconds in ``known`` (by file name), longest first; a chapter with no known time by its
    file size (a new chapter is usually a long one)."""
    def estimate(path: Path) -> float:
        return known.get(path.name, path.stat().st_size / 1000)

    return sorted(paths, key=lambda p: (p.name not in MODEL_PROVIDERS, -estimate(p)))


def _record_run(started: str, seconds: float, workers: int, executed: list[str],
                cached: list[str], failed: list[str]) -> None:
    """Write what this run executed and re-used to ``RUN`` (next to ``TIMES``)."""
    run = RUN if TIMES.parent == RUN.parent else TIMES.parent / RUN.name
    run.parent.mkdir(parents=True, exist_ok=True)
    run.write_text(json.dumps({"started": started, "wall_seconds": round(seconds, 1),
                               "workers": workers, "cpu_count": os.cpu_count(),
                               "executed": executed, "cached": cached, "failed": failed},
                              indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to execute (default: notebooks/*.ipynb)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="chapters executed at once (default: one per CPU core)")
    parser.add_argument("--cache", type=Path, default=REPO / "_build" / ".jupyter_cache",
                        help="jupyter-cache folder (the one the book build reads)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be >= 1; got {args.workers}")

    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    paths = [p.resolve() for p in (args.notebooks or sorted((REPO / "notebooks").glob("*.ipynb")))]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    cache = get_cache(str(args.cache))
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    todo = []
    for path in paths:
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            todo.append(path)
    cached = [p.name for p in paths if p not in todo]
    if not todo:
        _record_run(started, 0.0, 0, [], cached, [])
        print(f"all {len(paths)} chapters are cached and up to date")
        return 0
    todo = execution_order(todo, known_times())
    workers = min(args.workers, len(todo))
    threads = 1 if workers > 1 else None
    print(f"executing {len(todo)} chapter(s) with {workers} worker(s)"
          + (", one thread each" if threads else ""), flush=True)

    times = json.loads(TIMES.read_text()) if TIMES.is_file() else {}
    failed = []
    start = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        futures = [pool.submit(_execute, str(p), threads, args.timeout) for p in todo]
        for future in as_completed(futures):
            path, nb, seconds, error = future.result()
            name = Path(path).name
            if error is not None:
                failed.append(name)
                print(f"FAILED {name} after {seconds:.0f} s\n{error}", file=sys.stderr, flush=True)
                continue
            stage = cache.add_nb_to_project(path)
            cache.cache_notebook_bundle(
                CacheBundleIn(nb, stage.uri, data={"execution_seconds": seconds}),
                check_validity=False, overwrite=True,
            )
            times[name] = {"seconds": round(seconds, 1), "workers": workers,
                           "threads": threads or "default",
                           "profile": os.environ.get("TOPOLIB_PROFILE", "default"),
                           "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
            print(f"executed {name} in {seconds:.0f} s", flush=True)
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    TIMES.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")
    _record_run(started, time.perf_counter() - start, workers,
                [p.name for p in todo if p.name not in failed], cached, failed)
    print(f"{len(todo) - len(failed)} of {len(todo)} chapters executed in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
