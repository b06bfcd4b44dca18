"""Training throughput of the book's VAE and GAN on the CPU (32x32 images, 2 torch threads).

Run: ``.venv/bin/python benchmarks/bench_training.py`` (``--quick`` for a smoke run). Prints a
markdown table and writes ``benchmarks/results/training.json``.

Each row times :func:`topolib.training.train` itself (loop, shuffling, progress accounting
included) on circle images, after a warm-up epoch, and keeps the best of a few repeats: the
best run is the one least disturbed by other processes on a shared machine. ``channels=16``
with batch 64 is what the model chapters train in the cpu profile; 24 and 32 (the gpu
profile's width) are listed for budgeting. Rows are timed with 2
torch threads (the book's machine) and, for comparison, 1: on a machine shared with other
busy processes, two threads can be several times slower than one.
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
from topolib.models import GAN, VAE
from topolib.training import TrainConfig, train

RESULTS = Path(__file__).resolve().parent / "results" / "training.json"
EPOCH_IMAGES = 10_000
CPU_PROFILE_CHANNELS = 16  # what the model chapters use in the cpu profile


def time_training(cls: type, channels: int, images: torch.Tensor, batch_size: int,
                  repeats: int) -> dict:
    """Best-of-``repeats`` images per second of one epoch of ``train`` on ``images``."""
    model = cls(latent_dim=2, size=32, channels=channels)
    warm = TrainConfig(epochs=1, batch_size=batch_size)
    train(model, images[: 2 * batch_size], warm, progress=False)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        train(cls(latent_dim=2, size=32, channels=channels), images, warm, progress=False)
        best = min(best, time.perf_counter() - start)
    rate = images.shape[0] / best
    return {
        "model": cls.__name__,
        "channels": channels,
        "cpu_profile_size": channels == CPU_PROFILE_CHANNELS,
        "parameters": model.n_parameters(),
        "batch_size": batch_size,
        "images_per_s": round(rate, 1),
        "s_per_epoch_10k": round(EPOCH_IMAGES / rate, 1),
    }


def time_inversion(channels: int, n: int, steps: int, restarts: int) -> dict:
    """Seconds to project ``n`` images into a GAN's latent space by latent optimisation."""
    model = GAN(latent_dim=2, size=32, channels=channels)
    x = model.sample(n, generator=0)
    start = time.perf_counter()
    model.invert(x, steps=steps, generator=1, restarts=restarts)
    return {"model": "GAN.invert", "channels": channels, "images": n, "steps": steps,
            "restarts": restarts, "seconds": round(time.perf_counter() - start, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run to check the script")
    parser.add_argument("--threads", default="2,1", help="torch thread counts, e.g. '2,1'")
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    n, repeats, widths = (256, 1, (8,)) if args.quick else (1280, 3, (16, 24, 32))
    images = torch.from_numpy(get_dataset("circle").sample(n, seed=0, size=32)[0])
    load_before = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None

    rows = []
    for t in threads:
        torch.set_num_threads(t)
        for cls in (VAE, GAN):
            rows += [{"threads": t, **time_training(cls, c, images, 64, repeats)} for c in widths]
    torch.set_num_threads(threads[0])
    inversion = time_inversion(widths[-1], 16 if args.quick else 64, 200, 4)
    load = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None

    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, load average {load_before} before, {load} after\n")
    print("| model | channels | parameters | threads | images/s | s per epoch (10k images) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        mark = " (cpu profile)" if r["cpu_profile_size"] else ""
        print(f"| {r['model']} | {r['channels']}{mark} | {r['parameters']:,} | {r['threads']} | "
              f"{r['images_per_s']:.0f} | {r['s_per_epoch_10k']:.1f} |")
    print(f"\nGAN inversion of {inversion['images']} images ({inversion['steps']} steps x "
          f"{inversion['restarts']} restarts, channels {inversion['channels']}, "
          f"{threads[0]} threads): "
          f"{inversion['seconds']:.1f} s")

    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "benchmark": "training throughput, 32x32 circle images, batch 64, latent_dim 2",
            "torch": torch.__version__,
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "load_average_1min_before_after": [load_before, load],
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "training": rows,
            "inversion": inversion,
        }
        RESULTS.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
