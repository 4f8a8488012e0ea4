"""The segmenter interface: frames (T, H, W, 3) uint8 -> subject masks (T, P, H, W) bool, by name."""

from __future__ import annotations

import importlib
from typing import Any, Protocol

import numpy as np

from kinema.errors import KinemaInputError


class Segmenter(Protocol):
    """Frames (T, H, W, 3) uint8 RGB -> masks (T, P, H, W) bool of P subjects, in any order."""

    def __call__(self, frames: np.ndarray) -> np.ndarray: ...


# name -> "module:class"; optional backends are imported only when asked for.
SEGMENTERS = {
    "file": "kinema.segment.files:MaskFileSegmenter",
    "mediapipe": "kinema.segment.mediapipe:MediaPipeSegmenter",
    "puppet": "kinema.segment.puppet:PuppetSegmenter",
}


def get_segmenter(name: str, **options: Any) -> Segmenter:
    """Build the segmenter registered as ``name``; unknown names list the valid ones."""
    if name not in SEGMENTERS:
        raise KinemaInputError(f"segmenter '{name}'", "is unknown", f"Use one of: {', '.join(sorted(SEGMENTERS))}.")
    module, attr = SEGMENTERS[name].split(":")
    return getattr(importlib.import_module(module), attr)(**options)


def check_masks(masks: np.ndarray, frames: np.ndarray, name: str) -> np.ndarray:
    """Check masks (T, P, H, W) against frames (T, H, W, 3): same count and size, at least one subject."""
    masks = np.asarray(masks)
    if masks.ndim != 4:
        raise KinemaInputError(name, f"must be (frames, subjects, height, width), got shape {masks.shape}",
                               "Pass one mask per frame, one channel or colour per subject.")
    t, p, h, w = masks.shape
    if (t, h, w) != frames.shape[:3]:
        raise KinemaInputError(
            name, f"has {t} frames of {w}x{h} but its video/image has {frames.shape[0]} frames of "
            f"{frames.shape[2]}x{frames.shape[1]}", "Give masks with the same frame count and size as the frames they segment.")
    if p == 0 or not masks.any():
        raise KinemaInputError(name, "is empty (no subject pixels)", "Check the mask file marks the characters.")
    return masks.astype(bool)
