"""`kinema pose extract|render`: outputs on success; exit 2 and no file on bad input."""

import importlib.util
import re

import numpy as np
import pytest

from kinema.cli.main import main
from kinema.io import read_video, write_video
from kinema.pose import Keypoints
from kinema.pose.synthetic import waving_humanoid


@pytest.fixture
def keypoints_file(tmp_path):
    return waving_humanoid(6, 1, (96, 64)).save(tmp_path / "kp.npz")


def test_render_writes_video(tmp_path, keypoints_file):
    out = tmp_path / "skeleton.mp4"
    assert main(["pose", "render", str(keypoints_file), "--out", str(out), "--size", "128x96", "--augment", "--seed", "3"]) == 0
    video = read_video(out)
    assert video.frames.shape == (6, 96, 128, 3) and video.frames.max() > 100


def test_render_bad_inputs_exit_2_and_write_nothing(tmp_path, keypoints_file, capsys):
    out = tmp_path / "skeleton.mp4"
    nan = waving_humanoid(2, 1, (64, 64))
    nan.xy[1, 0, 5] = np.nan
    np.savez(tmp_path / "nan.npz", xy=nan.xy, visibility=nan.visibility, layout=np.str_("humanoid"), size=np.array([64, 64]))
    hidden = waving_humanoid(2, 1, (64, 64))
    hidden.visibility[:] = 0
    hidden.save(tmp_path / "hidden.json")
    cases = {
        str(tmp_path / "missing.npz"): "file not found",
        str(tmp_path / "nan.npz"): "NaN",
        str(tmp_path / "hidden.json"): "no frame with a visible joint",
    }
    for path, message in cases.items():
        assert main(["pose", "render", path, "--out", str(out)]) == 2
        assert message in capsys.readouterr().err
    assert main(["pose", "render", str(keypoints_file), "--out", str(out), "--size", "0x5"]) == 2
    for absurd in (["--size", "100000x100000"], ["--size", "1x1"], ["--fps", "nan"], ["--fps", "inf"], ["--fps", "0.0001"]):
        assert main(["pose", "render", str(keypoints_file), "--out", str(out), *absurd]) == 2
        assert re.search(r"must be in \[32, 2048\]|frame rate", capsys.readouterr().err), absurd
    (tmp_path / "pickled.npz").write_text("numpy reads a file without a magic number as a pickle")
    assert main(["pose", "render", str(tmp_path / "pickled.npz"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not an .npz archive" in err and "unsafely" not in err
    bad_size = waving_humanoid(2, 1, (64, 64))
    np.savez(tmp_path / "size0.npz", xy=bad_size.xy, visibility=bad_size.visibility, layout=np.str_("humanoid"), size=np.array([0, 0]))
    assert main(["pose", "render", str(tmp_path / "size0.npz"), "--out", str(out)]) == 2
    assert "size" in capsys.readouterr().err
    assert main(["pose", "render", str(keypoints_file), "--out", str(tmp_path / "x.gif")]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hidden.json", "kp.npz", "nan.npz", "pickled.npz", "size0.npz"]


def test_extract_with_onnx_model(tmp_path):
    pytest.importorskip("onnxruntime")
    from .onnx_models import constant_model, simcc_logits

    k = np.arange(17)
    model = constant_model(tmp_path / "m.onnx", simcc_logits(17, 30 + 20 * k, 40 + 25 * k, np.ones(17), np.ones(17)))
    nobody = constant_model(tmp_path / "nobody.onnx", simcc_logits(17, k, k, -np.ones(17), -np.ones(17)))
    video = write_video(tmp_path / "in.mp4", np.zeros((3, 64, 48, 3), np.uint8))
    out = tmp_path / "kp.json"
    assert main(["pose", "extract", str(video), "--out", str(out), "--model", str(model)]) == 0
    kp = Keypoints.load(out)
    assert kp.layout == "body18" and kp.xy.shape == (3, 1, 18, 2) and kp.size == (48, 64)
    out.unlink()
    (tmp_path / "empty.mp4").write_bytes(b"")
    for args in (
        [str(video), "--model", str(nobody)],  # no person found
        [str(tmp_path / "empty.mp4"), "--model", str(model)],  # empty video
        [str(tmp_path / "missing.mp4"), "--model", str(model)],
        [str(video), "--backend", "onnx"],  # no --model
        [str(video), "--backend", "nope"],
    ):
        assert main(["pose", "extract", *args, "--out", str(out)]) == 2, args
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.mp4", "in.mp4", "m.onnx", "nobody.onnx"]


def test_extract_defaults_to_the_puppet_estimator_as_animate_does(tmp_path):
    from kinema.puppet import SynthConfig, make_scene, render_scene

    clip = render_scene(make_scene(3, SynthConfig(size=(64, 64), frames=3, families=("humanoid",), characters=(1, 1))))
    video, out = write_video(tmp_path / "clip.mp4", clip.frames, fps=8), tmp_path / "kp.npz"
    assert main(["pose", "extract", str(video), "--out", str(out)]) == 0
    assert Keypoints.load(out).layout == "humanoid" and Keypoints.load(out).num_frames == 3


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is not None, reason="mediapipe is installed")
def test_missing_mediapipe_names_the_puppet_backend_and_writes_nothing(tmp_path, capsys):
    video, out = write_video(tmp_path / "clip.mp4", np.zeros((2, 64, 64, 3), np.uint8)), tmp_path / "kp.npz"
    assert main(["pose", "extract", str(video), "--out", str(out), "--backend", "mediapipe"]) == 2
    err = capsys.readouterr().err
    assert "--backend puppet" in err and "pip install --no-deps mediapipe" in err and not out.exists()
