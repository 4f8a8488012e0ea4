"""The flow-matching trainer: learning, exact resume after a kill, distributed equivalence, export."""

import dataclasses
import json

import pytest
import torch

from kinema.cli.main import main
from kinema.training.config import config_from_dict, get_config
from kinema.training.flow import NUM_TRAIN_TIMESTEPS, flow_loss, loss_pair, noisy_latents
from kinema.backbone.components import build_components
from kinema.backbone.config import get_preset
from kinema.training.data import batch_indices, encode_sample, encode_samples, make_sample, stack
from kinema.training.trainer import Trainer, learning_rate

from tests.training.runs import (assert_killed_run_resumes_bit_identically, assert_torchrun_matches_one_process, losses,
                                 train_cli, weights)

SMALL = ["--set", "data.samples=4", "--set", "batch_size=4", "--set", "checkpoint_every=2"]


def _fixed_batch_loss(trainer: Trainer) -> float:
    """Loss on samples 0-1 with fixed noise and σ = 0.5 (no gradient), on what the model denoises."""
    samples, cpu = trainer.data[:2], torch.device("cpu")
    x0, anchor = stack(samples, "x0", cpu), trainer.recipe.anchor(samples, cpu)
    x0 = x0 if anchor is None else x0 - anchor
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(123))
    sigma = torch.full((2,), 0.5)
    x_t, _ = noisy_latents(x0, noise, sigma)
    with torch.no_grad():
        output = trainer.model(x_t, sigma * NUM_TRAIN_TIMESTEPS, stack(samples, "condition", cpu), stack(samples, "text", cpu))
    pred, target = loss_pair(output, x_t, x0, noise, sigma, trainer.config.prediction, trainer.config.flow)
    return float(flow_loss(pred, target, int(samples[0]["character_width"])).mean())


@pytest.mark.parametrize("prediction,anchor,layout", [("velocity", "none", "spatial"), ("sample", "none", "spatial"),
                                                      ("sample", "reference", "spatial"), ("sample", "reference", "aligned"),
                                                      ("preconditioned", "reference", "aligned")])
def test_tiny_preset_lowers_the_loss_on_a_fixed_batch(tmp_path, prediction, anchor, layout):
    config = get_config("tiny", steps=30, data={"samples": 2}, optim={"lr": 2e-3}, prediction=prediction, anchor=anchor,
                        layout=layout)
    trainer = Trainer(config, tmp_path / "run", progress=False)
    before = _fixed_batch_loss(trainer)
    trainer.train()
    after = _fixed_batch_loss(trainer)
    assert after < 0.8 * before, (before, after)
    assert config_from_dict(json.loads((tmp_path / "run" / "config.json").read_text())) == config
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 31))


def test_data_order_is_a_seeded_permutation_per_epoch():
    config = get_config("tiny", data={"samples": 6}, batch_size=3)
    epoch = batch_indices(config, 0) + batch_indices(config, 1)
    assert sorted(epoch) == list(range(6))
    assert batch_indices(config, 0) == batch_indices(config, 0)


def test_samples_drawn_by_worker_processes_are_the_samples_drawn_by_one(tmp_path):
    # the cache of a run with --workers 2 holds exactly the latents of one drawing its samples itself
    one = Trainer(get_config("tiny", steps=0, data={"samples": 5}), tmp_path / "one", progress=False)
    two = Trainer(get_config("tiny", steps=0, data={"samples": 5}), tmp_path / "two", progress=False, workers=2)
    assert [sorted(s) for s in one.data] == [sorted(s) for s in two.data]
    assert all(torch.equal(a[k], b[k]) for a, b in zip(one.data, two.data) for k in a)
    assert len({s["x0"].sum().item() for s in one.data}) == 5  # five different samples, not one repeated


def test_samples_encoded_together_are_the_samples_encoded_one_by_one():
    config = get_config("tiny", data={"samples": 3}, layout="aligned")
    components = build_components(get_preset("tiny"), seed=0)
    samples = [make_sample(i, config.data) for i in range(3)]
    together = encode_samples(components, samples, "aligned")
    for sample, batched in zip(samples, together):
        alone = encode_sample(components, sample, "aligned")
        assert sorted(alone) == sorted(batched)
        assert all(torch.allclose(alone[k], batched[k], atol=1e-5) for k in alone)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_run_keeps_its_samples_on_the_gpu_and_repeats_exactly(tmp_path):
    config = get_config("tiny", steps=6, data={"samples": 4}, batch_size=2)
    first = Trainer(config, tmp_path / "a", progress=False)
    assert all(v.is_cuda for s in first.data for v in s.values())
    losses_a = first.train().losses
    assert losses_a == pytest.approx(Trainer(config, tmp_path / "b", progress=False).train().losses, rel=1e-4)
    assert losses_a[-1] < losses_a[0]

