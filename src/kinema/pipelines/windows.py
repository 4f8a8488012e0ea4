"""Long videos: a driving video longer than the model's window, generated window by window (SPEC "Long videos").

Every window is generated like a whole short clip: its generated frame 0 is the reference's frame (the
first-frame condition, so every window is re-anchored on the reference), then, for a pose-driven model, pose-free
lead-in frames, then the motion; the codec needs 1 + 4k generated frames. A window after the first either starts
afresh (``history`` 0: independent windows, each with its own lead-in) or continues the previous one: its latent
frames 1..c are the previous window's last c latent frames (4c output frames), given clean
(:func:`kinema.backbone.segments.with_history`), and the frames after them are new. The frames a window drops
(the lead-in, or the reference frame and the history) are ``drop``; the last window pads its driving video by
repeating the last frame up to the 1 + 4k rule and keeps only the frames asked for, so the output has exactly
the driving video's frame count.

:func:`plan_windows` is the one planner of inference and the benchmarks; :func:`driving_index` maps a window's
generated frames to driving frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from kinema.backbone.codecs import TEMPORAL_STRIDE
from kinema.errors import KinemaInputError

DEFAULT_WINDOW = 81  # Wan's native clip length, for a model whose card does not name its trained frames
MAX_OUTPUT_FRAMES = 10_000_000  # frames are streamed window by window; this only catches absurd requests
HistoryMatch = Literal["none", "reference"]


@dataclass(frozen=True)
class Window:
    """One window of a long video.

    Attributes:
        start, stop: the output frames it adds, [start, stop).
        frames: frames it generates (1 + 4k): ``drop`` frames, then output frames start..stop − 1, then padding.
        drop: generated frames before output frame ``start`` (the lead-in, or frame 0 and the history).
        history: latent frames taken from the previous window (0: none).
    """

    start: int
    stop: int
    frames: int
    drop: int
    history: int

    @property
    def new(self) -> int:
        return self.stop - self.start


def _frames(drop: int, new: int) -> int:
    """Generated frames for ``drop`` + ``new`` frames, rounded up to the codec's 1 + 4k."""
    return drop + new + (1 - drop - new) % TEMPORAL_STRIDE


def check_window(window: int, lead: int, history: int) -> None:
    """KinemaInputError unless a window of ``window`` generated frames can hold ``lead`` lead-in frames and a
    history of ``history`` latent frames, with room for new frames after them."""
    if window < 1 or (window - 1) % TEMPORAL_STRIDE:
        raise KinemaInputError(f"window {window}", "must be 1 + 4k generated frames (the codec's rule)",
                               "Pass e.g. --window 81 (the model card's frames are its default).")
    if window <= lead:
        raise KinemaInputError(f"window {window}", f"leaves no output frame after the model's {lead} lead-in frames",
                               f"Pass --window {lead + 1 + -lead % TEMPORAL_STRIDE} or more.")
    if history < 0:
        raise KinemaInputError(f"history {history}", "must be 0 or more latent frames", "Pass --history 1.")
    if not history:
        return
    frames = TEMPORAL_STRIDE * history
    if frames + 1 < lead:
        need = -(-(lead - 1) // TEMPORAL_STRIDE)
        raise KinemaInputError(f"history {history}", f"covers {frames} frames, fewer than the model's {lead - 1} "
                               "lead-in frames after the reference frame", f"Pass --history {need} or more, or 0.")
    if 2 * frames + 1 > window or frames > window - lead:
        raise KinemaInputError(f"history {history}", f"({frames} frames) leaves a window of {window} frames no more "
                               "new frames than it carries over", "Pass a smaller --history or a longer --window.")


def plan_windows(total: int, window: int, lead: int = 0, history: int = 0) -> list[Window]:
    """Windows covering output frames [0, ``total``) exactly once, in order.

    Args:
        total: output frames (the driving video's, or fewer when asked).
        window: generated frames of a full window (1 + 4k; the model card's ``frames``).
        lead: pose-free lead-in frames of a pose-driven model (the first window's drop, and every window's
            without history).
        history: latent frames each window after the first takes from the one before (0: independent windows).
    """
    if not 1 <= total <= MAX_OUTPUT_FRAMES:
        raise KinemaInputError(f"frames {total}", f"must be in [1, {MAX_OUTPUT_FRAMES}]", "Pass e.g. --frames 81.")
    check_window(window, lead, history)
    windows: list[Window] = []
    start = 0
    while start < total:
        drop = 1 + TEMPORAL_STRIDE * history if windows and history else lead
        new = min(window - drop, total - start)
        windows.append(Window(start, start + new, _frames(drop, new), drop, history if windows else 0))
        start += new
    return windows


def driving_index(window: Window, frame: int, lead: int, total: int) -> int | None:
    """The driving frame behind generated ``frame`` of ``window``; None for a pose-free lead-in frame (frame 0 of a
    lead-in holds the reference's own pose, for models trained with it). Padding repeats the last frame."""
    if frame < lead:
        return None
    return min(window.start - window.drop + frame, total - 1)


def prepare_history(history: torch.Tensor, reference: torch.Tensor, match: HistoryMatch = "none", noise: float = 0.0,
                    seed: int = 0) -> torch.Tensor:
    """The previous window's last latents (B, C, c, h, W) as the next window receives them: with their per-channel
    statistics matched to the reference's latent frame ``reference`` (B, C, 1, h, W) when ``match`` is "reference"
    (against colour drift), and with Gaussian noise of σ ``noise`` seeded by ``seed``."""
    if match == "reference":
        dims = (2, 3, 4)
        mean, std = history.mean(dims, keepdim=True), history.std(dims, keepdim=True).clamp_min(1e-6)
        history = (history - mean) / std * reference.std(dims, keepdim=True) + reference.mean(dims, keepdim=True)
    if noise:
        generator = torch.Generator().manual_seed(seed + 1)
        history = history + noise * torch.randn(history.shape, generator=generator).to(history)
    return history
