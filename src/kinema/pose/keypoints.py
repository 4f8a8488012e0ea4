"""The keypoint container shared by the puppet world, estimators, the renderer and evaluation."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from kinema.errors import ARRAY_FILE_ERRORS, KinemaInputError, require_file
from kinema.io.atomic import atomic_path, write_json_atomic
from kinema.pose.layouts import Layout, get_layout


JSON_FORMAT = "kinema.keypoints/1"
MAX_SIDE = 16384  # pixels: FFmpeg decodes no larger frame (av_image_check_size), so no video's keypoints refer to one


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
        if len(self.size) != 2:
            raise ValueError(f"Keypoints.size must be (width, height), got {self.size}")
        self.size = (int(self.size[0]), int(self.size[1]))
        if min(self.size) < 1:
            raise ValueError(f"Keypoints.size (width, height) must be positive, got {self.size}")

    @property
    def spec(self) -> Layout:
        return get_layout(self.layout)

    @property
    def num_frames(self) -> int:
        return int(self.xy.shape[0])

    @property
    def num_people(self) -> int:
        return int(self.xy.shape[1])

    def frames(self, which: slice | list[int]) -> Keypoints:
        """The keypoints of the frames ``which`` (a slice or indices)."""
        return replace(self, xy=self.xy[which], visibility=self.visibility[which])

    @property
    def detected(self) -> np.ndarray:
        """(T,) bool: frames where at least one joint of one person is visible."""
        return (self.visibility > 0).any(axis=(1, 2))

    def check_finite(self, what: str = "keypoints") -> Keypoints:
        """Raise :class:`KinemaInputError` if any coordinate or visibility is NaN or infinite."""
        bad = ~np.isfinite(self.xy).all(axis=-1) | ~np.isfinite(self.visibility)
        if bad.any():
            t, p, j = np.argwhere(bad)[0]
            raise KinemaInputError(
                what,
                f"{int(bad.sum())} joints have NaN/inf values (first: frame {t}, person {p}, joint '{self.spec.joints[j]}')",
                "Mark missing joints with visibility 0 and finite coordinates (e.g. 0) instead of NaN.",
            )
        return self

    def save(self, path: str | os.PathLike) -> Path:
        """Write to ``.npz`` or ``.json`` (by suffix) atomically."""
        path = Path(path)
        if path.suffix == ".json":
            self.check_finite(f"keypoints for '{path}'")
            write_json_atomic(path, self.to_dict())
            return path
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, xy=self.xy, visibility=self.visibility, layout=np.str_(self.layout), size=np.asarray(self.size))
        return path

    def to_dict(self) -> dict:
        """JSON-ready dict: format tag, layout, joint names, size and nested per-frame lists."""
        return {
            "format": JSON_FORMAT,
            "layout": self.layout,
            "joints": list(self.spec.joints),
            "size": list(self.size),
            "num_frames": self.num_frames,
            "num_people": self.num_people,
            "xy": self.xy.round(3).tolist(),
            "visibility": self.visibility.round(4).tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Keypoints:
        """Inverse of :meth:`to_dict`."""
        if not isinstance(data, dict):
            raise ValueError(f"not a {JSON_FORMAT} document (a JSON {type(data).__name__}, not an object)")
        if data.get("format") != JSON_FORMAT:
            raise ValueError(f"not a {JSON_FORMAT} document (format={data.get('format')!r})")
        shape = (data["num_frames"], data["num_people"], get_layout(data["layout"]).num_joints)
        xy = np.asarray(data["xy"], dtype=np.float32).reshape(*shape, 2)
        visibility = np.asarray(data["visibility"], dtype=np.float32).reshape(shape)
        return cls(xy, visibility, data["layout"], tuple(data["size"]))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Keypoints:
        """Read a file written by :meth:`save` (no pickles).

        Raises:
            KinemaInputError: missing or unreadable file, wrong shapes, an impossible frame size, or NaN/inf values.
        """
        path = Path(path)
        what = f"keypoints '{path}'"
        require_file(path, "keypoints", "Check the path; create one with `kinema pose extract`.")
        try:
            if path.suffix == ".json":
                kp = cls.from_dict(json.loads(path.read_text()))
            else:
                with np.load(path, allow_pickle=False) as data:
                    kp = cls(data["xy"], data["visibility"], str(data["layout"]), tuple(data["size"].tolist()))
        except (*ARRAY_FILE_ERRORS, TypeError, OverflowError, RecursionError) as err:  # JSON: wrong types, 1e400, nesting
            reason = "not an .npz archive of plain arrays" if "pickle" in str(err) else str(err)  # not numpy's unpickle advice
            raise KinemaInputError(what, f"is not a keypoints file ({reason or err.__class__.__name__})",
                                   "Pass a .npz or .json written by `kinema pose extract`.") from err
        if max(kp.size) > MAX_SIDE:  # `kinema pose render` draws frames of this size
            raise KinemaInputError(what, f"claims a {kp.size[0]}x{kp.size[1]} frame, more than {MAX_SIDE} pixels a side",
                                   "Pass keypoints extracted from a video by `kinema pose extract`.")
        return kp.check_finite(what)