def test_killed_run_resumes_bit_identically(tmp_path):
    steps = ["--set", "steps=40"]
    assert_killed_run_resumes_bit_identically(tmp_path, *SMALL, *steps)
    kept = sorted(p.name for p in (tmp_path / "killed" / "checkpoints").iterdir())
    assert kept == ["step-00000038", "step-00000040"]  # keep_checkpoints=2, no temporaries left


def test_learning_rate_warms_up_holds_and_decays_to_zero():
    config = get_config("tiny", steps=10, optim={"lr": 1.0, "warmup_steps": 2, "decay_steps": 4})
    assert [learning_rate(config, s) for s in range(10)] == pytest.approx([0.5, 1, 1, 1, 1, 1, 1, 0.75, 0.5, 0.25])


def test_a_finished_run_extended_with_a_decay_matches_a_straight_run(tmp_path):
    tail = ["--set", "steps=8", "--set", "optim.decay_steps=4"]
    assert train_cli(tmp_path / "straight", *SMALL, *tail).wait() == 0
    assert train_cli(tmp_path / "extended", *SMALL, "--set", "steps=4").wait() == 0
    assert train_cli(tmp_path / "extended", "--resume", *SMALL, *tail).wait() == 0
    assert losses(tmp_path / "extended") == losses(tmp_path / "straight")
    straight, extended = weights(tmp_path / "straight"), weights(tmp_path / "extended")
    assert all(torch.equal(straight[k], extended[k]) for k in straight)


@pytest.mark.parametrize("engine", ["ddp", "fsdp"])
def test_two_torchrun_processes_match_one_process(tmp_path, engine):
    steps = ["--set", "steps=4", "--set", f"fsdp={'true' if engine == 'fsdp' else 'false'}"]
    assert_torchrun_matches_one_process(tmp_path, *SMALL, *steps)


def test_existing_run_needs_resume_and_bad_overrides_are_named(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", "--out", out, "--no-progress", "--set", "steps=1", *SMALL]) == 0
    assert main(["train", "--out", out, "--no-progress", "--set", "steps=1", *SMALL]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "b"), "--set", "nonsense=1"]) == 2
    assert main(["train", "--out", str(tmp_path / "c"), "--set", "batch_size=3", "--set", "grad_accum=2"]) == 2
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("override,named", [
    ("steps=abc", "steps 'abc': is not int"), ("optim.lr=NaN", "optim.lr nan: is not a finite number"),
    ("optim.lr=-1", "optim.lr -1: must be positive"), ("data.size=abc", "data.size 'abc'"),
    ("data.size=[0,0]", "data.size (0, 0): must be"), ("data.families=quadruped", "data.families 'quadruped'"),
    ("adapter=lora", "adapter 'lora': is not one of"), ("lora_rank=0", "lora_rank 0: must be at least 1"),
    ("ema_decay=2", "ema_decay 2: must be in [0, 1)"), ("text_dropout=5", "text_dropout 5"),
    ("flow.shift=-1", "flow.shift -1: must be positive"), ("data.augment.bone_scale_prob=2", "bone_scale_prob"),
    ("data=5", "data 5: is not DataConfig"), ("model=nosuch", "model 'nosuch'"),
    ("prediction=epsilon", "prediction 'epsilon'"), ("anchor=driving", "anchor 'driving'"),
    ("flow.loss=preconditioned", "flow.loss 'preconditioned'"), ("flow.sigma_data=0", "flow.sigma_data 0"),
])
def test_absurd_settings_are_named_before_anything_is_written(tmp_path, capsys, override, named):
    assert main(["train", "--out", str(tmp_path / "run"), "--set", override]) == 2
    err = capsys.readouterr().err
    assert named in err and err.count(". ") <= 2, err  # one message, one fix
    assert not (tmp_path / "run").exists()


