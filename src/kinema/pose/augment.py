"""Skeleton augmentation for the pose-driven recipe (DreamActor-M2 §3.3 and §5.1).

* Random bone-length scaling: each anatomical group of the layout (arms, legs, torso, head,
  hands, ...) gets one factor ~ U(0.8, 1.2), for 30 % of samples. Bones are rescaled from the
  layout's root outward, so children move with their parents, angles are kept and the skeleton
  stays connected; attached parts (hands) follow their anchor joint.
* Bounding-box normalisation: the box around all visible joints of the clip is mapped onto a
  target box (the canvas minus a margin by default), keeping the aspect ratio.
* The first second of driving signal is masked during training; at inference one second of
  pose-free frames is prepended. Masked frames have visibility 0, so they render all black.

Randomness comes from a ``numpy.random.Generator`` or a ``torch.Generator``: same seed, same result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from kinema.pose.keypoints import Keypoints
from kinema.pose.layouts import get_layout


@dataclass(frozen=True)
class PoseAugmentConfig:
    """Defaults are DreamActor-M2 §5.1."""

    bone_scale_prob: float = 0.3  # fraction of samples whose bones are rescaled
    bone_scale_range: tuple[float, float] = (0.8, 1.2)  # U(low, high) per anatomical group
    groups: tuple[str, ...] | None = None  # layout groups to rescale; None: all of them
    bbox_normalize: bool = True
    bbox_margin: float = 0.05  # free border, as a fraction of the canvas, after normalisation
    mask_seconds: float = 1.0  # masked at the start in training, prepended as zeros at inference

    def __post_init__(self) -> None:
        low, high = self.bone_scale_range
        if not 0.0 <= self.bone_scale_prob <= 1.0:
            raise ValueError(f"bone_scale_prob must be in [0, 1], got {self.bone_scale_prob}")
        if not 0.0 < low <= high:
            raise ValueError(f"bone_scale_range must satisfy 0 < low <= high, got {self.bone_scale_range}")
        if not 0.0 <= self.bbox_margin < 0.5 or self.mask_seconds < 0:
            raise ValueError(f"bbox_margin must be in [0, 0.5) and mask_seconds >= 0, got {self}")


def uniform(rng: Any, shape: tuple[int, ...], low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """U(low, high) samples (float64) from a numpy or torch generator."""
    if isinstance(rng, np.random.Generator):
        return rng.uniform(low, high, size=shape)
    import torch

    if not isinstance(rng, torch.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator or torch.Generator, got {type(rng).__name__}")
    return low + (high - low) * torch.rand(shape, generator=rng, dtype=torch.float64).numpy()


def augment_pose(kp: Keypoints, config: PoseAugmentConfig, rng: Any, fps: float | None = None) -> Keypoints:
    """Training-time conditioning of one driving clip.

    1. Bone scaling, per person with probability ``config.bone_scale_prob``.
    2. Bounding-box normalisation onto the canvas (if ``config.bbox_normalize``).
    3. With ``fps`` given, the first ``config.mask_seconds`` are masked.
    """
    groups = config.groups if config.groups is not None else tuple(kp.spec.groups)
    draws = uniform(rng, (kp.num_people, len(groups) + 1))  # fixed draw count keeps streams aligned
    low, high = config.bone_scale_range
    factors = low + draws[:, 1:] * (high - low)  # (P, G)
    factors[draws[:, 0] >= config.bone_scale_prob] = 1.0  # only ~prob of people are rescaled
    kp = scale_bones(kp, {g: factors[:, i] for i, g in enumerate(groups)})
    if config.bbox_normalize:
        kp = bbox_normalize(kp, margin=config.bbox_margin)
    return kp if fps is None else mask_first_second(kp, fps, config.mask_seconds)


def scale_bones(kp: Keypoints, factors: dict[str, Any]) -> Keypoints:
    """Rescale every bone by its group's factor, propagating from the root outward.

    Args:
        kp: keypoints; a bone belongs to the group of its child joint.
        factors: group name -> factor, a float or a (P,) array (one per person). Missing groups keep 1.

    Bones with an invisible end are translated with their parent instead of scaled.
    """
    unknown = set(factors) - set(kp.spec.groups)
    if unknown:
        raise KeyError(f"layout '{kp.layout}' has no groups {sorted(unknown)}; known: {sorted(kp.spec.groups)}")
    old, vis = kp.xy, kp.visibility > 0
    new = old.copy()
    for parent, child, group in kinematic_chain(kp.layout):
        moved = old[:, :, child] + (new[:, :, parent] - old[:, :, parent])  # (T, P, 2) rigid follow
        if group in factors:
            s = np.broadcast_to(np.asarray(factors[group], dtype=np.float32), (kp.num_people,))[None, :, None]
            scaled = new[:, :, parent] + s * (old[:, :, child] - old[:, :, parent])
            both = (vis[:, :, parent] & vis[:, :, child])[..., None]
            moved = np.where(both, scaled, moved)
        new[:, :, child] = moved
    return replace(kp, xy=new)


@lru_cache(maxsize=None)
def kinematic_chain(layout_name: str) -> tuple[tuple[int, int, str | None], ...]:
    """(parent, child, group) in breadth-first order from the layout's root; attachments have group None.

    Parts reached through ``layout.attach`` follow their anchor rigidly; components reached by
    neither are walked from their lowest joint, which stays fixed.
    """
    layout = get_layout(layout_name)
    neighbours: dict[int, list[int]] = {j: [] for j in range(layout.num_joints)}
    for a, b in layout.limbs:
        neighbours[a].append(b)
        neighbours[b].append(a)
    group_of = {j: name for name, joints in reversed(layout.groups.items()) for j in joints}
    attached = {anchor: [] for _, anchor in layout.attach}
    for part, anchor in layout.attach:
        attached[anchor].append(part)
    chain: list[tuple[int, int, str | None]] = []
    seen: set[int] = set()
    queue: list[int] = []
    for start in [layout.root] + list(range(layout.num_joints)):
        if start in seen:
            continue
        seen.add(start)
        queue.append(start)
        while queue:
            joint = queue.pop(0)
            for child in neighbours[joint] + attached.get(joint, []):
                if child not in seen:
                    seen.add(child)
                    queue.append(child)
                    chain.append((joint, child, None if child in attached.get(joint, []) else group_of.get(child)))
    return tuple(chain)


def clip_bbox(kp: Keypoints) -> np.ndarray | None:
    """(x0, y0, x1, y1) around every visible joint of every frame and person, or None if none is visible."""
    points = kp.xy[kp.visibility > 0]  # (N, 2)
    if len(points) == 0:
        return None
    return np.concatenate([points.min(0), points.max(0)])


def bbox_normalize(kp: Keypoints, target: tuple[float, float, float, float] | None = None, margin: float = 0.05) -> Keypoints:
    """Map the clip's joint bounding box onto ``target`` (x0, y0, x1, y1), centred, aspect kept.

    With ``target=None`` the target is the canvas ``kp.size`` minus ``margin`` of each side; with
    ``target=(0, 0, 1, 1)`` the clip's joints land in the unit box (longer side spanning [0, 1]).
    """
    box = clip_bbox(kp)
    if box is None:
        return kp
    if target is None:
        w, h = kp.size
        target = (margin * w, margin * h, (1 - margin) * w, (1 - margin) * h)
    tx0, ty0, tx1, ty1 = target
    size = np.maximum(box[2:] - box[:2], 1e-6)
    scale = min((tx1 - tx0) / size[0], (ty1 - ty0) / size[1])
    center_src = (box[:2] + box[2:]) / 2
    center_dst = np.array([(tx0 + tx1) / 2, (ty0 + ty1) / 2])
    return replace(kp, xy=((kp.xy - center_src) * scale + center_dst).astype(np.float32))


def pose_free_frames(fps: float, seconds: float = 1.0) -> int:
    """Frames in ``seconds`` of video at ``fps`` (rounded)."""
    return int(round(fps * seconds))


def mask_first_second(kp: Keypoints, fps: float, seconds: float = 1.0) -> Keypoints:
    """Training: hide the driving signal of the first ``seconds`` (visibility 0 -> black frames)."""
    visibility = kp.visibility.copy()
    visibility[: pose_free_frames(fps, seconds)] = 0.0
    return replace(kp, visibility=visibility)
