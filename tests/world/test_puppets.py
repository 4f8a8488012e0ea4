"""The 3D puppet: posed in world coordinates, projected, painted and hidden by what stands in front of it."""

import numpy as np
import pytest

from kinema.pose.layouts import get_layout
from kinema.puppet.identity import sample_identity
from kinema.puppet.motions import make_motion
from kinema.puppet.render import CharacterPainter
from kinema.puppet.skeletons import get_family
from kinema.world.camera import Camera
from kinema.world.puppets import VIEWS, box_mask, character_views, paint_frame, pose_world

JOINTS = get_layout("humanoid").joints
FAMILY = get_family("humanoid")


def _puppet(seed=3, motion="idle", frames=5, heading=30.0):
    identity = sample_identity(seed)
    nodes = pose_world(identity, make_motion(motion, frames, seed), np.zeros((frames, 3)), np.full(frames, heading))
    return identity, nodes


def _x(keypoints, name):
    return keypoints[..., JOINTS.index(name), 0]


@pytest.mark.parametrize("heading", [0.0, 30.0, 200.0])
def test_pose_stands_on_the_ground_facing_its_heading(heading):
    identity, nodes = _puppet(heading=heading)
    feet = [FAMILY.index(n) for n in FAMILY.feet]
    assert np.allclose(nodes[:, feet, 2].min(axis=1), 0.0, atol=1e-9)  # the lowest foot on z = 0
    assert (nodes[..., 2] >= -1e-9).all()
    face = nodes[:, FAMILY.index("nose"), :2] - nodes[:, FAMILY.index("neck"), :2]  # (T, 2) nose ahead of the neck
    direction = np.array([np.cos(np.radians(heading)), np.sin(np.radians(heading))])
    assert (face @ direction > 0.5 * np.linalg.norm(face, axis=1)).all()
    left = nodes[:, FAMILY.index("l_shoulder"), :2] - nodes[:, FAMILY.index("r_shoulder"), :2]
    assert (left @ np.array([-direction[1], direction[0]]) > 0).all()  # the body's left is the heading's left
    tall = nodes[..., 2].max() / 1.7  # body units: a 1-unit body is 1.7 m tall
    assert 0.7 < tall < 1.2


def test_jump_lifts_the_feet():
    _, nodes = _puppet(motion="jump", frames=17)
    feet = [FAMILY.index(n) for n in FAMILY.feet]
    assert nodes[:, feet, 2].min(axis=1).max() > 0.1  # metres off the ground at the jump's top


def test_four_views_face_their_directions():
    identity, nodes = _puppet()
    images, kp = character_views(CharacterPainter(FAMILY, identity), nodes[0], 30.0, (64, 64))
    assert images.shape == (4, 64, 64, 3) and kp.shape == (4, len(JOINTS), 3)
    front, left, right, back = (kp[VIEWS.index(v)] for v in ("front", "left", "right", "back"))
    for name in ("shoulder", "hip", "wrist"):  # the character's left is the image's right from the front
        assert _x(front, f"l_{name}") > _x(front, f"r_{name}")
        assert _x(back, f"l_{name}") < _x(back, f"r_{name}")
    spread = abs(_x(front, "l_shoulder") - _x(front, "r_shoulder"))
    for profile in (left, right):
        assert abs(_x(profile, "l_shoulder") - _x(profile, "r_shoulder")) < 0.35 * spread
    assert _x(left, "nose") < _x(left, "neck") and _x(right, "nose") > _x(right, "neck")  # faces its heading
    background = np.all(images == 255, axis=-1)
    assert background.mean() > 0.5 and (~background).any(axis=(1, 2)).all()


def _scene_camera():
    return Camera.looking_at(np.array([-3.0, 0.0, 1.5]), np.array([0.0, 0.0, 0.9]), 48, 48)


def test_paint_keeps_the_scene_outside_the_mask_and_keypoints_on_it():
    identity, nodes = _puppet(heading=180.0)  # facing the camera
    scene = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    frame = paint_frame(CharacterPainter(FAMILY, identity), nodes[0], _scene_camera(), scene)
    assert frame.mask.sum() > 100 and (frame.mask == frame.amodal).all()
    assert (frame.image[~frame.mask] == scene[~frame.mask]).all()
    seen = frame.visibility > 0
    assert seen.sum() > 10
    xi, yi = np.round(frame.xy[seen]).astype(int).T
    assert frame.mask[yi, xi].all()
    assert _x(frame.xy, "l_shoulder") > _x(frame.xy, "r_shoulder")  # it faces the camera: its left on the right


def test_occluder_in_front_hides_the_character_behind_only():
    identity, nodes = _puppet(heading=180.0)
    scene = np.full((48, 48, 3), 90, np.uint8)
    painter, camera = CharacterPainter(FAMILY, identity), _scene_camera()
    open_view = paint_frame(painter, nodes[0], camera, scene)
    depth = np.full((48, 48), np.inf)
    depth[:, :24] = 1.5  # a wall 1.5 m from the camera over the image's left half: in front of the character
    hidden = paint_frame(painter, nodes[0], camera, scene, depth)
    assert (hidden.amodal == open_view.amodal).all()
    assert not hidden.mask[:, :24].any() and (hidden.mask[:, 24:] == open_view.mask[:, 24:]).all()
    assert (hidden.image[:, :24] == scene[:, :24]).all()
    assert hidden.visibility.sum() < open_view.visibility.sum()
    depth[:, :24] = 6.0  # the same wall behind the character hides nothing
    behind = paint_frame(painter, nodes[0], camera, scene, depth)
    assert (behind.mask == open_view.mask).all() and (behind.image == open_view.image).all()


def test_box_mask_is_the_bounding_box():
    mask = np.zeros((10, 12), bool)
    mask[2, 3] = mask[6, 8] = True
    box = box_mask(mask)
    assert box.sum() == 5 * 6 and box[2:7, 3:9].all()
    assert not box_mask(np.zeros((4, 4), bool)).any()
