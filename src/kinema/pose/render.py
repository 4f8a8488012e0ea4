"""Skeleton rendering: OpenPose-style colour-coded body, hands and face, plus a generic renderer.

Follows OpenPose's ``draw_bodypose`` as used by ControlNet/DWPose: each limb is a filled ellipse in
its colour dimmed to 60 %, each joint a filled circle in its colour; hand bones are lines coloured
around the HSV hue circle with blue joints; face points are white dots. Everything is anti-aliased
(``cv2.LINE_AA``) and drawn with 4 fractional bits, so sub-pixel positions are kept. Sizes are given
for a 512-pixel canvas and scale with the shorter side. Joints below ``min_visibility`` (and limbs
touching one) are not drawn.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import cv2
import numpy as np

from kinema.errors import KinemaInputError
from kinema.pose.keypoints import Keypoints
from kinema.pose.layouts import HAND21_LIMBS, OPENPOSE18_LIMBS, Layout

# OpenPose's colour table (RGB): joint i and limb i of the 18-point body use colour i.
OPENPOSE_COLORS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)
LIMB_DIM = 0.6  # limbs are drawn at 60 % of their colour, joints at full colour
HAND_LIMB_COLORS = tuple(
    tuple(int(round(c * 255)) for c in colorsys.hsv_to_rgb(i / len(HAND21_LIMBS), 1.0, 1.0))
    for i in range(len(HAND21_LIMBS))
)
HAND_JOINT_COLOR = (0, 0, 255)
FACE_COLOR = (255, 255, 255)
_SHIFT = 4  # fractional bits for cv2 drawing
_ONE = 1 << _SHIFT
_LIMIT = 1e6  # coordinates are clipped to +-this so fixed-point values stay in int32


@dataclass(frozen=True)
class RenderConfig:
    """Stroke sizes in pixels on a ``reference_side`` canvas (scaled with the shorter side)."""

    limb_width: float = 4.0  # OpenPose stickwidth: half-width of the limb ellipse
    joint_radius: float = 4.0
    hand_width: float = 2.0
    hand_joint_radius: float = 4.0
    face_radius: float = 3.0
    draw_hands: bool = True
    draw_face: bool = True
    min_visibility: float = 0.3
    reference_side: int = 512

    def __post_init__(self) -> None:
        sizes = (self.limb_width, self.joint_radius, self.hand_width, self.hand_joint_radius, self.face_radius)
        if min(sizes) <= 0 or self.reference_side <= 0:
            raise ValueError(f"RenderConfig sizes must be positive, got {self}")


@dataclass(frozen=True)
class OpenPoseParts:
    """Where the OpenPose parts sit in a layout: 18 body joints at ``body``, 21-point hands, 68-point face."""

    body: int = 0
    hands: tuple[int, ...] = ()
    face: int | None = None


# Layouts drawn in OpenPose style; any other layout uses the generic renderer.
OPENPOSE_STYLES: dict[str, OpenPoseParts] = {
    "body18": OpenPoseParts(),
    "humanoid": OpenPoseParts(hands=(18, 39)),
    "wholebody": OpenPoseParts(hands=(18, 39), face=60),
}


def render_pose(kp: Keypoints, size: tuple[int, int] | None = None, config: RenderConfig | None = None) -> np.ndarray:
    """Draw every frame of ``kp`` on a black canvas.

    Args:
        kp: keypoints in pixels of ``kp.size``.
        size: output (width, height); coordinates are rescaled from ``kp.size``. Default ``kp.size``.
        config: stroke sizes and visibility threshold.

    Returns:
        (T, H, W, 3) uint8 RGB frames.
    """
    config = config or RenderConfig()
    kp.check_finite("keypoints")
    width, height = size or kp.size
    if width <= 0 or height <= 0:
        raise KinemaInputError(f"render size {width}x{height}", "must be positive", "Pass e.g. size=(512, 512).")
    scale = np.array([width / kp.size[0], height / kp.size[1]], dtype=np.float32)
    xy = kp.xy * scale  # (T, P, J, 2) in output pixels
    frames = np.zeros((kp.num_frames, height, width, 3), dtype=np.uint8)
    for t in range(kp.num_frames):
        draw_frame(frames[t], xy[t], kp.visibility[t], kp.spec, config)
    return frames


def draw_frame(canvas: np.ndarray, xy: np.ndarray, visibility: np.ndarray, layout: Layout, config: RenderConfig) -> np.ndarray:
    """Draw the people of one frame, ``xy`` (P, J, 2) and ``visibility`` (P, J), onto ``canvas`` (H, W, 3) in place."""
    scale = min(canvas.shape[:2]) / config.reference_side
    fixed = np.round(np.clip(xy, -_LIMIT, _LIMIT) * _ONE).astype(np.int64)  # (P, J, 2) fixed point
    visible = visibility >= config.min_visibility
    parts = OPENPOSE_STYLES.get(layout.name)
    for person in range(xy.shape[0]):
        if parts is None:
            _draw_generic(canvas, xy[person], fixed[person], visible[person], layout, config, scale)
        else:
            _draw_openpose(canvas, xy[person], fixed[person], visible[person], parts, config, scale)
    return canvas


def _draw_openpose(canvas, xy, fixed, visible, parts: OpenPoseParts, config: RenderConfig, scale: float) -> None:
    b = parts.body
    body_limbs = tuple((b + i, b + j) for i, j in OPENPOSE18_LIMBS)
    _draw_limbs(canvas, xy, visible, body_limbs, OPENPOSE_COLORS, _size(config.limb_width, scale))
    _draw_joints(canvas, fixed, visible, range(b, b + 18), OPENPOSE_COLORS, _size(config.joint_radius, scale))
    if config.draw_hands:
        for h in parts.hands:
            for (i, j), color in zip(HAND21_LIMBS, HAND_LIMB_COLORS):
                if visible[h + i] and visible[h + j]:
                    thickness = max(1, round(config.hand_width * scale))
                    cv2.line(canvas, _pt(fixed[h + i]), _pt(fixed[h + j]), color, thickness, cv2.LINE_AA, _SHIFT)
            _draw_joints(canvas, fixed, visible, range(h, h + 21), (HAND_JOINT_COLOR,), _size(config.hand_joint_radius, scale))
    if config.draw_face and parts.face is not None:
        _draw_joints(canvas, fixed, visible, range(parts.face, parts.face + 68), (FACE_COLOR,), _size(config.face_radius, scale))


def _draw_generic(canvas, xy, fixed, visible, layout: Layout, config: RenderConfig, scale: float) -> None:
    """Any layout: limb i in palette colour i, joint j in palette colour j (OpenPose colours, cycled)."""
    _draw_limbs(canvas, xy, visible, layout.limbs, OPENPOSE_COLORS, _size(config.limb_width, scale))
    _draw_joints(canvas, fixed, visible, range(layout.num_joints), OPENPOSE_COLORS, _size(config.joint_radius, scale))


def _draw_limbs(canvas, xy, visible, limbs, palette, half_width: float) -> None:
    for k, (i, j) in enumerate(limbs):
        if not (visible[i] and visible[j]):
            continue
        (x0, y0), (x1, y1) = xy[i], xy[j]
        length = math.hypot(x1 - x0, y1 - y0)
        angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
        center = (int(round((x0 + x1) / 2 * _ONE)), int(round((y0 + y1) / 2 * _ONE)))
        axes = (int(round(length / 2 * _ONE)), int(round(half_width * _ONE)))
        polygon = cv2.ellipse2Poly(center, axes, int(round(angle)), 0, 360, 5)
        color = tuple(int(c * LIMB_DIM) for c in palette[k % len(palette)])
        cv2.fillConvexPoly(canvas, polygon, color, cv2.LINE_AA, _SHIFT)


def _draw_joints(canvas, fixed, visible, joints, palette, radius: float) -> None:
    r = int(round(radius * _ONE))
    for k, j in enumerate(joints):
        if visible[j]:
            cv2.circle(canvas, _pt(fixed[j]), r, palette[k % len(palette)], -1, cv2.LINE_AA, _SHIFT)


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(p[0]), int(p[1])


def _size(base: float, scale: float) -> float:
    """A stroke size scaled to the canvas, never below one pixel."""
    return max(1.0, base * scale)
