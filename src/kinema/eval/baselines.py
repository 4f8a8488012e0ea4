"""Trivial methods every table shows, and the exact target as the ceiling.

``paste`` is deliberately generous: it reads the subject's exact place (amodal masks) and the
exact clean background from the puppet world, which a real pipeline would have to estimate.
It binds reference k to driving subject k (it cannot know the binding), so on multi it scores
chance-level binding.
"""

from __future__ import annotations

import cv2
import numpy as np

from kinema.eval.benchmarks import Case


def static_reference(case: Case) -> np.ndarray:
    """The first reference image repeated for every frame (T, H, W, 3)."""
    return np.repeat(case.triplet.references[0].frames[:1], case.frames, axis=0)


def driving_copy(case: Case) -> np.ndarray:
    """The driving video itself (T, H, W, 3)."""
    return case.triplet.driving.frames.copy()


def exact_target(case: Case) -> np.ndarray:
    """The exact target (T, H, W, 3): the ceiling of every metric (keypoints: the estimator's own error)."""
    return case.triplet.target.frames.copy()


def _environment(case: Case) -> np.ndarray:
    """(T, H, W, 3) clean scene to paste into: the reference's background (animate, multi), or the
    driving video with its subjects replaced by its exact clean background (replace)."""
    tri = case.triplet
    if case.mode != "replace":
        return np.repeat(tri.references[0].background[:1], case.frames, axis=0)
    subjects = tri.driving.masks[:, : len(tri.binding)].any(axis=1)  # (T, H, W)
    return np.where(subjects[..., None], tri.driving.background, tri.driving.frames)


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) exclusive bounds of a (H, W) mask, None when empty."""
    ys, xs = np.nonzero(mask)
    return None if len(xs) == 0 else (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def paste_sprite(canvas: np.ndarray, sprite: np.ndarray, alpha: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Scale ``sprite`` (h, w, 3) with ``alpha`` (h, w) to ``box``'s height and paste it bottom-centred, in place."""
    x0, y0, x1, y1 = box
    height = y1 - y0
    width = max(1, round(sprite.shape[1] * height / sprite.shape[0]))
    sprite = cv2.resize(sprite, (width, height), interpolation=cv2.INTER_LINEAR)
    alpha = cv2.resize(alpha.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
    left = (x0 + x1) // 2 - width // 2
    cx0, cx1 = max(0, left), min(canvas.shape[1], left + width)
    if cx1 <= cx0:
        return
    region, keep = canvas[y0:y1, cx0:cx1], alpha[:, cx0 - left:cx1 - left]
    region[keep] = sprite[:, cx0 - left:cx1 - left][keep]


def paste(case: Case) -> np.ndarray:
    """Reference k's character (cut out by its mask) pasted over the target environment where driving
    subject k is, scaled to the subject's height, frame by frame (T, H, W, 3)."""
    tri = case.triplet
    out = _environment(case).copy()
    for k in range(len(tri.binding)):
        ref = tri.references[min(k, len(tri.references) - 1)]
        cut = mask_box(ref.masks[0, 0])
        if cut is None:
            continue
        x0, y0, x1, y1 = cut
        sprite, alpha = ref.frames[0, y0:y1, x0:x1], ref.masks[0, 0, y0:y1, x0:x1]
        for t in range(case.frames):
            box = mask_box(tri.driving.amodal[t, k])
            if box is not None:
                paste_sprite(out[t], sprite, alpha, box)
    return out
