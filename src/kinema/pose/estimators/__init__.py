"""Pose estimators behind one interface: ``estimator(frames) -> PoseResult``, looked up by name.

Backends are imported only when asked for, so optional dependencies stay optional.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from kinema.errors import KinemaInputError
from kinema.pose.keypoints import Keypoints


@dataclass
class PoseResult:
    """Keypoints of a clip; when the backend segments, person masks (T, H, W) bool; when it can tell, each
    joint's certainty (T, P, J) in [0, 1] that it lies where reported (a confidence says whether the joint
    is visible, a certainty also whether it could be placed: see the puppet estimator)."""

    keypoints: Keypoints
    masks: np.ndarray | None = None
    certainty: np.ndarray | None = None


class PoseEstimator(Protocol):
    """Frames (T, H, W, 3) uint8 RGB -> keypoints in pixels of those frames."""

    def __call__(self, frames: np.ndarray) -> PoseResult: ...


# name -> "module:class"; each class is built with the backend's keyword options.
ESTIMATORS = {
    "mediapipe": "kinema.pose.estimators.mediapipe:MediaPipeEstimator",
    "onnx": "kinema.pose.estimators.onnx:OnnxPoseEstimator",
    "puppet": "kinema.pose.estimators.puppet:PuppetPoseEstimator",
}


def get_estimator(name: str, **options: Any) -> PoseEstimator:
    """Build the estimator registered as ``name``; unknown names list the valid ones."""
    if name not in ESTIMATORS:
        raise KinemaInputError(f"pose backend '{name}'", "is unknown", f"Use one of: {', '.join(sorted(ESTIMATORS))}.")
    module, attr = ESTIMATORS[name].split(":")
    return getattr(importlib.import_module(module), attr)(**options)


def check_frames(frames: np.ndarray, what: str = "frames") -> np.ndarray:
    """Validate (T, H, W, 3) uint8 frames with T >= 1."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or 0 in frames.shape:
        raise KinemaInputError(what, f"must be non-empty uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}", "Decode the video with kinema.io.read_video.")
    return frames
