"""DreamActor-M2 spatiotemporal in-context conditioning (SPEC "R1", DreamActor-M2 §3.2, eq. 2).

Spatial layout (the paper's method): composite video C of size H x 2W,
    C[0] = I_ref ⊕ D[0],   C[t>0] = 0 ⊕ D[t]          (eq. 2, ⊕ = concat along width)
mask M = M_r ⊕ M_m with M_r = 1 on frame 0 only and M_m = 1 everywhere. The DiT input is the
channel concat [noisy latent (C) | M folded to 4 channels | Z = codec(C) (C)], i.e. Wan2.1-I2V's
36-channel layout (C = 16) widened along W. The character video is the left half of the output.

Temporal layout (the paper's "temporal in-context" ablation, after TIC-FT): the target keeps the
plain I2V layout (reference as first-frame condition, width W) and the driving video's latents
form a clean context segment (timestep 0) placed just before the target in time.

Aligned layout (the paper's "Alternative 1: pose alignment injection", §3.2): the plain I2V layout
(width W) with the driving video's latents concatenated along channels, so every target token sees
the skeleton at its own position: [noisy latent (C) | M_r (4) | Z_ref (C) | Z_D (C)].

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
from kinema.backbone.segments import Segment, forward_segments, with_history

Layout = Literal["spatial", "temporal", "aligned"]
LAYOUTS: tuple[Layout, ...] = ("spatial", "temporal", "aligned")
MASK_CHANNELS = 4  # the I2V mask: 4 pixel frames folded into each latent frame


def in_channels(latent_channels: int, layout: Layout = "spatial") -> int:
    """Patch-embedding inputs: noisy latent + mask + condition latent (36 for Wan2.1's 16-channel VAE),
    + the driving latent in the aligned layout (52)."""
    driving = latent_channels if layout == "aligned" else 0
    return latent_channels + MASK_CHANNELS + latent_channels + driving


def composite_video(reference: torch.Tensor, driving: torch.Tensor) -> torch.Tensor:
    """Eq. 2: (B, 3, F, H, 2W) from reference (B, 3, H, W) and driving (B, 3, F, H, W)."""
    left = torch.zeros_like(driving)
    left[:, :, 0] = reference
    return torch.cat([left, driving], dim=-1)


def composite_mask(frames: int, height: int, width: int, batch: int = 1) -> torch.Tensor:
    """M = M_r ⊕ M_m: (B, 1, F, H, 2W) with M_r = 1 on frame 0 (left half) and M_m = 1 (right half)."""
    m_r = torch.zeros(batch, 1, frames, height, width)
    m_r[:, :, 0] = 1.0
    return torch.cat([m_r, torch.ones_like(m_r)], dim=-1)


def fold_mask(mask: torch.Tensor, latent_hw: tuple[int, int]) -> torch.Tensor:
    """Pixel mask (B, 1, F, H, W) -> Wan I2V latent mask (B, 4, 1 + (F-1)/4, h, w).

    As in ``WanImageToVideoPipeline``: the first frame is repeated 4x, then every 4 frames are
    folded into the channels of one latent frame.
    """
    b, _, f, _, _ = mask.shape
    mask = F.interpolate(mask.flatten(1, 2), size=latent_hw, mode="nearest").unsqueeze(1)  # (B, 1, F, h, w)
    mask = torch.cat([mask[:, :, :1].repeat_interleave(TEMPORAL_STRIDE, dim=2), mask[:, :, 1:]], dim=2)
    return mask.view(b, -1, TEMPORAL_STRIDE, *latent_hw).transpose(1, 2)  # (B, 4, f, h, w)


@dataclass
class R1Inputs:
    """Everything the DiT needs besides the noisy latent and timestep.

    Attributes:
        layout: "spatial", "temporal" or "aligned".
        condition: (B, 4 + C, f, h, W_lat) mask + condition latents (+ C driving latents in the aligned
            layout), channel-concatenated to the noisy latent.
        context: temporal layout only: (B, 36, f, h, w) clean driving segment.
        image_tokens: CLIP tokens of the reference for I2V models, else None.
        character_width: latent width w of the character video (left half).
        history: (B, C, c, h, W_lat) clean latent frames 1..c of the window (the diffusion variable), or None.
    """

    layout: Layout
    condition: torch.Tensor
    context: torch.Tensor | None
    image_tokens: torch.Tensor | None
    character_width: int
    history: torch.Tensor | None = None

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of the noisy latent this recipe denoises."""
        b, c, f, h, w = self.condition.shape
        latent = (c - MASK_CHANNELS) // (2 if self.layout == "aligned" else 1)
        return (b, latent, f, h, w)

    @property
    def reference_latents(self) -> torch.Tensor:
        """Z of the composite (spatial) or of the first-frame video (temporal, aligned): (B, C, f, h, W_lat)."""
        return self.condition[:, MASK_CHANNELS: MASK_CHANNELS + self.latent_shape[1]]


def build_inputs(components: WanComponents, reference: torch.Tensor, driving: torch.Tensor,
                 layout: Layout = "spatial") -> R1Inputs:
    """Encode the conditions of R1.

    Args:
        reference: (B, 3, H, W) in [-1, 1].
        driving: (B, 3, F, H, W) in [-1, 1], F = 1 + 4k; a rendered skeleton video or raw RGB.
        layout: "spatial" (eq. 2), "temporal" or "aligned" (the paper's alternatives).
    """
    b, _, f, h, w = driving.shape
    image_tokens = encode_image_tokens(components, reference)
    codec = components.codec
    if layout == "spatial":
        z = codec.encode(composite_video(reference, driving))  # (B, C, f', h/s, 2w/s)
        mask = fold_mask(composite_mask(f, h, w, b).to(z), z.shape[-2:])
        return R1Inputs(layout, torch.cat([mask, z], dim=1), None, image_tokens, z.shape[-1] // 2)
    if layout in ("temporal", "aligned"):
        first = torch.zeros_like(driving)
        first[:, :, 0] = reference
        z_ref = codec.encode(first)  # I2V first-frame condition
        m_r = fold_mask(composite_mask(f, h, w, b)[..., :w].to(z_ref), z_ref.shape[-2:])
        z_drv = codec.encode(driving)
        if layout == "aligned":
            return R1Inputs(layout, torch.cat([m_r, z_ref, z_drv], dim=1), None, image_tokens, z_ref.shape[-1])
        context = torch.cat([z_drv, torch.ones_like(m_r), z_drv], dim=1)  # clean latent | M_m | Z_D
        return R1Inputs(layout, torch.cat([m_r, z_ref], dim=1), context, image_tokens, z_ref.shape[-1])
    raise ValueError(f"unknown R1 layout '{layout}'; use one of {', '.join(LAYOUTS)}")


def segments(inputs: R1Inputs, noisy: torch.Tensor, timestep: torch.Tensor) -> list[Segment]:
    """The token stream for one denoising step: noisy (B, C, f, h, W_lat), timestep (B,). Every segment of the
    target is predicted (its history frames too: their output is unused), in time order."""
    target = Segment(torch.cat([noisy, inputs.condition.to(noisy)], dim=1), timestep)
    stream = [target] if inputs.history is None else with_history(target, inputs.history)
    if inputs.context is None:
        return stream
    frames = inputs.context.shape[2]
    return [Segment(inputs.context.to(noisy), torch.zeros_like(timestep), (-frames, 0, 0), predicted=False), *stream]


def predict(transformer: torch.nn.Module, inputs: R1Inputs, noisy: torch.Tensor, timestep: torch.Tensor,
            text: torch.Tensor) -> torch.Tensor:
    """The network's output for the noisy target (B, C, f, h, W_lat)."""
    image = None if inputs.image_tokens is None else inputs.image_tokens.to(noisy.dtype)
    return torch.cat(forward_segments(transformer, segments(inputs, noisy, timestep), text, image), dim=2)


def character_latents(inputs: R1Inputs, latents: torch.Tensor) -> torch.Tensor:
    """The character video's latents: the left half in the spatial layout, all of it in the others."""
    return latents[..., : inputs.character_width]


def anchor(inputs: R1Inputs) -> torch.Tensor:
    """The still video an anchored model denoises the change from: (B, C, f, h, W_lat).

    An anchored model's diffusion variable is x0 − anchor (trained so, sampled so, the anchor added
    back at the end): the background it must keep costs nothing and every token sees, in its own
    noisy input, how its pixels differ from the reference. The character part holds the reference's
    latent frame (Z's frame 0, which the codec fills with frame 0 alone) at every latent frame, i.e.
    the static-reference video; the driving half of the spatial layout holds Z itself, which the
    target's driving half equals (its change is zero).
    """
    z = inputs.reference_latents  # (B, C, f, h, W_lat)
    still = z[:, :, :1, :, : inputs.character_width].expand(-1, -1, z.shape[2], -1, -1)
    return torch.cat([still, z[..., inputs.character_width:]], dim=-1)


def target_latents(components: WanComponents, inputs: R1Inputs, target: torch.Tensor,
                   driving: torch.Tensor) -> torch.Tensor:
    """Training target x0 for a target video (B, 3, F, H, W): codec(V ⊕ D) spatially, else codec(V)."""
    video = torch.cat([target, driving], dim=-1) if inputs.layout == "spatial" else target
    return components.codec.encode(video)
