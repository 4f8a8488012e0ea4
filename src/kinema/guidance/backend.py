"""The one interface every caption backend implements, and the registry of backends.

A backend writes the motion caption T_m of a driving video (appearance-agnostic), the appearance
caption T_a of a reference (pose-agnostic) and fuses them into the target-oriented T_fusion
(DreamActor-M2 §3.3).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from kinema.errors import KinemaInputError


@dataclass(frozen=True)
class Reference:
    """A reference character: the ``image`` (H, W, 3) uint8 and/or puppet clip ``labels``."""

    image: np.ndarray | None = None
    labels: dict[str, Any] | None = None


@dataclass(frozen=True)
class Driving:
    """A driving video: ``frames`` (T, H, W, 3) uint8 at ``fps`` and/or puppet clip ``labels``;
    ``subject`` picks the driving actor whose motion is described (puppet labels)."""

    frames: np.ndarray | None = None
    fps: float = 16.0
    labels: dict[str, Any] | None = None
    subject: int = 0


@dataclass(frozen=True)
class Captions:
    """T_m, T_a and T_fusion of one (reference, driving) pair."""

    motion: str
    appearance: str
    fused: str


class CaptionBackend(ABC):
    """Writes the three texts; ``fuse`` may use the families (humanoid, bird, quadruped) when known."""

    name: str

    @abstractmethod
    def motion(self, driving: Driving) -> str:
        """T_m: what the driving subject does, nothing about how it looks."""

    @abstractmethod
    def appearance(self, reference: Reference) -> str:
        """T_a: how the reference character looks, nothing about its pose."""

    @abstractmethod
    def fuse(self, appearance: str, motion: str, target: str | None = None, source: str | None = None) -> str:
        """T_fusion: the reference character performing the motion, body parts mapped onto its body."""

    def captions(self, reference: Reference, driving: Driving) -> Captions:
        motion, appearance = self.motion(driving), self.appearance(reference)
        return Captions(motion, appearance, self.fuse(appearance, motion))


BACKENDS = {"openai": "kinema.guidance.openai_compat:OpenAIBackend", "puppet": "kinema.guidance.puppet:PuppetBackend"}


def get_backend(name: str, **kwargs: Any) -> CaptionBackend:
    """Instantiate backend ``name`` (see :data:`BACKENDS`) with ``kwargs``."""
    if name not in BACKENDS:
        raise KinemaInputError(f"guidance backend '{name}'", "is unknown", f"Use one of: {', '.join(BACKENDS)}.")
    module, attr = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), attr)(**kwargs)
