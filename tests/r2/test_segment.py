"""Segmenters (mask files, puppet world, mediapipe) and the reference <-> driving binding."""

import importlib.util

import numpy as np
import pytest
from PIL import Image

from kinema.errors import KinemaInputError
from kinema.io import write_video
from kinema.segment import (
    MaskFileSegmenter, bind_slots, get_segmenter, left_to_right, read_mask_file, triplet_slots,
)

COLOURS = np.array([[255, 0, 0], [0, 255, 0], [60, 90, 255]], np.uint8)


def coded(masks: np.ndarray) -> np.ndarray:
    """(T, P, H, W) bool -> colour-coded frames (T, H, W, 3), one colour per subject on black."""
    frames = np.zeros((*masks.shape[:1], *masks.shape[2:], 3), np.uint8)
    for p in range(masks.shape[1]):
        frames[masks[:, p]] = COLOURS[p]
    return frames


def boxes(frames=5, size=64):
    """Three moving boxes, subject p starting at x = 4 + 20p."""
    masks = np.zeros((frames, 3, size, size), bool)
    for t in range(frames):
        for p in range(3):
            masks[t, p, 10 + 8 * p:30 + 8 * p, 4 + 20 * p + t:16 + 20 * p + t] = True
    return masks


def test_colour_coded_png_decodes_exactly(tmp_path):
    masks = boxes(1)
    Image.fromarray(coded(masks)[0]).save(tmp_path / "m.png")
    decoded = left_to_right(read_mask_file(tmp_path / "m.png"))
    assert np.array_equal(decoded, masks)


@pytest.mark.parametrize("suffix", [".png", ".mp4"])
def test_scail2_white_background_is_the_environment_not_a_subject(tmp_path, suffix):
    """SCAIL-2's animation reference masks and replacement driving masks paint the kept environment white."""
    masks = boxes(1 if suffix == ".png" else 5)
    frames = coded(masks)
    frames[~masks.any(1)] = 255
    if suffix == ".png":
        Image.fromarray(frames[0]).save(tmp_path / f"m{suffix}")
    else:
        write_video(tmp_path / f"m{suffix}", frames)
    decoded = left_to_right(read_mask_file(tmp_path / f"m{suffix}"))
    assert decoded.shape == masks.shape
    iou = (decoded & masks).sum((0, 2, 3)) / (decoded | masks).sum((0, 2, 3))
    assert iou.min() > (0.99 if suffix == ".png" else 0.85)


def test_colour_coded_h264_video_decodes_closely(tmp_path):
    masks = boxes()
    write_video(tmp_path / "m.mp4", coded(masks))
    decoded = left_to_right(read_mask_file(tmp_path / "m.mp4"))
    assert decoded.shape == masks.shape
    iou = (decoded & masks).sum((0, 2, 3)) / (decoded | masks).sum((0, 2, 3))
    assert iou.min() > 0.85


def test_binary_image_and_npz_arrays(tmp_path):
    masks = boxes(3)
    Image.fromarray(masks[0, 0].astype(np.uint8) * 255).save(tmp_path / "one.png")
    assert np.array_equal(read_mask_file(tmp_path / "one.png")[:, 0], masks[:1, 0])
    np.savez(tmp_path / "m.npz", masks=masks)  # kinema synth's layout
    np.save(tmp_path / "m.npy", masks[:, 1])  # (T, H, W) = one subject
    assert np.array_equal(read_mask_file(tmp_path / "m.npz"), masks)
    assert np.array_equal(read_mask_file(tmp_path / "m.npy")[:, 0], masks[:, 1])


def test_mask_file_must_match_its_frames(tmp_path):
    np.savez(tmp_path / "m.npz", masks=boxes(5))
    with pytest.raises(KinemaInputError, match="5 frames of 64x64 but"):
        MaskFileSegmenter(tmp_path / "m.npz")(np.zeros((4, 64, 64, 3), np.uint8))
    with pytest.raises(KinemaInputError, match="5 frames of 64x64 but"):
        MaskFileSegmenter(tmp_path / "m.npz")(np.zeros((5, 48, 64, 3), np.uint8))
    np.savez(tmp_path / "empty.npz", masks=np.zeros((5, 1, 64, 64), bool))
    with pytest.raises(KinemaInputError, match="empty"):
        MaskFileSegmenter(tmp_path / "empty.npz")(np.zeros((5, 64, 64, 3), np.uint8))
    with pytest.raises(KinemaInputError, match="not found"):
        read_mask_file(tmp_path / "nope.npz")


