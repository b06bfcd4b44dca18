"""Graders of the exercises of chapters 01-09 (see :mod:`topolib.exercises` for the pattern).

Each grader computes its reference with topolib from the student's own run (passed as
keyword context) where the exercise is a measurement, and types it only where the answer is a
mathematical fact, with the argument in the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from scipy import stats

from topolib.exercises import (
    Grade,
    _need_keys,
    _reference_share,
    grade_grid,
    grade_number,
    grade_parts,
    grade_share,
    register,
)
from topolib.seeding import numpy_rng, torch_generator

# ---------------------------------------------------------------- 01 shape primer


@register("primer-ex-noise", kind="level", needs=("points", "n_landmarks", "seed"),
          question="the first noise level at which the loop is lost (None if never)")
def _primer_noise(answer: float | None, points: np.ndarray, n_landmarks: int, seed: int,
                  levels: Sequence[float] = tuple(np.linspace(0.0, 0.5, 6))) -> Grade:
    from topolib.metrics import persistent_homology

    points = np.asarray(points, dtype=float)
    lost = None
    for sigma in levels:
        noisy = points + numpy_rng(seed, f"exercise-{sigma:.1f}").normal(scale=sigma, size=points.shape)
        b1 = persistent_homology(noisy, maxdim=1, coeffs=(2,), n_landmarks=n_landmarks,
                                 seed=seed).betti[2][1]
        if b1 != 1:
            lost = round(float(sigma), 1)
            break
    return grade_grid(answer, lost, levels, what="first noise level at which the loop is lost",
                      why="Count a level as lost when b1 != 1 over Z/2.")


RP2_BETTI = {2: (1, 1, 1), 3: (1, 0, 0)}  # a fact: universal coefficients on H(RP^2; Z)
SPHERE_BETTI = (1, 0, 1)


@register("primer-ex-rp2", kind="betti_by_field",
          question="Betti numbers of RP^2 by field, {2: (b0, b1, b2), 3: (b0, b1, b2)}")
def _primer_rp2(answer: Mapping[int, tuple[int, ...]]) -> Grade:
    _need_keys(answer, (2, 3), "primer-ex-rp2")
    if answer[2] == SPHERE_BETTI and answer[3] == SPHERE_BETTI:
        return Grade("wrong", "(1, 0, 1) over both fields is the sphere's reading. RP^2 has "
                     "H_1 = Z/2 (half a great circle, closed because u ~ -u) and H_2 = 0 over Z: "
                     "over Z/2 the torsion shows as (1, 1, 1), over Z/3 only the component is left.",
                     RP2_BETTI)
    why = {2: "over Z/2 the torsion of H_1 = Z/2 counts as a loop, and Tor(Z/2, Z/2) adds a void: "
              "(1, 1, 1)",
           3: "over Z/3 the torsion vanishes and RP^2 is non-orientable, so no void: (1, 0, 0)"}
    grade = grade_parts({f"Z/{p}": (answer[p], RP2_BETTI[p]) for p in (2, 3)},
                        why=" ".join(f"{why[p][0].upper()}{why[p][1:]}." for p in (2, 3) if answer[p] != RP2_BETTI[p]))
    if grade.status == "right":
        return Grade("right", "RP^2 reads (1, 1, 1) over Z/2 and (1, 0, 0) over Z/3, as the universal "
                     "coefficient theorem predicts from H_1 = Z/2, H_2 = 0.", RP2_BETTI)
    return grade


@register("primer-ex-landmarks", kind="count_or_none", needs=("points", "counts", "seed"),
          question="the fewest landmarks at which the rule finds (1, 2, 1) (None if never)")
def _primer_landmarks(answer: int | None, points: np.ndarray, counts: Sequence[int], seed: int) -> Grade:
    from topolib.metrics import persistent_homology

    fewest = None
    for m in sorted(counts):
        betti = persistent_homology(np.asarray(points, dtype=float), maxdim=2, coeffs=(2,),
                                    n_landmarks=int(m), seed=seed).betti[2]
        if betti == (1, 2, 1):
            fewest = int(m)
            break
    return grade_grid(answer, fewest, counts, what="fewest landmarks that find the torus's (1, 2, 1)",
                      why="Fewer landmarks mean a larger covering radius, and features smaller than "
                          "about twice it are lost.")


# ---------------------------------------------------------------- 02 datasets


@register("datasets-ex-threshold", kind="level", needs=("images", "seed"),
          question="the smallest noise level at which most renders count as off the manifold")
def _datasets_threshold(answer: float | None, images: np.ndarray, seed: int,
                        levels: Sequence[float] = (0.01, 0.03, 0.05, 0.08)) -> Grade:
    from topolib.metrics import OFF_MANIFOLD_THRESHOLD, project

    images = np.asarray(images)
    first = None
    for sigma in sorted(levels):
        noisy = images + numpy_rng(seed, f"exercise-noise-{sigma}").normal(scale=sigma, size=images.shape)
        if project(noisy.astype(np.float32), "torus", seed=seed).off_manifold().mean() > 0.5:
            first = sigma
            break
    return grade_grid(answer, first, levels, what="first noise level with most renders off",
                      why=f"Gaussian noise of standard deviation sigma adds an RMS residual of about "
                          f"sigma, so the definition predicts the first level above the threshold "
                          f"{OFF_MANIFOLD_THRESHOLD}.")


@register("datasets-ex-hole", kind="level", needs=("n", "seed", "size"),
          question="the narrowest hole width the coverage checks find (None if none)")
def _datasets_hole(answer: float | None, n: int, seed: int, size: int,
                   widths: Sequence[float] = (0.3, 0.2, 0.1, 0.05)) -> Grade:
    from topolib.datasets import failures
    from topolib.metrics import THRESHOLDS, on_manifold_coverage, project

    def found(width: float) -> bool:  # the report card's coverage and holes rows, alone
        images = failures.torus_with_hole(n, seed=seed, size=size, width=width).images
        cover = on_manifold_coverage(project(images, "torus"))
        return not (THRESHOLDS["coverage"].passes(cover.coverage)
                    and THRESHOLDS["holes"].passes(cover.hole_fraction))

    found = [w for w in widths if found(w)]
    narrowest = min(found, default=None)
    return grade_grid(answer, narrowest, widths, what="narrowest hole the coverage checks find",
                      why=f"Coverage cells have side about sqrt(5/n) = {np.sqrt(5 / n):.2f}: a hole much "
                          "narrower than a cell cannot empty one.")


# ---------------------------------------------------------------- 03 VAEs


@register("vae-ex-radius", kind="share",
          question="the share of the prior N(0, I) in 2 dimensions within radius 1")
def _vae_radius(answer: float, latent_dim: int = 2) -> Grade:
    exact = float(stats.chi2.cdf(1.0, df=latent_dim))  # |z|^2 is chi-square with d dof
    why = ("|z|^2 of a standard normal in d dimensions is chi-square with d degrees of freedom: "
           "P(|z| < 1) = 1 - exp(-1/2) for d = 2.")
    if abs(answer - 0.6827) < 0.005 and latent_dim != 1:
        why = "68% is the one-dimensional rule (|z| < 1 for one coordinate). " + why
    return grade_number(answer, exact, right_tol=0.005, close_tol=0.03,
                        what="the prior mass within |z| < 1", why=why)


def _decoded_off(model: torch.nn.Module, z: object, dataset: str) -> np.ndarray:
    from topolib.metrics import project

    if isinstance(z, torch.Tensor):
        z = z.to(model.device)
    with torch.no_grad():
        images = model.decode(z).cpu().numpy()[:, 0]
    return project(images, dataset).off_manifold()


@register("vae-ex-temperature", kind="shares", needs=("model",),
          question="off-manifold share by temperature tau, {0.5: ..., 1.0: ..., 1.5: ...}")
def _vae_temperature(answer: Mapping[float, float], model: torch.nn.Module, n: int = 500,
                     seed: int = 0, n_answer: int | None = None) -> Grade:
    _need_keys(answer, (0.5, 1.0, 1.5), "vae-ex-temperature")
    grades = {}
    for tau in (0.5, 1.0, 1.5):
        gen = torch_generator(seed, f"self-check-temperature-{tau}")
        z = tau * torch.randn((n, model.latent_dim), generator=gen)
        ref, m = _reference_share(_decoded_off(model, z, "circle"))
        grades[tau] = grade_share(answer[tau], ref, m, n_answer=n_answer,
                                  what=f"tau = {tau}")
    return _worst(grades, tail="Sample z = tau * N(0, I) and decode; scaling the prior moves its "
                  "mass, it cannot make a disc of codes a ring.")


def _worst(grades: Mapping[object, Grade], tail: str = "") -> Grade:
    order = {"right": 0, "close": 1, "wrong": 2}
    status = max((g.status for g in grades.values()), key=order.__getitem__)
    reason = " ".join(g.reason for g in grades.values())
    expected = {k: g.expected for k, g in grades.items()}
    return Grade(status, reason + (f" {tail}" if tail and status != "right" else ""), expected)


def _betti_right(evaluation: object) -> tuple[bool, str]:
    card = evaluation.card
    b2, b3 = card.check("betti_z2"), card.check("betti_z3")
    ok = bool(b2["passed"]) and bool(b3["passed"])
    return ok, (f"the card reads {b2['value']} over Z/2 (the Klein bottle has {b2['expected']}) and "
                f"{b3['value']} over Z/3 (it has {b3['expected']})")


@register("vae-ex-klein", kind="flags", needs=("klein", "control"),
          question="{'betti right': bool, 'worse than control': bool} for the Klein bottle at d = 4")
def _vae_klein(answer: Mapping[str, bool], klein: object, control: object) -> Grade:
    _need_keys(answer, ("betti right", "worse than control"), "vae-ex-klein")
    right, said = _betti_right(klein)
    k_off = klein.intervals()["off-manifold samples"]
    c_off = control.intervals()["off-manifold samples"]
    worse = bool(k_off.greater_than(c_off))
    return grade_parts({"betti right": (answer["betti right"], right),
                        "worse than control": (answer["worse than control"], worse)},
                       why=f"Here {said}; {k_off} of the Klein samples are off the manifold against "
                           f"{c_off} for the control ('worse' means the intervals do not overlap).")


# ---------------------------------------------------------------- 04 GANs


@register("gan-ex-seam", kind="share", needs=("model",),
          question="the prior mass of the codes at the seam of a 1-D GAN")
def _gan_seam(answer: float, model: torch.nn.Module, span: float = 4.0, n: int = 2001) -> Grade:
    from topolib.latent_probes import find_seam

    mass = find_seam(model, "circle", span=span, n=n).prior_mass
    return grade_number(answer, mass, right_tol=max(0.002, 0.05 * mass),
                        close_tol=max(0.01, 0.3 * mass), what="the prior mass at the seam",
                        why="Decode a fine grid of z in [-4, 4], mark codes off the manifold or next "
                            "to an angle jump, and integrate the N(0, 1) density over them.")


@register("gan-ex-truncation", kind="shares", needs=("model", "seed"),
          question="off-manifold share by truncation tau, {0.5: ..., 1.0: ..., 2.0: ..., inf: ...}")
def _gan_truncation(answer: Mapping[float, float], model: torch.nn.Module, seed: int,
                    n: int = 400, n_answer: int | None = None) -> Grade:
    from topolib.latent_probes import truncation_sweep

    taus = (0.5, 1.0, 2.0, np.inf)
    _need_keys(answer, taus, "gan-ex-truncation")
    table = truncation_sweep(model, "circle", taus, n, seed=seed, stream="self-check-truncation")
    grades = {tau: grade_share(answer[tau], float(row["off-manifold samples"]), n,
                               n_answer=n_answer, what=f"tau = {tau}")
              for tau, (_, row) in zip(taus, table.iterrows(), strict=True)}
    return _worst(grades, tail="Redraw each coordinate beyond tau, then decode and project.")


@register("gan-ex-bridge", kind="share_or_none",
          question="the share of straight lines between the two circles that neither leave the "
                   "manifold nor jump")
def _gan_bridge(answer: float | None) -> Grade:
    why = ("A line starts on one circle and ends on the other; if every frame were on the manifold, "
           "some pair of neighbouring frames would have to change component: that is a jump. So "
           "every line leaves through off-manifold frames or jumps, whatever the model.")
    if answer is None:
        return Grade("wrong", "No answer: no prior draw decoded onto one of the circles, so this model "
                     "has not learned both components and there are no lines to count. " + why, 0.0)
    if answer == 0.0:
        return Grade("right", "No line stays on the manifold. " + why, 0.0)
    return Grade("wrong", f"You have {answer:.1%} of lines doing neither; it must be 0. " + why
                 + " Check that a line counts as jumping when two on-manifold frames lie on "
                   "different circles.", 0.0)


# ---------------------------------------------------------------- 05 chart autoencoders


def _b1(betti: Sequence[int]) -> int:
    return int(betti[1]) if len(betti) > 1 else 0


@register("cae-ex-nerve", kind="counts", needs=("atlas",),
          question="{'overlap pieces': int, 'nerve b1': int, 'multigraph b1': int} of the 2-chart circle")
def _cae_nerve(answer: Mapping[str, int], atlas: object) -> Grade:
    keys = ("overlap pieces", "nerve b1", "multigraph b1")
    _need_keys(answer, keys, "cae-ex-nerve")
    measured = (int(atlas.overlap_table["pieces"].sum()), _b1(atlas.nerve_betti), _b1(atlas.graph_betti))
    return grade_parts({k: (answer[k], m) for k, m in zip(keys, measured, strict=True)},
                       why="The nerve of two overlapping charts is one edge (b1 = 0) whatever the "
                           "overlap; a closed atlas of two arcs overlaps in 2 pieces, so its multigraph "
                           "has b1 = 1, the circle's loop. Read them off this atlas's overlap table.")


@register("cae-ex-box", kind="share", needs=("model",),
          question="off-manifold share of codes drawn uniformly from each surviving chart's square")
def _cae_box(answer: float, model: torch.nn.Module, n: int = 500, seed: int = 0,
             n_answer: int | None = None) -> Grade:
    from topolib.models.chart_autoencoder import ChartCode

    gen = torch_generator(seed, "self-check-box")
    alive = torch.tensor(model.surviving_charts())
    box = ChartCode(alive[torch.randint(len(alive), (n,), generator=gen)],
                    torch.rand((n, model.chart_dim), generator=gen))
    ref, m = _reference_share(_decoded_off(model, box, "sphere"))
    return grade_share(answer, ref, m, n_answer=n_answer, what="off-manifold share of box codes",
                       why="Draw a surviving chart, then coordinates uniform on [0, 1]^2, decode, project.")


@register("cae-ex-klein", kind="bool", needs=("evaluation",),
          question="whether the card reads the Klein bottle's Betti numbers right over both fields")
def _cae_klein(answer: bool, evaluation: object) -> Grade:
    right, said = _betti_right(evaluation)
    if answer == right:
        return Grade("right", f"Yes: {said}." if right else f"No: {said}.", right)
    return Grade("wrong", f"The card says {'yes' if right else 'no'}: {said}. Both fields must match: "
                 "(1, 2, 1) over Z/2 alone is also a torus.", right)


# ---------------------------------------------------------------- 06 diffusion


@register("ddpm-ex-schedule", kind="number", needs=("abar",),
          question="the step t at which signal and noise are equal (abar_t = 1/2)")
def _ddpm_schedule(answer: float, abar: object) -> Grade:
    abar = np.asarray(abar.cpu() if isinstance(abar, torch.Tensor) else abar, dtype=float)
    t_half = int(np.argmin(np.abs(abar - 0.5)))
    return grade_number(answer, t_half, right_tol=1.0, close_tol=max(2.0, len(abar) / 20),
                        what="the step where abar crosses 1/2 in the model's schedule",
                        why="Solve cos^2(pi/2 (u + s)/(1 + s)) = cos^2(pi/2 s/(1 + s)) / 2 for u = t/T; "
                            "abar[t] is the signal after step t + 1, so subtract one.")


@register("ddpm-ex-eta", kind="shares", needs=("model", "steps"),
          question="off-manifold share of the circle model by eta, {0.0: ..., 0.5: ..., 1.0: ...}")
def _ddpm_eta(answer: Mapping[float, float], model: torch.nn.Module, steps: int, n: int = 100,
              seed: int = 0, n_answer: int | None = None) -> Grade:
    from topolib.metrics import project

    _need_keys(answer, (0.0, 0.5, 1.0), "ddpm-ex-eta")
    size = model.image_size
    grades = {}
    for eta in (0.0, 0.5, 1.0):
        gen = torch_generator(seed, f"self-check-eta-{eta}")
        noise = torch.randn((n, 1, size, size), generator=gen)
        with torch.no_grad():
            x = model.diffusion.sample_loop(noise.to(model.device), steps, eta, gen)
        ref, m = _reference_share(project(((x + 1) / 2).clamp(0, 1).cpu().numpy(), "circle").off_manifold())
        grades[eta] = grade_share(answer[eta], ref, m, n_answer=n_answer, what=f"eta = {eta}")
    return _worst(grades, tail="Start from N(0, I) noise, run sample_loop with the report card's "
                  "steps, map [-1, 1] to [0, 1] and project.")


@register("ddpm-ex-memorise", kind="numbers", needs=("n_train", "n_eval", "size", "seed"),
          question="median d1/d2 of held-out renders, {'circle': ..., 'torus': ...}")
def _ddpm_memorise(answer: Mapping[str, float], n_train: int, n_eval: int, size: int, seed: int) -> Grade:
    from topolib.datasets import get_dataset
    from topolib.experiments import training_set
    from topolib.metrics.memorisation import memorisation

    _need_keys(answer, ("circle", "torus"), "ddpm-ex-memorise")
    grades = {}
    for name in ("circle", "torus"):
        train, _, _ = training_set(name, n_train, size, seed)
        heldout, _ = get_dataset(name).sample(n_eval, numpy_rng(seed, f"heldout-{name}"), size)
        ref = float(np.median(memorisation(heldout[:10], train, heldout).ratio_heldout))
        grades[name] = grade_number(answer[name], ref, right_tol=0.02, close_tol=0.1,
                                    what=f"{name}: the median d1/d2 of held-out renders")
    return _worst(grades, tail="On a curve a new render falls between two neighbours, often much "
                  "nearer one (small d1/d2); on a surface the two nearest are more alike.")


# ---------------------------------------------------------------- 07 teaser


@register("teaser-ex-junction", kind="counts",
          question="pieces left after cutting along a curve, {'junction': int, 'sphere': int}")
def _teaser_junction(answer: Mapping[str, int]) -> Grade:
    _need_keys(answer, ("junction", "sphere"), "teaser-ex-junction")
    return grade_parts({"junction": (answer["junction"], 3), "sphere": (answer["sphere"], 2)},
                       why="A disc cut along a curve through its centre falls into 2 pieces, and so "
                           "does a small ball of the sphere; at a junction three sheets meet (sphere "
                           "above, sphere below, tube), so 3 pieces are left.")


@register("teaser-ex-charts", kind="count",
          question="the fewest 2-D charts that cover the smooth part of the set")
def _teaser_charts(answer: int) -> Grade:
    why = ("The smooth part has 4 pieces: two polar caps (discs, 1 chart each), the sphere's band "
           "and the tube (annuli, 2 charts each): 1 + 1 + 2 + 2 = 6.")
    if answer == 6:
        return Grade("right", why, 6)
    if answer == 4:
        return Grade("close", "4 counts one chart per piece, but an annulus is not a disc: it needs "
                     "two. " + why, 6)
    return Grade("wrong", f"You have {answer}. " + why, 6)


@register("teaser-ex-ddim", kind="share", needs=("model", "steps"),
          question="the off-set share of DDIM samples of the point-cloud diffusion model")
def _teaser_ddim(answer: float, model: torch.nn.Module, steps: int, n: int = 1000, seed: int = 0,
                 n_answer: int | None = None) -> Grade:
    from topolib.metrics.point_sets import off_set_share

    with torch.no_grad():
        x = model.sample(n, torch_generator(seed, "self-check-ddim"), sampler="ddim", steps=steps)
    ref = off_set_share(x.cpu().numpy().astype(float), "stratified")
    return grade_share(answer, ref.value, n, n_answer=n_answer, what="off-set share of DDIM samples",
                       why="Sample with sampler='ddim' at the recipe's steps and measure the distance "
                           "to the set.")


# ---------------------------------------------------------------- 08 matched latents


def _quotient_gaps(name: str, n: int, batches: int, seed: int) -> np.ndarray:
    """``(batches,)`` smallest feature distance over ``n`` random pairs of codes whose quotient
    points are more than 0.5 apart, one per batch of independent pairs."""
    from topolib.models.latent_spaces import get_latent_space

    space = get_latent_space(name)
    gen = torch_generator(seed, f"self-check-quotients-{name}")
    a, b = space.sample(n * batches, gen), space.sample(n * batches, gen)
    apart = torch.minimum(space.distance(a, b), space.distance(a, space.twin(b))) > 0.5
    gap = (space.features(a) - space.features(b)).norm(dim=1)
    return torch.where(apart, gap, torch.inf).reshape(batches, n).min(1).values.numpy()


@register("matched-ex-quotients", kind="numbers",
          question="smallest feature distance between codes whose quotient points are at least "
                   "0.5 apart, {'projective': ..., 'klein': ...}")
def _matched_quotients(answer: Mapping[str, float], n_answer: int = 2000, seed: int = 0,
                       batches: int = 200) -> Grade:
    _need_keys(answer, ("projective", "klein"), "matched-ex-quotients")
    grades = {}
    for name in ("projective", "klein"):
        mins = _quotient_gaps(name, int(n_answer), batches, seed)
        lo, hi, mid = float(mins.min()), float(mins.max()), float(np.median(mins))
        got = float(answer[name])
        span = f"{batches} fresh draws of {n_answer} pairs give {lo:.3f} to {hi:.3f}"
        if lo - 0.02 <= got <= hi + 0.03:
            grades[name] = Grade("right", f"{name}: you have {got:.3f}; {span}.", mid)
        elif got < lo - 0.02:
            grades[name] = Grade("close" if got >= lo - 0.1 else "wrong",
                                 f"{name}: you have {got:.3f}, below what {span}: a pair of codes "
                                 "near each other's twin is one point of the quotient, not two "
                                 "points apart; measure apartness by min(d(a, b), d(a, twin(b))).",
                                 mid)
        else:
            grades[name] = Grade("close" if got <= hi + 0.15 else "wrong",
                                 f"{name}: you have {got:.3f}, above what {span}: take the smallest "
                                 "feature distance over all pairs that are apart, from as many "
                                 "pairs as you said (n_answer).", mid)
    return _worst(grades, tail="The features are the same on both lifts of a point and only there, "
                  "so the gap is positive: the feature map is injective on the quotient.")


@register("matched-ex-components", kind="shares", needs=("models",),
          question="agreement of the latent circle chosen by the encoder with the true circle, "
                   "by balance, {0.0: ..., 10.0: ...}")
def _matched_components(answer: Mapping[float, float], models: Mapping[float, torch.nn.Module],
                        n: int = 500, seed: int = 0, n_answer: int | None = None) -> Grade:
    from topolib.datasets import get_dataset

    _need_keys(answer, (0.0, 10.0), "matched-ex-components")
    models = {float(k): m for k, m in models.items()}
    if not {0.0, 10.0} <= set(models):
        raise TypeError("exercise 'matched-ex-components': models must be a dict of the trained "
                        f"models by balance, {{0.0: ..., 10.0: ...}}; got the keys {sorted(models)}")
    grades = {}
    for balance in (0.0, 10.0):
        model = models[balance]
        images, params = get_dataset("two_circles").sample(
            n, numpy_rng(seed, f"self-check-components-{balance}"), model.image_size)
        x = torch.from_numpy(np.asarray(images, dtype=np.float32))[:, None].to(model.device)
        with torch.no_grad():
            k = model.posterior(x).logits.argmax(1).cpu().numpy()
        truth = np.asarray(params)[:, 0].astype(int)
        ref = float(max(np.mean(k == truth), np.mean(k != truth)))
        grades[balance] = grade_share(answer[balance], ref, n, n_answer=n_answer,
                                      what=f"balance = {balance}")
    return _worst(grades, tail="Read each image's latent circle as the argmax of the posterior's "
                  "component logits, and count agreement up to swapping the two circles: the "
                  "larger of the shares equal and unequal to the true circle.")


@register("matched-ex-geodesic", kind="number", needs=("a", "b"),
          question="the angle between the two codes of the pair where the normalised line's "
                   "largest step exceeds the geodesic's most")
def _matched_geodesic(answer: float, a: torch.Tensor, b: torch.Tensor) -> Grade:
    from topolib.models.latent_spaces import get_latent_space

    space = get_latent_space("circle")
    a, b = (space.project(torch.as_tensor(v, dtype=torch.float64)) for v in (a, b))
    widest = float(space.distance(a, b).max())
    return grade_number(answer, widest, right_tol=0.01, close_tol=0.3,
                        what="the widest angle among your pairs",
                        why="For codes an angle theta apart the line's largest step is its middle "
                            "one, 2 atan(tan(theta/2)/(n-1)), against theta/(n-1) on the geodesic: "
                            "the ratio grows with theta (to n-1 as theta -> pi), so it is largest "
                            "for the most nearly opposite pair.")


# ---------------------------------------------------------------- 09 synthesis


@register("synthesis-ex-hardest", kind="numbers", needs=("table",),
          question="mean number of failed generation checks of each manifold over families "
                   "and seeds, {'circle': ..., 'sphere': ..., 'torus': ...}")
def _synthesis_hardest(answer: Mapping[str, float], table: object) -> Grade:
    import pandas as pd

    if not isinstance(table, pd.DataFrame) or not {"dataset", "failed_generation_checks"} <= set(
            table.columns):
        raise TypeError("exercise 'synthesis-ex-hardest': table must be the sweep's table (a "
                        "DataFrame with the columns dataset and failed_generation_checks)")
    rows = table[table["status"] == "ok"] if "status" in table.columns else table
    rows = rows[rows["dataset"].isin(("circle", "sphere", "torus"))]
    means = rows.groupby("dataset")["failed_generation_checks"].mean()
    if means.empty:
        raise TypeError("exercise 'synthesis-ex-hardest': table has no finished job on the "
                        "circle, the sphere or the torus")
    _need_keys(answer, list(means.index), "synthesis-ex-hardest")
    grades = {d: grade_number(float(answer[d]), float(m), right_tol=1e-6, close_tol=0.25,
                              what=f"the {d}'s mean")
              for d, m in means.items()}
    return _worst(grades, tail=f"Average over every finished job (status ok) of the dataset, "
                  f"all families and seeds together: each job counts once, so a family with "
                  f"fewer finished seeds weighs less. The hardest is the {means.idxmax()}.")


@register("synthesis-ex-resume", kind="count", needs=("result",),
          question="the number of jobs the second run_sweep call on the same folder computes")
def _synthesis_resume(answer: int, result: object) -> Grade:
    table = getattr(result, "table", None)
    if table is None or "resumed" not in getattr(table, "columns", ()):
        raise TypeError("exercise 'synthesis-ex-resume': result must be what the second "
                        "run_sweep call returned (a SweepResult)")
    computed = int((~table["resumed"].astype(bool)).sum())  # rows not read back from the folder
    return grade_number(answer, computed, right_tol=0, close_tol=0,
                        what="the number of jobs the second call computed (its table's rows not "
                             "resumed from the folder)",
                        why="Every finished job is stored as one file named by the hash of its "
                            "configuration, and run_sweep skips each job whose file it finds: "
                            "only jobs missing from the folder (or stored as failed) run again.")
