"""Recipe R2 (SCAIL-2) in the trainer: learning, the animate:replace mix, exact resume, export -> kinema replace."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from kinema.cli.main import main
from kinema.errors import KinemaInputError
from kinema.io import read_video, write_video
from kinema.pipelines.dreamactor_m2 import Animator
from kinema.pipelines.models import model_card
from kinema.pipelines.scail2 import ScailAnimator
from kinema.recipes import scail2 as r2
from kinema.training.config import get_config
from kinema.training.data import stack
from kinema.training.flow import NUM_TRAIN_TIMESTEPS, noisy_latents
from kinema.training.scail2 import ScailRecipe, make_sample, sample_mode
from kinema.training.recipe import get_recipe
from kinema.training.trainer import Trainer, load_backbone, prepare_transformer

from tests.training.runs import assert_killed_run_resumes_bit_identically, assert_torchrun_matches_one_process

SMALL = ["--preset", "tiny-r2", "--set", "data.samples=4", "--set", "batch_size=2", "--set", "checkpoint_every=2"]


@pytest.fixture(scope="module")
def tiny_r2_sample():
    config = get_config("tiny-r2")
    components, _ = load_backbone(config)
    prepare_transformer(components, config, get_recipe(config))
    sample = make_sample(0, config)
    refs = torch.from_numpy(sample.references).permute(0, 3, 1, 2)[None].float() / 127.5 - 1
    drv = torch.from_numpy(sample.driving).permute(3, 0, 1, 2)[None].float() / 127.5 - 1
    inputs = r2.build_inputs(components, refs, drv, torch.from_numpy(sample.reference_masks)[None],
                             torch.from_numpy(sample.driving_masks).transpose(0, 1)[None], sample.mode, config.r2.recipe())
    return inputs, torch.randn(inputs.latent_shape)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tiny-r2 run trained for 2 steps and exported."""
    run = tmp_path_factory.mktemp("r2run") / "run"
    Trainer(get_config("tiny-r2", steps=2, data={"samples": 4}), run, progress=False).train()
    return run


def _fixed_batch_loss(trainer: Trainer, indices: list[int]) -> float:
    """Loss on ``indices`` (one mode) with fixed noise and σ = 0.5 (no gradient)."""
    samples, cpu = [trainer.data[i] for i in indices], torch.device("cpu")
    x0 = stack(samples, "x0", cpu)
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(123))
    sigma = torch.full((len(samples),), 0.5)
    x_t, target = noisy_latents(x0, noise, sigma)
    text = stack(samples, "text", cpu)
    with torch.no_grad():
        pred = trainer.model(x_t, sigma * NUM_TRAIN_TIMESTEPS, **trainer.recipe.conditions(samples, text, torch.device("cpu")))
    return float(trainer.recipe.loss(pred, target, samples).mean())


def test_tiny_r2_lowers_the_loss_on_a_fixed_batch(tmp_path):
    config = get_config("tiny-r2", steps=30, data={"samples": 2}, r2={"replace_fraction": 0.0}, optim={"lr": 2e-3})
    trainer = Trainer(config, tmp_path / "run", progress=False)
    before = _fixed_batch_loss(trainer, [0, 1])
    trainer.train()
    after = _fixed_batch_loss(trainer, [0, 1])
    assert after < 0.8 * before, (before, after)


def test_only_the_video_tokens_are_predicted(tiny_r2_sample):
    inputs, noisy = tiny_r2_sample
    predicted = [s.predicted for s in r2.segments(inputs, noisy, torch.tensor([500.0]))]
    assert predicted == [False, True, False]  # references, video, driving


