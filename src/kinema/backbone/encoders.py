"""Conditioning encoders around the Wan components: prompts and CLIP image tokens (video latents
come from ``components.codec``).

These follow diffusers' Wan pipelines exactly (prompt padding) so weights trained in kinema behave
the same inside ``WanPipeline``.
"""

from __future__ import annotations

import torch

from kinema.backbone.components import WanComponents


@torch.no_grad()
def encode_prompt(components: WanComponents, prompts: list[str], text_len: int | None = None) -> torch.Tensor:
    """UMT5 embeddings (B, text_len, d_model), zero beyond each prompt's tokens (as ``WanPipeline``).

    ``text_len`` defaults to the components' (512 for Wan; I2V models need exactly 512).
    """
    text_len = text_len or components.text_len
    tok = components.tokenizer(prompts, padding="max_length", max_length=text_len, truncation=True,
                               add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
    device = components.text_encoder.device
    ids, mask = tok.input_ids.to(device), tok.attention_mask.to(device)
    hidden = components.text_encoder(ids, mask).last_hidden_state
    return hidden * mask[..., None].to(hidden.dtype)


@torch.no_grad()
def encode_image_tokens(components: WanComponents, images: torch.Tensor) -> torch.Tensor | None:
    """CLIP penultimate hidden states (B, N, C) of images (B, 3, H, W) in [-1, 1]; None for non-I2V models."""
    if components.image_encoder is None:
        return None
    pixels = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    inputs = components.image_processor(images=list(pixels), return_tensors="pt")
    encoder = components.image_encoder
    pixel_values = inputs.pixel_values.to(encoder.device, encoder.dtype)
    return encoder(pixel_values=pixel_values, output_hidden_states=True).hidden_states[-2]
