"""Camera paths per AniX's instruction categories (§3.2, Figure 4), and the user's character anchor.

The user places an initial camera and draws a character anchor: a box in the image where the character
appears, shared by every frame (AniX §3.2 step 1). :func:`place_character` puts the character's root on the
ground under the box; :func:`camera_path` then turns the character's root trajectory into one camera per
frame. *Follow* (locomotion) translates the camera with the root, *orbit* (camera behaviour) also turns it
about the vertical axis through the root, *static* (gestures, object actions) keeps it still. Follow and
orbit are rigid motions that fix the root in camera coordinates, so the root stays on the anchor's pixel.

The root is the character's ground point (between the feet, z = 0 while it stands on the ground); lengths
are world units, angles degrees, times seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar, Literal

import numpy as np

from kinema.errors import KinemaInputError
from kinema.world.camera import Camera

MIN_RADIUS, MAX_RADIUS = 0.1, 100.0  # camera-to-character distances: nearer is inside the body, farther a speck
MAX_DURATION_S, MAX_FPS = 600.0, 240.0
MAX_ORBIT_SPEED = 360.0  # degrees per second: a full turn each second already smears every frame
ORBIT_DIRECTIONS = ("counterclockwise", "clockwise")  # seen from above (+z)


def _check_range(what: str, value: float, low: float, high: float, fix: str) -> None:
    """KinemaInputError unless ``low < value <= high`` (NaN and infinities fail)."""
    if not (math.isfinite(value) and low < value <= high):
        raise KinemaInputError(f"{what} {value}", f"must be a number in ({low:g}, {high:g}]", fix)


def _check_look_at(what: str, value: float) -> None:
    """KinemaInputError unless the look-at height (above the root) is finite and within ±MAX_RADIUS."""
    if not (math.isfinite(value) and abs(value) <= MAX_RADIUS):
        raise KinemaInputError(f"{what} {value}", f"must be a number in [-{MAX_RADIUS:g}, {MAX_RADIUS:g}]",
                               "Use e.g. look_at_height=1 (the character's chest).")


@dataclass(frozen=True)
class PathConfig:
    """What every path has: the clip it covers, ``duration_s`` seconds at ``fps`` frames per second.

    A path is the rigid motion of the frame-0 camera (:meth:`first_camera`) that turns it by
    :meth:`yaw_deg` about the vertical through the root's first position and, when ``follows_root``,
    carries it along the root's displacement. The base moves nothing.
    """

    follows_root: ClassVar[bool] = False
    duration_s: float = 4.0
    fps: float = 16.0

    def __post_init__(self) -> None:
        _check_range("path duration_s", self.duration_s, 0.0, MAX_DURATION_S, "Use e.g. duration_s=4.")
        _check_range("path fps", self.fps, 0.0, MAX_FPS, "Use e.g. fps=16.")
        if self.num_frames < 1:
            raise KinemaInputError(f"path of {self.duration_s} s at {self.fps} fps", "has no frame",
                                   "Lengthen the duration or raise the fps.")

    @property
    def num_frames(self) -> int:
        return round(self.duration_s * self.fps)

    @property
    def times_s(self) -> np.ndarray:
        """(T,) the time of each frame."""
        return np.arange(self.num_frames) / self.fps

    def first_camera(self, start: Camera, root: np.ndarray) -> Camera:
        """The frame-0 camera from the user's ``start`` camera and the root's (3,) first position."""
        return start

    def yaw_deg(self) -> np.ndarray:
        """(T,) the camera's turn about the root's vertical at each frame, counterclockwise seen from above."""
        return np.zeros(self.num_frames)


@dataclass(frozen=True)
class StaticPath(PathConfig):
    """Gestures and object actions: the camera stays where the user placed it."""

    name: ClassVar[str] = "static"


@dataclass(frozen=True)
class FollowPath(PathConfig):
    """Locomotion: the camera moves with the character's root, keeping it at the same image position.

    ``offset`` None keeps the user's camera (its pose relative to the root at frame 0); a vector places the
    camera at root + ``offset`` (its z is the height above the root) looking at the root raised by
    ``look_at_height``.
    """

    name: ClassVar[str] = "follow"
    follows_root: ClassVar[bool] = True
    offset: tuple[float, float, float] | None = None
    look_at_height: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_look_at("follow look_at_height", self.look_at_height)
        if self.offset is not None:
            x, y, z = (float(v) for v in self.offset)
            fix = "Give the camera's offset from the character, e.g. offset=(-3, 0, 1.5)."
            _check_range("follow offset's horizontal distance", math.hypot(x, y), MIN_RADIUS, MAX_RADIUS, fix)
            _check_range("follow offset's height", z, 0.0, MAX_RADIUS, fix)

    def first_camera(self, start: Camera, root: np.ndarray) -> Camera:
        if self.offset is None:
            return start
        return _aimed(start, root + np.asarray(self.offset, float), root + [0.0, 0.0, self.look_at_height])


@dataclass(frozen=True)
class OrbitPath(PathConfig):
    """Camera behaviour: the camera circles the character at ``speed_deg_s`` in ``direction`` (seen from above).

    ``radius`` (horizontal distance to the root) and ``height`` (above the root) None keep the user's camera;
    either given re-aims it at the root raised by ``look_at_height``. The circle's centre moves with the root.
    """

    name: ClassVar[str] = "orbit"
    follows_root: ClassVar[bool] = True
    speed_deg_s: float = 45.0
    direction: Literal["counterclockwise", "clockwise"] = "counterclockwise"
    radius: float | None = None
    height: float | None = None
    look_at_height: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_range("orbit speed_deg_s", self.speed_deg_s, 0.0, MAX_ORBIT_SPEED, "Use e.g. speed_deg_s=45.")
        if self.direction not in ORBIT_DIRECTIONS:
            raise KinemaInputError(f"orbit direction '{self.direction}'", "is unknown", f"Use one of: {', '.join(ORBIT_DIRECTIONS)}.")
        if self.radius is not None:
            _check_range("orbit radius", self.radius, MIN_RADIUS, MAX_RADIUS, "Use e.g. radius=3.")
        if self.height is not None:
            _check_range("orbit height", self.height, 0.0, MAX_RADIUS, "Use e.g. height=1.5.")
        _check_look_at("orbit look_at_height", self.look_at_height)

    def first_camera(self, start: Camera, root: np.ndarray) -> Camera:
        if self.radius is None and self.height is None:
            return start
        away = start.position[:2] - root[:2]  # (2,) from the character towards the user's camera
        if np.linalg.norm(away) < 1e-9:
            raise KinemaInputError("orbit start camera", "is straight above the character, so no circle starts from it",
                                   "Place the camera to one side of the character.")
        radius = self.radius if self.radius is not None else float(np.linalg.norm(away))
        height = self.height if self.height is not None else float(start.position[2] - root[2])
        eye = root + np.append(radius * away / np.linalg.norm(away), height)
        return _aimed(start, eye, root + [0.0, 0.0, self.look_at_height])

    def yaw_deg(self) -> np.ndarray:
        sign = 1.0 if self.direction == "counterclockwise" else -1.0
        return sign * self.speed_deg_s * self.times_s


CameraPath = StaticPath | FollowPath | OrbitPath
PATHS: dict[str, type[StaticPath] | type[FollowPath] | type[OrbitPath]] = {
    cls.name: cls for cls in (FollowPath, StaticPath, OrbitPath)}


def _aimed(start: Camera, eye: np.ndarray, target: np.ndarray) -> Camera:
    """``start``'s intrinsics at ``eye``, looking at ``target`` with the world's up pointing up in the image."""
    pose = Camera.looking_at(eye, target, start.width, start.height)
    return replace(start, rotation=pose.rotation, translation=pose.translation)


def _yaw_matrix(yaw: float) -> np.ndarray:
    """(3, 3) rotation by ``yaw`` radians about +z (counterclockwise seen from above)."""
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _moved(camera: Camera, centre: np.ndarray, yaw: float, shift: np.ndarray) -> Camera:
    """``camera`` carried by the rigid motion p -> Q (p - centre) + centre + shift, Q the yaw about +z.

    The camera sees a point carried the same way exactly as it saw the point before: R' = R Qᵀ and
    t' = t + R (centre - Qᵀ (centre + shift)), which leaves an unmoved camera bit-identical.
    """
    q = _yaw_matrix(yaw)
    translation = camera.translation + camera.rotation @ (centre - q.T @ (centre + shift))
    return replace(camera, rotation=camera.rotation @ q.T, translation=translation)


def turned(camera: Camera, centre: np.ndarray, yaw_deg: float) -> Camera:
    """``camera`` turned by ``yaw_deg`` (counterclockwise seen from above) about the vertical through ``centre``."""
    return _moved(camera, np.asarray(centre, dtype=np.float64), math.radians(yaw_deg), np.zeros(3))


def camera_path(config: CameraPath, start: Camera, root_trajectory: np.ndarray) -> list[Camera]:
    """One camera per frame of ``config`` from the user's ``start`` camera and the character's root.

    ``root_trajectory`` (T, 3) is the root's world position at each of the ``config.num_frames`` frames.
    """
    root = np.asarray(root_trajectory, dtype=np.float64)
    if root.shape != (config.num_frames, 3) or not np.isfinite(root).all():
        raise ValueError(f"root trajectory must be finite ({config.num_frames}, 3) for this path, got {root.shape}")
    first = config.first_camera(start, root[0])
    shifts = root - root[0] if config.follows_root else np.zeros_like(root)  # (T, 3)
    return [_moved(first, root[0], math.radians(yaw), shift) for yaw, shift in zip(config.yaw_deg(), shifts)]


@dataclass(frozen=True)
class AnchorBox:
    """AniX's character anchor: the box, in pixels, where the character appears in every frame.

    (x0, y0) is the top-left corner and (x1, y1) the bottom-right; pixel (row i, column j) spans
    [j, j + 1) × [i, i + 1), so its centre is at (j + 0.5, i + 0.5) as in :meth:`Camera.project`.
    """

    x0: float
    y0: float
    x1: float
    y1: float

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in self.corners) or self.x0 >= self.x1 or self.y0 >= self.y1:
            raise KinemaInputError(f"character anchor box {self.corners}", "must be finite with x0 < x1 and y0 < y1",
                                   "Give the box as x0, y0, x1, y1 in pixels, top-left then bottom-right.")

    @property
    def corners(self) -> tuple[float, float, float, float]:
        return self.x0, self.y0, self.x1, self.y1

    @property
    def bottom_centre(self) -> np.ndarray:
        """(2,) pixel coordinates (x, y) of the middle of the bottom edge: where the character's feet are."""
        return np.array([(self.x0 + self.x1) / 2, self.y1])

    def check_inside(self, width: int, height: int) -> None:
        """KinemaInputError unless the box lies within a ``width`` × ``height`` image."""
        if self.x0 < 0 or self.y0 < 0 or self.x1 > width or self.y1 > height:
            raise KinemaInputError(f"character anchor box {self.corners}", f"leaves the {width}x{height} image",
                                   "Draw the box inside the image.")


