"""Skeleton rendering: colours at joints, nothing outside the limb hulls, scaling, generic layouts."""

import numpy as np
import pytest

from kinema.errors import KinemaInputError
from kinema.pose import Keypoints, Layout, register_layout
from kinema.pose.render import (
    HAND_JOINT_COLOR, LIMB_DIM, OPENPOSE_COLORS, RenderConfig, render_pose,
)
from kinema.pose.synthetic import waving_humanoid


def body18(kp: Keypoints) -> Keypoints:
    return Keypoints(kp.xy[:, :, :18], kp.visibility[:, :, :18], "body18", kp.size)


def segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of each (N, 2) point to the segment a-b."""
    ab = b - a
    t = np.clip(((points - a) @ ab) / max(float(ab @ ab), 1e-12), 0, 1)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1)


def outside_hulls(frame: np.ndarray, kp: Keypoints, t: int, limb_r: float, joint_r: float, hand_r: float) -> int:
    """Number of lit pixels farther than the stroke size + 2 px (the anti-aliasing fringe) from every visible limb and joint."""
    ys, xs = np.nonzero(frame.any(-1))
    points = np.stack([xs, ys], 1).astype(np.float64)
    best = np.full(len(points), np.inf)
    vis = kp.visibility[t] >= 0.3
    for p in range(kp.num_people):
        xy = kp.xy[t, p].astype(np.float64)
        for i, j in kp.spec.limbs:
            if vis[p, i] and vis[p, j]:
                r = limb_r if j < 18 else hand_r
                best = np.minimum(best, segment_distance(points, xy[i], xy[j]) - r)
        for j in np.nonzero(vis[p])[0]:
            best = np.minimum(best, np.linalg.norm(points - xy[j], axis=1) - joint_r)
    return int((best > 2.0).sum())


def test_joint_and_limb_colours_body18():
    kp = body18(waving_humanoid(1, 1, (512, 512)))
    frame = render_pose(kp)[0]
    for j, (x, y) in enumerate(kp.xy[0, 0]):
        assert tuple(frame[int(round(y)), int(round(x))]) == OPENPOSE_COLORS[j], f"joint {j}"
    for k in (2, 3, 4, 5, 7, 8, 10, 11):  # arm and leg limbs: their midpoints touch nothing else
        i, j = kp.spec.limbs[k]
        x, y = (kp.xy[0, 0, i] + kp.xy[0, 0, j]) / 2
        expected = tuple(int(c * LIMB_DIM) for c in OPENPOSE_COLORS[k])
        assert tuple(frame[int(round(y)), int(round(x))]) == expected, f"limb {k}"


def test_nothing_outside_limb_hulls_with_hidden_joints():
    kp = waving_humanoid(3, 2, (512, 384))
    kp.visibility[:, 0, 6] = 0.0  # person 0's left elbow: both left-arm limbs disappear
    kp.visibility[:, 1, 39:60] = 0.1  # person 1's right hand below the threshold
    frames = render_pose(kp)
    scale = 384 / 512
    for t in range(3):
        assert outside_hulls(frames[t], kp, t, 4 * scale, 4 * scale, 1.0) == 0
    x, y = np.round(kp.xy[0, 0, 6]).astype(int)
    assert not frames[0, y - 2 : y + 3, x - 2 : x + 3].any(), "hidden elbow was drawn"
    hand = np.round(kp.xy[0, 1, 44]).astype(int)  # a fingertip of the hidden hand
    assert not frames[0, hand[1], hand[0]].any()


def test_hands_drawn_blue_and_multiple_people():
    kp = waving_humanoid(1, 2, (512, 512))
    frame = render_pose(kp)[0]
    for p in range(2):
        for j in (22, 26, 43, 59):  # fingertips
            x, y = np.round(kp.xy[0, p, j]).astype(int)
            assert tuple(frame[y, x]) == HAND_JOINT_COLOR
    assert not render_pose(kp, config=RenderConfig(draw_hands=False))[0][
        int(round(kp.xy[0, 0, 22, 1])), int(round(kp.xy[0, 0, 22, 0]))
    ].any()


def test_output_size_rescales_coordinates_and_strokes():
    kp = body18(waving_humanoid(1, 1, (256, 256)))
    small, large = render_pose(kp)[0], render_pose(kp, size=(1024, 512))[0]
    assert large.shape == (512, 1024, 3)
    for j in (0, 4, 10):
        x, y = kp.xy[0, 0, j] * np.array([4, 2])
        assert tuple(large[int(round(y)), int(round(x))]) == OPENPOSE_COLORS[j]
    assert small.any(-1).sum() * 3 < large.any(-1).sum()  # strokes widen with the canvas
    tiny = render_pose(kp, size=(64, 64))[0]  # strokes never vanish below one pixel
    assert tiny.any(-1).sum() > 50


def test_generic_layout_colours_limbs_from_palette():
    layout = register_layout(Layout("test_chain3", ("a", "b", "c"), ((0, 1), (1, 2))))
    xy = np.array([[[[40, 100], [160, 100], [160, 220]]]], dtype=np.float32)
    kp = Keypoints(xy, np.ones((1, 1, 3)), layout.name, (256, 256))
    frame = render_pose(kp)[0]
    assert tuple(frame[100, 100]) == tuple(int(c * LIMB_DIM) for c in OPENPOSE_COLORS[0])
    assert tuple(frame[160, 160]) == tuple(int(c * LIMB_DIM) for c in OPENPOSE_COLORS[1])
    for j in range(3):
        assert tuple(frame[int(xy[0, 0, j, 1]), int(xy[0, 0, j, 0])]) == OPENPOSE_COLORS[j]
    assert outside_hulls(frame, kp, 0, 2.0, 2.0, 2.0) == 0


def test_invisible_is_black_and_nan_is_rejected():
    kp = waving_humanoid(2, 1, (64, 48))
    kp.visibility[:] = 0
    assert not render_pose(kp).any()
    kp.xy[1, 0, 3] = np.nan
    with pytest.raises(KinemaInputError, match="NaN"):
        render_pose(kp)
