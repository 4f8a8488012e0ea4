import numpy as np
import pytest

from kinema.pose.layouts import get_layout
from kinema.puppet import Actor, SceneSpec, get_family, make_motion, motions_of, render_scene, sample_identity
from kinema.puppet.kinematics import forward


@pytest.mark.parametrize("family", ["humanoid", "quadruped", "bird"])
def test_same_motion_same_angles_different_bones(family):
    fam = get_family(family)
    motion = make_motion(motions_of(family)[0], 12, seed=4)
    a, b = sample_identity(1, family), sample_identity(2, family)
    pa, pb = (forward(fam, i.dims, motion.channels, 12) for i in (a, b))
    bones = [(fam.index(n.parent), k) for k, n in enumerate(fam.nodes) if n.parent and n.offset is None]
    va = np.stack([pa[:, c] - pa[:, p] for p, c in bones], 1)  # (T, B, 3)
    vb = np.stack([pb[:, c] - pb[:, p] for p, c in bones], 1)
    la, lb = np.linalg.norm(va, axis=-1), np.linalg.norm(vb, axis=-1)
    np.testing.assert_allclose(va / la[..., None], vb / lb[..., None], atol=1e-9)  # joint angles are the motion
    assert np.abs(la - lb).max() > 0.02  # bone lengths are the identity
    assert np.ptp(la, axis=0).max() < 1e-9  # and they stay constant over time


def test_rendered_2d_limb_angles_match_across_identities():
    motion = make_motion("dance", 9, seed=0)
    clips = [render_scene(SceneSpec((128, 128), (Actor(sample_identity(s, "humanoid"), motion),), 0)) for s in (3, 8)]
    lay = get_layout("humanoid")
    pairs = [(lay.index(a), lay.index(b)) for a, b in (("r_elbow", "r_wrist"), ("l_shoulder", "l_elbow"), ("l_knee", "l_ankle"))]
    angles = [[np.arctan2(*(c.keypoints[0].xy[:, 0, b] - c.keypoints[0].xy[:, 0, a]).T[::-1]) for a, b in pairs] for c in clips]
    np.testing.assert_allclose(angles[0], angles[1], atol=1e-4)
    heights = [np.ptp(c.keypoints[0].xy[0, 0, :18, 1]) for c in clips]
    assert abs(heights[0] - heights[1]) > 2  # different bodies
