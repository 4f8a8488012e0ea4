"""``kinema demo`` end to end: files written, metrics computed against the exact puppet target."""

import json

from kinema.cli.main import main
from kinema.io import read_video
from kinema.pipelines.demo import psnr


def test_demo_writes_videos_and_metrics(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--steps", "2"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    side = read_video(tmp_path / "side_by_side.mp4").frames
    output = read_video(tmp_path / "output.mp4").frames
    assert side.shape[0] == output.shape[0] == metrics["frames"] == 17
    assert side.shape[2] == 4 * output.shape[2]
    assert 0 < metrics["psnr_output_vs_target_db"] < 60
    assert any("random weights" in note for note in metrics["notes"])


def test_psnr_known_values():
    import numpy as np

    a = np.zeros((2, 4, 4, 3), np.uint8)
    assert psnr(a, a) == float("inf")
    assert abs(psnr(a, a + 1) - 20 * np.log10(255)) < 1e-9
