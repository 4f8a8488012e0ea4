"""The shipped embedded model loads offline and reproduces its documented scores (TRAINING.md).

``regression.json`` beside the weights holds ``kinema demo`` scores of case 0 with the card's sampling steps,
written by ``python benchmarks/embedded_model.py``.
"""

import json

import pytest

from kinema.cli.main import main
from kinema.io import read_video
from kinema.pipelines.demo import run_demo
from kinema.pipelines.dreamactor_m2 import Animator
from kinema.pipelines.models import EMBEDDED_DIR
from kinema.pose import Keypoints
from kinema.puppet import get_preset, make_triplet
from kinema.puppet.dataset import write_triplet


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


def test_frame_counts_are_the_outputs_not_the_lead_ins(tmp_path, capsys):
    sample = write_triplet(tmp_path / "s", make_triplet("animate", 3, get_preset("tiny", size=(64, 64), frames=9)))
    run = ["animate", "--reference", str(sample / "reference_0.png"), "--driving", str(sample / "driving.mp4"), "--steps", "1"]
    assert main([*run, "--frames", "12", "--out", str(tmp_path / "a.mp4")]) == 2
    assert "frames 12: exceeds the driving video's 9 frames. Pass --frames 9 or less" in capsys.readouterr().err
    assert main([*run, "--frames", "7", "--out", str(tmp_path / "b.mp4")]) == 0
    assert "rounded" not in capsys.readouterr().err and read_video(tmp_path / "b.mp4").num_frames == 7  # exactly
    assert json.loads((tmp_path / "b.json").read_text())["pose_backend"] == "puppet"  # what estimated the skeleton
    pose = Keypoints.load(sample / "driving_kp0.npz")
    Keypoints(pose.xy[:3], pose.visibility[:3], pose.layout, pose.size).save(tmp_path / "short.npz")
    assert main([*run, "--driving-pose", str(tmp_path / "short.npz"), "--out", str(tmp_path / "c.mp4")]) == 2
    assert "have 3 frames, the driving video 9" in capsys.readouterr().err and not (tmp_path / "c.mp4").exists()


def test_family_picks_the_puppet_estimator_for_a_non_human_character(tmp_path, capsys):
    config = get_preset("tiny", size=(64, 64), frames=9, families=("quadruped",))
    sample = write_triplet(tmp_path / "s", make_triplet("animate", 5, config))
    run = ["animate", "--reference", str(sample / "reference_0.png"), "--driving", str(sample / "driving.mp4"), "--steps", "1"]
    assert main([*run, "--family", "quadruped", "--out", str(tmp_path / "q.mp4")]) == 0
    assert json.loads((tmp_path / "q.json").read_text())["pose_family"] == "quadruped"
    assert main([*run, "--out", str(tmp_path / "h.mp4")]) == 0  # read as a humanoid: other skeletons, other frames
    assert (read_video(tmp_path / "q.mp4").frames != read_video(tmp_path / "h.mp4").frames).any()
    capsys.readouterr()
    assert main([*run, "--family", "bird", "--pose-backend", "onnx", "--out", str(tmp_path / "b.mp4")]) == 2
    assert "--family bird: is a puppet family" in capsys.readouterr().err and not (tmp_path / "b.mp4").exists()
