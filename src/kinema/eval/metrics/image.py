"""Pixel fidelity against the exact target: PSNR and SSIM over a whole clip or a masked region."""

from __future__ import annotations

import cv2
import numpy as np

PSNR_CAP = 100.0
"""PSNR of identical regions (the true value is infinite; JSON and means need a number)."""


def _check_pair(output: np.ndarray, target: np.ndarray) -> None:
    if output.shape != target.shape or output.ndim != 4 or output.shape[-1] != 3:
        raise ValueError(f"output {output.shape} and target {target.shape} must be equal (T, H, W, 3) clips")


def psnr(output: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB, 10·log10(255² / MSE), of uint8 clips (T, H, W, 3).

    MSE pools every channel of the pixels where ``mask`` (T, H, W) is true (all pixels when None).
    Identical regions score :data:`PSNR_CAP`; an empty mask gives NaN (nothing to measure).
    """
    _check_pair(output, target)
    mask = np.ones(output.shape[:3], bool) if mask is None else mask
    if not mask.any():
        return float("nan")
    diff = output[mask].astype(np.float64) - target[mask].astype(np.float64)  # (N, 3)
    mse = float(np.mean(diff**2))
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, float(10 * np.log10(255.0**2 / mse)))


def ssim_map(output: np.ndarray, target: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Per-pixel SSIM (T, H, W), averaged over RGB channels (Wang et al. 2004, eq. 13).

    Local statistics use an 11x11 Gaussian window of std ``sigma`` with mirrored borders,
    population (co)variances, C1 = (0.01·255)², C2 = (0.03·255)² — the settings of
    ``skimage.metrics.structural_similarity(gaussian_weights=True, use_sample_covariance=False)``.
    """
    _check_pair(output, target)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), sigma, borderType=cv2.BORDER_REFLECT)

    maps = []
    for a, b in zip(output.astype(np.float64), target.astype(np.float64)):  # (H, W, 3) each
        mu_a, mu_b = blur(a), blur(b)
        var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
        cov = blur(a * b) - mu_a * mu_b
        s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
        maps.append(s.mean(axis=-1))
    return np.stack(maps)


def ssim(output: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean of :func:`ssim_map` over the pixels where ``mask`` (T, H, W) is true (all when None);
    1 for identical clips, NaN for an empty mask."""
    values = ssim_map(output, target)
    if mask is not None:
        if not mask.any():
            return float("nan")
        values = values[mask]
    return float(values.mean())
