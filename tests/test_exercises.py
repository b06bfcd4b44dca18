"""Every exercise's self-check passes on the solution's answer and fails on a wrong one.

Measurement exercises are graded against a reference re-measured from the student's run;
here that run is a small oracle, an untrained model or a synthetic sample, and the
"solution" answer is computed with the recipe of the notebook's hidden solution.
"""

import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from topolib.exercises import EXERCISES, KINDS, CheckResult, check, register
from topolib.metrics import Interval, persistent_homology, project, share
from topolib.seeding import numpy_rng, torch_generator

REPO = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SEED = 0


def _cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _src(cell):
    return "".join(cell["source"])


def _labels(path):
    return [m for c in _cells(path) if c["cell_type"] == "markdown" and "{exercise}" in _src(c)
            for m in re.findall(r":label:\s*([\w-]+)", _src(c))]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_exercise_has_a_grader_and_a_self_check_cell(path):
    cells = _cells(path)
    for label in _labels(path):
        assert label in EXERCISES, f"{path.name}: exercise {label!r} has no registered grader"
        end = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
                   and f"{{solution-start}} {label}" in _src(c))
        after = next(i for i in range(end + 1, len(cells)) if "{solution-end}" in _src(cells[i]))
        check_cell = cells[after + 1]
        assert "self-check" in check_cell["metadata"].get("tags", []), f"{label}: no self-check cell"
        assert f'check("{label}",' in _src(check_cell)


def test_every_grader_belongs_to_an_exercise():
    labels = {label for path in CHAPTERS for label in _labels(path)}
    assert set(EXERCISES) <= labels, sorted(set(EXERCISES) - labels)


# ---------------------------------------------------------------- errors


def test_unknown_id_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown exercise id 'primer-ex-nois'.*did you mean 'primer-ex-noise'"):
        check("primer-ex-nois", 0.1)
    with pytest.raises(TypeError, match="exercise_id must be a string"):
        check(3, 0.1)


@pytest.mark.parametrize("exercise, answer", [
    ("vae-ex-radius", "0.39"), ("vae-ex-radius", True), ("vae-ex-radius", 1.5),
    ("teaser-ex-charts", 6.0), ("teaser-ex-charts", -1), ("cae-ex-klein", 1),
    ("primer-ex-rp2", (1, 1, 1)), ("primer-ex-rp2", {2: (1, 1.5, 1), 3: (1, 0, 0)}),
    ("teaser-ex-junction", [3, 2]), ("ddpm-ex-memorise", {"circle": float("nan")}),
])
def test_wrong_kind_is_a_clear_error(exercise, answer):
    with pytest.raises(TypeError, match=f"exercise '{exercise}' expects"):
        check(exercise, answer)


def test_missing_keys_and_context_are_clear_errors():
    with pytest.raises(TypeError, match=r"must have the keys \[2, 3\]"):
        check("primer-ex-rp2", {2: (1, 1, 1)})
    with pytest.raises(TypeError, match="needs the keyword argument.*model"):
        check("gan-ex-seam", 0.01)


def test_registering_twice_or_a_bad_kind_is_an_error():
    with pytest.raises(ValueError, match="already registered"):
        register("vae-ex-radius", kind="share", question="?")(lambda a: None)
    with pytest.raises(ValueError, match="kind must be one of"):
        register("new-ex", kind="vector", question="?")
    assert "share" in KINDS


def test_result_prints_as_text_and_markdown():
    result = check("teaser-ex-charts", 6)
    assert isinstance(result, CheckResult) and result.right and bool(result)
    assert str(result).startswith("teaser-ex-charts: RIGHT.")
    assert "**right**" in result._repr_markdown_()


# ---------------------------------------------------------------- each exercise


def _solution_noise(points, n_landmarks):
    for sigma in np.linspace(0.0, 0.5, 6):
        noisy = points + numpy_rng(SEED, f"exercise-{sigma:.1f}").normal(scale=sigma, size=points.shape)
        if persistent_homology(noisy, maxdim=1, coeffs=(2,), n_landmarks=n_landmarks,
                               seed=SEED).betti[2][1] != 1:
            return round(float(sigma), 1)
    return None


def _far(grid, x):
    """The setting (or None, counted after the last) farthest from ``x`` on the sorted grid."""
    options = [*sorted(grid), None]
    pos = options.index(x)
    return max(options, key=lambda o: abs(options.index(o) - pos))


