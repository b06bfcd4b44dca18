"""Wall time of executing the whole book at the ``cpu`` profile, as ``make book`` does it.

Run: ``.venv/bin/python benchmarks/bench_book.py [--workers N]``. Prints a markdown table and
writes ``benchmarks/results/book.json``.

``make book`` executes the chapters with ``tools/execute_chapters.py`` (side by side, one torch
thread each) before Jupyter Book renders them. This benchmark does exactly that twice, each
time into a new, empty execution cache:

* **cold**: with a new, empty model cache, so every model is trained (a first build);
* **warm**: with the model cache the cold run filled (a rebuild after topolib changed, when
  every chapter re-executes but no model is retrained).

A rebuild with nothing changed executes nothing (the execution cache answers) and costs only
the Sphinx render. Goals on 2 cores: the whole book cold in 20 minutes (ceiling 30), warm in
under a minute per chapter.
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
RESULTS = ROOT / "benchmarks" / "results" / "book.json"
GOAL_S, CEILING_S, WARM_GOAL_S = 1200, 1800, 60


def execute_all(workers: int, model_cache: Path, times: Path) -> float:
    """Seconds to execute every chapter into a fresh execution cache (chapter times to ``times``)."""
    sys.path.insert(0, str(ROOT / "tools"))
    import execute_chapters

    saved = {k: os.environ.get(k) for k in ("TOPOLIB_CACHE", "TOPOLIB_PROFILE")}
    os.environ.update(TOPOLIB_CACHE=str(model_cache), TOPOLIB_PROFILE="cpu")
    execute_chapters.TIMES = times
    try:
        with tempfile.TemporaryDirectory(prefix="topolib-bench-exec-") as exec_cache:
            start = time.perf_counter()
            code = execute_chapters.main(["--workers", str(workers), "--cache", exec_cache])
            seconds = time.perf_counter() - start
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if code != 0:
        raise SystemExit("a chapter failed; see above")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="topolib-bench-models-") as tmp:
        models, cold_times, warm_times = Path(tmp) / "models", Path(tmp) / "cold.json", \
            Path(tmp) / "warm.json"
        print("executing the book cold (empty model cache) ...", flush=True)
        cold = execute_all(args.workers, models, cold_times)
        print("executing the book warm (models cached) ...", flush=True)
        warm = execute_all(args.workers, models, warm_times)
        per_cold, per_warm = (json.loads(p.read_text()) for p in (cold_times, warm_times))
    chapters = [{"chapter": name, "cold_s": per_cold[name]["seconds"],
                 "warm_s": per_warm.get(name, {}).get("seconds")} for name in sorted(per_cold)]
    load = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    print(f"\n{platform.machine()}, {os.cpu_count()} cores, {args.workers} workers, load average "
          f"{load} at the end\n")
    print("| chapter | cold (empty model cache) s | warm s |")
    print("|---|---|---|")
    for c in chapters:
        print(f"| {c['chapter']} | {c['cold_s']:.0f} | {c['warm_s']:.0f} |")
    verdict = ("goal met" if cold <= GOAL_S else "within the ceiling" if cold <= CEILING_S
               else "OVER THE CEILING")
    print(f"| **whole book, {args.workers} chapters at a time** | **{cold:.0f}** ({verdict}: goal "
          f"{GOAL_S}, ceiling {CEILING_S}) | **{warm:.0f}** |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"),
                                   "cpu_count": os.cpu_count(), "workers": args.workers,
                                   "cold_s": round(cold, 1), "warm_s": round(warm, 1),
                                   "chapters": chapters}, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
