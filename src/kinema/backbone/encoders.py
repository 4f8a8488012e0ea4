"""Conditioning encoders around the Wan components: prompts, CLIP image tokens, normalised VAE latents.

These follow diffusers' Wan pipelines exactly (prompt padding, latent normalisation) so weights
trained in kinema behave the same inside ``WanPipeline``.
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


def _latent_stats(components: WanComponents, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    config = components.vae.config
    shape = (1, config.z_dim, 1, 1, 1)
    mean = torch.tensor(config.latents_mean, device=like.device, dtype=like.dtype).view(shape)
    std = torch.tensor(config.latents_std, device=like.device, dtype=like.dtype).view(shape)
    return mean, std


def encode_video(components: WanComponents, video: torch.Tensor) -> torch.Tensor:
    """Normalised latents (B, 16, 1 + (F-1)/4, H/8, W/8) of a video (B, 3, F, H, W) in [-1, 1] (posterior mode)."""
    vae = components.vae
    latents = vae.encode(video.to(vae.device, vae.dtype)).latent_dist.mode()
    mean, std = _latent_stats(components, latents)
    return (latents - mean) / std


def decode_latents(components: WanComponents, latents: torch.Tensor) -> torch.Tensor:
    """Video (B, 3, F, H, W) in [-1, 1] from normalised latents."""
    vae = components.vae
    latents = latents.to(vae.device, vae.dtype)
    mean, std = _latent_stats(components, latents)
    return vae.decode(latents * std + mean).sample.clamp(-1, 1)
