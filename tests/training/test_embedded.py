"""The shipped embedded model loads offline and reproduces its documented scores (TRAINING.md).

``regression.json`` beside the weights holds ``kinema demo --steps 10`` scores of case 0, written by
``python benchmarks/embedded_model.py --write-regression``.
"""

import json

import pytest

from kinema.pipelines.animate import EMBEDDED_DIR, Animator
from kinema.pipelines.demo import run_demo


def test_embedded_model_is_a_trained_pose_driven_model():
    animator = Animator.load()
    assert animator.pose_driven and not animator.random_weights
    assert animator.card["size"] == [64, 64] and animator.card["lead_in_frames"] == 4


def test_embedded_model_reproduces_its_documented_scores(tmp_path):
    expected = json.loads((EMBEDDED_DIR / "regression.json").read_text())
    metrics = run_demo(tmp_path, steps=expected["steps"], progress=False)
    assert not metrics["notes"]
    for name, value in expected["scores"].items():
        assert metrics["scores"]["output"][name] == pytest.approx(value, abs=expected["tolerance"][name]), name
