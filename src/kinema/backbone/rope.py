"""3D RoPE from explicit (t, h, w) coordinates, equal to diffusers' ``WanRotaryPosEmbed`` on its grid.

diffusers tabulates angles for positions 0..max_seq_len-1 and indexes them by the grid; here the
angles are computed from any integer coordinates (negative or shifted), so condition segments can
sit before the target in time or beside it in space. RoPE is relative: shifting every coordinate
by the same amount leaves attention unchanged.
"""

from __future__ import annotations

import torch


def axis_dims(head_dim: int) -> tuple[int, int, int]:
    """Head-dim split of Wan's RoPE: t = D - 4*floor(D/6), h = w = 2*floor(D/6)."""
    h = w = 2 * (head_dim // 6)
    return head_dim - h - w, h, w


def _axis_angles(pos: torch.Tensor, dim: int, theta: float) -> torch.Tensor:
    """Angles (N, dim/2) of one axis, float64 like diffusers' table."""
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64, device=pos.device)[: dim // 2] / dim))
    return torch.outer(pos.to(torch.float64), freqs)


def rope_from_coords(coords: torch.Tensor, head_dim: int, theta: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotary (cos, sin) for token coordinates.

    Args:
        coords: (N, 3) integer (t, h, w) coordinates in patch units.
        head_dim: attention head dimension D.

    Returns:
        (cos, sin), each (1, N, 1, D) float32 with interleaved pairs, as Wan's blocks expect.
    """
    angles = [_axis_angles(coords[:, i], d, theta) for i, d in enumerate(axis_dims(head_dim))]
    angles = torch.cat(angles, dim=1).repeat_interleave(2, dim=1)  # (N, D)
    return angles.cos().float()[None, :, None], angles.sin().float()[None, :, None]


def grid_coords(frames: int, height: int, width: int, offset: tuple[int, int, int] = (0, 0, 0),
                device: torch.device | str | None = None) -> torch.Tensor:
    """(frames*height*width, 3) coordinates of a patch grid in Wan's (t, h, w) raster order, shifted by ``offset``."""
    t, h, w = torch.meshgrid(
        torch.arange(frames, device=device), torch.arange(height, device=device), torch.arange(width, device=device),
        indexing="ij")
    coords = torch.stack([t, h, w], dim=-1).reshape(-1, 3)
    return coords + torch.tensor(offset, device=device)
