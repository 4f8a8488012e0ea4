"""Video read/write with PyAV (bundled libx264): frames are uint8 arrays (T, H, W, 3)."""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

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
    with _opened(path, name) as (container, stream, fps, what):
        if stream.codec_context:  # None where no decoder opens (a damaged header): decoding names that
            declared = min(stream.frames, max_frames or stream.frames)  # 0 where the container does not say
            _check_memory(what, stream.codec_context.width, stream.codec_context.height, declared, max_bytes)
        frames = []
        for frame in _decoded(container, stream, max_frames, what):
            _check_memory(what, frame.width, frame.height, len(frames) + 1, max_bytes, at_least="at least ")
            frames.append(frame.to_ndarray(format="rgb24"))
    return Video(np.stack(frames), fps)


@contextlib.contextmanager
def _opened(path: str | os.PathLike, name: str) -> Iterator[tuple[av.container.InputContainer, av.VideoStream, float, str]]:
    """The open container, its first video stream, its frame rate and the input's name for messages; decoding
    errors inside the block become KinemaInputError naming the file, and so do a stream without frames and a
    frame rate outside [``MIN_FPS``, ``MAX_FPS``] (checked after decoding: a damaged header gives odd rates)."""
    path = Path(path)
    what = f"{name} '{path}'"
    require_file(path, name)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise KinemaInputError(what, "contains no video stream", "Pass a video file (mp4, mov, webm, gif...).")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 25)
            yield container, stream, fps, what
    except av.error.EOFError as err:
        raise KinemaInputError(what, "ends before a frame could be decoded (truncated or empty)", REENCODE) from err
    except (av.error.FFmpegError, UnicodeDecodeError) as err:
        raise KinemaInputError(what, f"cannot be decoded ({err.__class__.__name__})", REENCODE) from err
    if not MIN_FPS <= fps <= MAX_FPS:
        raise KinemaInputError(what, f"has a frame rate of {fps:g} fps, outside [{MIN_FPS:g}, {MAX_FPS:g}]",
                               "Re-encode it at a usual rate, e.g. ffmpeg -i IN -r 30 OUT.mp4.")


def _check_memory(what: str, width: int, height: int, num_frames: int, max_bytes: int, at_least: str = "") -> None:
    """KinemaInputError if ``num_frames`` RGB frames of ``width`` x ``height`` take more than ``max_bytes``."""
    needed = num_frames * width * height * 3
    if needed > max_bytes:
        raise KinemaInputError(what, f"is {width}x{height} x {at_least}{num_frames} frames, which would need "
                               f"{needed / 2**30:.3g} GiB of memory decoded, over the limit of "
                               f"{max_bytes / 2**30:.3g} GiB", SHRINK)


def _decoded(container: av.container.InputContainer, stream: av.VideoStream, max_frames: int | None,
             what: str) -> Iterator[av.VideoFrame]:
    """The frames of ``stream`` (at most ``max_frames``); KinemaInputError at the first frame whose size differs from
    frame 0's (an encoder restarted with new settings mid-stream: there is no one size to give the pipeline), and
    when there is none."""
    count, size = 0, None
    for frame in container.decode(stream):
        if size is not None and (frame.width, frame.height) != size:
            raise KinemaInputError(what, f"changes frame size at frame {count}, from {size[0]}x{size[1]} to "
                                   f"{frame.width}x{frame.height}",
                                   "Re-encode it at one size, e.g. ffmpeg -i IN -vf scale=W:H OUT.mp4.")
        size = (frame.width, frame.height)
        yield frame
        count += 1
        if max_frames is not None and count >= max_frames:
            break
    if not count:
        raise KinemaInputError(what, "has zero frames", "Pass a video with at least one frame.")


class FrameSource(Protocol):
    """Frames by index, read forward (:class:`VideoReader` from a file, :class:`Frames` in memory)."""

    num_frames: int
    fps: float
    size: tuple[int, int]  # (width, height)

    def take(self, indices: list[int]) -> np.ndarray:
        """The frames at ``indices`` (T, H, W, 3) uint8."""


class Frames:
    """Frames (T, H, W, 3) uint8 already in memory, as a :class:`FrameSource`."""

    def __init__(self, frames: np.ndarray, fps: float = 16.0) -> None:
        self.frames, self.fps = frames, fps
        self.num_frames, self.size = len(frames), (frames.shape[2], frames.shape[1])

    def take(self, indices: list[int]) -> np.ndarray:
        return self.frames[indices]


