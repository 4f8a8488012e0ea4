"""Recipe R2: segment shapes, RoPE coordinates and mask channels per mode; widening is a no-op."""

import copy

import pytest
import torch

from kinema.backbone.rope import grid_coords
from kinema.backbone.segments import Segment, forward_segments
from kinema.backbone.widen import widen_patch_embedding
from kinema.recipes import dreamactor_m2 as r1
from kinema.recipes import scail2 as r2
from tests.r2.conftest import conditions

BASE = r1.in_channels(16)  # the Wan2.1-I2V layout of the tiny presets' 16-channel VAE
SWITCH = BASE  # channel index of the environment switch in a segment


@pytest.mark.parametrize("resolution", ["full", "half"])
@pytest.mark.parametrize("mode", r2.MODES)
def test_segment_shapes_coordinates_and_mask_channels(tiny, mode, resolution):
    config = r2.R2Config(driving_resolution=resolution)
    refs, drv, ref_masks, drv_masks = conditions()
    inputs = r2.build_inputs(tiny, refs, drv, ref_masks, drv_masks, mode, config)
    noisy = torch.randn(inputs.latent_shape)
    target, driving = r2.segments(inputs, noisy, torch.tensor([700.0]))
    f, h, w = 3, 4, 4  # 9 frames -> 3 latent frames; 32 px / VAE stride 8
    hd = h // 2 if resolution == "half" else h
    assert target.latents.shape == (1, config.in_channels(), 2 + f, h, w) and config.in_channels() == 41
    assert driving.latents.shape == (1, config.in_channels(), f, hd, hd)
    assert (target.predicted, driving.predicted) == (True, False)
    assert float(target.timestep) == 700.0 and float(driving.timestep) == 0.0
    # Target: 2 reference frames at t = -2, -1, the video at t = 0..f-1.
    coords = grid_coords(*target.grid((1, 2, 2)), target.offset)
    assert coords[:, 0].min() == -2 and coords[:, 0].max() == f - 1
    # Driving: co-located (replace) or one target width to the right (animate); half grid centred.
    centre = (w // 2 - hd // 2) // 2
    expected = (0, centre, centre + (w // 2 if mode == "animate" else 0))
    assert driving.offset == expected
    # I2V mask and Z: 1 and the reference latents on the 2 reference frames only.
    x = target.latents
    assert torch.equal(x[:, 16:20, :2], torch.ones_like(x[:, 16:20, :2])) and not x[:, 16:36, 2:].any()
    assert torch.equal(x[:, 20:36, :2], inputs.reference_latents)
    assert torch.equal(driving.latents[:, 16:20], torch.ones_like(driving.latents[:, 16:20]))
    assert torch.equal(driving.latents[:, :16], driving.latents[:, 20:36])
    # Switch: constant over every token, 1 in replacement.
    for seg in (target, driving):
        assert torch.all(seg.latents[:, SWITCH] == float(mode == "replace"))
    # Slots: slot s on reference frame s (and nowhere else on the target), driving subject s, empty slots zero.
    slots = x[:, SWITCH + 1:]
    assert slots[0, 0, 0].sum() > 0 and slots[0, 1, 1].sum() > 0
    assert not slots[0, 0, 1:].any() and not slots[0, 1, [0, 2, 3, 4]].any() and not slots[0, 2:].any()
    d = driving.latents[:, SWITCH + 1:]
    assert torch.allclose(d[:, :2], r2.pool_mask(drv_masks, (hd, hd))) and not d[:, 2:].any()


def test_modes_differ_only_in_switch_and_rope_offset(tiny):
    built = {m: r2.build_inputs(tiny, *conditions(), m) for m in r2.MODES}
    a, r = built["animate"], built["replace"]
    keep = [c for c in range(a.driving.shape[1]) if c != SWITCH]
    assert torch.equal(a.driving[:, keep], r.driving[:, keep])
    keep = [c for c in range(a.condition.shape[1]) if c != SWITCH - 16]
    assert torch.equal(a.condition[:, keep], r.condition[:, keep])
    assert a.driving_offset != r.driving_offset
    assert not torch.equal(a.condition, r.condition) and not torch.equal(a.driving, r.driving)


def test_widened_channels_start_as_a_no_op(tiny):
    """Widened model + R2 segments == the 36-channel model on the same segments without the mask channels."""
    base = copy.deepcopy(tiny.transformer)
    widened = widen_patch_embedding(copy.deepcopy(tiny.transformer), r2.R2Config().in_channels())
    text = torch.randn(1, 512, 32, generator=torch.Generator().manual_seed(1))
    for mode in r2.MODES:
        inputs = r2.build_inputs(tiny, *conditions(), mode)
        segments = r2.segments(inputs, torch.randn(inputs.latent_shape), torch.tensor([400.0]))
        narrow = [Segment(s.latents[:, :BASE], s.timestep, s.offset, s.predicted) for s in segments]
        with torch.no_grad():
            out = forward_segments(widened, segments, text)[0]
            assert torch.equal(out, forward_segments(base, narrow, text)[0])
    with torch.no_grad():  # the new channels are live once trained
        widened.patch_embedding.weight[:, BASE:] = 0.5
        assert not torch.equal(forward_segments(widened, segments, text)[0], out)


def test_training_targets_and_video_slice(tiny):
    refs, drv, ref_masks, drv_masks = conditions()
    inputs = r2.build_inputs(tiny, refs, drv, ref_masks, drv_masks, "replace")
    x0 = r2.target_latents(tiny, inputs, drv)
    assert x0.shape == inputs.latent_shape
    assert torch.equal(x0[:, :, :2], inputs.reference_latents)
    assert r2.video_latents(inputs, x0).shape == (1, 16, 3, 4, 4)


def test_pool_mask_is_latent_coverage():
    masks = torch.zeros(1, 1, 5, 16, 16)
    masks[:, :, 0, :8] = 1  # top half on frame 0
    masks[:, :, 1:3] = 1  # 2 of the 4 frames folded into latent frame 1
    pooled = r2.pool_mask(masks, (2, 2))
    assert torch.equal(pooled[0, 0, 0], torch.tensor([[1.0, 1.0], [0.0, 0.0]]))
    assert torch.equal(pooled[0, 0, 1], torch.full((2, 2), 0.5))


def test_ablation_flags_zero_their_channels(tiny):
    inputs = r2.build_inputs(tiny, *conditions(), "replace", r2.R2Config(switch=False, binding=False))
    assert not inputs.driving[:, SWITCH:].any() and not inputs.condition[:, SWITCH - 16:].any()
    same_rope = r2.R2Config(animate_shift=(0, 0, 0))
    assert r2.build_inputs(tiny, *conditions(), "animate", same_rope).driving_offset == (0, 0, 0)


def test_more_bound_characters_than_slots_is_refused(tiny):
    with pytest.raises(ValueError, match="binding slots"):
        r2.build_inputs(tiny, *conditions(refs=1, slots=3), "animate", r2.R2Config(slots=2))


def test_config_matches_checkpoint_channels():
    assert r2.R2Config.for_channels(36).slots == 4 and r2.R2Config.for_channels(39).slots == 2
    with pytest.raises(ValueError):
        r2.R2Config(slots=0)
