"""Wall time of a sweep on the local process pool against Dask's local cluster, 2 workers.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--profile fast] [--workers 2]
[--families VAE GAN] [--datasets circle] [--seeds 0 1]``. Prints a markdown table and writes
``benchmarks/results/sweep.json``.

Both engines run the same grid (by default the book's grid, :func:`topolib.sweep.book_grid`,
at the given profile; ``fast`` by default, so that the benchmark takes minutes, not an hour;
``--families``, ``--datasets``, ``--seeds`` cut it down) from an empty model cache and an
empty results folder each, one torch thread per worker. The time
includes starting the workers (forked processes for the pool; spawned processes, which
import torch afresh, for Dask's local cluster). ``make sweep`` at ``cpu`` reports its own
wall time in ``results/sweep-cpu.json``.
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
RESULTS = ROOT / "benchmarks" / "results" / "sweep.json"


def main(argv: list[str] | None = None) -> int:
    from topolib.sweep import FAMILIES, book_grid, make_grid, run_sweep

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="fast")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engines", nargs="+", default=["local", "dask"])
    parser.add_argument("--families", nargs="+", default=None)
    parser.add_argument("--datasets", nargs="+", default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=None)
    args = parser.parse_args(argv)
    jobs = book_grid(args.profile)
    if args.families or args.datasets or args.seeds:
        jobs = make_grid(args.families or sorted({j.family for j in jobs}, key=FAMILIES.index),
                         args.datasets or sorted({j.dataset for j in jobs}),
                         args.seeds or sorted({j.seed for j in jobs}), profile=args.profile)
    grid = "the book's grid" if len(jobs) == len(book_grid(args.profile)) else "a cut of the book's grid"
    rows = []
    for engine in args.engines:
        load_start = round(os.getloadavg()[0], 2)
        with tempfile.TemporaryDirectory(prefix="topolib-bench-sweep-") as tmp:
            print(f"running {len(jobs)} jobs on {engine} ...", flush=True)
            start = time.perf_counter()
            result = run_sweep(jobs, Path(tmp) / "results", engine=engine,
                               workers=args.workers, cache_root=Path(tmp) / "models",
                               log=None)
            wall = time.perf_counter() - start
        table = result.table
        rows.append({"engine": engine, "workers": args.workers, "jobs": len(jobs),
                     "failed": int((table["status"] != "ok").sum()), "wall_s": round(wall, 1),
                     "job_s_total": round(float(table["wall_s"].sum()), 1),
                     "load_start": load_start, "load_end": round(os.getloadavg()[0], 2)})
    print(f"\n{platform.machine()}, {os.cpu_count()} cores, profile {args.profile}, "
          f"{len(jobs)} jobs ({grid}: {', '.join(sorted({j.family for j in jobs}))} on "
          f"{', '.join(sorted({j.dataset for j in jobs}))}, seeds "
          f"{sorted({j.seed for j in jobs})}), empty caches\n")
    print("| engine | workers | jobs | failed | wall time s | sum of job times s | "
          "load average at start / end |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['engine']} | {r['workers']} | {r['jobs']} | {r['failed']} | "
              f"{r['wall_s']:.0f} | {r['job_s_total']:.0f} | {r['load_start']} / "
              f"{r['load_end']} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"),
                                   "cpu_count": os.cpu_count(), "profile": args.profile,
                                   "runs": rows}, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
