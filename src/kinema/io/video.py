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
REENCODE = "Re-encode it as H.264 mp4, e.g. with ffmpeg."
# Decoded frames are held in memory as uint8 RGB (3 bytes a pixel), so a long high-resolution video (10 min of
# 4K is 90 GB) would exhaust memory instead of failing with a message. 4 GiB holds 30 s of 1080p at 24 fps; the
# final np.stack briefly holds a second copy.
MAX_VIDEO_BYTES = 4 << 30
SHRINK = ("Trim it, e.g. ffmpeg -i IN -t 10 OUT.mp4, or lower its resolution, "
          "e.g. ffmpeg -i IN -vf scale=-2:480 OUT.mp4, or pass --frames N to read only its first N frames.")


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


def read_video(path: str | os.PathLike, max_frames: int | None = None, name: str = "video",
               max_bytes: int = MAX_VIDEO_BYTES) -> Video:
    """Decode every frame (or the first ``max_frames``) of a video file as RGB.

    Raises:
        KinemaInputError: the file is missing or not a regular file, not a decodable video, has no frames,
            changes its frame size mid-stream, would take more than ``max_bytes`` decoded, or has a frame rate
            outside [``MIN_FPS``, ``MAX_FPS``] (which :func:`write_video` could not write back).
    """
    path = Path(path)
    what = f"{name} '{path}'"
    require_file(path, name)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise KinemaInputError(what, "contains no video stream", "Pass a video file (mp4, mov, webm, gif...).")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 25)
            if stream.codec_context:  # None where no decoder opens (a damaged header): decoding names that
                declared = min(stream.frames, max_frames or stream.frames)  # 0 where the container does not say
                _check_memory(what, stream.codec_context.width, stream.codec_context.height, declared, max_bytes)
            frames = _decode(container, stream, max_frames, max_bytes, what)
    except av.error.EOFError as err:
        raise KinemaInputError(what, "ends before a frame could be decoded (truncated or empty)", REENCODE) from err
    except (av.error.FFmpegError, UnicodeDecodeError) as err:
        raise KinemaInputError(what, f"cannot be decoded ({err.__class__.__name__})", REENCODE) from err
    if not frames:
        raise KinemaInputError(what, "has zero frames", "Pass a video with at least one frame.")
    if not MIN_FPS <= fps <= MAX_FPS:  # checked after decoding: a damaged header gives odd rates and fails there
        raise KinemaInputError(what, f"has a frame rate of {fps:g} fps, outside [{MIN_FPS:g}, {MAX_FPS:g}]",
                               "Re-encode it at a usual rate, e.g. ffmpeg -i IN -r 30 OUT.mp4.")
    return Video(np.stack(frames), fps)


def _check_memory(what: str, width: int, height: int, num_frames: int, max_bytes: int, at_least: str = "") -> None:
    """KinemaInputError if ``num_frames`` RGB frames of ``width`` x ``height`` take more than ``max_bytes``."""
    needed = num_frames * width * height * 3
    if needed > max_bytes:
        raise KinemaInputError(what, f"is {width}x{height} x {at_least}{num_frames} frames, which would need "
                               f"{needed / 2**30:.3g} GiB of memory decoded, over the limit of "
                               f"{max_bytes / 2**30:.3g} GiB", SHRINK)


def _decode(container: av.container.InputContainer, stream: av.VideoStream, max_frames: int | None,
            max_bytes: int, what: str) -> list[np.ndarray]:
    """RGB frames (H, W, 3) of ``stream``; KinemaInputError at the first frame whose size differs from frame 0's
    (an encoder restarted with new settings mid-stream: there is no one size to give the pipeline), or that would
    take the frames past ``max_bytes`` (the count the container declares, checked before, may be absent or lie)."""
    frames: list[np.ndarray] = []
    for frame in container.decode(stream):
        if frames and (frame.height, frame.width) != frames[0].shape[:2]:
            height, width = frames[0].shape[:2]
            raise KinemaInputError(what, f"changes frame size at frame {len(frames)}, from {width}x{height} to "
                                   f"{frame.width}x{frame.height}",
                                   "Re-encode it at one size, e.g. ffmpeg -i IN -vf scale=W:H OUT.mp4.")
        _check_memory(what, frame.width, frame.height, len(frames) + 1, max_bytes, at_least="at least ")
        frames.append(frame.to_ndarray(format="rgb24"))
        if max_frames is not None and len(frames) >= max_frames:
            break
    return frames


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
