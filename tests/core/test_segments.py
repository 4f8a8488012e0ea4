"""The segment forward against diffusers' stock WanTransformer3DModel.forward, and RoPE from coordinates."""

import pytest
import torch
from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed

from kinema.backbone.rope import grid_coords, rope_table
from kinema.backbone.segments import Segment, _rotary, forward_segments
from tests.core.conftest import inputs


@torch.no_grad()
def test_single_segment_equals_stock_forward(components):
    x, t, text, image = inputs(components)
    stock = components.transformer(x, t, text, image).sample
    ours = forward_segments(components.transformer, [Segment(x, t)], text, image)[0]
    assert ours.shape == stock.shape
    assert (ours - stock).abs().max() <= 1e-5


@torch.no_grad()
def test_per_token_timesteps_equal_stock_ti2v_path(components):
    """Mixed timesteps (clean condition + noisy target) equal the stock per-token (Wan2.2) path."""
    x, t, text, image = inputs(components)
    cond = x[:, :, :1]
    clean = torch.zeros(2)
    ours = forward_segments(components.transformer, [Segment(cond, clean, predicted=False), Segment(x, t, (1, 0, 0))],
                            text, image)[0]
    per_token = torch.cat([clean[:, None].expand(-1, 24), t[:, None].expand(-1, 72)], dim=1)  # 1x4x6 + 3x4x6 tokens
    stock = components.transformer(torch.cat([cond, x], dim=2), per_token, text, image).sample[:, :, 1:]
    assert (ours - stock).abs().max() <= 1e-5


def test_rope_table_equals_stock_grid_and_segments_read_it_relatively(components):
    rope = components.transformer.rope
    stock_cos, stock_sin = rope(torch.zeros(1, 4, 3, 10, 14))  # patched grid 3 x 5 x 7
    cos, sin = rope_table(grid_coords(3, 5, 7), rope)
    assert torch.equal(cos, stock_cos[0, :, 0]) and torch.equal(sin, stock_sin[0, :, 0])
    for offset in [(0, 0, 0), (-4, 7, -2)]:  # a lone segment anywhere: the stock table
        segment = Segment(torch.zeros(1, 4, 3, 10, 14), torch.zeros(1), offset)
        cos, sin = _rotary(components.transformer, [segment])
        assert torch.equal(cos, stock_cos) and torch.equal(sin, stock_sin)


def test_rope_span_beyond_table_is_refused():
    rope = WanRotaryPosEmbed(24, (1, 2, 2), 32)
    with pytest.raises(ValueError, match="rope_max_seq_len"):
        rope_table(torch.tensor([[0, 0, 0], [40, 0, 0]]), rope)


@torch.no_grad()
def test_condition_at_negative_time_equals_prepending(components):
    """RoPE is relative: a segment at t = -1 is the same as frame 0 of a longer video."""
    x, t, text, image = inputs(components)
    cond = inputs(components, frames=1, seed=1)[0]
    stock = components.transformer(torch.cat([cond, x], dim=2), t, text, image).sample[:, :, 1:]
    ours = forward_segments(components.transformer, [Segment(cond, t, (-1, 0, 0), False), Segment(x, t)], text, image)[0]
    assert (ours - stock).abs().max() <= 1e-5


@torch.no_grad()
def test_condition_at_width_offset_equals_width_concat(components):
    x, t, text, image = inputs(components)
    cond = inputs(components, seed=2)[0]
    stock = components.transformer(torch.cat([x, cond], dim=4), t, text, image).sample[..., :12]
    ours = forward_segments(components.transformer, [Segment(x, t), Segment(cond, t, (0, 0, 6), False)], text, image)[0]
    assert (ours - stock).abs().max() <= 1e-5


@torch.no_grad()
def test_condition_segment_changes_the_output(components):
    """A context segment is attended to: the test above is not vacuous."""
    x, t, text, image = inputs(components)
    cond = inputs(components, seed=2)[0]
    alone = forward_segments(components.transformer, [Segment(x, t)], text, image)[0]
    with_cond = forward_segments(components.transformer, [Segment(x, t), Segment(cond, t, (0, 0, 6), False)], text, image)[0]
    assert (alone - with_cond).abs().max() > 1e-3


def test_gradient_checkpointing_gives_same_gradients(components):
    x, t, text, image = inputs(components, batch=1)
    model = components.transformer
    grads = []
    for checkpointing in (False, True):
        model.zero_grad()
        model.enable_gradient_checkpointing() if checkpointing else model.disable_gradient_checkpointing()
        forward_segments(model, [Segment(x, t[:1])], text[:1], None if image is None else image[:1])[0].square().mean().backward()
        grads.append(model.blocks[0].ffn.net[2].weight.grad.clone())
    model.disable_gradient_checkpointing()
    model.zero_grad()
    torch.testing.assert_close(grads[0], grads[1])
