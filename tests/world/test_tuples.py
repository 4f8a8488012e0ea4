"""AniX tuples from the 3D puppet world: exact V/S/M/C ground truth, the writer and `kinema synth --mode world`."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from kinema.cli.main import main
from kinema.errors import KinemaInputError
from kinema.io import read_video
from kinema.pose.keypoints import Keypoints
from kinema.pose.layouts import get_layout
from kinema.puppet.motions import make_motion
from kinema.world.gaussians import Gaussians
from kinema.world.puppets import VIEWS
from kinema.world.scenes import PROPS, SceneConfig
from kinema.world.tuples import WORLD_VERSION, WorldConfig, make_world_tuple, render_world, write_world_tuple
from kinema.world.video import default_anchor

CONFIG = WorldConfig(size=(32, 32), frames=9, scene=SceneConfig(budget=4000))
JOINTS = get_layout("humanoid").joints


@pytest.fixture(scope="module")
def tuples():
    return [make_world_tuple(seed, config=CONFIG) for seed in range(4)]


def test_shapes_and_text(tuples):
    for tup in tuples:
        assert tup.video.shape == tup.scene_video.shape == (9, 32, 32, 3)
        assert tup.masks.shape == tup.amodal.shape == tup.boxes.shape == (9, 32, 32) and tup.anchor.shape == (32, 32)
        assert tup.views.shape == (4, 32, 32, 3) and tup.keypoints.xy.shape == (9, 1, len(JOINTS), 2)
        assert tup.plan.category in CONFIG.categories and tup.text == tup.plan.text
    assert len({t.plan.action for t in tuples}) > 1  # the seeds draw different instructions


def test_scene_video_equals_target_outside_the_character(tuples):
    for tup in tuples:
        outside = ~tup.masks
        assert (tup.video[outside] == tup.scene_video[outside]).all()
        assert tup.masks.any(axis=(1, 2)).all()
        assert (tup.video[tup.masks] != tup.scene_video[tup.masks]).any()
        assert (tup.boxes >= tup.masks).all() and (tup.anchor >= tup.boxes).all()  # masks in boxes in the anchor


def test_keypoints_land_on_the_visible_character(tuples):
    for tup in tuples:
        seen = tup.keypoints.visibility[:, 0] > 0  # (T, J)
        assert seen[:, :JOINTS.index("l_ankle") + 1].mean() > 0.5  # most body joints (nose to ankles) are seen
        t, j = np.nonzero(seen)
        xi, yi = np.round(tup.keypoints.xy[t, 0, j]).astype(int).T
        assert tup.masks[t, yi, xi].all()


def test_views_face_front_left_right_back(tuples):
    for tup in tuples:
        kp = tup.view_keypoints.xy[:, 0, :, 0]  # (4, J) x
        front, left, right, back = (kp[VIEWS.index(v)] for v in ("front", "left", "right", "back"))
        l_sh, r_sh = JOINTS.index("l_shoulder"), JOINTS.index("r_shoulder")
        assert front[l_sh] > front[r_sh] and back[l_sh] < back[r_sh]
        assert max(abs(left[l_sh] - left[r_sh]), abs(right[l_sh] - right[r_sh])) < 0.4 * (front[l_sh] - front[r_sh])
        assert (tup.views == 255).all(axis=-1).mean() > 0.5  # a plain background


def test_deterministic_per_seed(tuples):
    again = make_world_tuple(2, config=CONFIG)
    first = tuples[2]
    for name in ("video", "scene_video", "masks", "boxes", "views"):
        assert np.array_equal(getattr(again, name), getattr(first, name))
    assert again.labels() == first.labels()


def test_prop_between_camera_and_character_hides_it():
    tup = make_world_tuple(1, "wave", CONFIG)  # a static camera: the first camera is the user's
    start, anchor = tup.track.cameras[0], default_anchor(*CONFIG.size)
    motion = make_motion("wave", CONFIG.frames, 0, CONFIG.fps)
    open_view = render_world(1, tup.scene, tup.identity, tup.plan, motion, start, anchor, CONFIG)
    # A board of opaque Gaussians halfway between the camera and the character, covering its left (image) half.
    eye, root = start.position, open_view.track.root[0]
    middle, right = (eye + root) / 2, start.rotation[0]
    a, z = np.meshgrid(np.linspace(-1.0, 0.0, 40), np.linspace(0.0, 2.0, 40))
    means = middle[None, :2] + a.reshape(-1, 1) * right[None, :2]
    means = np.concatenate([means, z.reshape(-1, 1)], axis=1)
    n = len(means)
    board = Gaussians(torch.tensor(means, dtype=torch.float32), torch.full((n, 1, 3), -1.5), torch.full((n,), 6.0),
                      torch.full((n, 3), np.log(0.03)), torch.tensor([[1.0, 0, 0, 0]]).repeat(n, 1))
    scene = replace(tup.scene, gaussians=Gaussians.cat([tup.scene.gaussians, board]),
                    part=np.concatenate([tup.scene.part, np.full(n, PROPS + len(tup.scene.props), np.int16)]))
    hidden = render_world(1, scene, tup.identity, tup.plan, motion, start, anchor, CONFIG)
    assert (hidden.amodal == open_view.amodal).all()
    assert 0 < hidden.masks.sum() < 0.8 * open_view.masks.sum()
    covered = hidden.amodal & ~hidden.masks
    assert covered.any() and (hidden.video[covered] == hidden.scene_video[covered]).all()
    assert hidden.keypoints.visibility.sum() < open_view.keypoints.visibility.sum()


def test_writer_files_read_back(tuples, tmp_path):
    tup = tuples[0]
    out = write_world_tuple(tmp_path / "t", tup)
    v, s = read_video(out / "V.mp4").frames, read_video(out / "S.mp4").frames
    assert v.shape == tup.video.shape and np.abs(v.astype(int) - tup.video).mean() < 8
    assert np.abs(s.astype(int) - tup.scene_video).mean() < 8
    with np.load(out / "M.npz") as m, np.load(out / "masks.npz") as k:
        assert np.array_equal(m["M"], tup.boxes) and np.array_equal(m["anchor"], tup.anchor)
        assert np.array_equal(k["masks"], tup.masks) and np.array_equal(k["amodal"], tup.amodal)
    kp = Keypoints.load(out / "keypoints.npz")
    assert np.array_equal(kp.xy, tup.keypoints.xy) and kp.layout == "humanoid"
    for i, name in enumerate(VIEWS):
        assert np.array_equal(np.asarray(Image.open(out / f"C_{name}.png")), tup.views[i])
    labels = json.loads((out / "labels.json").read_text())
    assert labels["instruction"] == tup.text and labels["version"] == WORLD_VERSION
    assert len(labels["track"]["rotation"]) == 9 and len(labels["track"]["root"]) == 9
    assert labels["scene"]["seed"] == tup.scene.seed and labels["identity"]["seed"] == tup.identity.seed


def test_given_instruction_is_used_and_bad_ones_refused():
    assert make_world_tuple(0, "clap your hands", CONFIG).plan.action == "clap"
    with pytest.raises(KinemaInputError, match="not understood"):
        make_world_tuple(0, "bake a cake", CONFIG)


@pytest.mark.parametrize("field, value", [("size", (8, 8)), ("frames", 0), ("fps", float("nan")), ("height_m", -1.0),
                                          ("categories", ("dancing",)), ("categories", ())])
def test_bad_config_refused(field, value):
    with pytest.raises(KinemaInputError, match=field):
        WorldConfig(**{field: value})


def test_synth_world_end_to_end(tmp_path):
    out = tmp_path / "ds"
    assert main(["synth", "--mode", "world", "--out", str(out), "--samples", "2", "--size", "32x32", "--frames", "9",
                 "--seed", "4"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["mode"] == "world" and manifest["count"] == 2
    for sample in manifest["samples"]:
        files = {p.name for p in (out / sample["dir"]).iterdir()}
        assert {"V.mp4", "S.mp4", "M.npz", "masks.npz", "keypoints.npz", "labels.json", "C_front.png"} <= files
    assert main(["synth", "--mode", "world", "--out", str(out), "--samples", "1"]) == 2  # no overwriting


@pytest.mark.parametrize("args, needle", [(["--frames", "0"], "frames"), (["--size", "8x8"], "size"),
                                          (["--samples", "0"], "--samples"), (["--families", "bird"], "--families"),
                                          (["--mode", "space"], "mode")])
def test_synth_world_bad_input(tmp_path, capsys, args, needle):
    out = tmp_path / "out"
    assert main(["synth", "--mode", "world", "--out", str(out), *args]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()


def test_walking_toward_the_camera_starts_from_a_camera_with_room_behind_it():
    """The suggested camera stands near a wall; a clip that walks the character (and the following camera)
    backwards starts from the same camera turned about the plot's middle instead."""
    from kinema.world.tuples import start_cameras

    config = WorldConfig(size=(32, 32), frames=9, scene=SceneConfig(budget=4000))
    tup = make_world_tuple(3, "walk backward", config)
    root, cameras = tup.track.root, tup.track.cameras
    assert np.linalg.norm(root[-1] - root[0]) > 0.5
    towards = cameras[0].position - root[0]
    assert np.dot(root[-1] - root[0], towards) > 0  # it walks toward the camera
    scene = tup.scene
    assert any(np.allclose(cameras[0].rotation, c.rotation) and np.allclose(cameras[0].translation, c.translation)
               for c in start_cameras(scene, config.size))
