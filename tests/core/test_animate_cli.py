"""``kinema animate`` end to end on the tiny preset, and its handling of bad input."""

import hashlib
import re

import numpy as np
import pytest
from PIL import Image

from kinema.cli.main import main
from kinema.io import load_image, read_video, write_video


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(0)
    write_video(root / "driving.mp4", rng.integers(0, 255, (11, 48, 64, 3), dtype=np.uint8))
    Image.fromarray(rng.integers(0, 255, (48, 64, 4), dtype=np.uint8), "RGBA").save(root / "ref_rgba.png")
    Image.fromarray(rng.integers(0, 255, (48, 64), dtype=np.uint8), "L").save(root / "ref_gray.png")
    Image.fromarray(rng.integers(0, 255, (64, 48, 3), dtype=np.uint8)).save(root / "ref_tall.jpg")
    write_video(root / "one_frame.mp4", rng.integers(0, 255, (1, 48, 64, 3), dtype=np.uint8))
    (root / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    (root / "empty.mp4").write_bytes(b"")
    Image.new("RGB", (1, 1)).save(root / "dot.png")
    (root / "folder.png").mkdir()
    return root


def run(media, out, *extra, reference="ref_rgba.png", driving="driving.mp4"):
    return main(["animate", "--reference", str(media / reference), "--driving", str(media / driving),
                 "--out", str(out), "--steps", "2", "--model", "tiny", *extra])


def test_animate_writes_playable_video_with_requested_frames_and_size(media, tmp_path):
    out = tmp_path / "out.mp4"
    assert run(media, out, "--frames", "9", "--size", "64x48", reference="ref_gray.png") == 0
    video = read_video(out)
    assert video.frames.shape == (9, 48, 64, 3)
    assert (tmp_path / "out.json").is_file()


def test_same_seed_gives_identical_file(media, tmp_path):
    digests = []
    for name in ("a.mp4", "b.mp4"):
        assert run(media, tmp_path / name, "--seed", "3", "--frames", "5") == 0
        digests.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    assert run(media, tmp_path / "c.mp4", "--seed", "4", "--frames", "5") == 0
    assert hashlib.sha256((tmp_path / "c.mp4").read_bytes()).hexdigest() != digests[0]


@pytest.mark.parametrize("case,kwargs,extra,message", [
    ("missing reference", {"reference": "nope.png"}, [], "not found"),
    ("missing driving", {"driving": "nope.mp4"}, [], "not found"),
    ("1x1 reference", {"reference": "dot.png"}, [], "1x1. Pass an image of at least 16x16"),
    ("directory as reference", {"reference": "folder.png"}, [], "is a directory"),
    ("corrupt video", {"driving": "corrupt.mp4"}, [], "cannot be decoded"),
    ("empty video", {"driving": "empty.mp4"}, [], "cannot be decoded|zero frames"),
    ("mismatched aspect", {"reference": "ref_tall.jpg"}, [], "aspect ratio"),
    ("absurd size", {}, ["--size", "100000x16"], "must be in"),
    ("malformed size", {}, ["--size", "wide"], "WIDTHxHEIGHT"),
    ("absurd steps", {}, ["--steps", "-3"], "steps"),
    ("too many frames", {}, ["--frames", "99"], "exceeds"),
])
def test_bad_input_fails_cleanly(media, tmp_path, capsys, case, kwargs, extra, message):
    out = tmp_path / "out.mp4"
    assert run(media, out, *extra, **kwargs) == 2, case
    assert not list(tmp_path.iterdir()), f"{case}: left files behind"
    assert re.search(message, capsys.readouterr().err), case


def test_unwritable_out_is_refused_before_any_compute_and_keeps_the_old_output(media, tmp_path, capsys):
    (tmp_path / "dir.mp4").mkdir()
    assert run(media, tmp_path / "dir.mp4") == 2 and "is a directory" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert run(media, tmp_path / "file" / "o.mp4") == 2 and "which is a file" in capsys.readouterr().err
    assert run(media, tmp_path / "old.mp4", "--frames", "5") == 0
    old = (tmp_path / "old.mp4").read_bytes()
    (tmp_path / "old.json").unlink()
    (tmp_path / "old.json").mkdir()  # the settings file beside the video cannot be written
    assert run(media, tmp_path / "old.mp4", "--frames", "5", "--seed", "9") == 2
    assert "old.json" in capsys.readouterr().err and (tmp_path / "old.mp4").read_bytes() == old


def test_sixteen_bit_gray_reference_keeps_its_levels(tmp_path):
    levels = (np.arange(48 * 64).reshape(48, 64) * 21).astype(np.uint16)  # 0 .. 64 491
    Image.fromarray(levels).save(tmp_path / "gray16.png")
    image = load_image(tmp_path / "gray16.png")  # Pillow's own RGB conversion made it all white
    assert image.shape == (48, 64, 3) and np.abs(image[..., 1] - levels / 65535 * 255).max() <= 0.5


def test_mismatched_aspect_is_accepted_with_fit(media, tmp_path):
    assert run(media, tmp_path / "o.mp4", "--fit", "crop", "--frames", "5", reference="ref_tall.jpg") == 0
    assert run(media, tmp_path / "p.mp4", "--fit", "pad", "--frames", "5", reference="ref_tall.jpg") == 0


def test_single_frame_driving_video_works(media, tmp_path):
    assert run(media, tmp_path / "o.mp4", driving="one_frame.mp4") == 0
    assert read_video(tmp_path / "o.mp4").num_frames == 1


def test_model_directory_in_diffusers_layout_loads_unchanged(media, tmp_path):
    """A saved Wan directory (diffusers layout) runs through --model and gives the preset's output."""
    from kinema.backbone.components import build_components, load_components
    from kinema.backbone.config import get_preset

    components = build_components(get_preset("tiny-i2v"))
    components.save(tmp_path / "wan")
    loaded = load_components(tmp_path / "wan")
    for a, b in zip(components.transformer.state_dict().values(), loaded.transformer.state_dict().values()):
        assert a.equal(b)
    args = ["--frames", "5", "--seed", "1"]
    assert run(media, tmp_path / "dir.mp4", "--model", str(tmp_path / "wan"), *args) == 0
    assert run(media, tmp_path / "preset.mp4", "--model", "tiny-i2v", *args) == 0
    assert (tmp_path / "dir.mp4").read_bytes() == (tmp_path / "preset.mp4").read_bytes()


def test_steps_default_to_the_model_cards_and_a_bad_card_value_is_named(media, tmp_path, capsys):
    """Without --steps a model samples with its card's ``sampling_steps`` (chosen by evaluation), else 30."""
    import json

    from kinema.backbone.components import build_components
    from kinema.backbone.config import get_preset

    build_components(get_preset("tiny-i2v")).save(tmp_path / "wan")
    args = ["animate", "--reference", str(media / "ref_rgba.png"), "--driving", str(media / "driving.mp4"),
            "--model", str(tmp_path / "wan"), "--frames", "5"]

    def steps_used(name, *extra):
        assert main([*args, "--out", str(tmp_path / f"{name}.mp4"), *extra]) == 0
        return json.loads((tmp_path / f"{name}.json").read_text())["sampler"]["steps"]

    assert steps_used("no_card") == 30
    (tmp_path / "wan" / "kinema.json").write_text(json.dumps({"sampling_steps": 3}))
    assert steps_used("card") == 3 and steps_used("given", "--steps", "1") == 1
    (tmp_path / "wan" / "kinema.json").write_text(json.dumps({"sampling_steps": 0}))
    assert main([*args, "--out", str(tmp_path / "bad.mp4")]) == 2
    assert "sampling_steps 0 is not a whole number in 1..1000" in capsys.readouterr().err
    assert not (tmp_path / "bad.mp4").exists()


def test_model_directory_without_transformer_is_refused(media, tmp_path, capsys):
    (tmp_path / "wan").mkdir()
    assert run(media, tmp_path / "o.mp4", "--model", str(tmp_path / "wan")) == 2
    assert "transformer" in capsys.readouterr().err
    assert not (tmp_path / "o.mp4").exists()


def test_real_shape_presets_are_refused_as_models(media, tmp_path, capsys):
    assert run(media, tmp_path / "o.mp4", "--model", "wan2.1-t2v-1.3b") == 2  # random weights of 1.4 B parameters
    assert "Wan diffusers directory" in capsys.readouterr().err and not list(tmp_path.iterdir())


def test_frames_count_output_frames_around_a_lead_in():
    from kinema.errors import KinemaInputError
    from kinema.pipelines.inputs import resolve_total
    from kinema.pipelines.windows import plan_windows

    assert resolve_total(7, 9) == 7 and resolve_total(None, 9) == 9
    (window,) = plan_windows(7, 21, lead=4)  # 4 lead-in + 7 output frames, generated as 13 = 1 + 4·3, 7 kept
    assert (window.drop, window.new, window.frames) == (4, 7, 13)
    with pytest.raises(KinemaInputError, match="exceeds the driving video's 9 frames"):
        resolve_total(10, 9)
    with pytest.raises(KinemaInputError, match="at least 1"):
        resolve_total(0, 9)

