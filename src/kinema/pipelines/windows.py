"""Long videos: a driving video longer than the model's window, generated window by window (SPEC "Long videos").

Every window is generated like a whole short clip: its generated frame 0 is the reference's frame (the
first-frame condition, so every window is re-anchored on the reference), then, for a pose-driven model, pose-free
lead-in frames, then the motion; the codec needs 1 + 4k generated frames. A window after the first either starts
afresh (``history`` 0: independent windows, each with its own lead-in) or continues the previous one: its latent
frames 1..c are the previous window's last c latent frames (4c output frames), given clean
(:func:`kinema.backbone.segments.with_history`), and the frames after them are new. With ``overlap`` o, a window
also generates the first o frames after the history again and cross-fades them with the previous window's last
o (which its history stops before). The frames a window drops (the lead-in, or the reference frame and the
history) are ``drop``; the last window pads its driving video by repeating the last frame up to the 1 + 4k rule
and keeps only the frames asked for, so the output has exactly the driving video's frame count.

:func:`plan_windows` is the one planner of inference and the benchmarks; :func:`driving_index` maps a window's
generated frames to driving frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from kinema.backbone.codecs import TEMPORAL_STRIDE
from kinema.errors import KinemaInputError

DEFAULT_WINDOW = 81  # Wan's native clip length, for a model whose card does not name its trained frames
MAX_OUTPUT_FRAMES = 10_000_000  # frames are streamed window by window; this only catches absurd requests
HistoryMatch = Literal["none", "reference"]


@dataclass(frozen=True)
class WindowOptions:
    """How a long video is cut and joined (the ``--window`` options); None takes the model card's (:func:`card_windows`).

    Attributes:
        window: generated frames per window (1 + 4k); the card's trained ``frames``, else 81.
        history: latent frames a window takes from the one before; the card's, else 0.
        overlap: frames (4k) two consecutive windows both generate and cross-fade; the card's, else 0.
        history_match: "reference": the history's statistics matched to the reference's latents.
        history_noise: σ of Gaussian noise on the history at inference.
    """

    window: int | None = None
    history: int | None = None
    overlap: int | None = None
    history_match: HistoryMatch = "none"
    history_noise: float = 0.0


@dataclass(frozen=True)
class Window:
    """One window of a long video.

    Attributes:
        start, stop: the output frames it adds, [start, stop).
        frames: frames it generates (1 + 4k): ``drop`` frames, then output frames start..stop − 1, then padding.
        drop: generated frames before output frame ``start`` (the lead-in, or frame 0 and the history).
        history: latent frames taken from the previous window (0: none).
        blend: its first frames that the previous window generated too; the two are cross-faded (0: none).
    """

    start: int
    stop: int
    frames: int
    drop: int
    history: int
    blend: int = 0

    @property
    def new(self) -> int:
        return self.stop - self.start


def _frames(drop: int, new: int) -> int:
    """Generated frames for ``drop`` + ``new`` frames, rounded up to the codec's 1 + 4k."""
    return drop + new + (1 - drop - new) % TEMPORAL_STRIDE