def test_unreadable_latents_cache_and_resume_with_nothing_to_resume(tmp_path, capsys):
    (tmp_path / "cache.safetensors").write_text("not tensors")
    assert main(["train", "--out", str(tmp_path / "run"), "--latents", str(tmp_path / "cache.safetensors"), *SMALL]) == 2
    assert "latents cache" in capsys.readouterr().err and not (tmp_path / "run").exists()
    assert (tmp_path / "cache.safetensors").read_text() == "not tensors"  # the user's file is left alone
    assert main(["train", "--out", str(tmp_path / "run"), "--resume", "--no-progress", "--set", "steps=1", *SMALL]) == 0
    assert "no checkpoint to resume" in capsys.readouterr().err


def test_nested_overrides_reach_the_pose_augmentation():
    config = get_config("puppet", data={"samples": 3, "augment": {"bone_scale_prob": 0.0}})
    assert config.data.samples == 3 and config.data.augment.bone_scale_prob == 0.0
    assert not config.data.augment.bbox_normalize and config.data.recipe == "oracle" and config.data.size == (64, 64)


def test_lora_run_exports_an_adapter_that_animate_loads_with_its_card(tmp_path):
    from kinema.pipelines.dreamactor_m2 import Animator

    config = get_config("tiny", steps=2, data={"samples": 2}, adapter="ffn", lora_rank=4, optim={"lr": 1e-2})
    trainer = Trainer(config, tmp_path / "run", progress=False)
    frozen = {n: p.detach().clone() for n, p in trainer.components.transformer.named_parameters() if "lora" not in n}
    export = trainer.train().run.export
    assert all(torch.equal(p, frozen[n]) for n, p in trainer.components.transformer.named_parameters() if n in frozen)
    assert sorted(p.name for p in export.iterdir()) == ["kinema.json", "lora.safetensors"]  # 36 channels: not widened
    base, tuned = Animator.load("tiny"), Animator.load("tiny", adapters=[export / "lora.safetensors"])
    assert tuned.pose_driven and not base.pose_driven  # the card beside the adapter says how to drive it
    lora_b = [p for n, p in tuned.components.transformer.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)


def test_half_precision_export_loads_back_in_float32(tmp_path):
    from safetensors import safe_open

    from kinema.pipelines.dreamactor_m2 import Animator

    config = get_config("tiny", steps=1, data={"samples": 2}, export_dtype="float16")
    model = Trainer(config, tmp_path / "run", progress=False).train().run.export / "model"
    with safe_open(next((model / "transformer").glob("*.safetensors")), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F16"}
    animator = Animator.load(str(model))
    assert {p.dtype for p in animator.components.transformer.parameters()} == {torch.float32}


def test_aligned_model_animates_with_its_own_layout_and_refuses_another(tmp_path, capsys):
    """The card's layout is the default at inference; a layout the model has no inputs for is a named error."""
    import numpy as np
    from PIL import Image

    from kinema.io import read_video, write_video

    model = tmp_path / "run" / "export" / "model"
    assert main(["train", "--out", str(tmp_path / "run"), "--no-progress", "--set", "steps=2", "--set", "layout=aligned",
                 *SMALL]) == 0
    assert json.loads((model / "kinema.json").read_text())["layout"] == "aligned"
    rng = np.random.default_rng(0)
    write_video(tmp_path / "skeleton.mp4", rng.integers(0, 255, (9, 32, 32, 3), dtype=np.uint8))
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(tmp_path / "ref.png")
    args = ["animate", "--reference", str(tmp_path / "ref.png"), "--driving", str(tmp_path / "skeleton.mp4"),
            "--model", str(model), "--steps", "2", "--pose-backend", "none"]
    assert main([*args, "--out", str(tmp_path / "own.mp4")]) == 0
    assert json.loads((tmp_path / "own.json").read_text())["layout"] == "aligned"
    assert read_video(tmp_path / "own.mp4").frames.shape[1:3] == (32, 32)
    assert main([*args, "--out", str(tmp_path / "other.mp4"), "--layout", "spatial"]) == 2
    err = capsys.readouterr().err
    assert "--layout spatial" in err and "Use --layout aligned" in err and not (tmp_path / "other.mp4").exists()


def test_reference_pose_model_takes_the_reference_keypoints_or_names_the_missing_input(tmp_path, capsys):
    """data.reference_pose: driving frame 0 is the reference's own skeleton in training, and at inference
    from --reference-pose (or the pose backend); a model trained so refuses to run without it."""
    import numpy as np
    from PIL import Image

    from kinema.io import write_video
    from kinema.puppet import make_triplet
    from kinema.training.data import make_sample

    data = get_config("tiny", data={"recipe": "oracle"}).data
    plain, with_pose = make_sample(0, data), make_sample(0, dataclasses.replace(data, reference_pose=True))
    assert np.array_equal(plain.driving[1:], with_pose.driving[1:]) and plain.driving[0].max() == 0  # lead-in
    assert with_pose.driving[0].max() > 0 and np.array_equal(plain.reference, with_pose.reference)

    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--no-progress", "--set", "steps=1", "--set", "data.reference_pose=true",
                 *SMALL]) == 0
    model = out / "export" / "model"
    assert json.loads((model / "kinema.json").read_text())["reference_pose"] is True
    triplet = make_triplet("animate", 5)
    Image.fromarray(triplet.reference_images[0]).save(tmp_path / "ref.png")
    triplet.references[0].keypoints[0].save(tmp_path / "ref_pose.npz")
    triplet.driving.keypoints[0].save(tmp_path / "drv_pose.npz")
    write_video(tmp_path / "driving.mp4", triplet.driving.frames)
    args = ["animate", "--reference", str(tmp_path / "ref.png"), "--driving", str(tmp_path / "driving.mp4"),
            "--model", str(model), "--steps", "1", "--driving-pose", str(tmp_path / "drv_pose.npz")]
    assert main([*args, "--out", str(tmp_path / "given.mp4"), "--reference-pose", str(tmp_path / "ref_pose.npz")]) == 0
    assert json.loads((tmp_path / "given.json").read_text())["reference_pose"] == str(tmp_path / "ref_pose.npz")
    assert main([*args, "--out", str(tmp_path / "estimated.mp4")]) == 0  # the puppet pose estimator finds it
    assert main([*args, "--out", str(tmp_path / "none.mp4"), "--pose-backend", "none"]) == 2
    err = capsys.readouterr().err
    assert "reference image's keypoints" in err and "--reference-pose" in err and not (tmp_path / "none.mp4").exists()


