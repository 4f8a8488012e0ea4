"""The readers of user media (images, videos, keypoints, masks): a damaged, hostile or special input is a
KinemaInputError naming the file and what is wrong with it, never a traceback or a hang, through the API and
the CLI alike."""

import contextlib
import json
import os
import signal
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from kinema.cli.main import main
from kinema.errors import KinemaInputError
from kinema.io import load_image, read_video, write_video
from kinema.pose.keypoints import Keypoints
from kinema.segment import read_mask_file

READERS = {
    "image": lambda path: load_image(path, "reference image"),
    "video": lambda path: read_video(path, name="driving video"),
    "keypoints": Keypoints.load,
    "masks": read_mask_file,
}


@contextlib.contextmanager
def deadline(seconds: int = 30):
    """Fail instead of hanging: SIGALRM interrupts a blocking open (a fifo without a writer)."""
    def expire(signum, frame):
        raise TimeoutError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` RGB pixels, with a few bytes of image data."""
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(bytes(64))) + chunk(b"IEND", b"")


def size_changing_mp4(path: Path) -> Path:
    """An H.264 mp4 of 4 frames of 64x64, then 4 of 96x80: two encodes with in-band headers, muxed as one track."""
    def encode(width: int, height: int, start: int) -> list[av.Packet]:
        codec = av.CodecContext.create("libx264", "w")
        codec.width, codec.height, codec.pix_fmt, codec.time_base = width, height, "yuv420p", Fraction(1, 16)
        codec.options = {"x264-params": "repeat-headers=1"}
        packets = []
        for i in range(4):
            frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 60 * i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 16)
            packets += codec.encode(frame)
        packets += codec.encode(None)
        for packet in packets:
            packet.pts += start
            packet.dts += start
        return packets

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("h264", rate=16)
        stream.width, stream.height, stream.pix_fmt, stream.time_base = 64, 64, "yuv420p", Fraction(1, 16)
        for packet in encode(64, 64, 0) + encode(96, 80, 4):
            packet.stream = stream
            container.mux(packet)
    return path


def mp4_at_rate(path: Path, rate: Fraction) -> Path:
    """A valid 6-frame mp4 whose stream declares ``rate`` frames per second."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height = 32, 32
        for _ in range(6):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")))
        container.mux(stream.encode())
    return path


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.mp4"
    os.mkfifo(path)
    return path


@pytest.fixture
def media(tmp_path):
    """A good reference and driving video, and where an animation would go."""
    Image.new("RGB", (32, 32), (200, 120, 40)).save(tmp_path / "ref.png")
    write_video(tmp_path / "driving.mp4", np.zeros((5, 32, 32, 3), np.uint8))
    return tmp_path


def animate(media: Path, reference: Path | None = None, driving: Path | None = None) -> int:
    return main(["animate", "--reference", str(reference or media / "ref.png"), "--driving",
                 str(driving or media / "driving.mp4"), "--out", str(media / "out.mp4"), "--model", "tiny", "--steps", "2"])


# -- special files: named for what they are, never opened ---------------------------------------------

@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("special,kind", [("fifo", "a fifo"), ("/dev/null", "a character device"),
                                          ("/dev/zero", "a character device")])
def test_a_fifo_or_device_is_named_as_such_and_never_opened(reader, special, kind, fifo):
    path = fifo if special == "fifo" else Path(special)
    with deadline(), pytest.raises(KinemaInputError, match=rf"'{path}': is not a regular file \({kind}\)"):
        READERS[reader](path)


def test_missing_directory_dangling_link_and_unreachable_paths_are_told_apart(tmp_path):
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "link.png").symlink_to(tmp_path / "gone.png")
    cases = {"nothing.png": "file not found", "folder.png": "is a directory", "link.png": "is a broken symbolic link",
             "x" * 300 + ".png": "cannot be reached"}
    for name, problem in cases.items():
        with pytest.raises(KinemaInputError, match=problem):
            load_image(tmp_path / name)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_named_as_such(tmp_path):
    path = tmp_path / "ref.png"
    Image.new("RGB", (32, 32)).save(path)
    path.chmod(0)
    with pytest.raises(KinemaInputError, match="permission denied"):
        load_image(path)


def test_cli_names_a_fifo_reference_and_a_device_as_keypoints(media, fifo, capsys):
    with deadline():
        assert animate(media, reference=fifo) == 2
    assert f"'{fifo}': is not a regular file (a fifo)" in capsys.readouterr().err
    with deadline():
        assert main(["pose", "render", "/dev/zero", "--out", str(media / "skeleton.mp4")]) == 2
    assert "'/dev/zero': is not a regular file (a character device)" in capsys.readouterr().err
    assert not (media / "out.mp4").exists() and not (media / "skeleton.mp4").exists()


# -- images ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("side", [10_000, 20_000])  # Pillow only warns past 89 megapixels, raises past 179
def test_a_decompression_bomb_png_is_refused(tmp_path, side):
    path = tmp_path / "bomb.png"
    path.write_bytes(png(side, side))
    with pytest.raises(KinemaInputError, match=r"'.*bomb.png': has more than \d+ pixels \(Pillow's decompression-bomb"):
        load_image(path)


def test_cli_refuses_a_bomb_reference_before_any_output(media, capsys):
    (media / "bomb.png").write_bytes(png(20_000, 20_000))
    assert animate(media, reference=media / "bomb.png") == 2
    assert "decompression-bomb limit" in capsys.readouterr().err and not (media / "out.mp4").exists()


def test_damaged_images_are_not_readable_images(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 40, 3), np.uint8)).save(tmp_path / "good.png")
    good = (tmp_path / "good.png").read_bytes()
    text_bomb = chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"a" * 5_000_000))  # past Pillow's text chunk limit
    damaged = {"truncated.png": good[: len(good) // 2], "garbage.jpg": b"\xff\xd8\xff\xe0" + bytes(100),
               "text_bomb.png": good[:33] + text_bomb + good[33:]}  # after the signature and IHDR
    for name, data in damaged.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(KinemaInputError, match=f"'{tmp_path / name}': is not a readable image"):
            load_image(tmp_path / name)


@pytest.mark.parametrize("mode,value", [("F", 0.5), ("LAB", (50, 0, 0))])  # floats of unknown range; LAB unconverted
def test_pixel_modes_without_a_faithful_rgb_conversion_are_refused(tmp_path, mode, value):
    path = tmp_path / f"{mode}.tiff"
    Image.new(mode, (32, 32), value).save(path)
    with pytest.raises(KinemaInputError, match=f"has {mode} pixels"):
        load_image(path)


# -- videos ---------------------------------------------------------------------------------------------

def test_a_video_whose_frame_size_changes_is_named_with_the_frame(tmp_path):
    path = size_changing_mp4(tmp_path / "resized.mp4")
    with pytest.raises(KinemaInputError, match=r"'.*resized.mp4': changes frame size at frame 4, from 64x64 to 96x80"):
        read_video(path)
    assert read_video(path, max_frames=4).frames.shape == (4, 64, 64, 3)  # the frames before the change read


def test_cli_refuses_a_size_changing_driving_video(media, capsys):
    assert animate(media, driving=size_changing_mp4(media / "resized.mp4")) == 2
    assert "driving video" in (err := capsys.readouterr().err) and "changes frame size at frame 4" in err
    assert not (media / "out.mp4").exists()


def test_truncated_empty_and_oddly_timed_videos_are_named(tmp_path):
    write_video(tmp_path / "full.mp4", np.random.default_rng(0).integers(0, 255, (20, 64, 64, 3), np.uint8))
    data = (tmp_path / "full.mp4").read_bytes()
    (tmp_path / "half.mp4").write_bytes(data[: len(data) // 2])
    (tmp_path / "tail_cut.mp4").write_bytes(data[: int(len(data) * 0.99)])  # the track header: odd rates, no decoder
    (tmp_path / "no_frames.y4m").write_text("YUV4MPEG2 W32 H32 F16:1 Ip A1:1 C420jpeg\n")
    with av.open(str(tmp_path / "no_frames.mkv"), "w", format="matroska") as container:
        stream = container.add_stream("libx264", rate=16)
        stream.width, stream.height = 32, 32
        container.start_encoding()
    cases = {"half.mp4": "cannot be decoded", "tail_cut.mp4": "cannot be decoded", "no_frames.y4m": "has zero frames",
             "no_frames.mkv": "ends before a frame could be decoded",
             mp4_at_rate(tmp_path / "slow.mp4", Fraction(1, 20)).name: r"has a frame rate of 0.05 fps, outside \[0.1,",
             mp4_at_rate(tmp_path / "fast.mp4", Fraction(5000)).name: "has a frame rate of 5000 fps"}
    for name, problem in cases.items():
        with pytest.raises(KinemaInputError, match=f"'{tmp_path / name}': {problem}"):
            read_video(tmp_path / name)


# -- keypoints -----------------------------------------------------------------------------------------

@pytest.fixture
def keypoints_doc(tmp_path):
    """A valid keypoints JSON document (2 frames, 1 person, body18) as a dict."""
    kp = Keypoints(np.full((2, 1, 18, 2), 8.0), np.ones((2, 1, 18)), "body18", (32, 32))
    return kp.to_dict()


@pytest.mark.parametrize("case,edit,problem", [
    ("a list", lambda d: [d], "a JSON list, not an object"),
    ("one-number size", lambda d: {**d, "size": [32]}, r"size must be \(width, height\)"),
    ("infinite size", lambda d: json.dumps(d).replace('"size": [32, 32]', '"size": [1e400, 32]'), "infinity"),
    ("huge size", lambda d: {**d, "size": [10**9, 32]}, "claims a 1000000000x32 frame"),
    ("deep nesting", lambda d: "[" * 100_000 + "]" * 100_000, "recursion"),
    ("wrong shape", lambda d: {**d, "num_people": 2}, "cannot reshape"),
    ("unknown layout", lambda d: {**d, "layout": "octopus"}, "unknown keypoint layout 'octopus'"),
    ("NaN", lambda d: json.dumps(d).replace("8.0", "NaN", 1), "NaN/inf values"),
])
def test_malformed_keypoint_json_is_named(tmp_path, keypoints_doc, case, edit, problem):
    doc = edit(keypoints_doc)
    path = tmp_path / "kp.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    with pytest.raises(KinemaInputError, match=f"keypoints '{path}': .*{problem}"):
        Keypoints.load(path)


def test_damaged_keypoint_archives_are_named(tmp_path):
    kp = Keypoints(np.full((2, 1, 18, 2), 8.0), np.ones((2, 1, 18)), "body18", (32, 32))
    data = kp.save(tmp_path / "kp.npz").read_bytes()
    bad_crc = bytearray(data)
    bad_crc[60] ^= 0xFF  # inside the first member's compressed bytes
    for name, damaged in {"cut.npz": data[: len(data) // 2], "flipped.npz": bytes(bad_crc), "tiny.npz": data[:10]}.items():
        (tmp_path / name).write_bytes(damaged)
        with pytest.raises(KinemaInputError, match=f"keypoints '{tmp_path / name}': is not a keypoints file"):
            Keypoints.load(tmp_path / name)


def test_cli_names_malformed_keypoints(tmp_path, keypoints_doc, capsys):
    (tmp_path / "kp.json").write_text(json.dumps({**keypoints_doc, "size": [32]}))
    assert main(["pose", "render", str(tmp_path / "kp.json"), "--out", str(tmp_path / "skeleton.mp4")]) == 2
    assert f"keypoints '{tmp_path / 'kp.json'}': is not a keypoints file" in capsys.readouterr().err
    assert not (tmp_path / "skeleton.mp4").exists()


# -- masks ---------------------------------------------------------------------------------------------

def test_damaged_mask_arrays_are_named(tmp_path):
    masks = np.zeros((2, 1, 16, 16), bool)
    np.savez_compressed(tmp_path / "good.npz", masks=masks)
    data = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    np.save(tmp_path / "words.npy", np.array(["a", "b"]).reshape(1, 1, 1, 2))
    header = "{'descr': '|b1', 'fortran_order': False, 'shape': (100000000000, 1, 16, 16), }"
    header = header.ljust(117) + "\n"
    magic = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
    (tmp_path / "huge.npy").write_bytes(magic + header.encode() + bytes(64))
    cases = {"cut.npz": "is not a readable mask array", "words.npy": "holds <U1 values, not numbers",
             "huge.npy": "is not a readable mask array"}  # MemoryError, or the missing data where memory overcommits
    for name, problem in cases.items():
        with pytest.raises(KinemaInputError, match=f"masks '{tmp_path / name}': {problem}"):
            read_mask_file(tmp_path / name)


def test_a_video_too_large_to_decode_in_memory_is_refused_with_its_size(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (10, 32, 48, 3), np.uint8)
    declared = write_video(tmp_path / "long.mp4", frames)  # mp4 declares its frame count: refused before decoding
    with av.open(str(tmp_path / "long.mkv"), "w", format="matroska") as container:  # mkv does not: counted decoding
        stream = container.add_stream("libx264", rate=16)
        stream.width, stream.height = 48, 32
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    limit = 4 * 48 * 32 * 3  # four frames
    for path, count in ((declared, "10"), (tmp_path / "long.mkv", "at least 5")):
        with pytest.raises(KinemaInputError, match=rf"driving video '{path}': is 48x32 x {count} frames, which would "
                                                   r"need .* GiB .*over the limit .* Trim it, e.g. ffmpeg -i IN -t"):
            read_video(path, name="driving video", max_bytes=limit)
        assert read_video(path, max_frames=4, max_bytes=limit).frames.shape == (4, 32, 48, 3)  # within the limit
    assert read_video(declared).num_frames == 10  # the default limit leaves a short clip alone
