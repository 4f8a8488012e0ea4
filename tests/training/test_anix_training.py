"""Recipe R3 (AniX) in the trainer: world tuples, first-clip and auto-regressive steps, exact resume, the card."""

import json

import pytest
import torch

from kinema.recipes import anix as r3
from kinema.training.config import get_config
from kinema.training.data import stack
from kinema.training.flow import NUM_TRAIN_TIMESTEPS, noisy_latents
from kinema.training.trainer import Trainer

from tests.training.runs import assert_killed_run_resumes_bit_identically, predict_seeing_timesteps


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    """A tiny-r3 trainer (two 32 x 32 world tuples of 9 frames, rendered and encoded) before any step."""
    config = get_config("tiny-r3", steps=30, optim={"lr": 2e-3})
    return Trainer(config, tmp_path_factory.mktemp("r3") / "run", progress=False)


def _step_of_mode(trainer, auto: bool) -> int:
    """A step the recipe trains auto-regressively (``auto``) or as a first clip."""
    for step in range(100):
        trainer.recipe.batch(step)
        if bool(trainer.recipe.context_frames(3)) == auto:
            return step
    raise AssertionError("no such step")


def _fixed_batch_loss(trainer, auto: bool) -> float:
    recipe, cpu = trainer.recipe, torch.device("cpu")
    samples = [trainer.data[i] for i in recipe.batch(_step_of_mode(trainer, auto))]
    x0 = stack(samples, "x0", cpu)
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(123))
    sigma = torch.full((len(samples),), 0.5)
    x_t, target = noisy_latents(x0, noise, sigma)
    with torch.no_grad():
        pred = trainer.model(x_t, sigma * NUM_TRAIN_TIMESTEPS, **recipe.conditions(samples, stack(samples, "text", cpu), cpu))
    return float(recipe.loss(pred, target, samples).mean())


def test_tiny_r3_lowers_the_loss_of_first_clips_and_continuations(trainer):
    sample = trainer.data[0]
    assert sample["views"].shape[1] == 4 and sample["scene"].shape[0] == 16 + 4  # four views; [Z_S | anchor]
    before = [_fixed_batch_loss(trainer, auto) for auto in (False, True)]
    trainer.train()
    after = [_fixed_batch_loss(trainer, auto) for auto in (False, True)]
    assert all(a < 0.8 * b for a, b in zip(after, before)), (before, after)
    card = json.loads((trainer.run.export / "model" / "kinema.json").read_text())
    assert card["recipe"] == "anix" and card["r3"] == {"views": 4, "anchor": "per-frame", "context_noise": 0.1}


def test_the_exported_world_model_loads_for_kinema_world_only(trainer):
    from kinema.errors import KinemaInputError
    from kinema.pipelines.anix import WorldAnimator
    from kinema.pipelines.dreamactor_m2 import Animator

    model = str(trainer.run.export / "model")
    animator = WorldAnimator.load(model)
    assert animator.recipe == r3.R3Config() and not animator.random_weights
    assert hasattr(animator.components.transformer, r3.PROJECTOR)  # trained, saved and read back
    with pytest.raises(KinemaInputError, match="Use kinema world with it"):
        Animator.load(model)


def test_a_continuation_step_gives_the_context_clean_and_trains_on_the_rest_only(trainer):
    recipe, cpu = trainer.recipe, torch.device("cpu")
    samples = [trainer.data[i] for i in recipe.batch(_step_of_mode(trainer, auto=True))]
    x0 = stack(samples, "x0", cpu)
    conditions = recipe.conditions(samples, stack(samples, "text", cpu), cpu)
    context = conditions["context"]
    assert context.shape[2] == 1  # a quarter of 3 latent frames, at least one
    deviation = float((context - x0[:, :, :1]).std())
    assert abs(deviation - r3.R3Config().context_noise) < 0.03  # AniX's augmented preceding tokens
    again = recipe.conditions(samples, stack(samples, "text", cpu), cpu)["context"]
    assert torch.equal(context, again)  # seeded by the step

    pred, steps = predict_seeing_timesteps(recipe, trainer.components.transformer, torch.randn(x0.shape),
                                           torch.full((2,), 700.0), **conditions)
    assert pred.shape == x0.shape
    tokens = steps.view(2, -1)[0]  # per-token timesteps: 4 views, the context, then the video (1 x 2 x 2 each)
    assert (tokens[:4 * 4 + 4] == 0).all() and (tokens[4 * 4 + 4:] == 700).all()
    moved = pred.clone()
    moved[:, :, :1] += 5.0  # the context's own output is not trained
    assert torch.equal(recipe.loss(moved, x0, samples), recipe.loss(pred, x0, samples))


def test_killed_r3_run_resumes_bit_identically(tmp_path):
    assert_killed_run_resumes_bit_identically(tmp_path, "--preset", "tiny-r3", "--set", "steps=12",
                                              "--set", "checkpoint_every=4")


def test_bad_r3_settings_are_named(tmp_path, capsys):
    from kinema.cli.main import main

    assert main(["train", "--preset", "tiny-r3", "--set", "r3.views=3", "--out", str(tmp_path / "run")]) == 2
    assert "views must be one of" in capsys.readouterr().err
    assert main(["train", "--preset", "tiny-r3", "--set", "r3.ar_fraction=2", "--out", str(tmp_path / "run")]) == 2
    assert "r3.ar_fraction" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
