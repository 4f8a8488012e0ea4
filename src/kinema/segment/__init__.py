"""Per-character masks for the reference images and the driving video, and the binding between them.

A segmenter maps frames (T, H, W, 3) uint8 to subject masks (T, P, H, W) bool; backends are looked up
by name (:func:`get_segmenter`). :func:`bind_slots` turns the masks into SCAIL-2's binding slots:
driving subject ``bind[k]`` <-> reference character k.
"""

from kinema.segment.base import SEGMENTERS, Segmenter, check_masks, get_segmenter
from kinema.segment.binding import SlotMasks, bind_slots, left_to_right
from kinema.segment.files import MaskFileSegmenter, read_mask_file
from kinema.segment.puppet import PuppetSegmenter, triplet_slots

__all__ = [
    "SEGMENTERS", "MaskFileSegmenter", "PuppetSegmenter", "Segmenter", "SlotMasks", "bind_slots", "check_masks",
    "get_segmenter", "left_to_right", "read_mask_file", "triplet_slots",
]
