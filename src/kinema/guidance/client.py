"""An OpenAI-compatible chat-completions client on the standard library.

Retries connection failures, timeouts and HTTP 408/429/5xx with exponential back-off, honouring
``Retry-After``; at most ``concurrency`` requests are in flight per client; checked answers are
cached by request content. The API key goes only into the ``Authorization`` header: it is never
logged, cached or put into an error message.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from kinema.guidance.cache import AnswerCache, request_key
from kinema.guidance.config import LLMConfig
from kinema.guidance.errors import LLMConnectionError, LLMHTTPError, LLMTimeoutError, MalformedAnswerError, RefusalError

log = logging.getLogger("kinema.guidance")
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class _Retryable(Exception):
    """One failed attempt that may succeed if repeated; ``wait_s`` is the server's Retry-After."""

    def __init__(self, error: Exception, wait_s: float | None = None) -> None:
        super().__init__(str(error))
        self.error, self.wait_s = error, wait_s


def retry_after_s(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def message_text(data: Any) -> str:
    """The answer text of a chat-completions response, or a typed error for refusals and bad shapes."""
    try:
        choice = data["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError) as err:
        raise MalformedAnswerError("the response has no choices[0].message") from err
    if message.get("refusal"):
        raise RefusalError(f"the model refused: {str(message['refusal'])[:200]}")
    if choice.get("finish_reason") == "content_filter":
        raise RefusalError("the answer was stopped by the provider's content filter")
    if choice.get("finish_reason") == "length":
        raise MalformedAnswerError("the answer was cut off at max_tokens; raise max_tokens")
    content = message.get("content")
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str) or not content.strip():
        raise MalformedAnswerError("the answer is empty")
    return content


class ChatClient:
    """``complete(messages, check)`` -> the checked answer, from the cache or the server."""

    def __init__(self, config: LLMConfig) -> None:
        self.config = config.require_endpoint()
        self.endpoint = config.base_url.rstrip("/") + "/chat/completions"
        self.cache = AnswerCache(config.cache_dir) if config.cache_dir is not None else None
        self._slots = threading.BoundedSemaphore(config.concurrency)

    def complete(self, messages: list[dict], check: Callable[[str], str], kind: str = "chat") -> str:
        """Send ``messages``; ``check`` turns the raw text into the answer or raises MalformedAnswerError/RefusalError.

        Only answers that pass ``check`` are cached, so a bad answer is never reused.
        """
        body = {"model": self.config.model, "messages": messages, "temperature": self.config.temperature,
                "max_tokens": self.config.max_tokens}
        key = request_key(self.endpoint, body)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            log.debug("cache hit %s (%s)", key[:12], kind)
            return check(hit)
        answer = check(message_text(self._post_with_retries(body)))
        if self.cache is not None:
            self.cache.put(key, answer, {"model": self.config.model, "kind": kind})
        return answer

    def _post_with_retries(self, body: dict) -> Any:
        cfg, attempt = self.config, 0
        while True:
            try:
                with self._slots:
                    return self._post(body)
            except _Retryable as failure:
                if attempt == cfg.max_retries:
                    raise failure.error from None
                wait = min(cfg.backoff_s * 2**attempt, cfg.max_backoff_s) * random.uniform(0.9, 1.1)
                if failure.wait_s is not None:
                    if failure.wait_s > cfg.max_retry_after_s:
                        raise LLMHTTPError(429, f"server asks to retry after {failure.wait_s:.0f} s, beyond max_retry_after_s") from None
                    wait = max(wait, failure.wait_s)
                log.warning("LLM request failed (%s); retry %d/%d in %.2f s", failure.error, attempt + 1, cfg.max_retries, wait)
                time.sleep(wait)
                attempt += 1

    def _post(self, body: dict) -> Any:
        """One request; raises _Retryable for transient failures, typed errors otherwise."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        request = urllib.request.Request(self.endpoint, json.dumps(body).encode("utf-8"), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:
            detail = self._redact(err.read()[:300].decode("utf-8", "replace"))
            error = LLMHTTPError(err.code, f"{self.endpoint}: {detail}")
            if err.code in RETRY_STATUS:
                raise _Retryable(error, retry_after_s(err.headers.get("Retry-After"))) from None
            raise error from None
        except (TimeoutError, socket.timeout) as err:
            raise _Retryable(LLMTimeoutError(f"{self.endpoint}: no answer within {self.config.timeout_s} s")) from err
        except urllib.error.URLError as err:
            if isinstance(err.reason, (TimeoutError, socket.timeout)):
                raise _Retryable(LLMTimeoutError(f"{self.endpoint}: no answer within {self.config.timeout_s} s")) from err
            raise _Retryable(LLMConnectionError(f"{self.endpoint}: {err.reason}")) from err
        except (ConnectionError, OSError) as err:
            raise _Retryable(LLMConnectionError(f"{self.endpoint}: {err}")) from err
        try:
            return json.loads(raw)
        except ValueError as err:
            raise MalformedAnswerError(f"{self.endpoint} answered with invalid JSON: {self._redact(raw[:120].decode('utf-8', 'replace'))!r}") from err

    def _redact(self, text: str) -> str:
        return text.replace(self.config.api_key, "***") if self.config.api_key else text
