"""Wan2.2-TI2V-5B's layout: 48-channel latents of its stride-16 VAE and a timestep per token (expand_timesteps)."""

import json

import numpy as np
import pytest
import torch

from kinema.backbone.components import build_components, load_components
from kinema.backbone.config import get_preset
from kinema.backbone.segments import forward_segments
from kinema.errors import KinemaInputError
from kinema.pipelines.dreamactor_m2 import AnimateConfig, Animator
from kinema.pipelines.scail2 import ScailAnimator
from kinema.recipes import scail2 as r2
from kinema.sampling import SamplerConfig
from kinema.training.config import get_config
from kinema.training.trainer import Trainer


def _embedded_timesteps(transformer, seen):
    """Record what the condition embedder gets: the timesteps and their per-token sequence length."""
    def hook(_, args, kwargs):
        seen.append((args[0].clone(), kwargs.get("timestep_seq_len")))
    return transformer.condition_embedder.register_forward_pre_hook(hook, with_kwargs=True)


def test_the_tiny_ti2v_preset_has_wan22s_layout_and_its_directory_round_trips(tmp_path):
    built = build_components(get_preset("tiny-ti2v"))
    assert (built.codec.channels, built.codec.spatial_stride, built.is_i2v, built.expand_timesteps) == (48, 16, False, True)
    built.save(tmp_path / "ti2v")
    assert json.loads((tmp_path / "ti2v" / "model_index.json").read_text()) == {"expand_timesteps": True}
    loaded = load_components(tmp_path / "ti2v")
    video = torch.rand(1, 3, 5, 32, 32) * 2 - 1
    assert loaded.expand_timesteps and torch.equal(loaded.codec.encode(video), built.codec.encode(video))
    build_components(get_preset("tiny")).save(tmp_path / "wan21")
    assert not (tmp_path / "wan21" / "model_index.json").exists()
    assert not load_components(tmp_path / "wan21").expand_timesteps

    index = tmp_path / "ti2v" / "model_index.json"
    index.write_text(json.dumps({"_class_name": "WanPipeline", "boundary_ratio": None, "expand_timesteps": "yes"}))
    with pytest.raises(KinemaInputError, match="expand_timesteps 'yes' in model_index.json"):
        load_components(tmp_path / "ti2v")
    index.write_text("[1, 2]")
    with pytest.raises(KinemaInputError, match="unreadable model_index.json"):
        load_components(tmp_path / "ti2v")


def test_r1_animates_on_the_ti2v_layout():
    animator = Animator.load("tiny-ti2v")
    rng = np.random.default_rng(0)
    reference, driving = rng.integers(0, 255, (32, 32, 3), np.uint8), rng.integers(0, 255, (5, 32, 32, 3), np.uint8)
    result = animator(reference, driving, AnimateConfig(sampler=SamplerConfig("euler", 2, 3.0, 1.0)), progress=False)
    assert result.frames.shape == (5, 32, 32, 3)
    assert animator.components.transformer.config.in_channels == 48 + 4 + 48  # widened from TI2V's 48 latents


def _r2_inputs(components):
    rng = torch.Generator().manual_seed(0)
    references = torch.rand(1, 1, 3, 64, 64, generator=rng) * 2 - 1
    driving = torch.rand(1, 3, 5, 64, 64, generator=rng) * 2 - 1
    reference_masks, driving_masks = torch.zeros(1, 1, 1, 64, 64), torch.zeros(1, 1, 5, 64, 64)
    reference_masks[..., 16:48, 20:44] = driving_masks[..., 16:48, 24:40] = 1
    return r2.build_inputs(components, references, driving, reference_masks, driving_masks, "replace")


@pytest.mark.parametrize("preset, clean", [("tiny-ti2v", True), ("tiny", False)])
def test_r2_conditions_take_timestep_zero_on_a_per_token_timestep_base_only(preset, clean):
    components = build_components(get_preset(preset))
    r2.prepare_transformer(components.transformer, components.codec.channels)
    inputs = _r2_inputs(components)
    assert inputs.clean_conditions is clean
    noisy = torch.randn(inputs.latent_shape)
    segments = r2.segments(inputs, noisy, torch.tensor([700.0]))
    seen = []
    hook = _embedded_timesteps(components.transformer, seen)
    with torch.no_grad():
        forward_segments(components.transformer, segments, torch.randn(1, 512, 32))
    hook.remove()
    (timestep, seq_len), = seen
    if not clean:  # the released model: one timestep for every token, diffusers' stock path
        assert seq_len is None and timestep.tolist() == [700.0]
        return
    sizes = [len(s.latents[0, 0].flatten()) // 4 for s in segments]  # tokens: patch 1 x 2 x 2
    assert seq_len == sum(sizes)
    references, video, driving = timestep.split(sizes)
    assert (references == 0).all() and (driving == 0).all() and (video == 700).all()


def test_lora_training_on_the_ti2v_layout_runs_with_both_recipes(tmp_path):
    r1 = get_config("tiny", model="tiny-ti2v", steps=2, data={"samples": 2}, adapter="ffn", lora_rank=4)
    export = Trainer(r1, tmp_path / "r1", progress=False).train().run.export
    assert Animator.load("tiny-ti2v", adapters=[export / "lora.safetensors"]).pose_driven

    config = get_config("tiny-r2", model="tiny-ti2v", steps=2, data={"samples": 2, "size": [64, 64], "frames": 5},
                        adapter="ffn", lora_rank=4)
    trainer = Trainer(config, tmp_path / "r2", progress=False)
    assert trainer.recipe.clean_conditions  # trained as it samples: conditions at t = 0
    export = trainer.train().run.export
    animator = ScailAnimator.load("tiny-ti2v", adapters=[export / "lora.safetensors"])
    assert animator.components.transformer.patch_embedding.in_channels == 48 + 4


def test_the_memory_plan_reads_wan22s_vae_stride_from_the_preset_and_from_a_directory(tmp_path):
    from kinema.pipelines.memory import activation_bytes, memory_plan

    plan = memory_plan("wan2.2-ti2v-5b", (1280, 704), 121, torch.bfloat16)
    assert plan.parameters["transformer"] == pytest.approx(5.0e9, rel=0.01) and "image_encoder" not in plan.parameters
    tokens = 31 * (704 // 32) * (1280 // 32)  # latent frames x (H / 16 / 2) x (W / 16 / 2)
    assert plan.activations == tokens * (14336 + 6 * 3072) * 2
    build_components(get_preset("tiny-ti2v")).save(tmp_path / "ti2v")
    assert activation_bytes(str(tmp_path / "ti2v"), (64, 64), 5, 4) == activation_bytes("tiny-ti2v", (64, 64), 5, 4) > 0
