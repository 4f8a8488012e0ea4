"""Widening the patch embedding and LoRA adapters round-tripping through diffusers."""

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
