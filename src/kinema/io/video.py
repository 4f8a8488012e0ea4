"""Video read/write with PyAV (bundled libx264): frames are uint8 arrays (T, H, W, 3)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from kinema.errors import KinemaInputError, require_file
from kinema.io.atomic import atomic_path

MIN_FPS, MAX_FPS = 0.1, 1000.0


@dataclass(frozen=True)
class Video:
    """Decoded RGB frames (T, H, W, 3) uint8 and their frame rate."""

    frames: np.ndarray
    fps: float

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return int(self.frames.shape[2]), int(self.frames.shape[1])


def read_video(path: str | os.PathLike, max_frames: int | None = None, name: str = "video") -> Video:
    """Decode every frame (or the first ``max_frames``) of a video file as RGB.

    Raises:
        KinemaInputError: the file is missing, not a decodable video, or has no frames.
    """
    path = Path(path)
    require_file(path, name)
    frames: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise KinemaInputError(f"{name} '{path}'", "contains no video stream", "Pass a video file (mp4, mov, webm, gif...).")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 25)
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except (av.error.FFmpegError, UnicodeDecodeError) as err:
        raise KinemaInputError(f"{name} '{path}'", f"cannot be decoded ({err.__class__.__name__})", "Re-encode it as H.264 mp4, e.g. with ffmpeg.") from err
    if not frames:
        raise KinemaInputError(f"{name} '{path}'", "has zero frames", "Pass a video with at least one frame.")
    return Video(np.stack(frames), fps)


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float = 16.0, crf: int = 18) -> Path:
    """Encode uint8 frames (T, H, W, 3) as H.264 mp4, atomically. Odd sizes are padded to even.

    The same frames always give the same bytes: encoding is single-threaded and uses x264's C code
    (``no-asm``). With its assembly paths, identical frames now and then (about 1 in 1000 encodes
    of puppet clips under CPU load) gave other bytes and pixels, so two same-seed puppet datasets
    differed; the C path gave none in 14 600 encodes, at about 4x the encoding time (small next to
    generating the frames).
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"write_video expects non-empty uint8 (T, H, W, 3) frames, got {frames.dtype} {frames.shape}")
    if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):  # mp4 time bases round smaller rates to 0
        raise KinemaInputError(f"frame rate {fps}", f"is outside [{MIN_FPS}, {MAX_FPS}] fps", "Use a frame rate such as 16 or 30.")
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    path = Path(path)
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = "yuv444p" if min(frames.shape[1:3]) < 32 else "yuv420p"
            stream.thread_count = 1
            stream.options = {"crf": str(crf), "preset": "medium", "x264-params": "no-asm=1"}
            container.metadata["comment"] = "kinema"
            for image in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
            container.mux(stream.encode())
    return path