def check_window(window: int, lead: int, history: int, overlap: int = 0) -> None:
    """KinemaInputError unless a window of ``window`` generated frames can hold ``lead`` lead-in frames, a history of
    ``history`` latent frames and ``overlap`` cross-faded frames, with new frames after them."""
    if window < 1 or (window - 1) % TEMPORAL_STRIDE:
        raise KinemaInputError(f"window {window}", "must be 1 + 4k generated frames (the codec's rule)",
                               "Pass e.g. --window 81 (the model card's frames are its default).")
    if window <= lead:
        raise KinemaInputError(f"window {window}", f"leaves no output frame after the model's {lead} lead-in frames",
                               f"Pass --window {lead + 1 + -lead % TEMPORAL_STRIDE} or more.")
    if history < 0:
        raise KinemaInputError(f"history {history}", "must be 0 or more latent frames", "Pass --history 1.")
    if overlap < 0 or overlap % TEMPORAL_STRIDE:
        raise KinemaInputError(f"overlap {overlap}", f"must be a multiple of {TEMPORAL_STRIDE} frames (whole latent "
                               "frames), 0 or more", "Pass --overlap 4, or 0.")
    carried = TEMPORAL_STRIDE * history
    if history and carried + 1 < lead:
        need = -(-(lead - 1) // TEMPORAL_STRIDE)
        raise KinemaInputError(f"history {history}", f"covers {carried} frames, fewer than the model's {lead - 1} "
                               "lead-in frames after the reference frame", f"Pass --history {need} or more, or 0.")
    new = min(window - lead, window - 1 - carried if history else window - lead)  # a full window's new frames
    if new - overlap < max(carried, 1):
        raise KinemaInputError(f"history {history} and overlap {overlap}", f"({carried} + {overlap} frames) leave a "
                               f"window of {window} frames no more new frames than it carries over",
                               "Pass a smaller --history or --overlap, or a longer --window.")


def plan_windows(total: int, window: int, lead: int = 0, history: int = 0, overlap: int = 0) -> list[Window]:
    """Windows covering output frames [0, ``total``), in order: each frame is generated by one window, or by two
    that cross-fade it (the ``overlap`` frames where consecutive windows meet).

    Args:
        total: output frames (the driving video's, or fewer when asked).
        window: generated frames of a full window (1 + 4k; the model card's ``frames``).
        lead: pose-free lead-in frames of a pose-driven model (the first window's drop, and every window's
            without history).
        history: latent frames each window after the first takes from the one before (0: independent windows):
            the previous window's last ones before the overlap.
        overlap: frames (a multiple of 4) each window after the first generates again and cross-fades with the
            previous window's last ones.
    """
    if not 1 <= total <= MAX_OUTPUT_FRAMES:
        raise KinemaInputError(f"frames {total}", f"must be in [1, {MAX_OUTPUT_FRAMES}]", "Pass e.g. --frames 81.")
    check_window(window, lead, history, overlap)
    windows: list[Window] = []
    start = 0
    while True:
        drop = 1 + TEMPORAL_STRIDE * history if windows and history else lead
        new = min(window - drop, total - start)
        later = bool(windows)
        windows.append(Window(start, start + new, _frames(drop, new), drop, history * later, overlap * later))
        if start + new >= total:
            return windows
        start += new - overlap


def card_windows(card: dict, total: int, lead: int = 0,
                 options: WindowOptions = WindowOptions()) -> tuple[list[Window], dict]:
    """The windows of ``total`` output frames, each setting of ``options`` or else the model card's (its trained
    ``frames``, its ``history`` latents, its ``overlap``; else 81 frames, no history, no overlap), and the resolved
    settings (for a run's settings file, beside the number of windows)."""
    window = options.window or int(card.get("frames", DEFAULT_WINDOW))
    history = options.history if options.history is not None else int(card.get("history", {}).get("latents", 0))
    overlap = options.overlap if options.overlap is not None else int(card.get("overlap", 0))
    settings = {"lead_in_frames": lead, "window": window, "history": history, "overlap": overlap,
                "history_match": options.history_match, "history_noise": options.history_noise}
    return plan_windows(total, window, lead, history, overlap), settings


def carried_latents(latents: torch.Tensor, window: Window) -> torch.Tensor:
    """The history ``window`` takes from the previous window's latents (B, C, f, h, w): its last ``history`` latent
    frames before the ones the two windows overlap on."""
    end = latents.shape[2] - window.blend // TEMPORAL_STRIDE
    return latents[:, :, end - window.history:end]


def cross_fade(tail: np.ndarray, head: np.ndarray) -> np.ndarray:
    """The overlap (T, H, W, 3) uint8: the previous window's ``tail`` fading linearly into the next window's
    ``head`` (weights (i + 1) / (T + 1) on the head)."""
    weight = (np.arange(1, len(tail) + 1) / (len(tail) + 1))[:, None, None, None]
    return np.round((1 - weight) * tail + weight * head).astype(np.uint8)


class Assembler:
    """Output frames as windows deliver them: each window's frames, less the tail the next window cross-fades,
    go to ``sink``; the tail is held until then. ``add(window, frames, following)`` takes a window's output frames
    (window.new, H, W, 3) and the window after it (None for the last)."""

    def __init__(self, sink: Callable[[np.ndarray], None]) -> None:
        self.sink, self.tail = sink, None

    def add(self, window: Window, frames: np.ndarray, following: Window | None) -> None:
        if window.blend:
            frames = np.concatenate([cross_fade(self.tail, frames[:window.blend]), frames[window.blend:]])
        keep = following.blend if following is not None else 0
        self.tail = frames[len(frames) - keep:]
        self.sink(frames[:len(frames) - keep])


def driving_index(window: Window, frame: int, lead: int, total: int) -> int | None:
    """The driving frame behind generated ``frame`` of ``window``; None for a pose-free lead-in frame (frame 0 of a
    lead-in holds the reference's own pose, for models trained with it). Padding repeats the last frame."""
    if frame < lead:
        return None
    return min(window.start - window.drop + frame, total - 1)


def prepare_history(history: torch.Tensor, reference: torch.Tensor, options: WindowOptions,
                    seed: int = 0) -> torch.Tensor:
    """The previous window's last latents (B, C, c, h, W) as the next window receives them: with their per-channel
    statistics matched to the reference's latent frame ``reference`` (B, C, 1, h, W) when ``options.history_match``
    is "reference" (against colour drift), and with Gaussian noise of σ ``options.history_noise`` seeded by ``seed``."""
    if options.history_match == "reference":
        dims = (2, 3, 4)
        mean, std = history.mean(dims, keepdim=True), history.std(dims, keepdim=True).clamp_min(1e-6)
        history = (history - mean) / std * reference.std(dims, keepdim=True) + reference.mean(dims, keepdim=True)
    if options.history_noise:
        generator = torch.Generator().manual_seed(seed + 1)
        history = history + options.history_noise * torch.randn(history.shape, generator=generator).to(history)
    return history
