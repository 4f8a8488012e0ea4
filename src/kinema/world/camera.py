"""A pinhole camera: intrinsics and a world-to-camera pose (OpenCV axes: x right, y down, z forward)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

WORLD_UP = np.array([0.0, 0.0, 1.0])  # kinema.world's convention: +z up, the ground is z = 0


@dataclass(frozen=True)
class Camera:
    """``width`` × ``height`` pixels, focal lengths and principal point in pixels, and the pose that maps a
    world point p to camera coordinates ``rotation @ p + translation``. Points nearer than ``near`` are not seen."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))  # (3, 3) world -> camera
    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))  # (3,)
    near: float = 0.01

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError(f"camera size must be positive, got {self.width}x{self.height}")
        if not (self.fx > 0 and self.fy > 0 and self.near > 0):
            raise ValueError(f"focal lengths and near must be positive, got fx {self.fx}, fy {self.fy}, near {self.near}")
        rotation = np.asarray(self.rotation, dtype=np.float64)
        if rotation.shape != (3, 3) or not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-6):
            raise ValueError("camera rotation must be a 3x3 orthonormal matrix")
        object.__setattr__(self, "rotation", rotation)
        object.__setattr__(self, "translation", np.asarray(self.translation, dtype=np.float64).reshape(3))

    @classmethod
    def looking_at(cls, eye: np.ndarray, target: np.ndarray, width: int, height: int, fov_y: float = 60.0,
                   up: np.ndarray = WORLD_UP) -> Camera:
        """A camera at ``eye`` looking at ``target``, ``up`` pointing up in the image; ``fov_y`` in degrees."""
        eye, target = np.asarray(eye, dtype=np.float64), np.asarray(target, dtype=np.float64)
        forward = target - eye
        if np.linalg.norm(forward) < 1e-9:
            raise ValueError("camera eye and target coincide")
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, up)
        if np.linalg.norm(right) < 1e-9:
            raise ValueError("camera looks straight along the up direction; tilt it or give another up")
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        rotation = np.stack([right, down, forward])  # rows: the camera axes in world coordinates
        focal = 0.5 * height / np.tan(np.radians(fov_y) / 2)
        return cls(width, height, focal, focal, width / 2, height / 2, rotation, -rotation @ eye)

    @property
    def position(self) -> np.ndarray:
        """(3,) the camera centre in world coordinates."""
        return -self.rotation.T @ self.translation

    @property
    def forward(self) -> np.ndarray:
        """(3,) the viewing direction in world coordinates."""
        return self.rotation[2]

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 3) camera coordinates."""
        return points @ self.rotation.T + self.translation

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) world points -> (N, 2) pixel coordinates (x, y; pixel centres at +0.5) and (N,) depths."""
        cam = self.to_camera(np.asarray(points, dtype=np.float64))
        z = cam[:, 2]
        safe = np.where(np.abs(z) < 1e-12, 1e-12, z)
        uv = np.stack([self.fx * cam[:, 0] / safe + self.cx, self.fy * cam[:, 1] / safe + self.cy], axis=1)
        return uv, z
