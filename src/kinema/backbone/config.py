"""Typed configs for the Wan components and the named presets (``tiny``, real Wan2.1 shapes)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from kinema.backbone.codecs import PixelCodecConfig


@dataclass(frozen=True)
class TransformerConfig:
    """Keyword arguments of diffusers' ``WanTransformer3DModel`` that kinema sets."""

    num_layers: int = 2
    num_attention_heads: int = 2
    attention_head_dim: int = 12
    ffn_dim: int = 32
    in_channels: int = 36
    out_channels: int = 16
    text_dim: int = 32
    freq_dim: int = 256
    patch_size: tuple[int, int, int] = (1, 2, 2)
    image_dim: int | None = None
    added_kv_proj_dim: int | None = None
    rope_max_seq_len: int = 1024
    cross_attn_norm: bool = True
    qk_norm: str = "rms_norm_across_heads"
    eps: float = 1e-6


@dataclass(frozen=True)
class VAEConfig:
    """Keyword arguments of diffusers' ``AutoencoderKLWan``: Wan2.1's (stride 4 x 8 x 8, z 16) by default;
    Wan2.2's (TI2V-5B) folds 2 x 2 pixels into 12 input channels first (``patch_size`` 2, ``is_residual``),
    for stride 4 x 16 x 16 and z 48. ``latents_mean`` / ``latents_std``: None keeps diffusers' (Wan2.1's 16)."""

    base_dim: int = 96
    decoder_base_dim: int | None = None  # None: base_dim (Wan2.2's decoder is wider: 256)
    z_dim: int = 16
    dim_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    temperal_downsample: tuple[bool, ...] = (False, True, True)
    is_residual: bool = False
    in_channels: int = 3
    out_channels: int = 3
    patch_size: int | None = None
    scale_factor_spatial: int = 8
    latents_mean: tuple[float, ...] | None = None
    latents_std: tuple[float, ...] | None = None


@dataclass(frozen=True)
class TextEncoderConfig:
    """``UMT5Config`` fields; ``text_len`` is the padded prompt length (Wan: 512)."""

    d_model: int = 32
    d_kv: int = 8
    d_ff: int = 64
    num_layers: int = 2
    num_heads: int = 4
    text_len: int = 512


@dataclass(frozen=True)
class ImageEncoderConfig:
    """``CLIPVisionConfig`` fields for the I2V image tokens (hidden_states[-2] is used)."""

    hidden_size: int = 32
    intermediate_size: int = 64
    num_hidden_layers: int = 3
    num_attention_heads: int = 4
    image_size: int = 32
    patch_size: int = 8


@dataclass(frozen=True)
class BackboneConfig:
    """All Wan components of one model. ``codec`` is a Wan VAE or the lossless pixel codec;
    ``image_encoder`` is set for I2V-style models only."""

    name: str
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    codec: VAEConfig | PixelCodecConfig = field(default_factory=VAEConfig)
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    image_encoder: ImageEncoderConfig | None = None
    description: str = ""
    boundary_ratio: float | None = None  # Wan2.2 MoE: a second (low-noise) transformer below this share of timesteps
    expand_timesteps: bool = False  # Wan2.2-TI2V: trained with a timestep per token, clean tokens at t = 0
    shapes_only: bool = False  # real model sizes: for the meta device and memory planning, not random-weight runs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_TINY_VAE = VAEConfig(base_dim=3, z_dim=16, dim_mult=(1, 1, 1, 1), num_res_blocks=1)
_PIXEL_4 = PixelCodecConfig(spatial_stride=4)  # 192 latent channels
_PIXEL_2 = PixelCodecConfig(spatial_stride=2)  # 48 latent channels
_WAN_VAE = VAEConfig()
_WAN22_VAE_LAYOUT = dict(z_dim=48, is_residual=True, in_channels=12, out_channels=12, patch_size=2, scale_factor_spatial=16)
_TINY_WAN22_VAE = VAEConfig(base_dim=8, dim_mult=(1, 1, 1, 1), num_res_blocks=1, latents_mean=(0.0,) * 48,
                            latents_std=(1.0,) * 48, **_WAN22_VAE_LAYOUT)
_UMT5_XXL = TextEncoderConfig(d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64)

