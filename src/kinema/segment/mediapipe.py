"""MediaPipe selfie segmentation (legacy ``mp.solutions``, model inside the wheel): one person per frame.

Optional: needs ``mediapipe==0.10.21`` (see :data:`kinema.pose.estimators.mediapipe.INSTALL`).
"""

from __future__ import annotations

import numpy as np

from kinema.errors import KinemaInputError
from kinema.pose.estimators import check_frames
from kinema.pose.estimators.mediapipe import INSTALL


class MediaPipeSegmenter:
    """Person masks (T, 1, H, W) from selfie segmentation (``model_selection=1``, landscape model)."""

    def __init__(self, threshold: float = 0.5) -> None:
        try:
            import mediapipe as mp
        except ImportError as err:
            raise KinemaInputError("mediapipe segmenter", f"cannot import mediapipe ({err})",
                                   f"{INSTALL}; or pass mask files (--masks, --reference-masks)") from err
        self.solution = mp.solutions.selfie_segmentation
        self.threshold = threshold

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        frames = check_frames(frames)
        masks = np.zeros((frames.shape[0], 1, *frames.shape[1:3]), bool)
        with self.solution.SelfieSegmentation(model_selection=1) as model:
            for i, frame in enumerate(frames):
                result = model.process(np.ascontiguousarray(frame))
                if result.segmentation_mask is not None:
                    masks[i, 0] = result.segmentation_mask > self.threshold
        return masks
