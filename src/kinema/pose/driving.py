"""Skeleton driving videos for the pose-based recipe, built the same way in training and inference.

Training (DreamActor-M2 §3.3): augment (bone scaling, bbox normalisation), then mask the lead-in.
Inference (§5.1): bbox-normalise, then prepend the lead-in as pose-free frames.
A model trained with ``reference_pose`` (kinema's option, not the paper's) gets the reference's own
skeleton, in place, as frame 0 of the driving video: the pose of output frame 0, which is the
reference itself, so each limb of the driving skeleton can be matched to where it is in the reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kinema.pose.augment import PoseAugmentConfig, augment_pose, bbox_normalize, mask_first_second, prepend_pose_free
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


def inference_skeleton(kp: Keypoints, lead_in_frames: int, width: float, normalize: bool = True,
                       margin: float = PoseAugmentConfig.bbox_margin) -> np.ndarray:
    """(lead + T, H, W, 3) uint8: bbox-normalised skeleton of ``kp`` after ``lead_in_frames`` pose-free frames."""
    if normalize:
        kp = bbox_normalize(kp, margin=margin)
    kp = prepend_pose_free(kp, fps=1.0, seconds=lead_in_frames)
    return render_pose(kp, kp.size, skeleton_style(kp.size, width))


def reference_skeleton(kp: Keypoints, size: tuple[int, int], width: float) -> np.ndarray:
    """(H, W, 3) uint8: frame 0 of ``kp`` (the reference image's keypoints) drawn in place on a (W, H) canvas."""
    first = Keypoints(kp.xy[:1], kp.visibility[:1], kp.layout, kp.size)
    return render_pose(first, size, skeleton_style(size, width))[0]
