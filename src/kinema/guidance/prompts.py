"""The versioned prompt texts in ``kinema/assets/prompts/{kind}_{version}.txt`` (DreamActor-M2 app. G, I).

Prompts are package data so a change of wording is a new file (``motion_v2.txt``) and old answers
stay reproducible; the rendered text is part of every cache key.
"""

from __future__ import annotations

from importlib import resources
from string import Template

KINDS = ("motion", "appearance", "fusion", "judge")
PROMPT_VERSION = "v1"


def load_prompt(kind: str, version: str = PROMPT_VERSION) -> str:
    """The raw template of ``kind`` (one of :data:`KINDS`) at ``version``."""
    if kind not in KINDS:
        raise ValueError(f"prompt kind '{kind}' is not one of {', '.join(KINDS)}")
    return resources.files("kinema").joinpath("assets", "prompts", f"{kind}_{version}.txt").read_text(encoding="utf-8")


def render_prompt(kind: str, version: str = PROMPT_VERSION, **fields: object) -> str:
    """The prompt of ``kind`` with its ``$placeholders`` filled (a missing field raises KeyError)."""
    return Template(load_prompt(kind, version)).substitute(**fields).strip()
