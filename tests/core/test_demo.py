"""``kinema demo`` end to end: files written, metrics computed against the exact puppet target."""

import json

import torch

from kinema.cli.main import main
from kinema.io import read_video


def test_demo_writes_videos_and_metrics_beside_baselines(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--steps", "2", "--model", "tiny"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    side = read_video(tmp_path / "side_by_side.mp4").frames
    output = read_video(tmp_path / "output.mp4").frames
    target = read_video(tmp_path / "target.mp4").frames
    assert side.shape[0] == output.shape[0] == target.shape[0] == 17
    assert side.shape[2] == 4 * output.shape[2]
    assert set(metrics["scores"]) == {"output", "static_reference", "driving_copy"}
    assert 0 < metrics["scores"]["output"]["psnr"] < 60
    assert any("random weights" in note for note in metrics["notes"])


def test_demo_rejects_absurd_options(tmp_path):
    assert main(["demo", "--out", str(tmp_path / "x"), "--steps", "0", "--model", "tiny"]) == 2
    assert not (tmp_path / "x").exists()
    if not torch.cuda.is_available():  # a GPU this machine lacks: named, nothing written
        assert main(["demo", "--out", str(tmp_path / "y"), "--device", "cuda"]) == 2
        assert not (tmp_path / "y").exists()
    assert main(["demo", "--out", str(tmp_path / "z"), "--device", "tpu"]) == 2
    assert not (tmp_path / "z").exists()
