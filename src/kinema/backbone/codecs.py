"""Video codecs: what turns pixels into the latents a Wan DiT denoises, and back (SPEC "Codecs").

Both codecs share the Wan VAE's causal layout in time: latent frame 0 holds frame 0 alone, latent
frame j > 0 holds frames 4j − 3 … 4j, so a video of 1 + 4k frames has 1 + k latent frames.

* :class:`WanVAECodec` — diffusers' ``AutoencoderKLWan`` with the Wan pipelines' latent
  normalisation (real models: Wan2.1 z 16, Wan2.2 z 48). Saved as ``vae/``.
* :class:`PixelCodec` — fixed, parameter-free and exactly invertible: space-to-depth by a spatial
  stride s and time-to-depth by 4 (frame 0 repeated 4× to fill its slot, as Wan's I2V mask does).
  Latent channels = 3 · 4 · s². Puppet-scale models use it: a small learned VAE capped every model
  below the trivial baselines, and a lossless codec has no ceiling. Saved as ``codec/config.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from diffusers import AutoencoderKLWan

from kinema.errors import KinemaInputError

TEMPORAL_STRIDE = 4  # Wan's causal layout: 4 frames per latent frame after the first
PIXEL_CODEC_DIR, PIXEL_CODEC_CLASS = "codec", "PixelCodec"


class Codec(Protocol):
    """Encode (B, 3, 1 + 4k, H, W) videos in [-1, 1] to (B, C, 1 + k, H/s, W/s) latents and back."""

    channels: int
    spatial_stride: int
    lossless: bool

    def encode(self, video: torch.Tensor) -> torch.Tensor: ...

    def decode(self, latents: torch.Tensor) -> torch.Tensor: ...

    def describe(self) -> dict: ...

    def fingerprint(self) -> str: ...

    def to(self, device: torch.device | str) -> Codec: ...

    def save(self, path: Path) -> None: ...


def check_video(video: torch.Tensor, stride: int) -> None:
    """ValueError unless ``video`` is (B, 3, 1 + 4k, H, W) with H and W multiples of ``stride``."""
    if video.ndim != 5 or video.shape[1] != 3:
        raise ValueError(f"video must be (B, 3, F, H, W), got {tuple(video.shape)}")
    f, h, w = video.shape[2:]
    if (f - 1) % TEMPORAL_STRIDE:
        raise ValueError(f"video frames must be 1 + 4k (the causal layout), got {f}")
    if h % stride or w % stride:
        raise ValueError(f"video size {w}x{h} must be a multiple of the codec's spatial stride {stride}")


@dataclass(frozen=True)
class PixelCodecConfig:
    """The lossless codec's one setting: its spatial stride (2, 4 or 8)."""

    spatial_stride: int = 4

    def __post_init__(self) -> None:
        if self.spatial_stride not in (2, 4, 8):
            raise ValueError(f"pixel codec spatial_stride must be 2, 4 or 8, got {self.spatial_stride}")


