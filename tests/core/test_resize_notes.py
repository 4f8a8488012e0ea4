"""Every resize, crop, pad and frame-count change of a user's input is a note (issue 18: a 512x512
reference silently became 64x64): in the result, in the terminal and in the settings JSON."""

import json

import numpy as np
import pytest
from PIL import Image

from kinema.backbone.components import build_components
from kinema.backbone.config import get_preset
from kinema.cli.main import main
from kinema.io import write_video
from kinema.pipelines.dreamactor_m2 import AnimateConfig, Animator
from kinema.pipelines.scail2 import ScailAnimator, ScailConfig
from kinema.sampling import SamplerConfig

ONE_STEP = SamplerConfig(steps=1, guidance=1.0)
CHANGES = ("resized", "cropped", "padded", "trimmed", "rounded")


def media(w: int, h: int, frames: int = 0) -> np.ndarray:
    """A seeded uint8 image (H, W, 3), or video (T, H, W, 3) when ``frames``."""
    shape = (frames, h, w, 3) if frames else (h, w, 3)
    return np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)


def changes(notes: list[str]) -> list[str]:
    return [n for n in notes if any(word in n for word in CHANGES)]


@pytest.fixture(scope="module")
def tiny():
    return Animator.load("tiny")


def test_reference_resize_and_crop_are_noted(tiny):
    result = tiny(media(48, 40), media(32, 32, 9), AnimateConfig(fit="crop", sampler=ONE_STEP), progress=False)
    assert changes(result.notes) == [
        "reference image centre-cropped from 48x40 to 40x40 (--fit crop: its aspect ratio differs from the output size 32x32)",
        "reference image resized from 40x40 to 32x32 (the driving video's size)"]
    assert result.frames.shape == (9, 32, 32, 3)


def test_driving_resize_pad_and_trim_are_noted(tiny):
    config = AnimateConfig(size=(64, 48), frames=5, fit="pad", sampler=ONE_STEP)
    result = tiny(media(64, 48), media(32, 32, 9), config, progress=False)
    assert changes(result.notes) == [
        "driving video trimmed from 9 to 5 frames (its first 5 used)",
        "driving video padded with black from 32x32 to 43x32 (--fit pad: its aspect ratio differs from the output size 64x48)",
        "driving video resized from 43x32 to 64x48 (--size)"]
    assert result.frames.shape == (5, 48, 64, 3)


def test_rounded_size_and_frames_say_why(tiny):
    result = tiny(media(40, 40), media(40, 40, 9), AnimateConfig(frames=7, sampler=ONE_STEP), progress=False)
    assert changes(result.notes) == [
        "driving video trimmed from 9 to 7 frames (its first 7 used)",
        "size 40x40 rounded down to 32x32 (sides must be multiples of 16)",
        "reference image resized from 40x40 to 32x32 (the driving video's size, rounded down to multiples of 16)",
        "driving video resized from 40x40 to 32x32 (the driving video's size, rounded down to multiples of 16)"]


def test_lead_in_frames_are_not_counted_as_the_driving_videos():
    card = {"driving": "pose", "lead_in_frames": 4, "size": [32, 32]}
    animator = Animator(build_components(get_preset("tiny")), True, card)
    result = animator(media(64, 64), media(32, 32, 9), AnimateConfig(frames=7, sampler=ONE_STEP), progress=False)
    assert changes(result.notes) == [
        "driving video trimmed from 9 to 7 frames (its first 7 used)",
        "reference image resized from 64x64 to 32x32 (the model's size)"]
    assert len(result.frames) == 7


def test_inputs_at_the_output_size_give_no_change_notes(tiny):
    result = tiny(media(32, 32), media(32, 32, 9), AnimateConfig(sampler=ONE_STEP), progress=False)
    assert changes(result.notes) == [] and len(result.notes) == 1 and "random weights" in result.notes[0]


def test_replace_notes_each_reference_and_the_driving_video():
    animator = ScailAnimator.load("tiny")
    ref_mask = np.zeros((1, 1, 40, 48), bool)
    ref_mask[..., 10:30, 14:34] = True
    drv_mask = np.zeros((9, 1, 32, 32), bool)
    drv_mask[..., 8:24, 8:24] = True
    result = animator([media(48, 40)], media(32, 32, 9), [ref_mask], drv_mask,
                      ScailConfig(frames=5, fit="crop", sampler=ONE_STEP), progress=False)
    assert changes(result.notes) == [
        "driving video trimmed from 9 to 5 frames (its first 5 used)",
        "reference image 0 centre-cropped from 48x40 to 40x40 (--fit crop: its aspect ratio differs from the output size 32x32)",
        "reference image 0 resized from 40x40 to 32x32 (the driving video's size)"]


def test_cli_prints_the_notes_and_writes_them_into_the_json(tmp_path, capsys):
    Image.fromarray(media(64, 64)).save(tmp_path / "ref.png")
    write_video(tmp_path / "drv.mp4", media(32, 32, 9), 8.0)
    out = tmp_path / "out.mp4"
    assert main(["animate", "--reference", str(tmp_path / "ref.png"), "--driving", str(tmp_path / "drv.mp4"),
                 "--model", "tiny", "--steps", "1", "--guidance", "1", "--out", str(out)]) == 0
    note = "reference image resized from 64x64 to 32x32 (the driving video's size)"
    assert f"note: {note}" in capsys.readouterr().err
    assert note in json.loads(out.with_suffix(".json").read_text())["notes"]
