"""Appearance and shape of the generated character: colour histograms, foreground masks, binding.

The output's character mask is not known, so it is estimated as the pixels that differ from the
exact clean background of the target's environment (:func:`foreground_mask`). That background is
part of the ground truth of the environment, not of the character, so the estimate measures where
the output put *something*, which is what a shape score should see.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FOREGROUND_THRESHOLD = 24
"""Max-over-RGB absolute difference (0..255) above which a pixel counts as foreground."""


def colour_histogram(pixels: np.ndarray, bins: int = 8) -> np.ndarray:
    """Normalised joint RGB histogram (bins³,) of uint8 ``pixels`` (N, 3); all zeros when N = 0."""
    index = (pixels.astype(np.int64) * bins // 256) @ np.array([bins * bins, bins, 1])  # (N,)
    counts = np.bincount(index, minlength=bins**3).astype(np.float64)
    return counts / max(1.0, counts.sum())


def histogram_intersection(h1: np.ndarray, h2: np.ndarray) -> float:
    """Σ_b min(h1_b, h2_b) of two normalised histograms: 1 for equal colour distributions, 0 for disjoint."""
    return float(np.minimum(h1, h2).sum())


def appearance_similarity(output: np.ndarray, masks: np.ndarray, reference: np.ndarray, reference_mask: np.ndarray,
                          bins: int = 8) -> float:
    """Histogram intersection between the colours of ``output`` (T, H, W, 3) inside ``masks``
    (T, H, W), all frames pooled, and of ``reference`` (H, W, 3) inside ``reference_mask`` (H, W).

    Measures whether the character where it should be wears the reference's colours (not its
    shape, see :func:`mask_iou`). NaN when either mask is empty.
    """
    if not masks.any() or not reference_mask.any():
        return float("nan")
    return histogram_intersection(colour_histogram(output[masks], bins), colour_histogram(reference[reference_mask], bins))


def foreground_mask(frames: np.ndarray, background: np.ndarray, threshold: int = FOREGROUND_THRESHOLD) -> np.ndarray:
    """(T, H, W) bool: pixels of ``frames`` whose max RGB difference from ``background`` (T, H, W, 3)
    exceeds ``threshold``."""
    diff = np.abs(frames.astype(np.int16) - background.astype(np.int16)).max(axis=-1)
    return diff > threshold


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over frames of |a ∧ b| / |a ∨ b| for (T, H, W) bool masks; a frame where both are empty scores 1."""
    inter = (a & b).sum(axis=(1, 2))
    union = (a | b).sum(axis=(1, 2))
    return float(np.mean(np.where(union > 0, inter / np.maximum(union, 1), 1.0)))


def binding_accuracy(output: np.ndarray, subject_masks: np.ndarray, references: np.ndarray, reference_masks: np.ndarray,
                     binding: Sequence[int], bins: int = 8) -> float:
    """Fraction of subjects i whose region shows the right character.

    Subject i's region is ``subject_masks[:, i]`` (T, K, H, W), where driving subject i was. It shows
    reference k* = argmax_k of :func:`appearance_similarity` against reference k (``references``
    (K, H, W, 3), ``reference_masks`` (K, H, W)); it is right when k* = ``binding[i]``. Subjects
    never visible are left out; NaN when none is visible.
    """
    hits = []
    for i, expected in enumerate(binding):
        region = subject_masks[:, i]
        if not region.any():
            continue
        scores = [appearance_similarity(output, region, ref, m, bins) for ref, m in zip(references, reference_masks)]
        hits.append(int(np.argmax(scores)) == expected)
    return float(np.mean(hits)) if hits else float("nan")
