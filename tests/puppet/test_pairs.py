import cv2
import numpy as np

from kinema.puppet import SynthConfig, make_motion, make_triplet, render_grid, sample_identity

CFG = SynthConfig(size=(64, 64), frames=7, families=("humanoid", "quadruped"), characters=(2, 3), camera_prob=0.0)


def _free(clip):
    """(T, H, W) pixels no actor touches (amodal masks dilated past the anti-aliased edge)."""
    cover = clip.amodal.any(axis=1).astype(np.uint8)
    return np.stack([cv2.dilate(m, np.ones((5, 5), np.uint8)) == 0 for m in cover])


def test_animate_target_sits_in_the_reference_background():
    for seed in range(3):
        t = make_triplet("animate", seed, CFG)
        ref_bg = t.references[0].background[0]
        assert (t.target.background == ref_bg).all() and not (t.driving.background == ref_bg).all()
        free = _free(t.target)
        assert free.mean() > 0.5 and (t.target.frames[free] == t.target.background[free]).all()
        assert t.target.labels["actors"][0]["motion"] == t.driving.labels["actors"][0]["motion"]
        assert t.target.labels["actors"][0]["identity_seed"] == t.references[0].labels["actors"][0]["identity_seed"]
        assert t.target.labels["actors"][0]["identity_seed"] != t.driving.labels["actors"][0]["identity_seed"]


def test_replace_target_keeps_the_driving_shot():
    t = make_triplet("replace", 1, CFG)
    np.testing.assert_array_equal(t.target.background, t.driving.background)
    free = _free(t.target) & _free(t.driving)
    np.testing.assert_array_equal(t.target.frames[free], t.driving.frames[free])
    drv, tgt = t.driving.labels["actors"], t.target.labels["actors"]
    assert tgt[0]["identity_seed"] != drv[0]["identity_seed"] and tgt[0]["motion"] == drv[0]["motion"]
    assert [a["identity_seed"] for a in tgt[1:]] == [a["identity_seed"] for a in drv[1:]]  # bystanders stay


def test_multi_binding_maps_each_subject_to_its_reference():
    t = make_triplet("multi", 5, CFG)
    k = len(t.driving.keypoints)
    assert k == 3 and sorted(t.binding) == list(range(k))
    for i in range(k):
        ref = t.references[t.binding[i]].labels["actors"][0]
        assert t.target.labels["actors"][i]["identity_seed"] == ref["identity_seed"]
        assert t.target.labels["actors"][i]["motion"] == t.driving.labels["actors"][i]["motion"]
        assert t.target.labels["actors"][i]["path"] == t.driving.labels["actors"][i]["path"]


def test_grid_renders_k_identities_on_b_backgrounds():
    idents = [sample_identity(s) for s in range(3)]
    grid = render_grid(make_motion("wave", 5, 0), idents, [10, 11], (32, 32))
    assert len(grid) == 3 and all(len(row) == 2 for row in grid)
    np.testing.assert_array_equal(grid[0][1].background, grid[2][1].background)
    assert not np.array_equal(grid[0][1].frames, grid[2][1].frames)
