"""Smoke check of the ``gpu`` profile on a CPU: every chapter, end to end, with tiny training.

No GPU is available to the book's builders, yet a reader on Colab gets the ``gpu`` profile:
64x64 images, larger samples, other architectures' sizes. This script executes every chapter
(``notebooks/*.ipynb``, so new chapters are picked up) in a fresh kernel with
``TOPOLIB_PROFILE=gpu`` and ``TOPOLIB_SMOKE=1`` (:func:`topolib.profiles.smoke_mode`: the
profile's image sizes, sample counts and tensor shapes, but every training epoch cut to one
optimizer step; verdicts marked and never raising), with a private, temporary model cache, so
a shape or size bug of the gpu code path shows up here first.

Usage: ``python tools/smoke_gpu.py [--workers N] [--timeout S] [--keep DIR] [notebooks ...]``
(``make smoke-gpu``). Chapters run side by side, one torch thread each, longest first. Each
chapter's wall time and its slowest cells are printed; a failing chapter is reported with its
error, and the script exits non-zero after the others finish. ``--keep DIR`` writes the
executed notebooks there for inspection (their outputs are smoke output: never publish them).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: Rough relative cost of the chapters at this check (seconds, measured), to start the longest
#: first; a chapter not listed is assumed long, so new chapters start early.
COST = {"01_shape_primer": 60, "02_datasets": 60, "07_teaser": 120}


def smoke_environment(cache: Path, threads: int | None) -> dict[str, str]:
    """The environment variables a smoke kernel runs with."""
    env = {"TOPOLIB_PROFILE": "gpu", "TOPOLIB_SMOKE": "1", "TOPOLIB_CACHE": str(cache),
           "TOPOLIB_DEVICE": "cpu", "TOPOLIB_MODELS_URL": ""}  # nothing downloaded
    if threads is not None:
        env.update({name: str(threads) for name in THREAD_VARIABLES})
    return env


def _cell_seconds(cell: nbformat.NotebookNode) -> float | None:
    timing = cell.get("metadata", {}).get("execution", {})
    try:
        begin = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    except (KeyError, ValueError, AttributeError):
        return None
    return (end - begin).total_seconds()


def run_chapter(path: str, env: dict[str, str], timeout: int, keep: str | None
                ) -> tuple[str, float, str | None, list[tuple[float, str]]]:
    """Execute one notebook in a fresh kernel (in a worker process).

    Returns ``(name, seconds, error or None, [(seconds, cell id), ...] slowest cells first)``.
    """
    from nbclient import NotebookClient

    os.environ.update(env)  # the kernel inherits this process's environment
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    error = None
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                       resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    except Exception as err:  # noqa: BLE001 - reported per chapter, the others go on
        error = str(err) or "".join(traceback.format_exception(err))
    seconds = time.perf_counter() - start
    cells = sorted(((s, c.get("id", "?")) for c in nb.cells
                    if c.cell_type == "code" and (s := _cell_seconds(c)) is not None),
                   reverse=True)
    if keep is not None:
        Path(keep).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(Path(keep) / Path(path).name))
    return Path(path).name, seconds, error, cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to check (default: notebooks/*.ipynb)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="chapters executed at once (default: one per CPU core)")
    parser.add_argument("--timeout", type=int, default=7200,
                        help="seconds per cell (default 7200: a loaded 2-core machine is slow)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="folder to write the executed notebooks to (default: none)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be >= 1; got {args.workers}")
    if args.timeout < 1:
        parser.error(f"--timeout must be >= 1; got {args.timeout}")
    paths = [p.resolve() for p in (args.notebooks or sorted((REPO / "notebooks").glob("*.ipynb")))]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    if not paths:
        parser.error("no notebooks to check")
    paths.sort(key=lambda p: COST.get(p.stem, 10_000), reverse=True)
    workers = min(args.workers, len(paths))
    threads = 1 if workers > 1 else None
    keep = None if args.keep is None else str(args.keep.resolve())

    failed: list[str] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="topolib-smoke-") as tmp:
        env = smoke_environment(Path(tmp) / "cache", threads)
        print(f"gpu smoke check of {len(paths)} chapter(s), {workers} at once"
              + (", one thread each" if threads else "") + f"; private cache in {tmp}",
              flush=True)
        with ProcessPoolExecutor(workers) as pool:
            futures = [pool.submit(run_chapter, str(p), env, args.timeout, keep) for p in paths]
            for future in as_completed(futures):
                name, seconds, error, cells = future.result()
                slowest = ", ".join(f"{cid} {s:.0f} s" for s, cid in cells[:3])
                if error is not None:
                    failed.append(name)
                    print(f"FAILED {name} after {seconds:.0f} s\n{error}", file=sys.stderr,
                          flush=True)
                else:
                    print(f"ok     {name} in {seconds:.0f} s (slowest cells: {slowest})",
                          flush=True)
    total = time.perf_counter() - start
    print(f"{len(paths) - len(failed)} of {len(paths)} chapters passed the gpu smoke check in "
          f"{total:.0f} s" + (f"; failed: {', '.join(sorted(failed))}" if failed else ""),
          flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
