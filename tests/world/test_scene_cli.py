"""``kinema scene make`` / ``kinema scene render`` end to end on real files, and their refusals of bad input."""

import json

import numpy as np
import pytest

from kinema.cli.main import main
from kinema.io import read_video


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("scene")
    assert main(["scene", "make", "--seed", "2", "--gaussians", "4000", "--out", str(root / "s.ply")]) == 0
    return root


def render(made, out, *extra):
    return main(["scene", "render", str(made / "s.ply"), "--out", str(out), "--size", "32x32", "--seconds", "0.5",
                 "--no-progress", *extra])


def test_make_writes_a_splat_file_and_its_layout(made):
    from kinema.world.ply import read_ply

    layout = json.loads((made / "s.json").read_text())
    assert len(read_ply(made / "s.ply")) == layout["gaussians"] <= 4000
    assert set(layout["camera"]) == {"eye", "target"} and layout["walkable"]


def test_path_alone_orbits_around_a_still_character(made, tmp_path):
    assert render(made, tmp_path / "orbit.mp4", "--path", "orbit", "--radius", "2") == 0
    labels = json.loads((tmp_path / "orbit.json").read_text())
    root, eyes = np.array(labels["root"]), [-np.array(r).T @ np.array(t) for r, t in zip(labels["rotation"], labels["translation"])]
    assert labels["action"] == "orbit" and np.allclose(root, root[0])
    assert np.allclose([np.linalg.norm((e - root[0])[:2]) for e in eyes], 2.0)  # the radius asked for


def test_render_follows_the_instructions_camera_path(made, tmp_path):
    assert render(made, tmp_path / "wave.mp4", "--instruction", "wave") == 0
    assert render(made, tmp_path / "run.mp4", "--instruction", "run forward") == 0
    wave, run = read_video(tmp_path / "wave.mp4"), read_video(tmp_path / "run.mp4")
    assert wave.frames.shape == run.frames.shape == (8, 32, 32, 3)
    assert np.array_equal(wave.frames[0], wave.frames[-1])  # a gesture: the camera stays
    assert not np.array_equal(run.frames[0], run.frames[-1])  # locomotion: the camera follows the root
    labels = json.loads((tmp_path / "run.json").read_text())
    assert labels["action"] == "run_forward" and len(labels["translation"]) == 8
    root = np.array(labels["root"])
    assert root[-1, 1] > root[0, 1] and np.allclose(root[:, 2], 0)  # forward is away from the camera (+y here)


@pytest.mark.parametrize("args,message", [
    (["--instruction", "unwave the flag"], "is not understood"),
    (["--instruction", "wave", "--path", "orbit"], "--instruction and --path: were both given"),
    (["--instruction", "wave", "--radius", "3"], "--radius/--speed: set an orbit"),
    (["--eye", "0,0,0.05", "--target", "0,0.1,0"], "is inside or against the scene's geometry"),
    (["--eye", "1,2"], "is not 3 finite comma-separated numbers"),
    (["--anchor", "0,0,5,5", "--eye", "0,-5,1", "--target", "0,0,3"], "ground"),
])
def test_bad_render_requests_are_refused_with_nothing_written(made, tmp_path, capsys, args, message):
    out = tmp_path / "x.mp4"
    assert render(made, out, *args) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".json").exists()


def test_files_that_are_not_splat_scenes_are_refused(tmp_path, capsys):
    (tmp_path / "text.ply").write_text("hello")
    lines = ["ply", "format ascii 1.0", "element vertex 1", "property float x", "property float y",
             "property float z", "end_header", "0 0 0"]
    (tmp_path / "points.ply").write_text("\n".join(lines) + "\n")
    for name in ("text.ply", "points.ply", "missing.ply"):
        assert main(["scene", "render", str(tmp_path / name), "--out", str(tmp_path / "x.mp4")]) == 2
        assert name in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()
    assert main(["scene", "make", "--out", str(tmp_path / "scene.mp4")]) == 2
    assert "is not a .ply path" in capsys.readouterr().err
