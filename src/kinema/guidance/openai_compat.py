"""The multimodal backend: captions and judgements from an OpenAI-compatible chat-completions server.

Frames are sampled from the first ``config.seconds`` of the driving video and sent as images with
the versioned prompts; every answer is checked (:mod:`kinema.guidance.answers`) before use.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from kinema.errors import KinemaInputError
from kinema.guidance.answers import JudgeScores, check_caption, check_judgement
from kinema.guidance.backend import CaptionBackend, Captions, Driving, Reference
from kinema.guidance.client import ChatClient
from kinema.guidance.config import LLMConfig
from kinema.guidance.fusion import fuse_rule_based
from kinema.guidance.media import image_data_url, image_parts
from kinema.guidance.prompts import PROMPT_VERSION, render_prompt

FUSIONS = ("llm", "rules")


def _user(parts: list[dict]) -> list[dict]:
    return [{"role": "user", "content": parts}]


def _text(prompt: str) -> dict:
    return {"type": "text", "text": prompt}


def _judgement_text(text: str) -> str:
    """``text`` if it parses as a judgement (else the parse error is raised)."""
    check_judgement(text)
    return text.strip()


class OpenAIBackend(CaptionBackend):
    """T_m and T_a from a multimodal model; T_fusion from the same model (``fusion="llm"``) or the
    rule-based fallback (``fusion="rules"``); :meth:`judge` scores a generated video."""

    name = "openai"

    def __init__(self, config: LLMConfig | None = None, fusion: str = "llm", prompt_version: str = PROMPT_VERSION) -> None:
        if fusion not in FUSIONS:
            raise KinemaInputError(f"fusion '{fusion}'", "is unknown", f"Use one of: {', '.join(FUSIONS)}.")
        self.config = config or LLMConfig.from_env()
        self.client = ChatClient(self.config)
        self.fusion, self.version = fusion, prompt_version

    def _frames(self, frames: np.ndarray | None, fps: float, name: str) -> list[dict]:
        if frames is None or len(frames) == 0:
            raise KinemaInputError(name, "has no frames", "Pass a decodable video.")
        cfg = self.config
        return image_parts(frames, fps, cfg.num_frames, cfg.seconds, cfg.image_side, name)

    def motion(self, driving: Driving) -> str:
        prompt = render_prompt("motion", self.version, seconds=f"{self.config.seconds:g}")
        messages = _user([_text(prompt), *self._frames(driving.frames, driving.fps, "driving video")])
        return self.client.complete(messages, lambda t: check_caption("motion", t), "motion")

    def appearance(self, reference: Reference) -> str:
        if reference.image is None:
            raise KinemaInputError("reference", "has no image", "Pass the reference image.")
        image = {"type": "image_url", "image_url": {"url": image_data_url(reference.image, self.config.image_side)}}
        messages = _user([_text(render_prompt("appearance", self.version)), image])
        return self.client.complete(messages, lambda t: check_caption("appearance", t), "appearance")

    def fuse(self, appearance: str, motion: str, target: str | None = None, source: str | None = None) -> str:
        if self.fusion == "rules":
            return fuse_rule_based(appearance, motion, target, source)
        prompt = render_prompt("fusion", self.version, appearance_caption=appearance, motion_caption=motion)
        return self.client.complete(_user([_text(prompt)]), lambda t: check_caption("fusion", t), "fusion")

    def captions(self, reference: Reference, driving: Driving) -> Captions:
        """T_m and T_a are requested concurrently (within ``config.concurrency``), then fused."""
        with ThreadPoolExecutor(2) as pool:
            motion, appearance = pool.submit(self.motion, driving), pool.submit(self.appearance, reference)
            motion, appearance = motion.result(), appearance.result()
        return Captions(motion, appearance, self.fuse(appearance, motion))

    def judge(self, reference: Reference, driving: Driving, generated: Driving) -> JudgeScores:
        """1-5 scores of ``generated`` against the reference and the driving video (DreamActor-M2 app. D, I)."""
        if reference.image is None:
            raise KinemaInputError("reference", "has no image", "Pass the reference image.")
        parts = [_text(render_prompt("judge", self.version)), _text("reference image:"),
                 {"type": "image_url", "image_url": {"url": image_data_url(reference.image, self.config.image_side)}},
                 *self._frames(driving.frames, driving.fps, "driving video"),
                 *self._frames(generated.frames, generated.fps, "generated video")]
        text = self.client.complete(_user(parts), _judgement_text, "judge")
        return check_judgement(text)
