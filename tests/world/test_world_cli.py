"""``kinema world`` end to end on a tiny preset: clips continue each other; bad input is named, nothing written."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from kinema.cli.main import main
from kinema.io import read_video

SMALL = ["--size", "32x32", "--seconds", "0.6", "--steps", "2", "--guidance", "1", "--device", "cpu", "--no-progress"]


@pytest.fixture(scope="module")
def world_inputs(tmp_path_factory):
    """A procedural splat scene (and its layout) and four character views."""
    root = tmp_path_factory.mktemp("world")
    assert main(["scene", "make", "--seed", "0", "--gaussians", "3000", "--out", str(root / "scene.ply")]) == 0
    rng = np.random.default_rng(0)
    views = []
    for name in ("front", "left", "right", "back"):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(root / f"{name}.png")
        views += ["--character", str(root / f"{name}.png")]
    return root, views


def _world(root, views, out, *args):
    return main(["world", "--scene", str(root / "scene.ply"), *views, "--out", str(out), *SMALL, *args])


def test_two_instructions_make_one_continuous_video_with_its_scene_video_and_settings(world_inputs, tmp_path):
    root, views = world_inputs
    out = tmp_path / "out.mp4"
    assert _world(root, views, out, "--instruction", "walk forward", "--instruction", "wave") == 0
    video, scene = read_video(out), read_video(tmp_path / "out.scene.mp4")
    assert video.frames.shape == scene.frames.shape == (9 + 8, 32, 32, 3)  # 1 + 4k, then 4k continuing it
    settings = json.loads((tmp_path / "out.json").read_text())
    first, second = settings["clips"]
    assert (first["action"], second["action"]) == ("walk_forward", "wave") and settings["recipe"]["views"] == 4
    # the second clip's scene starts where the first one's camera ended (its frame 0, dropped, is that camera)
    assert second["scene"]["translation"][0] == first["scene"]["translation"][8]
    assert any("random weights" in note for note in settings["notes"])


def test_instructions_typed_one_at_a_time(world_inputs, tmp_path, monkeypatch, capsys):
    root, views = world_inputs
    monkeypatch.setattr("sys.stdin", io.StringIO("juggle flaming torches\nstand still\n\n"))
    assert _world(root, views, tmp_path / "out.mp4", "--interactive") == 0
    err = capsys.readouterr().err
    assert "juggle" in err and "clip: 'stand still' -> idle" in err  # not understood: asked again
    assert read_video(tmp_path / "out.mp4").frames.shape[0] == 9


@pytest.mark.parametrize("args, named", [
    (["--instruction", "walk forward", "--anchor", "10,10,40,30"], "leaves the 32x32 image"),
    (["--instruction", " "], "--instruction ''"),
    ([], "exactly one of them is needed"),
    (["--instruction", "juggle flaming torches"], "juggle"),
])
def test_bad_input_is_named_and_nothing_is_written(world_inputs, tmp_path, capsys, args, named):
    root, views = world_inputs
    assert _world(root, views, tmp_path / "out.mp4", *args) == 2
    assert named in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_missing_views_and_an_unreadable_scene_are_named(world_inputs, tmp_path, capsys):
    root, views = world_inputs
    assert _world(root, views[:6], tmp_path / "out.mp4", "--instruction", "wave") == 2  # three views
    assert "are not 1 (front), 2 (front, back) or 4" in capsys.readouterr().err
    (tmp_path / "bad.ply").write_bytes(b"not a ply")
    code = main(["world", "--scene", str(tmp_path / "bad.ply"), *views, "--instruction", "wave",
                 "--out", str(tmp_path / "out.mp4"), *SMALL])
    assert code == 2 and "bad.ply" in capsys.readouterr().err
    assert not (tmp_path / "out.mp4").exists()