def test_primer_noise():
    from topolib.datasets.point_clouds import circle_points

    points = circle_points(300, seed=numpy_rng(SEED, "stability-reference"))
    lost = _solution_noise(points, 40)
    ctx = {"points": points, "n_landmarks": 40, "seed": SEED}
    assert check("primer-ex-noise", lost, **ctx).status == "right"
    grid = [round(float(s), 1) for s in np.linspace(0.0, 0.5, 6)]
    wrong = check("primer-ex-noise", _far(grid, lost), **ctx)
    assert wrong.status == "wrong" and "reference run finds" in wrong.reason
    assert check("primer-ex-noise", 0.25, **ctx).status == "wrong"  # not a level tried


def test_primer_rp2_is_a_fact():
    assert check("primer-ex-rp2", {2: (1, 1, 1), 3: (1, 0, 0)}).right
    sphere = check("primer-ex-rp2", {2: (1, 0, 1), 3: (1, 0, 1)})
    assert sphere.status == "wrong" and "sphere" in sphere.reason
    half = check("primer-ex-rp2", {2: (1, 1, 1), 3: (1, 1, 1)})
    assert half.status == "close" and "torsion vanishes" in half.reason


def test_primer_landmarks():
    from topolib.datasets.point_clouds import torus_points

    points = torus_points(300, seed=numpy_rng(SEED, "cloud-torus"), noise=0.0)
    counts = [20, 40, 80]
    fewest = min((m for m in counts if persistent_homology(points, maxdim=2, coeffs=(2,), n_landmarks=m,
                                                            seed=SEED).betti[2] == (1, 2, 1)), default=None)
    ctx = {"points": points, "counts": counts, "seed": SEED}
    assert check("primer-ex-landmarks", fewest, **ctx).right
    assert check("primer-ex-landmarks", _far(counts, fewest), **ctx).status == "wrong"
    assert check("primer-ex-landmarks", 33, **ctx).status == "wrong"


def test_datasets_threshold():
    from topolib.datasets import get_dataset

    images, _ = get_dataset("torus").sample(20, seed=numpy_rng(SEED, "exercise-noise"), size=16)
    levels = [0.01, 0.03, 0.05, 0.08]
    rates = {s: project((images + numpy_rng(SEED, f"exercise-noise-{s}").normal(scale=s, size=images.shape)
                         ).astype(np.float32), "torus", seed=SEED).off_manifold().mean() for s in levels}
    first = min((s for s, r in rates.items() if r > 0.5), default=None)
    assert check("datasets-ex-threshold", first, images=images, seed=SEED).right
    wrong = check("datasets-ex-threshold", _far(levels, first), images=images, seed=SEED)
    assert wrong.status == "wrong" and "threshold" in wrong.reason


@pytest.mark.filterwarnings("ignore:the landmarks do not resolve")
def test_datasets_hole():
    from topolib.datasets import failures
    from topolib.metrics import report_card

    n, widths = 200, [0.3, 0.2, 0.1, 0.05]
    found = [w for w in widths if {"coverage", "holes"} & set(report_card(  # the solution's recipe
        failures.torus_with_hole(n, seed=SEED, size=16, width=w).images, "torus", seed=SEED,
        n_landmarks=20).failed_checks)]
    narrowest = min(found, default=None)
    ctx = {"n": n, "seed": SEED, "size": 16}
    assert check("datasets-ex-hole", narrowest, **ctx).right
    wrong = check("datasets-ex-hole", _far(widths, narrowest), **ctx)
    assert wrong.status == "wrong" and "sqrt(5/n)" in wrong.reason


def test_vae_radius():
    assert check("vae-ex-radius", 1 - np.exp(-0.5)).right
    assert check("vae-ex-radius", 0.41).status == "close"  # e.g. an estimate from few draws
    wrong = check("vae-ex-radius", 0.68)
    assert wrong.status == "wrong" and "one-dimensional rule" in wrong.reason


def _oracle(latent_dim):
    from topolib.models.oracle import CircleOracle

    return CircleOracle(size=16, latent_dim=latent_dim)


def test_vae_temperature():
    model, n = _oracle(2), 60
    by_tau = {}
    for tau in (0.5, 1.0, 1.5):  # the solution's recipe
        z = tau * torch.randn((n, 2), generator=torch_generator(SEED, f"temperature-{tau}"))
        with torch.no_grad():
            by_tau[tau] = share(project(model.decode(z).numpy()[:, 0], "circle").off_manifold())
    ctx = {"model": model, "n": n, "seed": SEED}
    assert check("vae-ex-temperature", by_tau, **ctx).right
    wrong = check("vae-ex-temperature", {0.5: 0.3, 1.0: 0.3, 1.5: 0.3}, **ctx)
    assert wrong.status == "wrong" and "standard errors" in wrong.reason
    with pytest.raises(TypeError, match="must have the keys"):
        check("vae-ex-temperature", {0.5: 0.0}, **ctx)