def test_modes_mix_at_the_configured_ratio_and_batches_hold_one_mode():
    config = get_config("tiny-r2", data={"samples": 400}, batch_size=4)
    modes = [sample_mode(i, config) for i in range(400)]
    assert modes.count("replace") / 400 == pytest.approx(0.25, abs=0.05)
    recipe = ScailRecipe(config)
    batches = [recipe.batch(step) for step in range(200)]
    assert all(len({recipe.modes[i] for i in b}) == 1 for b in batches)
    replace_steps = sum(recipe.modes[b[0]] for b in batches)
    assert replace_steps / 200 == pytest.approx(0.25, abs=0.07)
    assert batches == [ScailRecipe(config).batch(step) for step in range(200)]  # a function of (seed, step)
    # 100 steps x 4 = 400 draws: each pool's first epoch is a permutation of that pool
    seen = [i for b in batches for i in b]
    animate = [i for i in seen if recipe.modes[i] == 0][: recipe.modes.count(0)]
    assert sorted(animate) == [i for i, m in enumerate(recipe.modes) if m == 0]


def test_samples_follow_their_mode_and_use_segmenter_masks():
    config = get_config("tiny-r2", data={"samples": 8})
    for i in range(8):
        sample = make_sample(i, config)
        assert sample.mode == sample_mode(i, config)
        assert sample.references.shape[0] == 1 and sample.reference_masks.shape == (1, 1, 32, 32)
        assert sample.driving_masks.shape == (9, 1, 32, 32) and sample.driving_masks.any()
        if sample.mode == "animate":  # environment from the reference: the target's background differs from the driving's
            assert not np.array_equal(sample.target[0, :2, :2], sample.driving[0, :2, :2])


def test_encoded_samples_differ_by_mode_in_the_environment_switch(trained):
    data = load_file(trained / "latents.safetensors")
    modes = {int(data[f"{i}/mode"]) for i in range(4)}
    for i in range(4):
        replace = int(data[f"{i}/mode"]) == 1
        white_ref = data[f"{i}/reference_masks"][r2.WHITE]  # frame slot 0 of the 28 channels
        white_drv = data[f"{i}/driving_masks"][r2.WHITE]
        assert bool(white_ref.any()) != replace and bool(white_drv.any()) == replace  # the environment kept is white
        assert data[f"{i}/driving_masks"][r2.BLUE].any()  # the one bound subject: slot 0, blue
    assert modes == {0, 1}  # samples 0-3 of tiny-r2: one replacement, three animations


def test_killed_r2_run_resumes_bit_identically(tmp_path):
    steps = ["--set", "steps=24"]
    assert_killed_run_resumes_bit_identically(tmp_path, *SMALL, *steps)


@pytest.mark.parametrize("engine", ["ddp", "fsdp"])
def test_two_torchrun_processes_match_one_process(tmp_path, engine):
    """Each rank takes its share of a one-mode global batch; losses and weights match one process."""
    steps = ["--set", "steps=4", "--set", f"fsdp={'true' if engine == 'fsdp' else 'false'}"]
    assert_torchrun_matches_one_process(tmp_path, *SMALL, *steps)


def test_card_round_trips_the_r2_settings(tmp_path):
    config = get_config("tiny-r2", steps=1, data={"samples": 2},
                        r2={"slots": 3, "mode_rope": False, "switch": False, "driving_resolution": "full"})
    Trainer(config, tmp_path / "run", progress=False).train()
    model = tmp_path / "run" / "export" / "model"
    card = json.loads((model / "kinema.json").read_text())
    assert card["recipe"] == "scail-2" and card["driving"] == "rgb"
    animator = ScailAnimator.load(str(model))
    assert animator.recipe == config.r2.recipe()
    assert animator.recipe == r2.R2Config(slots=3, driving_resolution="full", switch=False, mode_rope=False)
    transformer = animator.components.transformer
    assert transformer.config.in_channels == 16 + 4  # SCAIL-2's 20: no I2V y channels
    assert hasattr(transformer, r2.POSE_EMBEDDING) and transformer.patch_embedding_mask.in_channels == r2.MASK_DIM
    with pytest.raises(KinemaInputError, match="half"):
        ScailAnimator.load(str(model), driving_resolution="half")


