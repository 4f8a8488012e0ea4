"""Widening the patch embedding and LoRA adapters round-tripping through diffusers."""

from pathlib import Path

import pytest
import torch
from diffusers import WanImageToVideoPipeline, WanPipeline, WanTransformer3DModel
from safetensors.torch import save_file

from kinema.backbone.components import build_components
from kinema.backbone.config import PRESETS, get_preset
from kinema.backbone.lora import LORA_TARGETS, add_lora, load_lora, lora_config, save_lora
from kinema.backbone.segments import Segment, forward_segments
from kinema.backbone.widen import widen_patch_embedding
from kinema.errors import KinemaInputError
from tests.core.conftest import inputs


@torch.no_grad()
def test_widening_leaves_output_unchanged_and_reloads(tmp_path):
    components = build_components(get_preset("tiny-t2v"), seed=3)
    model = components.transformer
    x, t, text, _ = inputs(components)
    before = forward_segments(model, [Segment(x, t)], text)[0]
    widen_patch_embedding(model, 36)
    for extra in (torch.zeros(2, 20, 3, 8, 12), 100 * torch.randn(2, 20, 3, 8, 12)):
        after = forward_segments(model, [Segment(torch.cat([x, extra], 1), t)], text)[0]
        assert torch.equal(before, after)
    assert model.state_dict().keys() == WanTransformer3DModel(**model.config).state_dict().keys()
    model.save_pretrained(tmp_path)
    reloaded = WanTransformer3DModel.from_pretrained(tmp_path)
    assert reloaded.config.in_channels == 36
    torch.testing.assert_close(reloaded.patch_embedding.weight, model.patch_embedding.weight, rtol=0, atol=0)


def _randomise_lora(model):
    g = torch.Generator().manual_seed(7)
    for name, param in model.named_parameters():
        if "lora_B" in name:
            param.data.copy_(torch.randn(param.shape, generator=g) * 0.1)


@pytest.mark.parametrize("preset,pipeline", [("tiny-t2v", WanPipeline), ("tiny-i2v", WanImageToVideoPipeline)])
@torch.no_grad()
def test_lora_saved_by_kinema_loads_in_diffusers_pipeline(tmp_path, preset, pipeline):
    components = build_components(get_preset(preset), seed=1)
    x, t, text, image = inputs(components)
    base = forward_segments(components.transformer, [Segment(x, t)], text, image)[0]
    add_lora(components.transformer, lora_config("attn_ffn", rank=4))
    _randomise_lora(components.transformer)
    ours = forward_segments(components.transformer, [Segment(x, t)], text, image)[0]
    assert (ours - base).abs().max() > 1e-3
    path = save_lora(components.transformer, tmp_path / "adapter.safetensors")

    fresh = build_components(get_preset(preset), seed=1)
    extra = {"image_encoder": fresh.image_encoder, "image_processor": fresh.image_processor} if fresh.is_i2v else {}
    pipe = pipeline(tokenizer=fresh.tokenizer, text_encoder=fresh.text_encoder, vae=fresh.codec.vae,
                    transformer=fresh.transformer, scheduler=None, **extra)
    pipe.load_lora_weights(str(path))
    theirs = pipe.transformer(x, t, text, image).sample
    assert (ours - theirs).abs().max() <= 1e-5

    again = build_components(get_preset(preset), seed=1).transformer
    load_lora(again, path)
    assert (forward_segments(again, [Segment(x, t)], text, image)[0] - ours).abs().max() <= 1e-5


def test_ffn_preset_targets_exactly_the_feed_forward_layers():
    model = build_components(get_preset("tiny")).transformer
    add_lora(model, lora_config("ffn", rank=2))
    wrapped = {name.rsplit(".lora_A", 1)[0] for name, _ in model.named_modules() if name.endswith("lora_A")}
    expected = {f"blocks.{i}.{target}" for i in range(len(model.blocks)) for target in LORA_TARGETS["ffn"]}
    assert wrapped == expected


