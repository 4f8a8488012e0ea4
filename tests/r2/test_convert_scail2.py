"""``kinema convert scail2``: a tiny checkpoint written in the release's SAT key layout converts to a model
directory whose weights and R2 forward equal the model it was written from."""

import argparse
import copy
import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from kinema.backbone import scail2_checkpoint
from kinema.backbone.components import build_components
from kinema.backbone.config import get_preset
from kinema.backbone.segments import forward_segments
from kinema.cli.main import main
from kinema.errors import KinemaInputError
from kinema.pipelines.scail2 import ScailAnimator, ScailConfig
from kinema.recipes import scail2 as r2
from tests.r2.conftest import conditions

SAT = "model.diffusion_model."


def sat_layout(model) -> dict[str, torch.Tensor]:
    """The release's SAT keys for a diffusers Wan transformer with SCAIL-2's embeddings (written out by hand,
    independently of the converter's tables): fused q/k/v and k/v, per-block lists under ``mixins``."""
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    used = set()

    def take(*keys):
        used.update(keys)
        return torch.cat([sd[k] for k in keys]) if len(keys) > 1 else sd[keys[0]]

    out = {}
    for i in range(model.config.num_layers):
        b, layer, mix = f"blocks.{i}.", f"transformer.layers.{i}.", "mixins.adaln_layer."
        for p in ("weight", "bias"):
            out[f"{layer}attention.query_key_value.{p}"] = take(*(f"{b}attn1.to_{x}.{p}" for x in "qkv"))
            out[f"{layer}attention.dense.{p}"] = take(f"{b}attn1.to_out.0.{p}")
            out[f"{layer}cross_attention.query.{p}"] = take(f"{b}attn2.to_q.{p}")
            out[f"{layer}cross_attention.key_value.{p}"] = take(f"{b}attn2.to_k.{p}", f"{b}attn2.to_v.{p}")
            out[f"{layer}cross_attention.dense.{p}"] = take(f"{b}attn2.to_out.0.{p}")
            out[f"{layer}post_cross_attention_layernorm.{p}"] = take(f"{b}norm2.{p}")
            out[f"{layer}mlp.dense_h_to_4h.{p}"] = take(f"{b}ffn.net.0.proj.{p}")
            out[f"{layer}mlp.dense_4h_to_h.{p}"] = take(f"{b}ffn.net.2.{p}")
            out[f"{mix}clip_feature_key_value_list.{i}.{p}"] = take(f"{b}attn2.add_k_proj.{p}", f"{b}attn2.add_v_proj.{p}")
        out[f"{mix}adaLN_modulations.{i}"] = take(f"{b}scale_shift_table")
        for sat, ours in (("query", "attn1.norm_q"), ("key", "attn1.norm_k"), ("cross_query", "attn2.norm_q"),
                          ("cross_key", "attn2.norm_k"), ("clip_feature_key", "attn2.norm_added_k")):
            out[f"{mix}{sat}_layernorm_list.{i}.weight"] = take(f"{b}{ours}.weight")
    out["mixins.final_layer.adaLN_modulation"] = take("scale_shift_table")
    for p in ("weight", "bias"):
        out[f"mixins.final_layer.linear.{p}"] = take(f"proj_out.{p}")
        for sat, ours in (("proj", "patch_embedding"), ("proj_pose", r2.POSE_EMBEDDING), ("proj_mask", r2.MASK_EMBEDDING)):
            out[f"mixins.patch_embed.{sat}.{p}"] = take(f"{ours}.{p}")
        for n, ours in ((0, "time_embedder.linear_1"), (2, "time_embedder.linear_2")):
            out[f"time_embed.{n}.{p}"] = take(f"condition_embedder.{ours}.{p}")
        out[f"adaln_projection.1.{p}"] = take(f"condition_embedder.time_proj.{p}")
        for n, ours in ((0, "linear_1"), (2, "linear_2")):
            out[f"text_embedding.{n}.{p}"] = take(f"condition_embedder.text_embedder.{ours}.{p}")
        for n, ours in ((0, "norm1"), (1, "ff.net.0.proj"), (3, "ff.net.2"), (4, "norm2")):
            out[f"clip_proj.proj.{n}.{p}"] = take(f"condition_embedder.image_embedder.{ours}.{p}")
    assert used == set(sd) - {"rope.freqs_cos", "rope.freqs_sin"}  # every tensor of the model is written
    return {SAT + k: v for k, v in out.items()}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """A tiny 'release' (SAT checkpoint of a tiny I2V model given SCAIL-2's embeddings, all trained-looking:
    random, the mask embedding non-zero) and a tiny diffusers Wan I2V base directory."""
    root = tmp_path_factory.mktemp("scail2")
    components = build_components(get_preset("tiny-i2v"))
    components.save(root / "base")
    model = copy.deepcopy(components.transformer)
    r2.prepare_transformer(model, components.codec.channels)
    with torch.no_grad():
        g = torch.Generator().manual_seed(3)
        for name in (r2.POSE_EMBEDDING, r2.MASK_EMBEDDING):
            for p in getattr(model, name).parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    (root / "release" / "model" / "7").mkdir(parents=True)
    (root / "release" / "model" / "latest").write_text("7\n")
    torch.save({"module": sat_layout(model)}, root / "release" / "model" / "7" / scail2_checkpoint.CHECKPOINT)
    return root, model