def _evaluation(z2, z3, off, n=200):
    table = pd.DataFrame([
        {"check": "betti_z2", "value": z2, "expected": (1, 2, 1), "passed": z2 == (1, 2, 1)},
        {"check": "betti_z3", "value": z3, "expected": (1, 1, 0), "passed": z3 == (1, 1, 0)}])
    card = SimpleNamespace(check=lambda name: table[table["check"] == name].iloc[0])
    k = round(off * n)
    from topolib.metrics import wilson_interval

    iv = Interval(k / n, *wilson_interval(k, n), n)
    return SimpleNamespace(card=card, intervals=lambda: {"off-manifold samples": iv})


def test_vae_klein():
    klein, control = _evaluation((1, 2, 1), (1, 2, 1), 0.6), _evaluation((1, 0, 0), (1, 0, 0), 0.1)
    ctx = {"klein": klein, "control": control}
    assert check("vae-ex-klein", {"betti right": False, "worse than control": True}, **ctx).right
    close = check("vae-ex-klein", {"betti right": True, "worse than control": True}, **ctx)
    assert close.status == "close" and "(1, 2, 1) over Z/2" in close.reason
    assert check("vae-ex-klein", {"betti right": True, "worse than control": False}, **ctx).status == "wrong"


def test_gan_seam():
    from topolib.latent_probes import find_seam

    model = _oracle(1)
    mass = find_seam(model, "circle", span=4.0, n=401).prior_mass
    assert check("gan-ex-seam", mass, model=model, n=401).right
    wrong = check("gan-ex-seam", mass + 0.2, model=model, n=401)
    assert wrong.status == "wrong" and "prior mass at the seam" in wrong.reason


def test_gan_truncation():
    from topolib.latent_probes import truncation_sweep

    model, n, taus = _oracle(1), 40, (0.5, 1.0, 2.0, np.inf)
    table = truncation_sweep(model, "circle", taus, n, seed=SEED)
    answer = dict(zip(taus, table["off-manifold samples"], strict=True))
    ctx = {"model": model, "seed": SEED, "n": n}
    assert check("gan-ex-truncation", answer, **ctx).right
    assert check("gan-ex-truncation", {t: 0.5 for t in taus}, **ctx).status == "wrong"


def test_gan_bridge_is_a_fact():
    assert check("gan-ex-bridge", 0.0).right
    wrong = check("gan-ex-bridge", 0.1)
    assert wrong.status == "wrong" and "must be 0" in wrong.reason
    assert check("gan-ex-bridge", None).status == "wrong"


def test_cae_nerve():
    atlas = SimpleNamespace(overlap_table=pd.DataFrame({"pieces": [2]}), nerve_betti=(1, 0),
                            graph_betti=(1, 1))
    right = {"overlap pieces": 2, "nerve b1": 0, "multigraph b1": 1}
    assert check("cae-ex-nerve", right, atlas=atlas).right
    close = check("cae-ex-nerve", {**right, "nerve b1": 1}, atlas=atlas)
    assert close.status == "close" and "nerve of two overlapping charts" in close.reason
    assert check("cae-ex-nerve", {"overlap pieces": 1, "nerve b1": 1, "multigraph b1": 0},
                 atlas=atlas).status == "wrong"


def test_cae_box():
    from topolib.models import ChartAutoencoder
    from topolib.models.chart_autoencoder import ChartCode

    model, n = ChartAutoencoder(n_charts=2, chart_dim=2, size=16, seed=SEED), 60
    gen = torch_generator(SEED, "exercise-box")  # the solution's recipe, untrained model
    alive = torch.tensor(model.surviving_charts())
    box = ChartCode(alive[torch.randint(len(alive), (n,), generator=gen)], torch.rand((n, 2), generator=gen))
    with torch.no_grad():
        off = project(model.decode(box).numpy()[:, 0], "sphere").off_manifold()
    ctx = {"model": model, "n": n, "seed": SEED}
    assert check("cae-ex-box", float(off.mean()), **ctx).right
    assert check("cae-ex-box", abs(1 - float(off.mean())), **ctx).status == "wrong"


