import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from kinema.guidance import Driving, LLMConfig, MalformedAnswerError, Reference, get_backend
from kinema.guidance.answers import OPENINGS
from kinema.guidance.prompts import render_prompt

from .conftest import Step, completion

MOTION = "In the video, the character's initial pose is standing with both arms down. Subsequently, the character raises the right hand above the head. Finally, the character waves the right hand."
APPEARANCE = "The character in the image is a small parrot with green plumage and a yellow beak."
FUSED = "In the video, a small parrot with green plumage and a yellow beak lifts its right wing and waves it."
SCORES = {"subject_consistency": 5, "motion_consistency": 4, "imaging_quality": 4, "aesthetic_quality": 4,
          "temporal_consistency": 5, "motion_smoothness": 4, "background_consistency": 5, "rationale": "fine"}


def prompt_of(body: dict) -> str:
    content = body["messages"][0]["content"]
    return content[0]["text"]


def by_prompt(body: dict) -> Step:
    """Answer by which versioned prompt the request carries."""
    text = prompt_of(body)
    for kind, answer in (("motion", MOTION), ("appearance", APPEARANCE), ("judge", json.dumps(SCORES))):
        first_line = render_prompt(kind, seconds="5").splitlines()[0]
        if text.startswith(first_line):
            return Step(completion(answer))
    assert "appearance_caption: " + APPEARANCE in text and "motion_caption: " + MOTION in text
    return Step(completion(FUSED))


def backend(server, tmp_path, **kw):
    config = LLMConfig(base_url=server.url, model="vlm", api_key="k", backoff_s=0.01, num_frames=4, image_side=32,
                       cache_dir=tmp_path / "cache")
    return get_backend("openai", config=config, **kw)


def frames(n=40, h=24, w=40):
    return np.random.default_rng(0).integers(0, 255, (n, h, w, 3), dtype=np.uint8)


def images_in(body: dict) -> list[Image.Image]:
    urls = [p["image_url"]["url"] for p in body["messages"][0]["content"] if p["type"] == "image_url"]
    return [Image.open(io.BytesIO(base64.b64decode(u.split(",", 1)[1]))) for u in urls]


def test_captions_send_sampled_frames_and_fuse_with_the_llm(server, tmp_path):
    server.answer = by_prompt
    caps = backend(server, tmp_path).captions(Reference(frames(1, 64, 48)[0]), Driving(frames(), fps=4.0))
    assert (caps.motion, caps.appearance, caps.fused) == (MOTION, APPEARANCE, FUSED)
    assert server.count == 3
    motion_request = next(b for b in server.requests if "motion description" in prompt_of(b))
    shown = images_in(motion_request)
    assert len(shown) == 4 and all(im.format == "JPEG" and max(im.size) <= 32 for im in shown)
    times = [p["text"] for p in motion_request["messages"][0]["content"][1::2]]
    assert times[0].endswith("0.00 s:") and times[-1].endswith("4.75 s:")  # first 5 s at 4 fps: frames 0..19


def test_rule_fusion_needs_no_third_request(server, tmp_path):
    server.answer = by_prompt
    caps = backend(server, tmp_path, fusion="rules").captions(Reference(frames(1)[0]), Driving(frames(), fps=8.0))
    assert server.count == 2
    assert caps.fused.startswith(OPENINGS["fusion"]) and "right wing" in caps.fused and "hand" not in caps.fused


def test_judge_returns_scores(server, tmp_path):
    server.answer = by_prompt
    scores = backend(server, tmp_path).judge(Reference(frames(1)[0]), Driving(frames(), 8.0), Driving(frames(), 8.0))
    assert scores.subject_consistency == 5 and scores.motion_consistency == 4
    assert scores.mean == pytest.approx(31 / 7) and scores.passes(4.0) and not scores.passes(4.5)
    assert len(images_in(server.requests[0])) == 1 + 4 + 4


@pytest.mark.parametrize("answer", ["{\"subject_consistency\": 6}", "scores: five", json.dumps(SCORES | {"motion_consistency": 0}),
                                    json.dumps(SCORES | {"imaging_quality": 3.5})])
def test_bad_judgements_are_malformed(server, tmp_path, answer):
    server.script(Step(completion(answer)))
    with pytest.raises(MalformedAnswerError):
        backend(server, tmp_path).judge(Reference(frames(1)[0]), Driving(frames(), 8.0), Driving(frames(), 8.0))


def test_judgement_in_a_code_fence_is_accepted(server, tmp_path):
    server.script(Step(completion("```json\n" + json.dumps(SCORES) + "\n```")))
    assert backend(server, tmp_path).judge(Reference(frames(1)[0]), Driving(frames(), 8.0), Driving(frames(), 8.0)).mean > 4
