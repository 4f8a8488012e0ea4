"""SCAIL-2 in-context driving, laid out as the released model (zai-org/SCAIL-2, ``model_scail2.py``;
SPEC "R2", SCAIL-2 §3.3), so that its checkpoint runs unchanged (``kinema convert scail2``).

Token stream for one denoising step, in sequence order (C = the codec's latent channels, 16 for Wan2.1):

    extra references  [Z_ref C | ones 4]  (K−1 latent frames)  patch_embedding       + mask_embedding(M_ref)
    reference         [Z_ref C | ones 4]  (1 latent frame)     patch_embedding       + mask_embedding(M_ref)
    noisy video       [x_t C   | zeros 4] (f latent frames)    patch_embedding       + mask_embedding(0)
    driving           [Z_D C   | ones 4]  (f frames, h/2 × w/2) patch_embedding_pose + mask_embedding(M_D)

* The video patch embedding takes C + 4 channels (20 for Wan2.1: no I2V ``y`` concat, the reference
  enters only as in-context tokens); the 4 I2V-mask channels say "given" (ones) or "to generate" (zeros).
* Driving, in-context: Z_D = codec(driving video at half width and height), through its own
  ``patch_embedding_pose``. Only the video's tokens are read out.
* Masks: a separate ``patch_embedding_mask`` (28 inputs) embeds colour-coded masks and is *added* to the
  tokens (to the video tokens it adds only its bias). :func:`colour_masks` builds them as SCAIL-2's
  mask preparation does: 7 binary colour channels (white, red, green, blue, yellow, magenta, cyan);
  white marks where the environment is kept (the reference's background in animation, the driving
  shot's in replacement: the *environment switch*; extra reference views paint none); the bound
  characters take the slot colours blue, red, green, magenta, cyan, yellow (SCAIL-Pose orders subjects
  left to right), the same colour on the reference and on the driving subject it replaces (*binding*).
  :func:`compress_masks` pools them to the latent grid and folds 4 frames into 28 channels
  (channel = 7·k + colour).
* One timestep for the whole sequence (the released model modulates every token with it). On a base
  trained with a timestep per token (Wan2.2-TI2V-5B's ``expand_timesteps``, whose clean first frame is
  at t = 0), the references and the driving take t = 0: that is how the base reads clean tokens.
* RoPE, in token units of the video grid: animation puts the reference at t = K − 1 and the video from
  t = K (the reference is "the frame before"); replacement puts the reference at the video's first
  time but 120 rows down, so it is no part of the shot. The driving tokens sit at the video's times,
  120 columns to the right, and carry the 2 × 2 average of the full-grid rotations they cover
  (:class:`~kinema.backbone.segments.Segment` ``pool``).

Ablation switches of the same layout (SCAIL-2's Table 4): ``switch=False`` leaves the white channel
empty, ``binding=False`` draws every character in the first slot colour, ``mode_rope=False`` places
both modes as animation. :func:`build_inputs` is the single input builder of inference and training.

History (long videos, :mod:`kinema.pipelines.windows`): a window after the first takes the previous window's
last c latent frames as its video frames 1..c, clean at timestep 0 with their I2V-mask channels ones ("given",
the released model's history mask), frame 0 generated and dropped as in recipe R1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from kinema.backbone.codecs import TEMPORAL_STRIDE
from kinema.backbone.components import WanComponents
from kinema.backbone.embeddings import add_patch_embedding
from kinema.backbone.encoders import encode_image_tokens
from kinema.backbone.block_attention import ConditionCache
from kinema.backbone.segments import ATTENTIONS, Attention, Segment, forward_segments, with_history
from kinema.backbone.widen import narrow_patch_embedding, widen_patch_embedding
from kinema.recipes.dreamactor_m2 import MASK_CHANNELS

Mode = Literal["animate", "replace"]
MODES: tuple[Mode, ...] = ("animate", "replace")
WHITE, RED, GREEN, BLUE, YELLOW, MAGENTA, CYAN = range(7)  # the released mask channels, in their order
COLOURS = 7
MASK_DIM = COLOURS * TEMPORAL_STRIDE  # 28: 7 colours x 4 frames folded into each latent frame
SLOT_COLOURS = (BLUE, RED, GREEN, MAGENTA, CYAN, YELLOW)  # SCAIL-Pose's palette, subjects left to right
MAX_SLOTS = len(SLOT_COLOURS)
MODE_SHIFT = 120  # tokens: the released model's offset of the replacement reference (rows) and the driving (columns)
POSE_EMBEDDING, MASK_EMBEDDING = "patch_embedding_pose", "patch_embedding_mask"


@dataclass(frozen=True)
class R2Config:
    """Recipe R2 settings (properties of the trained weights, recorded in the model card).

    Attributes:
        slots: characters the model binds at once (at most the 6 slot colours).
        driving_resolution: "half" (the released model: 4x fewer driving tokens, pooled RoPE) or "full".
        switch, binding, mode_rope: the ablation flags (module doc); True is the released model.
        attention: "full" (the released model), or "block": the references and driving, clean at timestep 0,
            attend only among themselves, so inference computes their keys and values once per clip
            (:mod:`kinema.backbone.block_attention`).
    """

    slots: int = MAX_SLOTS
    driving_resolution: Literal["full", "half"] = "half"
    switch: bool = True
    binding: bool = True
    mode_rope: bool = True
    attention: Attention = "full"

    def __post_init__(self) -> None:
        if not 1 <= self.slots <= MAX_SLOTS:
            raise ValueError(f"slots must be in [1, {MAX_SLOTS}] (the slot colours), got {self.slots}")
        if self.driving_resolution not in ("full", "half"):
            raise ValueError(f"driving_resolution must be 'full' or 'half', got '{self.driving_resolution}'")
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, got '{self.attention}'")

    @property
    def pool(self) -> int:
        """How many video-grid tokens per side one driving token covers."""
        return 2 if self.driving_resolution == "half" else 1


def check_mode(mode: str) -> Mode:
    if mode not in MODES:
        raise ValueError(f"unknown R2 mode '{mode}'; use 'animate' or 'replace'")
    return mode  # type: ignore[return-value]


def prepare_transformer(transformer: torch.nn.Module, latent_channels: int) -> list[str]:
    """Give a Wan transformer the released layout, in place; returns the names of modules it added.

    The video patch embedding takes C + 4 inputs: a Wan I2V model keeps its noisy latent and mask columns
    (its ``y`` columns go), a T2V model gains zero mask columns. A missing driving embedding starts as a
    copy of it (driving latents are video latents), a missing mask embedding as zero (a no-op until trained)."""
    channels = latent_channels + MASK_CHANNELS
    if transformer.config.in_channels > channels:
        narrow_patch_embedding(transformer, channels)
    widen_patch_embedding(transformer, channels)
    added = []
    if not hasattr(transformer, POSE_EMBEDDING):
        add_patch_embedding(transformer, POSE_EMBEDDING, channels, copy=True)
        added.append(POSE_EMBEDDING)
    if not hasattr(transformer, MASK_EMBEDDING):
        add_patch_embedding(transformer, MASK_EMBEDDING, MASK_DIM, copy=False)
        added.append(MASK_EMBEDDING)
    return added


@dataclass
class R2Inputs:
    """Everything the DiT needs besides the noisy latent and timestep.

    Attributes:
        mode: "animate" or "replace".
        config: the recipe settings (coordinates and pooling follow them).
        references: (B, C+4, K, h, w) [Z_ref | ones] in sequence order: the extra views, then the reference.
        reference_masks: (B, 28, K, h, w) their compressed colour masks.
        driving: (B, C+4, f, h', w') [Z_D | ones]; driving_masks: (B, 28, f, h', w').
        frames: f, the video's latent frames.
        image_tokens: CLIP tokens of the reference (the last one) for I2V models, else None.
        clean_conditions: the references and driving at timestep 0 (a per-token-timestep base: Wan2.2-TI2V),
            not at the video's (the released model, on Wan2.1).
        history: (B, C, c, h, w) clean video latent frames 1..c (a long video's window after the first), or None.
    """

    mode: Mode
    config: R2Config
    references: torch.Tensor
    reference_masks: torch.Tensor
    driving: torch.Tensor
    driving_masks: torch.Tensor
    frames: int
    image_tokens: torch.Tensor | None
    clean_conditions: bool = False
    history: torch.Tensor | None = None

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of the noisy video latent this recipe denoises."""
        b, c, _, h, w = self.references.shape
        return (b, c - MASK_CHANNELS, self.frames, h, w)

    @property
    def reference_latents(self) -> torch.Tensor:
        """(B, C, K, h, w) latents of the references."""
        return self.references[:, :-MASK_CHANNELS]


def colour_masks(slots: torch.Tensor, environment: bool, config: R2Config) -> torch.Tensor:
    """Slot masks (B, S, F, H, W) in [0, 1] -> the 7 colour channels (B, 7, F, H, W).

    Slot s paints its colour (``SLOT_COLOURS[s]``; the first one for all when ``binding`` is off);
    ``environment`` paints white wherever no character is (with ``switch`` on)."""
    b, s, f, h, w = slots.shape
    if s > config.slots:
        raise ValueError(f"{s} bound characters but the recipe has {config.slots} binding slots")
    out = slots.new_zeros(b, COLOURS, f, h, w)
    for k in range(s):
        colour = SLOT_COLOURS[k if config.binding else 0]
        out[:, colour] = torch.maximum(out[:, colour], slots[:, k])
    if environment and config.switch:
        out[:, WHITE] = 1 - slots.amax(1).clamp(0, 1) if s else 1
    return out


def compress_masks(masks: torch.Tensor, latent_hw: tuple[int, int]) -> torch.Tensor:
    """Colour masks (B, 7, F, H, W), F = 1 + 4k, -> (B, 28, 1 + k, h, w), as the released mask preparation:
    area-pooled to the latent grid, frame 0 repeated 4 times, each 4 frames folded into the channels
    (channel = 7·j + colour for the j-th frame of a latent frame)."""
    b, c, f, _, _ = masks.shape
    if (f - 1) % TEMPORAL_STRIDE:
        raise ValueError(f"mask frames must be 1 + 4k, got {f}")
    pooled = F.interpolate(masks.transpose(1, 2).flatten(0, 1), size=latent_hw, mode="area")  # (B*F, 7, h, w)
    pooled = pooled.unflatten(0, (b, f))  # (B, F, 7, h, w)
    pooled = torch.cat([pooled[:, :1].expand(-1, TEMPORAL_STRIDE, -1, -1, -1), pooled[:, 1:]], dim=1)
    return pooled.reshape(b, -1, TEMPORAL_STRIDE * c, *latent_hw).transpose(1, 2)  # (B, 28, f, h, w)


def _given(latents: torch.Tensor) -> torch.Tensor:
    """[latents | ones 4]: a condition segment's I2V-mask channels say "given"."""
    return torch.cat([latents, torch.ones_like(latents[:, :MASK_CHANNELS])], dim=1)


def build_inputs(components: WanComponents, references: torch.Tensor, driving: torch.Tensor,
                 reference_masks: torch.Tensor, driving_masks: torch.Tensor, mode: Mode,
                 config: R2Config = R2Config()) -> R2Inputs:
    """Encode the conditions of R2 (inference and training alike).

    Args:
        references: (B, K, 3, H, W) in [-1, 1]: the reference (environment, CLIP) first, then extra views
            (the sequence places the extra views before it, as the released model does).
        driving: (B, 3, F, H, W) in [-1, 1], F = 1 + 4k, the raw driving video.
        reference_masks: (B, K, S, H, W) in [0, 1]: slot s's character on reference image k.
        driving_masks: (B, S, F, H, W) in [0, 1]: the driving subject bound to slot s.
        mode: "animate" (environment from the reference) or "replace" (from the driving video).
    """
    mode = check_mode(mode)
    b, k = references.shape[:2]
    s, f = driving_masks.shape[1:3]
    if reference_masks.shape[:3] != (b, k, s) or driving_masks.shape[0] != b or f != driving.shape[2]:
        raise ValueError(f"mask shapes {tuple(reference_masks.shape)} / {tuple(driving_masks.shape)} do not match "
                         f"{k} references, {driving.shape[2]} driving frames")
    order = [*range(1, k), 0]  # sequence order: extra views, then the reference
    references, reference_masks = references[:, order], reference_masks[:, order]
    codec = components.codec
    z_ref = codec.encode(references.flatten(0, 1)[:, :, None])  # (B*K, C, 1, h, w): each image alone
    z_ref = z_ref.unflatten(0, (b, k)).squeeze(3).transpose(1, 2)  # (B, C, K, h, w)
    slots = reference_masks.transpose(1, 2).to(z_ref)  # (B, S, K, H, W)
    ref_masks = torch.cat([  # the environment is the reference's alone: extra views keep only their characters
        compress_masks(colour_masks(slots[:, :, i:i + 1], mode == "animate" and i == k - 1, config), z_ref.shape[-2:])
        for i in range(k)], dim=2)

    if config.driving_resolution == "half":  # bilinear 0.5x of the released pipeline = 2x2 averaging
        driving, driving_masks = (F.avg_pool3d(x, kernel_size=(1, 2, 2)) for x in (driving, driving_masks.to(driving)))
    z_drv = codec.encode(driving)  # (B, C, f, h', w')
    drv_colours = colour_masks(driving_masks.to(z_drv), mode == "replace", config)
    drv_masks = compress_masks(drv_colours, z_drv.shape[-2:])

    image_tokens = encode_image_tokens(components, references[:, -1])  # (B, N, C) | None: the reference's CLIP
    return R2Inputs(mode, config, _given(z_ref), ref_masks, _given(z_drv), drv_masks, z_drv.shape[2], image_tokens,
                    components.expand_timesteps)


def coordinates(inputs: R2Inputs) -> tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]:
    """RoPE offsets (t, h, w) of the references, the video and the driving, in video-grid token units."""
    k = inputs.references.shape[2]
    replace = inputs.mode == "replace" and inputs.config.mode_rope
    video_t = k - 1 if replace else k
    return (0, MODE_SHIFT if replace else 0, 0), (video_t, 0, 0), (video_t, 0, MODE_SHIFT)


