"""Keypoint I/O (npz, json), NaN checks and layout conversions."""

import numpy as np
import pytest

from kinema.errors import KinemaInputError
from kinema.pose import Keypoints, convert, get_layout
from kinema.pose.synthetic import waving_humanoid


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_save_load_roundtrip(tmp_path, suffix):
    kp = waving_humanoid(3, 2, (320, 240))
    kp.visibility[1, 0, 4] = 0.25
    back = Keypoints.load(kp.save(tmp_path / f"kp{suffix}"))
    assert (back.layout, back.size) == ("humanoid", (320, 240))
    np.testing.assert_allclose(back.xy, kp.xy, atol=1e-3)
    np.testing.assert_allclose(back.visibility, kp.visibility, atol=1e-4)


def test_empty_clip_roundtrip_json(tmp_path):
    kp = Keypoints(np.zeros((0, 1, 18, 2)), np.zeros((0, 1, 18)), "body18", (8, 8))
    assert Keypoints.load(kp.save(tmp_path / "e.json")).xy.shape == (0, 1, 18, 2)


def test_nan_is_rejected_on_save_json_and_load(tmp_path):
    kp = waving_humanoid(2, 1, (64, 64))
    kp.xy[0, 0, 7, 0] = np.inf
    with pytest.raises(KinemaInputError, match="l_wrist"):
        kp.save(tmp_path / "bad.json")
    kp.save(tmp_path / "bad.npz")
    with pytest.raises(KinemaInputError, match="NaN/inf"):
        Keypoints.load(tmp_path / "bad.npz")
    (tmp_path / "junk.json").write_text("{}")
    with pytest.raises(KinemaInputError, match="not a keypoints file"):
        Keypoints.load(tmp_path / "junk.json")
    assert not (tmp_path / "bad.json").exists()


def test_coco17_and_mediapipe33_to_openpose18():
    rng = np.random.default_rng(0)
    coco = Keypoints(rng.uniform(0, 100, (2, 1, 17, 2)), rng.uniform(0, 1, (2, 1, 17)), "coco17", (100, 100))
    body = convert(coco, "body18")
    names = get_layout("body18").joints
    for j, name in enumerate(names):
        if name != "neck":
            np.testing.assert_array_equal(body.xy[:, :, j], coco.xy[:, :, get_layout("coco17").index(name)])
    np.testing.assert_allclose(body.xy[:, :, 1], coco.xy[:, :, 5:7].mean(2), rtol=1e-6)
    np.testing.assert_array_equal(body.visibility[:, :, 1], coco.visibility[:, :, 5:7].min(2))
    mp = Keypoints(rng.uniform(0, 100, (1, 1, 33, 2)), np.ones((1, 1, 33)), "mediapipe_pose33", (100, 100))
    body = convert(mp, "body18")
    for j, name in enumerate(names):
        if name != "neck":
            np.testing.assert_array_equal(body.xy[0, 0, j], mp.xy[0, 0, get_layout("mediapipe_pose33").index(name)])


def test_holistic_hands_and_wholebody_chain():
    rng = np.random.default_rng(1)
    holistic = Keypoints(rng.uniform(0, 50, (1, 1, 75, 2)), np.ones((1, 1, 75)), "mediapipe_holistic", (50, 50))
    humanoid = convert(holistic, "humanoid")
    np.testing.assert_array_equal(humanoid.xy[0, 0, 18:], holistic.xy[0, 0, 33:])  # MediaPipe hand order == HAND21
    whole = convert(Keypoints(rng.uniform(0, 50, (1, 1, 133, 2)), np.ones((1, 1, 133)), "coco_wholebody", (50, 50)), "wholebody")
    np.testing.assert_array_equal(convert(whole, "humanoid").xy, convert(convert(whole, "humanoid"), "humanoid").xy)
    assert convert(whole, "body18").xy.shape == (1, 1, 18, 2)
    with pytest.raises(KeyError, match="available"):
        convert(whole, "quadruped")
