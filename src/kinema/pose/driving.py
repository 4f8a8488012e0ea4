"""Skeleton driving videos for the pose-based recipe, built the same way in training and inference.

Training (DreamActor-M2 §3.3): augment (bone scaling, bbox normalisation), then mask the lead-in.
Inference (§5.1): bbox-normalise, then put the lead-in's pose-free frames before each window's.
A model trained with ``reference_pose`` (kinema's option, not the paper's) gets the reference's own
skeleton, in place, as frame 0 of the driving video: the pose of output frame 0, which is the
reference itself, so each limb of the driving skeleton can be matched to where it is in the reference.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from kinema.pose.augment import PoseAugmentConfig, augment_pose, bbox_normalize, mask_first_second
from kinema.pose.keypoints import Keypoints
from kinema.pose.render import RenderConfig, render_pose


def skeleton_style(size: tuple[int, int], width: float) -> RenderConfig:
    """Stroke sizes in pixels of a (W, H) canvas: limb half-width ``width``, joints a little larger."""
    return RenderConfig(limb_width=width, joint_radius=1.3 * width, hand_width=0.6 * width,
                        hand_joint_radius=0.6 * width, face_radius=0.6 * width, reference_side=min(size))


def training_skeleton(kp: Keypoints, augment: PoseAugmentConfig, rng: Any, fps: float, lead_in_seconds: float,
                      width: float) -> np.ndarray:
    """(T, H, W, 3) uint8: augmented skeleton of ``kp`` with the first ``lead_in_seconds`` black."""
    kp = mask_first_second(augment_pose(kp, augment, rng), fps, lead_in_seconds)
    return render_pose(kp, kp.size, skeleton_style(kp.size, width))


def inference_skeleton(kp: Keypoints, indices: list[int | None], width: float) -> np.ndarray:
    """(len(indices), H, W, 3) uint8: frame i the skeleton of ``kp``'s frame ``indices[i]``, pose-free (black) where
    None: a window of a driving video with its lead-in (:mod:`kinema.pipelines.windows`). Bbox normalisation, where
    a model wants it, is applied to the whole video's ``kp`` before (:func:`normalized`), so every window shares it."""
    picked = [0 if i is None else i for i in indices]
    seen = np.array([i is not None for i in indices], np.float32).reshape(-1, *([1] * (kp.visibility.ndim - 1)))
    window = replace(kp, xy=kp.xy[picked] * seen[..., None], visibility=kp.visibility[picked] * seen)
    return render_pose(window, kp.size, skeleton_style(kp.size, width))


def normalized(kp: Keypoints, normalize: bool, margin: float = PoseAugmentConfig.bbox_margin) -> Keypoints:
    """``kp`` bbox-normalised over the whole clip (§5.1) when ``normalize``, else as given."""
    return bbox_normalize(kp, margin=margin) if normalize else kp


def reference_skeleton(kp: Keypoints, size: tuple[int, int], width: float) -> np.ndarray:
    """(H, W, 3) uint8: frame 0 of ``kp`` (the reference image's keypoints) drawn in place on a (W, H) canvas."""
    first = kp.frames(slice(1))
    return render_pose(first, size, skeleton_style(size, width))[0]