PRESETS: dict[str, BackboneConfig] = {
    "tiny": BackboneConfig(
        "tiny", TransformerConfig(in_channels=36), _TINY_VAE,
        description="random weights, offline, seconds on CPU; I2V channel layout without CLIP tokens",
    ),
    "tiny-i2v": BackboneConfig(
        "tiny-i2v", TransformerConfig(in_channels=36, image_dim=32, added_kv_proj_dim=24), _TINY_VAE,
        image_encoder=ImageEncoderConfig(), description="tiny with CLIP image tokens (Wan2.1-I2V layout)",
    ),
    "tiny-t2v": BackboneConfig(
        "tiny-t2v", TransformerConfig(in_channels=16), _TINY_VAE, description="tiny T2V layout (16 input channels)",
    ),
    "tiny-moe": BackboneConfig(
        "tiny-moe", TransformerConfig(in_channels=36), _TINY_VAE, boundary_ratio=0.875,
        description="tiny with Wan2.2-A14B's two experts: high noise (transformer) above t = 875, low noise below",
    ),
    "tiny-ti2v": BackboneConfig(
        "tiny-ti2v", TransformerConfig(in_channels=48, out_channels=48), _TINY_WAN22_VAE, expand_timesteps=True,
        description="tiny Wan2.2-TI2V-5B layout: 48-channel latents of a stride-16 Wan2.2 VAE, no CLIP, a timestep "
                    "per token (conditions at t = 0)",
    ),
    "puppet": BackboneConfig(
        "puppet",
        TransformerConfig(num_layers=8, num_attention_heads=4, attention_head_dim=64, ffn_dim=1024, in_channels=388,
                          out_channels=192),
        _PIXEL_4, TextEncoderConfig(text_len=64),
        description="the embedded puppet model's shapes: lossless pixel codec (stride 4), 9.6 M-parameter DiT, "
                    "64 text tokens",
    ),
    "puppet-wide": BackboneConfig(
        "puppet-wide",
        TransformerConfig(num_layers=8, num_attention_heads=6, attention_head_dim=64, ffn_dim=1280, in_channels=388,
                          out_channels=192, patch_size=(1, 1, 1)),
        _PIXEL_4, TextEncoderConfig(text_len=64),
        description="the puppet codec with one token per latent pixel (4x the tokens of 'puppet', each no wider "
                    "than the 384-wide DiT), 19 M parameters: trained on a GPU",
    ),
    "puppet-s2": BackboneConfig(
        "puppet-s2",
        TransformerConfig(num_layers=8, num_attention_heads=4, attention_head_dim=64, ffn_dim=1024, in_channels=100,
                          out_channels=48),
        _PIXEL_2, TextEncoderConfig(text_len=64),
        description="the puppet DiT on the stride-2 pixel codec: 4 x 4-pixel tokens (4x the tokens of 'puppet')",
    ),
    "wan2.1-t2v-1.3b": BackboneConfig(
        "wan2.1-t2v-1.3b",
        TransformerConfig(num_layers=30, num_attention_heads=12, attention_head_dim=128, ffn_dim=8960,
                          in_channels=16, text_dim=4096),
        _WAN_VAE, _UMT5_XXL, description="Wan2.1-T2V-1.3B shapes (1.42 B transformer parameters)", shapes_only=True,
    ),
    "wan2.2-ti2v-5b": BackboneConfig(
        "wan2.2-ti2v-5b",
        TransformerConfig(num_layers=30, num_attention_heads=24, attention_head_dim=128, ffn_dim=14336,
                          in_channels=48, out_channels=48, text_dim=4096),
        VAEConfig(base_dim=160, decoder_base_dim=256, **_WAN22_VAE_LAYOUT), _UMT5_XXL, expand_timesteps=True,
        description="Wan2.2-TI2V-5B shapes (5.0 B transformer parameters)", shapes_only=True,
    ),
    "wan2.1-i2v-14b": BackboneConfig(
        "wan2.1-i2v-14b",
        TransformerConfig(num_layers=40, num_attention_heads=40, attention_head_dim=128, ffn_dim=13824,
                          in_channels=36, text_dim=4096, image_dim=1280, added_kv_proj_dim=5120),
        _WAN_VAE, _UMT5_XXL,
        image_encoder=ImageEncoderConfig(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                                         num_attention_heads=16, image_size=224, patch_size=14),
        description="Wan2.1-I2V-14B shapes (16.4 B transformer parameters)", shapes_only=True,
    ),
}


def get_preset(name: str, **transformer_overrides: Any) -> BackboneConfig:
    """Return a named preset; the error lists valid names. Overrides replace transformer fields."""
    if name not in PRESETS:
        raise KeyError(f"unknown backbone preset '{name}'; known: {', '.join(PRESETS)}")
    config = PRESETS[name]
    if transformer_overrides:
        config = replace(config, transformer=replace(config.transformer, **transformer_overrides))
    return config
