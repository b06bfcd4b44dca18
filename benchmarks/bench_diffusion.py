"""Cost of the diffusion model on the CPU: training throughput and sampling cost per step count.

Run: ``.venv/bin/python benchmarks/bench_diffusion.py`` (``--quick`` for a smoke run). Prints
markdown tables and writes ``benchmarks/results/diffusion.json``.

Training rows time :func:`topolib.training.train` (one epoch of 2,048 circle images, batch 64,
after a warm-up) for the U-Net of the chapter (16x16, ``channels=16``: the cpu profile) and
at 32x32 for comparison; sampling rows time ``DDPM.sample`` of 500 images for each sampler and
number of steps. Everything runs on one torch thread (the chapters run side by side, one
thread each), best of a few repeats: the best run is the one least disturbed by other
processes. A sample costs one U-Net pass per step, so images/s falls as 1/steps; compare with
a VAE or GAN, whose decoder makes a sample in one pass (``bench_training.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from topolib.datasets import get_dataset
from topolib.models import DDPM
from topolib.seeding import numpy_rng
from topolib.training import TrainConfig, train

RESULTS = Path(__file__).resolve().parent / "results" / "diffusion.json"


def best_of(fn, repeats: int) -> float:  # noqa: ANN001 - a zero-argument callable
    """Shortest wall time of ``repeats`` calls of ``fn``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def time_training(size: int, channels: int, n: int, repeats: int) -> dict:
    images, _ = get_dataset("circle").sample(n, numpy_rng(0, "bench.diffusion"), size)
    config = TrainConfig(epochs=1, batch_size=64)
    train(DDPM(size=size, channels=channels), images[:128], config, progress=False)  # warm-up
    seconds = best_of(lambda: train(DDPM(size=size, channels=channels), images, config,
                                    progress=False), repeats)
    model = DDPM(size=size, channels=channels)
    return {"size": size, "channels": channels, "parameters": model.n_parameters(),
            "batch_size": 64, "images_per_s": round(n / seconds, 1),
            "ms_per_step": round(1000 * seconds / -(-n // 64), 1)}


def time_sampling(steps: list[int], n: int, repeats: int) -> list[dict]:
    model = DDPM(size=16, channels=16).eval()
    model.sample(8, 0, steps=2)  # warm-up
    rows = []
    for sampler in ("ddim", "ddpm"):
        for s in steps:
            seconds = best_of(lambda s=s, sampler=sampler: model.sample(n, 0, sampler=sampler,
                                                                        steps=s), repeats)
            rows.append({"sampler": sampler, "steps": s, "images_per_s": round(n / seconds, 1),
                         "ms_per_image": round(1000 * seconds / n, 2)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat")
    args = parser.parse_args()
    torch.set_num_threads(1)
    repeats = 1 if args.quick else 3
    n_train = 256 if args.quick else 2048
    training = [time_training(16, 16, n_train, repeats)]
    if not args.quick:
        training.append(time_training(32, 16, n_train // 2, repeats))
    steps = [5, 10] if args.quick else [5, 10, 25, 50, 100]
    sampling = time_sampling(steps, 100 if args.quick else 500, repeats)
    load = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, one torch "
          f"thread, load average {load} at the end\n")
    print("| image size | channels | parameters | images/s (training) | ms per batch-64 step |")
    print("|---|---|---|---|---|")
    for r in training:
        print(f"| {r['size']}x{r['size']} | {r['channels']} | {r['parameters']:,} | "
              f"{r['images_per_s']:.0f} | {r['ms_per_step']:.0f} |")
    print("\n| sampler | steps | images/s (sampling, 16x16) | ms per image |")
    print("|---|---|---|---|")
    for r in sampling:
        print(f"| {r['sampler']} | {r['steps']} | {r['images_per_s']:.0f} | "
              f"{r['ms_per_image']:.2f} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"),
                                   "cpu_count": os.cpu_count(), "load_average": load,
                                   "training": training, "sampling": sampling}, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
