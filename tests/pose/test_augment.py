"""Pose augmentation (DreamActor-M2 §3.3, §5.1): bone scaling, bbox normalisation, masking, determinism."""

import numpy as np
import pytest
import torch

from kinema.pose.augment import (
    PoseAugmentConfig, augment_pose, bbox_normalize, kinematic_chain, mask_first_second,
    scale_bones,
)
from kinema.pose.render import render_pose
from kinema.pose.synthetic import waving_humanoid

torch.set_num_threads(1)
FACTORS = {"arms": 1.2, "legs": 0.8, "torso": 0.9, "head": 1.1, "hands": 0.85}


def bones(xy: np.ndarray, layout: str) -> tuple[np.ndarray, list]:
    chain = [(p, c, g) for p, c, g in kinematic_chain(layout) if g is not None]
    return np.stack([xy[..., c, :] - xy[..., p, :] for p, c, _ in chain], -2), [g for *_, g in chain]


def test_chain_covers_every_joint_once_from_the_root():
    chain = kinematic_chain("humanoid")
    children = [c for _, c, _ in chain]
    assert sorted(children + [1]) == list(range(60))
    assert (7, 18, None) in chain and (4, 39, None) in chain  # hands hang from the body wrists


def test_bone_lengths_scale_by_group_and_angles_are_kept():
    kp = waving_humanoid(4, 2)
    out = scale_bones(kp, FACTORS)
    before, groups = bones(kp.xy, "humanoid")
    after, _ = bones(out.xy, "humanoid")
    expected = np.array([FACTORS[g] for g in groups], dtype=np.float32)[:, None]
    np.testing.assert_allclose(after, before * expected, rtol=1e-5, atol=1e-3)  # length x s, same direction
    np.testing.assert_array_equal(out.xy[:, :, 1], kp.xy[:, :, 1])  # root (neck) stays
    np.testing.assert_allclose(out.xy[:, :, 18], out.xy[:, :, 7], atol=1e-4)  # hands stay on the wrists
    np.testing.assert_allclose(out.xy[:, :, 39], out.xy[:, :, 4], atol=1e-4)


def test_per_person_factors_and_invisible_parent_translates_child():
    kp = waving_humanoid(1, 2)
    kp.visibility[:, :, 3] = 0  # right elbow hidden: elbow->wrist is translated, not scaled
    out = scale_bones(kp, {"arms": np.array([1.2, 1.0]), "torso": np.array([0.8, 1.0])})
    np.testing.assert_allclose(out.xy[:, 1], kp.xy[:, 1], atol=1e-5)  # person 1: all factors 1
    moved = out.xy[0, 0, 3] - kp.xy[0, 0, 3]
    np.testing.assert_allclose(out.xy[0, 0, 4] - kp.xy[0, 0, 4], moved, atol=1e-4)
    with pytest.raises(KeyError, match="wings"):
        scale_bones(kp, {"wings": 1.1})


def test_bbox_normalize_maps_clip_into_unit_box():
    kp = waving_humanoid(5, 2, (640, 360))
    kp.visibility[2, 1, 10] = 0
    kp.xy[2, 1, 10] = (1e4, -1e4)  # an invisible outlier is ignored
    unit = bbox_normalize(kp, target=(0, 0, 1, 1))
    vis = unit.visibility > 0
    lo, hi = unit.xy[vis].min(0), unit.xy[vis].max(0)
    assert lo.min() >= -1e-5 and hi.max() <= 1 + 1e-5
    assert np.isclose(max(hi - lo), 1.0, atol=1e-5)
    span_in = kp.xy[vis].max(0) - kp.xy[vis].min(0)
    np.testing.assert_allclose((hi - lo) / (hi - lo).max(), span_in / span_in.max(), rtol=1e-4)  # aspect kept
    canvas = bbox_normalize(kp, margin=0.1)
    assert canvas.xy[vis].min() >= 0.1 * 360 - 1e-3 and canvas.xy[vis][:, 1].max() <= 0.9 * 360 + 1e-3


@pytest.mark.parametrize("make_rng", [np.random.default_rng, lambda s: torch.Generator().manual_seed(s)])
def test_augment_is_deterministic_given_a_seed(make_rng):
    kp = waving_humanoid(3, 2)
    config = PoseAugmentConfig(bone_scale_prob=1.0)
    a, b = augment_pose(kp, config, make_rng(7)), augment_pose(kp, config, make_rng(7))
    np.testing.assert_array_equal(a.xy, b.xy)
    assert not np.allclose(a.xy, augment_pose(kp, config, make_rng(8)).xy)


def test_augment_probability_and_factor_range():
    kp = waving_humanoid(1, 1)
    many = type(kp)(np.repeat(kp.xy, 2000, 1), np.repeat(kp.visibility, 2000, 1), kp.layout, kp.size)
    out = augment_pose(many, PoseAugmentConfig(bbox_normalize=False), np.random.default_rng(0))
    before, groups = bones(many.xy[0], "humanoid")
    ratio = np.linalg.norm(bones(out.xy[0], "humanoid")[0], axis=-1) / np.linalg.norm(before, axis=-1)  # (P, B)
    changed = ~np.isclose(ratio, 1.0, atol=1e-4).all(1)
    assert 0.26 < changed.mean() < 0.34  # §5.1: 30 % of samples
    assert ratio.min() >= 0.8 - 1e-4 and ratio.max() <= 1.2 + 1e-4
    arms = [k for k, g in enumerate(groups) if g == "arms"]
    np.testing.assert_allclose(ratio[:, arms], ratio[:, arms[:1]].repeat(len(arms), 1), rtol=1e-4)  # one factor per group
    untouched = augment_pose(kp, PoseAugmentConfig(bone_scale_prob=0.0, bbox_normalize=False), np.random.default_rng(0))
    np.testing.assert_array_equal(untouched.xy, kp.xy)


def test_first_second_masking():
    kp = waving_humanoid(40, 1, (64, 64))
    masked = mask_first_second(kp, fps=16)
    frames = render_pose(masked)
    assert not frames[:16].any() and frames[16:].reshape(24, -1).any(1).all()


def test_config_validation():
    with pytest.raises(ValueError, match="bone_scale_prob"):
        PoseAugmentConfig(bone_scale_prob=1.5)
    with pytest.raises(ValueError, match="bone_scale_range"):
        PoseAugmentConfig(bone_scale_range=(1.2, 0.8))


def test_augment_masks_the_first_second_when_given_fps():
    kp = waving_humanoid(20, 1, (64, 64))
    out = augment_pose(kp, PoseAugmentConfig(mask_seconds=0.5), np.random.default_rng(0), fps=16)
    assert not out.visibility[:8].any() and out.visibility[8:].all()
