"""MediaPipe Holistic (legacy ``mp.solutions``, models inside the wheel): body, hands, person mask.

Optional: needs ``mediapipe==0.10.21`` (the last release that ships the solution models), which in
turn needs ``numpy<2`` and ``protobuf<5``. Its default dependencies pull ``opencv-contrib-python``,
which overwrites ``cv2``; install it without them (see ``INSTALL``). One person per frame; the 33
body landmarks become OpenPose-18 (neck = shoulder midpoint) and the hands the 21-point hands of
the ``humanoid`` layout.
"""

from __future__ import annotations

import numpy as np

from kinema.errors import KinemaInputError
from kinema.pose.convert import convert
from kinema.pose.estimators import PoseResult, check_frames
from kinema.pose.keypoints import Keypoints

INSTALL = (
    "pip install --no-deps mediapipe==0.10.21 && pip install 'numpy<2' 'protobuf>=4.25.3,<5' absl-py attrs flatbuffers matplotlib "
    "(numpy<2 is required by mediapipe 0.10.21: use a separate environment if the rest of your stack needs numpy 2)"
)

BUILT_IN = ("Use the built-in puppet estimator instead (kinema pose extract --backend puppet, kinema animate "
            "--pose-backend puppet), or install mediapipe, which kinema does not ship: ")


class MediaPipeEstimator:
    """Holistic tracking over a clip (``model_complexity=1``, the only one shipped in the wheel)."""

    def __init__(self, min_detection_confidence: float = 0.5, segmentation: bool = True) -> None:
        try:
            import mediapipe as mp
        except ImportError as err:
            raise KinemaInputError("mediapipe backend", f"cannot import mediapipe ({err})", BUILT_IN + INSTALL) from err
        self.holistic = mp.solutions.holistic
        self.min_detection_confidence = min_detection_confidence
        self.segmentation = segmentation

    def __call__(self, frames: np.ndarray) -> PoseResult:
        frames = check_frames(frames)
        t, h, w = frames.shape[:3]
        xy = np.zeros((t, 1, 75, 2), dtype=np.float32)  # mediapipe_holistic: 33 body + 21 left + 21 right hand
        visibility = np.zeros((t, 1, 75), dtype=np.float32)
        masks = np.zeros((t, h, w), dtype=bool) if self.segmentation else None
        with self.holistic.Holistic(
            static_image_mode=False, model_complexity=1, enable_segmentation=self.segmentation,
            min_detection_confidence=self.min_detection_confidence,
        ) as model:
            for i, frame in enumerate(frames):
                result = model.process(np.ascontiguousarray(frame))
                parts = ((result.pose_landmarks, 0, True), (result.left_hand_landmarks, 33, False), (result.right_hand_landmarks, 54, False))
                for landmarks, start, has_visibility in parts:
                    if landmarks is None:
                        continue
                    points = landmarks.landmark
                    xy[i, 0, start : start + len(points)] = [(p.x * w, p.y * h) for p in points]
                    visibility[i, 0, start : start + len(points)] = [p.visibility if has_visibility else 1.0 for p in points]
                if masks is not None and result.segmentation_mask is not None:
                    masks[i] = result.segmentation_mask > 0.5
        keypoints = Keypoints(xy, np.clip(visibility, 0, 1), "mediapipe_holistic", (w, h))
        return PoseResult(convert(keypoints, "humanoid"), masks)
