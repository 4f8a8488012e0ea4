"""What a newcomer runs into first: the path ``kinema train`` prints must load, and every error reads alike."""

import re

import pytest

from kinema.cli.main import main
from kinema.io import read_video

from tests.core.conftest import random_media


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    return random_media(tmp_path_factory.mktemp("media"), frames=5, side=32)


def test_the_export_directory_train_prints_is_a_model_animate_loads(media, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--preset", "tiny", "--out", str(run), "--no-progress", "--set", "steps=1",
                 "--set", "data.samples=2", "--set", "batch_size=2"]) == 0
    printed = re.search(r"weights in (\S+)", capsys.readouterr().out).group(1)
    assert printed == str(run / "export")
    out = tmp_path / "out.mp4"
    assert main(["animate", "--model", printed, "--reference", str(media / "reference.png"), "--driving",
                 str(media / "driving.mp4"), "--out", str(out), "--steps", "1", "--frames", "5"]) == 0
    assert read_video(out).frames.shape[0] == 5


def test_a_lora_export_given_as_model_names_the_adapter(media, tmp_path, capsys):
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "lora.safetensors").write_bytes(b"")
    assert main(["animate", "--model", str(tmp_path / "export"), "--reference", str(media / "reference.png"), "--driving",
                 str(media / "driving.mp4"), "--out", str(tmp_path / "out.mp4"), "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "LoRA adapter export" in err and f"--adapter {tmp_path / 'export' / 'lora.safetensors'}" in err
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("argv", [["animate", "--no-such-option"], ["train"], ["no-such-verb"],
                                  ["eval", "compare", "missing-a.json", "missing-b.json"]])
def test_every_error_begins_with_the_same_prefix(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("error: ") and "Error:" not in err
