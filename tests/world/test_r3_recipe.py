"""Recipe R3 (AniX): segment order and RoPE shifts (eq. 2), the zero projector, clean conditions, AR context."""

import pytest
import torch

from kinema.backbone.components import build_components
from kinema.backbone.config import get_preset
from kinema.backbone.segments import Segment, forward_segments
from kinema.recipes import anix as r3

H = W = 32  # tiny VAE stride 8, patch 2: 2 x 2 tokens per latent frame


def _inputs(components, config=r3.R3Config(), frames=9, batch=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    views = torch.rand(batch, config.views, 3, H, W, generator=g) * 2 - 1
    scene = torch.rand(batch, 3, frames, H, W, generator=g) * 2 - 1
    boxes = torch.zeros(batch, frames, H, W)
    boxes[..., 8:24, 12:20] = 1
    return r3.build_inputs(components, views, scene, boxes, config)


@pytest.fixture(scope="module")
def t2v():
    components = build_components(get_preset("tiny-t2v"))
    r3.prepare_transformer(components.transformer, components.codec.channels)
    return components


@pytest.mark.parametrize("views, shifts", [(4, [-1, -2, -3, -4]), (2, [-1, -4]), (1, [-1])])
def test_views_come_first_at_their_shifted_rope_then_the_context_then_the_video(t2v, views, shifts):
    inputs = _inputs(t2v, r3.R3Config(views=views))
    inputs.context = torch.randn(1, 16, 2, H // 8, W // 8)
    stream = r3.segments(inputs, torch.randn(inputs.latent_shape), torch.tensor([600.0]), (1, 2, 2))
    grid = (H // 8 // 2, W // 8 // 2)  # (h, w) of a view's token grid
    assert [s.offset for s in stream[:views]] == [(k, *grid) for k in shifts]  # eq. 2: (−k, i + h, j + w)
    assert stream[views].offset == (-2, 0, 0) and not stream[views].predicted  # the two preceding latent frames
    video = stream[-1]
    assert video.offset == (0, 0, 0) and video.predicted and video.mask_embedding == r3.PROJECTOR
    assert all(float(s.timestep) == 0 for s in stream[:-1]) and float(video.timestep) == 600  # conditions clean
    assert video.mask.shape[1] == 16 + 4  # [Z_S | anchor folded to 4 channels]


def test_the_zero_projector_leaves_a_loaded_model_unchanged():
    components = build_components(get_preset("tiny-t2v"))
    transformer = components.transformer
    noisy, t, text = torch.randn(1, 16, 3, 4, 4), torch.tensor([400.0]), torch.randn(1, 512, 32)
    with torch.no_grad():
        stock = transformer(noisy, t, text, return_dict=False)[0]
        assert r3.prepare_transformer(transformer, 16)  # the projector is new
        inputs = _inputs(components)
        fused = forward_segments(transformer, [Segment(noisy, t, mask=inputs.scene[:, :, :3],
                                                       mask_embedding=r3.PROJECTOR)], text)[0]
    assert torch.equal(fused, stock)
    assert not r3.prepare_transformer(transformer, 16)  # a second call changes nothing


def test_an_i2v_base_keeps_only_its_latent_columns():
    components = build_components(get_preset("tiny"))  # 36 inputs: latents | I2V mask | y
    before = components.transformer.patch_embedding.weight[:, :16].clone()
    r3.prepare_transformer(components.transformer, 16)
    assert torch.equal(components.transformer.patch_embedding.weight, before)
    assert getattr(components.transformer, r3.PROJECTOR).in_channels == 20


@pytest.mark.parametrize("anchor", r3.ANCHORS)
def test_the_anchor_condition_per_frame_first_frame_or_none(anchor):
    boxes = torch.zeros(1, 5, 8, 8)
    for f in range(5):
        boxes[0, f, f:f + 2, 2:4] = 1  # a box moving down
    masks = r3.anchor_masks(boxes, anchor)[0, 0]
    expected = {"per-frame": boxes[0], "first-frame": boxes[0, :1].expand(5, -1, -1),
                "none": torch.zeros_like(boxes[0])}[anchor]
    assert torch.equal(masks, expected)


def test_the_ar_context_is_read_and_only_the_new_frames_are_predicted(t2v):
    inputs = _inputs(t2v, frames=17)  # 5 latent frames to generate after the context
    noisy, t, text = torch.randn(inputs.latent_shape), torch.tensor([500.0]), torch.randn(1, 512, 32)
    with torch.no_grad():
        alone = r3.predict(t2v.transformer, inputs, noisy, t, text)
        inputs.context = torch.randn(1, 16, 2, H // 8, W // 8)  # two latent frames of a previous clip
        continued = r3.predict(t2v.transformer, inputs, noisy, t, text)
    assert continued.shape == alone.shape == noisy.shape
    assert not torch.allclose(continued, alone)  # the video tokens attend to the context


def test_bad_settings_and_inputs_are_named(t2v):
    with pytest.raises(ValueError, match="views must be one of"):
        r3.R3Config(views=3)
    with pytest.raises(ValueError, match="anchor must be one of"):
        r3.R3Config(anchor="last-frame")
    views = torch.zeros(1, 2, 3, H, W)
    with pytest.raises(ValueError, match="2 character views given; the recipe reads 4"):
        r3.build_inputs(t2v, views, torch.zeros(1, 3, 5, H, W), torch.zeros(1, 5, H, W))
    with pytest.raises(ValueError, match="do not match the scene video"):
        r3.build_inputs(t2v, torch.zeros(1, 4, 3, H, W), torch.zeros(1, 3, 5, H, W), torch.zeros(1, 4, H, W))
    assert r3.action_prompt(" walking forward.") == "A character is walking forward."
