"""ONNX backend: self-built models with known SimCC / heatmap outputs decode to exact keypoints."""

import numpy as np
import pytest

from kinema.errors import KinemaInputError
from kinema.pose.estimators import get_estimator

pytest.importorskip("onnxruntime", reason="the onnx backend needs onnxruntime (pip install 'kinema[onnx]')")
from .onnx_models import constant_model, simcc_logits  # noqa: E402

K = 17
IX = np.arange(K) * 20 + 30  # SimCC bins (r = 2) along the 192-wide crop
IY = np.arange(K) * 25 + 40
FRAMES = np.zeros((2, 128, 96, 3), np.uint8)  # W=96, H=128: aspect 0.75 like the 192x256 model


def expected_xy(ix, iy, box=(0, 0, 96, 128), padding=1.25):
    """Crop (w, h) = padded box widened to 3:4; crop pixel (ix/2, iy/2) mapped back to the frame."""
    x0, y0, x1, y1 = box
    w, h = (x1 - x0) * padding, (y1 - y0) * padding
    w, h = (w, w / 0.75) if w > h * 0.75 else (h * 0.75, h)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return np.stack([(ix / 2 - 96) * w / 192 + cx, (iy / 2 - 128) * h / 256 + cy], -1)


def coco_to_body18(a):
    order = [0, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3]
    return np.stack([(a[5] + a[6]) / 2 if i is None else a[i] for i in order])


def test_simcc_model_decodes_exact_keypoints(tmp_path):
    peak_x, peak_y = np.linspace(0.2, 1.0, K), np.full(K, 0.6)
    model = constant_model(tmp_path / "rtm.onnx", simcc_logits(K, IX, IY, peak_x, peak_y))
    kp = get_estimator("onnx", model=model)(FRAMES).keypoints
    assert kp.layout == "body18" and kp.size == (96, 128) and kp.xy.shape == (2, 1, 18, 2)
    np.testing.assert_allclose(kp.xy[1, 0], coco_to_body18(expected_xy(IX, IY)), atol=1e-4)
    np.testing.assert_allclose(kp.visibility[0, 0, 0], 0.5 * (peak_x[0] + 0.6), atol=1e-6)
    np.testing.assert_allclose(kp.visibility[0, 0, 1], min(0.5 * (peak_x[5] + 0.6), 0.5 * (peak_x[6] + 0.6)), atol=1e-6)


def test_person_boxes_move_the_crop(tmp_path):
    model = constant_model(tmp_path / "rtm.onnx", simcc_logits(K, IX, IY, np.ones(K), np.ones(K)))
    box = (10, 20, 50, 100)
    kp = get_estimator("onnx", model=model)(FRAMES[:1], boxes=np.array([box])).keypoints
    np.testing.assert_allclose(kp.xy[0, 0], coco_to_body18(expected_xy(IX, IY, box)), atol=1e-4)


def test_heatmap_model_and_wholebody(tmp_path):
    heat = np.zeros((1, 133, 64, 48), np.float32)
    hx, hy = np.arange(133) % 48, np.arange(133) % 64
    heat[0, np.arange(133), hy, hx] = 0.9
    kp = get_estimator("onnx", model=constant_model(tmp_path / "hm.onnx", {"heatmaps": heat}))(FRAMES[:1]).keypoints
    assert kp.layout == "wholebody" and kp.xy.shape == (1, 1, 128, 2)
    coco = expected_xy(hx * 8.0, hy * 8.0)  # heatmap cell -> crop pixel (x4), in SimCC half-pixel units (x2)
    np.testing.assert_allclose(kp.xy[0, 0, 18:60], coco[91:133], atol=1e-4)  # hands
    np.testing.assert_allclose(kp.xy[0, 0, 60:], coco[23:91], atol=1e-4)  # face
    np.testing.assert_allclose(kp.visibility, 0.9, atol=1e-6)


def test_no_person_gives_zero_visibility(tmp_path):
    model = constant_model(tmp_path / "none.onnx", simcc_logits(K, IX, IY, -np.ones(K), -np.ones(K)))
    kp = get_estimator("onnx", model=model)(FRAMES).keypoints
    assert not kp.detected.any()


def test_bad_models_and_inputs(tmp_path):
    with pytest.raises(KinemaInputError, match="--model"):
        get_estimator("onnx")
    with pytest.raises(KinemaInputError, match="file not found"):
        get_estimator("onnx", model=tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(KinemaInputError, match="cannot be loaded"):
        get_estimator("onnx", model=tmp_path / "junk.onnx")
    model = constant_model(tmp_path / "k5.onnx", simcc_logits(5, IX[:5], IY[:5], np.ones(5), np.ones(5)))
    with pytest.raises(KinemaInputError, match="5 joints"):
        get_estimator("onnx", model=model)(FRAMES)
    with pytest.raises(KinemaInputError, match="non-empty"):
        get_estimator("onnx", model=model)(np.zeros((0, 8, 8, 3), np.uint8))
    with pytest.raises(KinemaInputError, match="mediapipe, onnx"):
        get_estimator("openpose")
