"""Degraded copies of an exact target: what a model that renders a blur would output.

Keypoint metrics must not reward them (:data:`kinema.eval.scoring.CERTAINTY_THRESHOLDS` are calibrated so,
``benchmarks/keypoint_certainty.py``). Blur widths are given for a 64-pixel frame and scale with its size.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

REFERENCE_SIDE = 64  # frame side the blur widths below are given for


def blurred(frames: np.ndarray, sigma: float = 4.0) -> np.ndarray:
    """(T, H, W, 3) uint8 -> each frame Gaussian-blurred with std ``sigma`` (for a 64-pixel frame)."""
    s = sigma * min(frames.shape[1:3]) / REFERENCE_SIDE
    return np.stack([cv2.GaussianBlur(f, (0, 0), s) for f in frames])


def mean_pose_blob(frames: np.ndarray, sigma: float = 3.0) -> np.ndarray:
    """Every frame the clip's temporal mean, blurred: a regression to the average pose, with no limbs to place."""
    mean = np.repeat(frames.mean(0, keepdims=True).round().astype(np.uint8), len(frames), 0)
    return blurred(mean, sigma)


def uniform(frames: np.ndarray) -> np.ndarray:
    """Every pixel the clip's mean colour."""
    return np.broadcast_to(frames.mean((0, 1, 2)).round().astype(np.uint8), frames.shape).copy()


HEAVY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "blur": blurred, "mean-pose blob": mean_pose_blob, "uniform": uniform}
"""The degradations a keypoint metric must score near zero."""
