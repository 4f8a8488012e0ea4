"""SCAIL-2 in-context driving with an environment switch and binding slots (SPEC "R2", SCAIL-2 §3.3).

Token stream for one denoising step (two segments, same patch embedding):

    target  [noisy C | I2V mask 4 | Z C | switch 1 | slots N]  (B, 2C+5+N, K+f, h, w), predicted
    driving [Z_D C   | ones 4     | Z_D C | switch 1 | slots N] (B, 2C+5+N, f, h', w'), clean (t = 0)

(C = the codec's latent channels: 16 for Wan2.1's VAE, so 37 + N.)

* Reference, I2V-style: the K reference images are encoded one by one and prepended as K latent
  frames of the target with I2V mask 1 (as Wan-Animate prepends its reference frame); the video's
  f latent frames follow with mask 0. The output's first K latent frames are dropped.
* Driving, in-context: Z_D = codec(driving video), optionally at half resolution, is a clean segment
  (timestep 0) beside the noisy target — SCAIL-2's "condition tokens concatenated to the denoised
  sequence at a fixed offset". Its latent sits in both the noisy and the condition slots (x_0 at t = 0).
* Mask channels enter through the widened patch embedding (zero-initialised, so a loaded model is
  unchanged until trained): one environment switch (constant 1 in replacement — environment from
  the driving video — and 0 in animation — environment from the reference) and N binding slots:
  slot k holds character k's mask on its reference frame and driving subject k's mask on the
  driving segment, so attention can route subject k's motion to character k.
* Mode-specific shifted RoPE: the driving segment's coordinates depend on the mode (see
  :class:`R2Config`); the target's video frames sit at t = 0..f-1, its reference frames at t < 0.

:func:`build_inputs` is the single input builder used by inference and training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from kinema.backbone.codecs import TEMPORAL_STRIDE
from kinema.backbone.components import WanComponents
from kinema.backbone.encoders import encode_image_tokens
from kinema.backbone.segments import Segment
from kinema.recipes.dreamactor_m2 import MASK_CHANNELS
from kinema.recipes.dreamactor_m2 import in_channels as i2v_channels

Mode = Literal["animate", "replace"]
MODES: tuple[Mode, ...] = ("animate", "replace")
SWITCH_CHANNELS = 1
WAN_LATENT_CHANNELS = 16  # Wan2.1's VAE: 36 = Wan2.1-I2V's input channels


@dataclass(frozen=True)
class R2Config:
    """Recipe R2 settings (they are properties of the trained weights, not of one call).

    Attributes:
        slots: binding slots N (characters the model can bind at once).
        driving_resolution: "full", or "half" to encode the driving video at half width and height
            (4x fewer condition tokens).
        replace_shift: RoPE shift (t, h, w) of the driving segment in replacement, in units of the
            target's latent grid (f, h, w). Default (0, 0, 0): co-located with the target, because the
            output *is* the driving shot with one subject swapped — a token should attend to the
            driving token at its own place and time (environment, occluders, lighting copy over).
        animate_shift: the same in animation. Default (0, 0, 1): one target width to the right, the
            layout of DreamActor-M2's spatial in-context composite. Time stays aligned (frame i drives
            frame i) but space is not, so the model is pushed to transfer motion rather than copy the
            driving pixels in place; the relative offset itself tells the model which mode it is in.
        switch, binding: ablation flags; False zeroes the environment-switch / binding-slot channels
            (the channel count, hence the weights' shapes, stays the same).
    """

    slots: int = 4
    driving_resolution: Literal["full", "half"] = "full"
    replace_shift: tuple[int, int, int] = (0, 0, 0)
    animate_shift: tuple[int, int, int] = (0, 0, 1)
    switch: bool = True
    binding: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.slots <= 16:
            raise ValueError(f"slots must be in [1, 16], got {self.slots}")
        if self.driving_resolution not in ("full", "half"):
            raise ValueError(f"driving_resolution must be 'full' or 'half', got '{self.driving_resolution}'")

    def in_channels(self, latent_channels: int = WAN_LATENT_CHANNELS) -> int:
        """Patch-embedding inputs: the I2V layout (36 for Wan2.1) + switch + slots."""
        return i2v_channels(latent_channels) + SWITCH_CHANNELS + self.slots

    def shift(self, mode: Mode) -> tuple[int, int, int]:
        if mode not in MODES:
            raise ValueError(f"unknown R2 mode '{mode}'; use 'animate' or 'replace'")
        return self.replace_shift if mode == "replace" else self.animate_shift

    @classmethod
    def for_channels(cls, in_channels: int, latent_channels: int = WAN_LATENT_CHANNELS, **fields) -> R2Config:
        """The config matching a checkpoint's ``in_channels`` (the bare I2V layout = not yet widened: default slots)."""
        base = i2v_channels(latent_channels)
        if in_channels <= base:
            return cls(**fields)
        return cls(slots=in_channels - base - SWITCH_CHANNELS, **fields)


@dataclass
class R2Inputs:
    """Everything the DiT needs besides the noisy latent and timestep.

    Attributes:
        mode: "animate" or "replace".
        condition: (B, C+5+N, K+f, h, w) [I2V mask 4 | Z C | switch | slots], concatenated to the noisy latent.
        driving: (B, 2C+5+N, f, h', w') the clean driving segment.
        driving_offset: RoPE coordinate of the driving segment's first patch.
        references: K, the number of prepended reference latent frames.
        image_tokens: CLIP tokens of the references (concatenated) for I2V models, else None.
    """

    mode: Mode
    condition: torch.Tensor
    driving: torch.Tensor
    driving_offset: tuple[int, int, int]
    references: int
    image_tokens: torch.Tensor | None

    @property
    def latent_channels(self) -> int:
        """C, the codec's latent channels (the driving segment is [Z_D C | ones 4 | Z_D C | switch | slots])."""
        return self.driving.shape[1] - self.condition.shape[1]

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of the noisy latent this recipe denoises (reference frames included)."""
        b, _, f, h, w = self.condition.shape
        return (b, self.latent_channels, f, h, w)

    @property
    def reference_latents(self) -> torch.Tensor:
        """(B, C, K, h, w) latents of the references (the Z channels of the first K frames)."""
        return self.condition[:, MASK_CHANNELS:MASK_CHANNELS + self.latent_channels, : self.references]


def pool_mask(masks: torch.Tensor, latent_hw: tuple[int, int]) -> torch.Tensor:
    """Pixel masks (B, S, F, H, W) in [0, 1] -> latent coverage (B, S, 1 + (F-1)/4, h, w).

    Each latent cell gets the fraction of its pixels (and of its 4 folded frames; the first frame
    alone, as the causal VAE encodes it) that the mask covers.
    """
    b, s, f, _, _ = masks.shape
    if (f - 1) % TEMPORAL_STRIDE:
        raise ValueError(f"mask frames must be 1 + 4k, got {f}")
    first, rest = masks[:, :, :1], masks[:, :, 1:]
    rest = rest.reshape(b, s, -1, TEMPORAL_STRIDE, *masks.shape[-2:]).mean(3)  # (B, S, (F-1)/4, H, W)
    frames = torch.cat([first, rest], dim=2).flatten(1, 2)  # (B, S*f, H, W)
    return F.interpolate(frames, size=latent_hw, mode="area").unflatten(1, (s, -1))


def _extra_channels(config: R2Config, mode: Mode, slots: torch.Tensor) -> torch.Tensor:
    """[switch | slots] (B, 1+N, f, h, w) from slot coverage (B, S, f, h, w), S <= N zero-padded."""
    b, s, f, h, w = slots.shape
    if s > config.slots:
        raise ValueError(f"{s} bound characters but the recipe has {config.slots} binding slots")
    switch = torch.full((b, 1, f, h, w), float(mode == "replace" and config.switch)).to(slots)
    slots = slots if config.binding else torch.zeros_like(slots)
    return torch.cat([switch, slots, slots.new_zeros(b, config.slots - s, f, h, w)], dim=1)


def _driving_offset(config: R2Config, mode: Mode, target: tuple[int, int, int],
                    driving: tuple[int, int, int]) -> tuple[int, int, int]:
    """RoPE offset: a smaller (half-resolution) grid is centred on the target, then shifted by mode."""
    shift = config.shift(mode)
    return tuple((t - d) // 2 + s * t for t, d, s in zip(target, driving, shift))


def _grid(latents: torch.Tensor, patch: tuple[int, int, int]) -> tuple[int, int, int]:
    """Post-patch (frames, height, width) of latents (B, C, F, H, W)."""
    return tuple(n // p for n, p in zip(latents.shape[2:], patch))


def _half(video: torch.Tensor) -> torch.Tensor:
    """(B, 3, F, H, W) -> (B, 3, F, H/2, W/2) by area averaging."""
    return F.avg_pool3d(video, kernel_size=(1, 2, 2))


def build_inputs(components: WanComponents, references: torch.Tensor, driving: torch.Tensor,
                 reference_masks: torch.Tensor, driving_masks: torch.Tensor, mode: Mode,
                 config: R2Config = R2Config()) -> R2Inputs:
    """Encode the conditions of R2 (inference and training alike).

    Args:
        references: (B, K, 3, H, W) in [-1, 1], the reference images.
        driving: (B, 3, F, H, W) in [-1, 1], F = 1 + 4k, the raw driving video.
        reference_masks: (B, K, S, H, W) in [0, 1]: slot s's character on reference image k (zero
            on the other images); S <= config.slots bound characters.
        driving_masks: (B, S, F, H, W) in [0, 1]: the driving subject bound to slot s.
        mode: "animate" (environment from the reference) or "replace" (from the driving video).
    """
    b, k = references.shape[:2]
    s, f = driving_masks.shape[1:3]
    if reference_masks.shape[:3] != (b, k, s) or driving_masks.shape[0] != b or f != driving.shape[2]:
        raise ValueError(f"mask shapes {tuple(reference_masks.shape)} / {tuple(driving_masks.shape)} do not match "
                         f"{k} references, {driving.shape[2]} driving frames")
    # 1. Target: K reference latent frames (I2V mask 1) then f video frames (mask 0, Z = 0).
    codec = components.codec
    z_ref = codec.encode(references.flatten(0, 1)[:, :, None])  # (B*K, C, 1, h, w)
    z_ref = z_ref.unflatten(0, (b, k)).squeeze(3).transpose(1, 2)  # (B, C, K, h, w)
    f_lat, (h, w) = 1 + (f - 1) // TEMPORAL_STRIDE, z_ref.shape[-2:]
    z = torch.cat([z_ref, z_ref.new_zeros(b, codec.channels, f_lat, h, w)], dim=2)
    i2v_mask = torch.cat([torch.ones_like(z[:, :MASK_CHANNELS, :k]), torch.zeros_like(z[:, :MASK_CHANNELS, k:])], 2)
    ref_slots = F.interpolate(reference_masks.flatten(1, 2), size=(h, w), mode="area").to(z)
    ref_slots = ref_slots.unflatten(1, (k, s)).transpose(1, 2)  # (B, S, K, h, w)
    slots = torch.cat([ref_slots, ref_slots.new_zeros(b, s, f_lat, h, w)], dim=2)
    condition = torch.cat([i2v_mask, z, _extra_channels(config, mode, slots)], dim=1)

    # 2. Driving: a clean segment at the mode's RoPE offset.
    video = _half(driving) if config.driving_resolution == "half" else driving
    z_drv = codec.encode(video)  # (B, C, f, h', w')
    drv_slots = pool_mask(driving_masks.to(z_drv), z_drv.shape[-2:])
    drv = torch.cat([z_drv, torch.ones_like(z_drv[:, :MASK_CHANNELS]), z_drv,
                     _extra_channels(config, mode, drv_slots)], dim=1)
    patch = components.transformer.config.patch_size
    offset = _driving_offset(config, mode, _grid(z[:, :, k:], patch), _grid(z_drv, patch))

    image_tokens = encode_image_tokens(components, references.flatten(0, 1))  # (B*K, N, C) | None
    if image_tokens is not None:
        image_tokens = image_tokens.unflatten(0, (b, k)).flatten(1, 2)  # (B, K*N, C)
    return R2Inputs(mode, condition, drv, offset, k, image_tokens)


def segments(inputs: R2Inputs, noisy: torch.Tensor, timestep: torch.Tensor) -> list[Segment]:
    """The token stream for one step: noisy (B, C, K+f, h, w), timestep (B,). Target first."""
    target = Segment(torch.cat([noisy, inputs.condition.to(noisy)], dim=1), timestep, (-inputs.references, 0, 0))
    driving = Segment(inputs.driving.to(noisy), torch.zeros_like(timestep), inputs.driving_offset, predicted=False)
    return [target, driving]


def video_latents(inputs: R2Inputs, latents: torch.Tensor) -> torch.Tensor:
    """The generated video's latents (B, C, f, h, w): the target without its K reference frames."""
    return latents[:, :, inputs.references:]


def target_latents(components: WanComponents, inputs: R2Inputs, target: torch.Tensor) -> torch.Tensor:
    """Training x0 (B, C, K+f, h, w) for a target video (B, 3, F, H, W): [Z_ref | codec(V)] along time."""
    return torch.cat([inputs.reference_latents, components.codec.encode(target).to(inputs.condition)], dim=2)
