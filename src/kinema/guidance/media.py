"""Frames for a multimodal model: uniform samples of the first seconds, as base64 JPEG data URLs."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image


def sample_indices(num_frames: int, fps: float, count: int, seconds: float) -> list[int]:
    """``count`` evenly spaced frame indices within the first ``seconds`` (fewer if the clip is short)."""
    last = min(num_frames, max(1, int(round(seconds * fps)))) - 1
    return sorted({int(round(i)) for i in np.linspace(0, last, min(count, last + 1))})


def image_data_url(frame: np.ndarray, max_side: int) -> str:
    """RGB uint8 (H, W, 3) -> ``data:image/jpeg;base64,…``, downscaled so the longer side is ≤ ``max_side``."""
    image = Image.fromarray(np.ascontiguousarray(frame))
    scale = max_side / max(image.size)
    if scale < 1:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_parts(frames: np.ndarray, fps: float, count: int, seconds: float, max_side: int, name: str) -> list[dict]:
    """Chat content parts: a label per sampled frame (its time) followed by the frame as an image."""
    parts: list[dict] = []
    for i in sample_indices(len(frames), fps, count, seconds):
        parts.append({"type": "text", "text": f"{name}, frame at {i / fps:.2f} s:"})
        parts.append({"type": "image_url", "image_url": {"url": image_data_url(frames[i], max_side)}})
    return parts
