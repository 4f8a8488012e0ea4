"""Wan2.2's mixture of experts: a high-noise and a low-noise transformer, switched at boundary_ratio."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from kinema.backbone.components import build_components, load_components
from kinema.backbone.config import get_preset
from kinema.cli.main import main
from kinema.errors import KinemaInputError
from kinema.pipelines.dreamactor_m2 import AnimateConfig, Animator
from kinema.sampling import SamplerConfig


def _timesteps_seen(expert, seen):
    """Record the timesteps ``expert`` embeds (its condition embedder runs once per forward)."""
    def hook(_, args, kwargs):
        seen.append(float((args[0] if args else kwargs["timestep"]).flatten()[0]))
    return expert.condition_embedder.register_forward_pre_hook(hook, with_kwargs=True)


def test_each_step_goes_to_the_expert_of_its_noise_level():
    animator = Animator.load("tiny-moe")
    high, low = animator.components.experts
    assert any(not torch.equal(a, b) for a, b in zip(high.parameters(), low.parameters()))  # two different experts
    seen_high, seen_low = [], []
    hooks = [_timesteps_seen(high, seen_high), _timesteps_seen(low, seen_low)]
    rng = np.random.default_rng(0)
    reference, driving = rng.integers(0, 255, (32, 32, 3), np.uint8), rng.integers(0, 255, (5, 32, 32, 3), np.uint8)
    animator(reference, driving, AnimateConfig(sampler=SamplerConfig("euler", 8, 3.0, 1.0)), progress=False)
    for h in hooks:
        h.remove()
    assert seen_high and seen_low
    assert min(seen_high) >= 875 > max(seen_low)


def test_a_two_expert_directory_round_trips_and_a_missing_expert_is_named(tmp_path):
    built = build_components(get_preset("tiny-moe"), seed=0)
    built.save(tmp_path / "moe")
    loaded = load_components(tmp_path / "moe")
    assert loaded.boundary_ratio == 0.875
    assert all(torch.equal(a, b) for a, b in zip(built.transformer_2.state_dict().values(),
                                                 loaded.transformer_2.state_dict().values()))
    assert loaded.expert(900) is loaded.transformer and loaded.expert(874.9) is loaded.transformer_2
    built.transformer_2 = None  # a Wan2.1-style directory, then one that lost its low-noise expert
    built.save(tmp_path / "one")
    assert load_components(tmp_path / "one").transformer_2 is None
    (tmp_path / "one" / "model_index.json").write_text(json.dumps({"boundary_ratio": 0.9}))
    with pytest.raises(KinemaInputError, match="has no transformer_2/"):
        load_components(tmp_path / "one")


def test_a_two_expert_model_trains_one_named_expert(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "run"), "--set", "model=tiny-moe", "--set", "steps=1"]) == 2
    assert "--set expert=high or --set expert=low" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "run"), "--set", "expert=low", "--set", "steps=1"]) == 2
    assert "has one transformer" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_an_expert_trains_on_its_noise_range_drawn_from_the_truncated_distribution():
    from kinema.training.config import FlowConfig
    from kinema.training.flow import sample_sigmas

    flow = FlowConfig(shift=3.0)
    free = sample_sigmas(200_000, flow, torch.Generator().manual_seed(0))
    for low, high in ((0.875, 1.0), (0.0, 0.875)):
        drawn = sample_sigmas(20_000, flow, torch.Generator().manual_seed(1), (low, high))
        assert drawn.min() >= low and drawn.max() < high
        inside = free[(free >= low) & (free < high)]  # the untruncated draws that fall there: the same law
        quantiles = torch.tensor([0.1, 0.5, 0.9])
        assert torch.allclose(drawn.quantile(quantiles), inside.quantile(quantiles), atol=0.01)


@pytest.mark.parametrize("expert", ["high", "low"])
def test_an_experts_lora_exports_with_its_name_and_loads_into_that_expert_only(tmp_path, expert):
    from kinema.training.config import get_config
    from kinema.training.trainer import Trainer

    config = get_config("tiny", model="tiny-moe", expert=expert, steps=2, data={"samples": 2}, adapter="ffn", lora_rank=4,
                        optim={"lr": 1e-2})
    trainer = Trainer(config, tmp_path / "run", progress=False)
    assert trainer.interval == ((0.875, 1.0) if expert == "high" else (0.0, 0.875))
    export = trainer.train().run.export
    assert json.loads((export / "kinema.json").read_text())["expert"] == expert
    animator = Animator.load("tiny-moe", adapters=[export / "lora.safetensors"])
    high, low = animator.components.experts
    tuned, base = (high, low) if expert == "high" else (low, high)
    assert any("lora" in n for n, _ in tuned.named_parameters()) and not any("lora" in n for n, _ in base.named_parameters())


def test_a_full_expert_fine_tune_exports_the_whole_two_expert_model(tmp_path):
    from kinema.training.config import get_config
    from kinema.training.trainer import Trainer

    config = get_config("tiny", model="tiny-moe", expert="low", steps=2, data={"samples": 2}, optim={"lr": 1e-2})
    model = Trainer(config, tmp_path / "run", progress=False).train().run.export / "model"
    base, tuned = build_components(get_preset("tiny-moe")), load_components(model)
    assert tuned.boundary_ratio == 0.875
    assert all(torch.equal(a, b) for a, b in zip(base.transformer.state_dict().values(), tuned.transformer.state_dict().values()))
    assert not all(torch.equal(a, b) for a, b in zip(base.transformer_2.state_dict().values(),
                                                     tuned.transformer_2.state_dict().values()))


def test_adapters_must_name_an_expert_that_the_model_has(tmp_path):
    from kinema.backbone.lora import AdapterSpec, parse_adapter
    from kinema.training.config import get_config
    from kinema.training.trainer import Trainer

    assert parse_adapter("high:a/b.safetensors:0.5") == AdapterSpec(Path("a/b.safetensors"), 0.5, "high")
    assert str(parse_adapter("low:a.safetensors")) == "low:a.safetensors"
    config = get_config("tiny", steps=1, data={"samples": 2}, adapter="ffn", lora_rank=4)
    lora = Trainer(config, tmp_path / "run", progress=False).train().run.export / "lora.safetensors"
    with pytest.raises(KinemaInputError, match="does not say which expert"):
        Animator.load("tiny-moe", adapters=[lora])
    with pytest.raises(KinemaInputError, match="this model has one transformer"):
        Animator.load("tiny", adapters=[f"high:{lora}"])
    animator = Animator.load("tiny-moe", adapters=[f"high:{lora}", f"low:{lora}:0.5"])  # one file per expert
    assert all(any("lora" in n for n, _ in e.named_parameters()) for e in animator.components.experts)


def test_a_wan22_vae_of_48_channels_and_stride_16_animates_at_multiples_of_32():
    # Wan2.2-TI2V-5B's VAE layout in small: patch 2 inside the VAE (12 input channels), z 48, stride 16
    from diffusers import AutoencoderKLWan

    from kinema.backbone.codecs import WanVAECodec
    from kinema.backbone.config import TransformerConfig
    from kinema.recipes import dreamactor_m2 as r1

    vae = AutoencoderKLWan(base_dim=8, z_dim=48, dim_mult=[1, 1, 1, 1], num_res_blocks=1, is_residual=True,
                           patch_size=2, in_channels=12, out_channels=12, scale_factor_spatial=16,
                           latents_mean=[0.0] * 48, latents_std=[1.0] * 48).eval()
    codec = WanVAECodec(vae)
    assert (codec.channels, codec.spatial_stride) == (48, 16)
    preset = get_preset("tiny")
    channels = r1.in_channels(48, "spatial")  # nothing assumes Wan2.1's 16 latent channels
    components = build_components(replace(preset, transformer=TransformerConfig(in_channels=channels, out_channels=48)))
    components.codec = codec
    rng = np.random.default_rng(0)
    reference, driving = rng.integers(0, 255, (40, 40, 3), np.uint8), rng.integers(0, 255, (5, 40, 40, 3), np.uint8)
    result = Animator(components, random_weights=True)(reference, driving, AnimateConfig(sampler=SamplerConfig(
        "euler", 1, 3.0, 1.0)), progress=False)
    assert result.frames.shape == (5, 32, 32, 3)  # 40 rounds down to 32 = stride 16 x patch 2
    assert any("multiples of 32" in note for note in result.notes)
