"""Wall time of each model chapter at the ``cpu`` profile, from an empty model cache and warm.

Run: ``.venv/bin/python benchmarks/bench_chapters.py [notebooks/03_vaes.ipynb ...]`` (default:
every chapter that trains models). Prints a markdown table and writes
``benchmarks/results/chapters.json``.

Each chapter is executed the way the book build executes it: a fresh ``python3`` kernel,
top to bottom, ``TOPOLIB_PROFILE=cpu``. The first run uses a new, empty model cache (every
model is trained: the "cold" time a reader without a cache waits); the second run reuses that
cache ("warm": what a rebuild of the book costs). Goal: under 10 minutes cold and under 1
minute warm on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "chapters.json"
#: Chapters that train models (the others take seconds and are timed by the book build).
MODEL_CHAPTERS = ("notebooks/03_vaes.ipynb", "notebooks/04_gans.ipynb",
                  "notebooks/05_chart_autoencoders.ipynb",
                  "notebooks/06_diffusion.ipynb", "notebooks/07_teaser.ipynb",
                  "notebooks/08_matched_latents.ipynb", "notebooks/09_synthesis.ipynb")
COLD_GOAL_S, WARM_GOAL_S = 600, 60


def run_chapter(path: Path, cache: Path) -> float:
    """Seconds to execute ``path`` at the cpu profile with the model cache at ``cache``."""
    sys.path.insert(0, str(ROOT / "tests"))
    from notebook_runner import execute_notebook

    previous = os.environ.get("TOPOLIB_CACHE")
    os.environ["TOPOLIB_CACHE"] = str(cache)
    try:
        start = time.perf_counter()
        execute_notebook(path, profile="cpu", timeout=3600)
        return time.perf_counter() - start
    finally:
        if previous is None:
            os.environ.pop("TOPOLIB_CACHE", None)
        else:
            os.environ["TOPOLIB_CACHE"] = previous


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="notebook paths (default: model chapters)")
    args = parser.parse_args()
    chapters = [ROOT / c for c in (args.chapters or MODEL_CHAPTERS) if (ROOT / c).exists()]
    if not chapters:
        raise SystemExit("no chapter to time: none of the given notebooks exists")
    rows = []
    for path in chapters:
        with tempfile.TemporaryDirectory(prefix="topolib-bench-cache-") as cache:
            print(f"running {path.name} cold ...", flush=True)
            cold = run_chapter(path, Path(cache))
            print(f"running {path.name} warm ...", flush=True)
            warm = run_chapter(path, Path(cache))
        rows.append({"chapter": path.name, "cold_s": round(cold, 1), "warm_s": round(warm, 1),
                     "cold_ok": cold < COLD_GOAL_S, "warm_ok": warm < WARM_GOAL_S})
    load = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
          f"{load} at the end\n")
    print(f"| chapter | cold (empty cache) s | warm s | goal: cold < {COLD_GOAL_S} s, warm < "
          f"{WARM_GOAL_S} s |")
    print("|---|---|---|---|")
    for r in rows:
        met = "met" if r["cold_ok"] and r["warm_ok"] else "MISSED"
        print(f"| {r['chapter']} | {r['cold_s']:.0f} | {r['warm_s']:.0f} | {met} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"),
                                   "cpu_count": os.cpu_count(), "chapters": rows}, indent=2)
                       + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
