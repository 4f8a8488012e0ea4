"""Layouts that estimators emit (COCO-17, COCO-WholeBody-133, MediaPipe) and converters between layouts.

A conversion lists, for each target joint, the source joints it is the mean of (OpenPose's neck is
the midpoint of the shoulders); the target's visibility is the minimum over those sources.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinema.pose.keypoints import Keypoints
from kinema.pose.layouts import HAND21, HAND21_LIMBS, Layout, get_layout, register_layout

COCO17 = (
    "nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
    "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
)
COCO17_LIMBS = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
    (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4),
)
COCO_FEET = ("l_big_toe", "l_small_toe", "l_heel", "r_big_toe", "r_small_toe", "r_heel")
FACE68 = tuple(f"face_{i}" for i in range(68))
# dlib/iBUG 68-point contours: jaw, brows, nose bridge + base, eyes and lips (closed).
_CHAINS = ((0, 17), (17, 22), (22, 27), (27, 31), (31, 36))
_LOOPS = ((36, 42), (42, 48), (48, 60), (60, 68))
FACE68_LIMBS = (
    tuple((i, i + 1) for a, b in _CHAINS for i in range(a, b - 1))
    + ((30, 33),)
    + tuple((i, a if i == b - 1 else i + 1) for a, b in _LOOPS for i in range(a, b))
)
FACE68_ROOTS = (0, 17, 22, 27, 36, 42, 48, 60)  # first joint of each contour component
MEDIAPIPE_POSE33 = (
    "nose", "l_eye_inner", "l_eye", "l_eye_outer", "r_eye_inner", "r_eye", "r_eye_outer", "l_ear",
    "r_ear", "mouth_left", "mouth_right", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist",
    "r_wrist", "l_pinky", "r_pinky", "l_index", "r_index", "l_thumb", "r_thumb", "l_hip", "r_hip",
    "l_knee", "r_knee", "l_ankle", "r_ankle", "l_heel", "r_heel", "l_foot_index", "r_foot_index",
)


def _offset(limbs, k: int) -> tuple[tuple[int, int], ...]:
    return tuple((a + k, b + k) for a, b in limbs)


def _register_sources() -> None:
    humanoid = get_layout("humanoid")
    register_layout(Layout("coco17", COCO17, COCO17_LIMBS))
    register_layout(Layout(
        "coco_wholebody", COCO17 + COCO_FEET + FACE68 + tuple(f"l_hand_{j}" for j in HAND21) + tuple(f"r_hand_{j}" for j in HAND21),
        COCO17_LIMBS + ((15, 17), (15, 18), (15, 19), (16, 20), (16, 21), (16, 22))
        + _offset(FACE68_LIMBS, 23) + _offset(HAND21_LIMBS, 91) + _offset(HAND21_LIMBS, 112),
    ))
    register_layout(Layout("face68", FACE68, FACE68_LIMBS))
    register_layout(Layout("hand21", HAND21, HAND21_LIMBS))
    register_layout(Layout("mediapipe_pose33", MEDIAPIPE_POSE33, ()))
    register_layout(Layout(
        "mediapipe_holistic", MEDIAPIPE_POSE33 + humanoid.joints[18:], _offset(humanoid.limbs[17:], 15),
    ))
    register_layout(Layout(
        "wholebody", humanoid.joints + FACE68, humanoid.limbs + _offset(FACE68_LIMBS, 60),
        {**humanoid.groups, "face": tuple(range(60, 128))}, root=humanoid.root,
        attach=humanoid.attach + tuple((60 + r, 0) for r in FACE68_ROOTS),
    ))


_register_sources()


@dataclass(frozen=True)
class Conversion:
    """``sources[k]``: the source joints whose mean is target joint ``k``."""

    source: str
    target: str
    sources: tuple[tuple[int, ...], ...]


def _pick(*indices: int | tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    return tuple(i if isinstance(i, tuple) else (i,) for i in indices)


# OpenPose-18 order: nose, neck, r_sho, r_elb, r_wri, l_sho, l_elb, l_wri, r_hip, r_knee, r_ank,
# l_hip, l_knee, l_ank, r_eye, l_eye, r_ear, l_ear.
_FROM_COCO17 = _pick(0, (5, 6), 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3)
_FROM_MEDIAPIPE33 = _pick(0, (11, 12), 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7)
_RANGE = lambda a, b: _pick(*range(a, b))  # noqa: E731

CONVERSIONS: dict[tuple[str, str], Conversion] = {
    (c.source, c.target): c
    for c in (
        Conversion("coco17", "body18", _FROM_COCO17),
        Conversion("coco_wholebody", "wholebody", _FROM_COCO17 + _RANGE(91, 133) + _RANGE(23, 91)),
        Conversion("coco_wholebody", "humanoid", _FROM_COCO17 + _RANGE(91, 133)),
        Conversion("mediapipe_pose33", "body18", _FROM_MEDIAPIPE33),
        Conversion("mediapipe_holistic", "humanoid", _FROM_MEDIAPIPE33 + _RANGE(33, 75)),
        Conversion("wholebody", "humanoid", _RANGE(0, 60)),
        Conversion("wholebody", "body18", _RANGE(0, 18)),
        Conversion("humanoid", "body18", _RANGE(0, 18)),
    )
}


def convert(kp: Keypoints, target: str) -> Keypoints:
    """Convert keypoints to the ``target`` layout (a no-op when already there).

    Raises:
        KeyError: no conversion between the two layouts; the message lists the available ones.
    """
    if kp.layout == target:
        return kp
    conversion = CONVERSIONS.get((kp.layout, target))
    if conversion is None:
        known = ", ".join(f"{s}->{t}" for s, t in sorted(CONVERSIONS))
        raise KeyError(f"no keypoint conversion {kp.layout}->{target}; available: {known}")
    width = max(len(s) for s in conversion.sources)
    index = np.array([s + (s[0],) * (width - len(s)) for s in conversion.sources])  # (J', width), padded by repeats
    counts = np.array([len(s) for s in conversion.sources], dtype=np.float32)
    weights = (np.arange(width)[None, :] < counts[:, None]) / counts[:, None]  # (J', width)
    xy = np.einsum("tpjwc,jw->tpjc", kp.xy[:, :, index], weights)
    visibility = kp.visibility[:, :, index].min(-1)
    return Keypoints(xy.astype(np.float32), visibility, target, kp.size)
