"""Benchmark of the vectorised renderers against a per-image Python loop.

Run ``python benchmarks/bench_render.py``: prints a markdown table and writes
``benchmarks/results/render.json``. For every dataset it times ``render`` on 20,000 images at
32x32 (best of a few repeats, since a shared machine adds noise) and a loop calling ``render``
on one image at a time for 500 images.

Timings on a shared machine are noisy: with two torch threads on two cores, another busy
process stalls every parallel region. The JSON records the load average: rerun on an idle
machine. By default every dataset is timed with torch's thread count and again with one
thread; the single-thread rows are the ones a busy neighbour disturbs least.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from topolib.datasets import DATASET_NAMES, get_dataset

RESULTS = Path(__file__).resolve().parent / "results" / "render.json"


def best_time(fn, repeats: int) -> float:
    """Smallest wall time of ``repeats`` calls of ``fn`` (seconds)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench(name: str, n: int, n_loop: int, size: int, repeats: int) -> dict:
    manifold = get_dataset(name)
    params = manifold.sample_params(n, seed=0)
    manifold.render(params[:256], size)  # warm-up: caches of pixel fields, thread pool

    vectorised = best_time(lambda: manifold.render(params, size), repeats)

    def loop() -> None:
        for row in params[:n_loop]:
            manifold.render(row[None], size)

    looped = best_time(loop, max(1, repeats // 2))
    rate = n / vectorised
    loop_rate = n_loop / looped
    return {
        "dataset": name,
        "threads": torch.get_num_threads(),
        "images_per_s": rate,
        "loop_images_per_s": loop_rate,
        "speedup": rate / loop_rate,
        "n": n,
        "n_loop": n_loop,
        "size": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="images for the vectorised run")
    parser.add_argument("--n-loop", type=int, default=500, help="images for the Python loop")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[torch.get_num_threads(), 1],
        help="torch thread counts to run with (default: torch's default, then 1)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    default_threads = torch.get_num_threads()
    rows = []
    for threads in dict.fromkeys(args.threads):  # unique, in order
        torch.set_num_threads(threads)
        for name in DATASET_NAMES:
            rows.append(bench(name, args.n, args.n_loop, args.size, args.repeats))
    torch.set_num_threads(default_threads)

    print("| dataset | threads | render (images/s) | per-image loop (images/s) | speed-up |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['dataset']} | {row['threads']} | {row['images_per_s']:,.0f} | "
            f"{row['loop_images_per_s']:,.0f} | {row['speedup']:.0f}x |"
        )
    report = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        },
        "targets": {"images_per_s": 50_000, "speedup": 20},
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
