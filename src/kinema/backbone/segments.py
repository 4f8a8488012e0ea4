"""The Wan transformer on a stream of token segments (SPEC "The mechanism").

A :class:`Segment` is a latent video that goes through one of the model's patch embeddings (its own
``patch_embedding`` or an extra one, :mod:`kinema.backbone.embeddings`), plus an optional added condition
through another (SCAIL-2's masks through ``patch_embedding_mask``, AniX's scene and anchor through its
projector), placed at RoPE coordinates ``offset + grid`` with its own timestep (0 for clean
conditions). A pooled segment (SCAIL-2's half-resolution driving) carries the average of the rotations of
the ``pool × pool`` full-grid positions each of its tokens covers.
:func:`forward_segments` rebuilds ``WanTransformer3DModel.forward`` from the model's submodules,
so checkpoint keys, peft LoRA layers, gradient checkpointing and attention backends all apply.
With one segment at offset 0 it equals the stock forward. ``attention="block"`` runs the condition
segments under a block mask, with an optional cache of their keys and values
(:mod:`kinema.backbone.block_attention`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
from diffusers import WanTransformer3DModel

from kinema.backbone.block_attention import ConditionCache, block_forward
from kinema.backbone.rope import grid_coords, rope_table

Attention = Literal["full", "block"]
ATTENTIONS: tuple[Attention, ...] = ("full", "block")


@dataclass
class Segment:
    """A run of tokens in the DiT's sequence.

    Attributes:
        latents: (B, C_in, F, H, W) latent video; C_in = the patch embedding's input channels.
        timestep: (B,) flow-matching timestep in [0, 1000]; zeros for clean condition tokens.
        offset: RoPE coordinate (t, h, w) of the first patch, in patch units; may be negative.
        predicted: whether the model's output for this segment is returned (and trained on).
        embedding: the patch embedding module that embeds ``latents``.
        mask: (B, C_mask, F, H, W) embedded by ``mask_embedding`` and added to the tokens, or None.
        pool: tokens per side of the full grid one token covers (its RoPE is their 2D average).
        mask_embedding: the patch embedding that embeds ``mask``.
    """

    latents: torch.Tensor
    timestep: torch.Tensor
    offset: tuple[int, int, int] = (0, 0, 0)
    predicted: bool = True
    embedding: str = "patch_embedding"
    mask: torch.Tensor | None = None
    pool: int = 1
    mask_embedding: str = "patch_embedding_mask"

    def grid(self, patch_size: tuple[int, int, int]) -> tuple[int, int, int]:
        """Post-patch (frames, height, width)."""
        _, _, f, h, w = self.latents.shape
        return f // patch_size[0], h // patch_size[1], w // patch_size[2]


def with_history(target: Segment, history: torch.Tensor) -> list[Segment]:
    """``target`` split in time so that its latent frames 1..c are ``history`` (B, C, c, H, W), clean at timestep 0:
    [frame 0 | history | the rest], each at its own time offset, all predicted. The history replaces the target's
    first C input channels there (its conditions stay); frame 0 stays noisy (a window's reference frame)."""
    c = history.shape[2]
    latents = target.latents
    known = torch.cat([history.to(latents), latents[:, history.shape[1]:, 1:1 + c]], dim=1)
    t0, h0, w0 = target.offset
    pieces = [(latents[:, :, :1], target.timestep, t0), (known, torch.zeros_like(target.timestep), t0 + 1),
              (latents[:, :, 1 + c:], target.timestep, t0 + 1 + c)]
    mask = target.mask
    return [Segment(x, t, (at, h0, w0), target.predicted, target.embedding,
                    None if mask is None else mask[:, :, start:stop], target.pool, target.mask_embedding)
            for (x, t, at), (start, stop) in zip(pieces, ((0, 1), (1, 1 + c), (1 + c, latents.shape[2])))
            if x.shape[2]]


def _embed(model: WanTransformer3DModel, segments: list[Segment]) -> tuple[torch.Tensor, torch.Tensor]:
    """Patch-embed every segment: tokens (B, S, D), per-token timesteps (B, S)."""
    tokens, steps = [], []
    for seg in segments:
        x = getattr(model, seg.embedding)(seg.latents)  # (B, D, f, h, w)
        if seg.mask is not None:
            x = x + getattr(model, seg.mask_embedding)(seg.mask)
        tokens.append(x.flatten(2).transpose(1, 2))  # (B, f*h*w, D)
        steps.append(seg.timestep[:, None].expand(-1, tokens[-1].shape[1]))
    return torch.cat(tokens, 1).contiguous(), torch.cat(steps, 1)


def _rotary(model: WanTransformer3DModel, segments: list[Segment]) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos, sin), each (1, S, 1, head_dim): every segment's full-grid coordinates, read relative to the
    smallest of all, averaged over each pooled token's ``pool × pool`` positions."""
    grids = [seg.grid(model.config.patch_size) for seg in segments]
    coords = [grid_coords(f, h * seg.pool, w * seg.pool, seg.offset, device=seg.latents.device)
              for seg, (f, h, w) in zip(segments, grids)]
    origin = torch.cat(coords).min(dim=0).values
    cos, sin = [], []
    for seg, (f, h, w), c in zip(segments, grids, coords):
        p = seg.pool
        for out, table in zip((cos, sin), rope_table(c - origin, model.rope)):
            out.append(table.reshape(f, h, p, w, p, -1).mean((2, 4)).flatten(0, 2) if p > 1 else table)
    return torch.cat(cos)[None, :, None], torch.cat(sin)[None, :, None]


