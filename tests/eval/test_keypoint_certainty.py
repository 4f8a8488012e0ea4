"""Keypoint metrics a blur cannot game: joints count only where the estimator is certain of them."""

from dataclasses import replace

import numpy as np
import pytest

from kinema.eval import get_benchmark, render_case, score_case
from kinema.eval.degraded import HEAVY
from kinema.eval.metrics import keypoint_scores
from kinema.eval.scoring import CERTAINTY_THRESHOLDS, certain_keypoints, pose_estimator
from kinema.pose.estimators import PoseResult
from kinema.pose.keypoints import Keypoints

BENCHMARK = {"humanoid": "puppet-animate", "quadruped": "puppet-animate-quadruped", "bird": "puppet-animate-bird"}


@pytest.fixture(scope="module", params=list(BENCHMARK))
def family_cases(request):
    """The first 4 held-out cases of a family's benchmark (humanoid: hand sign, clap, spin, arms crossed)."""
    bench = get_benchmark(BENCHMARK[request.param])
    return request.param, [render_case(bench, spec) for spec in bench.case_specs(4)], pose_estimator(request.param)[0]


def _every_joint(case, frames, estimator):
    """Keypoint scores with every joint counted, as before gating."""
    kp = estimator(frames).keypoints
    return keypoint_scores(replace(kp, visibility=np.ones_like(kp.visibility)), case.triplet.target.keypoints[:1])


def test_exact_targets_keep_their_score(family_cases):
    family, cases, estimator = family_cases
    for case in cases:
        certain = score_case(case, case.triplet.target.frames, estimator)
        every = _every_joint(case, case.triplet.target.frames, estimator)
        assert certain["kp_pck_all"] >= 0.85 * every["kp_pck_all"] and certain["kp_found_all"] >= 0.75, case.spec


@pytest.mark.parametrize("name", list(HEAVY))
def test_blurs_blobs_and_empty_frames_score_near_zero(family_cases, name):
    family, cases, estimator = family_cases
    scores = [score_case(c, HEAVY[name](c.triplet.target.frames), estimator) for c in cases]
    assert np.mean([s["kp_pck_all"] for s in scores]) <= 0.12  # a bird's still body stays in its flap's blob
    assert np.mean([s["kp_found_all"] for s in scores]) <= 0.45
    if family == "humanoid":  # the hands, smallest of all, are never placed in a blur
        assert np.mean([s["kp_pck_hands"] for s in scores]) <= 0.03
    if name == "uniform":  # nothing to place: (almost) nothing found, nothing right
        assert all(s["kp_found_all"] <= 0.15 and s["kp_pck_all"] == 0.0 for s in scores)


def test_without_a_certainty_the_confidence_is_gated():
    kp = Keypoints(np.zeros((2, 1, 17, 2)), np.array([[[0.05] * 8 + [0.9] * 9]] * 2), "coco17", (8, 8))
    assert certain_keypoints(PoseResult(kp)).visibility[0, 0].tolist() == [0.0] * 8 + [1.0] * 9
    certainty = np.full((2, 1, 17), CERTAINTY_THRESHOLDS["humanoid"])
    assert (certain_keypoints(PoseResult(kp, certainty=certainty)).visibility == 1).all()
