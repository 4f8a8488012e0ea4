"""Validation and preparation of user inputs: sizes, frame counts, aspect fitting, tensors.

Every rule raises :class:`KinemaInputError` naming the input and the fix, or adds a note when it
changed something (a rounded size or frame count; an input resized, cropped, padded or trimmed) so the
user is told what became of their input.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import torch

from kinema.backbone.components import WanComponents
from kinema.errors import KinemaInputError
from kinema.io import check_output
from kinema.io.atomic import Inputs

Fit = Literal["error", "crop", "pad"]
SIZE_MULTIPLE = 16  # Wan VAE stride 8 x patch 2 (the pixel codec: 4 x 2 divides it)
MIN_SIDE, MAX_SIDE = 32, 2048
ASPECT_TOLERANCE = 0.05


def check_video_out(out: str | os.PathLike, inputs: Inputs = ()) -> Path:
    """``out`` as a Path, checked before any compute: an .mp4 that, with its .json settings beside it, can be
    written without overwriting any of ``inputs``."""
    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise KinemaInputError(f"--out '{out}'", "must end in .mp4", "Pass e.g. --out result.mp4.")
    inputs = tuple(inputs)
    check_output(out, "--out", inputs)
    check_output(out.with_suffix(".json"), f"the settings file beside --out '{out}'", inputs)
    return out


def check_size(size: tuple[int, int]) -> None:
    """KinemaInputError unless each side of (W, H) is in [MIN_SIDE, MAX_SIDE]."""
    w, h = size
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise KinemaInputError(f"size {w}x{h}", f"each side must be in [{MIN_SIDE}, {MAX_SIDE}] pixels",
                               "Pass e.g. --size 832x480.")


def size_multiple(components: WanComponents) -> int:
    """What output sides must be multiples of: 16, and the codec's stride times the patch size (32 for Wan2.2's
    stride-16 VAE)."""
    _, ph, pw = components.transformer.config.patch_size
    stride = components.codec.spatial_stride
    return math.lcm(SIZE_MULTIPLE, stride * ph, stride * pw)


def resolve_size(size: tuple[int, int], notes: list[str], multiple: int = SIZE_MULTIPLE) -> tuple[int, int]:
    """Check (W, H) is sane and round each side down to a multiple of ``multiple``."""
    check_size(size)
    w, h = size
    rounded = (w // multiple * multiple, h // multiple * multiple)
    if min(rounded) < multiple:
        raise KinemaInputError(f"size {w}x{h}", f"is smaller than this model's size multiple {multiple}",
                               f"Pass a --size with sides of at least {multiple}.")
    if rounded != (w, h):
        notes.append(f"size {w}x{h} rounded down to {rounded[0]}x{rounded[1]} (sides must be multiples of {multiple})")
    return rounded


def resolve_total(requested: int | None, available: int) -> int:
    """Output frames: all of the driving video's, or the ``requested`` first ones."""
    if requested is None:
        return available
    if requested > available:
        raise KinemaInputError(f"frames {requested}", f"exceeds the driving video's {available} frames",
                               f"Pass --frames {available} or less, or a longer driving video.")
    if requested < 1:
        raise KinemaInputError(f"frames {requested}", "must be at least 1", "Pass e.g. --frames 81.")
    return requested


def size_reason(source: str, requested: tuple[int, int], size: tuple[int, int], multiple: int = SIZE_MULTIPLE) -> str:
    """Why inputs are resized to ``size``: where the ``requested`` size came from, and its rounding if any."""
    return source if tuple(requested) == tuple(size) else f"{source}, rounded down to multiples of {multiple}"


def fit_frames(frames: np.ndarray, size: tuple[int, int], fit: Fit, name: str, notes: list[str] | None = None,
               why: str = "the output size") -> np.ndarray:
    """Resize uint8 frames (T, H, W, 3) to (W, H) = ``size``.

    If the aspect ratio differs by more than 5 %: ``error`` refuses, ``crop`` centre-crops,
    ``pad`` letterboxes with black. Each crop, pad and resize is added to ``notes`` (naming ``name``,
    the sizes from and to, and ``why`` the output has that size); inputs fitted like one already
    noted (its masks, its skeleton) pass none.
    """
    notes = [] if notes is None else notes
    w, h = size
    src_h, src_w = frames.shape[1:3]
    ratio = (src_w / src_h) / (w / h)
    if abs(ratio - 1.0) > ASPECT_TOLERANCE:
        if fit == "error":
            raise KinemaInputError(
                f"{name} ({src_w}x{src_h})", f"aspect ratio differs from the output size {w}x{h}",
                "Pass --fit crop or --fit pad, or a --size with the same aspect ratio.")
        frames = _crop(frames, w / h) if fit == "crop" else _pad(frames, w / h)
        how = "centre-cropped" if fit == "crop" else "padded with black"
        notes.append(f"{name} {how} from {src_w}x{src_h} to {frames.shape[2]}x{frames.shape[1]} "
                     f"(--fit {fit}: its aspect ratio differs from the output size {w}x{h})")
    if frames.shape[1:3] != (h, w):
        notes.append(f"{name} resized from {frames.shape[2]}x{frames.shape[1]} to {w}x{h} ({why})")
    interpolation = cv2.INTER_AREA if frames.shape[2] > w else cv2.INTER_LINEAR
    return np.stack([cv2.resize(f, (w, h), interpolation=interpolation) for f in frames])


def _crop(frames: np.ndarray, aspect: float) -> np.ndarray:
    h, w = frames.shape[1:3]
    if w / h > aspect:
        new_w = round(h * aspect)
        x0 = (w - new_w) // 2
        return frames[:, :, x0:x0 + new_w]
    new_h = round(w / aspect)
    y0 = (h - new_h) // 2
    return frames[:, y0:y0 + new_h]


def _pad(frames: np.ndarray, aspect: float) -> np.ndarray:
    h, w = frames.shape[1:3]
    if w / h > aspect:
        extra = round(w / aspect) - h
        return np.pad(frames, ((0, 0), (extra // 2, extra - extra // 2), (0, 0), (0, 0)))
    extra = round(h * aspect) - w
    return np.pad(frames, ((0, 0), (0, 0), (extra // 2, extra - extra // 2), (0, 0)))


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float (1, 3, T, H, W) in [-1, 1]."""
    return torch.from_numpy(frames).permute(3, 0, 1, 2).float().div(127.5).sub(1.0).unsqueeze(0)


def to_frames(video: torch.Tensor) -> np.ndarray:
    """float (1, 3, T, H, W) in [-1, 1] -> uint8 (T, H, W, 3)."""
    return video[0].float().add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 3, 0).cpu().numpy()
