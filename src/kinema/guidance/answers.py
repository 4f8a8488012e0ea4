"""Checks that turn a model's raw text into a caption or scores, or raise a typed error.

A caption must keep the prompt's fixed opening and be one paragraph; a judgement must be one JSON
object with every score an integer 1-5. Nothing that fails is silently used.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields

from kinema.guidance.errors import MalformedAnswerError, RefusalError

OPENINGS = {
    "motion": "In the video, the character's initial pose is",
    "appearance": "The character in the image is",
    "fusion": "In the video, a",
}
REFUSALS = re.compile(r"^\W*(i'?m sorry|i am sorry|sorry,|i can(no|')t|i am (not able|unable)|i'?m (not able|unable)|"
                      r"as an ai|i won'?t)", re.IGNORECASE)
LIST_LINE = re.compile(r"^\s*([-*•#]|\d+[.)])\s", re.MULTILINE)
MAX_CHARS = 6000


def check_caption(kind: str, text: str) -> str:
    """The caption of ``kind`` (motion, appearance or fusion) with whitespace collapsed to single spaces."""
    text = text.strip().strip('"').strip()
    if REFUSALS.match(text):
        raise RefusalError(f"the model refused the {kind} caption: {text[:120]!r}")
    if LIST_LINE.search(text):
        raise MalformedAnswerError(f"the {kind} caption is a list or has headings, not one paragraph: {text[:120]!r}")
    text = " ".join(text.split())
    if not text.lower().startswith(OPENINGS[kind].lower()):
        raise MalformedAnswerError(f"the {kind} caption does not start with {OPENINGS[kind]!r}: {text[:120]!r}")
    if len(text) > MAX_CHARS:
        raise MalformedAnswerError(f"the {kind} caption has {len(text)} characters (more than {MAX_CHARS})")
    return text


@dataclass(frozen=True)
class JudgeScores:
    """MLLM scores, integers 1 (very poor) to 5 (excellent): DreamActor-M2 app. D (six Video-Bench
    dimensions, keep a unit when their mean is above 4) and app. I (subject and motion consistency)."""

    subject_consistency: int
    motion_consistency: int
    imaging_quality: int
    aesthetic_quality: int
    temporal_consistency: int
    motion_smoothness: int
    background_consistency: int
    rationale: str = ""

    @classmethod
    def score_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.name != "rationale")

    @property
    def mean(self) -> float:
        """Mean over every score."""
        names = self.score_names()
        return sum(getattr(self, n) for n in names) / len(names)

    def passes(self, threshold: float = 4.0) -> bool:
        """The paper's filter: mean score strictly above ``threshold``."""
        return self.mean > threshold


def _json_object(text: str) -> dict:
    """The one JSON object in ``text`` (a Markdown code fence around it is allowed)."""
    body = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    try:
        data = json.loads(body)
    except ValueError as err:
        raise MalformedAnswerError(f"the judgement is not a JSON object: {text[:120]!r}") from err
    if not isinstance(data, dict):
        raise MalformedAnswerError(f"the judgement is JSON but not an object: {text[:120]!r}")
    return data


def check_judgement(text: str) -> JudgeScores:
    """Parse the judge's answer; every score must be an integer in 1..5."""
    if REFUSALS.match(text.strip()):
        raise RefusalError(f"the model refused to judge: {text.strip()[:120]!r}")
    data = _json_object(text)
    scores = {}
    for name in JudgeScores.score_names():
        value = data.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            raise MalformedAnswerError(f"the judgement's {name!r} is {value!r}, not an integer 1-5")
        scores[name] = value
    return JudgeScores(**scores, rationale=str(data.get("rationale", "")))
