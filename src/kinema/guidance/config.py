"""Settings of the OpenAI-compatible chat-completions backend, from code or the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from kinema.errors import KinemaInputError

ENV_BASE_URL, ENV_MODEL, ENV_API_KEY, ENV_CACHE = "KINEMA_LLM_BASE_URL", "KINEMA_LLM_MODEL", "KINEMA_LLM_API_KEY", "KINEMA_LLM_CACHE"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/kinema/llm`` (``~/.cache/kinema/llm``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kinema" / "llm"


@dataclass(frozen=True)
class LLMConfig:
    """One chat-completions endpoint (vLLM, Ollama, hosted providers).

    ``base_url`` ends before ``/chat/completions`` (e.g. ``http://localhost:8000/v1``). ``api_key``
    is sent as a Bearer token and never printed (it is left out of ``repr``). Waits are seconds;
    a retry waits ``backoff_s * 2**attempt`` (at most ``max_backoff_s``) or the server's
    ``Retry-After`` when that is longer, refusing waits beyond ``max_retry_after_s``.
    ``cache_dir`` None disables the answer cache.
    """

    base_url: str = ""
    model: str = ""
    api_key: str = field(default="", repr=False)
    timeout_s: float = 120.0
    max_retries: int = 4
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 120.0
    concurrency: int = 4
    temperature: float = 0.0
    max_tokens: int = 1024
    num_frames: int = 8
    seconds: float = 5.0
    image_side: int = 512
    cache_dir: Path | None = field(default_factory=default_cache_dir)

    def __post_init__(self) -> None:
        for name in ("timeout_s", "backoff_s", "max_backoff_s", "max_retry_after_s", "seconds"):
            if not getattr(self, name) > 0:
                raise KinemaInputError(f"LLM setting {name}={getattr(self, name)}", "must be positive")
        for name in ("concurrency", "num_frames", "image_side", "max_tokens"):
            if getattr(self, name) < 1:
                raise KinemaInputError(f"LLM setting {name}={getattr(self, name)}", "must be at least 1")
        if self.max_retries < 0:
            raise KinemaInputError(f"LLM setting max_retries={self.max_retries}", "must be 0 or more")

    @classmethod
    def from_env(cls, **overrides: object) -> LLMConfig:
        """Read ``KINEMA_LLM_BASE_URL``, ``_MODEL``, ``_API_KEY`` and ``_CACHE``; ``overrides`` win when not None."""
        env = {"base_url": os.environ.get(ENV_BASE_URL, ""), "model": os.environ.get(ENV_MODEL, ""),
               "api_key": os.environ.get(ENV_API_KEY, "")}
        if os.environ.get(ENV_CACHE):
            env["cache_dir"] = Path(os.environ[ENV_CACHE])
        return cls(**(env | {k: v for k, v in overrides.items() if v is not None}))

    def require_endpoint(self) -> LLMConfig:
        """Self, or a KinemaInputError naming the missing base URL or model and how to set it."""
        if not self.base_url:
            raise KinemaInputError("LLM base URL", "is not set", f"Set {ENV_BASE_URL} (e.g. http://localhost:8000/v1) or pass --base-url.")
        if not self.model:
            raise KinemaInputError("LLM model", "is not set", f"Set {ENV_MODEL} or pass --model.")
        if not self.base_url.startswith(("http://", "https://")):
            raise KinemaInputError(f"LLM base URL '{self.base_url}'", "is not an http(s) URL", "Use e.g. http://localhost:8000/v1.")
        return self
