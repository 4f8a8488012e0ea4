"""Block attention over the clean condition segments, and the condition K/V cache.

Under ``attention="block"`` (a property of weights trained so, recorded in the model card) the condition
segments of a token stream (``predicted=False``, clean: SCAIL-2's references and driving video) attend
only among themselves, while the generated tokens attend to everything. The conditions' hidden states
then never depend on the noisy tokens nor on the step's timestep, so their keys and values in every block
are the same at every denoising step (Wan-Animate caches its driving segment so): computed once per clip
and text branch (:class:`ConditionCache`), each step runs the blocks on the generated tokens alone.

:func:`kinema.backbone.segments.forward_segments` runs the block mask as two passes over the blocks,
which is exactly that mask: (1) the condition tokens alone, recording each block's self-attention keys
and values; (2) the generated tokens, whose self-attention attends to [the condition K/V ; their own].
Training runs both passes every step (the gradient flows through both); inference with a cache runs
pass (1) once. This module holds one block's forward with those keys and values in and out.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers.models.attention_dispatch import dispatch_attention_fn
from diffusers.models.transformers.transformer_wan import WanTransformerBlock, _get_qkv_projections

Memory = tuple[torch.Tensor, torch.Tensor]  # a block's condition keys and values, (B, S_c, heads, head_dim) each


@dataclass
class ConditionCache:
    """The condition tokens' self-attention keys and values in every block of one model, for one clip's
    conditions and one text branch (CFG's conditional and unconditional branches each need their own:
    the conditions cross-attend to the text). Empty until the first forward fills it."""

    memory: list[Memory] | None = None
    owner: tuple[int, torch.Tensor] | None = None  # (id of the model, the text) it was filled for

    def check(self, model: torch.nn.Module, text: torch.Tensor) -> None:
        """ValueError when the cache was filled for another model or text."""
        if self.owner is not None and (self.owner[0] != id(model) or self.owner[1].shape != text.shape
                                       or not torch.equal(self.owner[1], text)):
            raise ValueError("a ConditionCache holds one model's keys for one text branch; give each its own")


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Wan's rotary embedding of queries or keys (B, S, heads, head_dim) with (1, S, 1, head_dim) tables."""
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    cos, sin = cos[..., 0::2], sin[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x1 * cos - x2 * sin
    out[..., 1::2] = x1 * sin + x2 * cos
    return out.type_as(x)


def self_attention(attn: torch.nn.Module, x: torch.Tensor, rotary: tuple[torch.Tensor, torch.Tensor],
                   memory: Memory | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Wan's self-attention of tokens ``x`` (B, S, D) that also attends to ``memory`` (keys and values of other
    tokens, already normalised and rotated); returns its output (B, S, D) and the tokens' own keys and values."""
    query, key, value = _get_qkv_projections(attn, x, None)  # through attn.to_q/k/v: LoRA layers apply
    query, key = attn.norm_q(query), attn.norm_k(key)
    query, key, value = (t.unflatten(2, (attn.heads, -1)) for t in (query, key, value))
    query, key = rotate(query, *rotary), rotate(key, *rotary)
    keys, values = (key, value) if memory is None else (torch.cat([memory[0], key], 1), torch.cat([memory[1], value], 1))
    out = dispatch_attention_fn(query, keys, values, backend=attn.processor._attention_backend)
    out = out.flatten(2, 3).type_as(query)
    return attn.to_out[1](attn.to_out[0](out)), key, value


def block_forward(block: WanTransformerBlock, x: torch.Tensor, context: torch.Tensor, proj: torch.Tensor,
                  cos: torch.Tensor, sin: torch.Tensor, memory_keys: torch.Tensor | None = None,
                  memory_values: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``WanTransformerBlock.forward`` on tokens ``x`` (B, S, D) whose self-attention also attends to the memory
    keys and values; ``proj`` (B, 6, D) or per token (B, S, 6, D). Returns the block's output and the tokens'
    self-attention keys and values (flat arguments and outputs, for gradient checkpointing)."""
    table = block.scale_shift_table
    if proj.ndim == 4:  # a timestep per token
        mods = [m.squeeze(2) for m in (table.unsqueeze(0) + proj.float()).chunk(6, dim=2)]
    else:
        mods = (table + proj.float()).chunk(6, dim=1)
    shift, scale, gate, c_shift, c_scale, c_gate = mods
    memory = None if memory_keys is None else (memory_keys, memory_values)
    attended, key, value = self_attention(block.attn1, (block.norm1(x.float()) * (1 + scale) + shift).type_as(x),
                                          (cos, sin), memory)
    x = (x.float() + attended * gate).type_as(x)
    x = x + block.attn2(block.norm2(x.float()).type_as(x), context, None, None)
    ffn = block.ffn((block.norm3(x.float()) * (1 + c_scale) + c_shift).type_as(x))
    return (x.float() + ffn.float() * c_gate).type_as(x), key, value
