"""A deterministic, procedurally animated humanoid skeleton for tests, benchmarks and demos."""

from __future__ import annotations

import numpy as np

from kinema.pose.keypoints import Keypoints

# OpenPose-18 joints of a person facing the camera, in units of body height (x right, y down).
_BODY = np.array([
    (0.50, 0.12), (0.50, 0.22), (0.40, 0.22), (0.36, 0.36), (0.34, 0.50), (0.60, 0.22),
    (0.64, 0.36), (0.66, 0.50), (0.44, 0.52), (0.43, 0.72), (0.43, 0.92), (0.56, 0.52),
    (0.57, 0.72), (0.57, 0.92), (0.48, 0.10), (0.52, 0.10), (0.46, 0.11), (0.54, 0.11),
], dtype=np.float32)


def _hand(wrist: np.ndarray, direction: float) -> np.ndarray:
    """21 hand points: five fingers fanned around ``direction`` (radians), four joints each."""
    points = [wrist]
    for finger in range(5):
        angle = direction + (finger - 2) * 0.35
        step = np.array([np.cos(angle), np.sin(angle)], dtype=np.float32) * 0.022
        points += [wrist + step * (k + 1) for k in range(4)]
    return np.stack(points)


def waving_humanoid(num_frames: int = 8, num_people: int = 1, size: tuple[int, int] = (512, 512)) -> Keypoints:
    """``num_people`` humanoids side by side, each raising its right forearm over ``num_frames`` frames."""
    width, height = size
    side = min(height * 0.9, width / num_people)
    xy = np.zeros((num_frames, num_people, 60, 2), dtype=np.float32)
    for t in range(num_frames):
        lift = np.pi * 0.6 * t / max(num_frames - 1, 1)  # forearm angle from hanging down
        body = _BODY.copy()
        forearm = np.array([np.sin(-lift), np.cos(lift)], dtype=np.float32) * 0.14
        body[4] = body[3] + forearm
        person = np.concatenate([body, _hand(body[7], np.pi / 2), _hand(body[4], np.arctan2(forearm[1], forearm[0]))])
        for p in range(num_people):
            offset = np.array([(p + 0.5) * width / num_people - 0.5 * side, 0.05 * height], dtype=np.float32)
            xy[t, p] = person * side + offset
    return Keypoints(xy, np.ones(xy.shape[:3], dtype=np.float32), "humanoid", size)