def test_preconditioned_model_samples_with_the_sigma_data_of_its_card(tmp_path):
    """σ_d is part of what the weights mean: the card records it, inference reads it, a bad one is named."""
    import numpy as np

    from kinema.errors import KinemaInputError
    from kinema.pipelines.dreamactor_m2 import AnimateConfig, Animator
    from kinema.sampling import SamplerConfig

    config = get_config("tiny", steps=2, data={"samples": 2}, prediction="preconditioned", flow={"sigma_data": 0.2})
    model = Trainer(config, tmp_path / "run", progress=False).train().run.export / "model"
    card = json.loads((model / "kinema.json").read_text())
    assert (card["prediction"], card["sigma_data"]) == ("preconditioned", 0.2)
    rng = np.random.default_rng(0)
    reference, driving = (rng.integers(0, 255, shape, dtype=np.uint8) for shape in ((32, 32, 3), (9, 32, 32, 3)))
    frames = Animator.load(str(model))(reference, driving, AnimateConfig(sampler=SamplerConfig(steps=2, guidance=1.0)), progress=False).frames
    card["sigma_data"] = 0.5
    (model / "kinema.json").write_text(json.dumps(card))
    assert not np.array_equal(Animator.load(str(model))(reference, driving, AnimateConfig(sampler=SamplerConfig(steps=2, guidance=1.0)), progress=False).frames,
                              frames)
    card["sigma_data"] = "big"
    (model / "kinema.json").write_text(json.dumps(card))
    with pytest.raises(KinemaInputError, match="sigma_data"):
        Animator.load(str(model))


def test_a_fine_tune_keeps_its_bases_sampling_settings(tmp_path):
    """The embedded model's card chose 2 steps, guidance 1 and flow shift 8 by evaluation; a model fine-tuned from
    it must not fall back to 30 steps at guidance 5 (a fine-tune that looked 1 dB worse for that alone)."""
    base = Trainer(get_config("tiny", steps=1), tmp_path / "base", progress=False)
    base.train()
    card_path = base.run.export / "model" / "kinema.json"
    card = json.loads(card_path.read_text())
    card.update(sampling_steps=2, guidance=1.0, flow_shift=8.0)
    card_path.write_text(json.dumps(card))
    tuned = Trainer(get_config("tiny", steps=1, model=str(base.run.export / "model")), tmp_path / "tuned",
                    progress=False)
    tuned.train()
    card = json.loads((tuned.run.export / "model" / "kinema.json").read_text())
    assert (card["sampling_steps"], card["guidance"], card["flow_shift"]) == (2, 1.0, 8.0)