def test_trained_embeddings_are_saved_and_reloaded(trained):
    """The driving and mask embeddings learned and come back from the exported transformer (diffusers drops them)."""
    animator = ScailAnimator.load(str(trained / "export" / "model"))
    transformer = animator.components.transformer
    saved = load_file(trained / "export" / "model" / "transformer" / "diffusion_pytorch_model.safetensors")
    for name in (r2.POSE_EMBEDDING, r2.MASK_EMBEDDING):
        torch.testing.assert_close(getattr(transformer, name).weight, saved[f"{name}.weight"].float())
    assert saved["patch_embedding_mask.weight"].abs().sum() > 0  # trained from zero


def _replace(sample, tmp_path: Path, *model_args: str) -> Path:
    """``kinema replace`` on a training sample's reference and driving clip, with its masks as files."""
    write_video(tmp_path / "driving.mp4", sample.driving, 16.0)
    np.savez(tmp_path / "masks.npz", masks=sample.driving_masks > 0.5)
    np.savez(tmp_path / "ref_mask.npz", masks=sample.reference_masks[:, :1] > 0.5)
    Image.fromarray(sample.references[0]).save(tmp_path / "ref.png")
    out = tmp_path / "out.mp4"
    assert main(["replace", "--reference", str(tmp_path / "ref.png"), "--reference-masks", str(tmp_path / "ref_mask.npz"),
                 "--driving", str(tmp_path / "driving.mp4"), "--masks", str(tmp_path / "masks.npz"),
                 *model_args, "--out", str(out), "--steps", "2"]) == 0
    assert read_video(out).frames.shape == (9, 32, 32, 3)
    return out


def test_exported_model_runs_kinema_replace(trained, tmp_path):
    out = _replace(make_sample(0, get_config("tiny-r2")), tmp_path, "--model", str(trained / "export" / "model"))
    settings = json.loads(out.with_suffix(".json").read_text())
    assert settings["recipe"]["slots"] == 2 and settings["mode"] == "replace"
    with pytest.raises(KinemaInputError, match="SCAIL-2"):  # not a pose-driven model
        Animator.load(str(trained / "export" / "model"))
    with pytest.raises(KinemaInputError, match="pose-driven DreamActor-M2"):  # and the reverse
        ScailAnimator.load("embedded")


def test_lora_run_ships_its_card_and_embeddings_to_kinema_replace(tmp_path):
    config = get_config("tiny-r2", steps=2, data={"samples": 4}, adapter="ffn", lora_rank=4, optim={"lr": 1e-2})
    export = Trainer(config, tmp_path / "run", progress=False).train().run.export
    card = json.loads((export / "kinema.json").read_text())
    assert card["patch_embedding"] == "patch_embedding.safetensors" and card["r2"]["slots"] == 2
    trained = load_file(export / "patch_embedding.safetensors")
    assert trained["patch_embedding.weight"].shape[1] == 20  # narrowed from the tiny I2V preset's 36
    assert trained["patch_embedding_mask.weight"].abs().sum() > 0  # added at zero, learned with the adapter
    animator = ScailAnimator.load("tiny", adapters=[export / "lora.safetensors"])
    assert animator.recipe.slots == 2  # from the adapter's card, not the released default of 6
    transformer = animator.components.transformer
    for name in ("patch_embedding", r2.POSE_EMBEDDING, r2.MASK_EMBEDDING):
        assert torch.equal(getattr(transformer, name).weight, trained[f"{name}.weight"])

    out = _replace(make_sample(0, config), tmp_path, "--model", "tiny", "--adapter", str(export / "lora.safetensors"))
    assert json.loads(out.with_suffix(".json").read_text())["recipe"]["slots"] == 2


@pytest.mark.parametrize("r2_values, match", [
    ({"slots": 1, "characters": 2, "replace_fraction": 0.0}, "characters"),
    ({"characters": 2}, "replace_fraction"),
    ({"replace_fraction": 1.5}, "replace_fraction"),
    ({"slots": 0}, "slots"),
    ({"slots": 7}, "slots"),
    ({"driving_resolution": "quarter"}, "driving_resolution"),
])
def test_bad_r2_config_is_named(r2_values, match):
    with pytest.raises(KinemaInputError, match=match):
        get_config("tiny-r2", r2=r2_values)


