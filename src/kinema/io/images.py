"""Image loading with Pillow: EXIF rotation, grayscale and alpha handled, always RGB uint8."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from kinema.errors import KinemaInputError, require_file

MIN_SIDE = 16  # pixels; smaller images carry no usable character
# What Pillow raises for a damaged file: undecodable data, truncation, bad headers, and ValueError for a
# PNG text chunk that would decompress past its limit (a text bomb).
DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError)
# Modes Pillow converts to RGB faithfully, besides the integer grayscale ("I...") scaled below. Not LAB
# (Pillow copies its channels) nor F (floats of unknown range).
RGB_MODES = ("1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "HSV")


def load_image(path: str | os.PathLike, name: str = "image", background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Load an image as RGB uint8 (H, W, 3).

    EXIF orientation is applied; grayscale (16-bit too) is replicated to 3 channels; an alpha channel
    is composited over ``background``.

    Raises:
        KinemaInputError: missing, not a regular file, undecodable, larger than Pillow's decompression-bomb
            limit (``Image.MAX_IMAGE_PIXELS``) or smaller than ``MIN_SIDE`` pixels a side.
    """
    path = Path(path)
    require_file(path, name)
    image = _decode(path, f"{name} '{path}'")
    if min(image.size) < MIN_SIDE:
        raise KinemaInputError(f"{name} '{path}'", f"is {image.size[0]}x{image.size[1]}",
                               f"Pass an image of at least {MIN_SIDE}x{MIN_SIDE} pixels.")
    if image.mode not in RGB_MODES and not image.mode.startswith("I"):
        raise KinemaInputError(f"{name} '{path}'", f"has {image.mode} pixels, which have no faithful RGB conversion",
                               "Save it as 8-bit RGB, RGBA or grayscale (PNG or JPEG).")
    if image.mode.startswith("I"):  # 16-bit grayscale: Pillow's convert would clip it to white
        image = Image.fromarray((np.asarray(image, dtype=np.float64) * (255 / 65535)).round().clip(0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        image = Image.alpha_composite(canvas, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def _decode(path: Path, what: str) -> Image.Image:
    """The decoded image, EXIF orientation applied; KinemaInputError naming ``what`` if it cannot be.

    Pillow only warns between one and two times ``Image.MAX_IMAGE_PIXELS`` (89 megapixels, ten 4K frames)
    and raises above; both are refused here, before the pixels are decoded, since a reference is scaled
    to the model's few hundred pixels anyway and a small file claiming more is a bomb.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image = ImageOps.exif_transpose(image)
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise KinemaInputError(what, f"has more than {Image.MAX_IMAGE_PIXELS} pixels (Pillow's decompression-bomb limit)",
                               "Scale it down, e.g. to at most 4096x4096 pixels.") from err
    except DECODE_ERRORS as err:
        raise KinemaInputError(what, "is not a readable image", "Pass a PNG, JPEG or WebP file.") from err
    return image
