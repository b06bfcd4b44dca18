"""Sweeps: every model family on every dataset over several seeds, as one tidy table.

>>> jobs = book_grid("cpu")                       # the book's sweep (``make sweep``)
>>> result = run_sweep(jobs, "results/sweep-cpu")   # a local process pool, one thread each
>>> result.table                                  # one row per job: metrics, intervals, checks
>>> write_results(result, "results/sweep-cpu.csv")  # the CSV, its provenance in a .json beside
>>> seed_summary(result.table, "off_manifold")     # mean and interval over seeds

Each job is *train, then evaluate*, through the model cache and with exactly the recipes of
the model chapters (:func:`recipe`), so seed 0 of the sweep is the model the chapters show and
both share one cached entry. A finished job is stored in the results folder as one JSON file
named by its configuration's key, so an interrupted sweep restarted skips what it finished; a
job that fails is recorded with its error and the sweep goes on.

Jobs run in a local process pool (``engine="local"``, one torch thread per worker) or on Dask
(``engine="dask"``, ``pip install "topolib[cluster]"``): at a scheduler's address, or on a
local cluster started for the sweep.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from topolib.cache import ModelCache, config_key
from topolib.chart_experiments import MIN_CHARTS
from topolib.datasets.registry import get_dataset
from topolib.metrics.intervals import Interval, across_seeds
from topolib.profiles import PROFILE_NAMES, Profile, get_profile, smoke_mode
from topolib.seeding import check_seed

__all__ = [
    "DATASETS",
    "ENGINES",
    "FAMILIES",
    "Job",
    "SweepResult",
    "book_grid",
    "claim_status",
    "default_dim",
    "load_results",
    "make_grid",
    "recipe",
    "run_job",
    "run_sweep",
    "seed_summary",
    "stored_jobs",
    "write_results",
]

#: The model families, in the order of the book's chapters.
FAMILIES: tuple[str, ...] = ("VAE", "GAN", "CAE", "DDPM")
#: Datasets every family has a recipe for (the chapters' image datasets).
DATASETS: tuple[str, ...] = ("disk", "circle", "sphere", "torus", "two_circles", "klein",
                             "projective")
#: Where the jobs run.
ENGINES: tuple[str, ...] = ("local", "dask")
#: Charts offered to the chart autoencoder (the CAE chapter's over-specified numbers).
CAE_CHARTS: dict[str, int] = {"disk": 4, "circle": 4, "sphere": 8, "torus": 8, "two_circles": 8,
                              "klein": 8, "projective": 8}
#: Report-card checks, in the card's order.
CHECKS: tuple[str, ...] = ("betti_z2", "betti_z3", "diagram_distance", "off_manifold",
                           "coverage", "holes", "density", "interpolation")
#: The checks that grade generation (all but interpolation).
GENERATION_CHECKS: tuple[str, ...] = CHECKS[:-1]
#: Stored results written by an older layout are rerun.
FORMAT = 1


# ------------------------------------------------------------------------------ the grid


@dataclass(frozen=True)
class Job:
    """One cell of a sweep: a family trained on a dataset at one seed and profile.

    Attributes
    ----------
    family : one of :data:`FAMILIES`.
    dataset : one of :data:`DATASETS`.
    dim : latent dimension (VAE, GAN), number of charts (CAE), None (DDPM: its latent is the
        image).
    seed : seed of the training set, the initial weights, the training noise and the
        evaluation (seed 0 is the chapters' model).
    profile : compute profile name, which sizes everything (:func:`recipe`).
    smoke : a smoke run (:func:`~topolib.profiles.smoke_mode`, the default read from the
        environment): its key differs, so its record is never taken for a real one.
    """

    family: str
    dataset: str
    dim: int | None
    seed: int
    profile: str
    smoke: bool = field(default_factory=smoke_mode)

    def config(self) -> dict[str, Any]:
        """The job's description (what keys its stored result; ``smoke`` only when set, so
        real jobs keep the keys they had before the field existed)."""
        config = {"format": FORMAT, **asdict(self)}
        if not self.smoke:
            del config["smoke"]
        return config

    @property
    def key(self) -> str:
        """16-hex-digit key of :meth:`config`."""
        return config_key(self.config())

    @property
    def label(self) -> str:
        """Short readable name, e.g. ``'VAE circle d=1 seed=0'``."""
        dim = {"CAE": f"charts={self.dim}", "DDPM": "image latent"}.get(self.family,
                                                                        f"d={self.dim}")
        return f"{self.family} {self.dataset} {dim} seed={self.seed}" + (" (smoke)" if self.smoke
                                                                          else "")

    @property
    def filename(self) -> str:
        """Name of the job's stored result in a results folder."""
        dim = "-" if self.dim is None else self.dim
        return f"{self.family}_{self.dataset}_{dim}_s{self.seed}-{self.key}.json"


