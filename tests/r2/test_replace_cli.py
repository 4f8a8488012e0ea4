"""``kinema replace`` and ``kinema animate --driving-mode rgb`` end to end on the tiny preset, and bad input."""

import importlib.util
import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from kinema.cli.main import main
from kinema.io import load_image, read_video, write_video
from kinema.io.video import Frames
from kinema.pipelines.scail2 import ScailAnimator, ScailConfig, driving_masks_of, reference_masks_of
from kinema.recipes import scail2 as r2


@pytest.fixture(scope="module")
def media(tmp_path_factory, multi):
    """Puppet multi triplet as files: driving mp4 + .npz masks, reference PNGs + colour-coded mask PNGs."""
    root = tmp_path_factory.mktemp("r2media")
    write_video(root / "driving.mp4", multi.driving.frames, multi.driving.fps)
    np.savez(root / "driving_masks.npz", masks=multi.driving.masks)
    for k, ref in enumerate(multi.references):
        Image.fromarray(ref.frames[0]).save(root / f"ref{k}.png")
        coded = np.where(ref.masks[0, 0, :, :, None], np.uint8([0, 200, 255]), np.uint8(0)).astype(np.uint8)
        Image.fromarray(coded).save(root / f"ref{k}_mask.png")
    np.savez(root / "short_masks.npz", masks=multi.driving.masks[:5])
    np.savez(root / "small_masks.npz", masks=multi.driving.masks[:, :, :16])
    np.savez(root / "empty_masks.npz", masks=np.zeros_like(multi.driving.masks))
    return root


def argv(media, out, refs=(0, 1), masks="driving_masks.npz", verb="replace"):
    references = [a for k in refs for a in ("--reference", str(media / f"ref{k}.png"))]
    reference_masks = [a for k in refs for a in ("--reference-masks", str(media / f"ref{k}_mask.png"))]
    return [verb, *references, *reference_masks, "--driving", str(media / "driving.mp4"),
            "--masks", str(media / masks), "--out", str(out), "--steps", "2"]


def true_bind(multi) -> list[int]:
    """Left-to-right index of the driving actor each reference belongs to (from the triplet's ground truth)."""
    x = [np.nonzero(multi.driving.masks[0, a])[1].mean() for a in range(multi.driving.masks.shape[1])]
    rank = list(np.argsort(x))
    return [rank.index(multi.binding.index(k)) for k in range(len(multi.references))]


def test_replace_writes_video_and_records_the_binding(media, multi, tmp_path):
    bind = true_bind(multi)
    out = tmp_path / "out.mp4"
    assert main([*argv(media, out), "--bind", ",".join(map(str, bind))]) == 0
    assert read_video(out).frames.shape == (9, 32, 32, 3)
    settings = json.loads(out.with_suffix(".json").read_text())
    assert settings["mode"] == "replace" and settings["recipe"]["slots"] == 6
    assert [b["driving_subject"] for b in settings["binding"]] == bind
    assert [b["reference"] for b in settings["binding"]] == [0, 1]


def test_binding_order_is_honoured_in_the_slots(media, multi, tiny):
    """Slot k carries reference k's mask and the driving actor that truly is character k, in either reference order."""
    animator = ScailAnimator(tiny)
    video = read_video(media / "driving.mp4").frames
    for refs in ((0, 1), (1, 0)):
        images = [load_image(media / f"ref{k}.png") for k in refs]
        ref_masks = reference_masks_of(images, [media / f"ref{k}_mask.png" for k in refs], None)
        drv_masks = driving_masks_of(Frames(video), media / "driving_masks.npz", None)(list(range(len(video))), video)
        config = ScailConfig(bind=tuple(true_bind(multi)[k] for k in refs))
        size, why, fitted, fitted_masks = animator.references(images, ref_masks, (32, 32), config, [])
        inputs, _ = animator.window_inputs(fitted, fitted_masks, video, drv_masks, size, why, config, [])
        for slot, k in enumerate(refs):
            colour = r2.SLOT_COLOURS[slot]  # slot k: reference k's character and its true driving actor, one colour
            actor = torch.from_numpy(multi.driving.masks[:, multi.binding.index(k)]).float()
            half = torch.nn.functional.avg_pool2d(actor, 2)  # (T, 16, 16): the driving runs at half resolution
            painted = torch.zeros(1, 7, *half.shape)
            painted[0, colour] = half
            expected = r2.compress_masks(painted, (2, 2))
            torch.testing.assert_close(inputs.driving_masks[:, colour::7], expected[:, colour::7])
            reference = torch.from_numpy(multi.references[k].masks[0, 0]).float()
            position = len(refs) - 1 if slot == 0 else slot - 1  # the sequence: extra views, then the reference
            on_image = inputs.reference_masks[0, colour, position]
            torch.testing.assert_close(on_image, torch.nn.functional.interpolate(reference[None, None], (4, 4), mode="area")[0, 0])


