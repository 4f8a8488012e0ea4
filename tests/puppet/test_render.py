from dataclasses import replace

import numpy as np
import pytest

from kinema.pose.layouts import get_layout
from kinema.puppet import MOTIONS, SynthConfig, make_scene, render_scene


def test_same_seed_same_clip_and_different_seed_differs():
    cfg = SynthConfig(size=(48, 48), frames=5, families=("humanoid", "quadruped", "bird"), characters=(1, 3), camera_prob=1.0)
    a, b, c = (render_scene(make_scene(s, cfg)) for s in (3, 3, 4))
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.masks, b.masks)
    for ka, kb in zip(a.keypoints, b.keypoints):
        np.testing.assert_array_equal(ka.xy, kb.xy)
    assert a.labels == b.labels
    assert not np.array_equal(a.frames, c.frames)


@pytest.mark.parametrize("motion", list(MOTIONS))
def test_visible_keypoints_lie_on_their_own_mask(solo, motion):
    clip = render_scene(solo(MOTIONS[motion].family, motion, seed=5, size=(96, 96)))
    kp = clip.keypoints[0]
    assert kp.layout == get_layout(kp.layout).name and kp.xy.shape[:2] == (9, 1)
    t, _, j = np.nonzero(kp.visibility)
    xi, yi = np.round(kp.xy[t, 0, j]).astype(int).T
    assert clip.masks[t, 0, yi, xi].all()
    assert kp.visibility.mean() > 0.4  # most joints are visible: the rule is not trivially "hidden"
    assert clip.masks[:, 0].sum() > 0 and (clip.frames != clip.background).any(axis=-1)[clip.masks[:, 0]].mean() > 0.5


def test_turning_hides_the_face_and_out_of_frame_is_invisible(solo):
    clip = render_scene(solo("humanoid", "spin", seed=2, size=(96, 96), frames=17))
    nose = clip.keypoints[0].visibility[:, 0, get_layout("humanoid").index("nose")]
    assert nose.max() == 1 and nose.min() == 0
    spec = solo("humanoid", "idle", seed=2)
    clip = render_scene(replace(spec, actors=(replace(spec.actors[0], path=(-0.45, -0.45)),)))
    kp = clip.keypoints[0]
    outside = kp.xy[..., 0] < 0
    assert outside.any() and (kp.visibility[outside] == 0).all()


def test_occlusion_between_actors_splits_masks():
    cfg = SynthConfig(size=(64, 64), frames=5, characters=(4, 4))
    clip = render_scene(make_scene(11, cfg))
    assert clip.masks.shape == (5, 4, 64, 64)
    assert (clip.masks.sum(axis=1) <= 1).all()  # visible masks never overlap
    assert (clip.masks <= clip.amodal).all()
    assert clip.amodal.sum() > clip.masks.sum()  # someone is partly hidden by someone nearer


def test_hand_sign_moves_fingers(solo):
    clip = render_scene(solo("humanoid", "hand_sign", seed=1, size=(128, 128), frames=17))
    tip = get_layout("humanoid").index("r_hand_index_4")
    wrist = get_layout("humanoid").index("r_hand_wrist")
    reach = np.linalg.norm(clip.keypoints[0].xy[:, 0, tip] - clip.keypoints[0].xy[:, 0, wrist], axis=-1)
    assert reach.max() > 1.5 * reach.min()
