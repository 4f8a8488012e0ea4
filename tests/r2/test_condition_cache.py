"""Block attention over the condition segments and the condition K/V cache (kinema.backbone.block_attention)."""

from dataclasses import replace

import pytest
import torch
from diffusers.models.transformers.transformer_wan import WanAttnProcessor

from kinema.backbone.block_attention import ConditionCache, block_forward
from kinema.backbone.components import build_components
from kinema.backbone.config import get_preset
from kinema.backbone.segments import Segment, forward_segments
from kinema.recipes import scail2 as r2

from .conftest import conditions


@pytest.fixture(scope="module")
def model():
    components = build_components(get_preset("tiny"), seed=3)
    r2.prepare_transformer(components.transformer, components.codec.channels)
    torch.manual_seed(0)  # the added mask embedding starts at zero: make it matter
    torch.nn.init.normal_(components.transformer.patch_embedding_mask.weight, std=0.02)
    return components


def _inputs(components, attention="block", seed=0):
    refs, drv, ref_masks, drv_masks = conditions(seed=seed)
    with torch.no_grad():  # encoded as training encodes its samples
        return r2.build_inputs(components, refs, drv, ref_masks, drv_masks, "replace",
                               r2.R2Config(driving_resolution="full", attention=attention))


def _noisy(inputs, seed=1):
    return torch.randn(inputs.latent_shape, generator=torch.Generator().manual_seed(seed))


class MaskedProcessor:
    """The stock Wan self-attention with an explicit attention mask: the reference the two passes must equal."""

    def __init__(self, mask):
        self.mask, self.stock = mask, WanAttnProcessor()

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, rotary_emb=None):
        return self.stock(attn, hidden_states, encoder_hidden_states, self.mask, rotary_emb)


def test_one_block_equals_the_stock_block(model):
    block, config = model.transformer.blocks[0], model.transformer.config
    heads, head_dim = config.num_attention_heads, config.attention_head_dim
    dim = heads * head_dim
    x, context = torch.randn(2, 10, dim), torch.randn(2, 7, dim)
    rotary = (torch.randn(1, 10, 1, head_dim), torch.randn(1, 10, 1, head_dim))
    with torch.no_grad():
        for proj in (torch.randn(2, 6, dim), torch.randn(2, 10, 6, dim)):  # one timestep, a timestep per token
            ours, key, value = block_forward(block, x, context, proj, *rotary)
            assert torch.allclose(ours, block(x, context, proj, rotary), atol=1e-6)
    assert key.shape == value.shape == (2, 10, heads, head_dim)


def test_the_two_passes_are_the_block_mask(model):
    transformer, inputs = model.transformer, _inputs(model)
    noisy, t, text = _noisy(inputs), torch.tensor([700.0]), torch.randn(1, 512, 32)
    stream = r2.segments(inputs, noisy, t)
    is_condition = torch.cat([torch.full((s.latents[0, 0].numel() // 4,), not s.predicted) for s in stream])
    mask = ~(is_condition[:, None] & ~is_condition[None, :])  # conditions see only conditions; the video all
    stock = [block.attn1.processor for block in transformer.blocks]
    with torch.no_grad():
        blocked = forward_segments(transformer, stream, text, attention="block")[0]
        full = forward_segments(transformer, stream, text)[0]
        try:
            for block in transformer.blocks:
                block.attn1.set_processor(MaskedProcessor(mask))
            reference = forward_segments(transformer, stream, text)[0]
        finally:
            for block, processor in zip(transformer.blocks, stock):
                block.attn1.set_processor(processor)
    assert torch.allclose(blocked, reference, atol=1e-5)
    assert not torch.allclose(blocked, full, atol=1e-3)  # the mask changes what the video sees


def test_the_cache_equals_the_uncached_forward_and_skips_the_conditions(model):
    transformer, inputs = model.transformer, _inputs(model)
    text = torch.randn(1, 512, 32)
    calls = []
    hook = transformer.patch_embedding_pose.register_forward_hook(lambda *a: calls.append(1))
    cache = ConditionCache()
    try:
        with torch.no_grad():
            for step, t in enumerate((900.0, 500.0, 100.0)):
                noisy = _noisy(inputs, seed=step)
                uncached = r2.predict(transformer, inputs, noisy, torch.tensor([t]), text)
                cached = r2.predict(transformer, inputs, noisy, torch.tensor([t]), text, cache)
                assert torch.allclose(cached, uncached, atol=1e-6), step
    finally:
        hook.remove()
    assert len(calls) == 3 + 1  # the driving is embedded by every uncached call, once for the cache
    with pytest.raises(ValueError, match="one text branch"):
        r2.predict(transformer, inputs, _noisy(inputs), torch.tensor([500.0]), torch.randn(1, 512, 32), cache)


def test_block_attention_changes_nothing_without_conditions_and_caches_only_clean_ones(model):
    transformer = model.transformer
    latents = torch.randn(1, transformer.config.in_channels, 3, 8, 8)
    text = torch.randn(1, 512, 32)
    alone = [Segment(latents, torch.tensor([600.0]))]
    with torch.no_grad():
        assert torch.equal(forward_segments(transformer, alone, text, attention="block")[0],
                           forward_segments(transformer, alone, text)[0])
        noisy_condition = [Segment(latents, torch.tensor([600.0]), predicted=False), *alone]
        forward_segments(transformer, noisy_condition, text, attention="block")  # allowed: nothing is kept
        with pytest.raises(ValueError, match="clean condition segments"):
            forward_segments(transformer, noisy_condition, text, attention="block", cache=ConditionCache())


def test_block_attention_trains_through_the_conditions_with_or_without_checkpointing(model):
    transformer, inputs = model.transformer, _inputs(model)
    noisy, text = _noisy(inputs), torch.randn(1, 512, 32)
    grads = []
    for checkpointing in (False, True):
        transformer.zero_grad()
        if checkpointing:
            transformer.enable_gradient_checkpointing()
        try:
            r2.predict(transformer, inputs, noisy, torch.tensor([500.0]), text).square().mean().backward()
        finally:
            transformer.disable_gradient_checkpointing()
        grads.append(transformer.patch_embedding_pose.weight.grad.clone())
    transformer.zero_grad()
    assert grads[0].abs().sum() > 0  # the driving's embedding learns
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_released_layout_keeps_full_attention_and_the_config_is_checked():
    assert r2.R2Config().attention == "full"
    with pytest.raises(ValueError, match="attention must be one of full, block"):
        replace(r2.R2Config(), attention="sparse")