def _forward(model, components, mode):
    inputs = r2.build_inputs(components, *conditions(), mode)
    noisy = torch.randn(inputs.latent_shape, generator=torch.Generator().manual_seed(0))
    text = torch.randn(1, 512, 32, generator=torch.Generator().manual_seed(1))
    image = torch.randn(1, 257, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        return forward_segments(model, r2.segments(inputs, noisy, torch.tensor([600.0])), text, image)[0]


def test_converted_release_equals_the_model_it_was_written_from(release, tmp_path):
    root, model = release
    assert main(["convert", "scail2", str(root / "release"), "--base", str(root / "base"), "--out", str(tmp_path / "m"),
                 "--dtype", "float32"]) == 0
    animator = ScailAnimator.load(str(tmp_path / "m"))
    converted = animator.components.transformer
    expected = model.state_dict()
    assert converted.state_dict().keys() == expected.keys()
    for key, value in converted.state_dict().items():
        assert torch.equal(value, expected[key]), key
    assert converted.config.in_channels == 20 and animator.recipe == r2.R2Config()
    card = json.loads((tmp_path / "m" / "kinema.json").read_text())
    assert (card["sampling_steps"], card["guidance"], card["flow_shift"]) == (40, 5.0, 5.0)
    for mode in r2.MODES:  # the R2 forward of the converted directory is kinema's forward on the same weights
        out = _forward(converted, animator.components, mode)  # (equal weights; kernels may round differently)
        torch.testing.assert_close(out, _forward(model, animator.components, mode), rtol=1e-5, atol=1e-6)
        assert torch.equal(out, _forward(converted, animator.components, mode))  # deterministic


def test_converted_model_replaces_end_to_end(release, tmp_path):
    root, _ = release
    scail2_checkpoint.convert_scail2(root / "release", root / "base", tmp_path / "m")
    animator = ScailAnimator.load(str(tmp_path / "m"))
    rng = np.random.default_rng(0)
    ref, video = rng.integers(0, 255, (32, 32, 3), np.uint8), rng.integers(0, 255, (9, 32, 32, 3), np.uint8)
    ref_mask, drv_mask = np.zeros((1, 1, 32, 32), bool), np.zeros((9, 1, 32, 32), bool)
    ref_mask[..., 8:24, 8:24] = drv_mask[..., 4:28, 10:20] = True
    config = ScailConfig(sampler=None, seed=0)
    result = animator([ref], video, [ref_mask], drv_mask, config, progress=False)
    assert result.frames.shape == (9, 32, 32, 3)
    assert result.settings["sampler"]["steps"] == 40  # the release's sampling from the card


def test_sharded_output_and_wan_native_input(release, tmp_path, monkeypatch):
    """A transformer written in shards (as 14B is) loads with its extra embeddings; the release's own
    convert.py output (Wan-native safetensors) converts like the SAT file."""
    root, model = release
    monkeypatch.setattr(scail2_checkpoint, "SHARD_BYTES", 20_000)
    state, _ = scail2_checkpoint.read_checkpoint(root / "release")
    native = {}
    sat = torch.load(root / "release" / "model" / "7" / scail2_checkpoint.CHECKPOINT, weights_only=True)["module"]
    for key, value in sat.items():
        native.update(scail2_checkpoint.sat_to_wan(key, value))
    save_file({k: v.contiguous() for k, v in native.items()}, tmp_path / "SCAIL-2.safetensors")
    scail2_checkpoint.convert_scail2(tmp_path / "SCAIL-2.safetensors", root / "base", tmp_path / "m", torch.float32)
    assert (tmp_path / "m" / "transformer" / "diffusion_pytorch_model.safetensors.index.json").is_file()
    converted = ScailAnimator.load(str(tmp_path / "m")).components.transformer
    assert torch.equal(converted.patch_embedding_mask.weight, model.patch_embedding_mask.weight)
    assert state.keys() == {k for k in model.state_dict() if not k.startswith("rope.")}


def test_bad_checkpoints_are_named(release, tmp_path):
    root, model = release
    base = root / "base"
    with pytest.raises(KinemaInputError, match="has no model/<iteration>"):
        scail2_checkpoint.convert_scail2(tmp_path, base, tmp_path / "a")
    other = {SAT + "transformer.layers.0.attention.rotary.weight": torch.zeros(2)}  # another architecture
    torch.save(other, tmp_path / "other.pt")
    with pytest.raises(KinemaInputError, match="other.pt.*another architecture"):
        scail2_checkpoint.convert_scail2(tmp_path / "other.pt", base, tmp_path / "b")
    plain = {k: v for k, v in sat_layout(model).items() if "proj_pose" not in k and "proj_mask" not in k}
    torch.save(plain, tmp_path / "wan_i2v.pt")  # a plain Wan I2V DiT in SAT layout
    with pytest.raises(KinemaInputError, match="not a SCAIL-2 DiT.*patch_embedding_pose"):
        scail2_checkpoint.convert_scail2(tmp_path / "wan_i2v.pt", base, tmp_path / "c")
    torch.save({"module": {}, "args": argparse.Namespace(lr=1)}, tmp_path / "code.pt")  # unpickling would run code
    with pytest.raises(KinemaInputError, match="weights-only"):
        scail2_checkpoint.convert_scail2(tmp_path / "code.pt", base, tmp_path / "d")
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(KinemaInputError, match="broken.pt"):
        scail2_checkpoint.convert_scail2(tmp_path / "broken.pt", base, tmp_path / "e")
    with pytest.raises(KinemaInputError, match="--base"):
        scail2_checkpoint.convert_scail2(root / "release", tmp_path, tmp_path / "f")
    assert not any((tmp_path / n).exists() for n in "abcdef")  # nothing half-written