def test_bad_r2_override_on_the_cli_exits_2(tmp_path, capsys):
    assert main(["train", "--preset", "tiny-r2", "--out", str(tmp_path / "run"), "--set", "r2.slots=0"]) == 2
    assert "slots" in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_puppet_r2_preset_warm_starts_from_the_embedded_model():
    config = get_config("puppet-r2")
    assert config.recipe == "scail-2" and config.model == "embedded"
    assert config.data.size == (64, 64) and config.data.frames == 17
    components, random_init = load_backbone(config)
    before = components.transformer.patch_embedding.weight.detach().clone()  # (D, C_in, 1, 2, 2), R1's aligned layout
    prepare_transformer(components, config, get_recipe(config))
    transformer = components.transformer
    channels = components.codec.channels + 4
    assert not random_init and transformer.patch_embedding.weight.shape[1] == channels
    assert torch.equal(transformer.patch_embedding.weight, before[:, :channels])  # noisy latent + I2V mask kept
    assert torch.equal(transformer.patch_embedding_pose.weight, before[:, :channels])  # driving starts as video
    assert not transformer.patch_embedding_mask.weight.any() and not transformer.patch_embedding_mask.bias.any()
    assert config.prediction == model_card("embedded")["prediction"]


def test_r2_eval_method_scores_a_replace_case(trained, tmp_path):
    out = tmp_path / "eval"
    assert main(["eval", "--benchmark", "puppet-replace", "--method", "r2", "--model", str(trained / "export" / "model"),
                 "--cases", "1", "--steps", "1", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["aggregates"]["r2"]["psnr"]["mean"] is not None


def test_list_overrides_become_tuples():
    config = get_config("tiny-r2", data={"size": [64, 64]})
    assert config.data.size == (64, 64)


@pytest.mark.parametrize("r2_values, shapes", [
    ({"driving_resolution": "full"}, {"references": (20, 1, 4, 4), "driving": (20, 3, 4, 4), "driving_masks": (28, 3, 4, 4)}),
    ({"characters": 2, "replace_fraction": 0.0}, {"references": (20, 2, 4, 4), "driving": (20, 3, 2, 2),
                                                  "reference_masks": (28, 2, 4, 4)}),
])
def test_r2_variants_train(tmp_path, r2_values, shapes):
    """Full-resolution driving and two bound characters (multi triplets: K = 2 references) train end to end."""
    trainer = Trainer(get_config("tiny-r2", steps=1, data={"samples": 2}, r2=r2_values), tmp_path / "run", progress=False)
    assert {k: tuple(trainer.data[0][k].shape) for k in shapes} == shapes
    assert np.isfinite(trainer.train().losses[0])


def test_block_attention_model_trains_and_replace_embeds_its_conditions_once_per_branch(tmp_path, monkeypatch):
    """r2.attention=block: fine-tuned from a full-attention model, recorded in the card, and sampled with the
    condition cache (the driving is embedded once per text branch and window, not at every step)."""
    config = get_config("tiny-r2", steps=2, data={"samples": 2}, r2={"attention": "block"})
    Trainer(config, tmp_path / "run", progress=False).train()
    export = tmp_path / "run" / "export" / "model"
    assert json.loads((export / "kinema.json").read_text())["r2"]["attention"] == "block"
    animator = ScailAnimator.load(str(export))
    assert animator.recipe.attention == "block"
    calls = []
    original = r2.forward_segments

    def counting(model, segments, *args, **kwargs):
        cache = kwargs.get("cache", args[3] if len(args) > 3 else None)
        calls.append(cache is not None and cache.memory is None)  # True: this call fills a cache
        return original(model, segments, *args, **kwargs)

    monkeypatch.setattr(r2, "forward_segments", counting)
    out = _replace(make_sample(0, config), tmp_path, "--model", str(export), "--guidance", "2")
    assert len(calls) == 2 * 2 and sum(calls) == 2  # 2 steps x 2 branches; each branch's first call fills its cache
    assert json.loads(out.with_suffix(".json").read_text())["recipe"]["attention"] == "block"