def test_animate_rgb_routes_to_the_animation_mode(media, tmp_path):
    out = tmp_path / "anim.mp4"
    assert main([*argv(media, out, refs=(0,), verb="animate"), "--driving-mode", "rgb", "--model", "tiny", "--driving-resolution", "half",
                 "--frames", "5"]) == 0
    assert read_video(out).frames.shape == (5, 32, 32, 3)
    settings = json.loads(out.with_suffix(".json").read_text())
    assert settings["mode"] == "animate" and settings["recipe"]["driving_resolution"] == "half"


@pytest.mark.parametrize("case,refs,masks,extra,message", [
    ("mask frame count", (0, 1), "short_masks.npz", [], "has 5 frames of 32x32 but its video/image has 9 frames"),
    ("mask size", (0, 1), "small_masks.npz", [], "has 9 frames of 32x16 but"),
    ("empty masks", (0, 1), "empty_masks.npz", [], "driving masks .*is empty"),
    ("more characters than slots", (0, 1) * 3 + (0,), "driving_masks.npz", [], "7 reference characters: exceed"),
    ("bind out of range", (0, 1), "driving_masks.npz", ["--bind", "0,5"], "distinct driving subject indices"),
    ("malformed bind", (0, 1), "driving_masks.npz", ["--bind", "a,b"], "comma-separated"),
])
def test_bad_input_is_refused_and_nothing_is_written(media, tmp_path, capsys, case, refs, masks, extra, message):
    out = tmp_path / "bad.mp4"
    assert main([*argv(media, out, refs, masks), *extra]) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not list(tmp_path.iterdir())


def test_reference_masks_must_match_references(media, tmp_path, capsys):
    args = argv(media, tmp_path / "bad.mp4")
    i = args.index(str(media / "ref1_mask.png"))
    del args[i - 1:i + 1]
    assert main(args) == 2 and "1 --reference-masks: for 2 --reference images" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is not None, reason="mediapipe is installed")
def test_without_masks_or_mediapipe_the_fix_is_named(media, tmp_path, capsys):
    args = ["replace", "--reference", str(media / "ref0.png"), "--driving", str(media / "driving.mp4"),
            "--out", str(tmp_path / "x.mp4")]
    assert main(args) == 2 and "--masks" in capsys.readouterr().err


def test_a_pose_model_in_rgb_mode_is_named_before_masks_are_asked_for(media, tmp_path, capsys):
    args = ["animate", "--driving-mode", "rgb", "--reference", str(media / "ref0.png"), "--driving", str(media / "driving.mp4"),
            "--out", str(tmp_path / "x.mp4")]  # the embedded (pose-driven) model, no masks
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "pose-driven DreamActor-M2" in err and "mask" not in err and not list(tmp_path.iterdir())


def test_half_resolution_driving_rounds_the_size_to_twice_the_codec_multiple(tiny):
    """Sides that would not halve to whole latent patches are rounded down, with a note (not refused)."""
    rng = np.random.default_rng(0)
    ref, video = rng.integers(0, 255, (48, 48, 3), np.uint8), rng.integers(0, 255, (5, 48, 48, 3), np.uint8)
    ref_mask, drv_mask = np.zeros((1, 1, 48, 48), bool), np.zeros((5, 1, 48, 48), bool)
    ref_mask[..., 8:40, 8:40] = drv_mask[..., 4:44, 10:30] = True
    animator = ScailAnimator(tiny, r2.R2Config(driving_resolution="half"))
    result = animator([ref], video, [ref_mask], drv_mask, ScailConfig(fit="stretch", sampler=None), progress=False)
    assert result.frames.shape == (5, 32, 32, 3)
    assert any("multiples of 32" in note for note in result.notes)