def default_dim(family: str, dataset: str) -> int | None:
    """The chapters' choice: the intrinsic dimension (VAE, GAN), the over-specified number of
    charts (CAE), None (DDPM)."""
    family, dataset = _check_family(family), _check_dataset(dataset)
    if family == "DDPM":
        return None
    if family == "CAE":
        return CAE_CHARTS[dataset]
    return get_dataset(dataset).intrinsic_dim


def _check_choice(value: object, options: tuple[str, ...], what: str) -> str:
    if value not in options:
        raise ValueError(f"{what} must be one of {', '.join(options)}; got {value!r}")
    return str(value)


def _check_family(family: object) -> str:
    return _check_choice(family, FAMILIES, "family")


def _check_dataset(dataset: object) -> str:
    return _check_choice(dataset, DATASETS, "dataset")


def _check_names(values: object, what: str, check: Callable[[object], str]) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise TypeError(f"{what} must be a list of names, e.g. ['circle']; got {values!r}")
    out = [check(v) for v in values]
    if not out:
        raise ValueError(f"{what} is empty; give at least one")
    if len(set(out)) != len(out):
        raise ValueError(f"{what} has duplicates: {out}")
    return out


def make_grid(
    families: Sequence[str],
    datasets: Sequence[str],
    seeds: Sequence[int],
    *,
    dims: Mapping[str, Sequence[int]] | None = None,
    profile: str | Profile | None = None,
) -> list[Job]:
    """Every combination of family, dataset, dimension and seed, checked.

    Parameters
    ----------
    families : names from :data:`FAMILIES`.
    datasets : names from :data:`DATASETS`.
    seeds : distinct non-negative integers.
    dims : ``{family: [dim, ...]}``, latent dimensions (VAE, GAN) or chart counts (CAE);
        a family left out gets :func:`default_dim` on each dataset. DDPM takes none.
    profile : compute profile (default: the active one).

    Returns
    -------
    list of :class:`Job`, family-major, then dataset, dimension, seed.

    Raises
    ------
    ValueError, TypeError
        On an unknown family or dataset, a bad or repeated seed, a bad dimension.
    """
    families = _check_names(families, "families", _check_family)
    datasets = _check_names(datasets, "datasets", _check_dataset)
    if isinstance(seeds, (str, int)) or not isinstance(seeds, Iterable):
        raise TypeError(f"seeds must be a list of non-negative integers; got {seeds!r}")
    seeds = [check_seed(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty; give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds has duplicates: {seeds}")
    dims = dict(dims or {})
    for family, values in dims.items():
        _check_family(family)
        if family == "DDPM":
            raise ValueError("dims['DDPM']: a DDPM's latent is the image; it has no dimension "
                             "to choose")
        if isinstance(values, (str, int)) or not isinstance(values, Iterable) or not values:
            raise TypeError(f"dims[{family!r}] must be a non-empty list of positive integers; "
                            f"got {values!r}")
        for d in values:
            if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
                raise ValueError(f"dims[{family!r}] must hold positive integers; got {d!r}")
    name = get_profile(profile).name
    jobs = []
    for family in families:
        for dataset in datasets:
            for dim in dims.get(family, [default_dim(family, dataset)]):
                for seed in seeds:
                    jobs.append(Job(family, dataset, None if dim is None else int(dim), seed,
                                    name))
    return jobs


def book_grid(profile: str | Profile | None = None) -> list[Job]:
    """The book's sweep: the four families on the circle, the sphere and the torus, at the
    chapters' dimensions, three seeds (five at ``gpu``, where two circles join)."""
    p = get_profile(profile)
    datasets = ["circle", "sphere", "torus"] + (["two_circles"] if p.name == "gpu" else [])
    return make_grid(FAMILIES, datasets, p.choose(fast=[0, 1, 2], cpu=[0, 1, 2],
                                                  gpu=[0, 1, 2, 3, 4]), profile=p)


# ------------------------------------------------------------------------------ recipes


def recipe(family: str, dataset: str, profile: str | Profile | None = None) -> dict[str, Any]:
    """The sizes a model chapter uses for ``family`` on ``dataset`` at ``profile``.

    These are the chapters' own numbers (03 VAEs, 04 GANs, 05 chart autoencoders, 06
    diffusion), so that a sweep job at seed 0 loads the chapters' cached model.

    Returns
    -------
    dict with ``n_train``, ``size`` (image side), ``model`` (keyword arguments of the model
    besides its dimension and seed), ``train`` (of :class:`~topolib.training.TrainConfig`
    besides its seed) and ``evaluate`` (of :func:`~topolib.experiments.evaluate` besides its
    seed).
    """
    family, dataset = _check_family(family), _check_dataset(dataset)
    P = get_profile(profile)
    n_train = P.choose(fast=256, cpu=5000, gpu=20000)
    channels = P.choose(fast=8, cpu=16, gpu=32)
    if family == "VAE":
        return {"n_train": n_train, "size": P.image_size, "model": {"channels": channels},
                "train": {"epochs": P.choose(fast=2, cpu=16, gpu=40), "batch_size": 64},
                "evaluate": {"n_samples": P.n_samples,
                             "n_pairs": P.choose(fast=8, cpu=64, gpu=128)}}
    if family == "GAN":
        epochs = {"two_circles": P.choose(fast=2, cpu=16, gpu=50),
                  "torus": P.choose(fast=2, cpu=20, gpu=60),
                  "klein": P.choose(fast=2, cpu=20, gpu=60),
                  "projective": P.choose(fast=2, cpu=14, gpu=40)}.get(
                      dataset, P.choose(fast=2, cpu=14, gpu=40))
        return {"n_train": n_train, "size": P.image_size, "model": {"channels": channels},
                "train": {"epochs": epochs, "batch_size": 32},
                "evaluate": {"n_samples": P.n_samples,
                             "n_pairs": P.choose(fast=8, cpu=64, gpu=128),
                             "invert_steps": P.choose(fast=20, cpu=60, gpu=300)}}
    if family == "CAE":
        base = P.choose(fast=4, cpu=8, gpu=32)
        wide = dataset in ("circle", "two_circles")  # thin clock hands: wider decoders
        return {"n_train": P.choose(fast=256, cpu=3000, gpu=20000), "size": P.image_size,
                "model": {"chart_dim": get_dataset(dataset).intrinsic_dim,
                          "channels": 2 * base if wide else base,
                          "warmup_steps": P.choose(fast=4, cpu=100, gpu=400)},
                "train": {"epochs": P.choose(fast=2, cpu=12, gpu=40), "batch_size": 64,
                          "lr": 3e-3},
                "evaluate": {"n_samples": P.n_samples,
                             "n_pairs": P.choose(fast=4, cpu=64, gpu=128)}}
    steps = P.choose(fast=5, cpu=25, gpu=50)
    return {"n_train": n_train, "size": P.choose(fast=16, cpu=16, gpu=P.image_size),
            "model": {"channels": channels},
            "train": {"epochs": P.choose(fast=2, cpu=12, gpu=40), "batch_size": 64, "lr": 2e-3},
            "sampling": {"sampler": "ddpm", "steps": steps},
            "evaluate": {"n_samples": P.choose(fast=200, cpu=1000, gpu=4000),
                         "n_pairs": P.choose(fast=4, cpu=64, gpu=64), "invert_steps": steps}}


# ------------------------------------------------------------------------------ one job


def _train_and_evaluate(job: Job, cache: ModelCache | None) -> tuple[Any, Any, dict[str, Any]]:
    """Fit the job's model (or load it) and evaluate it: ``(TrainResult, Evaluation, extra)``."""
    from topolib.diffusion_study import evaluate_cached
    from topolib.experiments import evaluate, fit, training_set
    from topolib.models import DDPM, GAN, VAE, ChartAutoencoder
    from topolib.training import TrainConfig

    r = recipe(job.family, job.dataset, job.profile)
    config = TrainConfig(**r["train"], seed=job.seed)
    size, seed, extra = r["size"], job.seed, {}
    if job.family == "VAE":
        model = VAE(latent_dim=job.dim, size=size, **r["model"], seed=seed)
    elif job.family == "GAN":
        model = GAN(latent_dim=job.dim, size=size, **r["model"], seed=seed)
    elif job.family == "CAE":
        model = ChartAutoencoder(n_charts=job.dim, size=size, **r["model"], seed=seed)
    else:
        model = DDPM(size=size, **r["model"], seed=seed)
    result = fit(model, job.dataset, r["n_train"], config, seed=seed, cache=cache,
                 progress=False)
    if job.family == "CAE":  # the sampler's densities, refitted on the training set
        images, _, _ = training_set(job.dataset, r["n_train"], size, seed)
        model.refit_density(torch.from_numpy(images))
        extra["surviving_charts"] = len(model.surviving_charts())
        extra["minimum_charts"] = MIN_CHARTS[job.dataset]
    if job.family == "DDPM":
        model.sampler, model.sample_steps = r["sampling"]["sampler"], r["sampling"]["steps"]
        ev = evaluate_cached(result, job.dataset, cache=cache, **r["evaluate"], seed=seed)
    else:
        ev = evaluate(model, job.dataset, **r["evaluate"], seed=seed)
    return result, ev, extra


def _cell(value: Any) -> Any:
    """A report-card value as a CSV cell: numbers stay numbers, tuples become text."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return str(tuple(value)) if isinstance(value, (tuple, list)) else str(value)


def _metrics(ev: Any, seed: int) -> dict[str, Any]:
    """Every report-card check (value, expected, passed), and Wilson bounds of the shares."""
    from topolib.diffusion_study import sample_metrics

    out: dict[str, Any] = {}
    for check in CHECKS:
        row = ev.card.check(check)
        out[check] = _cell(row["value"])
        if check.startswith("betti"):
            out[f"{check}_expected"] = _cell(row["expected"])
        out[f"{check}_passed"] = bool(row["passed"])
    intervals = ev.intervals()
    for name, column in (("off-manifold samples", "off_manifold"),
                         ("valid paths", "interpolation"),
                         ("off-manifold reconstructions", "off_manifold_reconstructions")):
        iv = intervals[name]
        out[column] = float(iv.value)
        out[f"{column}_low"], out[f"{column}_high"] = float(iv.low), float(iv.high)
    near = sample_metrics(ev.samples, ev.dataset, seed=seed, card=ev.card)
    out["betti_z2_near"] = _cell(near["Betti near the manifold"])
    out["median_distance"] = near["median distance"]
    out["distance_q90"] = near["90% distance"]
    out["passed"] = bool(ev.card.passed)
    out["failed_checks"] = ", ".join(ev.card.failed_checks) or "none"
    out["failed_generation_checks"] = sum(not out[f"{c}_passed"] for c in GENERATION_CHECKS)
    return out


def provenance(device: str | torch.device = "cpu") -> dict[str, Any]:
    """Where and with what a result was computed: versions, source hash, device, machine."""
    from topolib import __version__
    from topolib.provenance import source_hash

    return {"topolib_version": __version__, "source_hash": source_hash(),
            "torch_version": torch.__version__, "python": platform.python_version(),
            "device": torch.device(device).type, "machine": platform.machine(),
            "cpus": os.cpu_count()}


def run_job(job: Job, cache_root: str | None = None, threads: int = 1) -> dict[str, Any]:
    """Train and evaluate one job; never raises.

    Parameters
    ----------
    job : the :class:`Job`.
    cache_root : model cache folder (None: :class:`~topolib.ModelCache`'s default).
    threads : torch threads of this process (one per worker: small models train fastest).

    Returns
    -------
    ``{"job": job.config(), "row": {...}, "provenance": {...}}``; the row holds the job, its
    ``status`` (``"ok"`` or ``"failed"``), ``error`` (the exception and the last lines of its
    traceback, empty when ok), ``wall_s``, ``train_s``, ``from_cache`` and every metric.
    """
    torch.set_num_threads(threads)
    start, prov = time.perf_counter(), provenance()  # the code as loaded, before any work
    prov.update(started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), threads=threads)
    row: dict[str, Any] = {"family": job.family, "dataset": job.dataset, "dim": job.dim,
                           "seed": job.seed, "profile": job.profile, "status": "ok",
                           "error": ""}
    try:
        cache = ModelCache(cache_root)
        result, ev, extra = _train_and_evaluate(job, cache)
        row.update(train_s=float(result.train_seconds), from_cache=bool(result.from_cache),
                   **extra, **_metrics(ev, job.seed))
        prov["device"] = torch.device(result.model.device).type  # where it was evaluated
    except Exception as err:  # noqa: BLE001 - a failing job is recorded, the sweep goes on
        tail = "".join(traceback.format_exception(err)[-3:]).strip()
        row.update(status="failed", error=f"{type(err).__name__}: {err}\n{tail}")
    row["wall_s"] = time.perf_counter() - start
    prov["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"job": job.config(), "row": row, "provenance": prov}


# ------------------------------------------------------------------------------ the sweep


@dataclass(frozen=True)
class SweepResult:
    """What :func:`run_sweep` returns.

    Attributes
    ----------
    table : one row per job, in grid order (:func:`run_job`'s rows, plus ``resumed``: True
        when the row was read from the results folder instead of computed by this call).
    provenance : versions, source hashes, profile, device, seeds, engine, wall time.
    ran : labels of the jobs this call computed.
    """

    table: pd.DataFrame
    provenance: dict[str, Any]
    ran: list[str] = field(default_factory=list)


def _load_stored(path: Path, job: Job) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("job") == job.config() else None


def _store(folder: Path, job: Job, record: dict[str, Any]) -> None:
    target = folder / job.filename
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=_cell))
    os.replace(tmp, target)


def _failed_record(job: Job, err: BaseException) -> dict[str, Any]:
    """The record of a job whose worker died or could not run it."""
    row = {"family": job.family, "dataset": job.dataset, "dim": job.dim, "seed": job.seed,
           "profile": job.profile, "status": "failed",
           "error": f"{type(err).__name__}: {err}", "wall_s": float("nan")}
    return {"job": job.config(), "row": row, "provenance": provenance()}


def _start_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def _local_futures(jobs: list[Job], workers: int, cache_root: str | None
                   ) -> tuple[Any, dict[Future, Job]]:
    # Forked workers inherit the caller's modules (cheap to start); CUDA does not survive a
    # fork, so with a GPU the workers are spawned.
    fork = sys.platform.startswith("linux") and not torch.cuda.is_available()
    method = "fork" if fork else "spawn"
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method),
                               initializer=_start_worker, initargs=(1,))
    return pool, {pool.submit(run_job, job, cache_root): job for job in jobs}


def _dask_client(scheduler: str | None, workers: int) -> Any:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as err:
        raise ImportError('engine="dask" needs Dask distributed: pip install '
                          '"topolib[cluster]"') from err
    if scheduler is not None:
        return Client(scheduler)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    return Client(cluster)


def run_sweep(
    jobs: Sequence[Job],
    results: str | os.PathLike[str],
    *,
    engine: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    cache_root: str | os.PathLike[str] | None = None,
    retry_failed: bool = True,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    log: Callable[[str], None] | None = print,
) -> SweepResult:
    """Run every job not already stored in ``results``; return the whole table.

    Parameters
    ----------
    jobs : the grid (:func:`make_grid`, :func:`book_grid`); all at one profile.
    results : folder of the stored jobs (created if needed): one JSON per job, named by its
        key (:attr:`Job.filename`). Jobs found there are not rerun.
    engine : ``"local"`` (a process pool on this machine) or ``"dask"``.
    workers : worker processes (default: one per CPU core, at most one per job to run).
    scheduler : with ``engine="dask"``, the address of a running scheduler (e.g.
        ``"tcp://10.0.0.5:8786"``); None starts a local cluster of ``workers`` processes.
    cache_root : model cache folder (default: ``TOPOLIB_CACHE`` or ``~/.cache/topolib``).
        With a remote scheduler it is a path on the workers.
    retry_failed : rerun jobs stored as failed (True), or keep their record (False).
    on_result : called in this process with each record as it is stored.
    log : where progress lines go (None: silent).

    Returns
    -------
    SweepResult
    """
    jobs = list(jobs)
    if not jobs or not all(isinstance(j, Job) for j in jobs):
        raise ValueError("jobs must be a non-empty list of Job (see make_grid)")
    if len({j.key for j in jobs}) != len(jobs):
        raise ValueError("jobs has duplicates")
    profiles = {j.profile for j in jobs}
    if len(profiles) != 1 or not profiles <= set(PROFILE_NAMES):
        raise ValueError(f"jobs must share one profile of {PROFILE_NAMES}; got {profiles}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    if scheduler is not None and engine != "dask":
        raise ValueError('scheduler is an address for engine="dask"')
    folder = Path(results)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"results must be a folder; {str(folder)!r} is a file")
    folder.mkdir(parents=True, exist_ok=True)
    cache = None if cache_root is None else str(ModelCache(cache_root).root)
    say = log or (lambda _: None)
    provenance()  # hash the sources once here: forked workers inherit it

    records: dict[str, dict[str, Any]] = {}
    for job in jobs:
        stored = _load_stored(folder / job.filename, job)
        if stored is not None and (stored["row"]["status"] == "ok" or not retry_failed):
            records[job.key] = stored
    # seeds outermost, so that an interrupted sweep leaves whole seeds behind it
    todo = sorted((j for j in jobs if j.key not in records), key=lambda j: j.seed)
    workers = min(len(todo), os.cpu_count() or 1) if workers is None else workers
    if isinstance(workers, bool) or not isinstance(workers, int) or (todo and workers < 1):
        raise ValueError(f"workers must be a positive integer; got {workers!r}")
    say(f"sweep: {len(jobs)} jobs, {len(records)} stored, {len(todo)} to run on {engine} "
        f"({workers} workers)")
    start = time.perf_counter()
    ran: list[str] = []

    def finish(job: Job, record: dict[str, Any]) -> None:
        _store(folder, job, record)
        records[job.key] = record
        ran.append(job.label)
        row = record["row"]
        say(f"[{len(ran)}/{len(todo)} {time.perf_counter() - start:.0f}s] {job.label}: "
            f"{row['status']} in {row['wall_s']:.0f}s"
            + (f" ({row['error'].splitlines()[0]})" if row["error"] else ""))
        if on_result is not None:
            on_result(record)

    if todo and engine == "local":
        pool, futures = _local_futures(todo, workers, cache)
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    try:
                        record = fut.result()
                    except Exception as err:  # noqa: BLE001 - a dead worker fails one job
                        record = _failed_record(futures[fut], err)
                    finish(futures[fut], record)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    elif todo:
        from dask.distributed import as_completed

        client = _dask_client(scheduler, workers)
        try:
            futures = {client.submit(run_job, job, cache, pure=False, key=f"job-{job.key}"): job
                       for job in todo}
            for fut in as_completed(list(futures)):
                try:
                    record = fut.result()
                except Exception as err:  # noqa: BLE001
                    record = _failed_record(futures[fut], err)
                finish(futures[fut], record)
        finally:
            cluster = client.cluster
            client.close()
            if scheduler is None and cluster is not None:
                cluster.close()

    ordered = [records[j.key] for j in jobs]
    table = pd.DataFrame([{**r["row"], "resumed": job.label not in ran}
                          for job, r in zip(jobs, ordered, strict=True)])
    hashes = sorted({r["provenance"].get("source_hash", "") for r in ordered})
    prov = {**provenance(), "source_hashes": hashes, "profile": jobs[0].profile,
            "seeds": sorted({j.seed for j in jobs}), "families": sorted({j.family for j in jobs}),
            "datasets": sorted({j.dataset for j in jobs}), "jobs": len(jobs),
            "failed": int((table["status"] != "ok").sum()), "engine": engine,
            "workers": workers, "wall_s_this_run": time.perf_counter() - start,
            "job_wall_s_total": float(np.nansum(table["wall_s"])),
            "devices": sorted({r["provenance"].get("device", "?") for r in ordered}),
            "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    return SweepResult(table=table, provenance=prov, ran=ran)


def stored_jobs(jobs: Sequence[Job], results: str | os.PathLike[str]) -> list[Job]:
    """The jobs of ``jobs`` that finished (status ok) and are stored in ``results``: to write
    the table of an unfinished sweep without running the rest."""
    folder = Path(results)
    done = []
    for job in jobs:
        record = _load_stored(folder / job.filename, job)
        if record is not None and record["row"]["status"] == "ok":
            done.append(job)
    return done


# ------------------------------------------------------------------------------ the table


def write_results(result: SweepResult, path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write the table as CSV at ``path`` and its provenance as JSON beside it (same stem).

    Returns ``(csv_path, json_path)``.
    """
    csv = Path(path)
    if csv.suffix != ".csv":
        raise ValueError(f"path must end in .csv; got {str(path)!r}")
    csv.parent.mkdir(parents=True, exist_ok=True)
    table = result.table.drop(columns=["resumed"], errors="ignore")
    table.to_csv(csv, index=False, float_format="%.6g")
    meta = csv.with_suffix(".json")
    meta.write_text(json.dumps(result.provenance, indent=1, default=_cell) + "\n")
    return csv, meta


def load_results(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a table written by :func:`write_results`: ``(table, provenance)``.

    Raises
    ------
    FileNotFoundError
        If the CSV or its provenance is missing, naming the command that writes them.
    """
    csv = Path(path)
    meta = csv.with_suffix(".json")
    for p in (csv, meta):
        if not p.is_file():
            raise FileNotFoundError(f"{str(p)!r} is missing; write it with `make sweep` "
                                    "(PROFILE=fast|cpu|gpu)")
    table = pd.read_csv(csv, keep_default_na=False, na_values=[""])
    table["error"] = ["" if pd.isna(e) else str(e) for e in table["error"]]
    table["dim"] = table["dim"].astype("Int64")  # DDPM rows have none
    return table, json.loads(meta.read_text())


def seed_summary(table: pd.DataFrame, metric: str, level: float = 0.95,
                 percent: bool | None = None) -> pd.DataFrame:
    """Mean of ``metric`` over seeds with a Student-t interval, per family, dataset and dim.

    Only jobs with status ``"ok"`` count. With one seed the interval is the value itself.
    ``percent`` (default: True for the shares ``off_manifold``, ``interpolation``,
    ``coverage``, ``holes``, ``off_manifold_reconstructions``) clips bounds to [0, 1].

    Returns
    -------
    DataFrame with ``family, dataset, dim, seeds, mean, low, high``.
    """
    if metric not in table.columns:
        raise KeyError(f"no column {metric!r} in the table")
    if percent is None:
        percent = metric in ("off_manifold", "interpolation", "coverage", "holes",
                             "off_manifold_reconstructions")
    ok = table[table["status"] == "ok"]
    rows = []
    for (family, dataset, dim), part in ok.groupby(["family", "dataset", "dim"], dropna=False,
                                                   sort=False):
        x = part[metric].astype(float).to_numpy()
        iv = (across_seeds(x, level, percent) if len(x) >= 2
              else Interval(float(x[0]), float(x[0]), float(x[0]), 1, level, percent))
        rows.append({"family": family, "dataset": dataset, "dim": dim, "seeds": len(x),
                     "mean": iv.value, "low": iv.low, "high": iv.high})
    return pd.DataFrame(rows)


def claim_status(hits: Sequence[bool] | np.ndarray) -> str:
    """A claim's verdict from its cases: ``"supported"`` when every case bears it out,
    ``"partly"`` when some do, ``"not supported at our budget"`` when none does."""
    arr = np.asarray(hits)
    if arr.dtype != bool or arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"hits must be a non-empty 1-D boolean array; got {hits!r}")
    if arr.all():
        return "supported"
    return "partly" if arr.any() else "not supported at our budget"


# ------------------------------------------------------------------------------ command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m topolib.sweep``: run the book's sweep and write its table (``make sweep``)."""
    import argparse

    parser = argparse.ArgumentParser(description="Run the book's sweep (topolib.sweep).")
    parser.add_argument("--profile", default=None, help="fast, cpu or gpu (default: detected)")
    parser.add_argument("--out", default=None,
                        help="results CSV (default: results/sweep-<profile>.csv, "
                             "results/sweep-<profile>-smoke.csv in smoke mode)")
    parser.add_argument("--engine", default="local", choices=ENGINES)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--scheduler", default=None, help="Dask scheduler address")
    parser.add_argument("--collect", action="store_true",
                        help="write the table of the jobs stored so far; run nothing")
    args = parser.parse_args(argv)
    profile = get_profile(args.profile)
    # A smoke run never writes into the real sweep's folder or table.
    out = Path(args.out or f"results/sweep-{profile.name}{'-smoke' if smoke_mode() else ''}.csv")
    jobs = book_grid(profile)
    if args.collect:
        jobs = stored_jobs(jobs, out.with_suffix(""))
        if not jobs:
            raise SystemExit(f"no finished job is stored in {out.with_suffix('')}")
    result = run_sweep(jobs, out.with_suffix(""), engine=args.engine,
                       workers=args.workers, scheduler=args.scheduler)
    csv, meta = write_results(result, out)
    failed = result.provenance["failed"]
    print(f"wrote {csv} and {meta}: {len(result.table)} jobs, {failed} failed, "
          f"{result.provenance['wall_s_this_run']:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