def _time_embedding(model: WanTransformer3DModel, steps: torch.Tensor, text: torch.Tensor,
                    image: torch.Tensor | None):
    """Time/text/image embeddings; one timestep per sample when all tokens share it (stock path)."""
    uniform = bool((steps == steps[:, :1]).all())
    timestep = steps[:, 0] if uniform else steps.flatten()
    temb, proj, text, image = model.condition_embedder(
        timestep, text, image, timestep_seq_len=None if uniform else steps.shape[1])
    proj = proj.unflatten(1, (6, -1)) if uniform else proj.unflatten(2, (6, -1))  # (B, 6, D) | (B, S, 6, D)
    context = text if image is None else torch.cat([image, text], dim=1)
    return temb, proj, context


def _unpatchify(model: WanTransformer3DModel, x: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
    """(B, f*h*w, C*pt*ph*pw) -> (B, C, f*pt, h*ph, w*pw)."""
    p_t, p_h, p_w = model.config.patch_size
    x = x.reshape(x.shape[0], *grid, p_t, p_h, p_w, -1)
    return x.permute(0, 7, 1, 4, 2, 5, 3, 6).flatten(6, 7).flatten(4, 5).flatten(2, 3)


def forward_segments(model: WanTransformer3DModel, segments: list[Segment], encoder_hidden_states: torch.Tensor,
                     encoder_hidden_states_image: torch.Tensor | None = None, attention: Attention = "full",
                     cache: ConditionCache | None = None) -> list[torch.Tensor]:
    """Run the Wan DiT on a list of segments.

    Args:
        model: a (possibly LoRA-wrapped, widened) ``WanTransformer3DModel``.
        segments: the token stream, in sequence order.
        encoder_hidden_states: (B, L, text_dim) text embeddings (L = 512 for I2V models).
        encoder_hidden_states_image: (B, N_img, image_dim) CLIP tokens for I2V models, else None.
        attention: "full", or "block": the condition segments (``predicted=False``) attend only among
            themselves (:mod:`kinema.backbone.block_attention`).
        cache: block attention only: the condition keys and values, filled by the first call and reused by the
            next (the conditions must be clean, at timestep 0, and the same in every call).

    Returns:
        The velocity prediction (B, C_out, F, H, W) of each segment with ``predicted=True``, in order.
    """
    if attention not in ATTENTIONS:
        raise ValueError(f"unknown attention '{attention}'; use one of {', '.join(ATTENTIONS)}")
    if attention == "block" and not all(seg.predicted for seg in segments):
        return _forward_blocked(model, segments, encoder_hidden_states, encoder_hidden_states_image, cache)
    tokens, steps = _embed(model, segments)
    rotary = _rotary(model, segments)
    temb, proj, context = _time_embedding(model, steps, encoder_hidden_states, encoder_hidden_states_image)

    for block in model.blocks:
        if torch.is_grad_enabled() and model.gradient_checkpointing:
            tokens = model._gradient_checkpointing_func(block, tokens, context, proj, rotary)
        else:
            tokens = block(tokens, context, proj, rotary)
    return _outputs(model, segments, tokens, temb)


def _forward_blocked(model: WanTransformer3DModel, segments: list[Segment], text: torch.Tensor,
                     image: torch.Tensor | None, cache: ConditionCache | None) -> list[torch.Tensor]:
    """:func:`forward_segments` under the block mask: the conditions' pass (or their cached keys and values),
    then the generated tokens' pass attending to them."""
    conditions, generated = [s for s in segments if not s.predicted], [s for s in segments if s.predicted]
    cos, sin = _rotary(model, segments)  # every segment's coordinates, read from one origin
    is_condition = torch.cat([torch.full((math.prod(s.grid(model.config.patch_size)),), not s.predicted)
                              for s in segments]).to(cos.device)
    run = block_forward
    if torch.is_grad_enabled() and model.gradient_checkpointing:
        run = partial(model._gradient_checkpointing_func, block_forward)
    if cache is not None:
        cache.check(model, text)
    if cache is None or cache.memory is None:
        if cache is not None and any(bool(s.timestep.any()) for s in conditions):
            raise ValueError("a condition cache needs clean condition segments (timestep 0): their keys would change "
                             "with the step's timestep")
        tokens, steps = _embed(model, conditions)
        _, proj, context = _time_embedding(model, steps, text, image)
        memory = []
        for block in model.blocks:
            tokens, key, value = run(block, tokens, context, proj, cos[:, is_condition], sin[:, is_condition])
            memory.append((key, value))
        if cache is not None:
            cache.memory, cache.owner = memory, (id(model), text)
    else:
        memory = cache.memory
    tokens, steps = _embed(model, generated)
    temb, proj, context = _time_embedding(model, steps, text, image)
    for block, (key, value) in zip(model.blocks, memory):
        tokens, _, _ = run(block, tokens, context, proj, cos[:, ~is_condition], sin[:, ~is_condition], key, value)
    return _outputs(model, generated, tokens, temb)


def _outputs(model: WanTransformer3DModel, segments: list[Segment], tokens: torch.Tensor,
             temb: torch.Tensor) -> list[torch.Tensor]:
    """The output head on the final tokens (B, S, D) of ``segments``: each predicted segment's (B, C_out, F, H, W)."""
    table = model.scale_shift_table.to(temb.device)
    if temb.ndim == 3:  # per-token: (B, S, D)
        shift, scale = (table.unsqueeze(0) + temb.unsqueeze(2)).chunk(2, dim=2)
        shift, scale = shift.squeeze(2), scale.squeeze(2)
    else:  # (B, D)
        shift, scale = (table + temb.unsqueeze(1)).chunk(2, dim=1)
    tokens = (model.norm_out(tokens.float()) * (1 + scale) + shift).type_as(tokens)

    outputs, start = [], 0
    for seg in segments:
        grid = seg.grid(model.config.patch_size)
        end = start + math.prod(grid)
        if seg.predicted:
            outputs.append(_unpatchify(model, model.proj_out(tokens[:, start:end]), grid))
        start = end
    return outputs
