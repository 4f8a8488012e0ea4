"""Extra patch embeddings beside a Wan transformer's own (``patch_embedding_<name>``, e.g. SCAIL-2's
``patch_embedding_pose`` and ``patch_embedding_mask``).

They are submodules of the ``WanTransformer3DModel``, so they train, move, cast and save with it: its
``save_pretrained`` writes them into the transformer's safetensors under their released names. diffusers'
``from_pretrained`` does not know them and drops them; :func:`attach_saved_embeddings` reads them back
from the same files.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import WanTransformer3DModel
from safetensors import safe_open
from torch import nn

PREFIX = "patch_embedding_"
WEIGHTS = "diffusion_pytorch_model.safetensors"
INDEX = WEIGHTS + ".index.json"  # diffusers' sharded checkpoints


def add_patch_embedding(model: WanTransformer3DModel, name: str, in_channels: int, copy: bool) -> nn.Conv3d:
    """Add ``name`` (a Conv3d like ``patch_embedding``: kernel = stride = the patch size) to ``model``:
    a copy of ``patch_embedding`` (same inputs needed) or all zeros (weights and bias: a no-op)."""
    base = model.patch_embedding
    conv = nn.Conv3d(in_channels, base.out_channels, base.kernel_size, base.stride,
                     device=base.weight.device, dtype=base.weight.dtype)
    with torch.no_grad():
        if copy:
            conv.load_state_dict(base.state_dict())
        else:
            conv.weight.zero_()
            conv.bias.zero_()
    conv.requires_grad_(base.weight.requires_grad)
    model.add_module(name, conv)
    return conv


def extra_embeddings(model: nn.Module) -> dict[str, nn.Conv3d]:
    """The extra patch embeddings of ``model`` by name."""
    return {n: m for n, m in model.named_children() if n.startswith(PREFIX)}


def embedding_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every patch embedding's tensors (the model's own and the extras) under their checkpoint names."""
    names = ["patch_embedding", *extra_embeddings(model)]
    return {f"{n}.{k}": v for n in names for k, v in getattr(model, n).state_dict().items()}


def attach_embeddings(model: WanTransformer3DModel, state: dict[str, torch.Tensor]) -> list[str]:
    """Create or overwrite the extra patch embeddings found in ``state`` (``patch_embedding_<name>.weight``
    / ``.bias``) from their shapes; returns their names."""
    names = sorted({k.split(".")[0] for k in state if k.startswith(PREFIX)})
    for name in names:
        weight = state[f"{name}.weight"]  # (D, C_in, pt, ph, pw)
        if not hasattr(model, name):
            add_patch_embedding(model, name, weight.shape[1], copy=False)
        getattr(model, name).load_state_dict({"weight": weight, "bias": state[f"{name}.bias"]})
    return names


def attach_saved_embeddings(model: WanTransformer3DModel, directory: str | Path) -> list[str]:
    """Read the extra patch embeddings that ``save_pretrained`` wrote into ``directory`` (one safetensors
    file or diffusers' shards) and attach them; returns their names (none for a stock Wan transformer)."""
    directory = Path(directory)
    if (directory / INDEX).is_file():
        files = sorted(set(json.loads((directory / INDEX).read_text())["weight_map"].values()))
    else:
        files = [WEIGHTS] if (directory / WEIGHTS).is_file() else []
    state = {}
    for file in files:
        with safe_open(directory / file, "pt") as f:
            state.update({k: f.get_tensor(k) for k in f.keys() if k.startswith(PREFIX)})
    return attach_embeddings(model, state)  # load_state_dict casts to the model's dtype