def test_load_lora_rejects_missing_pickle_corrupt_and_foreign_files(tmp_path):
    model = build_components(get_preset("tiny")).transformer
    with pytest.raises(KinemaInputError, match="not found"):
        load_lora(model, tmp_path / "missing.safetensors")
    (tmp_path / "adapter.bin").write_bytes(b"\x80\x04")
    with pytest.raises(KinemaInputError, match="safetensors"):
        load_lora(model, tmp_path / "adapter.bin")
    (tmp_path / "text.safetensors").write_text("not a tensor file")
    with pytest.raises(KinemaInputError, match="not a readable safetensors"):
        load_lora(model, tmp_path / "text.safetensors")
    save_file({"encoder.weight": torch.zeros(2)}, tmp_path / "weights.safetensors")  # valid, but no LoRA
    with pytest.raises(KinemaInputError, match="no LoRA weights"):
        load_lora(model, tmp_path / "weights.safetensors")
    assert not hasattr(model, "peft_config")
    wider = build_components(get_preset("tiny", num_attention_heads=4)).transformer  # another base model's shapes
    add_lora(wider, lora_config("ffn", rank=2))
    save_lora(wider, tmp_path / "other.safetensors")
    with pytest.raises(KinemaInputError, match="does not fit this model"):
        load_lora(model, tmp_path / "other.safetensors")


@pytest.mark.parametrize("name,params", [("wan2.1-t2v-1.3b", 1.42e9), ("wan2.1-i2v-14b", 16.39e9)])
def test_real_shapes_on_meta_device(name, params):
    components = build_components(PRESETS[name], device="meta")
    count = sum(p.numel() for p in components.transformer.parameters())
    assert abs(count - params) / params < 0.005
    assert components.transformer.patch_embedding.weight.is_meta


ORIGINAL = {"attn1": "self_attn", "attn2": "cross_attn", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "o",
            "ffn.net.0.proj": "ffn.0", "ffn.net.2": "ffn.2"}


def _trained_adapter(path, seed, rank=4, scale=1.0):
    """A random kinema adapter (attention and ffn) on the tiny model, saved in diffusers format; its B scaled."""
    model = build_components(get_preset("tiny"), seed=1).transformer
    add_lora(model, lora_config("attn_ffn", rank=rank))
    g = torch.Generator().manual_seed(seed)
    for name, param in model.named_parameters():
        if "lora_" in name:
            param.data.copy_(torch.randn(param.shape, generator=g) * (0.2 * scale if "lora_B" in name else 0.2))
    return save_lora(model, path)


def _as_original(state, alpha_scale):
    """diffusers keys -> the original Wan / ComfyUI layout (lora_down / lora_up, alpha = rank x alpha_scale, B
    divided by alpha_scale so that the update stays the same)."""
    out = {}
    for key, value in state.items():
        module, kind = key.removeprefix("transformer.").rsplit(".lora_", 1)
        for ours, theirs in ORIGINAL.items():
            module = module.replace(ours, theirs)
        if kind.startswith("A"):
            out[f"diffusion_model.{module}.lora_down.weight"] = value
            out[f"diffusion_model.{module}.alpha"] = torch.tensor(value.shape[0] * alpha_scale)
        else:
            out[f"diffusion_model.{module}.lora_up.weight"] = value / alpha_scale
    return out


def _musubi(original):
    """The original layout -> musubi-tuner / kohya keys (``lora_unet_blocks_0_self_attn_q.lora_down.weight``)."""
    out = {}
    for key, value in original.items():
        module, _, suffix = key.removeprefix("diffusion_model.").partition(".lora_")
        if suffix:
            out[f"lora_unet_{module.replace('.', '_')}.lora_{suffix}"] = value
        else:
            module = key.removeprefix("diffusion_model.").removesuffix(".alpha")
            out[f"lora_unet_{module.replace('.', '_')}.alpha"] = value
    return out


