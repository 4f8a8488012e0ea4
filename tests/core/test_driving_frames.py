"""``--frames N`` reads only the driving video's first N frames (issue 18: a long driving video was decoded in
full, into memory, even when a few output frames were asked for)."""

import numpy as np
from PIL import Image

from kinema.io import write_video
from kinema.pipelines.dreamactor_m2 import AnimateConfig, animate
from kinema.sampling import SamplerConfig
from tests.core.test_media_readers import size_changing_mp4

FIVE = AnimateConfig(frames=5, sampler=SamplerConfig(steps=1, guidance=1.0))


def test_frames_of_a_longer_driving_video_match_a_video_of_just_those_frames(tmp_path):
    clip = np.random.default_rng(0).integers(0, 256, (9, 32, 32, 3), dtype=np.uint8)
    Image.fromarray(clip[0]).save(tmp_path / "ref.png")
    write_video(tmp_path / "nine.mp4", clip, 8.0, crf=0)  # lossless: the first 5 frames decode alike in both files
    write_video(tmp_path / "five.mp4", clip[:5], 8.0, crf=0)
    long = animate(tmp_path / "ref.png", tmp_path / "nine.mp4", tmp_path / "long.mp4", FIVE, "tiny", progress=False,
                   keep_frames=True)
    short = animate(tmp_path / "ref.png", tmp_path / "five.mp4", tmp_path / "short.mp4", FIVE, "tiny", progress=False,
                   keep_frames=True)
    assert long.frames.shape == (5, 32, 32, 3)
    np.testing.assert_array_equal(long.frames, short.frames)


def test_frames_past_the_requested_ones_are_not_decoded(tmp_path):
    driving = size_changing_mp4(tmp_path / "resized.mp4")  # changes size at frame 4: unreadable past it
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(tmp_path / "ref.png")
    config = AnimateConfig(frames=1, sampler=FIVE.sampler)
    result = animate(tmp_path / "ref.png", driving, tmp_path / "out.mp4", config, "tiny", progress=False, keep_frames=True)
    assert result.frames.shape == (1, 64, 64, 3) and (tmp_path / "out.mp4").is_file()


def test_a_frame_request_is_met_exactly_without_notes(tmp_path):
    """--frames 6 reads 6 of 9 frames and gives 6 (the codec's 1 + 4k rule pads the window, not the output); only
    those 6 were read, so no trim is noted."""
    clip = np.random.default_rng(0).integers(0, 256, (9, 32, 32, 3), dtype=np.uint8)
    Image.fromarray(clip[0]).save(tmp_path / "ref.png")
    write_video(tmp_path / "nine.mp4", clip, 8.0)
    config = AnimateConfig(frames=6, sampler=FIVE.sampler)
    result = animate(tmp_path / "ref.png", tmp_path / "nine.mp4", tmp_path / "out.mp4", config, "tiny", progress=False, keep_frames=True)
    assert result.frames.shape[0] == 6 and result.settings["frames"] == 6
    assert not any("rounded" in n or "trimmed" in n for n in result.notes), result.notes
