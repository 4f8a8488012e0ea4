"""Puppet-world masks: the renderer's per-actor visible masks, and the slots of a triplet."""

from __future__ import annotations

import numpy as np

from kinema.puppet import Clip, Triplet
from kinema.segment.base import check_masks
from kinema.segment.binding import SlotMasks, bind_slots


class PuppetSegmenter:
    """The visible masks of a rendered clip's actors (T, P, H, W), in actor order."""

    def __init__(self, clip: Clip) -> None:
        self.clip = clip

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        return check_masks(self.clip.masks, frames, "puppet clip masks")


def triplet_slots(triplet: Triplet, slots: int = 4) -> SlotMasks:
    """Slots of a puppet triplet from its reference and driving masks (never the target's).

    ``triplet.binding[i]`` is the reference that driving actor i maps to, so slot k binds reference
    k to the actor i with binding[i] == k; unbound actors (replace-mode bystanders) get no slot.
    """
    bind = [triplet.binding.index(k) for k in range(len(triplet.references))]
    references = [PuppetSegmenter(r)(r.frames)[0] for r in triplet.references]  # (P=1, H, W) each
    return bind_slots(references, PuppetSegmenter(triplet.driving)(triplet.driving.frames), bind, slots)
