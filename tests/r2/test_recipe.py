"""Recipe R2 = SCAIL-2's released layout: segment order, RoPE coordinates per mode, the pooled driving RoPE,
the 28-channel colour masks, and the added embeddings starting as no-ops."""

import copy

import pytest
import torch

from kinema.backbone.components import build_components
from kinema.backbone.config import get_preset
from kinema.backbone.rope import grid_coords, rope_table
from kinema.backbone.segments import Segment, _rotary, forward_segments
from kinema.recipes import scail2 as r2
from tests.r2.conftest import conditions


@pytest.fixture(scope="module")
def released(tiny):
    """The tiny preset given the released layout (a copy: the package fixture stays the I2V layout)."""
    transformer = copy.deepcopy(tiny.transformer)
    added = r2.prepare_transformer(transformer, tiny.codec.channels)
    assert added == [r2.POSE_EMBEDDING, r2.MASK_EMBEDDING]
    return transformer


@pytest.mark.parametrize("mode", r2.MODES)
@pytest.mark.parametrize("resolution", ["full", "half"])
def test_segment_order_channels_and_coordinates(tiny, mode, resolution):
    config = r2.R2Config(driving_resolution=resolution)
    inputs = r2.build_inputs(tiny, *conditions(refs=2), mode, config)  # 2 references: 1 extra view + the reference
    refs, video, driving = r2.segments(inputs, torch.randn(inputs.latent_shape), torch.tensor([700.0]))
    f, h = 3, 4  # 9 frames -> 3 latent frames; 32 px / VAE stride 8
    hd = h // 2 if resolution == "half" else h
    assert refs.latents.shape == (1, 20, 2, h, h) and video.latents.shape == (1, 20, f, h, h)
    assert driving.latents.shape == (1, 20, f, hd, hd) and driving.pool == (2 if resolution == "half" else 1)
    assert [s.predicted for s in (refs, video, driving)] == [False, True, False]
    assert [s.embedding for s in (refs, video, driving)] == ["patch_embedding", "patch_embedding", r2.POSE_EMBEDDING]
    assert all(float(s.timestep) == 700.0 for s in (refs, video, driving))  # one timestep for the whole sequence
    # I2V-mask channels: ones on the given segments, zeros on the video; the video's mask is blank (bias only).
    assert torch.all(refs.latents[:, 16:] == 1) and torch.all(driving.latents[:, 16:] == 1)
    assert not video.latents[:, 16:].any() and not video.mask.any()
    assert refs.mask.shape == (1, 28, 2, h, h) and driving.mask.shape == (1, 28, f, hd, hd)
    # RoPE (t, h, w) in video-grid tokens: animation = reference the frame before; replacement = rows +120.
    if mode == "animate":
        assert (refs.offset, video.offset, driving.offset) == ((0, 0, 0), (2, 0, 0), (2, 0, 120))
    else:
        assert (refs.offset, video.offset, driving.offset) == ((0, 120, 0), (1, 0, 0), (1, 0, 120))
    assert torch.equal(refs.latents[:, :16, 1:], inputs.reference_latents[:, :, 1:])


def test_the_first_reference_is_the_reference_and_comes_last_in_the_sequence(tiny):
    references, driving, ref_masks, drv_masks = conditions(refs=2)
    inputs = r2.build_inputs(tiny, references, driving, ref_masks, drv_masks, "animate")
    own = tiny.codec.encode(references[:, 0, :, None])  # (1, C, 1, h, w)
    torch.testing.assert_close(inputs.reference_latents[:, :, -1:], own)


def test_pooled_driving_rope_is_the_2x2_average_of_the_full_grid(released):
    f, h, w = 2, 2, 3  # driving token grid; the full grid is (2, 4, 6)
    seg = Segment(torch.zeros(1, 20, f, 2 * h, 2 * w), torch.zeros(1), (1, 0, 120), False, r2.POSE_EMBEDDING, pool=2)
    cos, sin = _rotary(released, [seg])
    full_cos, full_sin = rope_table(grid_coords(f, 2 * h, 2 * w, (0, 0, 0)), released.rope)  # relative to its own origin
    for got, full in ((cos, full_cos), (sin, full_sin)):
        full = full.reshape(f, h, 2, w, 2, -1)
        expected = (full[:, :, 0, :, 0] + full[:, :, 0, :, 1] + full[:, :, 1, :, 0] + full[:, :, 1, :, 1]) / 4
        torch.testing.assert_close(got[0, :, 0], expected.reshape(f * h * w, -1))


