"""Text guidance (DreamActor-M2 §3.3, app. G, D, I): motion and appearance captions, target-oriented
fusion with body-part mapping, and an MLLM judge, behind one backend interface.

Backends: ``openai`` (any OpenAI-compatible chat-completions server, :class:`OpenAIBackend`) and
``puppet`` (exact captions from puppet-world labels, :class:`PuppetBackend`); :func:`fuse_rule_based`
is the fusion without a language model. The trainer and demo call :func:`puppet_description` or
:func:`triplet_description` for the text condition of puppet clips.
"""

from kinema.guidance.answers import JudgeScores
from kinema.guidance.backend import BACKENDS, CaptionBackend, Captions, Driving, Reference, get_backend
from kinema.guidance.config import LLMConfig
from kinema.guidance.errors import (
    GuidanceError, LLMConnectionError, LLMHTTPError, LLMTimeoutError, MalformedAnswerError, RefusalError,
)
from kinema.guidance.fusion import fuse_rule_based, map_body_parts
from kinema.guidance.prompts import PROMPT_VERSION, load_prompt, render_prompt
from kinema.guidance.puppet import PuppetBackend, puppet_description, triplet_description

__all__ = [
    "BACKENDS", "PROMPT_VERSION", "CaptionBackend", "Captions", "Driving", "GuidanceError", "JudgeScores", "LLMConfig",
    "LLMConnectionError", "LLMHTTPError", "LLMTimeoutError", "MalformedAnswerError", "PuppetBackend", "Reference",
    "RefusalError", "fuse_rule_based", "get_backend", "load_prompt", "map_body_parts", "puppet_description",
    "render_prompt", "triplet_description",
]
