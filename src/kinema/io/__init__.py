"""Video, image and file I/O: PyAV H.264 video, Pillow images, atomic writes."""

from kinema.io.atomic import atomic_path, check_output, check_output_dir, write_json_atomic
from kinema.io.images import load_image
from kinema.io.video import Frames, FrameSource, Video, VideoReader, VideoWriter, read_video, write_video

__all__ = ["FrameSource", "Frames", "Video", "VideoReader", "VideoWriter", "atomic_path", "check_output", "check_output_dir",
           "load_image", "read_video", "write_json_atomic", "write_video"]
