"""Image loading with Pillow: EXIF rotation, grayscale and alpha handled, always RGB uint8."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from kinema.errors import KinemaInputError, require_file

MIN_SIDE = 16  # pixels; smaller images carry no usable character


def load_image(path: str | os.PathLike, name: str = "image", background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Load an image as RGB uint8 (H, W, 3).

    EXIF orientation is applied; grayscale (16-bit too) is replicated to 3 channels; an alpha channel
    is composited over ``background``.

    Raises:
        KinemaInputError: missing, undecodable or smaller than ``MIN_SIDE`` pixels a side.
    """
    path = Path(path)
    require_file(path, name)
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise KinemaInputError(f"{name} '{path}'", "is not a readable image", "Pass a PNG, JPEG or WebP file.") from err
    if min(image.size) < MIN_SIDE:
        raise KinemaInputError(f"{name} '{path}'", f"is {image.size[0]}x{image.size[1]}",
                               f"Pass an image of at least {MIN_SIDE}x{MIN_SIDE} pixels.")
    if image.mode.startswith("I"):  # 16-bit grayscale: Pillow's convert would clip it to white
        image = Image.fromarray((np.asarray(image, dtype=np.float64) * (255 / 65535)).round().clip(0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        image = Image.alpha_composite(canvas, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
