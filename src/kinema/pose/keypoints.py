"""The keypoint container shared by the puppet world, estimators, the renderer and evaluation."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kinema.io.atomic import atomic_path
from kinema.pose.layouts import Layout, get_layout


@dataclass
class Keypoints:
    """Per-frame, per-person 2D keypoints in pixels.

    Attributes:
        xy: (T, P, J, 2) float32 pixel coordinates (x right, y down).
        visibility: (T, P, J) float32 in [0, 1]: 1 visible, 0 absent/occluded (or a confidence).
        layout: name of the :class:`~kinema.pose.layouts.Layout` (J joints).
        size: (width, height) of the image the coordinates refer to.
    """

    xy: np.ndarray
    visibility: np.ndarray
    layout: str
    size: tuple[int, int]

    def __post_init__(self) -> None:
        self.xy = np.asarray(self.xy, dtype=np.float32)
        self.visibility = np.asarray(self.visibility, dtype=np.float32)
        if self.xy.ndim != 4 or self.xy.shape[-1] != 2:
            raise ValueError(f"Keypoints.xy must be (T, P, J, 2), got {self.xy.shape}")
        if self.visibility.shape != self.xy.shape[:3]:
            raise ValueError(f"Keypoints.visibility must be {self.xy.shape[:3]}, got {self.visibility.shape}")
        if self.xy.shape[2] != self.spec.num_joints:
            raise ValueError(f"layout '{self.layout}' has {self.spec.num_joints} joints, xy has {self.xy.shape[2]}")
        self.size = (int(self.size[0]), int(self.size[1]))

    @property
    def spec(self) -> Layout:
        return get_layout(self.layout)

    @property
    def num_frames(self) -> int:
        return int(self.xy.shape[0])

    @property
    def num_people(self) -> int:
        return int(self.xy.shape[1])

    def save(self, path: str | os.PathLike) -> Path:
        """Write to ``.npz`` atomically."""
        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, xy=self.xy, visibility=self.visibility, layout=np.str_(self.layout), size=np.asarray(self.size))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Keypoints:
        """Read a file written by :meth:`save` (no pickles)."""
        with np.load(path, allow_pickle=False) as data:
            return cls(data["xy"], data["visibility"], str(data["layout"]), tuple(data["size"].tolist()))
