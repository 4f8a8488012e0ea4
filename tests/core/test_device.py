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


def test_memory_plan_counts_each_component_and_the_activations_at_the_size():
    from kinema.pipelines.memory import memory_plan

    plan = memory_plan("wan2.1-i2v-14b", (832, 480), 81, torch.bfloat16, token_factor=2.0)
    assert plan.parameters["transformer"] == pytest.approx(16.39e9, rel=0.01)
    assert set(plan.parameters) == {"transformer", "text_encoder", "image_encoder", "vae"}
    tokens = 21 * 30 * 52 * 2  # latent frames x (480 / 16) x (832 / 16), two segments
    assert plan.activations == tokens * (13824 + 6 * 5120) * 2
    assert plan.total > 45e9 and "about 51.5 GB in all" in plan.describe()
    embedded = memory_plan("embedded", (64, 64), 21, torch.float32)  # read from the weight files' headers
    assert embedded.parameters["transformer"] == pytest.approx(9.8e6, rel=0.02)


def test_a_gpu_job_prints_its_plan_and_an_unreadable_model_prints_none(capsys, tmp_path):
    from kinema.cli.jobs import Request, print_memory_plan

    print_memory_plan(Request("animate", ("r.png",), "d.mp4", "embedded"), {"size": [64, 64], "frames": 21})
    assert "memory plan: transformer 9.8 M" in capsys.readouterr().err
    (tmp_path / "transformer").mkdir()
    (tmp_path / "transformer" / "config.json").write_text("{not json")
    print_memory_plan(Request("animate", ("r.png",), "d.mp4", str(tmp_path)), {})
    assert capsys.readouterr().err == ""
