"""Where a generation runs: --device auto|cpu|cuda[:N], bf16 on a GPU."""

import json

import pytest
import torch

from kinema.cli.main import main
from kinema.errors import KinemaInputError
from kinema.io import read_video
from kinema.pipelines.models import resolve_device

from tests.core.conftest import random_media

CUDA = torch.cuda.is_available()


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    return random_media(tmp_path_factory.mktemp("media"), frames=5, side=32)


def _animate(media, out, *extra):
    return main(["animate", "--model", "tiny", "--reference", str(media / "reference.png"), "--driving",
                 str(media / "driving.mp4"), "--out", str(out), "--steps", "1", "--frames", "5", *extra])


def test_auto_takes_the_gpu_when_there_is_one_and_the_cpu_otherwise():
    assert resolve_device("auto") == (("cuda", torch.bfloat16) if CUDA else ("cpu", torch.float32))
    assert resolve_device("cpu") == ("cpu", torch.float32)
    for bad in ("gpu", "cuda:x", "cuda:0:1", ""):
        with pytest.raises(KinemaInputError, match="is not auto, cpu, cuda or cuda:N"):
            resolve_device(bad)


@pytest.mark.skipif(CUDA, reason="asks for a GPU this machine has")
def test_a_missing_gpu_is_named_and_nothing_is_written(media, tmp_path, capsys):
    assert _animate(media, tmp_path / "out.mp4", "--device", "cuda") == 2
    assert "names a CUDA GPU this machine does not have" in capsys.readouterr().err
    assert not (tmp_path / "out.mp4").exists()


def test_the_device_a_video_was_made_on_is_recorded(media, tmp_path):
    assert _animate(media, tmp_path / "out.mp4", "--device", "cpu") == 0
    assert json.loads((tmp_path / "out.json").read_text())["device"] == "cpu"


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
def test_animate_on_the_gpu_in_bf16_matches_the_cpu(media, tmp_path):
    assert _animate(media, tmp_path / "cpu.mp4", "--device", "cpu") == 0
    assert _animate(media, tmp_path / "gpu.mp4", "--device", "cuda") == 0
    cpu, gpu = read_video(tmp_path / "cpu.mp4").frames, read_video(tmp_path / "gpu.mp4").frames
    assert cpu.shape == gpu.shape and json.loads((tmp_path / "gpu.json").read_text())["device"] == "cuda"
    assert abs(cpu.astype(float) - gpu.astype(float)).mean() < 8  # bf16 rounding, same noise and model
