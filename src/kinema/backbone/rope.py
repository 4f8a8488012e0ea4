"""3D RoPE for explicit (t, h, w) token coordinates, read from the model's own ``WanRotaryPosEmbed`` table.

diffusers tabulates angles for positions 0..max_seq_len-1 and indexes them by the stock grid.
RoPE is relative (q·k depends only on coordinate differences), so shifting every coordinate of
an axis by the same amount changes nothing: a token stream's coordinates are read relative to their
smallest (``kinema.backbone.segments``), which lets condition segments sit at negative times or
beside the target in space while the angles come from the very table the stock forward uses.
"""

from __future__ import annotations

import torch
from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed


def rope_table(coords: torch.Tensor, rope: WanRotaryPosEmbed) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos, sin), each (N, head_dim), for (N, 3) coordinates in [0, rope_max_seq_len)."""
    span = int(coords.max()) + 1 if coords.numel() else 0
    if span > rope.max_seq_len:
        raise ValueError(f"RoPE coordinates span {span} positions, more than rope_max_seq_len={rope.max_seq_len}")
    dims = [rope.t_dim, rope.h_dim, rope.w_dim]
    index = coords.to(rope.freqs_cos.device)  # the table may wait on the CPU (group offloading)
    out = []
    for table in (rope.freqs_cos, rope.freqs_sin):
        axes = table.split(dims, dim=1)  # per axis (max_seq_len, d)
        out.append(torch.cat([axes[i][index[:, i]] for i in range(3)], dim=-1).to(coords.device))
    return out[0], out[1]


def grid_coords(frames: int, height: int, width: int, offset: tuple[int, int, int] = (0, 0, 0),
                device: torch.device | str | None = None) -> torch.Tensor:
    """(frames*height*width, 3) coordinates of a patch grid in Wan's (t, h, w) raster order, shifted by ``offset``."""
    t, h, w = torch.meshgrid(
        torch.arange(frames, device=device), torch.arange(height, device=device), torch.arange(width, device=device),
        indexing="ij")
    coords = torch.stack([t, h, w], dim=-1).reshape(-1, 3)
    return coords + torch.tensor(offset, device=device)
