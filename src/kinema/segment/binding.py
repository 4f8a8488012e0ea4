"""SCAIL-2's binding slots: driving subject ``bind[k]`` <-> reference character k (slot k).

Reference characters are numbered across the reference images in order, and within an image as
the segmenter lists them (the CLI sorts them left to right). Without an explicit ``bind``,
character k takes the k-th driving subject.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from kinema.errors import KinemaInputError


@dataclass
class SlotMasks:
    """Masks in slot order, float32 in [0, 1].

    Attributes:
        reference: (K, S, H, W): slot s's character on reference image k, zero on the other images.
        driving: (T, S, H, W): the driving subject bound to slot s.
        bind: driving subject index of each slot.
        characters: (reference image, subject) of each slot.
    """

    reference: np.ndarray
    driving: np.ndarray
    bind: tuple[int, ...]
    characters: tuple[tuple[int, int], ...]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Batched tensors for ``scail2.build_inputs``: reference (1, K, S, H, W), driving (1, S, T, H, W)."""
        return torch.from_numpy(self.reference)[None], torch.from_numpy(self.driving).transpose(0, 1)[None]


def left_to_right(masks: np.ndarray) -> np.ndarray:
    """Subjects of masks (T, P, H, W) sorted by centroid x in the first frame each appears in; empty ones last."""
    def key(p: int) -> tuple[bool, float]:
        visible = np.flatnonzero(masks[:, p].reshape(len(masks), -1).any(1))
        if len(visible) == 0:
            return True, 0.0
        return False, float(np.nonzero(masks[visible[0], p])[1].mean())
    return masks[:, sorted(range(masks.shape[1]), key=key)]


def _check_bind(bind: Sequence[int], characters: int, subjects: int) -> tuple[int, ...]:
    if len(bind) != characters or len(set(bind)) != len(bind) or not all(0 <= j < subjects for j in bind):
        raise KinemaInputError(f"binding {list(bind)}", f"needs {characters} distinct driving subject indices in "
                               f"[0, {subjects - 1}], one per reference character",
                               "Pass e.g. --bind 1,0 (subjects counted from the left, starting at 0).")
    return tuple(int(j) for j in bind)


def bind_slots(reference_masks: Sequence[np.ndarray], driving_masks: np.ndarray, bind: Sequence[int] | None = None,
               slots: int = 4, require_visible: bool = True) -> SlotMasks:
    """Bind reference characters to driving subjects.

    Args:
        reference_masks: per reference image, (P_k, H, W) masks of its characters (same H, W for all).
        driving_masks: (T, P, H, W) masks of the driving subjects.
        bind: bind[k] = driving subject of character k; default 0, 1, 2, ...
        slots: the model's binding slots N.
        require_visible: refuse a bound subject absent from every frame (off for a long video's later windows,
            which a subject may leave).

    Raises:
        KinemaInputError: more characters than slots or than driving subjects, a bad ``bind``, or an
            empty mask (a character or bound subject with no pixels).
    """
    characters = tuple((k, p) for k, m in enumerate(reference_masks) for p in range(len(m)))
    count, subjects = len(characters), driving_masks.shape[1]
    if count > slots:
        raise KinemaInputError(f"{count} reference characters", f"exceed the model's {slots} binding slots",
                               f"Animate at most {slots} characters at once.")
    if count > subjects:
        raise KinemaInputError("driving masks", f"show {subjects} subject(s) for {count} reference characters",
                               "Give a mask per driving subject (one colour each), or fewer references.")
    bind = _check_bind(range(count) if bind is None else bind, count, subjects)
    for s, (k, p) in enumerate(characters):
        if not reference_masks[k][p].any():
            raise KinemaInputError(f"reference mask {k} (character {p})", "is empty",
                                   "Mark the character in the reference mask (it may have been cropped by --fit).")
        if require_visible and not driving_masks[:, bind[s]].any():
            raise KinemaInputError(f"driving mask of subject {bind[s]}", "is empty in every frame",
                                   "Mark the subject in the driving masks, or bind another subject.")
    h, w = driving_masks.shape[-2:]
    reference = np.zeros((len(reference_masks), count, *reference_masks[0].shape[-2:]), np.float32)
    for s, (k, p) in enumerate(characters):
        reference[k, s] = reference_masks[k][p]
    driving = np.ascontiguousarray(driving_masks[:, list(bind)], dtype=np.float32).reshape(-1, count, h, w)
    return SlotMasks(reference, driving, bind, characters)
