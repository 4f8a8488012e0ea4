"""Image loading with Pillow: EXIF rotation, grayscale and alpha handled, always RGB uint8."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from kinema.errors import KinemaInputError


def load_image(path: str | os.PathLike, name: str = "image", background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Load an image as RGB uint8 (H, W, 3).

    EXIF orientation is applied; grayscale is replicated to 3 channels; an alpha channel is
    composited over ``background``.

    Raises:
        KinemaInputError: missing or undecodable file.
    """
    path = Path(path)
    if not path.is_file():
        raise KinemaInputError(f"{name} '{path}'", "file not found", "Check the path.")
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise KinemaInputError(f"{name} '{path}'", "is not a readable image", "Pass a PNG, JPEG or WebP file.") from err
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        image = Image.alpha_composite(canvas, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
