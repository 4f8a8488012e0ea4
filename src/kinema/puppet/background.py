"""Procedural backgrounds (outdoor, room, abstract) and the camera that pans and zooms over them."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

KINDS = ("outdoor", "room", "abstract")


@dataclass(frozen=True)
class Camera:
    """A linear camera path: ``pan`` (dx, dy) over the clip as a fraction of the frame size and
    ``zoom`` (start, end) factors. The background canvas has a margin so the view stays inside."""

    pan: tuple[float, float] = (0.0, 0.0)
    zoom: tuple[float, float] = (1.0, 1.0)

    def affines(self, size: tuple[int, int], frames: int, margin: float) -> np.ndarray:
        """(T, 2, 3) world (canvas pixel) -> image pixel affines."""
        w, h = size
        s = np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(1)
        zoom = self.zoom[0] + (self.zoom[1] - self.zoom[0]) * s
        cx = w * (0.5 + margin) + self.pan[0] * w * (s - 0.5)
        cy = h * (0.5 + margin) + self.pan[1] * h * (s - 0.5)
        out = np.zeros((frames, 2, 3))
        out[:, 0, 0] = out[:, 1, 1] = zoom
        out[:, 0, 2], out[:, 1, 2] = w / 2 - zoom * cx, h / 2 - zoom * cy
        return out


def value_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Smooth value noise in [0, 1] (H, W)."""
    grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _gradient(h: int, w: int, top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    return np.broadcast_to(top * (1 - t) + bottom * t, (h, w, 3)).copy()


def make_background(seed: int, size: tuple[int, int], margin: float = 0.25) -> tuple[np.ndarray, str, float]:
    """A background canvas (H', W', 3) uint8 with ``margin`` on every side, its kind and horizon.

    The horizon is the canvas row (fraction of the view height, from the view's top) where the floor
    starts; characters stand below it.
    """
    rng = np.random.default_rng([seed, 41])
    w, h = size
    cw, ch = int(round(w * (1 + 2 * margin))), int(round(h * (1 + 2 * margin)))
    kind = str(rng.choice(KINDS))
    horizon = rng.uniform(0.4, 0.58)
    hy = int(round((margin + horizon) * h))
    col = lambda lo, hi: rng.uniform(lo, hi, 3).astype(np.float32)  # noqa: E731
    if kind == "outdoor":
        img = np.concatenate([_gradient(hy, cw, col(60, 140) + [0, 40, 110], col(170, 230)),
                              _gradient(ch - hy, cw, col(40, 110) + [0, 50, 0], col(20, 80) + [0, 30, 0])])
    elif kind == "room":
        img = np.concatenate([_gradient(hy, cw, col(120, 220), col(100, 200)),
                              _gradient(ch - hy, cw, col(90, 170), col(50, 120))])
    else:
        img = _gradient(ch, cw, col(20, 235), col(20, 235))
    img *= (0.85 + 0.3 * value_noise(rng, ch, cw, 6))[..., None]
    img = np.clip(img, 0, 255).astype(np.uint8)
    _objects(img, rng, kind, hy, h)
    return img, kind, float(horizon)


def _objects(img: np.ndarray, rng: np.random.Generator, kind: str, hy: int, h: int) -> None:
    """Scenery drawn in place: sun, hills, trees / windows, tiles, shelves / floating shapes."""
    ch, cw = img.shape[:2]
    rnd = lambda: tuple(int(c) for c in rng.integers(20, 236, 3))  # noqa: E731
    aa = cv2.LINE_AA
    if kind == "outdoor":
        cv2.circle(img, (int(rng.uniform(0, cw)), int(rng.uniform(0.05, 0.3) * hy)), max(2, int(0.07 * h)), (250, 230, 120), -1, aa)
        for _ in range(rng.integers(1, 4)):
            x, r = rng.uniform(0, cw), rng.uniform(0.15, 0.4) * h
            cv2.ellipse(img, (int(x), hy), (int(r * 1.6), int(r * 0.6)), 0, 180, 360, (60, int(rng.integers(110, 170)), 70), -1, aa)
        for _ in range(rng.integers(1, 5)):
            x, th = int(rng.uniform(0, cw)), rng.uniform(0.15, 0.3) * h
            cv2.line(img, (x, hy), (x, int(hy - th)), (90, 60, 30), max(1, int(0.03 * h)), aa)
            cv2.circle(img, (x, int(hy - th)), max(2, int(0.09 * h)), (30, int(rng.integers(100, 160)), 40), -1, aa)
    elif kind == "room":
        step = max(4, int(rng.uniform(0.08, 0.16) * h))
        for x in range(0, cw, step):
            cv2.line(img, (x, hy), (int(cw / 2 + (x - cw / 2) * 2.2), ch), (0, 0, 0), 1, aa)
        for _ in range(rng.integers(1, 4)):
            x, y, ww, hh = rng.uniform(0, cw), rng.uniform(0.1, 0.5) * hy, rng.uniform(0.1, 0.25) * h, rng.uniform(0.1, 0.25) * h
            cv2.rectangle(img, (int(x), int(y)), (int(x + ww), int(y + hh)), rnd(), -1, aa)
            cv2.rectangle(img, (int(x), int(y)), (int(x + ww), int(y + hh)), (60, 45, 30), max(1, int(0.015 * h)), aa)
        cv2.line(img, (0, hy), (cw, hy), (70, 55, 40), max(1, int(0.02 * h)), aa)
    else:
        for _ in range(rng.integers(3, 8)):
            c, r = (int(rng.uniform(0, cw)), int(rng.uniform(0, ch))), int(rng.uniform(0.04, 0.15) * h)
            if rng.random() < 0.5:
                cv2.circle(img, c, r, rnd(), -1, aa)
            else:
                cv2.rectangle(img, (c[0] - r, c[1] - r), (c[0] + r, c[1] + r), rnd(), -1, aa)
        cv2.line(img, (0, hy), (cw, hy), rnd(), max(1, int(0.01 * h)), aa)


def view_backgrounds(canvas: np.ndarray, affines: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Background-only frames (T, H, W, 3) seen through the camera ``affines``."""
    return np.stack([cv2.warpAffine(canvas, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT) for m in affines])