def test_left_to_right_orders_by_first_visible_centroid():
    masks = boxes(2)[:, [2, 0, 1]]
    masks[0, 1] = False  # subject 0 appears only in frame 1: still ordered by where it appears
    assert np.array_equal(left_to_right(masks), masks[:, [1, 2, 0]])


def test_binding_default_and_explicit():
    drv = boxes(3).astype(np.float32)
    refs = [drv[0, :1], drv[0, 1:3]]  # image 0: 1 character; image 1: 2 characters
    slots = bind_slots(refs, drv)
    assert slots.characters == ((0, 0), (1, 0), (1, 1)) and slots.bind == (0, 1, 2)
    assert slots.reference.shape == (2, 3, 64, 64) and not slots.reference[1, 0].any() and slots.reference[1, 2].any()
    swapped = bind_slots(refs, drv, bind=(2, 0, 1))
    assert np.array_equal(swapped.driving, drv[:, [2, 0, 1]])


@pytest.mark.parametrize("refs,bind,slots,message", [
    (5, None, 4, "exceed the model's 4 binding slots"),
    (3, None, 2, "exceed the model's 2 binding slots"),
    (4, None, 4, "show 3 subject"),
    (2, (0, 0), 4, "distinct"),
    (2, (0, 3), 4, "distinct driving subject indices in \\[0, 2\\]"),
    (2, (0,), 4, "one per reference character"),
])
def test_binding_errors(refs, bind, slots, message):
    drv = boxes(3).astype(np.float32)
    with pytest.raises(KinemaInputError, match=message):
        bind_slots([drv[0, :1]] * refs, drv, bind, slots)


def test_empty_masks_are_refused():
    drv = boxes(3).astype(np.float32)
    with pytest.raises(KinemaInputError, match="reference mask 1 .*empty"):
        bind_slots([drv[0, :1], np.zeros_like(drv[0, :1])], drv)
    drv[:, 1] = 0
    with pytest.raises(KinemaInputError, match="subject 1.*empty in every frame"):
        bind_slots([drv[0, :1], drv[0, 2:]], drv)


def test_puppet_triplet_slots_bind_each_reference_to_its_actor(multi):
    """Slot k's driving subject is the actor whose target identity is reference k's identity."""
    slots = triplet_slots(multi)
    assert slots.bind == (1, 0)
    for k, actor in enumerate(slots.bind):
        assert np.array_equal(slots.driving[:, k], multi.driving.masks[:, actor])
        assert np.array_equal(slots.reference[k, k], multi.references[k].masks[0, 0])
        target_id = multi.target.labels["actors"][actor]["identity_seed"]
        assert target_id == multi.references[k].labels["actors"][0]["identity_seed"]


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is not None, reason="mediapipe is installed")
def test_missing_mediapipe_says_how_to_install():
    with pytest.raises(KinemaInputError, match="pip install --no-deps mediapipe==0.10.21.*--masks"):
        get_segmenter("mediapipe")
    with pytest.raises(KinemaInputError, match="Use one of: file, mediapipe, puppet"):
        get_segmenter("sam3")


def test_mediapipe_segments_the_astronaut():
    pytest.importorskip("mediapipe", reason="optional backend: pip install --no-deps mediapipe==0.10.21 (see README)")
    data = pytest.importorskip("skimage.data", reason="scikit-image provides the test photo")
    masks = get_segmenter("mediapipe")(data.astronaut()[None])  # head and shoulders of a person, face upper-centre
    assert masks.shape == (1, 1, 512, 512) and masks[0, 0, 120, 230] and 0.2 < masks.mean() < 0.8
