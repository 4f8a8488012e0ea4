"""Temporal consistency: an optical-flow warping error (after Lai et al. 2018, eq. 9) with OpenCV's DIS flow.

The flow comes from the exact *target* video and warps the output's *error video* O − G: an output
scores 0 when it changes from frame to frame exactly as the target does along the target's motion,
and a flicker of ±d scores d. A flow estimated on the output itself would give a frozen output a
perfect score, and warping the output alone would reward untextured outputs.
"""

from __future__ import annotations

import cv2
import numpy as np


def optical_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow (H, W, 2) in pixels from RGB frame ``a`` to ``b`` (DIS, medium preset): a(x) ≈ b(x + F(x))."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    gray = [np.ascontiguousarray(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)) for f in (a, b)]
    return dis.calc(gray[0], gray[1], None)


def warp(frame: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``frame`` sampled at x + flow(x) (bilinear, border replicated): brings frame t+1 back to t."""
    h, w = flow.shape[:2]
    grid = np.stack(np.meshgrid(np.arange(w), np.arange(h)), axis=-1).astype(np.float32)  # (H, W, 2) as (x, y)
    coords = grid + flow
    return cv2.remap(frame, coords[..., 0], coords[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistent(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """(H, W) bool: forward-backward check |F + B(x + F)|² < 0.01(|F|² + |B(x + F)|²) + 0.5
    (Sundaram et al. 2010); false marks occluded or unreliable pixels."""
    back = warp(backward, forward)
    err = ((forward + back) ** 2).sum(-1)
    return err < 0.01 * ((forward**2).sum(-1) + (back**2).sum(-1)) + 0.5


def warping_error(output: np.ndarray, target: np.ndarray) -> float:
    """RMS, in 0..255 units over RGB, of E_t − warp(E_{t+1}, F_t) where E = output − target and F_t is
    the target's flow t → t+1, over the target's flow-consistent pixels, pooled over t.

    Bilinear warping is linear, so this equals the output's warping residual minus the target's.
    0 for the target itself; an output equal to the target plus an alternating ±d offset scores d;
    NaN for single-frame clips.
    """
    return pooled(warping_residuals(output, target))


def warping_residuals(output: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(T − 1, 2): for each frame pair t → t+1 of :func:`warping_error`, its sum of squares and value count."""
    error = output.astype(np.float32) - target.astype(np.float32)  # (T, H, W, 3)
    sums = np.zeros((max(len(target) - 1, 0), 2))
    for t in range(len(target) - 1):
        fwd, bwd = optical_flow(target[t], target[t + 1]), optical_flow(target[t + 1], target[t])
        valid = consistent(fwd, bwd)  # (H, W)
        diff = error[t] - warp(error[t + 1], fwd)  # (H, W, 3)
        sums[t] = float((diff[valid].astype(np.float64) ** 2).sum()), int(valid.sum()) * 3
    return sums


def pooled(residuals: np.ndarray) -> float:
    """The RMS of the pairs ``residuals`` (N, 2) of :func:`warping_residuals` pooled; NaN for none."""
    count = residuals[:, 1].sum()
    return float(np.sqrt(residuals[:, 0].sum() / count)) if count else float("nan")
