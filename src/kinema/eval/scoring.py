"""Score one generated clip of one case against its exact triplet; metric names and directions."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from kinema.errors import KinemaInputError
from kinema.eval.benchmarks import Case
from kinema.eval.metrics import (
    appearance_similarity, binding_accuracy, foreground_mask, keypoint_scores, mask_iou, psnr, ssim, warping_error,
)
from kinema.pose.estimators import ESTIMATORS, PoseEstimator, PoseResult, get_estimator
from kinema.pose.keypoints import Keypoints

POSE_BACKEND = "puppet"
SCORING_VERSION = 3  # bump when a metric is added or changed: stored cases are rescored from their saved frames
CERTAINTY_THRESHOLDS = {"humanoid": 0.14, "quadruped": 0.06, "bird": 0.16}
"""Per family, the certainty at which a joint counts as found. Calibrated by ``python benchmarks/keypoint_certainty.py``
on exact targets against heavily blurred ones, mean-pose blobs and uniform frames (held-out seeds of their own):
without it, a blur's plausible average pose scored PCK. Backends other than the puppet one use the humanoid's."""


@dataclass(frozen=True)
class MetricInfo:
    """How to read a metric: a label, whether higher is better, and its unit."""

    label: str
    higher_is_better: bool
    unit: str = ""


METRICS: dict[str, MetricInfo] = {
    "psnr": MetricInfo("PSNR", True, "dB"),
    "psnr_char": MetricInfo("PSNR character", True, "dB"),
    "psnr_bg": MetricInfo("PSNR background", True, "dB"),
    "ssim": MetricInfo("SSIM", True),
    "ssim_char": MetricInfo("SSIM character", True),
    "ssim_bg": MetricInfo("SSIM background", True),
    "appearance": MetricInfo("appearance (hist. ∩)", True),
    "mask_iou": MetricInfo("mask IoU", True),
    "warp_error": MetricInfo("warping error", False, "RMS"),
    "binding_acc": MetricInfo("binding accuracy", True),
    "bg_fidelity": MetricInfo("PSNR vs driving background", True, "dB"),
    "bone_err": MetricInfo("bone-length error (body shape)", False),
}


def metric_info(name: str) -> MetricInfo:
    """Info of a fixed metric or of a keypoint metric ``kp_pck_<group>`` / ``kp_err_<group>`` / ``kp_found_<group>``."""
    if name in METRICS:
        return METRICS[name]
    kind, group = name.split("_", 2)[1:]
    return {"pck": MetricInfo(f"PCK {group}", True), "err": MetricInfo(f"kp error {group}", False, "px"),
            "found": MetricInfo(f"joints found {group}", True)}[kind]


def pose_estimator(family: str) -> tuple[PoseEstimator | None, str | None]:
    """The registered puppet keypoint estimator for ``family``, or None and the reason it is unavailable."""
    if POSE_BACKEND not in ESTIMATORS:
        return None, (f"no '{POSE_BACKEND}' pose estimator is registered in kinema.pose.estimators; keypoint "
                      "metrics need keypoints estimated on the output, so they are left out")
    try:
        return get_estimator(POSE_BACKEND, family=family), None
    except (KinemaInputError, ImportError, OSError, ValueError, TypeError) as err:
        return None, f"the '{POSE_BACKEND}' pose estimator could not be built: {err}"


def score_case(case: Case, frames: np.ndarray, estimator: PoseEstimator | None = None) -> dict[str, float]:
    """Every metric of ``case.mode`` for the generated ``frames`` (T, H, W, 3); NaN where undefined."""
    tri = case.triplet
    target, n = tri.target, len(tri.binding)
    if frames.shape != target.frames.shape or frames.dtype != np.uint8:
        raise ValueError(f"method output {frames.dtype} {frames.shape} must be uint8 {target.frames.shape}")
    char = target.masks[:, :n].any(axis=1)  # (T, H, W) the generated subject(s)
    scores = {
        "psnr": psnr(frames, target.frames), "psnr_char": psnr(frames, target.frames, char),
        "psnr_bg": psnr(frames, target.frames, ~char),
        "ssim": ssim(frames, target.frames), "ssim_char": ssim(frames, target.frames, char),
        "ssim_bg": ssim(frames, target.frames, ~char),
        "appearance": float(np.nanmean([_appearance(frames, case, i) for i in range(n)])),
        "mask_iou": mask_iou(foreground_mask(frames, target.background), target.masks.any(axis=1)),
        "warp_error": warping_error(frames, target.frames),
    }
    if case.mode == "multi":
        ref_masks = np.stack([r.masks[0, 0] for r in tri.references])  # (K, H, W)
        scores["binding_acc"] = binding_accuracy(frames, target.masks[:, :n], tri.reference_images, ref_masks, tri.binding)
    if case.mode == "replace":
        scores["bg_fidelity"] = psnr(frames, tri.driving.frames, _environment_region(case))
    if estimator is not None:
        threshold = CERTAINTY_THRESHOLDS[case.benchmark.family]
        scores.update(keypoint_scores(certain_keypoints(estimator(frames), threshold), target.keypoints[:n]))
    return scores


def certain_keypoints(result: PoseResult, threshold: float = CERTAINTY_THRESHOLDS["humanoid"]) -> Keypoints:
    """The estimated keypoints with visibility 1 where the estimator is certain of the joint (its certainty, or
    its confidence for a backend without one, at least ``threshold``), 0 elsewhere."""
    kp = result.keypoints
    certainty = kp.visibility if result.certainty is None else result.certainty
    return replace(kp, visibility=(certainty >= threshold).astype(np.float32))


def _environment_region(case: Case) -> np.ndarray:
    """(T, H, W) pixels where the driving clip and a replace target agree exactly: outside both clips'
    subject masks grown by 2 px (the anti-aliased edges lie outside the masks)."""
    tri, n = case.triplet, len(case.triplet.binding)
    subjects = (tri.driving.masks[:, :n].any(axis=1) | tri.target.masks[:, :n].any(axis=1)).astype(np.uint8)
    kernel = np.ones((5, 5), np.uint8)
    return np.stack([cv2.dilate(m, kernel) for m in subjects]) == 0


def _appearance(frames: np.ndarray, case: Case, i: int) -> float:
    """Appearance similarity of subject i's target region to the reference bound to it."""
    tri = case.triplet
    ref = tri.references[tri.binding[i]]
    return appearance_similarity(frames, tri.target.masks[:, i], ref.frames[0], ref.masks[0, 0])
