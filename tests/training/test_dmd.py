"""DMD2 few-step distillation (kinema distill) on a tiny teacher trained here."""

import json

import pytest
import torch
from safetensors.torch import load_file

from kinema.cli.main import main
from kinema.pipelines.dreamactor_m2 import Animator
from kinema.training.config import get_config
from kinema.training.data import stack
from kinema.training.dmd import Distiller, distill_config
from kinema.training.trainer import Trainer

SMALL = {"batch_size": 2, "data": {"samples": 4}, "log_every": 1}


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A tiny R1 model with its card (train_config), trained for 2 steps."""
    out = tmp_path_factory.mktemp("teacher")
    Trainer(get_config("tiny", steps=2, batch_size=2, data={"samples": 4}), out, progress=False).train()
    return str(out / "export" / "model")


def _distiller(teacher, out, iterations, **overrides):
    config = distill_config(teacher, 2, iterations, **{**SMALL, **overrides})
    return Distiller(config, out, progress=False)


def _batch(distiller):
    samples = [distiller.data[i] for i in distiller.recipe.batch(0)]
    text = stack(samples, "text", distiller.world.device)
    return samples, distiller.recipe.conditions(samples, text, distiller.world.device)


def test_the_student_updates_once_per_critic_ratio_and_ships_a_few_step_card(teacher, tmp_path):
    result = _distiller(teacher, tmp_path / "run", 6, distill={"critic_ratio": 3}).train()
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["student_updated"] for r in records] == [0, 0, 1, 0, 0, 1]
    assert all(r["dmd_gap"] is not None for r in records if r["student_updated"])
    card = json.loads((result.run.export / "model" / "kinema.json").read_text())
    assert card["sampling_steps"] == 2 and card["guidance"] == 1.0
    assert card["distilled"]["method"] == "dmd2" and card["distilled"]["student_updates"] == 2
    assert Animator.load(str(result.run.export / "model")).card["sampling_steps"] == 2


def test_the_critic_learns_the_students_samples(teacher, tmp_path):
    distiller = _distiller(teacher, tmp_path / "run", 1, distill={"critic_lr": 3e-3})
    samples, conditions = _batch(distiller)
    x0 = distiller.student_sample(samples, conditions, torch.Generator().manual_seed(1), grad=False)
    losses = [distiller.critic_step(x0, samples, conditions, torch.Generator().manual_seed(2), 1.0) for _ in range(6)]
    assert all(b < a for a, b in zip(losses, losses[1:])) and losses[-1] < 0.9 * losses[0], losses  # same noise: falls


def test_the_student_moves_along_the_distribution_matching_gradient(teacher, tmp_path):
    distiller = _distiller(teacher, tmp_path / "run", 1, optim={"lr": 1e-3}, distill={"critic_lr": 3e-3})
    samples, conditions = _batch(distiller)
    sample = lambda grad: distiller.student_sample(samples, conditions, torch.Generator().manual_seed(1), grad=grad)  # noqa: E731
    x0 = sample(False)
    for _ in range(4):  # the critic moves off the teacher towards the student's samples
        distiller.critic_step(x0, samples, conditions, torch.Generator().manual_seed(2), 1.0)
    gradient = distiller.dmd_gradient(x0, samples, conditions, torch.Generator().manual_seed(3))
    assert gradient.abs().mean() > 0
    distiller.student_step(sample(True), samples, conditions, torch.Generator().manual_seed(3), 1.0)
    moved = sample(False) - x0
    assert (moved * gradient).sum() < 0  # against the gradient: towards the teacher, away from the critic


def test_a_resumed_run_is_bit_identical(teacher, tmp_path):
    _distiller(teacher, tmp_path / "whole", 6, distill={"critic_ratio": 2}, checkpoint_every=3).train()
    _distiller(teacher, tmp_path / "split", 3, distill={"critic_ratio": 2}, checkpoint_every=3).train()
    config = distill_config(teacher, 2, 6, **{**SMALL, "distill": {"critic_ratio": 2}, "checkpoint_every": 3})
    Distiller(config, tmp_path / "split", resume=True, progress=False).train()
    for name in ("export/model/transformer/diffusion_pytorch_model.safetensors", "checkpoints/step-00000006/model.safetensors"):
        whole, split = (load_file(tmp_path / run / name) for run in ("whole", "split"))
        assert whole.keys() == split.keys() and any(k.startswith("critic.") for k in load_file(
            tmp_path / "whole" / "checkpoints/step-00000006/model.safetensors"))
        assert all(torch.equal(whole[k], split[k]) for k in whole), name


def test_bad_teachers_and_settings_are_named(teacher, tmp_path, capsys):
    assert main(["distill", "--teacher", "tiny", "--out", str(tmp_path / "a"), "--iterations", "1"]) == 2
    assert "has no training config in its model card" in capsys.readouterr().err
    assert main(["distill", "--teacher", teacher, "--out", str(tmp_path / "b"), "--set", "distill.critic_ratio=0"]) == 2
    assert "distill.critic_ratio 0" in capsys.readouterr().err
    assert main(["distill", "--teacher", teacher, "--out", str(tmp_path / "c"), "--set", "adapter=ffn"]) == 2
    assert "adapter ffn" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
