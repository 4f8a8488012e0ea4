import json
import shutil

import pytest

from kinema.cli.main import main
from kinema.guidance import puppet_description, triplet_description
from kinema.guidance.puppet_scripts import motion_caption
from kinema.puppet import get_preset, make_triplet
from kinema.puppet.dataset import write_triplet

from .conftest import Step, completion
from .test_openai_backend import APPEARANCE, FUSED, MOTION, by_prompt


def multi_triplet():
    return make_triplet("multi", 8, get_preset("tiny", frames=5))


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """A `kinema synth`-style sample directory of a two-subject (multi) triplet."""
    return write_triplet(tmp_path_factory.mktemp("ds") / "000000", multi_triplet())


def run(capsys, *args):
    rc = main(["caption", *map(str, args)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_puppet_caption_prints_three_texts_and_writes_json(sample, tmp_path, capsys):
    labels = json.loads((sample / "labels.json").read_text())
    k = labels["binding"][1]  # the reference that plays driving subject 1
    out = tmp_path / "texts.json"
    rc, stdout, _ = run(capsys, "--backend", "puppet", "--reference", sample / f"reference_{k}.png",
                        "--driving", sample / "driving.mp4", "--max-chars", 60, "--out", out)
    assert rc == 0
    lines = dict(line.split(": ", 1) for line in stdout.strip().splitlines())
    assert set(lines) == {"motion", "appearance", "fused", "short"} and len(lines["short"]) <= 60
    motion = labels["driving"]["actors"][1]["motion"]
    assert lines["motion"] == json.loads(out.read_text())["motion"]
    assert labels["references"][k]["actors"][0]["identity_description"] in lines["appearance"]
    assert lines["motion"] == motion_caption(motion)


def test_puppet_caption_bad_input(sample, tmp_path, capsys):
    elsewhere = tmp_path / "ref.png"
    shutil.copy(sample / "reference_0.png", elsewhere)
    rc, _, err = run(capsys, "--backend", "puppet", "--reference", elsewhere, "--driving", sample / "driving.mp4")
    assert rc == 2 and "labels.json" in err
    rc, _, err = run(capsys, "--backend", "puppet", "--reference", elsewhere, "--driving", sample / "driving.mp4",
                     "--labels", sample / "labels.json", "--out", tmp_path / "t.txt")
    assert rc == 2 and ".json" in err and not (tmp_path / "t.txt").exists()
    bad = tmp_path / "labels.json"
    bad.write_text(json.dumps({"driving": {}}))
    rc, _, err = run(capsys, "--backend", "puppet", "--reference", elsewhere, "--driving", sample / "driving.mp4", "--labels", bad)
    assert rc == 2 and "not a sample" in err


def test_puppet_caption_rejects_files_of_another_size(sample, tmp_path, capsys):
    from PIL import Image

    Image.new("RGB", (20, 20)).save(tmp_path / "reference_0.png")
    shutil.copy(sample / "labels.json", tmp_path / "labels.json")
    rc, _, err = run(capsys, "--backend", "puppet", "--reference", tmp_path / "reference_0.png", "--driving", sample / "driving.mp4")
    assert rc == 2 and "20x20" in err


def test_openai_caption_over_http_then_from_cache(sample, server, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KINEMA_LLM_API_KEY", "sk-cli-SECRET")
    server.answer = by_prompt
    args = ["--reference", sample / "reference_0.png", "--driving", sample / "driving.mp4", "--base-url", server.url,
            "--model", "vlm", "--cache", tmp_path / "cache"]
    rc, stdout, _ = run(capsys, *args)
    assert rc == 0 and stdout.splitlines() == [f"motion: {MOTION}", f"appearance: {APPEARANCE}", f"fused: {FUSED}"]
    assert server.count == 3 and server.headers[0]["Authorization"] == "Bearer sk-cli-SECRET"
    rc, again, _ = run(capsys, *args)
    assert rc == 0 and again == stdout and server.count == 3  # every answer came from the cache
    assert run(capsys, *args, "--no-cache")[0] == 0 and server.count == 6


def test_openai_caption_errors(sample, server, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("KINEMA_LLM_BASE_URL", raising=False)
    files = ["--reference", sample / "reference_0.png", "--driving", sample / "driving.mp4"]
    rc, _, err = run(capsys, *files, "--model", "vlm")
    assert rc == 2 and "KINEMA_LLM_BASE_URL" in err
    rc, _, err = run(capsys, *files, "--labels", sample / "labels.json")
    assert rc == 2 and "puppet" in err
    server.script(Step(completion("I'm sorry, I can't help with that.")))
    rc, _, err = run(capsys, *files, "--base-url", server.url, "--model", "vlm", "--no-cache", "--fusion", "rules")
    assert rc == 1 and "RefusalError" in err


def generate(verb, references, sample, out, *extra):
    """``kinema animate`` / ``replace`` of the tiny preset on the sample's files; the prompt it used (None on failure)."""
    masks = ["--masks", sample / "driving_masks.npz", *sum((["--reference-masks", r.with_name(f"{r.stem}_masks.npz")]
                                                             for r in references), [])] if verb == "replace" else []
    args = [verb, *sum((["--reference", r] for r in references), []), "--driving", sample / "driving.mp4", *masks,
            "--model", "tiny", "--steps", 1, "--out", out, *extra]
    if main(list(map(str, args))) != 0:
        return None
    return json.loads(out.with_suffix(".json").read_text())["prompt"]


def test_animate_and_replace_write_the_prompt_from_puppet_captions(sample, tmp_path, capsys):
    labels = json.loads((sample / "labels.json").read_text())
    k = labels["binding"][1]
    reference = sample / f"reference_{k}.png"
    prompt = generate("animate", [reference], sample, tmp_path / "a.mp4", "--caption", "puppet")
    assert prompt == puppet_description(labels["references"][k], labels["driving"], subject=1)
    assert f"prompt from puppet captions: {prompt}" in capsys.readouterr().err
    # The embedded model was trained on the short form within its card's 60 characters.
    short = generate("animate", [reference], sample, tmp_path / "e.mp4", "--caption", "puppet", "--model", "embedded")
    assert short == puppet_description(labels["references"][k], labels["driving"], 60, subject=1) != prompt
    # Both characters: the very text condition the trainer reads for this triplet.
    references = [sample / f"reference_{i}.png" for i in range(len(labels["references"]))]
    assert generate("replace", references, sample, tmp_path / "r.mp4", "--caption", "puppet") == triplet_description(multi_triplet())
    assert generate("animate", [reference], sample, tmp_path / "b.mp4", "--caption", "puppet", "--prompt", "x") is None
    assert "both given" in capsys.readouterr().err and not (tmp_path / "b.mp4").exists()


def test_animate_writes_the_prompt_from_openai_captions(sample, server, tmp_path, capsys, monkeypatch):
    for name, value in (("BASE_URL", server.url), ("MODEL", "vlm"), ("CACHE", str(tmp_path / "cache"))):
        monkeypatch.setenv(f"KINEMA_LLM_{name}", value)
    server.answer = by_prompt
    assert generate("animate", [sample / "reference_0.png"], sample, tmp_path / "a.mp4", "--caption", "openai") == FUSED
    references = [sample / "reference_0.png", sample / "reference_1.png"]
    assert generate("replace", references, sample, tmp_path / "r.mp4", "--caption", "openai") is None
    assert "one reference" in capsys.readouterr().err and not (tmp_path / "r.mp4").exists()
