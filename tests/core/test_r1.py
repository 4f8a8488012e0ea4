"""Recipe R1 (DreamActor-M2 eq. 2) on hand-made examples."""

import torch

from kinema.backbone.components import build_components
from kinema.backbone.config import get_preset
from kinema.recipes import dreamactor_m2 as r1


def test_composite_video_follows_eq2():
    reference = torch.full((1, 3, 2, 2), 0.5)
    driving = torch.arange(3 * 5 * 2 * 2, dtype=torch.float32).view(1, 3, 5, 2, 2)
    c = r1.composite_video(reference, driving)
    assert c.shape == (1, 3, 5, 2, 4)
    assert torch.equal(c[:, :, 0, :, :2], reference)  # C[0] = I_ref ⊕ D[0]
    assert torch.equal(c[:, :, 1:, :, :2], torch.zeros(1, 3, 4, 2, 2))  # C[t>0] = 0 ⊕ D[t]
    assert torch.equal(c[..., 2:], driving)


def test_composite_mask_and_wan_folding():
    m = r1.composite_mask(frames=5, height=16, width=16)
    assert m.shape == (1, 1, 5, 16, 32)
    assert m[..., :16].sum(dim=(0, 1, 3, 4)).tolist() == [256, 0, 0, 0, 0]  # M_r: frame 0 only
    assert bool((m[..., 16:] == 1).all())  # M_m: everywhere
    folded = r1.fold_mask(m, (2, 4))  # 5 frames -> 2 latent frames x 4 channels
    assert folded.shape == (1, 4, 2, 2, 4)
    assert bool((folded[:, :, 0, :, :2] == 1).all())  # first frame repeated 4x
    assert bool((folded[:, :, 1, :, :2] == 0).all())
    assert bool((folded[..., 2:] == 1).all())


def test_spatial_inputs_layout_matches_wan_i2v_channels():
    components = build_components(get_preset("tiny"))
    g = torch.Generator().manual_seed(0)
    reference, driving = torch.rand(1, 3, 32, 32, generator=g) * 2 - 1, torch.rand(1, 3, 9, 32, 32, generator=g) * 2 - 1
    inputs = r1.build_inputs(components, reference, driving, "spatial")
    assert inputs.condition.shape == (1, 20, 3, 4, 8) and inputs.latent_shape == (1, 16, 3, 4, 8)
    torch.testing.assert_close(inputs.condition[:, 4:], components.codec.encode(r1.composite_video(reference, driving)))
    segments = r1.segments(inputs, torch.zeros(inputs.latent_shape), torch.tensor([900.0]))
    assert len(segments) == 1 and segments[0].latents.shape[1] == 36
    assert r1.character_latents(inputs, torch.arange(8.0).expand(1, 16, 3, 4, 8))[0, 0, 0, 0].tolist() == [0, 1, 2, 3]


def test_temporal_inputs_put_clean_driving_before_target():
    components = build_components(get_preset("tiny"))
    reference, driving = torch.zeros(1, 3, 32, 32), torch.rand(1, 3, 9, 32, 32) * 2 - 1
    inputs = r1.build_inputs(components, reference, driving, "temporal")
    assert inputs.latent_shape == (1, 16, 3, 4, 4) and inputs.context.shape == (1, 36, 3, 4, 4)
    clean, target = r1.segments(inputs, torch.zeros(inputs.latent_shape), torch.tensor([900.0]))
    assert clean.offset == (-3, 0, 0) and not clean.predicted and float(clean.timestep) == 0.0
    assert target.predicted and target.offset == (0, 0, 0)
    torch.testing.assert_close(clean.latents[:, :16], components.codec.encode(driving))


def test_aligned_inputs_put_the_driving_latents_in_each_target_token():
    """Alternative 1 (pose alignment): the I2V layout plus the driving latent at the same position."""
    components = build_components(get_preset("puppet"))  # lossless pixel codec, 192 channels
    g = torch.Generator().manual_seed(1)
    reference, driving = torch.rand(1, 3, 32, 32, generator=g) * 2 - 1, torch.rand(1, 3, 9, 32, 32, generator=g) * 2 - 1
    inputs = r1.build_inputs(components, reference, driving, "aligned")
    assert inputs.context is None and inputs.character_width == 8
    assert inputs.latent_shape == (1, 192, 3, 8, 8) and inputs.condition.shape == (1, 4 + 2 * 192, 3, 8, 8)
    assert r1.in_channels(192, "aligned") == 192 + 4 + 2 * 192 and r1.in_channels(16, "aligned") == 52
    torch.testing.assert_close(components.codec.decode(inputs.condition[:, 4 + 192:]), driving)  # Z_D, in place
    first = components.codec.decode(inputs.reference_latents)
    torch.testing.assert_close(first[:, :, 0], reference)
    assert float(first[:, :, 1:].abs().max()) == 0.0  # the I2V first-frame video
    (segment,) = r1.segments(inputs, torch.zeros(inputs.latent_shape), torch.tensor([900.0]))
    assert segment.latents.shape[1] == r1.in_channels(192, "aligned")
    still = components.codec.decode(r1.anchor(inputs))
    torch.testing.assert_close(still, reference[:, :, None].expand(-1, -1, 9, -1, -1))
    target = torch.rand(1, 3, 9, 32, 32, generator=g)
    torch.testing.assert_close(components.codec.decode(r1.target_latents(components, inputs, target, driving)), target)


def test_anchor_is_the_reference_held_still_beside_the_driving_latents():
    components = build_components(get_preset("puppet"))  # lossless pixel codec
    g = torch.Generator().manual_seed(0)
    reference, driving = torch.rand(1, 3, 32, 32, generator=g) * 2 - 1, torch.rand(1, 3, 9, 32, 32, generator=g) * 2 - 1
    inputs = r1.build_inputs(components, reference, driving, "spatial")
    anchor = r1.anchor(inputs)
    assert anchor.shape == inputs.latent_shape == (1, 192, 3, 8, 16)
    still = components.codec.decode(r1.character_latents(inputs, anchor))
    torch.testing.assert_close(still, reference[:, :, None].expand(-1, -1, 9, -1, -1))  # the static reference video
    torch.testing.assert_close(anchor[..., 8:], inputs.condition[:, 4:, :, :, 8:])  # the driving half: Z itself
    target = r1.target_latents(components, inputs, torch.zeros_like(driving), driving)
    torch.testing.assert_close(anchor[..., 8:], target[..., 8:])  # which the target's driving half equals
