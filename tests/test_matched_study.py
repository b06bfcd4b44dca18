"""Training recipes of the topology-matched VAE: restarts chosen by loss, component teacher."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from topolib import ModelCache
from topolib.experiments import training_set
from topolib.matched_study import component_labels, fit_best_of, fit_matched
from topolib.models import MatchedVAE
from topolib.training import TrainConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_component_labels_find_the_two_circles_without_their_parameters():
    images, params, _ = training_set("two_circles", 300, 16, 0)
    subset, labels = component_labels(images, 2, n_max=200, seed=0)
    assert subset.shape == labels.shape == (200,) and labels[0] == 0
    truth = params[subset, 0].astype(int)
    assert np.array_equal(labels, truth) or np.array_equal(labels, 1 - truth)
    again = component_labels(images, 2, n_max=200, seed=0)
    assert np.array_equal(again[0], subset) and np.array_equal(again[1], labels)


def test_component_labels_reject_bad_input():
    with pytest.raises(ValueError, match="images"):
        component_labels(np.zeros((5, 4)))
    with pytest.raises(ValueError, match="n_components"):
        component_labels(np.zeros((3, 4, 4)), n_components=4)


def test_fit_best_of_keeps_the_lowest_warmup_loss_and_finishes_it(tmp_path):
    cache = ModelCache(tmp_path)
    config = TrainConfig(epochs=2, batch_size=32)

    def build(s: int) -> MatchedVAE:
        return MatchedVAE("circle", size=16, channels=4, seed=s)

    best = fit_best_of(build, "circle", 64, config, restarts=3, warmup_epochs=1, seed=0,
                       cache=cache)
    assert best.seeds == (0, 1, 2) and len(best.warmup_losses) == 3 == len(best.warmups)
    assert [w.model.seed for w in best.warmups] == [0, 1, 2]
    assert best.chosen == int(np.argmin(best.warmup_losses))
    assert best.result.model.seed == best.chosen and best.result.epochs == 2
    # the final run repeats the chosen warm-up, then goes on
    assert best.result.history["loss"][0] == pytest.approx(best.warmup_losses[best.chosen])
    assert [r["chosen"] for r in best.table()].count(True) == 1
    again = fit_best_of(build, "circle", 64, config, restarts=3, warmup_epochs=1, seed=0,
                        cache=cache)
    assert again.result.from_cache and again.chosen == best.chosen
    single = fit_best_of(build, "circle", 64, config, restarts=1, warmup_epochs=1, seed=0,
                         cache=cache)
    assert single.chosen == 0 and single.warmups == () and single.result.epochs == 2
    with pytest.raises(ValueError, match="warmup_epochs"):
        fit_best_of(build, "circle", 64, config, restarts=2, warmup_epochs=3, seed=0)
    with pytest.raises(ValueError, match="restarts"):
        fit_best_of(build, "circle", 64, config, restarts=0, warmup_epochs=1, seed=0)


def test_component_teacher_adds_its_cross_entropy_and_checks_input():
    with pytest.raises(ValueError, match="assign"):
        MatchedVAE("circle", size=16, channels=4, assign=1.0)
    model = MatchedVAE("two_circles", size=16, channels=4, assign=1.0)
    images, params, _ = training_set("two_circles", 40, 16, 0)
    x = torch.from_numpy(images)[:, None]
    with pytest.raises(ValueError, match="teacher"):
        model.loss(x, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="labels"):
        model.set_component_teacher(images, np.zeros(40, dtype=int))  # one component only
    model.set_component_teacher(images, params[:, 0].astype(int))
    assert torch.equal(model.teacher_labels(x), torch.from_numpy(params[:, 0]).long())
    out = model.loss(x, torch.Generator().manual_seed(0))
    assert "assign" in out and float(out["assign"]) > 0
    assert model.config()["assign"] == 1.0


def test_fit_matched_with_a_teacher_learns_the_components(tmp_path):
    study = fit_matched("two_circles", "two_circles", 128, TrainConfig(epochs=3, batch_size=32),
                        seed=0, size=16, channels=4, assign=1.0, cache=ModelCache(tmp_path))
    history = study.result.history["assign"]
    assert history[-1] < history[0]