@torch.no_grad()
def _forward_with(tmp_path, adapters):
    from kinema.backbone.lora import load_loras

    components = build_components(get_preset("tiny"), seed=1)
    x, t, text, image = inputs(components)
    load_loras(components.transformer, adapters)
    return forward_segments(components.transformer, [Segment(x, t)], text, image)[0]


def test_original_wan_and_musubi_lora_layouts_load_as_their_diffusers_twin(tmp_path):
    from safetensors.torch import load_file

    path = _trained_adapter(tmp_path / "diffusers.safetensors", seed=1)
    original = _as_original(load_file(path), alpha_scale=0.5)
    save_file(original, tmp_path / "original.safetensors")
    save_file(_musubi(original), tmp_path / "musubi.safetensors")
    base, ours = _forward_with(tmp_path, ()), _forward_with(tmp_path, [path])
    assert (ours - base).abs().max() > 1e-2  # the adapter changes the output
    for name in ("original", "musubi"):
        theirs = _forward_with(tmp_path, [tmp_path / f"{name}.safetensors"])
        assert (theirs - ours).abs().max() <= 1e-5, name


def test_weighted_adapters_together_equal_one_adapter_of_their_summed_update(tmp_path):
    # LoRA updates add: A at 1 and B at 0.5 together equal one adapter holding A and B with B's up-projection halved
    a = _trained_adapter(tmp_path / "a.safetensors", seed=1)
    b = _trained_adapter(tmp_path / "b.safetensors", seed=2)
    half_b = _trained_adapter(tmp_path / "half_b.safetensors", seed=2, scale=0.5)
    together = _forward_with(tmp_path, [f"{a}:1", f"{b}:0.5"])
    assert (together - _forward_with(tmp_path, [a])).abs().max() > 1e-3
    assert (together - _forward_with(tmp_path, [a, half_b])).abs().max() <= 1e-5
    assert (_forward_with(tmp_path, [f"{b}:0"]) - _forward_with(tmp_path, ())).abs().max() <= 1e-6


def test_adapter_weights_parse_and_absurd_ones_are_named():
    from kinema.backbone.lora import AdapterSpec, parse_adapter

    assert parse_adapter("a/b.safetensors") == AdapterSpec(Path("a/b.safetensors"), 1.0)
    assert parse_adapter("a/b.safetensors:0.7") == AdapterSpec(Path("a/b.safetensors"), 0.7)
    assert parse_adapter("a:b/c.safetensors") == AdapterSpec(Path("a:b/c.safetensors"), 1.0)  # a colon in a folder
    assert str(parse_adapter("x.safetensors:-1.5")) == "x.safetensors:-1.5"
    for bad in ("x.safetensors:nan", "x.safetensors:1e9", "x.safetensors:inf"):
        with pytest.raises(KinemaInputError, match="Give a weight in"):
            parse_adapter(bad)


def test_animate_takes_several_weighted_adapters_and_records_them(tmp_path):
    import json

    from kinema.cli.main import main
    from tests.core.conftest import random_media

    media = random_media(tmp_path / "media", frames=5, side=32)
    a = _trained_adapter(tmp_path / "a.safetensors", seed=1)
    b = _trained_adapter(tmp_path / "b.safetensors", seed=2)
    out = tmp_path / "out.mp4"
    argv = ["animate", "--model", "tiny", "--reference", str(media / "reference.png"), "--driving",
            str(media / "driving.mp4"), "--steps", "1", "--frames", "5", "--adapter", f"{a}:0.8", "--adapter", str(b)]
    assert main([*argv, "--out", str(out)]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["adapters"] == [f"{a}:0.8", str(b)]
    assert main([*argv[:-2], "--adapter", str(tmp_path / "missing.safetensors"), "--out", str(tmp_path / "x.mp4")]) == 2
    assert not (tmp_path / "x.mp4").exists()
