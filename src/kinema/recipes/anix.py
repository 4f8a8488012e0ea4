"""AniX world-mode conditioning (SPEC "R3", AniX §3.1.2–3.1.3, eq. 2) on the Wan token stream.

Token stream for one denoising step, in sequence order (C = the codec's latent channels):

    views     Z_C  (1 latent frame each; front, left, right, back)   patch_embedding, clean (t = 0)
    context   Z_V1 (the preceding clip's last latent frames; AR mode) patch_embedding, clean (t = 0)
    video     x'_t = embed(x_t) + Projector([Z_S ; M])                 patch_embedding + patch_embedding_scene

* Scene and anchor (§3.1.2): the rendered scene video's latents Z_S and the per-frame anchor mask M (folded
  to 4 channels per latent frame, as Wan's I2V mask) are fused into the noisy tokens by a linear projector,
  ``patch_embedding_scene`` (C + 4 inputs, kernel = stride = the patch: a linear map of each token's
  values), zero-initialised so that a loaded model is unchanged until trained.
* Character views: clean segments with shifted 3D-RoPE, eq. 2: view k ∈ {front, left, right, back} = 1..4 at
  (t, i, j) = (−k, i + h, j + w), (h, w) the view's token grid. Four views, or AniX's ablations (its
  Table 3): the front view alone, or front and back (which keep their own shifts, −1 and −4).
* Auto-regressive mode (§3.1.3): the preceding video tokens are prepended to the noisy tokens at the times
  just before them (−c … −1). In training they are the first quarter of the target's latent frames with small
  Gaussian noise (``context_noise``, seeded), the loss on the remaining three quarters; at inference, the last
  latent frames of the previous clip.
* Text: the action in AniX's template (:func:`action_prompt`) through Wan's cross-attention, which carries
  no positional encoding (as AniX's text tokens).

The video patch embedding takes the latents alone (C inputs): a Wan I2V model's mask and ``y`` columns are
dropped. Conditions are clean tokens at timestep 0. :func:`build_inputs` is the single input builder of
inference and training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from kinema.backbone.components import WanComponents
from kinema.backbone.embeddings import add_patch_embedding
from kinema.backbone.encoders import encode_image_tokens
from kinema.backbone.segments import Segment, forward_segments
from kinema.backbone.widen import narrow_patch_embedding, widen_patch_embedding
from kinema.recipes.dreamactor_m2 import MASK_CHANNELS, fold_mask
from kinema.world.instructions import ACTIONS

PROJECTOR = "patch_embedding_scene"
VIEWS = ("front", "left", "right", "back")  # view k = index + 1 in eq. 2
VIEW_SETS = {1: ("front",), 2: ("front", "back"), 4: VIEWS}  # AniX's Table 3: single, front-back, four views
Anchor = Literal["per-frame", "first-frame", "none"]
ANCHORS: tuple[Anchor, ...] = ("per-frame", "first-frame", "none")
CONTEXT_SHARE = 4  # AR training: the first 1/4 of the target's latent frames becomes the context (training/anix.py)


@dataclass(frozen=True)
class R3Config:
    """Recipe R3 settings (properties of the trained weights, recorded in the model card).

    Attributes:
        views: character views the model reads: 1, 2 or 4 (``VIEW_SETS``).
        anchor: the anchor mask per frame (AniX's default), the first frame's for all, or none (its Table 4).
        context_noise: σ of the Gaussian noise on the AR context in training (AniX's "augmented preceding
            video tokens"); 0 turns the augmentation off (its ablation).
    """

    views: int = 4
    anchor: Anchor = "per-frame"
    context_noise: float = 0.1

    def __post_init__(self) -> None:
        if self.views not in VIEW_SETS:
            raise ValueError(f"views must be one of {tuple(VIEW_SETS)}, got {self.views}")
        if self.anchor not in ANCHORS:
            raise ValueError(f"anchor must be one of {', '.join(ANCHORS)}, got '{self.anchor}'")
        if not 0 <= self.context_noise <= 1:
            raise ValueError(f"context_noise must be in [0, 1], got {self.context_noise}")


CAMERA_ACTION_TEXT = {"idle": "standing still", "walk": "walking forward"}  # the character, while the camera moves
DOUBLED = {"run", "clap", "squat", "spin", "put", "jog"}  # verbs that double their last consonant before -ing


def action_text(action: str) -> str:
    """An action of :data:`kinema.world.instructions.ACTIONS` as AniX's prompt names it: the present participle of
    its example phrase ("walk to the left" -> "walking to the left"); for a camera action, what the character
    does meanwhile."""
    entry = ACTIONS[action]
    if entry.category == "camera":
        return CAMERA_ACTION_TEXT[entry.motion]
    verb, _, rest = entry.phrases[0].partition(" ")
    if verb in DOUBLED:
        verb += verb[-1]
    elif verb.endswith("e"):
        verb = verb[:-1]
    return f"{verb}ing {rest}".strip()


def action_prompt(action: str) -> str:
    """The text part of AniX's prompt (its supplementary §6: "A character is [Action]."; the views it adds through
    LLaVA enter here as the view segments instead), for an action description such as "walking forward"."""
    return f"A character is {action.strip().rstrip('.')}."


def prepare_transformer(transformer: torch.nn.Module, latent_channels: int) -> bool:
    """Give a Wan transformer R3's inputs, in place: the video patch embedding takes the latents alone, and the
    zero projector of scene + anchor is added where missing. True when anything changed."""
    before = transformer.config.in_channels
    if before > latent_channels:
        narrow_patch_embedding(transformer, latent_channels)
    widen_patch_embedding(transformer, latent_channels)
    if not hasattr(transformer, PROJECTOR):
        add_patch_embedding(transformer, PROJECTOR, latent_channels + MASK_CHANNELS, copy=False)
        return True
    return before != latent_channels


@dataclass
class R3Inputs:
    """Everything the DiT needs besides the noisy latent and timestep.

    Attributes:
        config: the recipe settings.
        views: (B, C, K, h, w) latents of the K character views, in ``VIEWS`` order.
        scene: (B, C + 4, f, h, w) [Z_S | M folded]: the projector's input for the video's latent frames.
        context: (B, C, c, h, w) the preceding latent frames (AR mode), or None.
        image_tokens: CLIP tokens of the front view for Wan I2V models, else None.
    """

    config: R3Config
    views: torch.Tensor
    scene: torch.Tensor
    context: torch.Tensor | None
    image_tokens: torch.Tensor | None

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of the noisy video latent this recipe denoises."""
        b, c, f, h, w = self.scene.shape
        return (b, c - MASK_CHANNELS, f, h, w)

    @property
    def view_names(self) -> tuple[str, ...]:
        return VIEW_SETS[self.config.views]


def anchor_masks(boxes: torch.Tensor, anchor: Anchor) -> torch.Tensor:
    """The anchor condition (B, 1, F, H, W) from per-frame box masks (B, F, H, W) in [0, 1], per ``anchor``."""
    masks = boxes[:, None].float()
    if anchor == "first-frame":
        return masks[:, :, :1].expand_as(masks).contiguous()
    return masks if anchor == "per-frame" else torch.zeros_like(masks)


def build_inputs(components: WanComponents, views: torch.Tensor, scene: torch.Tensor, boxes: torch.Tensor,
                 config: R3Config = R3Config(), context: torch.Tensor | None = None) -> R3Inputs:
    """Encode the conditions of R3 (inference and training alike).

    Args:
        views: (B, K, 3, H, W) in [-1, 1]: the K = ``config.views`` views of ``VIEW_SETS``, in its order.
        scene: (B, 3, F, H, W) in [-1, 1], F = 1 + 4k: the scene video rendered along the camera path.
        boxes: (B, F, H, W) in [0, 1]: the character's anchor box in each frame.
        context: (B, C, c, h, w) latents of the preceding frames (AR mode), or None.
    """
    b, k = views.shape[:2]
    if k != config.views:
        raise ValueError(f"{k} character views given; the recipe reads {config.views} "
                         f"({', '.join(VIEW_SETS[config.views])})")
    if boxes.shape != (b, *scene.shape[2:]):
        raise ValueError(f"anchor boxes {tuple(boxes.shape)} do not match the scene video {tuple(scene.shape)}")
    codec = components.codec
    z_views = codec.encode(views.flatten(0, 1)[:, :, None])  # (B*K, C, 1, h, w): each alone
    z_views = z_views.unflatten(0, (b, k)).squeeze(3).transpose(1, 2)  # (B, C, K, h, w)
    z_scene = codec.encode(scene)  # (B, C, f, h, w)
    mask = fold_mask(anchor_masks(boxes, config.anchor).to(z_scene), z_scene.shape[-2:])  # (B, 4, f, h, w)
    image_tokens = encode_image_tokens(components, views[:, 0])  # the front view's CLIP tokens | None
    return R3Inputs(config, z_views, torch.cat([z_scene, mask], dim=1), context, image_tokens)


def coordinates(inputs: R3Inputs, patch_size: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    """RoPE offsets (t, h, w) of each view read (eq. 2: (−k, h, w) for view k of ``VIEWS``), in token units."""
    _, ph, pw = patch_size
    h, w = inputs.views.shape[-2] // ph, inputs.views.shape[-1] // pw
    return [(-(VIEWS.index(name) + 1), h, w) for name in inputs.view_names]


def segments(inputs: R3Inputs, noisy: torch.Tensor, timestep: torch.Tensor,
             patch_size: tuple[int, int, int]) -> list[Segment]:
    """The token stream for one step: noisy (B, C, f, h, w), timestep (B,) (the conditions' is 0)."""
    clean = torch.zeros_like(timestep)
    stream = [Segment(inputs.views[:, :, k:k + 1].to(noisy), clean, offset, predicted=False)
              for k, offset in enumerate(coordinates(inputs, patch_size))]
    if inputs.context is not None:
        frames = inputs.context.shape[2] // patch_size[0]
        stream.append(Segment(inputs.context.to(noisy), clean, (-frames, 0, 0), predicted=False))
    stream.append(Segment(noisy, timestep, mask=inputs.scene.to(noisy), mask_embedding=PROJECTOR))
    return stream


def predict(transformer: torch.nn.Module, inputs: R3Inputs, noisy: torch.Tensor, timestep: torch.Tensor,
            text: torch.Tensor) -> torch.Tensor:
    """The network's output for the noisy video (B, C, f, h, w)."""
    image = None if inputs.image_tokens is None else inputs.image_tokens.to(noisy.dtype)
    stream = segments(inputs, noisy, timestep, tuple(transformer.config.patch_size))
    return forward_segments(transformer, stream, text, image)[0]

