"""Long videos (issue 19): window planning, the history segment, streamed reading and writing, exact frame counts,
memory that does not grow with length, and no output from an interrupted run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from kinema.backbone.segments import Segment, forward_segments, with_history
from kinema.errors import KinemaInputError
from kinema.io import read_video, write_video
from kinema.io.video import VideoReader, VideoWriter
from kinema.pipelines.dreamactor_m2 import AnimateConfig, Animator, animate
from kinema.pipelines.windows import driving_index, plan_windows
from kinema.pose.driving import inference_skeleton
from kinema.pose.keypoints import Keypoints
from kinema.sampling import SamplerConfig
from tests.core.conftest import inputs

ONE_STEP = SamplerConfig(steps=1, guidance=1.0)


@pytest.mark.parametrize("window,lead,history", [(21, 4, 0), (21, 4, 1), (21, 4, 2), (9, 0, 0), (9, 0, 1), (81, 0, 3),
                                                 (13, 1, 1)])
def test_windows_cover_every_frame_once_in_1_plus_4k_windows(window, lead, history):
    for total in [*range(1, 60), 200, 1001]:
        windows = plan_windows(total, window, lead, history)
        covered = np.concatenate([np.arange(w.start, w.stop) for w in windows])
        assert np.array_equal(covered, np.arange(total)), (total, windows)
        for k, w in enumerate(windows):
            assert (w.frames - 1) % 4 == 0 and w.drop + w.new <= w.frames <= window
            assert w.new >= 1 and (w.frames == w.drop + w.new or w is windows[-1])  # only the last one pads
            assert w.drop == (1 + 4 * history if k and history else lead)
            assert w.history == (history if k else 0)


def test_a_video_shorter_than_a_window_is_one_padded_window():
    (w,) = plan_windows(6, 21, lead=4)
    assert (w.start, w.stop, w.frames, w.drop) == (0, 6, 13, 4)  # 4 + 6 frames, padded to 13 = 1 + 4·3
    assert [driving_index(w, g, 4, 6) for g in range(13)] == [None] * 4 + [0, 1, 2, 3, 4, 5, 5, 5, 5]


def test_history_frames_are_the_previous_windows_last_outputs():
    first, second = plan_windows(40, 21, lead=4, history=1)[:2]
    assert (first.start, first.stop, second.start, second.stop) == (0, 17, 17, 33)
    # generated frames 1..3 are pose-free lead-in positions, 4 is the last history frame, then new frames
    assert [driving_index(second, g, 4, 40) for g in range(8)] == [None, None, None, None, 16, 17, 18, 19]


@pytest.mark.parametrize("window,lead,history,match", [
    (20, 0, 0, "1 \\+ 4k"), (1, 4, 0, "no output frame"), (21, 9, 1, "fewer than"), (17, 0, 3, "no more new frames"),
    (21, 0, -1, "0 or more")])
def test_impossible_windows_are_refused_by_name(window, lead, history, match):
    with pytest.raises(KinemaInputError, match=match):
        plan_windows(100, window, lead, history)


def test_inference_skeleton_is_pose_free_where_no_driving_frame_is():
    kp = Keypoints(np.full((3, 1, 17, 2), 16, np.float32), np.ones((3, 1, 17), np.float32), "coco17", (32, 32))
    frames = inference_skeleton(kp, [None, 0, 2, None], 1.5)
    assert frames.shape == (4, 32, 32, 3)
    assert not frames[0].any() and not frames[3].any() and frames[1].any() and frames[2].any()


@torch.no_grad()
def test_history_segments_keep_each_frames_time_position(components):
    """Split at frames 1..c with the history equal to those frames already clean: the stock single segment."""
    x, _, text, image = inputs(components, frames=4)
    t = torch.zeros(2)
    c = components.transformer.config.out_channels
    stock = forward_segments(components.transformer, [Segment(x, t)], text, image)[0]
    split = torch.cat(forward_segments(components.transformer, with_history(Segment(x, t), x[:, :c, 1:3]), text,
                                       image), dim=2)
    assert split.shape == stock.shape and (split - stock).abs().max() <= 1e-5


@torch.no_grad()
def test_history_is_given_clean_and_read(components):
    x, t, text, image = inputs(components, frames=4)
    c = components.transformer.config.out_channels
    pieces = with_history(Segment(x, t), torch.zeros_like(x[:, :c, 1:2]))
    assert [p.latents.shape[2] for p in pieces] == [1, 1, 2] and [p.offset[0] for p in pieces] == [0, 1, 2]
    assert torch.equal(pieces[1].timestep, torch.zeros(2)) and not pieces[1].latents[:, :c].any()
    assert torch.equal(pieces[1].latents[:, c:], x[:, c:, 1:2])  # its conditions stay
    other = with_history(Segment(x, t), torch.ones_like(x[:, :c, 1:2]))
    a, b = (forward_segments(components.transformer, p, text, image)[2] for p in (pieces, other))
    assert (a - b).abs().max() > 1e-3  # the frames after it attend to it


@pytest.fixture(scope="module")
def tiny():
    return Animator.load("tiny")


def media(w, h, frames=0, seed=0):
    shape = (frames, h, w, 3) if frames else (h, w, 3)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.mark.parametrize("history", [0, 1])
def test_a_long_video_keeps_its_exact_frame_count_and_is_deterministic(tiny, history):
    config = AnimateConfig(window=9, history=history, sampler=ONE_STEP)
    first = tiny(media(32, 32), media(32, 32, 23), config, progress=False)
    again = tiny(media(32, 32), media(32, 32, 23), config, progress=False)
    assert first.frames.shape == (23, 32, 32, 3) and np.array_equal(first.frames, again.frames)
    assert first.settings["windows"] == len(plan_windows(23, 9, 0, history)) > 2
    assert first.settings["history"] == history


def test_the_given_history_is_the_windows_frames_exactly(tiny):
    ref = torch.zeros(1, 3, 32, 32)
    drv = torch.zeros(1, 3, 9, 32, 32)
    text = torch.zeros(2, 512, tiny.components.transformer.config.text_dim)
    history = torch.randn(1, tiny.components.codec.channels, 1, 4, 8)  # spatial layout: both halves
    for match in ("none", "reference"):
        config = AnimateConfig(history_match=match, sampler=ONE_STEP)
        latents, inputs_ = tiny.sample_window(ref, drv, text, "spatial", ONE_STEP, config, history, False)
        assert torch.equal(latents[:, :, 1:2], inputs_.history)
        assert torch.equal(latents[:, :, 1:2], history) == (match == "none")


def test_the_model_cards_history_is_the_default(tiny):
    tiny.card = {"frames": 13, "history": {"latents": 1}}
    try:
        windows, planned = tiny.windows(AnimateConfig(), 40)
        assert planned == {"lead_in_frames": 0, "window": 13, "history": 1} and windows[1].history == 1
        assert tiny.windows(AnimateConfig(history=0, window=9), 40)[1]["history"] == 0
    finally:
        tiny.card = {}


def test_reader_streams_the_frames_read_video_decodes(tmp_path):
    frames = media(32, 32, 12)
    write_video(tmp_path / "v.mp4", frames, 8.0)
    whole = read_video(tmp_path / "v.mp4").frames
    with VideoReader(tmp_path / "v.mp4", "driving video") as reader:
        assert (reader.num_frames, reader.size, reader.fps) == (12, (32, 32), 8.0)
        assert np.array_equal(reader.take([0, 1, 2]), whole[:3])
        assert np.array_equal(reader.take([2, 5, 11, 11]), whole[[2, 5, 11, 11]])
        with pytest.raises(ValueError, match="already let go"):
            reader.take([1])


def test_writer_in_pieces_writes_write_videos_bytes_and_nothing_when_it_fails(tmp_path):
    frames = media(32, 32, 10)
    write_video(tmp_path / "whole.mp4", frames, 8.0)
    with VideoWriter(tmp_path / "pieces.mp4", 8.0) as writer:
        writer.write(frames[:3])
        writer.write(frames[3:])
    assert (tmp_path / "whole.mp4").read_bytes() == (tmp_path / "pieces.mp4").read_bytes()
    with pytest.raises(RuntimeError), VideoWriter(tmp_path / "failed.mp4", 8.0) as writer:
        writer.write(frames[:3])
        raise RuntimeError("interrupted")
    assert sorted(os.listdir(tmp_path)) == ["pieces.mp4", "whole.mp4"]


PEAK = """
import resource, sys
import numpy as np
from PIL import Image
from kinema.pipelines.dreamactor_m2 import AnimateConfig, animate
from kinema.sampling import SamplerConfig
config = AnimateConfig(size=(32, 32), window=33, sampler=SamplerConfig(steps=1, guidance=1.0))
animate(sys.argv[1], sys.argv[2], sys.argv[3], config, "tiny", progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def long_media(root: Path, frames: int, side: int = 256) -> tuple[Path, Path]:
    Image.fromarray(media(side, side)).save(root / "ref.png")
    write_video(root / f"drive{frames}.mp4", np.repeat(media(side, side, 8), frames // 8, axis=0), 16.0)
    return root / "ref.png", root / f"drive{frames}.mp4"


def test_peak_memory_does_not_grow_with_the_videos_length(tmp_path):
    """160 and 640 frames of 256x256 (past the allocator's warm-up of the first windows): held whole, the longer
    would need 94 MB more as uint8 and 377 MB more as floats."""
    peaks = []
    for frames in (160, 640):
        ref, drive = long_media(tmp_path, frames)
        out = subprocess.run([sys.executable, "-c", PEAK, ref, drive, tmp_path / f"out{frames}.mp4"], check=True,
                             capture_output=True, text=True).stdout
        peaks.append(int(out.split()[-1]) / 1024)  # MB
        assert read_video(tmp_path / f"out{frames}.mp4").num_frames == frames
    assert peaks[1] - peaks[0] < 30, peaks


def test_an_interrupted_long_run_leaves_no_output(tmp_path):
    ref, drive = long_media(tmp_path, 800, side=64)
    out = tmp_path / "out.mp4"
    run = subprocess.Popen([sys.executable, "-m", "kinema.cli.main", "animate", "--reference", ref, "--driving", drive,
                            "--out", out, "--model", "tiny", "--steps", "1", "--window", "9", "--size", "32x32"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any(p.name.endswith(".tmp.mp4") and p.stat().st_size for p in tmp_path.iterdir()):  # frames written
        assert run.poll() is None and time.monotonic() < deadline, "the run ended before writing"
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    assert run.wait(60) != 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drive800.mp4", "ref.png"]


def test_replacement_runs_in_windows_with_history_and_keeps_the_frame_count():
    from kinema.pipelines.scail2 import ScailAnimator, ScailConfig

    animator = ScailAnimator.load("tiny")
    ref_mask = np.zeros((1, 1, 32, 32), bool)
    ref_mask[..., 8:24, 10:22] = True
    drv_mask = np.zeros((23, 1, 32, 32), bool)
    drv_mask[..., 6:26, 8:20] = True
    config = ScailConfig(window=9, history=1, sampler=ONE_STEP)
    result = animator([media(32, 32)], media(32, 32, 23), [ref_mask], drv_mask, config, progress=False)
    assert result.frames.shape == (23, 32, 32, 3)
    assert (result.settings["windows"], result.settings["history"]) == (len(plan_windows(23, 9, 0, 1)), 1)


def test_replacements_history_is_marked_given_in_the_i2v_mask(tiny):
    from kinema.recipes import scail2 as r2

    x, t, _, _ = inputs(tiny.components, channels=16, frames=4, h=4, w=4, batch=1)
    ref = torch.zeros(1, 20, 1, 4, 4)
    driving = torch.zeros(1, 20, 4, 4, 4)
    given = r2.R2Inputs("replace", r2.R2Config(driving_resolution="full"), ref, torch.zeros(1, 28, 1, 4, 4), driving,
                        torch.zeros(1, 28, 4, 4, 4), 4, None, history=x[:, :, 1:3])
    video = r2.segments(given, x, t[:1])[1:4]  # the video's pieces: frame 0, the history, the rest
    assert [v.latents.shape[2] for v in video] == [1, 2, 1]
    assert (video[1].latents[:, 16:] == 1).all() and (video[0].latents[:, 16:] == 0).all()
    assert (video[2].latents[:, 16:] == 0).all() and torch.equal(video[1].latents[:, :16], x[:, :, 1:3])
