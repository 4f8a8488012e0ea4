"""Analytic tests of every metric: identical clips score perfectly, known perturbations known errors."""

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from kinema.eval.metrics import (
    PSNR_CAP, appearance_similarity, binding_accuracy, foreground_mask, keypoint_scores, mask_iou, psnr, ssim,
    ssim_map, warping_error,
)
from kinema.pose.keypoints import Keypoints
from kinema.pose.layouts import get_layout


def clip(seed=0, t=3, h=24, w=32):
    return np.random.default_rng(seed).integers(20, 230, (t, h, w, 3), dtype=np.uint8)


def test_psnr_identical_offset_and_mask():
    a = clip()
    assert psnr(a, a) == PSNR_CAP
    assert psnr(a + 10, a) == pytest.approx(10 * np.log10(255**2 / 100))  # MSE = 10² exactly
    mask = np.zeros(a.shape[:3], bool)
    mask[:, :4] = True
    b = a.copy()
    b[:, 4:] = 0  # damage only outside the mask
    assert psnr(b, a, mask) == PSNR_CAP and psnr(b, a, ~mask) < 20
    assert np.isnan(psnr(a, a, np.zeros_like(mask)))


def test_ssim_identical_and_matches_skimage():
    a, b = clip(0), clip(1)
    assert ssim(a, a) == pytest.approx(1.0)
    ours = ssim_map(a, b)[1]
    _, ref = structural_similarity(a[1], b[1], channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                   use_sample_covariance=False, data_range=255, full=True)
    np.testing.assert_allclose(ours, ref.mean(axis=-1), atol=1e-6)


def test_appearance_and_foreground_iou():
    ref = np.zeros((8, 8, 3), np.uint8)
    ref[:4] = (200, 0, 0)
    ref[4:] = (0, 0, 200)
    ref_mask = np.ones((8, 8), bool)
    out = np.zeros((2, 8, 8, 3), np.uint8)
    out[:, ::2] = (200, 0, 0)
    out[:, 1::2] = (0, 0, 200)  # same colours, same proportions, other layout
    assert appearance_similarity(out, np.ones((2, 8, 8), bool), ref, ref_mask) == pytest.approx(1.0)
    assert appearance_similarity(np.full_like(out, 90), np.ones((2, 8, 8), bool), ref, ref_mask) == 0.0
    bg = np.zeros((1, 20, 20, 3), np.uint8)
    square = bg.copy()
    square[0, 5:15, 5:15] = 255
    shifted = np.roll(square, 2, axis=2)  # 10x10 square moved 2 px: overlap 80, union 120
    fg = foreground_mask(square, bg)
    assert fg.sum() == 100 and mask_iou(fg, fg) == 1.0
    assert mask_iou(foreground_mask(shifted, bg), fg) == pytest.approx(80 / 120)


def test_binding_accuracy():
    refs = np.zeros((2, 8, 8, 3), np.uint8)
    refs[0], refs[1] = (250, 0, 0), (0, 250, 0)
    ref_masks = np.ones((2, 8, 8), bool)
    out = np.zeros((1, 8, 16, 3), np.uint8)
    out[0, :, :8], out[0, :, 8:] = (250, 0, 0), (0, 250, 0)  # left shows reference 0, right reference 1
    regions = np.zeros((1, 2, 8, 16), bool)
    regions[0, 0, :, :8], regions[0, 1, :, 8:] = True, True
    assert binding_accuracy(out, regions, refs, ref_masks, (0, 1)) == 1.0
    assert binding_accuracy(out, regions, refs, ref_masks, (1, 0)) == 0.0
    assert binding_accuracy(out, regions, refs, ref_masks, (0, 0)) == 0.5


def test_warping_error_identical_static_and_flicker():
    y, x = np.mgrid[0:48, 0:64]
    texture = (127 + 60 * np.sin(x / 3.0) * np.cos(y / 4.0)).astype(np.uint8)
    moving = np.stack([np.roll(texture, t, axis=1) for t in range(4)])[..., None].repeat(3, -1)  # 1 px/frame
    assert warping_error(moving, moving) == 0.0
    static = np.repeat(moving[:1], 4, axis=0)
    flicker = static.astype(int) + np.array([1, -1, 1, -1])[:, None, None, None] * 5  # ±5 around the target
    assert warping_error(flicker.astype(np.uint8), static) == pytest.approx(10.0)  # E_t − E_{t+1} = ±10
    assert warping_error(static, moving) > 5  # a frozen output of a moving target


def _keypoints(xy):
    return Keypoints(xy[:, None], np.ones(xy.shape[:2])[:, None], "humanoid", (64, 64))


def test_keypoint_scores_identical_and_shifted():
    layout = get_layout("humanoid")
    rng = np.random.default_rng(0)
    xy = rng.uniform(10, 50, (3, layout.num_joints, 2)).astype(np.float32)
    target = (_keypoints(xy),)
    same = keypoint_scores(_keypoints(xy), target)
    assert same["kp_pck_all"] == 1.0 and same["kp_err_all"] == 0.0
    hands = np.array(layout.groups["hands"])
    moved = xy.copy()
    moved[:, hands] += np.array([30.0, 40.0])  # hands 50 px off, far beyond 0.1 x the box diagonal (< 57 px)
    scores = keypoint_scores(_keypoints(moved), target)
    assert scores["kp_pck_hands"] == 0.0 and scores["kp_err_hands"] == pytest.approx(50.0, abs=1e-4)
    assert scores["kp_pck_body"] == 1.0 and scores["kp_err_body"] == 0.0
    assert scores["kp_pck_all"] == pytest.approx(1 - len(hands) / layout.num_joints)


def test_bone_error_measures_body_shape_not_placement():
    layout = get_layout("humanoid")
    xy = np.random.default_rng(1).uniform(10, 50, (3, layout.num_joints, 2)).astype(np.float32)
    target = (_keypoints(xy),)
    assert keypoint_scores(_keypoints(xy + np.array([5.0, -3.0])), target)["bone_err"] == pytest.approx(0.0, abs=1e-6)
    center = xy.mean(axis=1, keepdims=True)
    bigger = keypoint_scores(_keypoints(center + 1.2 * (xy - center)), target)  # every bone 20 % longer
    assert bigger["bone_err"] == pytest.approx(0.2, abs=1e-4)
    moved = xy.copy()
    moved[:, layout.groups["hands"]] += 20.0  # hands and head are not body shape
    assert keypoint_scores(_keypoints(moved), target)["bone_err"] == pytest.approx(0.0, abs=1e-6)
