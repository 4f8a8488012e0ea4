"""Widen the patch embedding of a loaded Wan transformer with zero-initialised input channels (or
narrow it to its first input channels, for a warm start from a recipe with more inputs).

New condition channels (masks, extra latents) enter a pretrained model this way: the output is
unchanged until the new weights are trained. The parameter keeps its checkpoint name
(``patch_embedding.weight``) and the config records the new ``in_channels``, so the widened model
saves and reloads with ``from_pretrained``.
"""

from __future__ import annotations

import torch
from diffusers import WanTransformer3DModel
from torch import nn


def widen_patch_embedding(model: WanTransformer3DModel, in_channels: int) -> WanTransformer3DModel:
    """Grow ``model.patch_embedding`` to ``in_channels`` inputs; new weight columns are zero. In place."""
    old = model.patch_embedding
    if in_channels < old.in_channels:
        raise ValueError(f"cannot narrow patch_embedding from {old.in_channels} to {in_channels} channels")
    if in_channels == old.in_channels:
        return model
    new = nn.Conv3d(in_channels, old.out_channels, old.kernel_size, old.stride,
                    device=old.weight.device, dtype=old.weight.dtype)
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, : old.in_channels] = old.weight  # (D, C_in, pt, ph, pw)
        new.bias.copy_(old.bias)
    model.patch_embedding = new
    model.register_to_config(in_channels=in_channels)
    return model


def narrow_patch_embedding(model: WanTransformer3DModel, in_channels: int) -> WanTransformer3DModel:
    """Keep the first ``in_channels`` inputs of ``model.patch_embedding`` (the rest are dropped). In place."""
    old = model.patch_embedding
    if not 0 < in_channels <= old.in_channels:
        raise ValueError(f"cannot narrow patch_embedding from {old.in_channels} to {in_channels} channels")
    new = nn.Conv3d(in_channels, old.out_channels, old.kernel_size, old.stride,
                    device=old.weight.device, dtype=old.weight.dtype)
    with torch.no_grad():
        new.weight.copy_(old.weight[:, :in_channels])
        new.bias.copy_(old.bias)
    model.patch_embedding = new
    model.register_to_config(in_channels=in_channels)
    return model
