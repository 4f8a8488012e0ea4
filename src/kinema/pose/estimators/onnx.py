"""Top-down ONNX pose models (RTMPose, DWPose, heatmap models) on onnxruntime, from a user's ``.onnx`` file.

Model signature:

* input: one float32 tensor (1, 3, H, W) with static H, W: the person crop, RGB, normalised as
  ``(pixel - mean) / std`` (ImageNet statistics in 0-255 units by default, as in RTMPose).
* outputs, either
  - SimCC (RTMPose / DWPose): ``simcc_x`` (1, K, W * r) and ``simcc_y`` (1, K, H * r), r = 2 by
    default; a joint sits at the argmax of each, its score is the mean of the two maxima; or
  - heatmaps: one (1, K, h, w) tensor; a joint sits at the argmax, scaled by W / w and H / h.
* K = 17 (COCO body) or 133 (COCO-WholeBody); results are converted to ``body18`` / ``wholebody``.

The crop is the person box (the whole frame unless ``boxes`` are given) enlarged by
``box_padding`` and widened to the model's aspect ratio; keypoints are mapped back to the frame.
Scores become the visibility, clipped to [0, 1]. One person per frame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from kinema.errors import KinemaInputError, require_file
from kinema.pose.convert import convert
from kinema.pose.estimators import PoseResult, check_frames
from kinema.pose.keypoints import Keypoints

LAYOUT_BY_JOINTS = {17: ("coco17", "body18"), 133: ("coco_wholebody", "wholebody")}


@dataclass(frozen=True)
class OnnxPoseConfig:
    """Preprocessing and decoding of a top-down pose model."""

    mean: tuple[float, float, float] = (123.675, 116.28, 103.53)
    std: tuple[float, float, float] = (58.395, 57.12, 57.375)
    box_padding: float = 1.25
    simcc_split_ratio: float = 2.0


class OnnxPoseEstimator:
    """Runs a top-down model frame by frame on onnxruntime's CPU provider (or ``providers``)."""

    def __init__(self, model: str | os.PathLike | None = None, config: OnnxPoseConfig | None = None, providers: list[str] | None = None) -> None:
        if model is None:
            raise KinemaInputError("--model", "is required by the onnx backend", "Pass a top-down pose model, e.g. --model rtmpose-m.onnx.")
        path = Path(model)
        require_file(path, "ONNX model", "Check the path of the .onnx file.")
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise KinemaInputError("onnx backend", "needs onnxruntime, which is not installed", "pip install 'kinema[onnx]'  (or: pip install onnxruntime)") from err
        try:
            self.session = ort.InferenceSession(str(path), providers=providers or ["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own untyped errors for bad files
            raise KinemaInputError(f"ONNX model '{path}'", f"cannot be loaded ({str(err).strip().splitlines()[-1][-200:]})", "Pass a valid .onnx file.") from err
        self.config = config or OnnxPoseConfig()
        self.input = self.session.get_inputs()[0]
        shape = self.input.shape
        if len(shape) != 4 or not all(isinstance(d, int) for d in shape[2:]):
            raise KinemaInputError(f"ONNX model '{path}'", f"input must be (1, 3, H, W) with static H, W, got {shape}", "Export the model with a fixed input size.")
        self.input_size = (int(shape[3]), int(shape[2]))  # (W, H)
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.name = str(path)

    def __call__(self, frames: np.ndarray, boxes: np.ndarray | None = None) -> PoseResult:
        """Estimate one person per frame; ``boxes`` (T, 4) xyxy pixel boxes, default the whole frame."""
        frames = check_frames(frames)
        t, h, w = frames.shape[:3]
        boxes = np.tile([0.0, 0.0, w, h], (t, 1)) if boxes is None else np.asarray(boxes, dtype=np.float64)
        xy, scores = zip(*(self._frame(frame, box) for frame, box in zip(frames, boxes)))
        xy, scores = np.stack(xy)[:, None], np.stack(scores)[:, None]  # (T, 1, K, 2), (T, 1, K)
        if xy.shape[2] not in LAYOUT_BY_JOINTS:
            raise KinemaInputError(f"ONNX model '{self.name}'", f"predicts {xy.shape[2]} joints", f"Use a model with {' or '.join(map(str, LAYOUT_BY_JOINTS))} joints (COCO or COCO-WholeBody).")
        source, target = LAYOUT_BY_JOINTS[xy.shape[2]]
        return PoseResult(convert(Keypoints(xy, np.clip(scores, 0, 1), source, (w, h)), target))

    def _frame(self, frame: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        center, size = self.crop_box(box)
        in_w, in_h = self.input_size
        affine = np.array([[in_w / size[0], 0, in_w / 2 - center[0] * in_w / size[0]], [0, in_h / size[1], in_h / 2 - center[1] * in_h / size[1]]])
        crop = cv2.warpAffine(frame, affine, (in_w, in_h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        tensor = ((crop.astype(np.float32) - self.config.mean) / self.config.std).transpose(2, 0, 1)[None]  # (1, 3, H, W)
        outputs = self.session.run(self.outputs, {self.input.name: tensor.astype(np.float32)})
        xy, scores = self.decode(outputs)
        return (xy - [in_w / 2, in_h / 2]) * (size / [in_w, in_h]) + center, scores  # crop -> frame pixels

    def crop_box(self, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Centre and (w, h) of the crop: ``box`` padded, then widened to the model's aspect ratio."""
        x0, y0, x1, y1 = box
        center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        w, h = (x1 - x0) * self.config.box_padding, (y1 - y0) * self.config.box_padding
        aspect = self.input_size[0] / self.input_size[1]
        w, h = (w, w / aspect) if w > h * aspect else (h * aspect, h)
        return center, np.array([w, h])

    def decode(self, outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Model outputs -> (K, 2) keypoints in crop pixels and (K,) scores."""
        if len(outputs) == 2 and outputs[0].ndim == 3:  # SimCC
            simcc_x, simcc_y = outputs[0][0], outputs[1][0]  # (K, W*r), (K, H*r)
            x = simcc_x.argmax(-1) / self.config.simcc_split_ratio
            y = simcc_y.argmax(-1) / self.config.simcc_split_ratio
            return np.stack([x, y], -1), 0.5 * (simcc_x.max(-1) + simcc_y.max(-1))
        if len(outputs) == 1 and outputs[0].ndim == 4:  # heatmaps
            heatmaps = outputs[0][0]  # (K, h, w)
            k, hh, hw = heatmaps.shape
            flat = heatmaps.reshape(k, -1)
            y, x = np.divmod(flat.argmax(-1), hw)
            scale = np.array([self.input_size[0] / hw, self.input_size[1] / hh])
            return np.stack([x, y], -1) * scale, flat.max(-1)
        shapes = [o.shape for o in outputs]
        raise KinemaInputError(f"ONNX model '{self.name}'", f"has outputs {shapes}", "Expected SimCC (1,K,W*r) + (1,K,H*r) or heatmaps (1,K,h,w).")
