"""Projection onto the known manifold: speed, accuracy, the off-manifold calibration, and the
report card's total time.

Run: ``.venv/bin/python benchmarks/bench_projection.py`` (``--quick`` for a smoke run with
200 images). Prints markdown tables and writes ``benchmarks/results/projection.json``.

* ``project`` on 2,000 uniform 32x32 renders per dataset (target: <= 5 s): the bank is
  built once (its time is reported apart), then bank-only (``refine_steps=0``) and refined
  projections are timed, best of three (the run least disturbed by other processes).
  Accuracy is the intrinsic distance between recovered and true parameters.
* Off-manifold calibration: median residual of exact renders, of renders plus Gaussian noise,
  and of each kind of ``failures.off_manifold_images``, with the share flagged at the default
  ``OFF_MANIFOLD_THRESHOLD``.
* ``report_card`` at the cpu profile (2,000 images, 250 landmarks) for intact and broken sets,
  with a cold reference (its persistent homology computed inside the call).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from topolib.datasets import failures
from topolib.datasets.registry import DATASET_NAMES, get_dataset
from topolib.metrics import report as report_module
from topolib.metrics.projection import OFF_MANIFOLD_THRESHOLD, project, render_bank
from topolib.metrics.report import report_card
from topolib.profiles import get_profile

RESULTS = Path(__file__).resolve().parent / "results" / "projection.json"
TARGET_SECONDS = 5.0


def best_time(repeats: int, fn, *args, **kwargs):
    """Smallest wall time of ``fn(*args, **kwargs)`` over ``repeats`` runs, and its result."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return min(times), out


def bench_speed(n: int, repeats: int) -> list[dict]:
    rows = []
    for name in DATASET_NAMES:
        ds = get_dataset(name)
        images, params = ds.sample(n, seed=0, size=32)
        start = time.perf_counter()
        bank_params, _, _ = render_bank(ds, 32)
        bank_seconds = time.perf_counter() - start
        t_bank, bank = best_time(repeats, project, images, ds, refine_steps=0)
        t_ref, refined = best_time(repeats, project, images, ds)
        err_bank = ds.distance(bank.params, params)
        err_ref = ds.distance(refined.params, params)
        rows.append(
            {
                "dataset": name,
                "n": n,
                "bank_size": len(bank_params),
                "bank_build_s": round(bank_seconds, 2),
                "bank_only_s": round(t_bank, 2),
                "refined_s": round(t_ref, 2),
                "bank_err_median": float(np.median(err_bank)),
                "bank_err_max": float(err_bank.max()),
                "refined_err_median": float(np.median(err_ref)),
                "refined_err_max": float(err_ref.max()),
                "refined_residual_max": float(refined.distance.max()),
                "meets_target": bool(t_ref <= TARGET_SECONDS),
            }
        )
    return rows


def bench_calibration(n: int) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for name in DATASET_NAMES:
        ds = get_dataset(name)
        images, params = ds.sample(n, seed=1, size=32)
        cases = {"exact": images}
        for s in (0.02, 0.04):
            cases[f"noise {s}"] = images + rng.normal(0, s, images.shape).astype(np.float32)
        for kind in failures.OFF_MANIFOLD_KINDS:
            cases[kind] = failures.off_manifold_images(ds, params, kind, seed=0)
        row = {"dataset": name}
        for case, x in cases.items():
            d = project(x, ds).distance
            row[case] = {
                "median": float(np.median(d)),
                "flagged": float(np.mean(d > OFF_MANIFOLD_THRESHOLD)),
            }
        rows.append(row)
    return rows


def bench_report(n: int, n_landmarks: int) -> list[dict]:
    intact = ("circle", "torus", "two_circles", "sphere")
    sets = {f"{name} intact": (failures.intact, (name, n)) for name in intact}
    sets.update({name: (make, (n,)) for name, make in failures.BROKEN_SETS.items()})
    rows = []
    for label, (make, args) in sets.items():
        sample = make(*args, seed=0)
        report_module._REFERENCE_CACHE.clear()  # cold: the reference is part of the cost
        start = time.perf_counter()
        card = report_card(sample.images, sample.dataset, n_landmarks=n_landmarks)
        seconds = time.perf_counter() - start
        rows.append(
            {
                "set": label,
                "seconds": round(seconds, 1),
                "stages": {k: round(v, 2) for k, v in card.seconds.items()},
                "passed": card.passed,
                "failed": list(card.failed_checks),
                "built_to_fail": list(sample.breaks),
                "values": {
                    row.check: (list(row.value) if isinstance(row.value, tuple) else row.value)
                    for row in card.table.itertuples()
                },
            }
        )
    return rows


def fmt(x: float) -> str:
    return f"{x:.1e}" if x < 1e-2 else f"{x:.3f}"


def markdown(speed: list[dict], calib: list[dict], cards: list[dict]) -> str:
    lines = [
        f"Projection of {speed[0]['n']} 32x32 renders (best of repeats; target <= "
        f"{TARGET_SECONDS:g} s; errors are intrinsic distances to the true parameters).",
        "",
        "| dataset | bank | bank build s | bank-only s | refined s | bank err median / max "
        "| refined err median / max | residual max |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in speed:
        lines.append(
            f"| {r['dataset']} | {r['bank_size']} | {r['bank_build_s']} | {r['bank_only_s']} | "
            f"{r['refined_s']} | {fmt(r['bank_err_median'])} / {fmt(r['bank_err_max'])} | "
            f"{fmt(r['refined_err_median'])} / {fmt(r['refined_err_max'])} | "
            f"{fmt(r['refined_residual_max'])} |"
        )
    cases = [k for k in calib[0] if k != "dataset"]
    lines += [
        "",
        f"Off-manifold calibration: median residual (share flagged at {OFF_MANIFOLD_THRESHOLD:g}).",
        "",
        "| dataset | " + " | ".join(cases) + " |",
        "|---|" + "---|" * len(cases),
    ]
    for r in calib:
        cells = [f"{fmt(r[c]['median'])} ({r[c]['flagged']:.0%})" for c in cases]
        lines.append(f"| {r['dataset']} | " + " | ".join(cells) + " |")
    if cards:
        lines += [
            "",
            "Report card at the cpu profile (cold reference), failed checks vs the checks the "
            "set is built to fail.",
            "",
            "| set | seconds | passed | failed checks | built to fail |",
            "|---|---|---|---|---|",
        ]
        for r in cards:
            lines.append(
                f"| {r['set']} | {r['seconds']} | {r['passed']} | "
                f"{', '.join(r['failed']) or '-'} | {', '.join(r['built_to_fail']) or '-'} |"
            )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 images, no report cards")
    args = parser.parse_args(argv)
    profile = get_profile("cpu")
    n = 200 if args.quick else profile.n_samples
    speed = bench_speed(n, repeats=1 if args.quick else 3)
    calib = bench_calibration(100 if args.quick else 300)
    cards = [] if args.quick else bench_report(profile.n_samples, profile.n_landmarks)
    record = {
        "machine": {
            "platform": platform.platform(),
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average": os.getloadavg(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "off_manifold_threshold": OFF_MANIFOLD_THRESHOLD,
        "projection": speed,
        "calibration": calib,
        "report_card": cards,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2, default=str) + "\n")
    print(markdown(speed, calib, cards))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
