"""Recipe R1 learning long-video continuation (issue 19): on a seeded share of steps latent frames 1..c of the target
are given as history (clean, with seeded noise), left out of the loss, and the card tells inference to carry them."""

import json

import pytest
import torch

from kinema.training.config import get_config
from kinema.training.data import stack
from kinema.training.history import history_frames
from kinema.training.trainer import Trainer
from tests.training.runs import predict_seeing_timesteps


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    config = get_config("tiny", steps=2, anchor="reference", prediction="sample", data={"frames": 13},
                        history={"fraction": 0.5, "latents": 1, "noise": 0.1})
    return Trainer(config, tmp_path_factory.mktemp("history") / "run", progress=False)


def _step(trainer, history: bool) -> int:
    for step in range(100):
        trainer.recipe.batch(step)
        if bool(history_frames(trainer.config, step)) == history:
            return step
    raise AssertionError("no such step")


def test_a_history_step_gives_frames_1_to_c_clean_at_t0_and_trains_on_the_rest(trainer):
    recipe, cpu = trainer.recipe, torch.device("cpu")
    samples = [trainer.data[i] for i in recipe.batch(_step(trainer, history=True))]
    x0 = stack(samples, "x0", cpu) - recipe.anchor(samples, cpu)  # the diffusion variable
    conditions = recipe.conditions(samples, stack(samples, "text", cpu), cpu)
    history = conditions["history"]
    assert history.shape[2] == 1 and abs(float((history - x0[:, :, 1:2]).std()) - 0.1) < 0.03
    assert torch.equal(history, recipe.conditions(samples, stack(samples, "text", cpu), cpu)["history"])  # seeded

    pred, steps = predict_seeing_timesteps(recipe, trainer.components.transformer, torch.randn(x0.shape),
                                           torch.full((2,), 700.0), **conditions)
    assert pred.shape == x0.shape
    per_frame = steps.view(2, x0.shape[2], -1)[0, :, 0]  # per-token timesteps, one latent frame per row
    assert per_frame.tolist() == [700.0, 0.0, 700.0, 700.0]
    moved = pred.clone()
    moved[:, :, 1:2] += 5.0  # the history's own output is not trained
    assert torch.equal(recipe.loss(moved, x0, samples), recipe.loss(pred, x0, samples))
    moved[:, :, 2:] += 5.0
    assert (recipe.loss(moved, x0, samples) > recipe.loss(pred, x0, samples)).all()


def test_a_plain_step_has_no_history_and_the_card_names_it(trainer):
    recipe, cpu = trainer.recipe, torch.device("cpu")
    samples = [trainer.data[i] for i in recipe.batch(_step(trainer, history=False))]
    assert recipe.conditions(samples, stack(samples, "text", cpu), cpu)["history"] is None
    trainer.train()
    card = json.loads((trainer.run.export / "model" / "kinema.json").read_text())
    assert card["history"] == {"latents": 1, "noise": 0.1}


def test_history_settings_are_checked_before_the_run():
    from kinema.errors import KinemaInputError

    with pytest.raises(KinemaInputError, match="history.latents"):
        get_config("tiny", data={"frames": 9}, history={"fraction": 0.5, "latents": 2})
    with pytest.raises(KinemaInputError, match="history.fraction"):
        get_config("tiny-r3", history={"fraction": 0.5})


def test_r2_trains_the_same_history_draws(tmp_path):
    config = get_config("tiny-r2", steps=2, data={"frames": 13}, history={"fraction": 1.0, "latents": 1, "noise": 0.0})
    trainer = Trainer(config, tmp_path / "run", progress=False)
    recipe, cpu = trainer.recipe, torch.device("cpu")
    samples = [trainer.data[i] for i in recipe.batch(0)]
    conditions = recipe.conditions(samples, stack(samples, "text", cpu), cpu)
    assert torch.equal(conditions["history"], stack(samples, "x0", cpu)[:, :, 1:2])  # noise 0: the clean frame
    trainer.train()
    card = json.loads((trainer.run.export / "model" / "kinema.json").read_text())
    assert card["history"] == {"latents": 1, "noise": 0.0}