def test_cae_klein():
    ev = _evaluation((1, 2, 1), (1, 2, 1), 0.2)
    assert check("cae-ex-klein", False, evaluation=ev).right
    wrong = check("cae-ex-klein", True, evaluation=ev)
    assert wrong.status == "wrong" and "also a torus" in wrong.reason
    assert check("cae-ex-klein", True, evaluation=_evaluation((1, 2, 1), (1, 1, 0), 0.2)).right


def _ddpm():
    from topolib.models import DDPM

    return DDPM(size=16, channels=8, levels=2, seed=SEED)


def test_ddpm_schedule():
    model = _ddpm()
    s, T = 0.008, model.diffusion.T  # the solution's closed form
    target = math.acos(math.sqrt(math.cos(math.pi / 2 * s / (1 + s)) ** 2 / 2))
    t_equal = round((target * 2 / math.pi * (1 + s) - s) * T - 1)
    assert check("ddpm-ex-schedule", t_equal, abar=model.diffusion.abar).right
    assert check("ddpm-ex-schedule", t_equal + 10, abar=model.diffusion.abar).status == "close"
    assert check("ddpm-ex-schedule", T / 4, abar=model.diffusion.abar).status == "wrong"


def test_ddpm_eta():
    model, n, steps = _ddpm(), 12, 2
    shares = {}
    for eta in (0.0, 0.5, 1.0):  # the solution's recipe, untrained model
        gen = torch_generator(SEED, f"eta-{eta}")
        noise = torch.randn((n, 1, 16, 16), generator=gen)
        with torch.no_grad():
            x = model.diffusion.sample_loop(noise, steps, eta, gen)
        shares[eta] = float(project(((x + 1) / 2).clamp(0, 1).numpy(), "circle").off_manifold().mean())
    ctx = {"model": model, "steps": steps, "n": n, "seed": SEED}
    assert check("ddpm-ex-eta", shares, **ctx).right
    assert check("ddpm-ex-eta", {e: 1 - v for e, v in shares.items()}, **ctx).status == "wrong"


def test_ddpm_memorise():
    from topolib.datasets import get_dataset
    from topolib.experiments import training_set
    from topolib.metrics.memorisation import memorisation

    medians = {}
    for name in ("circle", "torus"):  # the solution's recipe
        train, _, _ = training_set(name, 64, 16, SEED)
        heldout, _ = get_dataset(name).sample(20, numpy_rng(SEED, f"heldout-{name}"), 16)
        medians[name] = float(np.median(memorisation(heldout[:10], train, heldout).ratio_heldout))
    ctx = {"n_train": 64, "n_eval": 20, "size": 16, "seed": SEED}
    assert check("ddpm-ex-memorise", medians, **ctx).right
    assert check("ddpm-ex-memorise", {k: v + 0.05 for k, v in medians.items()}, **ctx).status == "close"
    assert check("ddpm-ex-memorise", {k: v + 0.5 for k, v in medians.items()}, **ctx).status == "wrong"


def test_teaser_facts():
    assert check("teaser-ex-junction", {"junction": 3, "sphere": 2}).right
    assert check("teaser-ex-junction", {"junction": 2, "sphere": 2}).status == "close"
    assert check("teaser-ex-junction", {"junction": 1, "sphere": 1}).status == "wrong"
    assert check("teaser-ex-charts", 6).right
    assert check("teaser-ex-charts", 4).status == "close"
    assert check("teaser-ex-charts", 12).status == "wrong"


def test_teaser_ddim():
    from topolib.metrics.point_sets import off_set_share
    from topolib.models import PointDDPM

    model, n, steps = PointDDPM(ambient_dim=3, width=16, seed=SEED), 100, 2
    with torch.no_grad():  # the solution's recipe, untrained model
        x = model.sample(n, torch_generator(SEED, "exercise-ddim"), sampler="ddim", steps=steps)
    ddim_off = off_set_share(x.numpy().astype(float), "stratified")
    ctx = {"model": model, "steps": steps, "n": n, "seed": SEED}
    assert check("teaser-ex-ddim", ddim_off, **ctx).right
    assert check("teaser-ex-ddim", abs(1 - ddim_off.value), **ctx).status == "wrong"


def _quotient_gaps(twin: bool):
    from topolib.models.latent_spaces import get_latent_space

    gen, gaps = torch_generator(SEED, "exercise-quotients"), {}
    for name in ("projective", "klein"):  # the solution's recipe (twin=False: a common slip)
        space = get_latent_space(name)
        a, b = space.sample(2000, gen), space.sample(2000, gen)
        apart = space.distance(a, b)
        if twin:
            apart = torch.minimum(apart, space.distance(a, space.twin(b)))
        gaps[name] = (space.features(a) - space.features(b)).norm(dim=1)[apart > 0.5].min().item()
    return gaps