def test_colour_masks_switch_and_binding():
    slots = torch.zeros(1, 2, 1, 4, 4)
    slots[:, 0, :, :2, :2] = 1
    slots[:, 1, :, 2:, 2:] = 1
    config = r2.R2Config()
    env = r2.colour_masks(slots, True, config)
    assert torch.equal(env[:, r2.BLUE], slots[:, 0]) and torch.equal(env[:, r2.RED], slots[:, 1])
    assert torch.equal(env[:, r2.WHITE], 1 - slots.amax(1))  # the kept environment: white where no character is
    assert not r2.colour_masks(slots, False, config)[:, r2.WHITE].any()
    assert not r2.colour_masks(slots, True, r2.R2Config(switch=False))[:, r2.WHITE].any()
    unbound = r2.colour_masks(slots, True, r2.R2Config(binding=False))
    assert torch.equal(unbound[:, r2.BLUE], slots.amax(1)) and not unbound[:, r2.RED].any()
    with pytest.raises(ValueError, match="binding slots"):
        r2.colour_masks(slots, True, r2.R2Config(slots=1))


def test_compressed_masks_fold_four_frames_into_28_channels():
    masks = torch.zeros(1, 7, 5, 8, 8)
    masks[:, r2.RED, 0, :4] = 1  # frame 0: top half red
    masks[:, r2.GREEN, 3] = 1  # frame 3 = the 3rd frame of latent frame 1
    out = r2.compress_masks(masks, (2, 2))
    assert out.shape == (1, 28, 2, 2, 2)
    for k in range(4):  # latent frame 0: frame 0 repeated in every frame slot
        assert torch.equal(out[0, 7 * k + r2.RED, 0], torch.tensor([[1.0, 1.0], [0.0, 0.0]]))
    assert torch.equal(out[0, 7 * 2 + r2.GREEN, 1], torch.ones(2, 2)) and out[0, :, 1].sum() == 4
    with pytest.raises(ValueError, match="1 \\+ 4k"):
        r2.compress_masks(torch.zeros(1, 7, 4, 8, 8), (2, 2))


def test_modes_differ_in_the_white_channel_only(tiny):
    a, r = (r2.build_inputs(tiny, *conditions(), m) for m in r2.MODES)
    assert torch.equal(a.references, r.references) and torch.equal(a.driving, r.driving)
    colours = [c for c in range(28) if c % 7 != r2.WHITE]
    assert torch.equal(a.driving_masks[:, colours], r.driving_masks[:, colours])
    assert a.reference_masks[:, r2.WHITE, -1].any() and not r.reference_masks[:, r2.WHITE].any()
    assert not a.reference_masks[:, r2.WHITE, :-1].any()  # an extra view's background is no environment
    assert r.driving_masks[:, r2.WHITE].any() and not a.driving_masks[:, r2.WHITE].any()
    same = r2.build_inputs(tiny, *conditions(), "replace", r2.R2Config(mode_rope=False))
    assert r2.coordinates(same) == r2.coordinates(a)


def test_added_mask_embedding_starts_as_a_no_op(tiny, released):
    """With the mask embedding at zero, masks change nothing; once trained they do."""
    text = torch.randn(1, 512, 32, generator=torch.Generator().manual_seed(1))
    inputs = r2.build_inputs(tiny, *conditions(), "replace")
    segments = r2.segments(inputs, torch.randn(inputs.latent_shape), torch.tensor([400.0]))
    bare = [Segment(s.latents, s.timestep, s.offset, s.predicted, s.embedding, None, s.pool) for s in segments]
    with torch.no_grad():
        out = forward_segments(released, segments, text)[0]
        assert torch.equal(out, forward_segments(released, bare, text)[0])
        live = copy.deepcopy(released)
        live.patch_embedding_mask.weight.fill_(0.5)
        assert not torch.equal(forward_segments(live, segments, text)[0], out)


def test_prepare_keeps_the_i2v_noisy_and_mask_columns(tiny, released):
    torch.testing.assert_close(released.patch_embedding.weight, tiny.transformer.patch_embedding.weight[:, :20])
    torch.testing.assert_close(released.patch_embedding_pose.weight, released.patch_embedding.weight)
    assert r2.prepare_transformer(released, 16) == []  # already laid out


def test_prepare_gives_a_t2v_model_zero_mask_columns():
    t2v = build_components(get_preset("tiny-t2v")).transformer  # 16 inputs: the latents alone
    own = t2v.patch_embedding.weight.detach().clone()
    r2.prepare_transformer(t2v, 16)
    assert torch.equal(t2v.patch_embedding.weight[:, :16], own) and not t2v.patch_embedding.weight[:, 16:].any()


def test_config_bounds():
    with pytest.raises(ValueError):
        r2.R2Config(slots=0)
    with pytest.raises(ValueError):
        r2.R2Config(slots=r2.MAX_SLOTS + 1)
    with pytest.raises(ValueError):
        r2.R2Config(driving_resolution="quarter")
