"""The puppet keypoint estimator: shipped weights, accuracy on held-out frames, bad input, CLI."""

import numpy as np
import pytest
import torch

from kinema.cli.main import main
from kinema.errors import KinemaInputError
from kinema.io import write_video
from kinema.pose import Keypoints
from kinema.pose.estimators import get_estimator
from kinema.pose.estimators.puppet import DEFAULT_WEIGHTS, FORMAT, PuppetPoseEstimator, decode, load_model
from kinema.pose.estimators.train_puppet import TRAIN_SEED_BASE
from kinema.pose.estimators.train_puppet import main as train_main
from kinema.pose.layouts import get_layout
from kinema.puppet import SynthConfig, make_scene, render_scene

# Regression bounds on PCK@0.1 of visible body + head joints. benchmarks/pose_accuracy.py measured
# at 64x64, body / head: humanoid 82.6 / 90.8 %, quadruped 60.8 / 93.5 %, bird 82.7 / 85.5 %, against
# 60.4 / 69.5, 13.0 / 0.6, 45.4 / 0.4 % for the mean pose in the box; these clips measure 0.82,
# 0.75 and 0.97 with the shipped weights.
MIN_BODY_PCK = {"humanoid": 0.7, "quadruped": 0.6, "bird": 0.75}


def held_out(family: str, seed: int, size: int = 128, frames: int = 4):
    """A single-actor clip of ``family`` from a seed never used in training."""
    assert seed < TRAIN_SEED_BASE
    return render_scene(make_scene(seed, SynthConfig(size=(size, size), frames=frames, families=(family,), characters=(1, 1))))


def body_pck(pred: Keypoints, clip) -> float:
    """PCK@0.1 of the keypoint-box diagonal over visible non-hand joints."""
    gt, vis = clip.keypoints[0].xy[:, 0], clip.keypoints[0].visibility[:, 0] > 0
    vis[:, list(get_layout(clip.keypoints[0].layout).groups.get("hands", ()))] = False
    diag = np.linalg.norm(np.ptp(gt, axis=1), axis=-1)[:, None]
    return float((np.linalg.norm(pred.xy[:, 0] - gt, axis=-1) < 0.1 * diag)[vis].mean())


def test_shipped_weights_carry_their_config():
    model, config, meta = load_model(DEFAULT_WEIGHTS)
    assert meta["format"] == FORMAT and "train_puppet" in meta["train_command"]
    assert config.families == ("humanoid", "quadruped", "bird") and DEFAULT_WEIGHTS.stat().st_size < 4_000_000
    assert model(torch.zeros(1, 3, config.input_size, config.input_size)).shape[2] == config.num_joints


@pytest.mark.parametrize("family", ["humanoid", "quadruped", "bird"])
def test_held_out_accuracy_with_masks(family):
    estimator, pck = get_estimator("puppet", family=family), []
    for seed in (3, 11):
        clip = held_out(family, seed)
        kp = estimator(clip.frames, masks=clip.masks).keypoints
        assert kp.layout == family and kp.xy.shape == (4, 1, get_layout(family).num_joints, 2)
        assert 0 <= kp.visibility.min() and kp.visibility.max() <= 1
        pck.append(body_pck(kp, clip))
    assert np.mean(pck) >= MIN_BODY_PCK[family]


def test_no_box_two_pass_and_several_characters():
    clip = held_out("humanoid", seed=5, size=96)
    estimator = PuppetPoseEstimator("humanoid")
    assert body_pck(estimator(clip.frames).keypoints, clip) >= MIN_BODY_PCK["humanoid"] - 0.1
    masks = np.concatenate([clip.masks, np.zeros_like(clip.masks)], axis=1)  # a second, absent character
    kp = estimator(clip.frames, masks=masks).keypoints
    assert kp.num_people == 2 and (kp.visibility[:, 1] == 0).all() and np.isfinite(kp.xy).all()


def test_decode_finds_sub_pixel_peaks():
    yy, xx = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    logits = torch.stack([-((xx - 5.3) ** 2 + (yy - 7.8) ** 2) / 4.5, torch.full_like(xx, -2.0)])[None, :, None]
    xy, confidence, _ = decode(logits)
    assert torch.allclose(xy, torch.tensor([[[5.3, 7.8]]]), atol=1e-4) and abs(confidence.item() - torch.sigmoid(torch.tensor(-2.0)).item()) < 1e-6


def test_certainty_is_the_confidence_where_the_heatmap_is_peaked_and_small_where_it_is_spread():
    yy, xx = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    visible = torch.full_like(xx, 4.0)  # a confident visibility head: sigmoid(4) = 0.98
    sharp = -((xx - 6) ** 2 + (yy - 9) ** 2) / 0.1  # all the location mass on one cell
    spread = -((xx - 6) ** 2 + (yy - 9) ** 2) / 200.0  # a blurred heatmap
    flat = torch.zeros_like(xx)  # nothing to place
    _, confidence, certainty = decode(torch.stack([torch.stack([m, visible]) for m in (sharp, spread, flat)])[:, :, None])
    assert torch.allclose(confidence, torch.sigmoid(torch.tensor(4.0)).expand(3, 1))
    assert abs(certainty[0].item() - confidence[0].item()) < 1e-4  # placed: certainty = confidence
    assert certainty[1].item() < 0.1 and certainty[2].item() <= 9 / 256 * confidence[2].item() + 1e-6  # ≤ 9 of 256 cells


def test_bad_input_is_a_clear_error(tmp_path):
    estimator = PuppetPoseEstimator("bird")
    frames = np.zeros((2, 32, 32, 3), np.uint8)
    with pytest.raises(KinemaInputError, match="non-empty uint8"):
        estimator(np.zeros((0, 32, 32, 3), np.uint8))
    with pytest.raises(KinemaInputError, match="non-empty uint8"):
        estimator(frames.astype(np.float32))
    with pytest.raises(KinemaInputError, match="masks"):
        estimator(frames, masks=np.ones((2, 16, 16), bool))
    with pytest.raises(KinemaInputError, match="boxes"):
        estimator(frames, boxes=np.full((2, 4), np.nan))
    with pytest.raises(KinemaInputError, match="family 'dragon'"):
        PuppetPoseEstimator("dragon")
    with pytest.raises(KinemaInputError, match="file not found"):
        PuppetPoseEstimator(weights=tmp_path / "missing.safetensors")


def test_training_command_writes_loadable_weights(tmp_path, capsys):
    out = tmp_path / "w.safetensors"
    train_main(["--out", str(out), "--steps", "2", "--batch", "4", "--seed", "1"])
    assert "wrote" in capsys.readouterr().out
    kp = PuppetPoseEstimator("quadruped", weights=out)(np.zeros((1, 48, 40, 3), np.uint8)).keypoints
    assert kp.size == (40, 48) and np.isfinite(kp.xy).all()


def test_cli_extract_with_puppet_backend(tmp_path, capsys):
    clip = held_out("humanoid", seed=2, size=128, frames=5)
    video, out = tmp_path / "clip.mp4", tmp_path / "kp.npz"
    write_video(video, clip.frames, fps=8)
    assert main(["pose", "extract", str(video), "--out", str(out), "--backend", "puppet"]) == 0
    assert "humanoid" in capsys.readouterr().out
    kp = Keypoints.load(out)
    assert kp.layout == "humanoid" and kp.num_frames == 5 and body_pck(kp, clip) >= MIN_BODY_PCK["humanoid"] - 0.1
    assert main(["pose", "extract", str(video), "--out", str(out), "--backend", "puppet", "--family", "dragon"]) == 2