def anchor_mask(box: AnchorBox, width: int, height: int) -> np.ndarray:
    """(H, W) bool: the pixels whose centres lie in ``box`` (AniX's bounding-box mask, the same every frame)."""
    box.check_inside(width, height)
    xs, ys = np.arange(width) + 0.5, np.arange(height) + 0.5
    mask = ((ys >= box.y0) & (ys < box.y1))[:, None] & ((xs >= box.x0) & (xs < box.x1))[None, :]  # (H, W)
    if not mask.any():
        raise KinemaInputError(f"character anchor box {box.corners}", "covers no pixel centre",
                               "Draw a box at least one pixel wide and high.")
    return mask


def place_character(camera: Camera, box: AnchorBox) -> np.ndarray:
    """(3,) the root's world position: where the ray through the box's bottom centre meets the ground z = 0."""
    box.check_inside(camera.width, camera.height)
    u, v = box.bottom_centre
    ray = camera.rotation.T @ np.array([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, 1.0])  # (3,) depth 1
    origin = camera.position
    depth = -origin[2] / ray[2] if ray[2] < 0 else -1.0  # camera depth of the ground point
    if origin[2] <= 0 or depth <= camera.near:
        raise KinemaInputError(f"character anchor box {box.corners}",
                               "its bottom centre's ray does not reach the ground in front of the camera",
                               "Draw the box lower in the image (below the horizon), or raise or tilt the camera down.")
    return origin + depth * ray