class VideoReader:
    """A video file's RGB frames, read forward on demand, holding only those that may still be asked for: any
    length in the memory of a few windows. Opening it checks the whole file (one decoding pass that keeps no
    frame) and counts its frames, as :func:`read_video` would check them.

    ``take(indices)`` returns the frames at ``indices`` (T, H, W, 3); later calls must not ask for a frame before
    the smallest index of an earlier call (the frames before it are let go).
    """

    def __init__(self, path: str | os.PathLike, name: str = "video", max_frames: int | None = None) -> None:
        self.path, self.name, self.max_frames = Path(path), name, max_frames
        with _opened(path, name) as (container, stream, fps, _):
            count, size = 0, (0, 0)
            for frame in _decoded(container, stream, max_frames, self.what):
                count, size = count + 1, (frame.width, frame.height)
        self.num_frames, self.fps, self.size = count, fps, size
        self._frames: Iterator[av.VideoFrame] | None = None
        self._held: dict[int, np.ndarray] = {}
        self._next = 0
        self._stack = contextlib.ExitStack()

    @property
    def what(self) -> str:
        return f"{self.name} '{self.path}'"

    def take(self, indices: list[int]) -> np.ndarray:
        if min(indices) < 0 or max(indices) >= self.num_frames:
            raise IndexError(f"frames {min(indices)}..{max(indices)} asked of {self.num_frames}")
        if any(i < self._next and i not in self._held for i in indices):
            raise ValueError(f"frame {min(indices)} of {self.what} was already let go (frames are read forward)")
        if self._frames is None:
            container, stream, _, _ = self._stack.enter_context(_opened(self.path, self.name))
            self._frames = _decoded(container, stream, self.max_frames, self.what)
        while self._next <= max(indices):
            self._held[self._next] = next(self._frames).to_ndarray(format="rgb24")
            self._next += 1
        self._held = {i: f for i, f in self._held.items() if i >= min(indices)}
        return np.stack([self._held[i] for i in indices])

    def close(self) -> None:
        self._frames, self._held = None, {}
        self._stack.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoWriter:
    """H.264 mp4 written frame by frame, atomically: the file appears complete when the ``with`` block ends, and
    not at all when it raises. The same frames always give the same bytes (see :func:`write_video`). With ``keep``
    the frames written are also kept, for :attr:`kept`."""

    def __init__(self, path: str | os.PathLike, fps: float = 16.0, crf: int = 18, keep: bool = False) -> None:
        if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):  # mp4 time bases round smaller rates to 0
            raise KinemaInputError(f"frame rate {fps}", f"is outside [{MIN_FPS}, {MAX_FPS}] fps",
                                   "Use a frame rate such as 16 or 30.")
        self.path, self.fps, self.crf = Path(path), fps, crf
        self.frames = 0
        self._kept: list[np.ndarray] | None = [] if keep else None
        self._stack = contextlib.ExitStack()
        self._container: av.container.OutputContainer | None = None
        self._stream: av.VideoStream | None = None

    def __enter__(self) -> VideoWriter:
        self._tmp = self._stack.enter_context(atomic_path(self.path))
        return self

    def write(self, frames: np.ndarray) -> None:
        """Append uint8 frames (T, H, W, 3) of the first frames' size; odd sizes are padded to even."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
            raise ValueError(f"VideoWriter expects non-empty uint8 (T, H, W, 3) frames, got {frames.dtype} {frames.shape}")
        if self._kept is not None:
            self._kept.append(frames)
        pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
        if pad_h or pad_w:
            frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        if self._stream is None:
            self._open(frames.shape[2], frames.shape[1], small=min(frames.shape[1:3]) < 32)
        elif (frames.shape[2], frames.shape[1]) != (self._stream.width, self._stream.height):
            raise ValueError(f"frames of {frames.shape[2]}x{frames.shape[1]} after {self._stream.width}x{self._stream.height}")
        for image in frames:
            self._container.mux(self._stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        self.frames += len(frames)

    @property
    def kept(self) -> np.ndarray | None:
        """The frames given to :meth:`write` (T, H, W, 3), when built with ``keep``; else None."""
        return None if self._kept is None else np.concatenate(self._kept)

    def _open(self, width: int, height: int, small: bool) -> None:
        self._container = self._stack.enter_context(av.open(str(self._tmp), mode="w", format="mp4"))
        stream = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1001))
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv444p" if small else "yuv420p"
        stream.thread_count = 1
        stream.options = {"crf": str(self.crf), "preset": "medium", "x264-params": "no-asm=1"}
        self._container.metadata["comment"] = "kinema"
        self._stream = stream

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: object) -> bool:
        try:
            if kind is None and not self.frames:
                raise ValueError(f"no frame was written to '{self.path}'")
            if kind is None:
                self._container.mux(self._stream.encode())  # flush the encoder
        except BaseException:
            self._stack.__exit__(*sys.exc_info())  # closes the file and deletes it
            raise
        return self._stack.__exit__(kind, error, trace)


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float = 16.0, crf: int = 18) -> Path:
    """Encode uint8 frames (T, H, W, 3) as H.264 mp4, atomically. Odd sizes are padded to even.

    The same frames always give the same bytes: encoding is single-threaded and uses x264's C code
    (``no-asm``). With its assembly paths, identical frames now and then (about 1 in 1000 encodes
    of puppet clips under CPU load) gave other bytes and pixels, so two same-seed puppet datasets
    differed; the C path gave none in 14 600 encodes, at about 4x the encoding time (small next to
    generating the frames).
    """
    with VideoWriter(path, fps, crf) as writer:
        writer.write(frames)
    return Path(path)
