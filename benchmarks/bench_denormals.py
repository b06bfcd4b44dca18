"""Why :func:`topolib.training.train` flushes subnormal floats: epoch times with and without.

Run: ``.venv/bin/python benchmarks/bench_denormals.py`` (``--quick``: 6 epochs). Prints a
markdown table and writes ``benchmarks/results/denormals.json``.

The model is the matched-latent chapter's two-circle VAE at its cpu recipe (5000 images,
batch 64, 16 channels, component teacher weight 30, one torch thread). Its component head
saturates within a few epochs; the cross-entropy's gradients vanish and Adam's moment
estimates of those weights decay into subnormal numbers (below ~1.2e-38 in float32), which
x86 CPUs handle in microcode, many times slower. ``train`` switches on
``torch.set_flush_denormal`` while it runs; this script times the same run with the switch
disabled, epoch by epoch.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import time
from pathlib import Path

import torch

import topolib.training as training
from topolib.matched_study import fit_matched
from topolib.training import TrainConfig

RESULTS = Path(__file__).resolve().parent / "results" / "denormals.json"


def epoch_seconds(epochs: int, flush: bool) -> list[float]:
    """Seconds of each epoch of the two-circle matched VAE's training."""
    times: list[float] = []
    run_epoch = training._run_epoch

    def timed(*args, **kwargs):
        start = time.perf_counter()
        out = run_epoch(*args, **kwargs)
        times.append(time.perf_counter() - start)
        return out

    flushing = training._flush_denormals
    training._run_epoch = timed
    if not flush:
        training._flush_denormals = contextlib.nullcontext
    try:
        fit_matched("two_circles", "two_circles", 5000,
                    TrainConfig(epochs=epochs, batch_size=64, seed=0), seed=0, size=32,
                    channels=16, assign=30.0)  # no cache: always trains
    finally:
        training._run_epoch, training._flush_denormals = run_epoch, flushing
    return times


def main() -> None:
    torch.set_num_threads(1)  # as the book build trains: one thread per chapter
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=16, help="epochs per run (default 16)")
    parser.add_argument("--quick", action="store_true", help="6 epochs")
    epochs = 6 if (args := parser.parse_args()).quick else args.epochs
    rows = {flush: epoch_seconds(epochs, flush) for flush in (True, False)}
    print("| subnormals | first 4 epochs (s each) | last 4 epochs (s each) | total (s) |")
    print("|---|---|---|---|")
    for flush, times in rows.items():
        first, last = times[:4], times[-4:]
        print(f"| {'flushed (train)' if flush else 'kept'} | {sum(first) / len(first):.1f} | "
              f"{sum(last) / len(last):.1f} | {sum(times):.0f} |")
    RESULTS.write_text(json.dumps({
        "machine": f"{platform.machine()} {platform.processor()}".strip(),
        "torch": torch.__version__, "threads": 1, "epochs": epochs,
        "epoch_seconds": {"flushed": rows[True], "kept": rows[False]},
    }, indent=1) + "\n")


if __name__ == "__main__":
    main()
