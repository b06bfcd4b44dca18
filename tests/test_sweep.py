"""The sweep: grids are checked, interrupted sweeps resume, failures are recorded, Dask runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

import topolib.sweep as sweep
from topolib.provenance import source_hash
from topolib.sweep import (
    Job,
    book_grid,
    claim_status,
    load_results,
    make_grid,
    run_sweep,
    seed_summary,
    write_results,
)

GRID = make_grid(["VAE"], ["circle"], [0, 1], profile="fast")


class Interrupt(Exception):
    """Stands for a Ctrl-C or a killed session after the first job."""


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def resumed(tmp_path_factory, model_cache):
    """A sweep interrupted after its first job, then restarted."""
    folder = tmp_path_factory.mktemp("results")

    def stop(record):
        raise Interrupt(record["row"]["seed"])

    with pytest.raises(Interrupt):
        run_sweep(GRID, folder, workers=1, cache_root=model_cache, on_result=stop, log=None)
    first = folder / GRID[0].filename
    stamp = first.stat().st_mtime_ns
    return folder, first, stamp, run_sweep(GRID, folder, workers=1, cache_root=model_cache,
                                           log=None)


def test_interrupted_sweep_does_not_rerun_finished_jobs(resumed):
    folder, first, stamp, result = resumed
    assert first.stat().st_mtime_ns == stamp  # the finished job's record was not rewritten
    assert GRID[0].label not in result.ran
    assert bool(result.table["resumed"].iloc[0])
    assert list(result.table["status"]) == ["ok", "ok"]
    assert len(list(folder.glob("*.json"))) == 2
    # once everything is stored, a third run computes nothing
    again = run_sweep(GRID, folder, workers=1, log=None)
    assert again.ran == [] and again.table["resumed"].all()
    # the finished part of a larger grid can be collected without running the rest
    bigger = GRID + make_grid(["DDPM"], ["circle"], [0], profile="fast")
    assert sweep.stored_jobs(bigger, folder) == GRID


def test_table_has_every_check_with_intervals_and_provenance(resumed, tmp_path):
    result = resumed[3]
    row = result.table.iloc[1]
    for check in sweep.CHECKS:
        assert f"{check}_passed" in row
    for share in ("off_manifold", "interpolation", "off_manifold_reconstructions"):
        assert row[f"{share}_low"] <= row[share] <= row[f"{share}_high"]
    assert row["wall_s"] > 0 and row["profile"] == "fast"
    prov = result.provenance
    assert prov["seeds"] == [0, 1] and prov["profile"] == "fast"
    assert prov["source_hashes"] == [source_hash()] and prov["topolib_version"]
    csv, meta = write_results(result, tmp_path / "sweep-fast.csv")
    table, back = load_results(csv)
    assert meta.exists() and back["jobs"] == 2
    assert table["off_manifold"].to_numpy() == pytest.approx(
        result.table["off_manifold"].to_numpy(), rel=1e-5)
    summary = seed_summary(table, "off_manifold")
    assert summary.loc[0, "seeds"] == 2
    assert summary.loc[0, "low"] <= summary.loc[0, "mean"] <= summary.loc[0, "high"]


def test_a_failing_job_is_recorded_and_the_sweep_goes_on(tmp_path, model_cache, monkeypatch):
    original = sweep._train_and_evaluate

    def flaky(job, cache):
        if job.seed == 1:
            raise RuntimeError("the GPU caught fire")
        return original(job, cache)

    monkeypatch.setattr(sweep, "_train_and_evaluate", flaky)  # forked workers inherit it
    result = run_sweep(GRID, tmp_path, workers=1, cache_root=model_cache, log=None)
    assert list(result.table["status"]) == ["ok", "failed"]
    assert "RuntimeError: the GPU caught fire" in result.table["error"].iloc[1]
    assert result.provenance["failed"] == 1
    # restarted without the fault, only the failed job runs again
    monkeypatch.setattr(sweep, "_train_and_evaluate", original)
    again = run_sweep(GRID, tmp_path, workers=1, cache_root=model_cache, log=None)
    assert again.ran == [GRID[1].label] and list(again.table["status"]) == ["ok", "ok"]


def test_dask_local_cluster_runs_the_sweep(tmp_path, model_cache, one_torch_thread):
    distributed = pytest.importorskip("distributed", reason='Dask is not installed: pip '
                                      'install "topolib[cluster]" to test the Dask path')
    # a scheduler at an address, as on a cluster; its worker is a thread of this process so
    # that the test does not wait for a new process to import torch
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        result = run_sweep(GRID[:1], tmp_path, engine="dask", scheduler=cluster.scheduler_address,
                           cache_root=model_cache, log=None)
    assert result.ran == [GRID[0].label] and result.table["status"].iloc[0] == "ok"
    assert result.provenance["engine"] == "dask"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"families": ["Flow"]}, "family must be one of"),
    ({"datasets": ["moebius"]}, "dataset must be one of"),
    ({"seeds": [0, -1]}, "seed"),
    ({"seeds": [1, 1]}, "seeds has duplicates"),
    ({"seeds": []}, "seeds is empty"),
    ({"seeds": 3}, "seeds must be a list"),
    ({"families": "VAE"}, "families must be a list"),
    ({"dims": {"DDPM": [2]}}, "no dimension"),
    ({"dims": {"VAE": [0]}}, "positive integers"),
    ({"dims": {"GAN": []}}, "non-empty list"),
])
def test_bad_grids_are_refused_with_a_clear_error(kwargs, match):
    args = {"families": ["VAE"], "datasets": ["circle"], "seeds": [0], **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        make_grid(args.pop("families"), args.pop("datasets"), args.pop("seeds"),
                  profile="fast", **args)


def test_bad_sweeps_are_refused(tmp_path):
    with pytest.raises(ValueError, match="engine must be one of"):
        run_sweep(GRID, tmp_path, engine="spark", log=None)
    with pytest.raises(ValueError, match="non-empty list of Job"):
        run_sweep([], tmp_path, log=None)
    with pytest.raises(ValueError, match="one profile"):
        run_sweep([Job("VAE", "circle", 1, 0, "fast"), Job("VAE", "circle", 1, 0, "cpu")],
                  tmp_path, log=None)
    with pytest.raises(ValueError, match="duplicates"):
        run_sweep(GRID + GRID[:1], tmp_path, log=None)


def test_the_book_grid_uses_the_chapters_dimensions():
    jobs = book_grid("cpu")
    assert {j.family for j in jobs} == set(sweep.FAMILIES) and len({j.seed for j in jobs}) >= 3
    dims = {(j.family, j.dataset): j.dim for j in jobs}
    assert dims["VAE", "circle"] == 1 and dims["GAN", "torus"] == 2
    assert dims["CAE", "sphere"] == 8 and dims["DDPM", "circle"] is None
    # seed 0 is the chapters' model: the VAE chapter's sizes at cpu
    r = sweep.recipe("VAE", "circle", "cpu")
    assert (r["n_train"], r["train"]["epochs"], r["evaluate"]["n_pairs"]) == (5000, 16, 64)


def test_claim_status():
    assert claim_status(np.array([True, True])) == "supported"
    assert claim_status([True, False]) == "partly"
    assert claim_status([False]) == "not supported at our budget"
    with pytest.raises(ValueError, match="non-empty 1-D boolean"):
        claim_status([])


def test_source_hash_is_the_makefiles(repo):
    shell = subprocess.run("cat $(find topolib -name '*.py' | LC_ALL=C sort) | sha256sum",
                           shell=True, cwd=repo, capture_output=True, text=True, check=True)
    assert source_hash() == shell.stdout[:16]


def test_a_smoke_job_is_never_stored_as_a_real_one(monkeypatch, repo):
    real = Job("VAE", "circle", 1, 0, "cpu")
    assert "smoke" not in real.config()  # real jobs keep the keys of the stored records
    stored = {p.name for p in (repo / "results" / "sweep-cpu").glob("*.json")}
    assert real.filename in stored
    monkeypatch.setenv("TOPOLIB_SMOKE", "1")
    smoke = Job("VAE", "circle", 1, 0, "cpu")
    assert smoke.smoke and smoke.config()["smoke"] is True
    assert smoke.key != real.key and smoke.label.endswith("(smoke)")
    assert all(job.smoke for job in book_grid("cpu"))

    def stop_before_running(jobs, folder, **kwargs):
        raise Interrupt(folder)  # where `make sweep` would have written its records

    monkeypatch.setattr(sweep, "run_sweep", stop_before_running)
    with pytest.raises(Interrupt) as stopped:
        sweep.main(["--profile", "cpu"])
    assert stopped.value.args == (Path("results/sweep-cpu-smoke"),)
