"""MediaPipe backend on a real photo (skimage's astronaut); skipped when the optional extra is absent."""

import numpy as np
import pytest

from kinema.errors import KinemaInputError
from kinema.pose.estimators import get_estimator


def test_missing_mediapipe_names_the_install_command():
    try:
        import mediapipe  # noqa: F401
    except ImportError:
        with pytest.raises(KinemaInputError, match="pip install --no-deps mediapipe==0.10.21"):
            get_estimator("mediapipe")
    else:
        pytest.skip("mediapipe is installed")


def test_astronaut_has_a_sane_pose():
    pytest.importorskip("mediapipe", reason="optional backend: pip install --no-deps mediapipe==0.10.21 (+ numpy<2, protobuf<5, absl-py, attrs, flatbuffers, matplotlib)")
    data = pytest.importorskip("skimage.data", reason="scikit-image provides the test photo")
    image = data.astronaut()  # (512, 512, 3): head and shoulders of a person
    result = get_estimator("mediapipe")(image[None])
    kp = result.keypoints
    assert kp.layout == "humanoid" and kp.size == (512, 512) and kp.detected.all()
    xy, vis = kp.xy[0, 0], kp.visibility[0, 0]
    head = [kp.spec.index(n) for n in ("nose", "r_eye", "l_eye", "r_ear", "l_ear", "neck", "r_shoulder", "l_shoulder")]
    assert (vis[head] > 0.5).all()
    nose, neck, r_sho, l_sho = (xy[kp.spec.index(n)] for n in ("nose", "neck", "r_shoulder", "l_shoulder"))
    assert 150 < nose[0] < 300 and 50 < nose[1] < 200  # the face is in the upper left-centre
    assert r_sho[0] < nose[0] < l_sho[0]  # facing the camera: the person's right is image left
    assert min(r_sho[1], l_sho[1]) > nose[1] + 50 and np.allclose(neck, (r_sho + l_sho) / 2, atol=1e-3)
    assert result.masks is not None and result.masks[0][int(nose[1]), int(nose[0])]
    assert 0.2 < result.masks.mean() < 0.8
