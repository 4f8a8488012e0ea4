"""Forward kinematics: (identity lengths, motion channels) -> node positions, then camera-facing yaw."""

from __future__ import annotations

import numpy as np

from kinema.puppet.skeletons import Family


def _rotate(vec: np.ndarray, a: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Apply R_a R_s (pitch toward +f, then turn in the frontal plane) to vec (T, 3)."""
    u, v, f = vec[:, 0], vec[:, 1], vec[:, 2]
    v, f = v * np.cos(s) - f * np.sin(s), v * np.sin(s) + f * np.cos(s)
    u, v = u * np.cos(a) + v * np.sin(a), -u * np.sin(a) + v * np.cos(a)
    return np.stack([u, v, f], axis=1)


def forward(family: Family, lengths: dict[str, float], channels: dict[str, np.ndarray], frames: int) -> np.ndarray:
    """Node positions (T, N, 3) in body units, body frame (u left, v down, f front), root at 0.

    Args:
        lengths: identity length keys -> length in body units.
        channels: channel name -> (T, 2) radians (a, s); absent channels are zero.
    """
    zeros = np.zeros((frames, 2))
    pos: dict[str, np.ndarray] = {}
    delta: dict[str, np.ndarray] = {}
    for node in family.nodes:
        if node.parent is None:
            pos[node.name], delta[node.name] = np.zeros((frames, 3)), zeros
            continue
        sign = np.array([-1.0, 1.0]) if node.mirror else np.ones(2)
        own = channels.get(node.channel, zeros) * sign if node.channel else zeros
        d = delta[node.parent] + own  # (T, 2) inherited channel deltas
        unit = lengths[node.length] * node.scale if node.length else 0.0
        if node.offset is not None:
            off = np.array(node.offset) * unit * np.array([-1.0 if node.mirror else 1.0, 1.0, 1.0])
            step = _rotate(np.broadcast_to(off, (frames, 3)), d[:, 0], d[:, 1])
        else:
            rest = np.radians(node.rest) * sign
            down = np.broadcast_to([0.0, unit, 0.0], (frames, 3))
            step = _rotate(down, rest[0] + d[:, 0], rest[1] + d[:, 1])
        pos[node.name], delta[node.name] = pos[node.parent] + step, d
    return np.stack([pos[n.name] for n in family.nodes], axis=1)


def to_view(family: Family, body: np.ndarray, root: np.ndarray, leg_length: float) -> np.ndarray:
    """Body-frame positions (T, N, 3) -> view positions (T, N, 3) = (x right, y down, z to camera).

    ``root`` (T, 3) is (dx, lift, yaw): dx and lift in leg lengths, yaw in radians. The lowest foot
    rests on y = 0 unless lifted, so every body of the family stands on the same ground.
    """
    yaw = root[:, 2:3]
    u, v, f = body[..., 0], body[..., 1], body[..., 2]
    x = u * np.cos(yaw) + f * np.sin(yaw) + root[:, 0:1] * leg_length
    z = f * np.cos(yaw) - u * np.sin(yaw)
    feet = [family.index(n) for n in family.feet]
    y = v - v[:, feet].max(axis=1, keepdims=True) - root[:, 1:2] * leg_length
    return np.stack([x, y, z], axis=-1)