class PixelCodec:
    """Space-to-depth (stride s) and time-to-depth (4) with Wan's causal layout; exactly invertible."""

    lossless = True

    def __init__(self, config: PixelCodecConfig = PixelCodecConfig()) -> None:
        self.config = config
        self.spatial_stride = config.spatial_stride
        self.channels = 3 * TEMPORAL_STRIDE * self.spatial_stride ** 2

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """(B, 3, 1 + 4k, H, W) -> (B, 3·4·s², 1 + k, H/s, W/s); channel order (rgb, frame, dy, dx)."""
        check_video(video, self.spatial_stride)
        s, (b, _, _, h, w) = self.spatial_stride, video.shape
        video = torch.cat([video[:, :, :1].expand(-1, -1, TEMPORAL_STRIDE, -1, -1), video[:, :, 1:]], 2)
        x = video.reshape(b, 3, -1, TEMPORAL_STRIDE, h // s, s, w // s, s)  # (B, 3, f, 4, h, s, w, s)
        return x.permute(0, 1, 3, 5, 7, 2, 4, 6).reshape(b, self.channels, -1, h // s, w // s)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`encode`; frame 0 is the mean of its 4 copies. Clamped to [-1, 1]."""
        s, (b, c, f, h, w) = self.spatial_stride, latents.shape
        if c != self.channels:
            raise ValueError(f"pixel codec latents must have {self.channels} channels, got {c}")
        x = latents.reshape(b, 3, TEMPORAL_STRIDE, s, s, f, h, w).permute(0, 1, 5, 2, 6, 3, 7, 4)
        x = x.reshape(b, 3, f * TEMPORAL_STRIDE, h * s, w * s)  # (B, 3, 4f, H, W)
        video = torch.cat([x[:, :, :TEMPORAL_STRIDE].mean(2, keepdim=True), x[:, :, TEMPORAL_STRIDE:]], 2)
        return video.clamp(-1, 1)

    def describe(self) -> dict:
        """What the model card records: the class, stride and latent channels."""
        return {"class": PIXEL_CODEC_CLASS, **asdict(self.config), "channels": self.channels, "lossless": True}

    def fingerprint(self) -> str:
        return json.dumps(self.describe(), sort_keys=True)

    def to(self, device: torch.device | str) -> PixelCodec:
        return self

    def save(self, path: Path) -> None:
        """``path/codec/config.json``: the class name and stride (no weights)."""
        (path / PIXEL_CODEC_DIR).mkdir(parents=True, exist_ok=True)
        config = {"_class_name": PIXEL_CODEC_CLASS, **asdict(self.config)}
        (path / PIXEL_CODEC_DIR / "config.json").write_text(json.dumps(config, indent=2) + "\n")


def vae_stride(config: Any) -> int:
    """Spatial stride of an ``AutoencoderKLWan`` config (a mapping or an object): 8 for Wan2.1's, 16 for Wan2.2's
    (2 x 2 pixels folded into channels before its 8x)."""
    get = config.get if isinstance(config, dict) else lambda key, default=None: getattr(config, key, default)
    return 2 ** (len(get("dim_mult", (1, 2, 4, 4))) - 1) * (get("patch_size") or 1)


class WanVAECodec:
    """``AutoencoderKLWan`` with latents normalised by its ``latents_mean`` / ``latents_std`` (as diffusers' Wan pipelines)."""

    lossless = False

    def __init__(self, vae: AutoencoderKLWan) -> None:
        self.vae = vae
        config = vae.config
        self.channels = config.z_dim
        self.spatial_stride = vae_stride(config)

    def _stats(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        config, shape = self.vae.config, (1, self.channels, 1, 1, 1)
        mean = torch.tensor(config.latents_mean, device=like.device, dtype=like.dtype).view(shape)
        std = torch.tensor(config.latents_std, device=like.device, dtype=like.dtype).view(shape)
        return mean, std

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """Normalised posterior-mode latents (B, z, 1 + k, H/s, W/s)."""
        check_video(video, self.spatial_stride)
        latents = self.vae.encode(video.to(self.vae.device, self.vae.dtype)).latent_dist.mode()
        mean, std = self._stats(latents)
        return (latents - mean) / std

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Video (B, 3, F, H, W) in [-1, 1] from normalised latents."""
        latents = latents.to(self.vae.device, self.vae.dtype)
        mean, std = self._stats(latents)
        return self.vae.decode(latents * std + mean).sample.clamp(-1, 1)

    def describe(self) -> dict:
        return {"class": "AutoencoderKLWan", "spatial_stride": self.spatial_stride, "channels": self.channels,
                "lossless": False}

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for name, tensor in sorted(self.vae.state_dict().items()):
            digest.update(name.encode() + tensor.detach().cpu().numpy().tobytes())
        return digest.hexdigest()

    def to(self, device: torch.device | str) -> WanVAECodec:
        self.vae.to(device)
        return self

    def save(self, path: Path) -> None:
        self.vae.save_pretrained(path / "vae")


def load_codec(path: str | os.PathLike) -> Codec:
    """The codec of a model directory: ``vae/`` (AutoencoderKLWan) or ``codec/`` (the pixel codec)."""
    path = Path(path)
    if (path / "vae").is_dir():
        vae = AutoencoderKLWan.from_pretrained(path / "vae", torch_dtype=torch.float32, local_files_only=True)
        return WanVAECodec(vae.eval())
    config_file = path / PIXEL_CODEC_DIR / "config.json"
    if config_file.is_file():
        try:
            config = json.loads(config_file.read_text())
            if config.pop("_class_name", None) != PIXEL_CODEC_CLASS:
                raise ValueError(f"_class_name is not {PIXEL_CODEC_CLASS}")
            return PixelCodec(PixelCodecConfig(**config))
        except (ValueError, TypeError) as err:
            raise KinemaInputError(f"codec config '{config_file}'", f"is not a pixel codec config ({err})",
                                   f'Write {{"_class_name": "{PIXEL_CODEC_CLASS}", "spatial_stride": 4}}.') from None
    raise KinemaInputError(f"model directory '{path}'", "has neither a 'vae/' nor a 'codec/' sub-folder",
                           "Point --model at a Wan checkpoint in diffusers format, or a model kinema trained.")
