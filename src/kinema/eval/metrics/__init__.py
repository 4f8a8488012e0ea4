"""Offline metrics against the puppet world's exact targets (no downloaded weights)."""

from kinema.eval.metrics.appearance import (
    appearance_similarity, binding_accuracy, colour_histogram, foreground_mask, histogram_intersection, mask_iou,
)
from kinema.eval.metrics.image import PSNR_CAP, psnr, ssim, ssim_map
from kinema.eval.metrics.keypoints import PCK_ALPHA, keypoint_scores
from kinema.eval.metrics.temporal import optical_flow, warp, warping_error

__all__ = [
    "PCK_ALPHA", "PSNR_CAP", "appearance_similarity", "binding_accuracy", "colour_histogram", "foreground_mask",
    "histogram_intersection", "keypoint_scores", "mask_iou", "optical_flow", "psnr", "ssim", "ssim_map", "warp",
    "warping_error",
]