def test_matched_quotients():
    gaps = _quotient_gaps(twin=True)
    assert check("matched-ex-quotients", gaps, n_answer=2000, seed=SEED).right
    slip = check("matched-ex-quotients", _quotient_gaps(twin=False), n_answer=2000, seed=SEED)
    assert slip.status == "wrong" and "twin" in slip.reason
    assert check("matched-ex-quotients", {k: v + 0.5 for k, v in gaps.items()}).status == "wrong"


def test_matched_components():
    from topolib.experiments import training_set
    from topolib.models import MatchedVAE

    models = {b: MatchedVAE("two_circles", size=16, channels=4, seed=SEED + i)
              for i, b in enumerate((0.0, 10.0))}  # untrained: the recipe, not the learning
    images, params, _ = training_set("two_circles", 64, 16, SEED)
    x, truth = torch.from_numpy(images)[:, None], params[:, 0].astype(int)
    agreement = {}
    for balance, model in models.items():  # the solution's recipe
        with torch.no_grad():
            k = model.posterior(x).logits.argmax(1).numpy()
        agreement[balance] = float(max(np.mean(k == truth), np.mean(k != truth)))
    ctx = {"models": models, "n": 200, "seed": SEED, "n_answer": 64}
    assert check("matched-ex-components", agreement, **ctx).right
    wrong = {b: 0.5 if v > 0.75 else 1.0 for b, v in agreement.items()}
    assert check("matched-ex-components", wrong, **ctx).status == "wrong"
    with pytest.raises(TypeError, match="models must be a dict"):
        check("matched-ex-components", agreement, models={0.0: models[0.0]})


def test_matched_geodesic():
    from topolib.models.latent_spaces import get_latent_space

    space, gen = get_latent_space("circle"), torch_generator(SEED, "exercise-geodesic")
    a, b = space.sample(64, gen).double(), space.sample(64, gen).double()
    t = torch.linspace(0, 1, 12, dtype=torch.float64)  # the solution's recipe
    line = space.project(a[:, None] + t[None, :, None] * (b - a)[:, None])

    def largest_step(path):
        return torch.arccos((path[:, 1:] * path[:, :-1]).sum(-1).clamp(-1, 1)).max(1).values

    ratio = largest_step(line) / largest_step(space.geodesic(a, b, 12)).clamp_min(1e-9)
    angle = space.distance(a, b)
    assert check("matched-ex-geodesic", float(angle[ratio.argmax()]), a=a, b=b).right
    wrong = check("matched-ex-geodesic", float(angle[ratio.argmin()]), a=a, b=b)
    assert wrong.status == "wrong" and "nearly opposite" in wrong.reason


# ---------------------------------------------------------------- 09 synthesis


def test_synthesis_hardest():
    table = pd.DataFrame({
        "family": ["VAE", "VAE", "GAN", "VAE", "GAN", "GAN", "VAE", "CAE"],
        "dataset": ["circle", "circle", "circle", "sphere", "sphere", "torus", "torus", "torus"],
        "status": ["ok", "ok", "ok", "ok", "ok", "ok", "ok", "failed"],
        "failed_generation_checks": [0, 1, 2, 3, 1, 4, 5, 9],
    })
    solution = {"circle": 1.0, "sphere": 2.0, "torus": 4.5}  # the failed CAE job does not count
    assert check("synthesis-ex-hardest", solution, table=table).right
    # the mean of the per-family means differs on the circle (VAE 0.5, GAN 2 -> 1.25)
    unweighted = {**solution, "circle": 1.25}
    assert check("synthesis-ex-hardest", unweighted, table=table).status == "close"
    assert check("synthesis-ex-hardest", {**solution, "torus": 6.0}, table=table).status == "wrong"
    with pytest.raises(TypeError, match="missing"):
        check("synthesis-ex-hardest", {"circle": 1.0}, table=table)


def test_synthesis_resume():
    from topolib.sweep import SweepResult

    second = SweepResult(pd.DataFrame({"resumed": [True, True]}), {}, ran=[])
    assert check("synthesis-ex-resume", 0, result=second).right
    assert check("synthesis-ex-resume", 2, result=second).status == "wrong"
    after_delete = SweepResult(pd.DataFrame({"resumed": [True, False]}), {}, ran=["one"])
    assert check("synthesis-ex-resume", 1, result=after_delete).right
    with pytest.raises(TypeError, match="SweepResult"):
        check("synthesis-ex-resume", 0, result=[])
