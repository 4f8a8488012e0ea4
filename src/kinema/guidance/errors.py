"""Typed failures of a language-model backend; the CLI reports them with exit status 1."""

from __future__ import annotations


class GuidanceError(RuntimeError):
    """A guidance backend could not produce a usable answer."""


class LLMHTTPError(GuidanceError):
    """The server answered with an error status (after any retries)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(f"HTTP {status}: {message}")


class LLMTimeoutError(GuidanceError):
    """No complete answer within the timeout, which bounds each request as a whole (after any retries)."""


class LLMConnectionError(GuidanceError):
    """The server could not be reached, or broke off or garbled its HTTP answer (after any retries)."""


class MalformedAnswerError(GuidanceError):
    """The answer is not valid protocol JSON, or its text breaks the prompt's required format."""


class RefusalError(GuidanceError):
    """The model declined to answer (a refusal field, a content filter, or a refusal sentence)."""
