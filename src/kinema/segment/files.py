"""User-supplied masks: arrays (.npz/.npy), binary or colour-coded images and videos.

Colour-coded files (one flat colour per person, as in SCAIL-2's release) become one subject per
colour. The background is black, or white in files with no black at all: SCAIL-2 paints the environment
to keep white (its animation reference masks and replacement driving masks), so there white is no
subject; in a binary mask (white on black) white is the subject. Lossy video blends colours at the edges, so the palette is the set of frequent
colours that are not a blend of black and another palette colour or of two palette colours;
prefer lossless files (PNG, .npz) when masks are small.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kinema.errors import ARRAY_FILE_ERRORS, KinemaInputError, require_file
from kinema.io import load_image, read_video
from kinema.segment.base import check_masks

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
FOREGROUND = 64  # a pixel is foreground when its brightest channel reaches this
WHITE = 225  # on a white background, a pixel is background when its darkest channel reaches this (SCAIL-2's threshold)
MERGE = 72.0  # RGB distance within which two colours are the same subject
MIN_SHARE = 0.02  # a palette colour covers at least this share of the foreground pixels


def _blend_distance(colour: np.ndarray, palette: list[np.ndarray], background: float) -> float:
    """Distance from ``colour`` to the segments between the background / palette colours (blends of them)."""
    anchors = [np.full(3, background), *palette]
    best = np.inf
    for i, a in enumerate(anchors):
        for b in anchors[i + 1:]:
            d = b - a
            s = np.clip(np.dot(colour - a, d) / max(np.dot(d, d), 1e-9), 0.0, 1.0)
            best = min(best, float(np.linalg.norm(colour - (a + s * d))))
    return best


def palette(pixels: np.ndarray, background: float = 0.0) -> np.ndarray:
    """Subject colours (P, 3) float from foreground pixels (N, 3), most frequent first; ``background`` is the
    grey level (0 black, 255 white) their edges blend with."""
    bins, counts = np.unique(pixels // 16, axis=0, return_counts=True)
    found: list[np.ndarray] = []
    for i in np.argsort(-counts, kind="stable"):
        if counts[i] < MIN_SHARE * len(pixels):
            break
        colour = bins[i] * 16.0 + 8.0
        if all(np.linalg.norm(colour - c) > MERGE for c in found) and _blend_distance(colour, found, background) > MERGE / 2:
            found.append(colour)
    return np.array(found).reshape(-1, 3)


def decode_colour_masks(frames: np.ndarray) -> np.ndarray:
    """Colour-coded (or binary) mask frames (T, H, W, 3) uint8 -> (T, P, H, W) bool, one subject per colour."""
    rgb = frames.astype(np.float32)
    foreground = frames.max(-1) >= FOREGROUND  # (T, H, W)
    background = 255.0 if foreground.mean() > 1 - MIN_SHARE else 0.0  # (almost) no black: the background is white
    if background:
        foreground &= frames.min(-1) < WHITE
    colours = palette(frames[foreground].astype(np.int64), background)
    if len(colours) == 0:
        return np.zeros((*frames.shape[:1], 0, *frames.shape[1:3]), bool)
    distance = np.linalg.norm(rgb[..., None, :] - colours, axis=-1)  # (T, H, W, P)
    nearest = distance.argmin(-1)
    keep = foreground & (distance.min(-1) < MERGE * 1.5)
    return np.stack([keep & (nearest == p) for p in range(len(colours))], axis=1)


def _read_array(path: Path, name: str) -> np.ndarray:
    """(T, P, H, W) from .npy, or from .npz ('masks', else its first array); (T, H, W) is one subject."""
    fix = "Save masks with numpy: np.savez(path, masks=bool_array_T_P_H_W)."
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                array = data["masks" if "masks" in data.files else data.files[0]]
        else:
            array = data
    except ARRAY_FILE_ERRORS as err:
        raise KinemaInputError(f"{name} '{path}'", f"is not a readable mask array ({err.__class__.__name__})", fix) from err
    if array.dtype.kind not in "biuf":  # strings, complex numbers, dates: no foreground to read
        raise KinemaInputError(f"{name} '{path}'", f"holds {array.dtype} values, not numbers", fix)
    return array[:, None] if array.ndim == 3 else array


def read_mask_file(path: str | os.PathLike, name: str = "masks") -> np.ndarray:
    """Masks (T, P, H, W) bool from .npz ('masks', as kinema synth writes) / .npy, an image or a video."""
    path = Path(path)
    require_file(path, name)
    suffix = path.suffix.lower()
    if suffix in (".npz", ".npy"):
        return _read_array(path, name) > 0
    if suffix in IMAGE_SUFFIXES:
        return decode_colour_masks(load_image(path, name, background=(0, 0, 0))[None])
    return decode_colour_masks(read_video(path, name=name).frames)


class MaskFileSegmenter:
    """The masks stored in a file, checked against the frames they segment."""

    def __init__(self, path: str | os.PathLike, name: str = "masks") -> None:
        self.path, self.name = Path(path), name

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        return check_masks(read_mask_file(self.path, self.name), frames, f"{self.name} '{self.path}'")