def segments(inputs: R2Inputs, noisy: torch.Tensor, timestep: torch.Tensor) -> list[Segment]:
    """The token stream for one step: noisy (B, C, f, h, w), timestep (B,) (the conditions' too, unless
    ``inputs.clean_conditions`` or block attention)."""
    refs, video, driving = coordinates(inputs)
    clean = inputs.clean_conditions or inputs.config.attention == "block"
    given = torch.zeros_like(timestep) if clean else timestep
    blank = inputs.reference_masks.new_zeros(*noisy.shape[:1], MASK_DIM, *noisy.shape[2:])
    flags = torch.zeros_like(noisy[:, :MASK_CHANNELS])  # the I2V mask: "to generate", "given" on the history
    if inputs.history is not None:
        flags[:, :, 1:1 + inputs.history.shape[2]] = 1
    target = Segment(torch.cat([noisy, flags], dim=1), timestep, video, mask=blank.to(noisy))
    pieces = [target] if inputs.history is None else with_history(target, inputs.history)
    return [
        Segment(inputs.references.to(noisy), given, refs, predicted=False, mask=inputs.reference_masks.to(noisy)),
        *pieces,
        Segment(inputs.driving.to(noisy), given, driving, predicted=False, embedding=POSE_EMBEDDING,
                mask=inputs.driving_masks.to(noisy), pool=inputs.config.pool),
    ]


def predict(transformer: torch.nn.Module, inputs: R2Inputs, noisy: torch.Tensor, timestep: torch.Tensor,
            text: torch.Tensor, cache: ConditionCache | None = None) -> torch.Tensor:
    """The network's output for the noisy video (B, C, f, h, w); under block attention, the conditions' keys and
    values come from ``cache`` once it is filled (one per clip, model and text branch)."""
    image = None if inputs.image_tokens is None else inputs.image_tokens.to(noisy.dtype)
    stream = segments(inputs, noisy, timestep)
    return torch.cat(forward_segments(transformer, stream, text, image, inputs.config.attention, cache), dim=2)


def target_latents(components: WanComponents, target: torch.Tensor) -> torch.Tensor:
    """Training x0 (B, C, f, h, w) for a target video (B, 3, F, H, W)."""
    return components.codec.encode(target)
