"""Typed configuration of the puppet world, with named presets (``tiny`` for tests)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from kinema.errors import KinemaInputError
from kinema.puppet.skeletons import FAMILIES

MODES = ("animate", "replace", "multi")


@dataclass(frozen=True)
class SynthConfig:
    """What to render: frame ``size`` (W, H), clip length, families, actors per scene (min, max),
    chance of a moving camera, body height as a view fraction and the triplet modes to emit."""

    size: tuple[int, int] = (64, 64)
    frames: int = 17
    fps: float = 16.0
    families: tuple[str, ...] = ("humanoid",)
    characters: tuple[int, int] = (1, 2)
    camera_prob: float = 0.3
    char_size: float = 0.6
    modes: tuple[str, ...] = MODES

    def __post_init__(self) -> None:
        w, h = self.size
        if not (16 <= w <= 2048 and 16 <= h <= 2048):
            raise KinemaInputError("size", f"{w}x{h} is outside 16..2048 pixels per side", "Use e.g. --size 64x64.")
        if not 1 <= self.frames <= 1024:
            raise KinemaInputError("frames", f"{self.frames} is outside 1..1024", "Use e.g. --frames 17.")
        unknown = [f for f in self.families if f not in FAMILIES]
        if unknown or not self.families:
            raise KinemaInputError("families", f"unknown or empty: {unknown or '[]'}", f"Choose from: {', '.join(FAMILIES)}.")
        lo, hi = self.characters
        if not 1 <= lo <= hi <= 4:
            raise KinemaInputError("characters per scene", f"range {lo}..{hi} is not within 1..4", "Use e.g. --characters-per-scene 1-2.")
        bad = [m for m in self.modes if m not in MODES]
        if bad or not self.modes:
            raise KinemaInputError("modes", f"unknown or empty: {bad or '[]'}", f"Choose from: {', '.join(MODES)}.")
        if not 0.0 <= self.camera_prob <= 1.0 or not 0.05 <= self.char_size <= 1.0:
            raise KinemaInputError("camera_prob/char_size", "out of range", "camera_prob in [0, 1], char_size in [0.05, 1].")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, SynthConfig] = {
    "tiny": SynthConfig(size=(32, 32), frames=9, camera_prob=0.0),
    "demo": SynthConfig(size=(64, 64), frames=17, families=("humanoid", "quadruped", "bird"), characters=(1, 2)),
    "bench": SynthConfig(size=(256, 256), frames=33, families=("humanoid", "quadruped", "bird"), characters=(1, 4)),
}


def get_preset(name: str, **overrides: Any) -> SynthConfig:
    """A preset by name, with fields replaced by ``overrides``."""
    if name not in PRESETS:
        raise KinemaInputError(f"preset '{name}'", "is not a puppet preset", f"Use one of: {', '.join(PRESETS)}.")
    return replace(PRESETS[name], **overrides)
